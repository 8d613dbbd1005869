# Stand-in for an OpenWrt buildroot's rules.mk, enough to evaluate
# packaging/openwrt/*/Makefile outside an SDK (tests/openwrt/check.sh): the
# install commands, with the values OpenWrt gives them.
INCLUDE_DIR:=$(TOPDIR)/include
INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_DATA:=install -m0644
INSTALL_CONF:=install -m0600
CP:=cp -fpR
