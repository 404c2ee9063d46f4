#!/bin/busybox sh
# /init of the Linux PVH yardstick guest. Command-line keys:
#   rig.ip=ADDR/LEN     configures eth0
#   rig.httpd=1         serves HTTP on port 80 (busybox httpd; / is a one-line page)
#   rig.disk-marker=S   writes S at the start of xvda
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "linux-guest: up $(cut -d' ' -f1 /proc/uptime)"
for m in $(cat /etc/modules.list); do insmod "/lib/modules/$m"; done
for w in $(cat /proc/cmdline); do
  case $w in
    rig.ip=*) ip=${w#rig.ip=} ;;
    rig.disk-marker=*) marker=${w#rig.disk-marker=} ;;
    rig.httpd=1) httpd=1 ;;
  esac
done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if [ -n "$ip" ] && [ -e /sys/class/net/eth0 ]; then
  ip link set eth0 up && ip addr add "$ip" dev eth0 && echo "linux-guest: eth0 $ip"
fi
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
echo "linux-guest: ready"
while :; do sleep 3600; done
