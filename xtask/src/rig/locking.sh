# shellcheck shell=bash # sourced by Xen's hotplug scripts, which are bash scripts
# Replacement for Xen's hotplug locking.sh in the emulated machine's dom0, which has neither
# flock(1) nor perl: the same claim_lock/release_lock, made of an atomic mkdir. A lock held
# for more than 60 s is taken to be stale (its holder died) and broken.
LOCK_BASEDIR=/run/xen-hotplug

claim_lock() {
  local i=0
  mkdir -p "$LOCK_BASEDIR"
  while ! mkdir "$LOCK_BASEDIR/$1.lock" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -ge 600 ]; then
      rmdir "$LOCK_BASEDIR/$1.lock" 2>/dev/null
      i=0
    fi
    sleep 0.1
  done
}

release_lock() {
  rmdir "$LOCK_BASEDIR/$1.lock" 2>/dev/null
}
