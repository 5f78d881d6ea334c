#!/usr/bin/env bash
# Runs every test: the layer check (scripts/check_layers.sh), then the
# pg_regress, isolation and TAP suites against a private
# PostgreSQL 15 server, then a short pass of every benchmark script.
# Run as root on Debian 12: installs what is missing.  Everything it writes
# goes under one work directory, .test/ in the tree (PGS_TEST_DIR), removed
# at the end unless PGS_KEEP_TEST_DIR is set.
#
# For a quick loop while developing, these pick what runs:
#   PGS_REGRESS='retention windows'   pg_regress tests (empty: none)
#   PGS_ISOLATION='late_commit'       isolation specs (empty: none)
#   PGS_PROVE_TESTS='test/t/006_retention.pl'   TAP tests (empty: none)
#   PGS_SKIP_BENCH=1                  no benchmark smoke pass
#   PGS_TEST_PORT=54329               the server's port (TAP nodes pick their own)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

need_packages
build_and_install
# the scale-out tests (test/t/04*_citus*.pl) need Citus
if [ "${PGS_PROVE_TESTS-unset}" != "" ]; then
    install_citus
fi

root=${PGS_TEST_DIR:-$PWD/.test}
mkdir -p "$root"
chmod 755 "$root"
if ! runuser -u postgres -- test -x "$root"; then
    # the server runs as postgres, which cannot reach a tree under a
    # private home directory: then the work directory is a temporary one
    root=$(mktemp -d)
    echo "the tree is not reachable by postgres: working in $root"
fi
work=$(mktemp -d "$root/run.XXXXXX")
chmod 755 "$root" "$work"
mkdir -m 1777 "$work/tmp"
export TMPDIR="$work/tmp"
port=${PGS_TEST_PORT:-54329}
trap 'stop_server "$work"; [ -n "${PGS_KEEP_TEST_DIR:-}" ] || rm -rf "$work"' EXIT

# installcheck writes results into the tree: run a copy owned by postgres
mkdir "$work/src"
tar -c --exclude=./.test --exclude=./.demo --exclude=./.git . | tar -x -C "$work/src"
chown -R postgres "$work/src"
start_server "$work" "$port" "max_prepared_transactions=10"

# the suites run one after the other, each whatever the others did
passed=0
failed=0
# the layer rule: every include and call between folders points down
echo "=== layers"
if bash scripts/check_layers.sh && bash test/layers/check_layers_test.sh; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    echo "--- layers failed"
fi
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
# each suite runs unless its PGS_ variable is set and empty
if [ "${PGS_REGRESS-unset}" != "" ]; then
    run_suite "pg_regress" ISOLATION= TAP_TESTS= ${PGS_REGRESS:+REGRESS="$PGS_REGRESS"}
fi
if [ "${PGS_ISOLATION-unset}" != "" ]; then
    run_suite "isolation" REGRESS= TAP_TESTS= ${PGS_ISOLATION:+ISOLATION="$PGS_ISOLATION"}
fi
if [ "${PGS_PROVE_TESTS-unset}" != "" ]; then
    run_suite "TAP" REGRESS= ISOLATION= ${PGS_PROVE_TESTS:+PROVE_TESTS="$PGS_PROVE_TESTS"}
fi

# the benchmark scripts, with tiny sizes, so that none of them rots
if [ -z "${PGS_SKIP_BENCH:-}" ]; then
    echo "=== benchmarks (smoke pass; timings are not judged)"
    if bash bench/smoke.sh; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "--- benchmarks failed"
    fi
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
