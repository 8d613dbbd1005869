#!/usr/bin/env bash
# What mnigs costs a router: flash and memory.
#
#   sudo bench/size.sh [ARCH]     ARCH: armhf (default), mipsel or s390x
#
# Flash: mnigsd, mnigs-cli and the plugins cross-built for ARCH as the
# OpenWrt package builds them (-Os; gc-sections and LTO, OpenWrt's
# PKG_BUILD_FLAGS; no tests, no libqrencode), stripped, with the DHT off (the
# OpenWrt package: OpenDHT is in no feed) and on. Printed per file and for
# the OpenWrt core package's set, beside the same files built for x86-64 in
# the same run (the reference), with the ratio. The "xz" line is the core
# set compressed with xz -9: a lower bound of what it takes in a squashfs root.
#
# Memory: mnigsd's resident set (VmRSS, its peak VmHWM, and the split into
# RssAnon, its own memory, and RssFile, mapped files' pages) on the default
# config, 10 s after it answers, in a network namespace of its own, on this
# machine (x86-64: under qemu-user the figure would be qemu's): the core
# package's plugins without the DHT, every plugin without, every plugin with.
#
# The ARCH trees use scripts/cross.sh's sysroot (scripts/cross-env.sh). Root:
# it may install the cross compiler and makes a namespace. Not part of CI.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/deps.sh
source "$top/scripts/deps.sh"
# shellcheck source=scripts/cross-env.sh
source "$top/scripts/cross-env.sh"

arch=${1:-armhf}
cross_arch "$arch" || {
  echo "usage: bench/size.sh [armhf|mipsel|s390x]" >&2
  exit 2
}
[[ $(id -u) -eq 0 ]] || {
  echo "bench/size.sh: run as root (it installs packages and makes a namespace)" >&2
  exit 2
}
install_deps build
cross_sysroot

out=$top/build-size
mkdir -p "$out"
# Trees configured for another toolchain keep that one's cached results.
cross_toolchain "$out/$arch.cmake.new"
if ! cmp -s "$out/$arch.cmake.new" "$out/$arch.cmake"; then
  rm -rf "$out/$arch-nodht/CMakeCache.txt" "$out/$arch-dht/CMakeCache.txt"
fi
mv "$out/$arch.cmake.new" "$out/$arch.cmake"
# The OpenWrt package's flags: -Os, and PKG_BUILD_FLAGS:=gc-sections lto.
small=(-DCMAKE_BUILD_TYPE=MinSizeRel -DMNIGS_BUILD_TESTS=OFF -DMNIGS_QRENCODE=OFF
  -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=ON
  "-DCMAKE_CXX_FLAGS=-ffunction-sections -fdata-sections"
  "-DCMAKE_C_FLAGS=-ffunction-sections -fdata-sections"
  "-DCMAKE_EXE_LINKER_FLAGS=-Wl,--gc-sections"
  "-DCMAKE_MODULE_LINKER_FLAGS=-Wl,--gc-sections"
  "-DCMAKE_SHARED_LINKER_FLAGS=-Wl,--gc-sections")

# tree NAME DHT [TOOLCHAIN]: a small tree in build-size/NAME.
tree() {
  local extra=()
  [[ -z ${3:-} ]] || extra=(-DCMAKE_TOOLCHAIN_FILE="$3")
  build_tree "$out/$1" "${small[@]}" -DMNIGS_DHT="$2" "${extra[@]}" >"$out/$1.log" 2>&1 || {
    tail -n 20 "$out/$1.log" >&2
    echo "bench/size.sh: building $1 failed (whole log: $out/$1.log)" >&2
    exit 1
  }
}
echo "== building four small trees ($arch and x86-64, DHT off and on) in $out"
(
  export PKG_CONFIG_SYSROOT_DIR=$sysroot
  export PKG_CONFIG_LIBDIR=$sysroot/usr/lib/$triplet/pkgconfig:$sysroot/usr/share/pkgconfig
  tree "$arch-nodht" OFF "$out/$arch.cmake"
  tree "$arch-dht" ON "$out/$arch.cmake"
)
tree x86-64-nodht OFF
tree x86-64-dht ON

