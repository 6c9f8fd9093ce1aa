# shellcheck shell=bash
# Contract checks of openapi/openapi.json with tools other people wrote (issue #16):
#
#   contract_lint              Redocly CLI (recommended) and Spectral (spectral:oas): 0 errors, 0 warnings
#   contract_stack_start       a live recoup-api + recoup-worker on a scratch database, torn down on exit
#   contract_typescript URL    openapi-typescript types (committed, drift fails), tsc --strict, the demo program
#   contract_schemathesis URL  schemathesis as admin, accountant and collector, every check
#   contract_docs URL          Swagger UI at /docs/ in headless Chromium: every operation, no console
#                              error, no request off the host, a screenshot
#
# Sourced, not executed (scripts/test sources it after scripts/lib/services.sh); safe under
# `set -euo pipefail`. Every tool is pinned and installed here on first use, into gitignored
# folders (node_modules/, var/contract/venv), and not again while its lockfile is unchanged.
#
# Settings (environment):
#   RECOUP_BIN_DIR                  where recoup-api and recoup-worker are ($CARGO_TARGET_DIR/debug)
#   RECOUP_ARTIFACTS_DIR            findings, logs, reports, the screenshot (var/artifacts)
#   RECOUP_SCHEMATHESIS_MAX_EXAMPLES  test cases per operation and phase (20)
#   RECOUP_SCHEMATHESIS_WORKERS     concurrent schemathesis workers (1: with more, Hypothesis
#                                   trips over a thread-unsafe ast.parse in CPython 3.11.7,
#                                   "SystemError: AST constructor recursion depth mismatch")
#   RECOUP_SCHEMATHESIS_SEED        a seed to replay a run (default: a new one, printed)
#   RECOUP_SCHEMATHESIS_ROLES       roles to run as ("admin accountant collector")
#   RECOUP_CONTRACT_SPEC            the spec the live checks test against (openapi/openapi.json;
#                                   another one, e.g. a server's /openapi.json, for debugging)

if ! declare -F ensure_services >/dev/null; then
    # shellcheck source=scripts/lib/services.sh
    source "$(dirname "${BASH_SOURCE[0]}")/services.sh"
fi

RECOUP_CONTRACT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RECOUP_CONTRACT_SPEC="${RECOUP_CONTRACT_SPEC:-$RECOUP_CONTRACT_ROOT/openapi/openapi.json}"
RECOUP_CONTRACT_TOOLS="$RECOUP_CONTRACT_ROOT/scripts/contract"
RECOUP_CONTRACT_CLIENT="$RECOUP_CONTRACT_ROOT/clients/typescript"
RECOUP_CONTRACT_VENV="$RECOUP_CONTRACT_ROOT/var/contract/venv"

# Redocly CLI: no usage telemetry, no update notice (nothing leaves the machine).
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true DO_NOT_TRACK=1

_contract_artifacts() {
    local dir="${RECOUP_ARTIFACTS_DIR:-$RECOUP_CONTRACT_ROOT/var/artifacts}"
    mkdir -p "$dir"
    (cd "$dir" && pwd)
}

_contract_sha() {
    sha256sum "$@" | sha256sum | cut -d' ' -f1
}

# Node.js 20.19 or newer (Redocly CLI 2 needs it) with npm; Debian's own nodejs is older,
# so a missing one is installed from apt and then checked like any other.
_contract_ensure_node() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        _recoup_apt_install nodejs npm
    fi
    # shellcheck disable=SC2016 # JavaScript, not shell
    node -e '
        const [major, minor] = process.versions.node.split(".").map(Number);
        if (major < 20 || (major === 20 && minor < 19)) {
            console.error(`error: Node.js ${process.versions.node} is too old; the contract tools need 20.19 or newer`);
            process.exit(1);
        }'
}

