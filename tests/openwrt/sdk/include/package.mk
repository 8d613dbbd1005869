# Stand-in for OpenWrt's include/package.mk (tests/openwrt/check.sh).
# BuildPackage(name) evaluates Package/<name> as OpenWrt does and adds:
#   stub-install-<name>: Package/<name>/install into $(STAGE)/<name>;
#   stub-depends: prints "<name>: <DEPENDS>" for every package.
define BuildPackage
  DEPENDS:=
  TITLE:=
  $$(eval $$(Package/$(1)))
  STUB_DEPENDS_$(1):=$$(DEPENDS)
  STUB_PACKAGES+=$(1)
  stub-install-$(1):
	mkdir -p $(STAGE)/$(1)
	$$(call Package/$(1)/install,$(STAGE)/$(1))
  stub-depends::
	@echo '$(1): $$(strip $$(STUB_DEPENDS_$(1)))'
endef
