#!/usr/bin/env bash
# Prints every frozen install script in src/sql/released/ that differs from what its
# release tag (v<version>) builds, so nobody edits a released script by mistake (an
# installed database's history must stay what it was).  A version whose tag this clone
# does not have is skipped.  Prints nothing when all is well.
cd "$(dirname "$0")/.." || exit 1
tmp="$(mktemp -d /tmp/keel-released.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
for ver in $(ls src/sql/released/*.sql 2>/dev/null | sed 's/.*--\(.*\)\.sql$/\1/' | sort -u); do
    git rev-parse -q --verify "v$ver^{commit}" >/dev/null 2>&1 || continue
    KEEL_QUIET=1 tools/freeze_release.sh "v$ver" "$tmp/$ver" >/dev/null 2>&1 \
        || { echo "v$ver: tools/freeze_release.sh failed"; continue; }
    for f in src/sql/released/*--"$ver".sql; do
        cmp -s "$f" "$tmp/$ver/$(basename "$f")" || echo "$f: differs from what tag v$ver builds (tools/freeze_release.sh v$ver)"
    done
done
