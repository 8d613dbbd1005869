#!/usr/bin/env bash
# The Debian 12 packages mnigs needs, and the build. Sourced by up.sh,
# test.sh, demo.sh and the Dockerfile.
#   install_deps build            what building mnigsd, mnigs-cli and the plugins needs
#   install_deps test             that, plus what the unit and system tests need
#   install_deps fuzz             build's, plus clang for the fuzz targets (scripts/fuzz.sh)
#   install_deps runtime [PKG..]  what mnigsd runs, plus PKG.. (the libraries that
#                                 runtime_library_packages found the binaries need)
#   build_tree DIR [cmake args]   configure and build the tree into DIR
#   runtime_library_packages DIR  the packages of the shared libraries every ELF
#                                 file under DIR needs (fails on one not provided)
#   elf_files DIR                 the ELF files under DIR
#   check_runtime FILE            every ELF file listed in FILE finds its libraries,
#                                 every command in MNIGS_RUNTIME_COMMANDS is there
set -euo pipefail

MNIGS_BUILD_PACKAGES=(
  build-essential cmake pkg-config
  # CPack's .deb (scripts/deb.sh) finds libraries with dpkg-shlibdeps and file.
  file
  libboost-dev libsqlite3-dev libjsoncpp-dev libyaml-cpp-dev
  # Generic netlink for the batman-adv discovery plugin.
  libnl-3-dev libnl-genl-3-dev
  # The DHT that spreads gateway offers (core/dht).
  libopendht-dev
  # The websocket tunnel plugin (OpenSSL's SHA-1, for the handshake).
  libssl-dev
  # The httptunnel plugin: HTTP/2 streams between a node and its gateway.
  libnghttp2-dev
  # mnigs-cli --tether --qr: the tether page's URL as a QR code.
  libqrencode-dev
  # The web UI's password hash (yescrypt, crypt(3)).
  libcrypt-dev
)
MNIGS_TEST_PACKAGES=(
  libgtest-dev libgmock-dev
  # Compiler cache: the demo's system test builds the tree a second time.
  ccache
  # The tests' HTTP client and servers; Debian's cpp-httplib.pc requires
  # zlib and brotli (and OpenSSL, above) for the way it was built.
  libcpp-httplib-dev zlib1g-dev libbrotli-dev
  iproute2 nftables sqlite3 curl
  # subscriber.lan deletes a LAN's connections through the old gateway at a
  # switch with conntrack (system test 14 checks it).
  conntrack
  # The babel system test and the scan benchmark run the real babeld.
  babeld
  # The tunnel benchmark: iperf3 measures, openvpn is the reference tunnel,
  # openssl makes its throwaway certificates; plugins/common's x509_test
  # checks our certificates and fingerprints against it; the openvpn
  # plugin's unit tests and system test 18 run the real openvpn.
  iperf3 openvpn openssl
  # System test 11 runs the vpn-ws switch behind the real nginx.
  nginx
  # System test 15 pays on the gateway's page in a real browser, headless,
  # driven over the DevTools protocol; system test 22 drives the web UI.
  chromium
  # The web UI's JavaScript is checked to parse (tests/webui.cmake).
  nodejs
  # systemd-analyze checks packaging/systemd/mnigsd.service (tests/systemd_unit.cmake).
  systemd
  # The OpenWrt package's scripts run under dash and busybox's sh (OpenWrt's
  # shell) and are checked by shellcheck (tests/openwrt).
  dash busybox shellcheck
  # System test 16 captures the gre tunnel's packets with tcpdump and has
  # them decoded by an independent dissector, tshark.
  tcpdump tshark
)
# The fuzz targets (tests/fuzz): clang, and its runtime libraries, which hold
# libFuzzer's engine (libclang_rt.fuzzer) and the sanitizers'.
MNIGS_FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev)
# What mnigsd runs as child processes, which no library list can show: the
# tunnel plugins set addresses, routes and NAT with ip, nft and sysctl
# (plugins/common/command_queue.cpp names these packages in its errors), the
# core deletes a LAN's connections at a switch with conntrack, and
# hooks run through sh (dash, on every Debian system). The shared libraries are
# not listed here: the Docker build derives them from the built binaries.
MNIGS_RUNTIME_COMMANDS=(ip nft sysctl conntrack sh)
MNIGS_RUNTIME_PACKAGES=(iproute2 nftables procps conntrack)

