#!/usr/bin/env bash
# Freezes the install scripts of a released keel version:
#
#   tools/freeze_release.sh v0.1.0 [DIR]
#
# exports the tagged tree into a temp folder, lets that tree's own Makefile build every
# extension's build/sql/<ext>--<version>.sql (exactly what `make install` of the release
# installed) and copies them to src/sql/released/.  The files are committed: the
# Makefile installs them beside the current scripts so that `CREATE EXTENSION ...
# VERSION '<old>'` followed by `ALTER EXTENSION ... UPDATE` works (test/t/705_upgrade.pl).
# Running it again for the same tag must leave `git status` clean (tools/check_released.sh
# checks that, writing into a temp DIR instead of src/sql/released).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KEEL_ROOT"

tag="${1:?usage: tools/freeze_release.sh TAG [DIR] (e.g. v0.1.0)}"
out="${2:-src/sql/released}"
git rev-parse -q --verify "$tag^{commit}" >/dev/null || die "no such tag or commit: $tag"
tmp="$(mktemp -d /tmp/keel-freeze.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
git archive "$tag" | tar -x -C "$tmp"

mkdir -p "$out"
targets=()
for control in "$tmp"/control/*.control; do
    ext="$(basename "$control" .control)"
    ver="$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$control")"
    targets+=("build/sql/$ext--$ver.sql")
done
make -s -C "$tmp" PG_CONFIG="$PG_CONFIG" "${targets[@]}" >/dev/null
for t in "${targets[@]}"; do
    cp "$tmp/$t" "$out/"
    [ -n "${KEEL_QUIET:-}" ] || note "$out/$(basename "$t")"
done
