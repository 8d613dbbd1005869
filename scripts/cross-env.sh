# Cross-building for a router's CPU: sourced by scripts/cross.sh and
# bench/size.sh, after scripts/deps.sh.
#
#   cross_arch ARCH          sets triplet, processor and qemu for ARCH
#                            (armhf, mipsel or s390x); false for another
#   cross_sysroot            makes or reuses build-sysroot/ARCH, sets sysroot
#   cross_toolchain FILE     writes a CMake toolchain file for that sysroot
#
# The sysroot is a Debian 12 tree of ARCH's own packages: debootstrap fetches
# the base system and the -dev packages of scripts/deps.sh's build and test
# sets with everything they depend on, and the sysroot is those packages
# unpacked. Nothing is configured, so nothing of ARCH runs to make it (no
# qemu second stage): a sysroot needs files, not a bootable system. Being one
# consistent set of ARCH's packages, it does not depend on the versions
# installed on this machine, and this machine's packages stay as they are
# (multiarch libraries would have to match them version for version, and
# libyaml-cpp-dev cannot be installed for two architectures at once).
#
# The compiler is Debian's cross compiler (g++-TRIPLET) with --sysroot; the
# tests run under qemu-user-static with the sysroot as its library prefix.
# Environment: MNIGS_DEBIAN_MIRROR (default http://deb.debian.org/debian).
# shellcheck shell=bash

cross_arch() {
  case $1 in
    armhf) triplet=arm-linux-gnueabihf processor=arm qemu=qemu-arm-static ;;
    mipsel) triplet=mipsel-linux-gnu processor=mips qemu=qemu-mipsel-static ;;
    s390x) triplet=s390x-linux-gnu processor=s390x qemu=qemu-s390x-static ;;
    *) return 1 ;;
  esac
  cross_name=$1
}

# The -dev packages of the build and test sets, which the sysroot holds.
cross_packages() {
  local p
  for p in "${MNIGS_BUILD_PACKAGES[@]}" "${MNIGS_TEST_PACKAGES[@]}"; do
    if [[ $p == *-dev ]]; then printf '%s\n' "$p"; fi
  done
  # The C++ library's headers come with the cross compiler; its shared
  # library, which the tests load, comes from here with libc6.
}

cross_sysroot() {
  local top mirror wanted
  top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  mirror=${MNIGS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
  sysroot=$top/build-sysroot/$cross_name
  wanted=$(cross_packages | sort | tr '\n' ' ')
  local host_tools=(debootstrap "g++-$triplet" qemu-user-static)
  local missing=() p
  for p in "${host_tools[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "== installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
  # One user of the sysroot at a time (cross.sh, bench/size.sh): a second
  # could remake it under the first. The lock is held until the script ends.
  mkdir -p "$top/build-sysroot"
  exec {cross_lock}>"$top/build-sysroot/$cross_name.lock"
  if ! flock -n "$cross_lock"; then
    echo "cross: another build uses $sysroot; wait for it to end" >&2
    return 1
  fi
  if [[ -f $sysroot/.mnigs-packages && $(<"$sysroot/.mnigs-packages") == "$wanted" ]]; then
    echo "== sysroot $sysroot (kept; delete it to fetch again)"
    return 0
  fi
  echo "== sysroot $sysroot: Debian 12 for $cross_name from $mirror"
  rm -rf "$sysroot"
  mkdir -p "$sysroot"
  # --foreign stops after fetching every package (the --include ones with
  # their dependencies) and unpacking the essential ones.
  if ! debootstrap --foreign --variant=minbase --arch="$cross_name" \
    --include="$(cross_packages | tr '\n' ',' | sed 's/,$//')" \
    bookworm "$sysroot" "$mirror" >"$sysroot.log" 2>&1; then
    tail -n 5 "$sysroot.log" >&2
    echo "cross: debootstrap for $cross_name failed (whole log: $sysroot.log)" >&2
    return 1
  fi
  # Unpacked as debootstrap unpacks: through the merged /usr's links (lib ->
  # usr/lib), not replacing them with directories.
  local deb
  for deb in "$sysroot"/var/cache/apt/archives/*.deb; do
    dpkg-deb --fsys-tarfile "$deb" | tar -x --keep-directory-symlink -C "$sysroot"
  done
  # Links such as usr/lib/TRIPLET/libz.so -> /lib/TRIPLET/libz.so.1 would
  # lead the linker to this machine's root: make them relative, without
  # resolving links on the way (-s), which would be this machine's too.
  local link target
  while IFS= read -r -d '' link; do
    target=$(readlink "$link")
    ln -sfn "$(realpath -m -s --relative-to="$(dirname "$link")" "$sysroot$target")" "$link"
  done < <(find "$sysroot" -type l -lname '/*' -print0)
  rm -f "$sysroot"/var/cache/apt/archives/*.deb
  printf '%s' "$wanted" >"$sysroot/.mnigs-packages"
}

cross_toolchain() {
  cat >"$1" <<EOF
# scripts/cross-env.sh: $cross_name with Debian's cross compiler in a sysroot.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR $processor)
set(CMAKE_C_COMPILER $triplet-gcc)
set(CMAKE_CXX_COMPILER $triplet-g++)
set(CMAKE_SYSROOT $sysroot)
set(CMAKE_LIBRARY_ARCHITECTURE $triplet)
set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/$qemu;-L;$sysroot)
# GCC's notes that an ABI changed in GCC 7 (ARM): nothing to act on here.
set(CMAKE_CXX_FLAGS_INIT -Wno-psabi)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(ENV{PKG_CONFIG_SYSROOT_DIR} $sysroot)
set(ENV{PKG_CONFIG_LIBDIR} $sysroot/usr/lib/$triplet/pkgconfig:$sysroot/usr/share/pkgconfig)
EOF
}
