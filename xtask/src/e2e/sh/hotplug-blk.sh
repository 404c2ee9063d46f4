# shellcheck shell=dash
# `xl block-attach` of a read-only 1 MiB disk xvdb (the line "hotplug-disk" over and over,
# made here) to guest NAME; waits until the guest prints its checksum; then `xl
# block-detach` while the guest keeps reading it, and GETs the guest's HTTP page at IP
# ("after detach: CODE").
: "${NAME:?}" "${IP:?}"
f=/tmp/hotplug-disk.img
yes hotplug-disk | head -c 1048576 > "$f"
xl block-attach "$NAME" "format=raw,vdev=xvdb,access=ro,target=$f" || exit 1
rig_wait_output "$NAME" "testapp: xvdb first MiB fnv1a" 60 || exit 1
xl block-list "$NAME"
timeout 60 xl block-detach "$NAME" xvdb || echo "detach failed"
xl block-list "$NAME"
rig_wait_output "$NAME" "testapp: xvdb still listed" 30 || echo "the reads did not fail"
echo "after detach: $(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://$IP/")"
