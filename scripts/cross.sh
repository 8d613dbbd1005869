#!/usr/bin/env bash
# Builds mnigs for a router's CPU with Debian's cross toolchain and multiarch
# libraries, and runs the unit tests there under qemu-user:
#
#   scripts/cross.sh ARCH [ctest arguments]
#
# ARCH: armhf (32-bit ARM), mipsel (32-bit MIPS, little-endian) or s390x
# (64-bit, big-endian: every wire parser meets the other byte order). The
# tree goes to build-cross-ARCH; ctest runs with -L unit unless given other
# arguments. Root: it installs crossbuild-essential-ARCH, qemu-user-static
# and the libraries for ARCH (dpkg --add-architecture); see below for the two
# it swaps for the time of the build. Not part of CI, and not to be run
# beside another build of the tree on the same machine.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/deps.sh
source "$top/scripts/deps.sh"

arch=${1:-}
(($#)) && shift
case $arch in
  armhf) triplet=arm-linux-gnueabihf processor=arm qemu=qemu-arm-static ;;
  mipsel) triplet=mipsel-linux-gnu processor=mips qemu=qemu-mipsel-static ;;
  s390x) triplet=s390x-linux-gnu processor=s390x qemu=qemu-s390x-static ;;
  *)
    echo "usage: scripts/cross.sh armhf|mipsel|s390x [ctest arguments]" >&2
    exit 2
    ;;
esac

# The -dev packages of the build and test sets (scripts/deps.sh), for ARCH;
# the tools come from the build machine.
libraries=()
for p in "${MNIGS_BUILD_PACKAGES[@]}" "${MNIGS_TEST_PACKAGES[@]}"; do
  if [[ $p == *-dev ]]; then libraries+=("$p"); fi
done
install_deps test
# An architecture added here and left without packages (apt could not install
# them) is taken away again at the end.
added_arch=0
if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
  dpkg --add-architecture "$arch"
  added_arch=1
  apt-get update -qq
fi
forget_arch() {
  ((added_arch)) || return 0
  dpkg -l | awk -v a=":$arch" '$1 == "ii" && substr($2, length($2) - length(a) + 1) == a' |
    grep -q . && return 0
  if dpkg --remove-architecture "$arch"; then apt-get update -qq || true; fi
}
# Some -dev packages cannot be installed for two architectures at once
# (libyaml-cpp-dev is not "Multi-Arch: same"; libopendht-dev's dependencies
# pull the same way): apt removes the build machine's to install ARCH's.
# Those come back when this script ends, however it ends.
# The list is kept in a file first, so that a run that was cut short puts
# them back too (at its next start, or by hand: apt-get install $(cat FILE)).
swap_file=$top/build-cross-$arch.swapped
swapped=()
restore() {
  [[ -s $swap_file ]] || return 0
  mapfile -t swapped <"$swap_file"
  echo "== putting back: ${swapped[*]}"
  dpkg --configure -a >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${swapped[@]}" >/dev/null && rm -f "$swap_file"
}
restore
trap 'restore; forget_arch' EXIT
want=("crossbuild-essential-$arch" qemu-user-static "${libraries[@]/%/:$arch}")
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  # apt's plan first: what it would remove, or why it cannot. Packages that
  # are "Multi-Arch: same" must have one version for every architecture, so
  # a mirror whose ARCH index is older than this machine's packages cannot
  # serve them.
  if ! plan=$(apt-get install -s -y --no-install-recommends "${missing[@]}" 2>&1); then
    grep -E 'Depends:|^E:' <<<"$plan" >&2 || true
    echo "cross.sh: apt cannot install $arch's libraries beside this machine's (above);" \
      "an $arch package that wants another version than the installed $(dpkg --print-architecture)" \
      "one means the mirror's $arch index is behind" >&2
    exit 1
  fi
  mapfile -t swapped < <(awk '$1 == "Remv" { print $2 }' <<<"$plan")
  for p in "${swapped[@]}"; do
    [[ $p == *-dev ]] || {
      echo "cross.sh: apt would remove $p to install ${missing[*]}; stopping" >&2
      exit 1
    }
  done
  ((${#swapped[@]} == 0)) || printf '%s\n' "${swapped[@]}" >"$swap_file"
  echo "== installing: ${missing[*]}"
  ((${#swapped[@]} == 0)) || echo "   (in place of ${swapped[*]} until the end)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build=$top/build-cross-$arch
mkdir -p "$build"
toolchain=$build/toolchain.cmake
cat >"$toolchain" <<EOF
# scripts/cross.sh: $arch with Debian's cross compiler and multiarch libraries.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR $processor)
set(CMAKE_C_COMPILER $triplet-gcc)
set(CMAKE_CXX_COMPILER $triplet-g++)
set(CMAKE_LIBRARY_ARCHITECTURE $triplet)
set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/$qemu)
# GCC's notes that an ABI changed in GCC 7 (ARM): nothing to act on here.
set(CMAKE_CXX_FLAGS_INIT -Wno-psabi)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/$triplet/pkgconfig:/usr/share/pkgconfig)
EOF
echo "== building for $arch ($triplet) in $build"
export PKG_CONFIG_LIBDIR=/usr/lib/$triplet/pkgconfig:/usr/share/pkgconfig
build_tree "$build" -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DMNIGS_BUILD_TESTS=ON

file "$build/daemon/mnigsd" | sed "s|$build/||"
echo "== unit tests under $qemu"
cd "$build"
# The OpenWrt scripts' tests run the daemon directly, as the shell would:
# they test the shell scripts, not the CPU, and run natively.
if (($#)); then
  ctest "$@"
else
  ctest -L unit -E '^openwrt_' -j "$(nproc)" --output-on-failure
fi
