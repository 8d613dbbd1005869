#!/usr/bin/env bash
# Builds the Debian package from this tree: build-deb/mnigs_<version>_<arch>.deb
# (mnigsd, mnigs-cli, the plugins, the web UI, /etc/mnigs/mnigs.yaml as a
# conffile, the systemd unit; packaging/debian/cpack.cmake). Its library
# dependencies come from dpkg-shlibdeps. Prints the file's path last.
#
#   scripts/deb.sh [BUILD_DIR]       (default build-deb)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/deps.sh
source "$top/scripts/deps.sh"

install_deps build
build=${1:-$top/build-deb}
build_tree "$build" -DMNIGS_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
(cd "$build" && cpack -G DEB >/dev/null)
deb=$(find "$build" -maxdepth 1 -name 'mnigs_*.deb' -printf '%T@ %p\n' | sort -n | tail -n 1 |
  cut -d' ' -f2-)
dpkg-deb --info "$deb" | sed -n 's/^ \(Package\|Version\|Architecture\|Depends\|Installed-Size\):/\1:/p'
echo "$deb"
