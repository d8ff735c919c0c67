#!/usr/bin/env bash
# Installs what the browser checks (offline docs, passkeys) need: Debian's Chromium and
# playwright-core (the npm package only; it never downloads a browser: the
# check points it at /usr/bin/chromium). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/browser"
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund --silent
fi
