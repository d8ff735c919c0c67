#!/usr/bin/env bash
# The journal in one command: builds and starts a server on a throwaway
# SQLite database, registers a user, imports a broker's export (Webull's
# orders file from tests/fixtures/imports/, recognised by `format=auto`),
# and prints the import's answer, the round trips and the analytics summary.
#
#   examples/import_demo.sh                       # webull.csv
#   examples/import_demo.sh tests/fixtures/imports/schwab.csv
#
# Needs cargo, curl and jq. PORT (default 8765) picks the listening port;
# TRADESENSE_BIN skips the build and runs that server binary. Options
# import as OCC symbols with their multiplier (100), which the round trips'
# P&L includes once the accounting half of issue 20 (multipliers in the
# fold) is in.
set -euo pipefail

cd "$(dirname "$0")/.."
FILE=${1:-tests/fixtures/imports/webull.csv}
PORT=${PORT:-8765}
API=http://127.0.0.1:$PORT/api/v1
WORK=$(mktemp -d)

if [ -z "${TRADESENSE_BIN:-}" ]; then
    cargo build --quiet -p tradesense-server
    TRADESENSE_BIN=${CARGO_TARGET_DIR:-target}/debug/tradesense-server
fi

# Development settings: ephemeral secrets (the server warns), no rate limit.
DATABASE_URL="sqlite://$WORK/demo.db" BIND_ADDR="127.0.0.1:$PORT" \
    ENVIRONMENT=development RATE_LIMIT_PER_MINUTE=0 AUTH_RATE_LIMIT_PER_MINUTE=0 \
    LOG_FORMAT=json RUST_LOG=warn "$TRADESENSE_BIN" >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT

for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break
    kill -0 $SERVER 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
    sleep 0.1
done

json() { curl -fsS -H 'Content-Type: application/json' "$@"; }
json "$API/auth/register" \
    -d '{"email": "demo@example.com", "password": "correct horse battery staple", "full_name": "Demo"}' >/dev/null
TOKEN=$(json "$API/auth/login" \
    -d '{"email": "demo@example.com", "password": "correct horse battery staple"}' | jq -r .access_token)
AUTH="Authorization: Bearer $TOKEN"

echo "== POST /imports?format=auto ($FILE), times read in America/New_York"
curl -fsS "$API/imports?format=auto&tz=America/New_York" -H "$AUTH" \
    -H 'Content-Type: text/csv' --data-binary "@$FILE" \
    | jq '{format, rows, created, duplicates, skipped, errors}'

echo "== GET /round-trips"
curl -fsS "$API/round-trips" -H "$AUTH" \
    | jq -c '.items[] | {symbol, status, quantity, average_entry, average_exit, realized_pnl}'

echo "== GET /analytics/summary"
curl -fsS "$API/analytics/summary" -H "$AUTH" \
    | jq '{round_trips, wins, losses, net_pnl, win_rate, profit_factor, largest_win, max_drawdown}'
