#!/bin/sh
# The OpenWrt init script and UCI translator (packaging/openwrt/mnigs/files),
# run by the shell under test with stand-ins for what only OpenWrt has
# (root/: /etc/rc.common with procd, /lib/functions.sh, uci, logger), the
# real mnigs-cli and mnigsd, and the package's own /etc/config/mnigs.
#
#   tests/openwrt/run.sh SHELL SOURCE_DIR MNIGSD MNIGS_CLI PLUGIN_DIR WORK_DIR
#
# SHELL is what runs the scripts (dash, "busybox sh"). No daemon runs: every
# change is made in the file; a port no test daemon uses keeps mnigs-cli
# from reaching one.
set -u

SH=$1
SRC=$2
MNIGSD_BIN=$3
CLI_BIN=$4
PLUGINS=$5
WORK=$6

HERE=$SRC/tests/openwrt
FILES=$SRC/packaging/openwrt/mnigs/files
failures=0
T=

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

pass() { echo "ok: $*"; }

# value SECTION KEY: the key's effective value in $CONF, as mnigsd reads it.
value() {
	"$MNIGSD_BIN" --dump-config -f "$CONF" 2>/dev/null | awk -v s="$1:" -v k="  $2:" '
		$0 == s { on = 1; next }
		/^[a-z]/ { on = 0 }
		on && index($0, k) == 1 { print substr($0, length(k) + 2); exit }'
}

expect_value() {
	got=$(value "$1" "$2")
	if [ "$got" = "$3" ]; then pass "$1.$2 = $3"; else fail "$1.$2 is '$got', not '$3'"; fi
}

expect_log() { # FILE LINE WHAT
	if grep -Fxq -- "$2" "$1"; then pass "$3"; else fail "$3: no line '$2' in $(basename "$1")"; fi
}

expect_no_log() {
	if grep -Fq -- "$2" "$1"; then fail "$3: '$2' in $(basename "$1")"; else pass "$3"; fi
}

# A fresh router: the package's files with this tree's paths, the shipped
# /etc/config/mnigs, a config naming the built plugins and a data directory.
setup() {
	T=$WORK/case
	rm -rf "$T"
	mkdir -p "$T/etc/config" "$T/etc/mnigs" "$T/share" "$T/data" "$T/bin"
	CONF=$T/etc/mnigs/mnigs.yaml
	port=$((40000 + $$ % 20000))
	sed -e "s|/usr/local/lib/mnigs/plugins|$PLUGINS|" \
		-e "s|dataDir: \"/var/lib/mnigs\"|dataDir: \"$T/data\"|" \
		-e "s|rpcport: 65533|rpcport: $port|" "$SRC/conf/mnigs.yaml" >"$CONF"
	cp "$FILES/mnigs.config" "$T/etc/config/mnigs"
	sed -e "s|/usr/share/mnigs|$T/share|" -e "s|/usr/sbin/mnigsd|$MNIGSD_BIN|" \
		-e "s|/etc/mnigs/mnigs.yaml|$CONF|" "$FILES/mnigs.init" >"$T/mnigs.init"
	sed -e "s|/usr/bin/mnigs-cli|$T/bin/mnigs-cli|" -e "s|/usr/sbin/mnigsd|$MNIGSD_BIN|" \
		"$FILES/mnigs-uci.sh" >"$T/share/uci.sh"
	# mnigs-cli, with each call written down.
	cat >"$T/bin/mnigs-cli" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"$T/cli.log"
exec "$CLI_BIN" "\$@"
EOF
	chmod +x "$T/bin/mnigs-cli"
	: >"$T/procd.log"
	: >"$T/uci.log"
	: >"$T/cli.log"
	: >"$T/logger.log"
}

# rc ACTION: /etc/init.d/mnigs ACTION, its output in $T/out.
rc() {
	: >"$T/procd.log"
	: >"$T/cli.log"
	PATH="$HERE/root/bin:$PATH" MNIGS_TEST_ROOT="$HERE/root" PROCD_LOG="$T/procd.log" \
		UCI_CONFIG_DIR="$T/etc/config" UCI_LOG="$T/uci.log" LOGGER_LOG="$T/logger.log" \
		MNIGS_TEST_NET_wan=eth1 MNIGS_TEST_NET_lan=br-lan \
		$SH "$HERE/root/rc.common" "$T/mnigs.init" "$1" >"$T/out" 2>&1
	rc_status=$?
}

uci_option() { # SECTION OPTION VALUE: sets it in /etc/config/mnigs
	UCI_CONFIG_DIR="$T/etc/config" UCI_LOG=/dev/null "$HERE/root/bin/uci" \
		set "mnigs.$1.$2=$3"
}

