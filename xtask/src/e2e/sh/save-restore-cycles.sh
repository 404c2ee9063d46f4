# shellcheck shell=dash
# N cycles of `xl save` and `xl restore` of guest NAME, each followed by GETs of its status
# page at IP until it answers; after the first cycle and after the last, `xl debug-keys q`
# (Xen raises VIRQ_DEBUG: the guest logs its grants and event channels) and the xen_
# lines of its /metrics, each prefixed "cycle I ". Prints "cycle I: save rc RC, restore rc
# RC, serving" (or "not serving") for each, then "cycles: OK of N".
: "${IP:?}" "${NAME:?}" "${N:?}"
f=/tmp/save-restore-cycles.img
ok=0
i=1
while [ $i -le "$N" ]; do
  domid=$(xl domid "$NAME")
  timeout 120 xl save "$domid" "$f" > /dev/null 2>&1
  s=$?
  timeout 120 xl restore "$f" > /dev/null 2>&1
  r=$?
  rm -f "$f"
  state="not serving"
  rig_http_get "http://$IP/status" 60 > /dev/null && state=serving
  echo "cycle $i: save rc $s, restore rc $r, $state"
  [ $s = 0 ] && [ $r = 0 ] && [ "$state" = serving ] && ok=$((ok + 1))
  if [ $i = 1 ] || [ $i = "$N" ]; then
    xl debug-keys q
    curl -s -m 5 "http://$IP/metrics" | grep '^xen_' | sed "s/^/cycle $i /"
    sleep 2
  fi
  i=$((i + 1))
done
echo "cycles: $ok of $N"