work=$(mktemp -d)
ns=mnigs-size-$$
daemon=
cleanup() {
  if [[ -n $daemon ]]; then
    kill "$daemon" 2>/dev/null || true
    wait "$daemon" 2>/dev/null || true
  fi
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# stripped FILE STRIP: FILE stripped as the package strips it, in work/.
stripped() {
  local copy
  copy=$work/$(basename "$(dirname "$(dirname "$1")")")-$(basename "$1")
  "$2" --strip-all -o "$copy" "$1"
  printf '%s\n' "$copy"
}
core=(discovery_l2 discovery_static tunnel_forwarding tunnel_websocket payment_free
  payment_webpage)
trees=("$arch-nodht" "$arch-dht" x86-64-nodht x86-64-dht)
files=(daemon/mnigsd cli/mnigs-cli)
for p in "$out/$arch-nodht/plugins/"*.so; do files+=("plugins/$(basename "$p")"); done

kib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }
echo
echo "== flash: stripped KiB (\"+DHT\": built with OpenDHT)"
printf '%-22s %10s %10s %10s %10s\n' file "$arch" "$arch+DHT" x86-64 "x86-64+DHT"
core_bytes=(0 0 0 0)
all_bytes=(0 0 0 0)
core_files=("" "" "" "")
for f in "${files[@]}"; do
  row=()
  name=$(basename "$f" .so)
  in_core=0
  if [[ $f != plugins/* || " ${core[*]} " == *" $name "* ]]; then in_core=1; fi
  for i in 0 1 2 3; do
    strip="strip"
    ((i >= 2)) || strip=$triplet-strip
    copy=$(stripped "$out/${trees[i]}/$f" "$strip")
    size=$(stat -c %s "$copy")
    row+=("$(kib "$size")")
    all_bytes[i]=$((all_bytes[i] + size))
    if ((in_core)); then
      core_bytes[i]=$((core_bytes[i] + size))
      core_files[i]+=" $copy"
    fi
  done
  ((in_core)) && name="$name *"
  printf '%-22s %10s %10s %10s %10s\n' "$name" "${row[@]}"
done
row=()
for i in 0 1 2 3; do row+=("$(kib "${core_bytes[i]}")"); done
printf '%-22s %10s %10s %10s %10s\n' "core set (*)" "${row[@]}"
row=()
for i in 0 1 2 3; do
  # shellcheck disable=SC2086 # the list of copies
  row+=("$(kib "$(cat ${core_files[i]} | xz -9 -c | wc -c)")")
done
printf '%-22s %10s %10s %10s %10s\n' "core set, xz" "${row[@]}"
# (One xz stream over every file: a lower bound of what squashfs, which
# compresses each block on its own, makes of them.)
row=()
for i in 0 1 2 3; do row+=("$(kib "${all_bytes[i]}")"); done
printf '%-22s %10s %10s %10s %10s\n' "everything" "${row[@]}"
awk -v a="${core_bytes[0]}" -v b="${core_bytes[2]}" \
  -v c="${core_bytes[1]}" -v d="${core_bytes[3]}" 'BEGIN {
    printf "core set, %s against x86-64: %.2f without the DHT, %.2f with it\n",
    ARGV[1], a / b, c / d }' "$arch"

# The DHT's own libraries: those that the +DHT files load (transitively,
# from the sysroot) and the others do not, stripped.
needed() { "$triplet-readelf" -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
lib_path() {
  local d
  for d in "$sysroot/lib/$triplet" "$sysroot/usr/lib/$triplet"; do
    if [[ -e $d/$1 ]]; then
      readlink -f "$d/$1"
      return 0
    fi
  done
  return 1
}
# closure FILE...: every shared library FILE... load, as "name path" lines.
closure() {
  local -A seen=()
  local queue=("$@") f n path
  while ((${#queue[@]})); do
    f=${queue[0]}
    queue=("${queue[@]:1}")
    for n in $(needed "$f"); do
      [[ -z ${seen[$n]:-} ]] || continue
      path=$(lib_path "$n") || continue
      seen[$n]=$path
      queue+=("$path")
    done
  done
  for n in "${!seen[@]}"; do printf '%s %s\n' "$n" "${seen[$n]}"; done | sort
}
without=$(closure "${files[@]/#/$out/$arch-nodht/}")
with=$(closure "${files[@]/#/$out/$arch-dht/}")
dht_bytes=0
dht_names=()
while read -r name path; do
  dht_names+=("$name")
  size=$(stat -c %s "$(stripped "$path" "$triplet-strip")")
  dht_bytes=$((dht_bytes + size))
done < <(comm -13 <(printf '%s\n' "$without") <(printf '%s\n' "$with"))
echo "+DHT also loads $(kib "$dht_bytes") KiB of shared libraries that the others do not"
echo "  (Debian's, stripped: ${dht_names[*]})"
# The web UI as installed: its files but the README.
webui_bytes=$(find "$top/webui" -type f ! -name README.md -printf '%s\n' |
  awk '{ s += $1 } END { print s }')
echo "The web UI adds $(kib "$webui_bytes") KiB. The other libraries the package depends on"
echo "(libstdcpp, libyaml-cpp, jsoncpp, libsqlite3, libopenssl...) count in their own packages."

echo
echo "== memory: mnigsd idle on the default config (x86-64, 10 s after it answers)"
ip netns add "$ns"
ip -n "$ns" link set lo up
# The core package's plugins alone in a directory, as the package installs
# them (the loader opens every file in plugins.dir, disabled or not).
core_dir=$work/core-plugins
mkdir -m 755 "$core_dir"
for name in "${core[@]}"; do
  install -m 644 "$out/x86-64-nodht/plugins/$name.so" "$core_dir/"
done
# run LABEL TREE DHT PLUGIN_DIR: one idle mnigsd and its figures.
run() {
  local label=$1 b=$out/$2 dht=$3 plugins=$4 dir answered=0 _
  dir=$(mktemp -d -p "$work")
  cp "$top/conf/mnigs.yaml" "$dir/mnigs.yaml"
  ip netns exec "$ns" "$b/cli/mnigs-cli" -f "$dir/mnigs.yaml" --set "plugins.dir=$plugins" \
    --set "daemon.dataDir=$dir/data" --set "daemon.webuiDir=$top/webui" \
    --set "dht.enabled=$dht" >/dev/null
  ip netns exec "$ns" "$b/daemon/mnigsd" -f "$dir/mnigs.yaml" >"$dir/log" 2>&1 &
  daemon=$!
  for _ in $(seq 1 100); do
    if ip netns exec "$ns" "$b/cli/mnigs-cli" -f "$dir/mnigs.yaml" --status >/dev/null 2>&1; then
      answered=1
      break
    fi
    sleep 0.1
  done
  ((answered)) && sleep 10
  if ((!answered)) || ! kill -0 "$daemon" 2>/dev/null; then
    cat "$dir/log" >&2
    echo "bench/size.sh: mnigsd ($label) did not answer, or ended early" >&2
    exit 1
  fi
  awk -v l="$label" '/^(VmRSS|VmHWM|RssAnon|RssFile):/ { v[$1] = $2 }
    END { printf "%-30s %8d %8d %8d %8d\n", l, v["VmRSS:"], v["VmHWM:"], v["RssAnon:"],
      v["RssFile:"] }' "/proc/$daemon/status"
  kill "$daemon"
  wait "$daemon" || true
  daemon=
}
printf '%-30s %8s %8s %8s %8s  (KiB)\n' mnigsd VmRSS VmHWM RssAnon RssFile
run "core package, no DHT" x86-64-nodht false "$core_dir"
run "every plugin, no DHT" x86-64-nodht false "$out/x86-64-nodht/plugins"
run "every plugin, DHT on" x86-64-dht true "$out/x86-64-dht/plugins"
echo "(target: VmRSS under 20480 KiB for the core package)"
