# shellcheck shell=dash
# PUTs a key to app-example at IP, then migrates guest NAME to this same host with
# `xl migrate` (its receiving end `xl migrate-receive` run directly instead of through
# ssh; at most 180 s): prints the PUT's status line, "migrate: rc RC", "domid OLD -> NEW",
# then, once the migrated guest answers, its status page's first line, "got: VALUE", and
# the console of the new domain (xenconsoled logs it under the name it was created with,
# NAME--incoming).
: "${IP:?}" "${NAME:?}"
printf 'PUT /kv/before-migrate HTTP/1.1\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
  14 'kept in flight' | nc -w 5 "$IP" 80 | head -1
old=$(xl domid "$NAME")
timeout 180 xl migrate -s '' "$NAME" 'xl migrate-receive'
echo "migrate: rc $?"
echo "domid $old -> $(xl domid "$NAME" 2> /dev/null)"
page=$(rig_http_get "http://$IP/status" 60)
echo "$page" | head -1
echo "got: $(curl -sf -m 5 "http://$IP/kv/before-migrate")"
echo "incoming console:"
cat "/var/log/xen/console/guest-$NAME--incoming.log" 2> /dev/null
