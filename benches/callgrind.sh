#!/usr/bin/env bash
# Instructions per request of the release server under callgrind: counts,
# not seconds, so the figure does not drift with the load on a shared
# machine (benches/README.md, "Where the instructions went").
#
#   benches/callgrind.sh SERVER_BIN health|me [OUT.cg]
#
# Starts SERVER_BIN (SQLite in a temp dir, rate limits off) under
# `valgrind --tool=callgrind --instr-atstart=no`; for `me` registers and
# logs in a user; switches instrumentation on, runs `wrk -t1 -c8 -d6s` on
# GET /health or GET /api/v1/users/me (bearer), switches it off, stops the
# server and prints the instructions per request. Inspect OUT.cg with
# `callgrind_annotate --inclusive=yes OUT.cg`. Loopback only; needs
# valgrind, wrk, curl, python3, openssl.
set -euo pipefail
bin=$(realpath "$1") kind=$2 out=$(realpath -m "${3:-callgrind-$2.cg}")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$dir" && exec env -i PATH="$PATH" HOME="$dir" ENVIRONMENT=development BIND_ADDR="127.0.0.1:$port" \
	DATABASE_URL="sqlite://$dir/bench.db?mode=rwc" RATE_LIMIT_PER_MINUTE=0 AUTH_RATE_LIMIT_PER_MINUTE=0 \
	SECRET_KEY="$(openssl rand -hex 32)" JWT_SECRET_KEY="$(openssl rand -hex 32)" \
	valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" "$bin" serve) \
	>"$dir/server.log" 2>&1 &
pid=$!
up=no
for _ in $(seq 1 600); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && { up=yes; break; }; sleep 0.2; done
[[ $up == yes ]] || { cat "$dir/server.log" >&2; exit 1; }
url=http://127.0.0.1:$port/health hdr=()
if [[ $kind == me ]]; then
	api() { curl -fsS -X POST -H 'Content-Type: application/json' "http://127.0.0.1:$port$1" -d "$2"; }
	api /api/v1/auth/register '{"email":"cg@example.com","password":"correct horse battery","full_name":"CG"}' >/dev/null
	token=$(api /api/v1/auth/login '{"email":"cg@example.com","password":"correct horse battery"}' |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
	url=http://127.0.0.1:$port/api/v1/users/me hdr=(-H "Authorization: Bearer $token")
fi
callgrind_control -i on "$pid" >/dev/null
requests=$(wrk -t1 -c8 -d6s "${hdr[@]}" "$url" | awk '/requests in/ {print $1}')
callgrind_control -i off "$pid" >/dev/null
kill -TERM "$pid"
wait "$pid" || true
total=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "$kind: $total instructions, $requests requests, $((total / requests)) per request ($out)"
