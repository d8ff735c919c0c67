#!/usr/bin/env bash
# End-to-end benchmark: the release server over loopback against a bare hyper
# baseline measured in the same run (issue 14). One command from a clone:
#
#     benches/e2e.sh                 # SQLite
#     TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test benches/e2e.sh
#                                    # SQLite and Postgres (a throwaway database)
#
# Prints a markdown report on stdout (progress on stderr). It builds the
# release server, examples/baseline_hyper and examples/loadtest, starts the
# baseline and the server(s) on free loopback ports, with rate limits off,
# pins the servers to one core and the load generator to another when there
# are two or more, warms up, runs every scenario RUNS times round-robin (so
# drift spreads over all of them), and prints medians and the ratio of each
# req/s to the baseline's `GET /health` req/s of this same run. Everything
# it starts is stopped on exit (also on Ctrl-C), the temporary directory and
# the Postgres database are removed.
#
# Settings (environment):
#   SERVER_BIN=path   bench this server binary instead of building one
#   SCENARIOS=list    comma-separated subset of: health, me_bearer, me_cookie,
#                     trades_get, trades_post, login_storm, mixed,
#                     write_baseline (default: all)
#                     write_baseline: POST /api/v1/trades into a portfolio,
#                     and benches/write_baseline.rs (the same transaction
#                     straight through sqlx, same connections and duration,
#                     pinned like a server) in the same rounds, and their ratio
#   LOADGEN=auto|wrk|loadtest  (auto: wrk if present, installing Debian's
#                     package when root; else the repo's examples/loadtest)
#   RUNS=3 DURATION=5 WARMUP=2 CONNECTIONS=64      throughput scenarios
#   STORM_CONNECTIONS=200 STORM_USERS=50 STORM_DURATION=5 PROBE_RATE=100
#                     login storm (the connections log in as STORM_USERS
#                     accounts in turn; with loadtest, as the first one)
#   MIX_CONNECTIONS=16 MIX_DURATION=8              mixed load (loadtest's mix)
#   SERVER_RUST_LOG=filter  RUST_LOG of the servers (default: unset, i.e. the
#                     server's own default, access log on, to a file)
#   SKIP_BUILD=1      use the binaries already in the target directory
#   KEEP_TMP=1        keep the temporary directory (server logs, raw results)
#   SERVER_CPU=0 LOAD_CPU=1   the cores to pin to
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-64}
STORM_CONNECTIONS=${STORM_CONNECTIONS:-200}
STORM_USERS=${STORM_USERS:-50}
STORM_DURATION=${STORM_DURATION:-5}
PROBE_RATE=${PROBE_RATE:-100}
MIX_CONNECTIONS=${MIX_CONNECTIONS:-16}
MIX_DURATION=${MIX_DURATION:-8}
SCENARIOS=${SCENARIOS:-health,me_bearer,me_cookie,trades_get,trades_post,login_storm,mixed,write_baseline}
LOADGEN=${LOADGEN:-auto}
SERVER_BIN=${SERVER_BIN:-}
SERVER_RUST_LOG=${SERVER_RUST_LOG:-}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

PASSWORD='e2e bench: correct horse battery staple 42'
TRADE_BODY='{"symbol":"AAPL","side":"buy","quantity":"1","price":"100"}'

log() { printf '[e2e %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
has() { [[ ",$SCENARIOS," == *",$1,"* ]]; }

# ---------------------------------------------------------------- cleanup
PIDS=()
PG_DB=
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tt-e2e.XXXXXX")
cleanup() {
	local status=$? pid
	trap - EXIT INT TERM
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		# The server drains gracefully; do not wait for long.
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ -n $PG_DB ]]; then
		psql "$TEST_DATABASE_URL" -qAtc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 ||
			log "could not drop database $PG_DB"
	fi
	if [[ ${KEEP_TMP:-0} == 1 ]]; then log "kept $TMP (server logs, raw results)"; else rm -rf "$TMP"; fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- tools
command -v curl >/dev/null || die "curl is required"
LOADGEN_NOTE=
if [[ $LOADGEN == auto ]]; then
	if ! command -v wrk >/dev/null; then
		if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
			log "wrk missing: trying apt-get install wrk"
			timeout 180 apt-get install -y -qq wrk >/dev/null 2>&1 ||
				{ timeout 180 apt-get update -qq >/dev/null 2>&1 &&
					timeout 180 apt-get install -y -qq wrk >/dev/null 2>&1; } || true
		fi
	fi
	if command -v wrk >/dev/null; then LOADGEN=wrk; else
		LOADGEN=loadtest
		LOADGEN_NOTE=" (wrk not installed and not installable)"
	fi
