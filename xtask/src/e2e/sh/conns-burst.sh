# shellcheck shell=dash
# N connections at once to URL (ab -c N), each answered or refused; then, as soon as ab is
# done, one more request that must be answered within a second ("next request: 200").
: "${URL:?}" "${N:?}"
ulimit -n 4096
ab -r -q -s 120 -n "$N" -c "$N" "$URL" > /tmp/ab.out 2>&1
rc=$?
echo "next request: $(curl -s -m 1 -o /dev/null -w '%{http_code}' "$URL")"
grep -E '^(Complete|Failed|Non-2xx|Time taken)|Connect:|apr_' /tmp/ab.out
echo "ab exit $rc"
