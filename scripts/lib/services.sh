# shellcheck shell=bash
# Local services for scripts/run and scripts/test: PostgreSQL on 127.0.0.1:5432 and
# Redis on 127.0.0.1:6379, installed with apt and started when they are not up.
# Sourced, not executed; safe under `set -euo pipefail`; does nothing when both answer.

RECOUP_PG_HOST=127.0.0.1
RECOUP_PG_PORT=5432
RECOUP_REDIS_HOST=127.0.0.1
RECOUP_REDIS_PORT=6379

_recoup_apt_updated=0

_recoup_die() {
    echo "error: $*" >&2
    exit 1
}

# Runs a command as root: directly, or through sudo (non-interactive without a terminal).
_recoup_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        if [ -t 0 ]; then sudo "$@"; else sudo -n "$@"; fi
    else
        _recoup_die "need root for: $* (not root, and sudo is not installed)"
    fi
}

# Runs a command as the postgres OS user (peer authentication on the local socket).
_recoup_as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    elif command -v sudo >/dev/null 2>&1; then
        if [ -t 0 ]; then sudo -u postgres "$@"; else sudo -n -u postgres "$@"; fi
    else
        _recoup_die "need to run as the postgres user: $* (not root, and sudo is not installed)"
    fi
}

_recoup_apt_install() {
    command -v apt-get >/dev/null 2>&1 ||
        _recoup_die "cannot install $* automatically (no apt-get); install it and retry"
    echo "==> Installing $* (apt)"
    if [ "$_recoup_apt_updated" -eq 0 ]; then
        _recoup_as_root apt-get update -qq
        _recoup_apt_updated=1
    fi
    _recoup_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# _recoup_wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND once a second.
_recoup_wait_for() {
    local seconds=$1 what=$2
    shift 2
    local i
    for ((i = 0; i < seconds; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 1
    done
    _recoup_die "$what did not come up within ${seconds}s"
}

# The highest version-named entry of a directory, or nothing.
_recoup_newest() {
    if [ -d "$1" ]; then
        # shellcheck disable=SC2012 # version directories: plain names
        ls "$1" | sort -V | tail -1
    fi
}

_recoup_pg_ready() {
    pg_isready -q -h "$RECOUP_PG_HOST" -p "$RECOUP_PG_PORT" >/dev/null 2>&1
}

_recoup_redis_ready() {
    [ "$(redis-cli -h "$RECOUP_REDIS_HOST" -p "$RECOUP_REDIS_PORT" ping 2>/dev/null)" = PONG ]
}

# psql, pg_isready and pgbench (Debian's client-common package installs wrappers for
# them that fail when the real binaries are missing, hence --version, not command -v).
_recoup_ensure_pg_tools() {
    if ! psql --version >/dev/null 2>&1 || ! pg_isready --version >/dev/null 2>&1; then
        _recoup_apt_install postgresql-client
    fi
    if ! pgbench --version >/dev/null 2>&1; then
        # Debian and Ubuntu ship pgbench with the server package, not the client.
        _recoup_apt_install postgresql-client postgresql
    fi
}

_recoup_ensure_postgres() {
    _recoup_ensure_pg_tools
    if _recoup_pg_ready; then
        echo "==> PostgreSQL is up on $RECOUP_PG_HOST:$RECOUP_PG_PORT"
        return 0
    fi
    local fresh=0
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        _recoup_apt_install postgresql postgresql-client
        fresh=1
    fi
    local version
    version=$(_recoup_newest /etc/postgresql)
    if [ -z "$version" ]; then
        version=$(_recoup_newest /usr/lib/postgresql)
        [ -n "$version" ] || _recoup_die "PostgreSQL is installed but no server version was found in /usr/lib/postgresql"
        echo "==> Creating PostgreSQL $version cluster main"
        _recoup_as_root pg_createcluster "$version" main >/dev/null
    fi
    # The package's own start may have brought it up already.
    if ! _recoup_pg_ready; then
        echo "==> Starting PostgreSQL $version"
        # Fails with "already running" when the cluster runs but does not answer on
        # the port; the wait below then reports the problem.
        _recoup_as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
            echo "    (pg_ctlcluster start failed; see /var/log/postgresql/postgresql-$version-main.log)" >&2
    fi
    _recoup_wait_for 30 "PostgreSQL on $RECOUP_PG_HOST:$RECOUP_PG_PORT" _recoup_pg_ready
    if [ "$fresh" -eq 1 ]; then
        # The default URL carries password "postgres"; set it so md5/scram auth works.
        _recoup_as_postgres psql -X -q -c "ALTER USER postgres PASSWORD 'postgres'" >/dev/null
    fi
    echo "==> PostgreSQL is up on $RECOUP_PG_HOST:$RECOUP_PG_PORT"
}

_recoup_ensure_redis() {
    if command -v redis-cli >/dev/null 2>&1 && _recoup_redis_ready; then
        echo "==> Redis is up on $RECOUP_REDIS_HOST:$RECOUP_REDIS_PORT"
        return 0
    fi
    if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
        _recoup_apt_install redis-server redis-tools
    fi
    if ! _recoup_redis_ready; then
        echo "==> Starting Redis"
        _recoup_as_root mkdir -p /var/lib/redis /var/log/redis
        _recoup_as_root redis-server --daemonize yes \
            --bind "$RECOUP_REDIS_HOST" -::1 --port "$RECOUP_REDIS_PORT" \
            --save "" --appendonly no \
            --dir /var/lib/redis --logfile /var/log/redis/ci.log
    fi
    _recoup_wait_for 30 "Redis on $RECOUP_REDIS_HOST:$RECOUP_REDIS_PORT (log: /var/log/redis/ci.log)" _recoup_redis_ready
    echo "==> Redis is up on $RECOUP_REDIS_HOST:$RECOUP_REDIS_PORT"
}

# PostgreSQL and Redis up on their local ports; installs (apt) and starts what is missing.
ensure_services() {
    _recoup_ensure_postgres
    _recoup_ensure_redis
}

# The Rust toolchain cannot be installed from here; fail with directions instead.
ensure_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        _recoup_die "cargo not found. Install Rust (1.85 or newer, edition 2024) with rustup: https://rustup.rs, then open a new shell (or: source \"\$HOME/.cargo/env\") and retry."
    fi
}

# Installs a command's package with apt when the command is missing.
ensure_command() {
    local cmd=$1 package=${2:-$1}
    command -v "$cmd" >/dev/null 2>&1 || _recoup_apt_install "$package"
}
