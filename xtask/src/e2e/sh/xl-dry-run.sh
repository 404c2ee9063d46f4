# shellcheck shell=dash
# Every xl file `cargo xtask xl` generated, parsed by the real xl (`xl create -n` prints the
# parsed configuration); a file it refuses is named after "FAILED:".
for f in /work/xl/*.xl; do xl create -n "$f" || echo "FAILED: $f"; done
