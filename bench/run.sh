#!/usr/bin/env bash
# Builds the scan benchmark (and the mnigsd, CLI and plugins it runs) and runs
# it. Run as root on Debian 12: it creates network namespaces and runs babeld.
#
#   bench/run.sh                               meshes of 10, 20 and 40 nodes, 3 runs each
#   bench/run.sh --sizes 10,20 --runs 5        any mnigs_scan_bench arguments
#
# MNIGS_BUILD_DIR chooses the build tree (default: build/, as scripts/test.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
source "$top/scripts/deps.sh"

[[ $(id -u) -eq 0 ]] || { echo "run as root: the benchmark creates network namespaces" >&2; exit 1; }
install_deps test
if [[ ! -x /usr/sbin/babeld ]]; then
  echo "/usr/sbin/babeld is missing: apt-get install babeld" >&2
  exit 1
fi
build="${MNIGS_BUILD_DIR:-$top/build}"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMNIGS_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target mnigs_scan_bench
exec "$build/bench/mnigs_scan_bench" "$@"
