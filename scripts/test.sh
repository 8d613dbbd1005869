#!/usr/bin/env bash
# Installs what the build and the tests need, builds everything, and runs the
# unit and system tests through ctest. Run as root on Debian 12: system tests
# create network namespaces.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
source "$top/scripts/deps.sh"

install_deps test
build="${MNIGS_BUILD_DIR:-$top/build}"
build_tree "$build" -DMNIGS_BUILD_TESTS=ON
cd "$build"
# Unit tests in parallel, then system tests one at a time (they are RUN_SERIAL).
ctest --output-on-failure -j "$(nproc)" --timeout 900 "$@"