uci_list() { # SECTION OPTION VALUE: adds an item at the end of the section
	awk -v s="$1" -v o="$2" -v v="$3" '
		function add() { if (here) print "\tlist " o " \047" v "\047"; here = 0 }
		$1 == "config" { add(); n = $3; gsub(/\047/, "", n); here = (n == s) }
		{ print }
		END { add() }' "$T/etc/config/mnigs" >"$T/uci.new" && mv "$T/uci.new" "$T/etc/config/mnigs"
}

uci_clear_list() { # SECTION OPTION: removes the list's items
	awk -v s="$1" -v o="$2" '
		$1 == "config" { n = $3; gsub(/\047/, "", n); here = (n == s) }
		here && $1 == "list" && $2 == o { next }
		{ print }' "$T/etc/config/mnigs" >"$T/uci.new" && mv "$T/uci.new" "$T/etc/config/mnigs"
}

echo "== start with the package's /etc/config/mnigs ($SH)"
setup
rc start
[ "$rc_status" = 0 ] || fail "start exited $rc_status: $(cat "$T/out")"
expect_log "$T/procd.log" "open_instance" "an instance is opened"
expect_log "$T/procd.log" "set_param command $MNIGSD_BIN -f $CONF" "command is mnigsd -f the YAML"
expect_log "$T/procd.log" "set_param respawn" "respawn"
expect_log "$T/procd.log" "set_param file $CONF" "procd watches the YAML"
expect_log "$T/procd.log" "set_param stdout 1" "stdout to the log"
expect_log "$T/procd.log" "set_param stderr 1" "stderr to the log"
expect_log "$T/procd.log" "close_instance" "the instance is closed"
expect_log "$T/procd.log" "add_reload_trigger mnigs" "a change to /etc/config/mnigs reloads"
expect_log "$T/procd.log" "add_reload_interface_trigger wan" "wan coming up reloads"
expect_value gateway enabled false
expect_value subscriber auto true
expect_value dht enabled false
expect_value daemon webuiFrameSameHost true
expect_value gateway uplinks "[eth1]"
expect_value gateway payments "[free]"
if "$MNIGSD_BIN" --check-config -f "$CONF" >"$T/check.out" 2>&1; then
	pass "mnigsd --check-config accepts the YAML"
else
	fail "mnigsd --check-config: $(cat "$T/check.out")"
fi
cp "$CONF" "$T/after-first"

echo "== a second start with nothing changed changes nothing"
rc start
[ "$rc_status" = 0 ] || fail "start exited $rc_status"
expect_no_log "$T/cli.log" "--set" "mnigs-cli is not asked to set anything"
if cmp -s "$CONF" "$T/after-first"; then pass "the YAML is byte for byte the same"; else fail "the YAML changed"; fi

echo "== a key changed outside UCI keeps its value until its option changes"
"$CLI_BIN" -f "$CONF" --set subscriber.maxPrice=5 >/dev/null 2>&1
rc start
expect_value subscriber maxPrice 5
uci_option subscriber max_price 7
rc start
expect_value subscriber maxPrice 7
expect_log "$T/cli.log" "-f $CONF --set subscriber.maxPrice=7" "only the changed key is set"

echo "== options in UCI's own spellings, lists and networks"
uci_option gateway enabled on
uci_option main name 'corner "shop"'
uci_clear_list gateway payment
uci_list gateway payment webpage
uci_list gateway payment free
uci_option gateway price_per_hour 1.5
uci_option gateway currency EUR
uci_list discovery interface lan
uci_list discovery interface mesh0
rc start
[ "$rc_status" = 0 ] || fail "start exited $rc_status: $(cat "$T/out")"
expect_value gateway enabled true
expect_value main name '"corner \"shop\""'
expect_value gateway payments "[webpage, free]"
expect_value webpage pricePerHour '"1.5"'
expect_value webpage currency EUR
expect_value l2 interfaces "[br-lan, mesh0]"
expect_log "$T/procd.log" "add_reload_interface_trigger lan" "lan coming up reloads"

echo "== a wrong value: a clear error, nothing changed, started as it was"
cp "$CONF" "$T/before-bad"
cp "$CONF.uci" "$T/state-before-bad"
uci_option gateway max_connections lots
uci_option subscriber standby 0
rc start
[ "$rc_status" = 0 ] || fail "start exited $rc_status"
if grep -q "gateway.maxConnections" "$T/out" && grep -q "mnigs.gateway.max_connections" "$T/out"; then
	pass "the error names the UCI option and the key"
else
	fail "the error does not name mnigs.gateway.max_connections and gateway.maxConnections: $(cat "$T/out")"
