# shellcheck shell=dash
# After the other requests: an unknown page of IP is 404 ("nope: 404"), and the status page
# is still served.
: "${IP:?}"
curl -s -m 20 -o /dev/null -w 'nope: %{http_code}\n' "http://$IP/nope"
curl -sS -m 20 "http://$IP/"
