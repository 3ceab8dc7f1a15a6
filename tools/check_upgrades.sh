#!/usr/bin/env bash
# Prints every released version (src/sql/released/<ext>--<v>.sql) from which
# src/sql/upgrade/ has no path of <ext>--<from>--<to>.sql scripts to the control file's
# default_version, and every upgrade script of an extension that has no control file.
# Prints nothing when all is well.  (test/t/705_upgrade.pl proves the paths are right.)
cd "$(dirname "$0")/.." || exit 1
for f in src/sql/released/*.sql src/sql/upgrade/*.sql; do
    [ -e "$f" ] || continue
    ext="$(basename "$f" .sql)"; ext="${ext%%--*}"
    [ -f "control/$ext.control" ] || echo "$f: no control/$ext.control"
done
for f in src/sql/released/*.sql; do
    [ -e "$f" ] || continue
    base="$(basename "$f" .sql)"; ext="${base%%--*}"; from="${base#*--}"
    [ -f "control/$ext.control" ] || continue
    cur="$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "control/$ext.control")"
    [ "$from" != "$cur" ] || { echo "$f: the current version $cur must not be frozen yet"; continue; }
    # breadth-first over the upgrade scripts from $from
    seen=" $from "; todo="$from"; found=
    while [ -n "$todo" ]; do
        set -- $todo; v="$1"; shift; todo="$*"
        [ "$v" = "$cur" ] && { found=1; break; }
        for u in src/sql/upgrade/"$ext--$v--"*.sql; do
            [ -e "$u" ] || continue
            to="$(basename "$u" .sql)"; to="${to##*--}"
            [[ "$seen" == *" $to "* ]] || { seen="$seen$to "; todo="$todo $to"; }
        done
    done
    [ -n "$found" ] || echo "$f: no upgrade path in src/sql/upgrade/ from $from to $cur"
done
