#!/usr/bin/env bash
# Installs keel's build and test dependencies from Debian's packages.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
keel_deps "$@"
