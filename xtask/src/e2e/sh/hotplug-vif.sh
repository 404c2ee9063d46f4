# shellcheck shell=dash
# `xl network-attach` of a second vif (MAC) to guest NAME: waits for its DHCP lease and
# GETs the status page there ("second vif ADDR: CODE") and has a datagram echoed by the UDP
# socket the app bound before the vif existed ("udp on the second vif: udp second");
# then `xl network-detach` of it while a connection on it waits in the middle of a request,
# and a GET at the first vif's address IP ("after detach: CODE"). "connections before
# detach: N" and "... after detach: N" are the guest's open TCP connections (its /metrics,
# whose own GET is one of them).
: "${NAME:?}" "${MAC:?}" "${IP:?}"
xl network-attach "$NAME" bridge=xenbr0 "mac=$MAC" || exit 1
if ! a=$(rig_wait_lease "$MAC" 90); then
  # What each side saw: the guest's frame counts, dom0's bridge and the backend.
  curl -s -m 5 "http://$IP/status"
  xl network-list "$NAME"
  for n in /sys/class/net/vif*; do
    echo "$n master $(readlink "$n/master") operstate $(cat "$n/operstate")" \
      "rx $(cat "$n/statistics/rx_packets") tx $(cat "$n/statistics/tx_packets")"
  done
  dumpleases -f "$RIG_LEASES"
  exit 1
fi
i=0
code=000
while [ $i -lt 30 ]; do
  code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$a/status")
  [ "$code" = 200 ] && break
  sleep 1
  i=$((i + 1))
done
echo "second vif $a: $code"
# UDP-DATAGRAM, not UDP: the answer leaves by the guest's route to dom0, which is vif0 (the
# first interface on 10.0.0.0/24), from vif0's address, as Linux would answer on a host with
# two interfaces in one subnet; a connected socket would drop it.
echo "udp on the second vif: $(echo 'udp second' | socat -t 5 - "UDP-DATAGRAM:$a:7")"
xl network-list "$NAME"
conns() { curl -s -m 5 "http://$IP/metrics" | awk '/^tcp_connections / {print $2}'; }
# Half a request head: app-example waits for the rest.
(printf 'GET /status HTTP/1.1\r\n'; sleep 60) | nc "$a" 80 > /dev/null &
held=$!
sleep 2
echo "connections before detach: $(conns)"
timeout 60 xl network-detach "$NAME" "$MAC" || echo "detach failed"
sleep 1
echo "connections after detach: $(conns)"
kill "$held" 2> /dev/null
xl network-list "$NAME"
echo "after detach: $(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://$IP/status")"
