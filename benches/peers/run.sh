#!/usr/bin/env bash
# The peers benchmark (make bench-peers): one call of the same logic (ASCII-uppercase
# the input bytes) through native Rust, wasp, raw wasmtime 48, Extism and pipe IPC, at
# 16 B, 1 KiB and 64 KiB. Prints a Markdown table; writes benches/peers/target/peers.json.
#
# Works from any directory. Environment:
#   BUILD_NICE=N        run the builds under `nice -n N` (default 0; the timed run is never niced)
#   CARGO_BUILD_JOBS=N  as usual for cargo
#   WASP_UPPER=PATH     the wasp plugin to load (default: the workspace's release build of
#                       plugins/upper, built here if missing)
# Any arguments are passed on to the benchmark binary (see --help).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
nice=(nice -n "${BUILD_NICE:-0}")

# Targets: wasm32-wasip1 for wasp plugins, wasm32-unknown-unknown for the Extism guest.
if command -v rustup >/dev/null 2>&1; then
  installed="$(rustup target list --installed)"
  for target in wasm32-wasip1 wasm32-unknown-unknown; do
    grep -qx "$target" <<<"$installed" || rustup target add "$target"
  done
fi

# The wasp plugin: the example `upper`, as the workspace builds it.
wasp_upper="${WASP_UPPER:-$root/target/wasm/wasm32-wasip1/release/upper.wasm}"
if [[ ! -f "$wasp_upper" ]]; then
  echo "building $wasp_upper" >&2
  "${nice[@]}" cargo build --release --target wasm32-wasip1 \
    --manifest-path "$root/plugins/Cargo.toml" --target-dir "$root/target/wasm"
fi

# The Extism guest (a no-op when up to date).
"${nice[@]}" cargo build --release --target wasm32-unknown-unknown \
  --manifest-path "$here/extism-upper/Cargo.toml" --target-dir "$here/target/guest"
extism_upper="$here/target/guest/wasm32-unknown-unknown/release/extism_upper.wasm"

# The host side (both binaries: wasp-peers and its pipe-upper child), then the run.
"${nice[@]}" cargo build --release --manifest-path "$here/Cargo.toml" --bins
exec cargo run --quiet --release --manifest-path "$here/Cargo.toml" --bin wasp-peers -- \
  --wasp-plugin "$wasp_upper" \
  --extism-plugin "$extism_upper" \
  --pipe-child "$here/target/release/pipe-upper" \
  --json "$here/target/peers.json" \
  "$@"
