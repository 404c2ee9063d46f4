#!/bin/sh
# shellcheck shell=dash # busybox sh (ash), of which dash is the closest dialect shellcheck knows
# shellcheck source-path=SCRIPTDIR
# /init of the emulated Xen machine's dom0 (busybox sh). Brings up the Xen toolstack, then
# either runs the test plan from the exchange disk and powers off, or (rig.mode=shell)
# gives an interactive shell. Lines starting with "@@rig " are read by the host.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/lib/xen-4.17/bin
export HOME=/root TERM=linux
say() { echo "@@rig $*"; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/xen /run/xenstored /run/xen-hotplug /var/log/xen/console /var/lib/xen /out /work
say "dom0-init $(cut -d' ' -f1 /proc/uptime)"

mode=plan
watchdog=1800
trace=false
read -r cmdline < /proc/cmdline
for w in $cmdline; do
  case $w in
    rig.mode=*) mode=${w#rig.mode=} ;;
    rig.watchdog=*) watchdog=${w#rig.watchdog=} ;;
    rig.trace=1) trace=true ;;
  esac
done
# A hung plan must not hang the host: power off after the watchdog's seconds.
if [ "$mode" = plan ]; then
  (sleep "$watchdog"; say "watchdog: plan still running after ${watchdog}s, powering off"; poweroff -f) &
fi

# One module per line, with its parameters, dependencies first.
while read -r m params; do
  # shellcheck disable=SC2086 # the parameters are words of their own
  insmod "/lib/modules/$m" $params || say "error: insmod $m failed"
done < /etc/rig/modules.list
mkdir -p /proc/xen
mount -t xenfs xenfs /proc/xen
xenstored --pid-file /run/xenstored.pid
xen-init-dom0 >/dev/null 2>&1 || say "error: xen-init-dom0 failed"
xenconsoled --log=guest --log-dir=/var/log/xen/console --pid-file=/run/xenconsoled.pid
brctl addbr xenbr0
ip addr add 10.0.0.1/24 dev xenbr0
ip link set xenbr0 up
ip link set lo up
say "dom0-up $(cut -d' ' -f1 /proc/uptime)"

if [ "$mode" = shell ]; then
  echo "dom0 of the emulated Xen machine: xl, xenstore-*, brctl; xenbr0 is 10.0.0.1/24."
  echo "Guest consoles are logged in /var/log/xen/console. 'poweroff -f' ends the machine."
  [ -b /dev/vda ] && tar -xf /dev/vda -C /work 2>/dev/null && echo "The exchange disk is unpacked in /work."
  setsid cttyhack sh -l
  poweroff -f
fi

if tar -xf /dev/vda -C /work; then
  # shellcheck source=lib.sh # (in /etc/rig in dom0)
  . /etc/rig/lib.sh
  say "plan-start $(cut -d' ' -f1 /proc/uptime)"
  # Line by line, not through sed: busybox sed buffers its output, which held back the
  # plan's progress lines (and would stall anything on the host waiting for one).
  # shellcheck source=/dev/null # plan.sh is generated for each run
  ( cd /work && if $trace; then set -x; fi && . ./plan.sh ) 2>&1 \
    | while IFS= read -r line; do echo "plan: $line"; done
  say "plan-end $(cut -d' ' -f1 /proc/uptime)"
  # No guest may have triple-faulted, whatever its test checked.
  xl dmesg | grep "Triple fault" | while IFS= read -r line; do say "error: $line"; done
  # Crashes of dom0 programs during the plan, for the serial log.
  dmesg | grep -i -A1 'segfault\|general protection\|trap' | sed 's/^/dmesg: /' | head -40
  cut -d' ' -f1 /proc/uptime > /out/.complete
  tar -cf /dev/vda -C /out . && sync && say "results-written"
else
  say "error: no exchange disk (/dev/vda) with a plan"
fi
poweroff -f
