#!/usr/bin/env bash
# The OpenWrt feed (packaging/openwrt) without an OpenWrt SDK:
#  - shellcheck on the init script, the UCI translator and the test scripts;
#  - every package's Makefile evaluated by GNU make with stand-ins for the
#    buildroot's rules (tests/openwrt/sdk): each DEPENDS name is a package of
#    OpenWrt's feeds (packaging/openwrt/feed-packages.txt) or of this feed;
#  - every install recipe run on this build's files, laid out as the
#    package's cmake install (prefix /usr) lays them out: each file named
#    exists, and each plugin built goes into exactly one package;
#  - LuCI's menu and ACL files are JSON, its views parse as the functions
#    LuCI makes of them.
#
#   tests/openwrt/check.sh SOURCE_DIR BUILD_DIR WORK_DIR NODE
set -euo pipefail

src=$1
build=$2
work=$3
node=$4
feed=$src/packaging/openwrt
failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}
pass() { echo "ok: $*"; }

rm -rf "$work"
mkdir -p "$work"

echo "== shellcheck"
# From the source directory, where the scripts' "source=" directives point.
if (cd "$src" && shellcheck -x -s dash packaging/openwrt/mnigs/files/mnigs.init \
	packaging/openwrt/mnigs/files/mnigs-uci.sh tests/openwrt/run.sh tests/openwrt/reload.sh \
	tests/openwrt/lib.sh tests/openwrt/root/rc.common \
	tests/openwrt/root/functions.sh tests/openwrt/root/bin/uci tests/openwrt/root/bin/logger &&
	shellcheck -x tests/openwrt/check.sh); then
	pass "shellcheck finds nothing"
else
	fail "shellcheck"
fi

echo "== DEPENDS"
sdk=$src/tests/openwrt/sdk
make_pkg() { # DIR TARGET...
	local dir=$1
	shift
	make -s -C "$dir" TOPDIR="$sdk" PKG_INSTALL_DIR="$work/install" STAGE="$work/stage" "$@"
}
depends=$work/depends
for dir in "$feed"/*/; do
	[ -f "$dir/Makefile" ] || continue
	make_pkg "$dir" stub-depends >>"$depends" || fail "make cannot read ${dir%/}/Makefile"
done
ours=$(cut -d: -f1 "$depends")
known=$(sed 's/#.*//' "$feed/feed-packages.txt" | awk 'NF { print $1 }')
while IFS=: read -r pkg deps; do
	for d in $deps; do
		# +NAME, NAME, +PACKAGE_x:NAME and @SYMBOL forms; only names are checked.
		case $d in @*) continue ;; esac
		name=${d#+}
		name=${name##*:}
		if grep -Fxq -- "$name" <<<"$known$(printf '\n%s' "$ours")"; then
			pass "$pkg depends on $name, a known package"
		else
			fail "$pkg depends on '$name', which no feed defines (packaging/openwrt/feed-packages.txt)"
		fi
	done
done <"$depends"

echo "== install recipes"
# What `cmake --install` puts under PKG_INSTALL_DIR with OpenWrt's prefix /usr.
inst=$work/install
mkdir -p "$inst/usr/sbin" "$inst/usr/bin" "$inst/usr/lib/mnigs/plugins" "$inst/usr/share/mnigs" \
	"$inst/etc/mnigs"
cp "$build/daemon/mnigsd" "$inst/usr/sbin/"
cp "$build/cli/mnigs-cli" "$inst/usr/bin/"
cp "$build"/plugins/*.so "$inst/usr/lib/mnigs/plugins/"
cp -r "$src/webui" "$inst/usr/share/mnigs/webui"
cp "$build/mnigs.yaml" "$inst/etc/mnigs/"
pkgs=$(grep -v '^luci-' <<<"$ours" || true)
for pkg in $pkgs; do
	if make_pkg "$feed/mnigs" "stub-install-$pkg" >"$work/$pkg.log" 2>&1; then
		pass "$pkg installs"
	else
		fail "$pkg does not install: $(tail -n 3 "$work/$pkg.log")"
	fi
done
for f in "$build"/plugins/*.so; do
	name=$(basename "$f")
	n=$(find "$work/stage" -name "$name" | wc -l)
	if [ "$n" = 1 ]; then pass "$name is in one package"; else fail "$name is in $n packages"; fi
done
core=$work/stage/mnigs
for f in usr/sbin/mnigsd usr/bin/mnigs-cli etc/init.d/mnigs; do
	if [ -x "$core/$f" ]; then pass "/$f is executable"; else fail "/$f missing or not executable"; fi
done
for f in etc/config/mnigs etc/mnigs/mnigs.yaml usr/share/mnigs/uci.sh usr/share/mnigs/webui/index.html; do
	if [ -f "$core/$f" ]; then pass "/$f installed"; else fail "/$f missing"; fi
done
case $(stat -c %a "$core/etc/config/mnigs" 2>/dev/null) in
600) pass "/etc/config/mnigs is mode 0600 (it may hold the password for a moment)" ;;
*) fail "/etc/config/mnigs mode $(stat -c %a "$core/etc/config/mnigs")" ;;
esac

echo "== LuCI"
luci=$feed/luci-app-mnigs
for f in "$luci"/root/usr/share/*/*/*.json; do
	if "$node" -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$f"; then
		pass "${f#"$luci"/root} is JSON"
	else
		fail "${f#"$luci"/root} is not JSON"
	fi
done
if grep -q '"luci-app-mnigs"' "$luci/root/usr/share/rpcd/acl.d/luci-app-mnigs.json" &&
	grep -q '"acl": \[ "luci-app-mnigs" \]' "$luci/root/usr/share/luci/menu.d/luci-app-mnigs.json"; then
	pass "the menu depends on the ACL the app grants"
else
	fail "menu and ACL names differ"
fi
for f in "$luci"/htdocs/luci-static/resources/view/mnigs/*.js; do
	view=${f#"$luci"/htdocs/luci-static/resources/view/}
	grep -q "\"path\": \"${view%.js}\"" "$luci/root/usr/share/luci/menu.d/luci-app-mnigs.json" ||
		fail "no menu entry shows view $view"
	# LuCI runs a view's text as the body of a function.
	{
		echo "(function() {"
		cat "$f"
		echo "});"
	} >"$work/view.js"
	if "$node" --check "$work/view.js"; then pass "view $view parses"; else fail "view $view does not parse"; fi
done

if [ "$failures" -gt 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
rm -rf "$work"
echo "all checks passed"
