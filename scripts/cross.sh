#!/usr/bin/env bash
# Builds mnigs for a router's CPU with Debian's cross compiler in a sysroot
# of ARCH's own Debian packages, and runs the unit tests there under
# qemu-user:
#
#   scripts/cross.sh ARCH [ctest arguments]
#
# ARCH: armhf (32-bit ARM), mipsel (32-bit MIPS, little-endian) or s390x
# (64-bit, big-endian: every wire parser meets the other byte order). The
# sysroot is build-sysroot/ARCH (scripts/cross-env.sh says how it is made;
# this machine's own packages are left as they are), the tree goes to
# build-cross-ARCH, and ctest runs with -L unit unless given other
# arguments. Root: it installs debootstrap, g++-TRIPLET and qemu-user-static
# where they are missing. Not part of CI.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/deps.sh
source "$top/scripts/deps.sh"
# shellcheck source=scripts/cross-env.sh
source "$top/scripts/cross-env.sh"

arch=${1:-}
(($#)) && shift
cross_arch "$arch" || {
  echo "usage: scripts/cross.sh armhf|mipsel|s390x [ctest arguments]" >&2
  exit 2
}
install_deps test
cross_sysroot

build=$top/build-cross-$arch
mkdir -p "$build"
toolchain=$build/toolchain.cmake
# A tree configured for another toolchain (an older sysroot, host multiarch)
# keeps that one's cached results: configure it afresh.
cross_toolchain "$toolchain.new"
if ! cmp -s "$toolchain.new" "$toolchain"; then
  rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles"
fi
mv "$toolchain.new" "$toolchain"
echo "== building for $arch ($triplet) in $build"
export PKG_CONFIG_SYSROOT_DIR=$sysroot
export PKG_CONFIG_LIBDIR=$sysroot/usr/lib/$triplet/pkgconfig:$sysroot/usr/share/pkgconfig
# Where qemu-user finds ARCH's libraries when the kernel starts it for an
# ARCH program (binfmt_misc) rather than ctest with -L.
export QEMU_LD_PREFIX=$sysroot
build_tree "$build" -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DMNIGS_BUILD_TESTS=ON

file "$build/daemon/mnigsd" | sed "s|$build/||"
echo "== unit tests under $qemu -L $sysroot"
cd "$build"
# Left out: the OpenWrt scripts' tests run the daemon directly, as the shell
# would (they test the shell scripts, not the CPU; they run natively); and
# tests of kernel interfaces that qemu-user does not pass on, which run
# natively in CI: it refuses generic netlink sockets ("Protocol not
# supported": batman's family lookup) and IPV6_MULTICAST_IF ("Protocol not
# available": the l2 exchange on a veth link).
qemu_lacks='^(BatmanRefresh\.(FindsAFamily|MissingMeshInterface|MissingFamily)'
qemu_lacks+='|BatmanWithoutKernel\.(StartsAndSays|DiscoverAnswersOnce)'
qemu_lacks+='|L2Exchange\.(TwoNodesOnALink|ANewcomer)'
if [[ $arch == mipsel ]]; then
  # qemu-mipsel hands on the SO_ERROR of a refused connect untranslated: 111,
  # the build machine's ECONNREFUSED (MIPS's is 146), which reads "unknown
  # error 111". And it raises SIGBUS for an unaligned word load, where a MIPS
  # kernel emulates the load: OpenDHT 2.4.12 makes such loads on an InfoHash
  # parsed from a received packet (dht::Dht::onGetValues), so every test in
  # which DHT nodes exchange packets ends there.
  qemu_lacks+='|RpcClient\.ConnectionRefusedIsATransportError'
  qemu_lacks+='|BabelLive\.AbsentBabeldIsReportedAndLoggedOncePerOutage'
  qemu_lacks+='|DhtAttack\.|DhtNetwork\.(Offer|Withdrawal|Refreshes|RoutingTable|ConfiguredNode)'
fi
qemu_lacks+=')'
if (($#)); then
  ctest "$@"
else
  echo "== left out under qemu-user (they run natively in CI):"
  ctest -N -L unit -R "$qemu_lacks" | sed -n 's/^ *Test *#[0-9]*: /   /p'
  ctest -L unit -E "^openwrt_|$qemu_lacks" -j "$(nproc)" --output-on-failure
fi
