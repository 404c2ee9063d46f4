# shellcheck shell=dash
# N connections to IP's port 80 that each send a request head one byte every 5 s (busybox
# nc; dom0 takes a while to start them all, so the count is awaited), and meanwhile five
# ordinary requests, each of which must be answered within 10 s. Killing the nc processes
# ends the clients (their next write fails); `killall sleep` would also end dom0's
# watchdog, which powers the machine off.
: "${IP:?}" "${N:?}"
i=0
while [ $i -lt "$N" ]; do
  ( (printf 'GET / HTTP/1.1\r\nHost: x\r\n'; while :; do sleep 5; printf X; done) \
    | nc "$IP" 80 > /dev/null 2>&1) < /dev/null > /dev/null 2>&1 &
  i=$((i + 1))
done
established() { netstat -tn | grep -c "$IP:80 *ESTABLISHED"; }
n=0
j=0
while [ $j -lt 60 ]; do
  n=$(established)
  [ "$n" -ge "$N" ] && break
  # busybox has no pgrep -c: count the clients in ps's listing.
  # shellcheck disable=SC2009
  [ $((j % 5)) = 0 ] && echo "at $j s: $n connected, $(ps | grep -c "[n]c $IP") nc running"
  sleep 1
  j=$((j + 1))
done
echo "slow clients connected: $n (after $j s)"
curl -s -m 10 "http://$IP/metrics" | grep -E '^(tcp_|http_)'
ok=0
for k in 1 2 3 4 5; do
  c=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://$IP/hello")
  echo "request $k: $c"
  [ "$c" = 200 ] && ok=$((ok + 1))
  sleep 2
done
echo "normal requests served: $ok of 5"
echo "slow clients still connected: $(established)"
killall nc > /dev/null 2>&1
true