fi
[[ $LOADGEN == wrk || $LOADGEN == loadtest ]] || die "LOADGEN is auto, wrk or loadtest"
[[ $LOADGEN == loadtest ]] || command -v wrk >/dev/null || die "LOADGEN=wrk but wrk is not installed"

CPUS=$(nproc)
PIN_SERVER=()
PIN_LOAD=()
if ((CPUS >= 2)) && command -v taskset >/dev/null; then
	PIN_SERVER=(taskset -c "$SERVER_CPU")
	PIN_LOAD=(taskset -c "$LOAD_CPU")
	PINNING="servers on core $SERVER_CPU, load generator on core $LOAD_CPU (taskset)"
else
	PINNING="not pinned ($CPUS core(s)$(command -v taskset >/dev/null || echo ', no taskset'))"
fi

# ---------------------------------------------------------------- build
cd "$ROOT"
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
	if [[ -z $SERVER_BIN ]]; then
		log "building release: server, baseline_hyper, loadtest"
		# Two invocations: built together, the examples' dev-dependencies
		# would unify extra features into the server's dependencies, and the
		# binary measured would not be the one `cargo build -p` ships.
		cargo build --release -p tradesense-server --bin tradesense-server >&2
		cargo build --release -p tradesense --example baseline_hyper --example loadtest --example hash_rate >&2
	else
		log "building release: baseline_hyper, loadtest (server: $SERVER_BIN)"
		cargo build --release -p tradesense --example baseline_hyper --example loadtest --example hash_rate >&2
	fi
fi
if has write_baseline; then
	if [[ ${SKIP_BUILD:-0} != 1 ]]; then
		log "building release: benches/write_baseline"
		cargo bench -p tradesense --bench write_baseline --no-run >&2
	fi
	WRITE_BASELINE_BIN=$(ls -t "$TARGET_DIR"/release/deps/write_baseline-* 2>/dev/null | grep -v '\.d$' | head -1)
	[[ -x $WRITE_BASELINE_BIN ]] || die "benches/write_baseline is not built (unset SKIP_BUILD)"
fi
SERVER_BIN=${SERVER_BIN:-$TARGET_DIR/release/tradesense-server}
BASELINE_BIN=$TARGET_DIR/release/examples/baseline_hyper
LOADTEST_BIN=$TARGET_DIR/release/examples/loadtest
HASH_RATE_BIN=$TARGET_DIR/release/examples/hash_rate
for bin in "$SERVER_BIN" "$BASELINE_BIN" "$LOADTEST_BIN"; do
	[[ -x $bin ]] || die "$bin is missing (build it, or unset SKIP_BUILD)"
done

# ---------------------------------------------------------------- processes
free_port() {
	local port
	for _ in $(seq 100); do
		port=$((20000 + RANDOM % 40000))
		# Nothing answers a connect: free (the race with other programs is
		# negligible on this range).
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	die "no free port found"
}

# wait_health ADDR PID LOG: until GET /health answers 200, or 60 s.
wait_health() {
	local deadline=$((SECONDS + 60))
	until curl -fsS -o /dev/null --max-time 2 "http://$1/health" 2>/dev/null; do
		kill -0 "$2" 2>/dev/null || { tail -20 "$3" >&2; die "process $2 exited; log above"; }
		((SECONDS < deadline)) || { tail -20 "$3" >&2; die "no /health on $1 within 60 s"; }
		sleep 0.1
	done
}

start_baseline() {
	"${PIN_SERVER[@]}" "$BASELINE_BIN" --bind 127.0.0.1:0 >"$TMP/baseline.log" 2>&1 &
	BASELINE_PID=$!
	PIDS+=("$BASELINE_PID")
	local deadline=$((SECONDS + 30))
	until [[ -s $TMP/baseline.log ]]; do
		kill -0 "$BASELINE_PID" 2>/dev/null || die "baseline exited: $(cat "$TMP/baseline.log")"
		((SECONDS < deadline)) || die "baseline printed no address"
		sleep 0.05
	done
	BASELINE_ADDR=$(head -1 "$TMP/baseline.log")
	wait_health "$BASELINE_ADDR" "$BASELINE_PID" "$TMP/baseline.log"
}

random_hex() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }

