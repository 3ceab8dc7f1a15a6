#!/usr/bin/env bash
# The whole test suite: project checks, unit tests (plain and under ASan/UBSan),
# fuzz targets, pg_regress, isolation specs and TAP tests, each suite against a
# private copy of the server in a temp folder.  Ends with "N passed, N failed".
#
#   tools/test.sh                 everything
#   KEEL_SUITES="unit regress"    a subset (checks unit sanitize fuzz regress isolation tap)
#   KEEL_FUZZ_SECONDS=10          per fuzz target
#   KEEL_ONLY='^70[12]_|^audit'   only the pg_regress/isolation/TAP tests whose names match
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KEEL_ROOT"

SUITES="${KEEL_SUITES:-checks unit sanitize fuzz regress isolation tap}"
FUZZ_SECONDS="${KEEL_FUZZ_SECONDS:-10}"
PASSED=0
FAILED=0
FAILED_NAMES=()

count() {  # suite passed failed
    PASSED=$((PASSED + $2)); FAILED=$((FAILED + $3))
    [ "$3" -eq 0 ] || FAILED_NAMES+=("$1")
    note "$1: $2 passed, $3 failed"
}
want() { [[ " $SUITES " == *" $1 "* ]]; }
only() { grep -E -- "${KEEL_ONLY:-.}" || true; }  # filters test names read on stdin

say "dependencies"
keel_deps
keel_build

WORK="$(mktemp -d /tmp/keel-test.XXXXXX)"
chmod 755 "$WORK"
trap 'as_pg true 2>/dev/null; [ -n "${KEEL_KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- project checks
if want checks; then
    say "project checks (layer rules, schedule)"
    ok=0; bad=0
    check() {  # description, command that must print nothing
        local out; out="$(eval "$2" 2>&1)"
        if [ -z "$out" ]; then ok=$((ok + 1)); else bad=$((bad + 1)); note "FAILED: $1"; printf '%s\n' "$out" | sed 's/^/      /'; fi
    }
    check "no PostgreSQL header in src/core" \
        "grep -rlE '#include[[:space:]]*[<\"](postgres|fmgr|utils/|executor/|catalog/|access/|funcapi)' src/core"
    check "no PG_TRY or sigsetjmp outside src/bridge" \
        "grep -rlE 'PG_TRY|sigsetjmp' src | grep -v '^src/bridge/'"
    check "no new/malloc in src/pg" \
        "grep -rnE '(^|[^_a-zA-Z])(malloc|calloc|realloc)\(|[^a-zA-Z_]new [A-Za-z]' src/pg | grep -v '//'"
    check "every regression test has an expected file" \
        "for f in sql/*.sql; do b=\$(basename \$f .sql); [ -f expected/\$b.out ] || echo \$b; done"
    check "every isolation spec has an expected file" \
        "for f in test/isolation/specs/*.spec; do [ -e \"\$f\" ] || continue; b=\$(basename \$f .spec); [ -f test/isolation/expected/\$b.out ] || echo \$b; done"
    check "every SQL function pins search_path or is C" \
        "tools/check_sql.sh"
    check "every released version has an upgrade path to the current one" \
        "tools/check_upgrades.sh"
    check "frozen install scripts equal what their release tag builds" \
        "tools/check_released.sh"
    count checks "$ok" "$bad"
fi

# ---------------------------------------------------------------- unit tests
run_ctest() {  # label build-dir cmake-args...
    local label="$1" dir="$2"; shift 2
    say "$label"
    if ! cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir.log" 2>&1 \
        || ! cmake --build "$dir" -j"$(nproc)" >>"$dir.log" 2>&1; then
        tail -40 "$dir.log"; count "$label" 0 1; return
    fi
    local out total failed
    out="$(cd "$dir" && ctest --output-on-failure -j"$(nproc)" ${CTEST_FILTER:+-R "$CTEST_FILTER"} 2>&1)"
    printf '%s\n' "$out" | grep -E 'tests passed|\*\*\*Failed|Failed  |Exception' | sed 's/^/    /'
    if printf '%s\n' "$out" | grep -q 'No tests were found'; then note "no tests"; return; fi
    total="$(printf '%s\n' "$out" | sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p')"
    failed="$(printf '%s\n' "$out" | sed -n 's/.* \([0-9]*\) tests failed out of.*/\1/p')"
    if [ -z "$total" ]; then printf '%s\n' "$out" | tail -30; count "$label" 0 1; return; fi
    [ "$failed" -eq 0 ] || printf '%s\n' "$out" | tail -60
    count "$label" $((total - failed)) "$failed"
}
mkdir -p build
want unit && run_ctest "unit tests (GoogleTest)" build/cmake
want sanitize && CXX=clang++ run_ctest "unit tests under ASan+UBSan" build/cmake-asan -DKEEL_SANITIZE=ON
want fuzz && CTEST_FILTER='^fuzz_' CXX=clang++ run_ctest "fuzz targets (libFuzzer, ${FUZZ_SECONDS}s each)" build/cmake-fuzz \
    -DKEEL_FUZZ=ON -DKEEL_FUZZ_SECONDS="$FUZZ_SECONDS"

