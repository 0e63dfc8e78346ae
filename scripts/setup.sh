#!/usr/bin/env bash
# Installs what Pretext needs to build, serve and test, on a fresh Debian
# machine, from the package registries only. Every step checks first and
# skips what is already there, so running it again costs seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

step() { printf '\n== setup: %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# ver_ge A B: version A >= version B
ver_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

# Debian packages: Chromium (+driver) for the browser tests, Mesa's lavapipe
# so native wgpu code has a Vulkan device on a GPU-less machine.
missing=()
for pkg in chromium chromium-driver mesa-vulkan-drivers; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
for component in clippy rustfmt; do
  rustup component list --installed | grep -q "^$component" || rustup component add "$component"
done

# wasm-bindgen-cli must equal the lockfile's wasm-bindgen exactly.
wbg=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $wbg" ]; then
  step "cargo install wasm-bindgen-cli $wbg (about 10 minutes)"
  # Not --locked: the registry mirror lacks one of its locked transitive versions.
  cargo install wasm-bindgen-cli --version "$wbg"
fi

# Trunk 0.22.1 needs rustc >= 1.96.1, newer than this machine's stable.
trunk_version=0.22.1
if [ "$(trunk --version 2>/dev/null)" != "trunk $trunk_version" ]; then
  if ver_ge "$(rustc --version | awk '{print $2}')" 1.96.1; then
    toolchain=
  elif rustup toolchain list | grep -q '^nightly' \
      && ver_ge "$(rustc +nightly --version | awk '{print $2}' | sed 's/-nightly//')" 1.96.1; then
    toolchain=+nightly
  else
    step "rustup toolchain install 1.97.0 (only to build trunk)"
    rustup toolchain install 1.97.0 --profile minimal
    toolchain=+1.97.0
  fi
  step "cargo $toolchain install trunk $trunk_version (about 10 minutes)"
  cargo $toolchain install trunk --version "$trunk_version" --locked
fi

# wasm-opt from npm's binaryen (Debian's is too old for rustc 1.95 output),
# and playwright-core, which drives Debian's chromium (no browser download).
if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/playwright-core ] \
    || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci"
  npm ci --no-audit --no-fund
fi

step "assets (pinned packages, sha256-checked)"
python3 scripts/fetch_assets.py
