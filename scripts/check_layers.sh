#!/usr/bin/env bash
# Checks that every include and every call between the folders of src/
# points down the layer order below (the module map in src/common/pgs_common.h).
# A file may use its own folder and the folders below it, never one above.
#
# Three passes:
#   includes  each #include "X" of src/**/*.{c,h} that names a project
#             header (under src/, or beside the file); a header named
#             *_internal.h may be included only from its own folder
#   externs   each extern function declaration (in a .c file or a header)
#             that names a function defined in a .c file of a higher folder
#   calls     each symbol an object file of src/ uses and another object of
#             src/ defines (nm), which catches calls through a local extern
#             or a macro; needs a build (make), skipped with --sources-only
#
# Prints each violation as "file:line: from -> to: what" and exits 1 if
# there is any, 0 if none.
#
# Usage: check_layers.sh [--sources-only] [TREE]   (TREE: this one by default)
set -euo pipefail
cd "$(dirname "$0")/.."

# The layers, lowest first: a folder of src/ per line, then the folder's name.
# every file directly in src/ is the top, which no other file may include.
layers="
common
catalog
storage
source
analyze
state
exec
bgw
api
top
"

sources_only=
if [ "${1:-}" = "--sources-only" ]; then
    sources_only=1
    shift
fi
[ -z "${1:-}" ] || cd "$1"

declare -A rank
i=0
for l in $layers; do
    rank[$l]=$i
    i=$((i + 1))
done

# layer_of PATH: the layer of a file under src/
layer_of() {
    local p=${1#src/}
    case $p in
        */*) echo "${p%%/*}" ;;
        *) echo top ;;
    esac
}

violations=0
report() {
    echo "$1"
    violations=$((violations + 1))
}

files=$(find src -name '*.[ch]' | sort)

# every folder of src/ must have a layer, or the check would pass it by
for f in $files; do
    l=$(layer_of "$f")
    if [ -z "${rank[$l]:-}" ]; then
        report "$f: folder \"$l\" has no layer: add it to scripts/check_layers.sh"
    fi
done

# pass 1: includes
for f in $files; do
    from=$(layer_of "$f")
    dir=$(dirname "$f")
    while IFS=: read -r line header; do
        if [ -f "src/$header" ]; then
            target="src/$header"
        elif [ -f "$dir/$header" ]; then
            target="$dir/$header"
        else
            continue
        fi
        to=$(layer_of "$target")
        [ -n "${rank[$to]:-}" ] || continue
        if [ "${rank[$to]}" -gt "${rank[$from]:-0}" ]; then
            report "$f:$line: $from -> $to: $header"
        elif [ "$to" != "$from" ] && [[ $target == *_internal.h ]]; then
            report "$f:$line: $from -> $to: $header is internal to $to/"
        fi
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[^"]+"' "$f" |
                 sed -E 's/^([0-9]+):.*"([^"]+)".*/\1:\2/')
done

# where each non-static function of a .c file is defined: PostgreSQL style
# puts the name at the start of its own line, the type on the line above
declare -A defined_in
while IFS=: read -r f name; do
    defined_in[$name]="${defined_in[$name]:-}$f "
done < <(awk '
    FNR == 1 { prev = "" }
    /^[A-Za-z_][A-Za-z0-9_]*\(/ && prev !~ /(^|[[:space:]])static([[:space:]]|$)/ &&
        prev !~ /^#/ && prev !~ /[;{}]$/ && prev != "" {
        name = $0; sub(/\(.*/, "", name); print FILENAME ":" name
    }
    { prev = $0 }' $(find src -name '*.c' | sort))

# pass 2: extern function declarations, in .c files and in headers (a
# header of a lower folder must not promise a function of a higher one)
for f in $files; do
    from=$(layer_of "$f")
    while IFS=: read -r line name; do
        for def in ${defined_in[$name]:-}; do
            to=$(layer_of "$def")
            if [ "${rank[$to]}" -gt "${rank[$from]}" ]; then
                report "$f:$line: $from -> $to: extern $name ($def)"
            fi
        done
    done < <(grep -nE '^extern[^;]*[A-Za-z_][A-Za-z0-9_]*[[:space:]]*\(' "$f" |
                 sed -E 's/^([0-9]+):[^(]*[^A-Za-z0-9_(]([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*\(.*/\1:\2/')
done

# pass 3: calls (and variables) across objects, from the symbol tables
if [ -z "$sources_only" ]; then
    objs=
    missing=
    for c in $(find src -name '*.c' | sort); do
        o=${c%.c}.o
        if [ -f "$o" ] && [ "$o" -nt "$c" ]; then
            objs="$objs $o"
        else
            missing="$missing $o"
        fi
    done
    if [ -n "$missing" ]; then
        report "objects missing or older than their source (run make first, or pass --sources-only):$missing"
    else
        declare -A sym_in
        for o in $objs; do
            while read -r sym; do
                sym_in[$sym]=$o
            done < <(nm --defined-only -g "$o" | awk '{ print $3 }')
        done
        for o in $objs; do
            from=$(layer_of "$o")
            while read -r sym; do
                def=${sym_in[$sym]:-}
                [ -n "$def" ] || continue
                to=$(layer_of "$def")
                if [ "${rank[$to]}" -gt "${rank[$from]}" ]; then
                    report "$o: $from -> $to: uses $sym (${def%.o}.c)"
                fi
            done < <(nm -u "$o" | awk '{ print $2 }')
        done
    fi
fi

if [ $violations -ne 0 ]; then
    echo "check_layers: $violations edges point up (layers, lowest first:" $layers")"
    exit 1
fi
echo "check_layers: every include and call points down"
