# shellcheck shell=dash # busybox sh (ash), of which dash is the closest dialect shellcheck knows
# Functions for test plans run in dom0 (sourced by /init). A plan starts guests with
# `xl create`, waits for their output or their end, runs dom0-side commands against them,
# and leaves everything the host checks under /out/<guest>/.

say() { echo "@@rig $*"; }
now() { cut -d' ' -f1 /proc/uptime; }
console_log() { echo "/var/log/xen/console/guest-$1.log"; }

# rig_create_retry NAME CFG TEXT SECONDS: rig_create, then wait for TEXT; a guest that stops
# before it (the Linux yardstick was seen to triple-fault early, now and then, under the
# emulation) is destroyed and created once more.
rig_create_retry() {
  rig_create "$1" "$2"
  rig_wait_output "$1" "$3" "$4" && return
  say "guest $1: boot failed; retrying once"
  echo 1 > "/out/$1/boot_retries"
  rm -f "/out/$1/missing_output"
  xl destroy "$1" > /dev/null 2>&1
  : > "$(console_log "$1")"
  rig_create "$1" "$2"
}

# rig_create NAME CFG: xl create, with the times of creation and of the first console output.
rig_create() {
  local o=/out/$1
  mkdir -p "$o"
  now > "$o/t_create"
  say "guest $1 create"
  (
    i=0
    while [ ! -s "$(console_log "$1")" ] && [ $i -lt 6000 ]; do sleep 0.05; i=$((i + 1)); done
    [ -s "$(console_log "$1")" ] && now > "$o/t_first_output"
  ) &
  rig_xl_create "$2" > "$o/create.log" 2>&1
  echo $? > "$o/create.rc"
  now > "$o/t_created"
}

# rig_xl_create CFG [xl create options]: `xl create`, with the domain's triple fault made
# a crash before it first runs (Xen's default is a reboot, which xl's on_reboot turns into
# a silent restart or, under a plan's "preserve", something that looks like a reboot).
rig_xl_create() {
  local cfg=$1 name id
  shift
  xl create -p "$@" "$cfg" || return
  name=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$cfg")
  id=$(xl domid "$name") || return
  # Every domain the guest has been, for rig_triple_faults.
  [ -d "/out/$name" ] && echo "$id" >> "/out/$name/domids"
  rig-triple-fault-crash "$id" || { xl destroy "$name"; return 1; }
  xl unpause "$name"
}

# rig_triple_faults NAME: Xen's log lines about triple faults of any domain the guest has
# been, if any.
rig_triple_faults() {
  local id ids
  ids=$(cat "/out/$1/domids" 2> /dev/null)
  for id in $ids; do
    xl dmesg | grep "d${id}v[0-9]* Triple fault"
  done
  return 0
}

# rig_state NAME: the guest's state letters from `xl list` ("-b----", "---s--", ...), or
# nothing if it does not exist. xl was seen to crash now and then in this emulated dom0,
# so a failed listing is retried before the guest counts as gone.
rig_state() {
  rig_listing "$1" | awk '{print $5}'
}

# rig_listing NAME [-v]: the guest's line of `xl list [-v]`, retried as rig_state says.
rig_listing() {
  local line n=0
  while [ $n -lt 3 ]; do
    line=$(xl list ${2:+"$2"} "$1" 2> /dev/null | tail -n +2)
    [ -n "$line" ] && { echo "$line"; return; }
    xl domid "$1" > /dev/null 2>&1 || return
    n=$((n + 1))
  done
}

# rig_wait_output NAME TEXT SECONDS: waits until the console shows TEXT; gives up early if
# the guest stops.
rig_wait_output() {
  local i=0 max=$(($3 * 10))
  while ! grep -qF -- "$2" "$(console_log "$1")" 2>/dev/null; do
    if [ $i -ge $max ]; then
      echo "$2" >> "/out/$1/missing_output"
      say "guest $1: no \"$2\" after $3 s"
      return 1
    fi
    if [ $((i % 20)) -eq 19 ]; then
      case $(rig_state "$1") in
        "" | *s* | *c*)
          echo "$2 (the guest stopped first)" >> "/out/$1/missing_output"
          say "guest $1: stopped before \"$2\""
          return 1
          ;;
      esac
    fi
    sleep 0.1
    i=$((i + 1))
  done
}

