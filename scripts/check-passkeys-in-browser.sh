#!/usr/bin/env bash
# Passkeys end to end in headless Chromium with the DevTools virtual
# authenticator: register, add a passkey after re-authentication, log out,
# log in by passkey, /users/me by the cookie. The page is served by the
# server itself at http://localhost:PORT, the default WEBAUTHN_ORIGIN for
# BIND_ADDR=127.0.0.1:PORT (an RP ID cannot be an IP address, so the
# browser must not use 127.0.0.1).
# Usage: scripts/check-passkeys-in-browser.sh [path/to/tradesense-server]
set -euo pipefail
# shellcheck source=browser/serve.sh
. "$(dirname "$0")/browser/serve.sh"
start_server "${1:-}"
node "$root/scripts/browser/passkeys-check.mjs" "http://localhost:$port"
