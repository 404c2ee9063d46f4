# Replacement for Xen's hotplug locking.sh in the emulated machine's dom0: the same
# claim_lock/release_lock, with flock alone (Xen's checks the lock file with perl, which
# this dom0 does not have).
LOCK_BASEDIR=/run/xen-hotplug

claim_lock() {
  mkdir -p "$LOCK_BASEDIR"
  eval "exec 200>>$LOCK_BASEDIR/$1"
  flock -x 200
}

release_lock() {
  flock -u 200 2>/dev/null
  eval "exec 200>&-"
}