# rig_dom0 NAME STEP COMMAND: runs COMMAND in dom0 (these functions at hand); output and
# exit code under /out/NAME.
rig_dom0() {
  sh -c ". /etc/rig/lib.sh; $3" > "/out/$1/dom0-$2.out" 2>&1
  echo $? > "/out/$1/dom0-$2.rc"
}

# rig_follow NAME: copies the guest's console to dom0's console, each line marked for the
# host, until rig_unfollow. tail writes into a fifo so that killing it ends the copy (and
# leaves no writer holding the plan's output open).
rig_follow() {
  local fifo="/run/follow-$1"
  touch "$(console_log "$1")"
  mkfifo "$fifo"
  (while IFS= read -r line; do echo "@@con $line"; done < "$fifo") &
  tail -f "$(console_log "$1")" > "$fifo" &
  follow_pid=$!
}

rig_unfollow() {
  sleep 1
  kill "$follow_pid" 2> /dev/null
  rm -f "/run/follow-$1"
}

# rig_wait_end NAME SECONDS: waits for the guest to shut down (on_* = "preserve" keeps it
# listed) and records why: the shutdown reason code, or "timeout" after an `xl destroy`.
# SECONDS 0 waits for ever.
rig_wait_end() {
  local state i=0 max=$(($2 * 4))
  while :; do
    state=$(rig_state "$1")
    case $state in
      "")
        echo gone > "/out/$1/end"
        break
        ;;
      *s* | *c*)
        # The shutdown reason code is in the verbose listing.
        rig_listing "$1" -v | awk '{print $8}' > "/out/$1/end"
        break
        ;;
    esac
    if [ $max -gt 0 ] && [ $i -ge $max ]; then
      xl destroy "$1"
      echo timeout > "/out/$1/end"
      say "guest $1: destroyed after $2 s"
      break
    fi
    sleep 0.25
    i=$((i + 1))
  done
  now > "/out/$1/t_end"
  say "guest $1 end $(cat "/out/$1/end")"
}

# rig_finish NAME: keeps the console log and removes the domain.
rig_finish() {
  rig_triple_faults "$1" > "/out/$1/triple_faults"
  if [ -s "/out/$1/triple_faults" ]; then
    say "guest $1: TRIPLE FAULT (see xl dmesg); its RAM is in $1/ram"
    xl dmesg > "/out/$1/xl-dmesg"
    rig-triple-fault-crash --dump-ram "$(xl domid "$1")" "/out/$1/ram" > /dev/null 2>&1
  fi
  xl destroy "$1" > /dev/null 2>&1
  now > "/out/$1/t_done"
  cp "$(console_log "$1")" "/out/$1/console" 2>/dev/null || : > "/out/$1/console"
}

# rig_dhcpd: a DHCP server on xenbr0 (busybox udhcpd) handing out 10.0.0.100-10.0.0.199,
# with router 10.0.0.1; started once, later calls do nothing. rig_lease tells what it gave.
RIG_LEASES=/run/udhcpd.leases
rig_dhcpd() {
  [ -f /run/udhcpd.pid ] && return
  cat > /run/udhcpd.conf << EOF
interface xenbr0
start 10.0.0.100
end 10.0.0.199
max_leases 100
lease_file $RIG_LEASES
pidfile /run/udhcpd.pid
auto_time 1
option subnet 255.255.255.0
option router 10.0.0.1
option lease 86400
EOF
  touch "$RIG_LEASES"
  udhcpd /run/udhcpd.conf && say "dhcpd on xenbr0: 10.0.0.100-10.0.0.199"
}

# rig_lease MAC: the address the DHCP server leased to MAC, or nothing.
# udhcpd writes its leases every second (auto_time). No SIGUSR1 to hurry it: each signal
# restarts the 2 s ARP check udhcpd makes before an offer, so signals every 0.25 s held
# back every offer until the signals stopped (a hot-added vif got no lease in 90 s).
rig_lease() {
  dumpleases -f "$RIG_LEASES" 2> /dev/null \
    | awk -v m="$1" 'tolower($1) == tolower(m) {print $2}'
}

