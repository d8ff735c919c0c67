#!/usr/bin/env bash
# Opens /docs of a freshly started server in headless Chromium with no
# network but loopback, checks that Swagger UI renders the routes, then
# "Authorize" with a real token and "Try it out" on GET /api/v1/users/me.
# Usage: scripts/check-docs-in-browser.sh [path/to/tradesense-server]
set -euo pipefail
# shellcheck source=browser/serve.sh
. "$(dirname "$0")/browser/serve.sh"
start_server "${1:-}"
node "$root/scripts/browser/docs-check.mjs" "http://127.0.0.1:$port"
