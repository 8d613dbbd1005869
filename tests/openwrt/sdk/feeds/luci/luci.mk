# Stand-in for the LuCI feed's luci.mk (tests/openwrt/check.sh): the package
# it defines, named after the directory, with LUCI_DEPENDS.
LUCI_NAME?=$(notdir $(CURDIR))
STUB_PACKAGES+=$(LUCI_NAME)
stub-depends::
	@echo '$(LUCI_NAME): $(strip $(LUCI_DEPENDS))'
