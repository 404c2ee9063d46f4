# shellcheck shell=dash # busybox sh (ash), of which dash is the closest dialect shellcheck knows
# dom0's side of an app's HTTP check (`cargo xtask test` in the app's repository): GETs
# http://IP:PORT/URL_PATH until the app answers at all (the first status counts: the check
# waited for its console line first) or SECS seconds pass, then prints "status CODE" (000:
# no answer).
: "${IP:?}" "${PORT:?}" "${URL_PATH:?}" "${STATUS:?}" "${SECS:?}"
i=0
code=000
while [ "$i" -lt "$SECS" ]; do
  code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$IP:$PORT$URL_PATH")
  [ "$code" != 000 ] && break
  sleep 1
  i=$((i + 1))
done
echo "status $code"
