# Shared by scripts/demo.sh and scripts/test.sh: install what is missing,
# build and install the extension, and run private servers as "postgres".
set -euo pipefail

# PGS_PG_BIN points at another copy of PostgreSQL 15's binaries (a private,
# relocated install to build and test against side by side)
PG_BIN=${PGS_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_CONFIG=$PG_BIN/pg_config
export PG_CONFIG

# install_missing PACKAGE...: the Debian packages not installed yet
install_missing() {
    local missing=()
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

need_packages() {
    install_missing postgresql-15 postgresql-server-dev-15 postgresql-client-15 \
        postgresql-15-hll postgresql-15-tdigest \
        libipc-run-perl make gcc bc python3-psycopg
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
    # the port lies in the kernel's range of ephemeral ports: a client
    # connection of another test (Citus's nodes talk over TCP) may hold it
    # for a minute after it closed (TIME_WAIT); wait for it then
    local tries=0
    until runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
        -o "$opts" -w start >/dev/null; do
        tries=$((tries + 1))
        if [ $tries -ge 30 ] || ! grep -q "Address already in use" "$dir/server.log"; then
            echo "the server on port $port did not start; its log:" >&2
            tail -20 "$dir/server.log" >&2 || true
            return 1
        fi
        echo "port $port is still held by a closed connection: waiting" >&2
        : >"$dir/server.log"
        sleep 5
    done
}

stop_server() {
    local dir=$1
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# unpack_vendored NAME: the vendored source NAME-*-src.tar.gz (in
# ../shared/vendor beside the checkout, or beside the main checkout of a git
# worktree) unpacked into a new directory; sets build (that directory) and
# src (the source tree in it).  Returns 1 (and says why) when it is missing.
unpack_vendored() {
    local name=$1 tarball main
    main=$(dirname "$(cd "$(git rev-parse --git-common-dir 2>/dev/null || echo .git)" 2>/dev/null && pwd)")
    tarball=$(ls "$(pwd)"/../shared/vendor/"$name"-*-src.tar.gz "$main"/../shared/vendor/"$name"-*-src.tar.gz \
              2>/dev/null | head -n 1 || true)
    if [ -z "$tarball" ]; then
        echo "$name is not installed and its source is not in ../shared/vendor" >&2
        return 1
    fi
    build=$(mktemp -d)
    echo "building $name from $(basename "$tarball")"
    tar -xzf "$tarball" -C "$build"
    src=$(ls -d "$build"/"$name"-*/ | head -n 1)
}

# install_citus: Citus for the scale-out tests, built from the vendored
# source (../shared/vendor) into the PostgreSQL that PG_CONFIG names, unless
# it is there already.  Users install Citus from Citus's own packages; the
# extension does not need it.  Returns 1 (and says why) when it cannot.
install_citus() {
    local libdir
    libdir=$("$PG_CONFIG" --pkglibdir)
    if [ -f "$libdir/citus.so" ]; then
        return 0
    fi
    install_missing liblz4-dev libzstd-dev libkrb5-dev libssl-dev
    local build src
    unpack_vendored citus || return 1
    # PostgreSQL 15.20 exports have_createdb_privilege(), which Citus 13.2
    # still defines as a static inline of its own: then leave that one out
    if grep -rqs "have_createdb_privilege" "$("$PG_CONFIG" --includedir-server)/commands/dbcommands.h"; then
        python3 - "$src/src/include/pg_version_compat.h" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
new = re.sub(r'static inline bool\s*\n?\s*have_createdb_privilege\(void\)\s*\{.*?\n\}\n', '',
             text, count=1, flags=re.S)
open(path, 'w').write(new)
PY
    fi
    if ! (cd "$src" && ./configure --without-libcurl PG_CONFIG="$PG_CONFIG" >"$build/configure.log" 2>&1 &&
          make -s -j2 >"$build/make.log" 2>&1 && make -s install >"$build/install.log" 2>&1); then
        echo "building Citus failed; its logs are in $build" >&2
        return 1
    fi
    rm -rf "$build"
}

# install_pg_ivm: pg_ivm (incremental view maintenance), a peer the
# benchmarks compare aggregations with, built from the vendored source
# (../shared/vendor) into the PostgreSQL that PG_CONFIG names, unless it is
# there already.  Returns 1 (and says why) when it cannot.
install_pg_ivm() {
    local libdir
    libdir=$("$PG_CONFIG" --pkglibdir)
    if [ -f "$libdir/pg_ivm.so" ]; then
        return 0
    fi
    local build src
    unpack_vendored pg_ivm || return 1
    if ! (cd "$src" && make -s USE_PGXS=1 PG_CONFIG="$PG_CONFIG" with_llvm=no >"$build/make.log" 2>&1 &&
          make -s USE_PGXS=1 PG_CONFIG="$PG_CONFIG" with_llvm=no install >"$build/install.log" 2>&1); then
        echo "building pg_ivm failed; its logs are in $build" >&2
        return 1
    fi
    rm -rf "$build"
}
