#!/usr/bin/env bash
# Builds one benchmark (and the mnigsd, CLI and plugins it runs) and runs it.
# Run as root on Debian 12: benchmarks create network namespaces.
#
#   bench/run.sh scan                          scan time on babel meshes of 10, 20 and 40 nodes
#   bench/run.sh scan --sizes 10,20 --runs 5   any arguments after the name go to the benchmark
#
# Each benchmark is bench/<name>_bench.cpp, built as mnigs_<name>_bench; see
# bench/README.md. MNIGS_BUILD_DIR chooses the build tree (default: build/,
# as scripts/test.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
source "$top/scripts/deps.sh"

names=$(cd "$top/bench" && ls *_bench.cpp | sed 's/_bench\.cpp$//' | tr '\n' ' ')
if [[ $# -lt 1 || ! -f "$top/bench/${1}_bench.cpp" ]]; then
  echo "usage: bench/run.sh NAME [ARGS...]   (NAME: ${names% })" >&2
  exit 2
fi
name=$1; shift

[[ $(id -u) -eq 0 ]] || { echo "run as root: the benchmark creates network namespaces" >&2; exit 1; }
install_deps test
build="${MNIGS_BUILD_DIR:-$top/build}"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMNIGS_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target "mnigs_${name}_bench"
exec "$build/bench/mnigs_${name}_bench" "$@"