# ---------------------------------------------------------------- server suites
if want regress || want isolation || want tap; then
    say "private server install in $WORK/install"
    keel_private_install "$WORK/install"
    BIN="$WORK/install$("$PG_CONFIG" --bindir)"
    PGXS_DIR="$(cd "$(dirname "$("$PG_CONFIG" --pgxs)")/../.." && pwd)"
    mkdir -p "$WORK/src" "$WORK/out" "$WORK/keys"
    cp -r sql expected test "$WORK/src/"
    # A master key for the suites that need one (0600, owned by the cluster user).
    openssl rand -hex 32 >"$WORK/keys/master.key"
    chmod 600 "$WORK/keys/master.key"
    sed "s|@WORK@|$WORK|g" test/regress.conf.in >"$WORK/src/regress.conf"
    chown -R "$KEEL_OS_USER" "$WORK/out" "$WORK/keys"
    chmod -R a+rX "$WORK/src"
fi

show_failure() {  # outdir
    [ -f "$1/regression.diffs" ] && { note "regression.diffs:"; head -200 "$1/regression.diffs"; }
    local log; log="$(ls "$1"/log/postmaster.log 2>/dev/null | head -1)"
    [ -n "$log" ] && { note "server log tail:"; tail -40 "$log"; }
}

run_pg_regress() {  # label runner inputdir outdir tests...
    local label="$1" runner="$2" input="$3" out="$4"; shift 4
    say "$label"
    [ $# -gt 0 ] || { note "no tests"; return; }
    mkdir -p "$out"; chown "$KEEL_OS_USER" "$out"
    local log="$out/run.log"
    as_pg "$runner" --bindir="$BIN" --inputdir="$input" --outputdir="$out" \
        --temp-instance="$out/tmp_check" --temp-config="$WORK/src/regress.conf" \
        --dlpath="$WORK/install$("$PG_CONFIG" --pkglibdir)" "$@" >"$log" 2>&1
    local ok bad
    ok="$(grep -cE '\.\.\. ok' "$log")"
    bad="$(grep -cE '\.\.\. (FAILED|failed)' "$log")"
    grep -E '\.\.\. ' "$log" | sed 's/^/    /'
    if [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ]; then tail -20 "$log"; bad=1; fi
    [ "$bad" -eq 0 ] || show_failure "$out"
    count "$label" "$ok" "$bad"
}

if want regress; then
    tests=$(for f in sql/*.sql; do basename "$f" .sql; done | only)
    # shellcheck disable=SC2086
    run_pg_regress "pg_regress" "$PGXS_DIR/src/test/regress/pg_regress" "$WORK/src" \
        "$WORK/out/regress" $tests
fi

if want isolation; then
    specs=$(for f in test/isolation/specs/*.spec; do [ -e "$f" ] && basename "$f" .spec; done | only)
    # shellcheck disable=SC2086
    run_pg_regress "isolation specs" "$PGXS_DIR/src/test/isolation/pg_isolation_regress" \
        "$WORK/src/test/isolation" "$WORK/out/isolation" $specs
fi

if want tap; then
    say "TAP tests"
    ok=0; bad=0
    for t in test/t/*.pl; do
        [ -e "$t" ] || continue
        [ -n "$(basename "$t" .pl | only)" ] || continue
        tdir="$WORK/out/tap/$(basename "$t" .pl)"; mkdir -p "$tdir"; chown -R "$KEEL_OS_USER" "$WORK/out/tap"
        if (cd "$tdir" && as_pg env PATH="$BIN:$PATH" PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
            TESTDIR="$tdir" PG_CONFIG="$BIN/pg_config" \
            KEEL_SRC="$WORK/src" KEEL_MASTER_KEY="$WORK/keys/master.key" \
            prove -I "$PGXS_DIR/src/test/perl" "$WORK/src/$t" >"$tdir/prove.log" 2>&1); then
            ok=$((ok + 1)); note "ok     $(basename "$t")"
        else
            bad=$((bad + 1)); note "FAILED $(basename "$t")"; tail -40 "$tdir/prove.log"
            tail -30 "$tdir"/tmp_check/log/*.log 2>/dev/null
        fi
    done
    count "TAP tests" "$ok" "$bad"
fi

echo
[ ${#FAILED_NAMES[@]} -eq 0 ] || note "failing suites: ${FAILED_NAMES[*]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