# start_server NAME DATABASE_URL: sets ADDR_<NAME>, PID_<NAME>.
start_server() {
	local name=$1 url=$2 port dir
	port=$(free_port)
	dir=$TMP/$name
	mkdir -p "$dir"
	# A clean environment and an empty working directory: no developer's
	# .env or REDIS_URL leaks into the measurement.
	local env=(PATH="$PATH" HOME="$dir" ENVIRONMENT=development
		BIND_ADDR="127.0.0.1:$port" DATABASE_URL="$url"
		RATE_LIMIT_PER_MINUTE=0 AUTH_RATE_LIMIT_PER_MINUTE=0
		SECRET_KEY="$(random_hex)" JWT_SECRET_KEY="$(random_hex)")
	[[ -z $SERVER_RUST_LOG ]] || env+=(RUST_LOG="$SERVER_RUST_LOG")
	# Appending, so trim_logs can empty the file under the running server.
	(cd "$dir" && exec "${PIN_SERVER[@]}" env -i "${env[@]}" "$SERVER_BIN" serve) >>"$dir/server.log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	wait_health "127.0.0.1:$port" "$pid" "$dir/server.log"
	cp "$dir/server.log" "$dir/server.start.log"
	printf -v "ADDR_$name" '%s' "127.0.0.1:$port"
	printf -v "PID_$name" '%s' "$pid"
}

