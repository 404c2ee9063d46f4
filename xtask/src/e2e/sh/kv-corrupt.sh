# shellcheck shell=dash
# A fourth record (PUT torn, in sector 4 after the superblock and three records), the guest
# NAME destroyed, one byte of that record's value flipped on its disk, a new guest (xl file
# CFG): the record must be found corrupt and never served (404), the older keys still are.
: "${IP:?}" "${NAME:?}" "${CFG:?}"
set -e
echo "torn: $(printf 'PUT /kv/torn HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nvalue' |
  nc -w 5 "$IP" 80 | head -1)"
# The guest's xvda in dom0 (the backend's params).
d=/local/domain/0/backend/vbd/$(xl domid "$NAME")/51712
disk=$(xenstore-read "$d/params")
echo "disk $disk"
xl destroy "$NAME"
# The record's value starts after its 24-byte header and its key ("torn").
off=$((4 * 512 + 24 + 4))
printf X | dd of="$disk" bs=1 seek=$off conv=notrunc,fsync 2> /dev/null
echo "flipped byte $off"
rig_xl_create "$CFG" > /dev/null
i=0
while [ $i -lt 60 ]; do
  c=$(curl -s -o /dev/null -w '%{http_code}' "http://$IP/kv/torn") && [ "$c" != 000 ] && break
  sleep 1
  i=$((i + 1))
done
echo "after: $c greeting: $(curl -sS -m 10 "http://$IP/kv/greeting")"
