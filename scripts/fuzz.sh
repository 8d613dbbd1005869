#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan, UBSan) into their
# own build directory and runs them.
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS] [RUNS]
#                                             fuzz one target, or each in turn, for
#                                             SECONDS each (default 3600), or until
#                                             RUNS inputs ran, whichever comes first
#   scripts/fuzz.sh --regress [TARGET|all]   what CI runs: every input of the seed
#                                             corpus once, then a short run
#                                             (MNIGS_FUZZ_REGRESS_SECONDS, default 10)
#   scripts/fuzz.sh --list                    the targets
#
# The build goes to MNIGS_FUZZ_BUILD_DIR (default build-fuzz). Findings go to
# <build>/findings/<target>/: crash-*, leak-*, timeout-*, oom-* files (the
# input that did it, to replay with `<build>/tests/fuzz/fuzz_<target> FILE`),
# the corpus the runs grew (corpus/) and the log (fuzz.log); each run adds a
# line to <build>/findings/runs.txt (date, target, runs, seconds, outcome). A
# regression run keeps nothing but the findings. Exits non-zero when a target
# found something.
# Needs clang-14 (install_deps fuzz in scripts/deps.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
source "$top/scripts/deps.sh"

usage() {
  sed -n '4,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

mode=fuzz
case ${1:-} in
  --regress) mode=regress; shift ;;
  --list) mode=list; shift ;;
  -h | --help) usage ;;
esac
target=${1:-all}
seconds=${2:-3600}
runs_limit=${3:--1}
if [[ ! $seconds =~ ^[0-9]+$ || $seconds -eq 0 ]]; then
  echo "SECONDS must be a positive integer" >&2
  exit 2
fi
if [[ $runs_limit != -1 && ! $runs_limit =~ ^[1-9][0-9]*$ ]]; then
  echo "RUNS must be a positive integer" >&2
  exit 2
fi
regress_seconds=${MNIGS_FUZZ_REGRESS_SECONDS:-10}
build=${MNIGS_FUZZ_BUILD_DIR:-$top/build-fuzz}
corpus=$top/tests/fuzz/corpus

install_deps fuzz
build_tree "$build" -DMNIGS_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14

mapfile -t all < "$build/fuzz_targets.txt"
if [[ $mode == list ]]; then
  printf '%s\n' "${all[@]}"
  exit 0
fi
if [[ $target == all ]]; then
  targets=("${all[@]}")
elif printf '%s\n' "${all[@]}" | grep -qxF -- "$target"; then
  targets=("$target")
else
  echo "no fuzz target '$target'; the targets are: ${all[*]}" >&2
  exit 2
fi

# Options every run shares: a finding stops the run, slow and greedy inputs
# are findings too, and UBSan reports come with a stack.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# A long run keeps no allocation stacks: ASan's store of them never shrinks,
# and a recursive parser (jsoncpp) gives it new stacks for hours, 2 GiB of
# RSS within an hour while the heap stayed at 25 MiB. A finding is replayed
# (`fuzz_<target> FILE`) with the stacks.
asan=detect_leaks=1
[[ $mode == fuzz ]] && asan+=:malloc_context_size=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-$asan}
common=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)

# run_target NAME: one target; 0 when it found nothing.
run_target() {
  local name=$1 bin="$build/tests/fuzz/fuzz_$1" out="$build/findings/$1"
  local seeds=$corpus/$name
  [[ -d $seeds ]] || { echo "$name: no seed corpus at $seeds" >&2; return 1; }
  mkdir -p "$out"
  if [[ $mode == regress ]]; then
    # Every seed once, then new inputs for a few seconds; what they add to the
    # corpus is thrown away.
    # A target with a known finding not fixed yet (tests/fuzz/open/<target>)
    # would find it again at random: only its seeds run until the fix lands.
    local rc=0
    "$bin" "${common[@]}" -artifact_prefix="$out/" -runs=0 "$seeds" >"$out/fuzz.log" 2>&1 || rc=$?
    if ((rc == 0)) && [[ -d $top/tests/fuzz/open/$name ]]; then
      echo "$name: open finding in tests/fuzz/open/$name, seeds only" >>"$out/fuzz.log"
      report "$name" 0 "$out" "(seeds only: open finding)"
      return 0
    fi
    if ((rc == 0)); then
      local scratch
      scratch=$(mktemp -d)
      "$bin" "${common[@]}" -artifact_prefix="$out/" -max_total_time="$regress_seconds" \
        "$scratch" "$seeds" >>"$out/fuzz.log" 2>&1 || rc=$?
      rm -rf "$scratch"
    fi
    report "$name" "$rc" "$out"
    return "$rc"
  fi
  mkdir -p "$out/corpus"
  local rc=0 began=$SECONDS
  "$bin" "${common[@]}" -artifact_prefix="$out/" -max_total_time="$seconds" \
    -runs="$runs_limit" "$out/corpus" "$seeds" >"$out/fuzz.log" 2>&1 || rc=$?
  report "$name" "$rc" "$out"
  printf '%s %-20s %10s runs %6d s %s\n' "$(date -u +%FT%TZ)" "$name" \
    "$(executed "$out")" "$((SECONDS - began))" "$( ((rc == 0)) && echo ok || echo FAILED)" \
    >>"$build/findings/runs.txt"
  return "$rc"
}

# executed DIR: the inputs the last run in DIR executed, from its final stats.
executed() {
  local runs
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$1/fuzz.log" | tail -1 |
    grep -o '[0-9]*$' || true)
  echo "${runs:-?}"
}

# report NAME RC DIR [NOTE]: one line per target; the log's end when it failed.
report() {
  local runs
  runs=$(executed "$3")
  if (($2 == 0)); then
    printf '%-20s ok     %10s runs %s\n' "$1" "$runs" "${4:-}"
  else
    printf '%-20s FAILED (exit %d), findings in %s\n' "$1" "$2" "$3"
    tail -n 40 "$3/fuzz.log" | sed 's/^/    /'
  fi
}

failed=()
for t in "${targets[@]}"; do
  run_target "$t" || failed+=("$t")
done
if ((${#failed[@]})); then
  echo "fuzz: ${#failed[@]} target(s) found problems: ${failed[*]}" >&2
  exit 1
fi
