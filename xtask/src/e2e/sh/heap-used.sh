# shellcheck shell=dash
# app-example's heap at IP, from its /metrics: heap_size_bytes, heap_used_bytes and
# heap_available_bytes lines. SLEEP seconds first, if set.
: "${IP:?}"
[ -z "${SLEEP:-}" ] || sleep "$SLEEP"
curl -sS -m 20 "http://$IP/metrics" | grep -E '^heap_(size|used|available)_bytes '