# rig_http_get URL SECONDS: GETs URL once a second until it answers 2xx and prints the
# body; fails after SECONDS tries without one.
rig_http_get() {
  local i=0
  while [ $i -lt "$2" ]; do
    curl -sf -m 2 "$1" && return 0
    sleep 1
    i=$((i + 1))
  done
  return 1
}

# rig_wait_lease MAC SECONDS: waits for MAC's lease and prints its address; fails after
# SECONDS without one.
rig_wait_lease() {
  local i=0 a
  while [ $i -lt $(($2 * 4)) ]; do
    a=$(rig_lease "$1")
    [ -n "$a" ] && { echo "$a"; return 0; }
    sleep 0.25
    i=$((i + 1))
  done
  echo "no lease for $1 after $2 s" >&2
  return 1
}

# rig_uplink: dom0's side of QEMU's user-mode network (the virtio-net device QEMU has when
# the plan forwards ports): 10.0.2.15/24, where QEMU delivers the host's forwarded ports.
# No route beyond it (QEMU's restrict=on would drop it anyway).
rig_uplink() {
  local n dev=
  ip -4 addr show | grep -q ' 10\.0\.2\.15/' && return
  for n in /sys/class/net/*; do
    [ "$(basename "$(readlink "$n/device/driver")")" = virtio_net ] && dev=${n##*/}
  done
  [ -n "$dev" ] || { say "error: no virtio-net device for the forwards"; return 1; }
  ip addr add 10.0.2.15/24 dev "$dev" && ip link set "$dev" up
}

# rig_forward PORT ADDR GPORT: forwards dom0's PORT on the uplink (the host's
# 127.0.0.1:PORT, through QEMU) to ADDR:GPORT, a connection at a time (socat). Its log
# is /run/forward-PORT.log.
rig_forward() {
  rig_uplink || return 1
  # In a subshell of its own, so that the plan's `wait` for a batch does not wait for it.
  (socat -d TCP-LISTEN:"$1",bind=10.0.2.15,fork,reuseaddr TCP:"$2":"$3",connect-timeout=10 \
    > "/run/forward-$1.log" 2>&1 < /dev/null &)
  local i=0
  while ! netstat -ltn 2> /dev/null | grep -q "10\.0\.2\.15:$1 " && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  say "forward 127.0.0.1:$1 -> $2:$3"
}

# rig_host_listen: takes the host's answers to host steps from the console ("host-done
# GUEST STEP" lines on the serial input), as files /run/host/GUEST.STEP.
rig_host_listen() {
  mkdir -p /run/host
  stty -echo < /dev/console 2> /dev/null
  # Not a child of the plan's shell (its `wait` for a batch must not wait for it).
  ( (while read -r word guest step; do
    [ "$word" = host-done ] && touch "/run/host/$guest.$step"
  done < /dev/console) > /dev/null 2>&1 &)
}

# rig_host NAME STEP SECONDS: asks the host to run its check STEP for guest NAME and waits
# for it to finish (the host keeps the result).
rig_host() {
  local i=0
  say "host $1 $2"
  while [ ! -e "/run/host/$1.$2" ]; do
    if [ $i -ge $(($3 * 10)) ]; then
      echo "host step $2 (the host did not answer in $3 s)" >> "/out/$1/missing_output"
      say "guest $1: host step $2 unanswered after $3 s"
      return 1
    fi
    sleep 0.1
    i=$((i + 1))
  done
}

# rig_drive SERIAL: links /dev/SERIAL to the machine's drive with that serial (a host file
# a guest gets as it is, see Guest::shared_disks).
rig_drive() {
  local b
  for b in /sys/block/vd*; do
    if [ "$(cat "$b/serial" 2> /dev/null)" = "$1" ]; then
      ln -sf "/dev/${b##*/}" "/dev/$1"
      return 0
    fi
  done
  say "error: no drive with serial $1"
  return 1
}
