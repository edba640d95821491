#!/usr/bin/env bash
# Belfry's developer script. Two commands matter (see README):
#   ./dev.sh run    build a release and serve it at http://127.0.0.1:3000
#   ./dev.sh test   every check and test: fmt, clippy (ssr + hydrate), docs,
#                   unit + integration tests, Playwright in Chromium
# Both install whatever is missing first and skip what is already there.
# Nothing is downloaded from a website: only crates.io, npm and Debian.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$(pwd)

CARGO_LEPTOS_VERSION=0.3.10
# wasm-bindgen-cli must match the crate's pinned wasm-bindgen exactly.
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' Cargo.toml)
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"

step() { printf '\n\033[1;34m==> [%4ds] %s\033[0m\n' "$SECONDS" "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

APT_UPDATED=
apt_install() { # Debian packages, only those missing
  local missing=() pkg
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing ${missing[*]}; install them with your package manager"
  step "installing Debian packages: ${missing[*]}"
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_c_toolchain() { # cargo install builds C code (ring, zstd, ...) and asks pkg-config
  command -v cc >/dev/null || apt_install build-essential
  command -v pkg-config >/dev/null || apt_install pkg-config
  command -v cc >/dev/null || die "a C compiler (cc) is missing: install gcc or clang, then rerun"
}

ensure_rust() {
  command -v cargo >/dev/null && command -v rustup >/dev/null \
    || die "Rust is missing: install rustup (Debian: apt-get install rustup, or rustup.rs), then rerun"
  # rust-toolchain.toml names the toolchain; rustup installs it on first use.
  rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
  rustup target list --installed | grep -qx wasm32-unknown-unknown \
    || { step "adding the wasm32-unknown-unknown target"; rustup target add wasm32-unknown-unknown; }
  local component
  for component in clippy rustfmt; do
    rustup component list --installed | grep -q "^$component" \
      || { step "adding $component"; rustup component add "$component"; }
  done
}

ensure_cargo_tools() {
  if [ "$(cargo leptos --version 2>/dev/null)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
    step "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 15 min on 2 cores, once)"
    cargo install cargo-leptos --locked --version "$CARGO_LEPTOS_VERSION" --features no_downloads
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
    step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
    # No --locked: its lock file pins a crate version the registry no longer serves.
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
}

ensure_node() { # Tailwind 4 and Playwright need Node.js 20 or newer
  command -v npm >/dev/null || apt_install nodejs npm
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  [ "$major" -ge 20 ] || die "Node.js 20 or newer is needed (found $(node --version 2>/dev/null || echo none)): \
install it from your distribution (Debian 13 ships 20) or NodeSource's Debian packages, then rerun"
}

npm_ci() { # npm ci in $1 unless node_modules already matches its package-lock.json
  local dir=$1 stamp=$1/node_modules/.belfry-installed
  ensure_node
  if ! cmp -s "$dir/package-lock.json" "$stamp"; then
    step "installing npm packages in ${dir}"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
    cp "$dir/package-lock.json" "$stamp"
  fi
}

ensure_build_tools() {
  ensure_c_toolchain
  ensure_rust
  ensure_cargo_tools
  npm_ci "$ROOT"
}

free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

cmd_run() {
  ensure_build_tools
  step "building and serving the release at http://127.0.0.1:3000 (Ctrl-C stops), demo mode"
  # The demo: sign in by name, send to anyone. The binary's default is off
  # (docs/security.md); BELFRY_DEMO=0 ./dev.sh run tries production mode.
  export BELFRY_DEMO="${BELFRY_DEMO:-1}"
  # --precompress: brotli and gzip copies of the assets, served as they are.
  exec cargo leptos serve --release --precompress --split
}

cmd_test() {
  local started=$SECONDS
  ensure_build_tools
  # redis-server and nginx: tests start their own, on free ports
  local had_nginx=1
  dpkg -s nginx >/dev/null 2>&1 || had_nginx=
  apt_install chromium redis-server nginx
  if [ -z "$had_nginx" ] && command -v systemctl >/dev/null; then
    # Debian starts the nginx it installs on port 80; the tests only need
    # the binary, so leave no server running that nobody asked for.
    as_root systemctl disable --now nginx >/dev/null 2>&1 || true
  fi
  npm_ci "$ROOT/end2end"

  step "rustfmt"
  cargo fmt --all -- --check
  step "clippy (ssr)"
  cargo clippy --features ssr,jemalloc --all-targets -- -D warnings
  step "clippy (hydrate, wasm32)"
  cargo clippy --lib --target wasm32-unknown-unknown --features hydrate -- -D warnings
  step "module docs (no dangling links)"
  RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --features ssr
  step "unit and integration tests"
  cargo test --features ssr
  step "release build (server + WASM + CSS, precompressed)"
  cargo leptos build --release --precompress --split
  step "browser tests (Playwright, Chromium)"
  (cd end2end && BELFRY_E2E_PORT=$(free_port) npx playwright test)
  step "all green in $((SECONDS - started)) s"
}

case "${1:-}" in
  run) cmd_run ;;
  test) cmd_test ;;
  *) die "usage: ./dev.sh run | test" ;;
esac
