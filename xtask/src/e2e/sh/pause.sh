# shellcheck shell=dash
# Starts the guest's 2 s sleep (data/go), pauses the domain for 5 s as soon as the sleep
# has begun (data/sleep = start), then unpauses it and GETs its HTTP page at IP. Prints the
# events and, in seconds: "paused-after" (the sleep's start to the pause), "ended-after"
# (the unpause command to the sleep's end), "http-after" (the unpause command to the GET's
# answer, whose status is "http-code").
: "${IP:?}"
f=/tmp/pause-$DOMID
node=/local/domain/$DOMID/data/sleep
(xenstore-watch -n 3 "$node" | while read -r _; do
  read -r up _ < /proc/uptime
  echo "$up $(xenstore-read "$node" 2> /dev/null)"
done > "$f") &
sleep 1
xenstore-write "/local/domain/$DOMID/data/go" 1
i=0
while ! grep -q start "$f" && [ $i -lt 200 ]; do
  sleep 0.05
  i=$((i + 1))
done
xl pause "$DOMID"
read -r tp _ < /proc/uptime
sleep 5
# The clock is read before the unpause: the guest may end its sleep and write "end"
# before xl unpause has returned to us.
read -r tu _ < /proc/uptime
xl unpause "$DOMID"
code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://$IP/")
read -r th _ < /proc/uptime
wait
cat "$f"
awk -v tp="$tp" '/start/ {printf "paused-after %.2f\n", tp - $1}' "$f"
awk -v tu="$tu" '/end/ {printf "ended-after %.2f\n", $1 - tu}' "$f"
echo "http-code $code"
awk -v a="$tu" -v b="$th" 'BEGIN {printf "http-after %.2f\n", b - a}'

