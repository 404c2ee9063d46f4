# shellcheck shell=dash
# Waits up to WAIT seconds for the address dom0's DHCP server leases to MAC, prints it
# ("lease ADDR") and pings it; with GET=1 also fetches http://ADDR/.
: "${MAC:?}" "${WAIT:?}"
a=$(rig_wait_lease "$MAC" "$WAIT") && echo "lease $a" && ping -c 2 -W 5 "$a" &&
  if [ "${GET:-}" = 1 ]; then curl -sS -m 20 "http://$a/"; fi
