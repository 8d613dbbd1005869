#!/usr/bin/env bash
# Installs what the build and the tests need, builds everything, and runs the
# unit and system tests through ctest. Run as root on Debian 12: system tests
# create network namespaces. Then, unless MNIGS_TEST_SANITIZE=0, the unit
# tests again in a build with AddressSanitizer and UBSan (build-sanitize:
# about 17 minutes on two cores, cold), and unless MNIGS_TEST_FUZZ=0, the
# fuzz targets' regression run (scripts/fuzz.sh --regress, build-fuzz: about
# 7 minutes, cold). Arguments go to the first ctest.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
source "$top/scripts/deps.sh"

install_deps test
build="${MNIGS_BUILD_DIR:-$top/build}"
build_tree "$build" -DMNIGS_BUILD_TESTS=ON
cd "$build"
# Unit tests in parallel, then system tests one at a time (they are RUN_SERIAL).
ctest --output-on-failure -j "$(nproc)" --timeout 900 "$@"

if [[ ${MNIGS_TEST_SANITIZE:-1} != 0 ]]; then
  echo "== unit tests under AddressSanitizer and UBSan"
  sanitize="${MNIGS_SANITIZE_BUILD_DIR:-$top/build-sanitize}"
  build_tree "$sanitize" -DMNIGS_BUILD_TESTS=ON -DMNIGS_SANITIZE=ON
  (cd "$sanitize" && ctest -L unit --output-on-failure -j "$(nproc)" --timeout 900)
fi
if [[ ${MNIGS_TEST_FUZZ:-1} != 0 ]]; then
  echo "== fuzz targets: seed corpora and a short run each"
  "$top/scripts/fuzz.sh" --regress
fi
