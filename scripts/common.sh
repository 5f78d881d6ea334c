# Shared by scripts/demo.sh and scripts/test.sh: install what is missing,
# build and install the extension, and run private servers as "postgres".
set -euo pipefail

# PGS_PG_BIN points at another copy of PostgreSQL 15's binaries (a private,
# relocated install to build and test against side by side)
PG_BIN=${PGS_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_CONFIG=$PG_BIN/pg_config
export PG_CONFIG

need_packages() {
    local missing=()
    for p in postgresql-15 postgresql-server-dev-15 postgresql-client-15 \
             postgresql-15-hll postgresql-15-tdigest \
             libipc-run-perl make gcc bc python3-psycopg; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

build_and_install() {
    make -s PG_CONFIG="$PG_CONFIG" with_llvm=no >/dev/null
    # a function of ours declared but never defined would only fail at load
    if nm -D pg_streaming.so | grep -q ' U pgs_'; then
        echo "pg_streaming.so uses functions that are not defined:" >&2
        nm -D pg_streaming.so | grep ' U pgs_' >&2
        exit 1
    fi
    make -s PG_CONFIG="$PG_CONFIG" with_llvm=no install >/dev/null
}

# start_server DIR PORT [extra postgres -c settings...]
start_server() {
    local dir=$1 port=$2
    shift 2
    mkdir -p "$dir"
    chown postgres "$dir"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
    local opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir"
    for o in "$@"; do opts="$opts -c $o"; done
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
        -o "$opts" -w start >/dev/null
}

stop_server() {
    local dir=$1
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}
