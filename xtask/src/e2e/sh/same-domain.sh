# shellcheck shell=dash
# The guest is still the domain it was created as: no reboot, no crash since (under the
# plan's on_* = "preserve" a stopped guest stays listed, shut down; a restarted one has
# another domid). Prints "same domain" if so.
name=$(xl domname "$DOMID" 2>/dev/null)
now=$(xl domid "$name" 2>/dev/null)
st=$(rig_state "$name")
echo "domid $DOMID now ${now:-gone}, state $st"
[ "$now" = "$DOMID" ] && case $st in *c* | *s*) false ;; *) echo same domain ;; esac
