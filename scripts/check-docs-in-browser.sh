#!/usr/bin/env bash
# Opens /docs of a freshly started server in headless Chromium with no
# network but loopback, checks that Swagger UI renders the routes, then
# "Authorize" with a real token and "Try it out" on GET /api/v1/users/me.
# Usage: scripts/check-docs-in-browser.sh [path/to/tradesense-server]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
server="${1:-${CARGO_TARGET_DIR:-$root/target}/debug/tradesense-server}"
"$root/scripts/install-browser-tools.sh"

workdir="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
env -i PATH="$PATH" HOME="$HOME" BIND_ADDR="127.0.0.1:$port" DATABASE_URL="sqlite://$workdir/docs.db" \
  RUST_LOG=warn "$server" >"$workdir/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$workdir"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.1
done
node "$root/scripts/browser/docs-check.mjs" "http://127.0.0.1:$port"