fi
if cmp -s "$CONF" "$T/before-bad"; then pass "the YAML is unchanged"; else fail "the YAML changed"; fi
if cmp -s "$CONF.uci" "$T/state-before-bad"; then pass "what was applied is unchanged"; else fail "the state file changed"; fi
expect_log "$T/procd.log" "set_param command $MNIGSD_BIN -f $CONF" "mnigsd starts all the same"
if grep -q "max_connections" "$T/logger.log"; then pass "the error is in the system log"; else fail "no error in the system log"; fi
uci_option gateway max_connections 20

rc start

expect_value gateway maxConnections 20
expect_value subscriber standby 0

uci_option gateway enabled maybe
rc start
if grep -q "mnigs.gateway.enabled: 'maybe' is not a boolean" "$T/out"; then pass "a wrong boolean is named"; else fail "a wrong boolean: $(cat "$T/out")"; fi
expect_value gateway enabled true
uci_option gateway enabled 1
uci_list subscriber avoid 'a,b'
rc start
if grep -q "may not hold a comma" "$T/out"; then pass "a list item with a comma is refused"; else fail "a comma in a list item: $(cat "$T/out")"; fi

echo "== an empty /etc/config/mnigs leaves every key at its default"
setup
cp "$CONF" "$T/pristine"
: >"$T/etc/config/mnigs"
rc start
[ "$rc_status" = 0 ] || fail "start exited $rc_status: $(cat "$T/out")"
"$MNIGSD_BIN" --dump-config -f "$CONF" 2>/dev/null | sed 1d >"$T/dump-after"
"$MNIGSD_BIN" --dump-config -f "$T/pristine" 2>/dev/null | sed 1d >"$T/dump-before"
if cmp -s "$T/dump-after" "$T/dump-before"; then
	pass "the translator's defaults are conf/mnigs.yaml's"
else
	fail "an empty UCI config changed: $(diff "$T/dump-before" "$T/dump-after" | grep '^[<>]' | head -n 6)"
fi

echo "== the web UI password"
setup
uci_option main webui_password 'correct horse battery'
rc start
hash_file=$T/data/webui.password
if [ -f "$hash_file" ]; then pass "the password file is written"; else fail "no $hash_file: $(cat "$T/out")"; fi
case $(ls -l "$hash_file" 2>/dev/null) in
-rw-------*) pass "it is mode 0600" ;;
*) fail "its mode: $(ls -l "$hash_file")" ;;
esac
if grep -q "^[[:space:]]*option webui_password " "$T/etc/config/mnigs"; then
	fail "the plain password is still in UCI"
else
	pass "the plain password is gone from UCI"
fi
expect_log "$T/uci.log" "commit mnigs" "UCI is committed"
hash=$(cat "$hash_file")
if grep -Fq "webui_password_hash '$hash'" "$T/etc/config/mnigs"; then
	pass "UCI keeps the hash"
else
	fail "UCI has not the hash: $(grep webui "$T/etc/config/mnigs")"
fi
# shellcheck disable=SC2016 # crypt(5) prefixes, not expansions
case $hash in '$y$'* | '$6$'*) pass "a crypt(5) hash" ;; *) fail "not a crypt hash: $hash" ;; esac
rm -f "$hash_file"
: >"$T/uci.log"
rc start
if [ "$(cat "$hash_file" 2>/dev/null)" = "$hash" ]; then
	pass "after a reboot emptied dataDir, the hash is put back"
else
	fail "the hash was not put back"
fi
expect_no_log "$T/uci.log" "commit" "nothing committed when nothing changed"
printf 'another one here\n' | "$CLI_BIN" -f "$CONF" --set-password >/dev/null 2>&1
rc start
if grep -Fq "webui_password_hash '$(cat "$hash_file")'" "$T/etc/config/mnigs"; then
	pass "a password set with mnigs-cli is copied into UCI"
else
	fail "UCI keeps an old hash"
fi
uci_option main webui_password short
rc start
if grep -q "webui_password was refused" "$T/out"; then pass "a short password is refused"; else fail "short password: $(cat "$T/out")"; fi
if grep -q "webui_password 'short'" "$T/etc/config/mnigs"; then pass "and stays in UCI to be mended"; else fail "the refused password vanished"; fi

echo "== disabled, and reload"
setup
uci_option main enabled 0
rc start
expect_no_log "$T/procd.log" "open_instance" "a disabled service opens no instance"
uci_option main enabled 1
uci_option subscriber auto 0
rc reload
[ "$rc_status" = 0 ] || fail "reload exited $rc_status: $(cat "$T/out")"
expect_value subscriber auto false
expect_log "$T/procd.log" "start" "reload starts mnigsd when it does not run"
uci_option main enabled 0
rc reload
expect_log "$T/procd.log" "stop" "reload stops a service that was disabled"

[ "$failures" -gt 0 ] || rm -rf "$WORK/case"
if [ "$failures" -gt 0 ]; then
	echo "$failures check(s) failed under $SH"
	exit 1
fi
echo "all checks passed under $SH"
