#!/usr/bin/env bash
# Installs the Debian 12 packages mnigs needs. Sourced by up.sh and test.sh.
#   install_deps build   what building mnigsd, mnigs-cli and the plugins needs
#   install_deps test    that, plus what the unit and system tests need
set -euo pipefail

MNIGS_BUILD_PACKAGES=(
  build-essential cmake pkg-config
  libboost-dev libsqlite3-dev libcpp-httplib-dev libjsoncpp-dev libyaml-cpp-dev
  libnl-3-dev libnl-route-3-dev libnl-genl-3-dev
  # The DHT that spreads gateway offers (core/dht).
  libopendht-dev
  # Debian's cpp-httplib.pc requires these for its OpenSSL/zlib/brotli build.
  libssl-dev zlib1g-dev libbrotli-dev
)
MNIGS_TEST_PACKAGES=(
  libgtest-dev libgmock-dev
  iproute2 nftables sqlite3 curl
  # The babel system test and the scan benchmark run the real babeld.
  babeld
  # The tunnel benchmark: iperf3 measures, openvpn is the reference tunnel,
  # openssl makes its throwaway certificates.
  iperf3 openvpn openssl
)

install_deps() {
  local want=("${MNIGS_BUILD_PACKAGES[@]}")
  [[ "${1:-build}" == test ]] && want+=("${MNIGS_TEST_PACKAGES[@]}")
  local missing=()
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "== installing: ${missing[*]}"
    [[ $(id -u) -eq 0 ]] || { echo "run as root to install packages" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# build DIR [cmake args...]: configure and build the tree into DIR.
build_tree() {
  local dir=$1; shift
  local top; top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
}
