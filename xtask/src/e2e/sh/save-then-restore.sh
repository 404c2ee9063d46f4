# shellcheck shell=dash
# `xl save` of the guest to a file, then `xl restore` of the file (each at most 120 s):
# prints "save: rc RC" and "restore: rc RC".
f=/tmp/save-then-restore.img
timeout 120 xl save "$DOMID" "$f"
echo "save: rc $?"
timeout 120 xl restore "$f"
echo "restore: rc $?"
rm -f "$f"
