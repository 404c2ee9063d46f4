# shellcheck shell=dash
# Starts a new guest from the xl file CFG (on the disk the last one wrote) and GETs the key
# stored before the shutdown until it answers: prints "got: VALUE".
: "${IP:?}" "${CFG:?}"
set -e
rig_xl_create "$CFG" > /dev/null
i=0
while [ $i -lt 60 ]; do
  v=$(wget -q -O - "http://$IP/kv/farewell") && break
  sleep 1
  i=$((i + 1))
done
echo "got: $v"
