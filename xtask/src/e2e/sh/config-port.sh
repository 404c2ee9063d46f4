# shellcheck shell=dash
# GETs IP's status page on PORT (prints it), then tries port 80, which nothing serves there:
# prints "port 80: 000" (curl's code when no answer came).
: "${IP:?}" "${PORT:?}"
rig_http_get "http://$IP:$PORT/" 60 || exit 1
curl -s -m 5 -o /dev/null -w 'port 80: %{http_code}\n' "http://$IP/" || :
