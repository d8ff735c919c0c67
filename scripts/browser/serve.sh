# Sourced by the browser checks and the OpenAPI check: `start_server
# [BINARY]` installs the browser tools, then does what `launch_server
# [BINARY]` does alone: starts the server (default: the debug build in
# CARGO_TARGET_DIR) on a free loopback port over a throwaway SQLite
# database, with nothing of the caller's environment but PATH and HOME,
# and waits for /health. Sets `port`, `workdir` and `root`; an EXIT trap
# stops the server and removes workdir.
start_server() {
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  "$root/scripts/install-browser-tools.sh"
  launch_server "${1:-}"
}

launch_server() {
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  local server="${1:-${CARGO_TARGET_DIR:-$root/target}/debug/tradesense-server}"
  workdir="$(mktemp -d)"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  env -i PATH="$PATH" HOME="$HOME" BIND_ADDR="127.0.0.1:$port" DATABASE_URL="sqlite://$workdir/check.db" \
    RUST_LOG=warn "$server" >"$workdir/server.log" 2>&1 &
  server_pid=$!
  trap 'kill $server_pid 2>/dev/null || true; wait $server_pid 2>/dev/null || true; rm -rf "$workdir"' EXIT
  local up=no
  for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then up=yes; break; fi
    sleep 0.1
  done
  if [ "$up" != yes ]; then
    echo "check: the server did not come up:" >&2
    cat "$workdir/server.log" >&2
    exit 1
  fi
}
