# Shared by tools/*.sh: dependencies, the private install, running as the cluster user.
# shellcheck shell=bash

KEEL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_MAJOR="${PG_MAJOR:-15}"
KEEL_OS_USER="${KEEL_OS_USER:-postgres}"

say()  { printf '\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die()  { printf 'keel: %s\n' "$*" >&2; exit 1; }

# Debian packages keel needs to build, test, demo and benchmark.
KEEL_APT_PACKAGES=(
    build-essential cmake pkg-config git
    "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" "postgresql-client-$PG_MAJOR"
    openssl libssl-dev libargon2-dev libgtest-dev googletest
    libipc-run-perl clang libclang-rt-14-dev
)

# Installs whatever of KEEL_APT_PACKAGES is missing.  Needs root (or nothing missing).
keel_deps() {
    local missing=() p
    for p in "${KEEL_APT_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        note "all build and test dependencies present"
        return 0
    fi
    [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root or install them"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install failed for: ${missing[*]}"
}

PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}"
[ -x "$PG_CONFIG" ] || PG_CONFIG="$(command -v pg_config || true)"

# Runs a command as the unprivileged cluster owner (PostgreSQL refuses root).
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$KEEL_OS_USER" -- "$@"
    else
        "$@"
    fi
}

keel_build() {
    say "building keel (make -j$(nproc))"
    make -C "$KEEL_ROOT" -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG" >/dev/null \
        || { make -C "$KEEL_ROOT" PG_CONFIG="$PG_CONFIG"; die "build failed"; }
}

# A private copy of the server with keel installed into it (PostgreSQL's
# binaries find their share/ and lib/ relative to themselves), so tests never touch
# the machine's installation and two work trees can test side by side.
keel_private_install() {
    local dest="$1" bindir sharedir libdir
    bindir="$("$PG_CONFIG" --bindir)"; sharedir="$("$PG_CONFIG" --sharedir)"
    libdir="$("$PG_CONFIG" --pkglibdir)"
    mkdir -p "$dest$(dirname "$bindir")" "$dest$(dirname "$sharedir")"
    cp -a "$(dirname "$bindir")/." "$dest$(dirname "$bindir")/"
    cp -a "$sharedir" "$dest$(dirname "$sharedir")/"
    [ -d "$dest$libdir" ] || die "unexpected layout: $libdir not under $(dirname "$bindir")"
    make -C "$KEEL_ROOT" -s install DESTDIR="$dest" PG_CONFIG="$PG_CONFIG" >/dev/null \
        || die "make install into $dest failed"
    chmod -R a+rX "$dest"
}
