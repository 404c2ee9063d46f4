# shellcheck shell=dash
# PUTs a key to app-example at IP; `xl save -c` (a checkpoint: the guest resumes in place)
# and a GET of its status page; then `xl save` of it to a file and `xl restore` of the
# file (each at most 120 s): prints the PUT's status line, "checkpoint: rc RC", "in place:
# LINE", "save: rc RC", "restore: rc RC", "domid OLD -> NEW", then, once the restored guest
# answers, its status page's first line and "got: VALUE" for the key.
: "${IP:?}" "${NAME:?}"
printf 'PUT /kv/before-save HTTP/1.1\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
  12 'kept in save' | nc -w 5 "$IP" 80 | head -1
f=/tmp/save-restore.img
timeout 120 xl save -c "$DOMID" "$f"
echo "checkpoint: rc $?"
rm -f "$f"
echo "in place: $(curl -sf -m 10 "http://$IP/status" | head -1)"
timeout 120 xl save "$DOMID" "$f"
echo "save: rc $?"
timeout 120 xl restore "$f"
echo "restore: rc $?"
rm -f "$f"
echo "domid $DOMID -> $(xl domid "$NAME" 2> /dev/null)"
page=$(rig_http_get "http://$IP/status" 60)
echo "$page" | head -1
echo "got: $(curl -sf -m 5 "http://$IP/kv/before-save")"
