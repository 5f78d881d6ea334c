#!/usr/bin/env bash
# The layer check finds what it claims to: on a copy of the built tree it
# passes, and each kind of upward edge put into the copy (an include, an
# extern declaration, a linked call) is reported, with the check failing.
# Needs a build (make) of the tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
check=$PWD/scripts/check_layers.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# copy_tree DIR: src/ with its objects, their times kept
copy_tree() {
    mkdir -p "$1"
    cp -a src "$1/src"
}

# expect DIR PATTERN: the check fails on DIR and reports PATTERN
expect() {
    local out rc=0
    out=$(bash "$check" "$1" 2>&1) || rc=$?
    if [ $rc -ne 1 ] || ! grep -qE "$2" <<<"$out"; then
        echo "not ok: expected exit 1 and \"$2\", got exit $rc:"
        echo "$out" | sed 's/^/    /'
        failures=$((failures + 1))
    else
        echo "ok: $2"
    fi
}

copy_tree "$tmp/clean"
if out=$(bash "$check" "$tmp/clean" 2>&1); then
    echo "ok: the tree as it is passes"
else
    echo "not ok: the tree as it is fails:"
    echo "$out" | sed 's/^/    /'
    failures=$((failures + 1))
fi

# an include of a higher folder's header (storage includes bgw)
copy_tree "$tmp/include"
sed -i '0,/^#include "postgres.h"/s//#include "postgres.h"\n#include "bgw\/pgs_bgw.h"/' \
    "$tmp/include/src/storage/runs.c"
touch -d '1 hour ago' "$tmp/include/src/storage/runs.c"
expect "$tmp/include" '^src/storage/runs.c:[0-9]+: storage -> bgw: bgw/pgs_bgw.h$'

# a header internal to another folder, even from the top
copy_tree "$tmp/internal"
sed -i '0,/^#include "postgres.h"/s//#include "postgres.h"\n#include "bgw\/bgw_internal.h"/' \
    "$tmp/internal/src/pg_streaming.c"
touch -d '1 hour ago' "$tmp/internal/src/pg_streaming.c"
expect "$tmp/internal" '^src/pg_streaming.c:[0-9]+: top -> bgw: bgw/bgw_internal.h is internal to bgw/$'

# an extern declaration of a higher folder's function (catalog declares exec's)
copy_tree "$tmp/extern"
echo 'extern void pgs_forget_batch_plans(void);' >> "$tmp/extern/src/catalog/catalog.c"
touch -d '1 hour ago' "$tmp/extern/src/catalog/catalog.c"
expect "$tmp/extern" '^src/catalog/catalog.c:[0-9]+: catalog -> exec: extern pgs_forget_batch_plans \(src/exec/batch.c\)$'

# a header of a lower folder promising a higher folder's function
copy_tree "$tmp/header"
echo 'extern void pgs_agg_forget_plans(void);' >> "$tmp/header/src/catalog/pgs_catalog.h"
expect "$tmp/header" '^src/catalog/pgs_catalog.h:[0-9]+: catalog -> state: extern pgs_agg_forget_plans \(src/state/agg_exec.c\)$'

# a linked call up, whatever the source says: exec's object placed in catalog/
copy_tree "$tmp/call"
touch -d '1 hour ago' "$tmp/call/src/catalog/zz_moved.c"
cp -p "$tmp/call/src/exec/batch.o" "$tmp/call/src/catalog/zz_moved.o"
touch "$tmp/call/src/catalog/zz_moved.o"
expect "$tmp/call" '^src/catalog/zz_moved.o: catalog -> state: uses pgs_agg_execute \(src/state/agg_exec.c\)$'

# a folder without a layer
copy_tree "$tmp/folder"
mkdir "$tmp/folder/src/extra"
printf '#include "postgres.h"\n' > "$tmp/folder/src/extra/x.h"
expect "$tmp/folder" '^src/extra/x.h: folder "extra" has no layer'

# an object older than its source: the calls pass would judge old code
copy_tree "$tmp/stale"
touch "$tmp/stale/src/exec/batch.c"
touch -d '1 hour ago' "$tmp/stale/src/exec/batch.o"
expect "$tmp/stale" '^objects missing or older than their source .*src/exec/batch.o'

if [ $failures -ne 0 ]; then
    echo "check_layers_test: $failures failed"
    exit 1
fi
echo "check_layers_test: all passed"
