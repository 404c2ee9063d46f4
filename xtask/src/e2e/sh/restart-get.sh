# shellcheck shell=dash
# Starts a new guest from the xl file CFG (on the disk the last one wrote) and GETs the key
# stored before the shutdown until it answers: prints "got: VALUE".
: "${IP:?}" "${CFG:?}"
rig_xl_create "$CFG" > /dev/null || exit 1
echo "got: $(rig_http_get "http://$IP/kv/farewell" 60)"