install_deps() {
  local set=${1:-build}
  (($#)) && shift
  local want=()
  case $set in
    build) want=("${MNIGS_BUILD_PACKAGES[@]}") ;;
    test) want=("${MNIGS_BUILD_PACKAGES[@]}" "${MNIGS_TEST_PACKAGES[@]}") ;;
    fuzz) want=("${MNIGS_BUILD_PACKAGES[@]}" "${MNIGS_FUZZ_PACKAGES[@]}") ;;
    runtime) want=("${MNIGS_RUNTIME_PACKAGES[@]}" "$@") ;;
    *)
      echo "install_deps: unknown package set '$set' (build, test, fuzz or runtime)" >&2
      return 2
      ;;
  esac
  local missing=() p
  for p in "${want[@]}"; do
    if [[ ! $p =~ ^[a-z0-9][a-z0-9+.-]*$ ]]; then
      echo "install_deps: '$p' is not a Debian package name" >&2
      return 2
    fi
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
  # With ccache, a second tree of the same sources (the demo's build-run/
  # after the tests' build/) compiles from the cache: paths are hashed
  # relative to the source tree, not to the build directory.
  local launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    export CCACHE_BASEDIR="$top" CCACHE_NOHASHDIR=1
  fi
  # "|| return": set -e does not act in a function called on the left of ||.
  cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" "$@" >/dev/null ||
    return
  cmake --build "$dir" -j "$(nproc)"
}

# elf_files DIR: every regular file under DIR that starts with the ELF magic.
elf_files() {
  local f magic
  while IFS= read -r -d '' f; do
    magic=$(head -c 4 "$f" | tr -d '\0')
    [[ $magic == $'\x7fELF' ]] && printf '%s\n' "$f"
  done < <(find "$1" -type f -print0 | sort -z)
  return 0
}

# candidate_paths PATH: the names under which a package may have registered
# the file ldd found at PATH. ldd names a library by the directory the loader
# found it in, which on a merged-/usr system may be /usr/lib where the package
# registered /lib, or a symlink to the file.
candidate_paths() {
  local path=$1 real
  real=$(readlink -f "$path")
  printf '%s\n' "$path" "$real" "${path#/usr}" "/usr$path" "${real#/usr}" "/usr$real"
}

# runtime_library_packages DIR: the packages that hold the shared libraries the
# ELF files under DIR need (ldd: direct and indirect). Fails, naming the file and
# the library, when a library is not found or belongs to no package.
runtime_library_packages() {
  local dir=${1%/} f line path bad=0
  local -A needed_by=() owner_of=() owners=()
  local files; files=$(elf_files "$dir")
  if [[ -z $files ]]; then
    echo "runtime_library_packages: no ELF files under $dir" >&2
    return 1
  fi
  while IFS= read -r f; do
    while read -r line; do
      case $line in
        *"=> not found"*)
          echo "$f needs ${line%% =>*}, which the loader does not find: install the package that has it" >&2
          bad=1
          continue
          ;;
        *"=> /"*) path=${line#*=> } ;;
        /*) path=$line ;;  # the dynamic loader itself
        *) continue ;;     # linux-vdso, or a static file
      esac
      path=${path%% (0x*}
      [[ $path == "$dir"/* ]] && continue  # one of ours, in the same tree
      needed_by[$path]=$f
    done < <(ldd "$f" 2>&1)
  done <<<"$files"
  ((${#needed_by[@]})) || return "$bad"
  # One dpkg-query for every name of every library: it reads the whole
  # database each time it runs.
  local candidates; candidates=$(for path in "${!needed_by[@]}"; do candidate_paths "$path"; done | sort -u)
  while IFS= read -r line; do
    [[ $line == diversion* || $line != *": /"* ]] && continue
    local pkg=${line%%: /*}  # "libc6:amd64: /lib/..." or "pkg1, pkg2: /usr/..."
    pkg=${pkg%%,*}
    owner_of[/${line#*: /}]=${pkg%%:*}
  done < <(mapfile -t c <<<"$candidates"; dpkg-query -S "${c[@]}" 2>/dev/null || true)
  for path in "${!needed_by[@]}"; do
    local found=
    while IFS= read -r f; do
      [[ -n ${owner_of[$f]:-} ]] && { found=${owner_of[$f]}; break; }
    done < <(candidate_paths "$path")
    if [[ -z $found ]]; then
      echo "${needed_by[$path]} needs $path, which no Debian package provides: a runtime image could not install it" >&2
      bad=1
      continue
    fi
    owners[$found]=1
  done
  ((bad == 0)) || return 1
  printf '%s\n' "${!owners[@]}" | sort
}

# check_runtime FILE: every ELF file listed in FILE (one path a line) exists and
# finds all its shared libraries, and every command mnigsd runs is installed.
check_runtime() {
  local f line bad=0 c
  while IFS= read -r f; do
    [[ -n $f ]] || continue
    if [[ ! -f $f ]]; then
      echo "check_runtime: $f is listed but not installed" >&2
      bad=1
      continue
    fi
    while read -r line; do
      if [[ $line == *"=> not found"* ]]; then
        echo "check_runtime: $f needs ${line%% =>*}, which no installed package provides" >&2
        bad=1
      fi
    done < <(ldd "$f" 2>&1)
  done <"$1"
  for c in "${MNIGS_RUNTIME_COMMANDS[@]}"; do
    if ! command -v "$c" >/dev/null; then
      echo "check_runtime: mnigsd runs $c, which is not installed: add its package to MNIGS_RUNTIME_PACKAGES in scripts/deps.sh" >&2
      bad=1
    fi
  done
  ((bad == 0))
}
