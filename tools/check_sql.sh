#!/usr/bin/env bash
# Prints every SQL-language or PL/pgSQL function in src/sql that does not pin
# search_path (a SECURITY DEFINER or any extension function without it can be
# hijacked by objects in the caller's schemas).  Prints nothing when all is well.
cd "$(dirname "$0")/.." || exit 1
perl -0777 -ne '
    s/--[^\n]*//g;   # comments may mention CREATE FUNCTION (the upgrade scripts do)
    while (/CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+([^\s(]+)(.*?)\bAS\b/gis) {
        my ($name, $head) = ($1, $2);
        next if $head =~ /LANGUAGE\s+c\b/i;
        print "$ARGV: $name does not SET search_path\n" unless $head =~ /SET\s+search_path/i;
    }' $(find src/sql -name '*.sql' | sort)