# The access log writes a line per request (part of what is measured); at
# 10k req/s that is gigabytes per run, so each log is emptied between
# scenarios (the start-up lines are kept in server.start.log).
trim_logs() {
	local f
	for f in "$TMP"/*/server.log; do : >"$f"; done
}

# wait_quiet PID: until the process uses under 5% of a core over 0.5 s (the
# login storm leaves hashes running after the client stops), or 30 s.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_quiet() {
	local deadline=$((SECONDS + 30)) before after hz
	hz=$(getconf CLK_TCK)
	while ((SECONDS < deadline)); do
		before=$(cpu_ticks "$1")
		sleep 0.5
		after=$(cpu_ticks "$1")
		(((after - before) * 100 < hz * 5 / 2)) && return
	done
	log "process $1 still busy after 30 s"
}

rss() { awk -v k="$2:" '$1 == k {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# ---------------------------------------------------------------- HTTP setup
# api METHOD ADDR PATH [BODY] [TOKEN]: prints the body; fails on a non-2xx.
api() {
	local args=(-sS --max-time 30 -o "$TMP/body" -w '%{http_code}' -X "$1"
		-H 'Content-Type: application/json')
	[[ -z ${4:-} ]] || args+=(--data "$4")
	[[ -z ${5:-} ]] || args+=(-H "Authorization: Bearer $5")
	local code
	code=$(curl "${args[@]}" "http://$2$3") || die "$1 $3: curl failed"
	[[ $code == 2* ]] || die "$1 $3 answered $code: $(head -c 300 "$TMP/body")"
	cat "$TMP/body"
}

# make_user ADDR NAME: registers and logs in; prints the access token.
make_user() {
	local email="e2e-$2-$RANDOM$RANDOM@example.com" body token
	api POST "$1" /api/v1/auth/register \
		"{\"email\":\"$email\",\"password\":\"$PASSWORD\",\"full_name\":\"E2E bench\"}" >/dev/null
	body=$(api POST "$1" /api/v1/auth/login "{\"email\":\"$email\",\"password\":\"$PASSWORD\"}")
	token=$(sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p' <<<"$body")
	[[ -n $token ]] || die "login answered no access_token: $body"
	printf '%s %s\n' "$email" "$token"
}

# ---------------------------------------------------------------- measuring
# measure ADDR CONNS SECS METHOD PATH BODY [HEADER...]
# prints "req/s p50_ms p99_ms errors" (errors: non-2xx, timeouts, socket errors)
measure() {
	local addr=$1 conns=$2 secs=$3 method=$4 path=$5 body=$6
	shift 6
	local n=$((++MEASURE_SEQ))
	if [[ $LOADGEN == wrk ]]; then
		local script=$TMP/wrk-$n.lua header hargs=()
		{
			printf 'wrk.method = "%s"\n' "$method"
			if [[ $body == lua:* ]]; then
				# The caller's own request function (several bodies).
				printf '%s\n' "${body#lua:}"
			elif [[ -n $body ]]; then
				printf 'wrk.body = [==[%s]==]\n' "$body"
			fi
			# Percentiles in microseconds, exact, from wrk's own histogram;
			# wrk counts every completed response in requests, so non-2xx
			# are errors here.
			cat <<-'LUA'
				done = function(summary, latency, requests)
				  local e = summary.errors
				  io.write(string.format("E2E %d %d %d %d %d\n", summary.requests,
				    summary.duration, latency:percentile(50), latency:percentile(99),
				    e.connect + e.read + e.write + e.status + e.timeout))
				end
			LUA
		} >"$script"
		for header in "$@"; do hargs+=(-H "$header"); done
		"${PIN_LOAD[@]}" wrk -t1 -c"$conns" -d"${secs}s" --timeout 30s --latency \
			-s "$script" "${hargs[@]}" "http://$addr$path" >"$TMP/wrk-$n.out" 2>&1 ||
			die "wrk failed: $(cat "$TMP/wrk-$n.out")"
		awk '$1 == "E2E" {printf "%.1f %.3f %.3f %d\n", $2 / ($3 / 1e6), $4 / 1000, $5 / 1000, $6}' \
			"$TMP/wrk-$n.out"
	else
		local json=$TMP/loadtest-$n.json largs=() header
		for header in "$@"; do largs+=(--header "$header"); done
		# Several bodies need wrk; loadtest sends the first.
		[[ $body != lua:* ]] || body=$(sed -n 's/^ *\[==\[\(.*\)\]==\],$/\1/p' <<<"${body#lua:}" | head -n 1)
		[[ -z $body ]] || largs+=(--body "$body")
		"${PIN_LOAD[@]}" "$LOADTEST_BIN" --target "http://$addr" --quiet --json "$json" \
			--connections "$conns" --duration "$secs" --url "$path" --method "$method" \
			"${largs[@]}" >"$TMP/loadtest-$n.out" 2>&1 ||
			die "loadtest failed: $(cat "$TMP/loadtest-$n.out")"
		loadtest_endpoint "$json" "--url"
	fi
}
MEASURE_SEQ=0

# loadtest_endpoint JSON LABEL: "req/s p50 p99 errors max_ms" of one endpoint.
loadtest_endpoint() {
	awk -v want="$2" '
		/"endpoint":/ { split($0, a, "\""); cur = a[4] }
		cur == want && /"throughput_per_sec":/ { gsub(/[ ,]/, "", $2); r = $2 }
		cur == want && /"p50_ms":/ { gsub(/[ ,]/, "", $2); p50 = $2 }
		cur == want && /"p99_ms":/ { gsub(/[ ,]/, "", $2); p99 = $2 }
		cur == want && /"max_ms":/ { gsub(/[ ,]/, "", $2); mx = $2 }
		cur == want && /^ *"errors":/ { gsub(/[ ,]/, "", $2); e = $2 }
		END { printf "%s %s %s %s %s\n", r, p50, p99, e, mx }
	' FS=':' "$1"
}

# probe ADDR SECS: /health at a fixed PROBE_RATE with the repo's load
# generator (latency from the scheduled send time: queueing is not hidden).
probe() {
	"${PIN_LOAD[@]}" "$LOADTEST_BIN" --target "http://$1" --quiet --json "$TMP/probe.json" \
		--connections 4 --rate "$PROBE_RATE" --duration "$2" --url /health >/dev/null 2>&1 ||
		die "probe failed"
	loadtest_endpoint "$TMP/probe.json" "--url"
}

median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# col FILE N: the N-th column of every line
col() { awk -v n="$2" '{print $n}' "$1"; }
sum() { awk '{s += $1} END {print s + 0}'; }

# ---------------------------------------------------------------- start
load1=$(cut -d' ' -f1 /proc/loadavg)
log "uptime at start: $(uptime)"
START_UPTIME=$(uptime)
START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')

start_baseline
BACKENDS=(sqlite)
start_server sqlite "sqlite://$TMP/sqlite/bench.db?mode=rwc"
if [[ -n ${TEST_DATABASE_URL:-} ]]; then
	command -v psql >/dev/null || die "TEST_DATABASE_URL is set but psql is missing"
	PG_DB="tt_e2e_$(date +%s)_$$"
	psql "$TEST_DATABASE_URL" -v ON_ERROR_STOP=1 -qAtc "CREATE DATABASE $PG_DB" >/dev/null ||
		{ PG_DB=; die "could not create a database through TEST_DATABASE_URL"; }
	pg_base=${TEST_DATABASE_URL%%\?*}
	start_server postgres "${pg_base%/*}/$PG_DB${TEST_DATABASE_URL#"$pg_base"}"
	BACKENDS+=(postgres)
fi
log "baseline on $BASELINE_ADDR; servers: ${BACKENDS[*]}; load generator: $LOADGEN; $PINNING"

# The baseline must answer what the server answers, or the ratio is unfair.
for b in "${BACKENDS[@]}"; do
	addr_var=ADDR_$b
	ours=$(curl -sS -D "$TMP/h1" "http://$BASELINE_ADDR/health")
	theirs=$(curl -sS -D "$TMP/h2" "http://${!addr_var}/health")
	ct1=$(grep -i '^content-type:' "$TMP/h1" | tr -d '\r' | cut -d' ' -f2-)
	ct2=$(grep -i '^content-type:' "$TMP/h2" | tr -d '\r' | cut -d' ' -f2-)
	if [[ $ours != "$theirs" || $ct1 != "$ct2" ]]; then
		HEALTH_WARNING="**Warning**: the baseline answers \`$ours\` ($ct1), the $b server \`$theirs\` ($ct2)."
		log "$HEALTH_WARNING"
	fi
done

# ---------------------------------------------------------------- users, data
declare -A TOKEN EMAIL WRITER PORTFOLIO
for b in "${BACKENDS[@]}"; do
	addr_var=ADDR_$b
	addr=${!addr_var}
	pid_var=PID_$b
	# Assigned first, so a failure inside stops the script (set -e).
	user=$(make_user "$addr" reader)
	read -r "EMAIL[$b]" "TOKEN[$b]" <<<"$user"
	user=$(make_user "$addr" writer)
	read -r _ "WRITER[$b]" <<<"$user"
	if has login_storm; then
		# A storm of many users logging in at once (market open), not one
		# account: one account's attempts are capped by its throttle.
		log "$b: registering $STORM_USERS users for the login storm"
		lua="bodies = {"
		for n in $(seq "$STORM_USERS"); do
			email="e2e-storm-$n-$RANDOM$RANDOM@example.com"
			api POST "$addr" /api/v1/auth/register \
				"{\"email\":\"$email\",\"password\":\"$PASSWORD\",\"full_name\":\"E2E storm\"}" >/dev/null
			lua+=$'\n'"  [==[{\"email\":\"$email\",\"password\":\"$PASSWORD\"}]==],"
		done
		lua+=$'\n'"}"$'\n'"local i = 0"$'\n'"request = function() i = i % #bodies + 1; return wrk.format(nil, nil, nil, bodies[i]) end"
		printf -v "STORM_LUA_$b" '%s' "$lua"
	fi
	if has trades_get; then
		log "$b: creating 50 trades"
		for _ in $(seq 50); do
			api POST "$addr" /api/v1/trades "$TRADE_BODY" "${TOKEN[$b]}" >/dev/null
		done
		count=$(api GET "$addr" /api/v1/trades "" "${TOKEN[$b]}" | grep -o '"symbol"' | wc -l)
		((count == 50)) || die "$b: GET /api/v1/trades lists $count trades, not 50"
	fi
	if has write_baseline; then
		body=$(api POST "$addr" /api/v1/portfolios '{"name":"E2E writes"}' "${WRITER[$b]}")
		PORTFOLIO[$b]=$(sed -n 's/.*"id" *: *"\([^"]*\)".*/\1/p' <<<"$body")
		[[ -n ${PORTFOLIO[$b]} ]] || die "$b: portfolio without id: $body"
	fi
	printf -v "RSS_IDLE_$b" '%s' "$(rss "${!pid_var}" VmRSS)"
done

# ---------------------------------------------------------------- throughput
# A job: "key|label|addr|method|path|body|header|header"
JOBS=()
if has health || has me_bearer || has me_cookie || has trades_get || has trades_post; then
	JOBS+=("baseline|GET /health|$BASELINE_ADDR|GET|/health||")
fi
for b in "${BACKENDS[@]}"; do
	addr_var=ADDR_$b
	addr=${!addr_var}
	! has health || JOBS+=("$b-health|GET /health|$addr|GET|/health||")
	! has me_bearer || JOBS+=("$b-me_bearer|GET /api/v1/users/me, bearer|$addr|GET|/api/v1/users/me||Authorization: Bearer ${TOKEN[$b]}")
	! has me_cookie || JOBS+=("$b-me_cookie|GET /api/v1/users/me, cookie|$addr|GET|/api/v1/users/me||Cookie: auth-token=${TOKEN[$b]}")
	! has trades_get || JOBS+=("$b-trades_get|GET /api/v1/trades, 50 items|$addr|GET|/api/v1/trades||Authorization: Bearer ${TOKEN[$b]}")
	! has trades_post || JOBS+=("$b-trades_post|POST /api/v1/trades|$addr|POST|/api/v1/trades|$TRADE_BODY|Authorization: Bearer ${WRITER[$b]}|Content-Type: application/json")
	! has write_baseline || JOBS+=("$b-trades_post_filed|POST /api/v1/trades, into a portfolio|$addr|POST|/api/v1/trades|${TRADE_BODY%\}},\"portfolio_id\":\"${PORTFOLIO[$b]}\"}|Authorization: Bearer ${WRITER[$b]}|Content-Type: application/json")
done

run_job() { # run_job JOB SECS
	local key label addr method path body headers=()
	IFS='|' read -r key label addr method path body rest <<<"$1"
	[[ -z $rest ]] || IFS='|' read -r -a headers <<<"$rest"
	measure "$addr" "$CONNECTIONS" "$2" "$method" "$path" "$body" "${headers[@]}"
}

mkdir -p "$TMP/res"
if ((${#JOBS[@]})); then
	log "warm-up: ${WARMUP} s per scenario"
	for job in "${JOBS[@]}"; do
		run_job "$job" "$WARMUP" >/dev/null
		trim_logs
	done
	for round in $(seq "$RUNS"); do
		log "round $round/$RUNS: ${#JOBS[@]} scenarios x ${DURATION} s"
		for job in "${JOBS[@]}"; do
			run_job "$job" "$DURATION" >>"$TMP/res/${job%%|*}"
			trim_logs
		done
		if has write_baseline; then
			for b in "${BACKENDS[@]}"; do
				"${PIN_SERVER[@]}" "$WRITE_BASELINE_BIN" --backend "$b" --connections "$CONNECTIONS" \
					--duration "$DURATION" 2>>"$TMP/write_baseline.log" |
					awk '$1 == "WRITE" {print $3, $4, $5, $7, $6}' >>"$TMP/res/$b-write_baseline" ||
					die "write_baseline failed: $(tail -5 "$TMP/write_baseline.log")"
			done
		fi
	done
fi

# A load generator stopping at its deadline drops requests in flight, so the
# server sees client disconnects mid-transaction: a pooled connection must
# not be left inside a transaction by that (sqlx 0.9.0's Postgres begin() is
# not cancel-safe: transact-rs/sqlx#4393). Checked, not assumed.
pg_leaks() {
	psql "$TEST_DATABASE_URL" -qAtc "SELECT count(*) FROM pg_stat_activity
		WHERE datname = '$PG_DB' AND state LIKE 'idle in transaction%'
		AND now() - state_change > interval '1 second'"
}
if [[ -n $PG_DB ]]; then
	sleep 1.5 # the condition is "idle in transaction for over a second"
	PG_LEAKS=$(pg_leaks)
	((PG_LEAKS == 0)) || log "postgres: $PG_LEAKS server connection(s) left idle in transaction"
fi

# ---------------------------------------------------------------- mixed load
if has mixed; then
	for b in "${BACKENDS[@]}"; do
		addr_var=ADDR_$b
		pid_var=PID_$b
		log "$b: mixed load (loadtest's default mix, ${MIX_CONNECTIONS} connections, ${MIX_DURATION} s)"
		# One retry, reported: loadtest registers and logs in its own users
		# first, and a server that lost a registration fails that (see above).
		for attempt in 1 2; do
			if "${PIN_LOAD[@]}" "$LOADTEST_BIN" --target "http://${!addr_var}" --quiet \
				--json "$TMP/res/$b-mix.json" --connections "$MIX_CONNECTIONS" \
				--duration "$MIX_DURATION" >"$TMP/res/$b-mix.out" 2>&1; then
				break
			fi
			reason=$(grep -m1 '^Error' "$TMP/res/$b-mix.out" || head -1 "$TMP/res/$b-mix.out")
			log "$b: mixed load attempt $attempt failed: $reason"
			printf -v "MIX_FAILED_$b" '%s' "${reason//|/\\|}"
			((attempt == 1)) || die "mixed load failed twice on $b: $(cat "$TMP/res/$b-mix.out")"
		done
		wait_quiet "${!pid_var}"
		trim_logs
		printf -v "RSS_$b" '%s' "$(rss "${!pid_var}" VmRSS)"
		printf -v "HWM_$b" '%s' "$(rss "${!pid_var}" VmHWM)"
	done
fi

# ---------------------------------------------------------------- login storm
if has login_storm; then
	# The storm's limit, in this run: the server's own hasher (2 permits, its
	# default) checking passwords as fast as it can on the server's core.
	log "argon2id limit: examples/hash_rate on the server's core"
	HASH_LIMIT=$("${PIN_SERVER[@]}" "$HASH_RATE_BIN" --permits 2 --duration 3) ||
		die "hash_rate failed"
	for b in "${BACKENDS[@]}"; do
		addr_var=ADDR_$b
		pid_var=PID_$b
		addr=${!addr_var}
		for round in $(seq "$RUNS"); do
			log "$b: login storm $round/$RUNS (${STORM_CONNECTIONS} concurrent, ${STORM_DURATION} s)"
			wait_quiet "${!pid_var}"
			probe "$addr" "$STORM_DURATION" >>"$TMP/res/$b-probe_idle"
			lua_var=STORM_LUA_$b
			measure "$addr" "$STORM_CONNECTIONS" "$STORM_DURATION" POST /api/v1/auth/login \
				"lua:${!lua_var}" \
				'Content-Type: application/json' >"$TMP/storm.out" &
			storm_pid=$!
			PIDS+=("$storm_pid")
			probe "$addr" "$STORM_DURATION" >>"$TMP/res/$b-probe_storm"
			wait "$storm_pid" || die "login storm failed"
			unset 'PIDS[-1]' # finished: its pid may be reused, never signal it
			cat "$TMP/storm.out" >>"$TMP/res/$b-storm"
			trim_logs
		done
		wait_quiet "${!pid_var}"
		printf -v "RSS_STORM_$b" '%s' "$(rss "${!pid_var}" VmRSS)"
	done
fi

# ---------------------------------------------------------------- report
END_UPTIME=$(uptime)
cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
case $LOADGEN in
wrk) tool="wrk ($({ wrk --version 2>&1 || true; } | awk 'NR == 1 {print $2}')), \`-t1 -c$CONNECTIONS -d${DURATION}s --latency\`" ;;
*) tool="examples/loadtest \`--url\` mode, $CONNECTIONS connections, ${DURATION} s$LOADGEN_NOTE" ;;
esac

echo "## e2e run, $START_DATE"
echo
echo "- command: \`benches/e2e.sh\`$( [[ -z ${TEST_DATABASE_URL:-} ]] || echo ' with TEST_DATABASE_URL'); SCENARIOS=$SCENARIOS"
echo "- server: \`$SERVER_BIN\`; harness, baseline (examples/baseline_hyper) and loadtest from checkout $rev"
echo "- machine: $CPUS cores (\`nproc\`), $cpu, kernel $(uname -r)"
echo "- pinning: $PINNING"
echo "- load generator: $tool; medians of $RUNS runs after a ${WARMUP} s warm-up"
echo "- uptime at start: \`${START_UPTIME# }\`"
echo "- uptime at end: \`${END_UPTIME# }\`"
if awk -v l="$load1" 'BEGIN {exit !(l > 1)}'; then
	echo "- **the machine was shared**: load average $load1 > 1 at the start (other work on the cores, or a build this script just did); read the ratios, not the absolute figures"
fi
[[ -z ${HEALTH_WARNING:-} ]] || echo "- $HEALTH_WARNING"
if [[ -n ${PG_LEAKS:-} ]] && ((PG_LEAKS > 0)); then
	echo "- **postgres: $PG_LEAKS pooled server connection(s) left \`idle in transaction\` after the throughput scenarios** (client disconnects cancelled requests mid-\`BEGIN\`; sqlx 0.9.0, transact-rs/sqlx#4393): statements of later requests on them run inside that transaction and are not committed"
elif [[ -n ${PG_LEAKS:-} ]]; then
	echo "- postgres: no server connection left idle in transaction after the throughput scenarios"
fi
for b in "${BACKENDS[@]}"; do
	failed_var=MIX_FAILED_$b
	[[ -z ${!failed_var:-} ]] || echo "- **$b: the mixed load's first attempt failed** (\`${!failed_var}\`); the figures below are from the second"
done
echo

if ((${#JOBS[@]})); then
	base_rps=$(col "$TMP/res/baseline" 1 | median)
	echo "| server | request | req/s | p50 ms | p99 ms | errors | ratio to baseline |"
	echo "|---|---|---|---|---|---|---|"
	for job in "${JOBS[@]}"; do
		IFS='|' read -r key label _ <<<"$job"
		f=$TMP/res/$key
		server=${key%%-*}
		[[ $server != baseline ]] || server="bare hyper"
		printf '| %s | `%s` | %.0f | %.2f | %.2f | %s | %.2fx |\n' "$server" "$label" \
			"$(col "$f" 1 | median)" "$(col "$f" 2 | median)" "$(col "$f" 3 | median)" \
			"$(col "$f" 4 | sum)" "$(awk -v a="$(col "$f" 1 | median)" -v b="$base_rps" 'BEGIN {print a / b}')"
	done
	echo
fi

if has write_baseline; then
	echo "Writes against the database's own limit: \`POST /api/v1/trades\` into a portfolio ($LOADGEN, $CONNECTIONS connections) and benches/write_baseline.rs, the same transaction straight through sqlx on a fresh database with $CONNECTIONS tasks for ${DURATION} s pinned like the servers, round-robin in the same rounds; medians of $RUNS."
	echo
	echo "| server | HTTP req/s | HTTP p50 / p99 ms | direct sqlx req/s | direct p50 / p99 / max ms | HTTP / direct |"
	echo "|---|---|---|---|---|---|"
	for b in "${BACKENDS[@]}"; do
		h=$TMP/res/$b-trades_post_filed d=$TMP/res/$b-write_baseline
		printf '| %s | %.0f | %.2f / %.2f | %.0f | %.2f / %.2f / %.1f | %.2fx |\n' "$b" \
			"$(col "$h" 1 | median)" "$(col "$h" 2 | median)" "$(col "$h" 3 | median)" \
			"$(col "$d" 1 | median)" "$(col "$d" 2 | median)" "$(col "$d" 3 | median)" "$(col "$d" 5 | median)" \
			"$(awk -v a="$(col "$h" 1 | median)" -v b="$(col "$d" 1 | median)" 'BEGIN {print a / b}')"
	done
	echo
fi
if has mixed; then
	echo "Mixed load: \`loadtest --connections $MIX_CONNECTIONS --duration $MIX_DURATION\` with its default mix (health 1, trades_get 4, portfolios_get 2, trades_post 2, me 1), one run, after the scenarios above and before the login storm; memory of the server process (idle: after start-up and the setup requests)."
	echo
	echo "| server | mix req/s | errors | \`POST /api/v1/trades\` p50 / p99 / max ms | VmRSS idle (MiB) | VmRSS after (MiB) | VmHWM (MiB) |"
	echo "|---|---|---|---|---|---|---|"
	for b in "${BACKENDS[@]}"; do
		j=$TMP/res/$b-mix.json
		total=$(awk -F: '/"total_requests"/ {gsub(/[ ,]/, "", $2); n = $2} /"elapsed_secs"/ {gsub(/[ ,]/, "", $2); t = $2} /"total_errors"/ {gsub(/[ ,]/, "", $2); e = $2} END {printf "%.0f %s", n / t, e}' "$j")
		read -r _ p50 p99 _ mx < <(loadtest_endpoint "$j" "POST /api/v1/trades")
		idle_var=RSS_IDLE_$b rss_var=RSS_$b hwm_var=HWM_$b
		printf '| %s | %s | %s | %.2f / %.1f / %.0f | %s | %s | %s |\n' "$b" "${total% *}" "${total#* }" \
			"$p50" "$p99" "$mx" "${!idle_var}" "${!rss_var}" "${!hwm_var}"
	done
	printf '| bare hyper | | | | | %s | %s |\n' "$(rss "$BASELINE_PID" VmRSS)" "$(rss "$BASELINE_PID" VmHWM)"
	echo
fi
if has login_storm; then
	echo "Login storm: $STORM_CONNECTIONS concurrent \`POST /api/v1/auth/login\` ($STORM_USERS users in turn) for ${STORM_DURATION} s, while examples/loadtest sends \`GET /health\` at $PROBE_RATE req/s (latency from the scheduled send time); idle: the same probe just before. Logins/s counts the 200s; the account throttle answers attempts beyond the ones it can let fail with a quick 429 (refused). The argon2id limit is \`examples/hash_rate --permits 2\` (the server's hasher alone) on the server's core in this run: $HASH_LIMIT checks/s."
	echo
	echo "| server | logins/s | ratio to the argon2id limit | login p50 ms | login p99 ms | refused (429) | \`/health\` p50 / p99 ms idle | \`/health\` p50 / p99 ms during the storm | VmRSS after (MiB) |"
	echo "|---|---|---|---|---|---|---|---|---|"
	for b in "${BACKENDS[@]}"; do
		s=$TMP/res/$b-storm i=$TMP/res/$b-probe_idle d=$TMP/res/$b-probe_storm rss_var=RSS_STORM_$b
		ok=$(awk -v t="$STORM_DURATION" '{print $1 - $4 / t}' "$s" | median)
		printf '| %s | %.1f | %.2fx | %.0f | %.0f | %s | %.2f / %.2f | %.2f / %.2f | %s |\n' "$b" \
			"$ok" "$(awk -v a="$ok" -v b="$HASH_LIMIT" 'BEGIN {print a / b}')" \
			"$(col "$s" 2 | median)" "$(col "$s" 3 | median)" "$(col "$s" 4 | sum)" \
			"$(col "$i" 2 | median)" "$(col "$i" 3 | median)" "$(col "$d" 2 | median)" "$(col "$d" 3 | median)" \
			"${!rss_var}"
	done
	echo
fi

log "done"
