#!/bin/busybox sh
# shellcheck shell=dash # busybox sh (ash), of which dash is the closest dialect shellcheck knows
# /init of the Linux PVH yardstick guest. Command-line keys:
#   rig.ip=ADDR/LEN     configures eth0; rig.ip=dhcp asks DHCP (udhcpc, in the background)
#   rig.ip1=...         the same for eth1
#   rig.httpd=1         serves HTTP on port 80 (busybox httpd; / is a one-line page)
#   rig.nginx=1         serves HTTP on port 80 with nginx (/etc/nginx.conf): /hello is the
#                       same page as app-example's /hello, for `cargo xtask bench http`
#   rig.disk-marker=S   writes S at the start of xvda
#   rig.blkbench=MIB,OPS,RUNS `cargo xtask bench blk` on xvda (blkbench.c), then "bench done"
#   rig.bench=BYTES     `cargo xtask bench net` services: TCP discard on port 9, and a TCP
#                       source on port 19 that sends BYTES zeros per connection
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "linux-guest: up $(cut -d' ' -f1 /proc/uptime)"
modules=$(cat /etc/modules.list)
for m in $modules; do insmod "/lib/modules/$m"; done
read -r cmdline < /proc/cmdline
for w in $cmdline; do
  case $w in
    rig.ip=*) ip=${w#rig.ip=} ;;
    rig.ip1=*) ip1=${w#rig.ip1=} ;;
    rig.disk-marker=*) marker=${w#rig.disk-marker=} ;;
    rig.httpd=1) httpd=1 ;;
    rig.nginx=1) nginx=1 ;;
    rig.bench=*) bench=${w#rig.bench=} ;;
    rig.blkbench=*) blkbench=${w#rig.blkbench=} ;;
  esac
done
# What udhcpc runs when it gets a lease: the address, the route, a line on the console.
cat > /etc/udhcpc.script << 'EOF'
#!/bin/sh
case $1 in
  bound | renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route add default via "${router%% *}" dev "$interface" 2> /dev/null
    echo "linux-guest: $interface $ip/$mask (dhcp)" > /dev/console
    ;;
esac
EOF
chmod +x /etc/udhcpc.script
# netup IFACE ADDR/LEN|dhcp
netup() {
  i=0
  while [ ! -e "/sys/class/net/$1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  [ -e "/sys/class/net/$1" ] || return
  ip link set "$1" up
  if [ "$2" = dhcp ]; then
    udhcpc -f -q -i "$1" -s /etc/udhcpc.script -t 60 -T 1 > /dev/null 2>&1 &
  else
    ip addr add "$2" dev "$1" && echo "linux-guest: $1 $2"
  fi
}
[ -n "$ip" ] && netup eth0 "$ip"
[ -n "$ip1" ] && netup eth1 "$ip1"
for d in /sys/block/xvd*; do
  [ -e "$d" ] && echo "linux-guest: ${d##*/} $(cat "$d/size") sectors"
done
if [ -n "$marker" ] && [ -b /dev/xvda ]; then
  printf '%s' "$marker" | dd of=/dev/xvda conv=notrunc,fsync 2>/dev/null && echo "linux-guest: wrote $marker"
fi
if [ -n "$httpd" ]; then
  mkdir -p /www && echo "linux-guest: hello over HTTP" > /www/index.html
  httpd -p 80 -h /www && echo "linux-guest: httpd on port 80"
fi
if [ -n "$nginx" ]; then
  mkdir -p /www && printf 'hello from app-example\n' > /www/hello
  nginx -c /etc/nginx.conf && echo "linux-guest: nginx on port 80"
fi
if [ -n "$bench" ]; then
  # busybox nc serves one connection (-e: the rest of the line runs on it), hence the loops.
  (while :; do nc -l -p 9 -e sh -c 'cat > /dev/null'; done) &
  (while :; do nc -l -p 19 -e head -c "$bench" /dev/zero; done) &
  echo "linux-guest: bench services on ports 9 and 19"
fi
echo "linux-guest: ready"
if [ -n "$blkbench" ]; then
  # shellcheck disable=SC2046 # MIB OPS RUNS, split at the commas
  blkbench /dev/xvda $(echo "$blkbench" | tr , ' ')
  echo "linux-guest: bench done"
fi
while :; do sleep 3600; done
