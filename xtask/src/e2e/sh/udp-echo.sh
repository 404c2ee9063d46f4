# shellcheck shell=dash
# Three datagrams to IP's UDP echo port (7), each answered ("udp one" ...).
: "${IP:?}"
for w in one two three; do echo "udp $w" | socat -t 5 - "UDP:$IP:7"; done
