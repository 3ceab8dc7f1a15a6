#!/usr/bin/env bash
# Freezes the install scripts of a released keel version:
#
#   tools/freeze_release.sh v0.1.0
#
# exports the tagged tree into a temp folder, lets that tree's own Makefile build every
# extension's build/sql/<ext>--<version>.sql (exactly what `make install` of the release
# installed) and copies them to src/sql/released/.  The files are committed: the
# Makefile installs them beside the current scripts so that `CREATE EXTENSION ...
# VERSION '<old>'` followed by `ALTER EXTENSION ... UPDATE` works (test/t/705_upgrade.pl).
# Running it again for the same tag must leave `git status` clean.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KEEL_ROOT"

tag="${1:?usage: tools/freeze_release.sh TAG (e.g. v0.1.0)}"
git rev-parse -q --verify "$tag^{commit}" >/dev/null || die "no such tag or commit: $tag"
tmp="$(mktemp -d /tmp/keel-freeze.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
git archive "$tag" | tar -x -C "$tmp"

mkdir -p src/sql/released
for control in "$tmp"/control/*.control; do
    ext="$(basename "$control" .control)"
    ver="$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$control")"
    make -s -C "$tmp" PG_CONFIG="$PG_CONFIG" "build/sql/$ext--$ver.sql" >/dev/null
    cp "$tmp/build/sql/$ext--$ver.sql" "src/sql/released/$ext--$ver.sql"
    note "src/sql/released/$ext--$ver.sql"
done
