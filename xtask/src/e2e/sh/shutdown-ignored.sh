# shellcheck shell=dash
# `xl shutdown -w` of a guest that asked to be told and then never finishes: prints
# "shutdown: rc RC in SECONDS s" (its grace period ends it).
read -r t0 _ < /proc/uptime
timeout 60 xl shutdown -w "$DOMID"
rc=$?
read -r t1 _ < /proc/uptime
echo "shutdown: rc $rc in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s"
