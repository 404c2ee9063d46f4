# shellcheck shell=dash
# ApacheBench from dom0 (its options are the positional parameters) against URL: ab's
# summary and how it ended ("ab exit N"); the script's status is ab's. ab's own timeout (-s)
# is 30 s a request.
: "${URL:?}"
ab -q -s 30 "$@" "$URL" > /tmp/ab.out 2>&1
rc=$?
grep -E '^(Complete|Failed|Non-2xx|Requests per|Time taken)|Connect:|apr_' /tmp/ab.out
tail -3 /tmp/ab.out | grep -v '^$'
echo "ab exit $rc"
exit $rc
