#!/usr/bin/env bash
# CI for this app, and what to run before pushing: on a fresh Debian (or Ubuntu) machine it
# installs what it needs, then runs `cargo xtask test` (unit tests, image, the app's check
# under Xen) and ends with its summary line; it exits non-zero when a check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

echo "== ci: packages"
# A C toolchain links build scripts and host tests, curl and the CA certificates fetch
# rustup, binutils' strip tells the image's size. "PROGRAM-OR-FILE:PACKAGE" pairs.
missing=()
for need in cc:gcc /usr/include/stdio.h:libc6-dev strip:binutils curl:curl \
  /etc/ssl/certs/ca-certificates.crt:ca-certificates; do
  what=${need%%:*} pkg=${need#*:}
  if [[ $what == /* ]]; then
    [[ -e $what ]] || missing+=("$pkg")
  else
    command -v "$what" >/dev/null || missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  sudo=()
  ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "== ci: Rust toolchain (rust-toolchain.toml)"
if ! command -v rustup >/dev/null; then
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
    sh -s -- -y --profile minimal --default-toolchain none
  # shellcheck source=/dev/null
  . "$HOME/.cargo/env"
fi
# The channel, components and targets rust-toolchain.toml names; the guest's target again,
# for a toolchain that was installed before without it.
rustup toolchain install
rustup target add x86_64-unknown-none
rustc --version

# Everything through the runtime's tool (`cargo xtask`, the alias in .cargo/config.toml: the
# runtime's xtask at the revision xtask/Cargo.toml pins, built on first use): the unit tests
# of the app's logic, its image, and its check under Xen as Cargo.toml declares it
# ([package.metadata.unikernel.check]), in the runtime's emulated Xen machine where this is
# no Xen host (the machine's Debian packages are installed and fetched on first use). One
# line per check ("test NAME: ok" or "test NAME: FAILED: why"), then the summary.
echo "== ci: cargo xtask test"
mkdir -p target
status=0
cargo xtask test 2>&1 | tee target/ci-test.log || status=$?

echo "== ci: results"
grep -E '^test (unit|image|xen): ' target/ci-test.log || true
sed -n '/^== summary: /,$p' target/ci-test.log | head -n 1 | grep . ||
  echo "== summary: 0 passed, 1 failed (cargo xtask test ended with status $status before its summary)"
exit "$status"
