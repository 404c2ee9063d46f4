# shellcheck shell=dash
# Destroys the guest after its PUTs returned, starts a new one on the same disk (xl file
# CFG) and GETs the key stored until the new guest answers: prints "got: VALUE".
: "${IP:?}" "${CFG:?}"
set -e
xl destroy "$DOMID"
rig_xl_create "$CFG" > /dev/null
i=0
while [ $i -lt 60 ]; do
  v=$(wget -q -O - "http://$IP/kv/greeting") && break
  sleep 1
  i=$((i + 1))
done
echo "got: $v"
