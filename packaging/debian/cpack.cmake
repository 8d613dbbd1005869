# `cpack -G DEB` in a tree configured with -DCMAKE_INSTALL_PREFIX=/usr makes
# mnigs_<version>_<arch>.deb: mnigsd, mnigs-cli, the plugins, the web UI, the
# config (a conffile), the systemd unit and the README. scripts/deb.sh does
# it; scripts/deb-test.sh installs the package in a Debian 12 container run
# by systemd and checks that the service starts.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mnigs)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Internet gateways for community mesh networks")
set(CPACK_PACKAGE_DESCRIPTION "mnigsd finds Internet gateways on a mesh (babel, batman-adv, \
cjdns, olsr, plain LANs), tests them, pays where needed, connects through a tunnel and \
switches gateways when one fails; a gateway offers its uplink and serves sessions. \
Driven by mnigs-cli, JSON-RPC and a web UI on port 65533.")
set(CPACK_PACKAGE_CONTACT "mnigs developers")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# Libraries: found by dpkg-shlibdeps from the binaries and plugins. Commands
# mnigsd runs (scripts/deps.sh MNIGS_RUNTIME_PACKAGES): listed here.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# init-system-helpers: deb-systemd-helper and deb-systemd-invoke (postinst).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "iproute2, nftables, procps, conntrack, init-system-helpers")
# The openvpn plugin runs openvpn itself; the discovery plugins read the mesh
# daemon one already runs.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "openvpn")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "babeld")
set(CPACK_STRIP_FILES ON)
file(WRITE "${CMAKE_BINARY_DIR}/debian/conffiles"
  "${CMAKE_INSTALL_FULL_SYSCONFDIR}/mnigs/mnigs.yaml\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${CMAKE_BINARY_DIR}/debian/conffiles"
  "${CMAKE_CURRENT_LIST_DIR}/postinst" "${CMAKE_CURRENT_LIST_DIR}/prerm"
  "${CMAKE_CURRENT_LIST_DIR}/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
