# shellcheck shell=dash
# Reads BYTES bytes from testapp's TCP source at IP port 19 slowly (a read of at most
# 64 KiB every 0.1 s; dd, as `head -c` reads ahead through stdio and drops the excess),
# and while it runs `xl save` and `xl restore` the guest NAME: prints "save: rc RC",
# "restore: rc RC", then "received N bytes, M not x" once the transfer ends.
: "${IP:?}" "${NAME:?}" "${BYTES:?}"
out=/tmp/save-restore-stream.out
: > "$out"
(nc "$IP" 19 | while :; do
  dd bs=65536 count=1 of="$out.chunk" 2> /dev/null
  [ -s "$out.chunk" ] || break
  cat "$out.chunk" >> "$out"
  sleep 0.1
done) &
reader=$!
sleep 2
echo "before save: $(wc -c < "$out") bytes"
f=/tmp/save-restore-stream.img
timeout 120 xl save "$DOMID" "$f"
echo "save: rc $?"
timeout 120 xl restore "$f"
echo "restore: rc $?"
rm -f "$f"
echo "after restore: $(wc -c < "$out") bytes"
i=0
while kill -0 "$reader" 2> /dev/null && [ $i -lt 240 ]; do
  sleep 1
  i=$((i + 1))
done
kill "$reader" 2> /dev/null
echo "received $(wc -c < "$out") bytes, $(tr -d x < "$out" | wc -c) not x"
rm -f "$out" "$out.chunk"
