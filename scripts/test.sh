#!/usr/bin/env bash
# Runs every test: pg_regress, isolation and TAP suites against a private
# PostgreSQL 15 server, then a short pass of every benchmark script.
# Run as root on Debian 12: installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

need_packages
build_and_install

work=$(mktemp -d /tmp/pg_streaming_test.XXXXXX)
chmod 755 "$work"
port=${PGS_TEST_PORT:-54329}
trap 'stop_server "$work"; [ -n "${PGS_KEEP_TEST_DIR:-}" ] || rm -rf "$work"' EXIT

# installcheck writes results into the tree: run a copy owned by postgres
cp -r . "$work/src"
chown -R postgres "$work/src"
start_server "$work" "$port" "max_prepared_transactions=10"

# the three suites run one after the other, each whatever the others did
passed=0
failed=0
run_suite() {
    local name=$1
    shift
    echo "=== $name"
    if runuser -u postgres -- make -C "$work/src" -s PG_CONFIG="$PG_CONFIG" with_llvm=no \
        PGHOST="$work" PGPORT="$port" "$@" installcheck; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "--- $name failed"
    fi
}
run_suite "pg_regress" ISOLATION= TAP_TESTS=
run_suite "isolation" REGRESS= TAP_TESTS=
run_suite "TAP" REGRESS= ISOLATION=

# the benchmark scripts, with tiny sizes, so that none of them rots
echo "=== benchmarks (smoke pass; timings are not judged)"
if bash bench/smoke.sh; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    echo "--- benchmarks failed"
fi

if [ $failed -ne 0 ]; then
    for f in "$work/src/regression.diffs" "$work/src/output_iso/regression.diffs"; do
        [ -f "$f" ] && { echo "=== $f"; head -300 "$f"; }
    done
    for f in "$work"/src/tmp_check/log/regress_log_*; do
        [ -f "$f" ] && { echo "=== $f"; tail -80 "$f"; }
    done
fi
echo "suites: $passed passed, $failed failed"
[ $failed -eq 0 ]
