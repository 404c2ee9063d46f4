# shellcheck shell=dash
# `xl reboot` of guest NAME (on_reboot = "restart": xl starts it again as a new domain),
# then GETs its status page at IP until the new domain answers: prints "rebooted: domid
# OLD -> NEW" and the page's first line.
: "${IP:?}" "${NAME:?}"
old=$(xl domid "$NAME")
xl reboot "$NAME" || exit 1
i=0
new=$old
while [ "$new" = "$old" ] && [ $i -lt 90 ]; do
  sleep 1
  new=$(xl domid "$NAME" 2> /dev/null) || new=$old
  i=$((i + 1))
done
page=$(rig_http_get "http://$IP/status" $((90 - i)))
echo "rebooted: domid $old -> $new"
echo "$page" | head -1