# npm ci in DIR when its node_modules was not installed from the current package-lock.json.
# --ignore-scripts: none of the pinned packages needs an install script (and one that
# reports usage would otherwise run).
_contract_npm_ci() {
    local dir=$1 stamp want
    stamp="$dir/node_modules/.recoup-lock-sha256"
    want=$(_contract_sha "$dir/package.json" "$dir/package-lock.json")
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    _contract_ensure_node
    echo "==> npm ci in ${dir#"$RECOUP_CONTRACT_ROOT"/}"
    (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
    echo "$want" >"$stamp"
}

_contract_node_tools() {
    _contract_npm_ci "$RECOUP_CONTRACT_TOOLS/node"
}

# The schemathesis venv, from hash-pinned scripts/contract/requirements.txt.
_contract_venv() {
    local stamp="$RECOUP_CONTRACT_VENV/.recoup-requirements-sha256" want
    want=$(_contract_sha "$RECOUP_CONTRACT_TOOLS/requirements.txt")
    if [ -x "$RECOUP_CONTRACT_VENV/bin/schemathesis" ] && [ -f "$stamp" ] &&
        [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    command -v python3 >/dev/null 2>&1 || _recoup_apt_install python3 python3-venv
    echo "==> Installing schemathesis into ${RECOUP_CONTRACT_VENV#"$RECOUP_CONTRACT_ROOT"/}"
    rm -rf "$RECOUP_CONTRACT_VENV"
    if ! python3 -m venv "$RECOUP_CONTRACT_VENV" 2>/dev/null; then
        rm -rf "$RECOUP_CONTRACT_VENV"
        _recoup_apt_install python3-venv
        python3 -m venv "$RECOUP_CONTRACT_VENV"
    fi
    "$RECOUP_CONTRACT_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --require-hashes --no-deps -r "$RECOUP_CONTRACT_TOOLS/requirements.txt"
    echo "$want" >"$stamp"
}

# ---------------------------------------------------------------------------------------
# Lint

# Redocly CLI 2.x boxes a notice that Node.js 20 support is ending into every run.
_contract_drop_node_notice() {
    sed -e '/║/d' -e '/╔/d' -e '/╚/d'
}

# Both linters over the committed spec; fails when either reports an error or a warning.
# The findings of both go to $RECOUP_ARTIFACTS_DIR/lint-findings.txt.
contract_lint() {
    _contract_node_tools
    local bin="$RECOUP_CONTRACT_TOOLS/node/node_modules/.bin" out findings json status=0
    out=$(_contract_artifacts)
    findings="$out/lint-findings.txt"
    json="$out/redocly-lint.json"
    : >"$findings"

    echo "==> redocly lint (recommended; warnings fail)"
    {
        echo "### redocly lint --config redocly.yaml openapi/openapi.json ($("$bin/redocly" --version 2>/dev/null))"
    } >>"$findings"
    # The stylish report for people, then the JSON one for the counts: Redocly exits 0 on
    # warnings, and a warning fails here too.
    (cd "$RECOUP_CONTRACT_ROOT" &&
        "$bin/redocly" lint --config redocly.yaml --format stylish --max-problems 10000 \
            openapi/openapi.json) 2>&1 | _contract_drop_node_notice | tee -a "$findings" || true
    (cd "$RECOUP_CONTRACT_ROOT" &&
        "$bin/redocly" lint --config redocly.yaml --format json --max-problems 10000 \
            openapi/openapi.json) >"$json" 2>/dev/null || true
    # shellcheck disable=SC2016 # JavaScript, not shell
    if ! node -e '
        const fs = require("node:fs");
        const text = fs.readFileSync(process.argv[1], "utf8");
        const report = JSON.parse(text.slice(text.indexOf("{")));
        const { errors = 0, warnings = 0, ignored = 0 } = report.totals ?? {};
        console.log(`    redocly: ${errors} errors, ${warnings} warnings (${ignored} ignored by .redocly.lint-ignore.yaml)`);
        process.exit(errors + warnings === 0 && report.totals ? 0 : 1);
    ' "$json"; then
        status=1
    fi

    echo "==> spectral lint (spectral:oas; warnings fail)"
    echo "### spectral lint --ruleset .spectral.yaml --fail-severity warn openapi/openapi.json ($("$bin/spectral" --version 2>/dev/null))" >>"$findings"
    if ! (cd "$RECOUP_CONTRACT_ROOT" &&
        "$bin/spectral" lint --ruleset .spectral.yaml --fail-severity warn --format stylish \
            openapi/openapi.json) 2>&1 | tee -a "$findings"; then
        status=1
    fi

    if [ "$status" -ne 0 ]; then
        echo "error: the OpenAPI linters found problems in openapi/openapi.json (all of them: $findings)" >&2
        return 1
    fi
}

# ---------------------------------------------------------------------------------------
# A live stack on a scratch database

_contract_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_contract_alive() {
    local pid=$1 stat
    stat=$(ps -p "$pid" -o stat= 2>/dev/null) || return 1
    [[ "$stat" != *Z* ]]
}

_contract_stop_pid() {
    local pid=$1 name=$2 i
    [ -n "$pid" ] || return 0
    _contract_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        _contract_alive "$pid" || return 0
        sleep 0.1
    done
    echo "    $name (pid $pid) did not stop within 10s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
}

RECOUP_CONTRACT_STACK_DB=""
RECOUP_CONTRACT_STACK_PREFIX=""
RECOUP_CONTRACT_STACK_PIDS=()
RECOUP_CONTRACT_PREVIOUS_EXIT_TRAP=""

# Stops the processes, drops the database and deletes the Redis keys of the stack.
contract_stack_stop() {
    local pid
    for pid in ${RECOUP_CONTRACT_STACK_PIDS[@]+"${RECOUP_CONTRACT_STACK_PIDS[@]}"}; do
        _contract_stop_pid "$pid" "pid $pid"
    done
    RECOUP_CONTRACT_STACK_PIDS=()
    if [ -n "$RECOUP_CONTRACT_STACK_DB" ]; then
        psql -X -q "postgres://postgres:postgres@$RECOUP_PG_HOST:$RECOUP_PG_PORT/postgres" \
            -c "DROP DATABASE IF EXISTS \"$RECOUP_CONTRACT_STACK_DB\" WITH (FORCE)" >/dev/null 2>&1 ||
            echo "    could not drop database $RECOUP_CONTRACT_STACK_DB" >&2
        RECOUP_CONTRACT_STACK_DB=""
    fi
    if [ -n "$RECOUP_CONTRACT_STACK_PREFIX" ]; then
        # In Redis itself (Lua), as tests/src/lib.rs does: the stack's keys, and its queues in
        # apalis-redis's queue list, which lives outside any namespace. Keys may hold any
        # bytes a fuzzer sent (login-failure counters per e-mail), so none crosses the shell.
        redis-cli -h "$RECOUP_REDIS_HOST" -p "$RECOUP_REDIS_PORT" EVAL "
            local prefix = ARGV[1] .. ':'
            for _, key in ipairs(redis.call('KEYS', prefix .. '*')) do redis.call('DEL', key) end
            for _, queue in ipairs(redis.call('ZRANGE', 'core:apalis:queues:list', 0, -1)) do
                if string.sub(queue, 1, #prefix) == prefix then
                    redis.call('ZREM', 'core:apalis:queues:list', queue)
                end
            end
            return 0" 0 "$RECOUP_CONTRACT_STACK_PREFIX" >/dev/null 2>&1 ||
            echo "    could not delete the Redis keys of $RECOUP_CONTRACT_STACK_PREFIX" >&2
        RECOUP_CONTRACT_STACK_PREFIX=""
    fi
}

_contract_on_exit() {
    local status=$?
    set +e
    contract_stack_stop
    # Then whatever EXIT trap the caller had (scripts/test's report), with the exit status
    # it would have seen.
    if [ -n "$RECOUP_CONTRACT_PREVIOUS_EXIT_TRAP" ]; then
        (exit "$status")
        eval "$RECOUP_CONTRACT_PREVIOUS_EXIT_TRAP"
    fi
    return "$status"
}

# Starts recoup-api (and recoup-worker) from $RECOUP_BIN_DIR on a fresh database and Redis
# prefix, migrated and seeded with the demo data, on a free port; sets RECOUP_CONTRACT_URL.
# Everything is removed again when the shell exits (the caller's EXIT trap still runs).
contract_stack_start() {
    local bin="${RECOUP_BIN_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/recoup/target}/debug}"
    local name
    for name in recoup-api recoup-worker; do
        [ -x "$bin/$name" ] || _recoup_die "$bin/$name not found: build it first (cargo build --bins) or set RECOUP_BIN_DIR"
    done
    ensure_command curl
    ensure_command python3
    local out logs
    out=$(_contract_artifacts)
    logs="$out/stack"
    mkdir -p "$logs"

    if [ -z "$RECOUP_CONTRACT_PREVIOUS_EXIT_TRAP" ]; then
        RECOUP_CONTRACT_PREVIOUS_EXIT_TRAP=$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT\$/\\1/")
        trap _contract_on_exit EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
    fi

    local id="contract_$$_$RANDOM"
    RECOUP_CONTRACT_STACK_DB="recoup_$id"
    RECOUP_CONTRACT_STACK_PREFIX="recoup-$id"
    local port
    port=$(_contract_free_port)
    local -a env=(
        NO_COLOR=1
        RECOUP_ENV=development
        RECOUP_DATABASE_URL="postgres://postgres:postgres@$RECOUP_PG_HOST:$RECOUP_PG_PORT/$RECOUP_CONTRACT_STACK_DB"
        RECOUP_REDIS_URL="redis://$RECOUP_REDIS_HOST:$RECOUP_REDIS_PORT"
        RECOUP_REDIS_PREFIX="$RECOUP_CONTRACT_STACK_PREFIX"
        RECOUP_BIND="127.0.0.1:$port"
        # One token per role lasts the whole run.
        RECOUP_ACCESS_TOKEN_TTL_SECS=3600
        RECOUP_HTTP_WORKERS=2
        RECOUP_DB_POOL_SIZE=8
    )

    echo "==> Contract stack: database $RECOUP_CONTRACT_STACK_DB, Redis prefix $RECOUP_CONTRACT_STACK_PREFIX, binaries from $bin"
    psql -X -q "postgres://postgres:postgres@$RECOUP_PG_HOST:$RECOUP_PG_PORT/postgres" -v ON_ERROR_STOP=1 \
        -c "CREATE DATABASE \"$RECOUP_CONTRACT_STACK_DB\"" >/dev/null
    (cd "$RECOUP_CONTRACT_ROOT" && env "${env[@]}" "$bin/recoup-api" migrate) >"$logs/migrate.log" 2>&1 ||
        { tail -n 30 "$logs/migrate.log" >&2; _recoup_die "recoup-api migrate failed (log: $logs/migrate.log)"; }
    # seed-demo reads data/ibm-accounts-receivable.csv relative to the repo root.
    (cd "$RECOUP_CONTRACT_ROOT" && env "${env[@]}" "$bin/recoup-api" seed-demo) >"$logs/seed-demo.log" 2>&1 ||
        { tail -n 30 "$logs/seed-demo.log" >&2; _recoup_die "recoup-api seed-demo failed (log: $logs/seed-demo.log)"; }

    (cd "$RECOUP_CONTRACT_ROOT" && exec env "${env[@]}" "$bin/recoup-api" serve) \
        >"$logs/recoup-api.log" 2>&1 </dev/null &
    local api=$!
    RECOUP_CONTRACT_STACK_PIDS+=("$api")
    (cd "$RECOUP_CONTRACT_ROOT" && exec env "${env[@]}" "$bin/recoup-worker") \
        >"$logs/recoup-worker.log" 2>&1 </dev/null &
    RECOUP_CONTRACT_STACK_PIDS+=("$!")

    RECOUP_CONTRACT_URL="http://127.0.0.1:$port"
    local i
    for ((i = 0; i < 60; i++)); do
        if ! _contract_alive "$api"; then
            tail -n 30 "$logs/recoup-api.log" >&2
            _recoup_die "recoup-api exited (log: $logs/recoup-api.log)"
        fi
        if curl -fs -o /dev/null -m 2 "$RECOUP_CONTRACT_URL/readyz"; then
            echo "==> Contract stack ready at $RECOUP_CONTRACT_URL (logs: $logs/)"
            export RECOUP_CONTRACT_URL
            return 0
        fi
        sleep 1
    done
    _recoup_die "recoup-api was not ready within 60s (log: $logs/recoup-api.log)"
}

# ---------------------------------------------------------------------------------------
# The generated TypeScript client

contract_typescript() {
    local url=${1:-${RECOUP_API_URL:-}}
    [ -n "$url" ] || _recoup_die "contract_typescript needs the server's base URL (argument or RECOUP_API_URL)"
    _contract_npm_ci "$RECOUP_CONTRACT_CLIENT"
    local bin="$RECOUP_CONTRACT_CLIENT/node_modules/.bin" generated
    generated=$(mktemp --suffix=.d.ts)

    echo "==> openapi-typescript: clients/typescript/src/schema.d.ts is current"
    if ! (cd "$RECOUP_CONTRACT_CLIENT" &&
        "$bin/openapi-typescript" "$RECOUP_CONTRACT_SPEC" --output "$generated" >/dev/null); then
        rm -f "$generated"
        echo "error: openapi-typescript cannot generate types from openapi/openapi.json (see above)" >&2
        return 1
    fi
    if ! diff -u --label committed/src/schema.d.ts --label generated/src/schema.d.ts \
        "$RECOUP_CONTRACT_CLIENT/src/schema.d.ts" "$generated" >"$generated.diff"; then
        head -n 60 "$generated.diff" >&2
        rm -f "$generated" "$generated.diff"
        echo "error: clients/typescript/src/schema.d.ts is stale: regenerate with (cd clients/typescript && npm run generate)" >&2
        return 1
    fi
    rm -f "$generated" "$generated.diff"

    echo "==> tsc --noEmit --strict (clients/typescript)"
    (cd "$RECOUP_CONTRACT_CLIENT" && "$bin/tsc" --noEmit --strict -p tsconfig.json)

    echo "==> TypeScript client demo against $url"
    (cd "$RECOUP_CONTRACT_CLIENT" && rm -rf dist && "$bin/tsc" -p tsconfig.json &&
        RECOUP_API_URL="$url" node dist/demo.js)
}

# ---------------------------------------------------------------------------------------
# schemathesis

# The access token of a demo user (password demo-<role>-pass).
_contract_token() {
    local url=$1 email=$2 password=$3 body
    body=$(curl -fsS -m 10 "$url/v1/auth/login" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"$password\"}") ||
        _recoup_die "cannot log in as $email at $url"
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])' <<<"$body"
}

contract_schemathesis() {
    local url=${1:-${RECOUP_API_URL:-}}
    [ -n "$url" ] || _recoup_die "contract_schemathesis needs the server's base URL (argument or RECOUP_API_URL)"
    _contract_venv
    local out roles role token status=0 failed=()
    out=$(_contract_artifacts)
    roles=${RECOUP_SCHEMATHESIS_ROLES:-admin accountant collector}
    local max_examples=${RECOUP_SCHEMATHESIS_MAX_EXAMPLES:-20}
    local workers=${RECOUP_SCHEMATHESIS_WORKERS:-1}
    local -a seed=()
    if [ -n "${RECOUP_SCHEMATHESIS_SEED:-}" ]; then
        seed=(--seed "$RECOUP_SCHEMATHESIS_SEED")
    fi

    # Log every role in first: the runs fuzz /v1/auth/login, and the failed logins they
    # make count against the address's login throttle.
    declare -A tokens=()
    for role in $roles; do
        tokens[$role]=$(_contract_token "$url" "$role@recoup.example" "demo-${role//_/-}-pass")
    done

    for role in $roles; do
        token=${tokens[$role]}
        echo "==> schemathesis as $role (--checks all, --max-examples $max_examples${seed[*]:+, ${seed[*]}})"
        rm -rf "$out/schemathesis-$role"
        if ! (cd "$RECOUP_CONTRACT_ROOT" &&
            "$RECOUP_CONTRACT_VENV/bin/schemathesis" --config-file scripts/contract/schemathesis.toml \
                run "$RECOUP_CONTRACT_SPEC" \
                --url "$url" \
                --header "Authorization: Bearer $token" \
                --checks all \
                --max-examples "$max_examples" \
                --workers "$workers" \
                ${seed[@]+"${seed[@]}"} \
                --report junit,ndjson \
                --report-dir "$out/schemathesis-$role" \
                --no-color) 2>&1 | tee "$out/schemathesis-$role.txt"; then
            status=1
            failed+=("$role")
        fi
        # The failures by check and operation, for people (the reports have the detail).
        python3 "$RECOUP_CONTRACT_TOOLS/schemathesis-summary.py" "$out/schemathesis-$role"/ndjson-*.ndjson \
            >"$out/schemathesis-$role-summary.txt" 2>&1 || true
    done
    if [ "$status" -ne 0 ]; then
        echo "error: schemathesis failed as ${failed[*]} (output: $out/schemathesis-<role>.txt, by check and operation: $out/schemathesis-<role>-summary.txt, reports: $out/schemathesis-<role>/)" >&2
        return 1
    fi
}

# ---------------------------------------------------------------------------------------
# Swagger UI in a headless browser

contract_docs() {
    local url=${1:-${RECOUP_API_URL:-}}
    [ -n "$url" ] || _recoup_die "contract_docs needs the server's base URL (argument or RECOUP_API_URL)"
    _contract_node_tools
    if ! /usr/bin/chromium --version >/dev/null 2>&1; then
        _recoup_apt_install chromium
    fi
    local out
    out=$(_contract_artifacts)
    echo "==> Swagger UI at $url/docs/ in headless Chromium"
    RECOUP_API_URL="$url" RECOUP_SPEC="$RECOUP_CONTRACT_SPEC" RECOUP_ARTIFACTS_DIR="$out" \
        CHROMIUM="${CHROMIUM:-/usr/bin/chromium}" node "$RECOUP_CONTRACT_TOOLS/docs.mjs"
}

# All of it, as scripts/test runs it: lint, then one live stack for the rest.
contract_all() {
    contract_lint
    contract_stack_start
    contract_typescript "$RECOUP_CONTRACT_URL"
    contract_schemathesis "$RECOUP_CONTRACT_URL"
    contract_docs "$RECOUP_CONTRACT_URL"
    contract_stack_stop
}
