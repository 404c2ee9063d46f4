# shellcheck shell=dash
# dom0 timestamps the guest's writes of data/sleep ("start", then "end" 2 s later) as
# xenstore-watch reports them, after starting the guest's clock with data/go. Events: the
# watch's own first one, "start", "end"; each is stamped with the shell's `read` of
# /proc/uptime (no fork between the event and its timestamp). Prints "measured SECONDS".
f=/tmp/sleep-$DOMID
(xenstore-watch -n 3 "/local/domain/$DOMID/data/sleep" | while read -r _; do
  read -r up _ < /proc/uptime
  echo "$up"
done > "$f") &
sleep 1
xenstore-write "/local/domain/$DOMID/data/go" 1
wait
cat "$f"
awk 'NR == 2 {s = $1} NR == 3 {e = $1} END {printf "measured %.3f\n", e - s}' "$f"
