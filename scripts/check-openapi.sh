#!/usr/bin/env bash
# Validates the /openapi.json a freshly started server serves with
# openapi-spec-validator (Python, the validator client generators' users
# reach for), beside the Rust check in `cargo test` (tests/it/openapi.rs):
# two independent validators, either failing fails the build (a duplicate
# operationId included). The validator is installed once into a venv under
# ~/.cache (a re-run only checks it is there).
# Usage: scripts/check-openapi.sh [path/to/tradesense-server]
set -euo pipefail
# shellcheck source=browser/serve.sh
. "$(dirname "$0")/browser/serve.sh"

version=0.9.0
venv="${XDG_CACHE_HOME:-$HOME/.cache}/openapi-spec-validator-$version"
if ! "$venv/bin/openapi-spec-validator" --version >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "openapi-spec-validator==$version"
fi

launch_server "${1:-}"
curl -fsS "http://127.0.0.1:$port/openapi.json" -o "$workdir/openapi.json"
"$venv/bin/openapi-spec-validator" --schema 3.1 --validation-errors all "$workdir/openapi.json"
