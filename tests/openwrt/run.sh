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

# shellcheck source=tests/openwrt/lib.sh
. "$2/tests/openwrt/lib.sh"

echo "== start with the package's /etc/config/mnigs ($SH)"
setup
rc start
[ "$rc_status" = 0 ] || fail "start exited $rc_status: $(cat "$T/out")"
expect_log "$T/procd.log" "open_instance" "an instance is opened"
expect_log "$T/procd.log" "set_param command $MNIGSD_BIN -f $CONF" "command is mnigsd -f the YAML"
expect_log "$T/procd.log" "set_param respawn" "respawn"
expect_no_log "$T/procd.log" "set_param file" "procd does not restart mnigsd when the YAML changes"
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
uci_list discovery interface eth0.2
rc start
[ "$rc_status" = 0 ] || fail "start exited $rc_status: $(cat "$T/out")"
expect_value gateway enabled true
expect_value main name '"corner \"shop\""'
expect_value gateway payments "[webpage, free]"
expect_value webpage pricePerHour '"1.5"'
expect_value webpage currency EUR
expect_value l2 interfaces "[br-lan, mesh0, eth0.2]"
expect_log "$T/procd.log" "add_reload_interface_trigger lan" "lan coming up reloads"
expect_no_log "$T/procd.log" "add_reload_interface_trigger eth0.2" "a device is no network to watch"

echo "== a network that is down: its key waits for it"
uci_list discovery interface meshnet
rc start
if grep -q "network meshnet is down" "$T/out"; then pass "it says so"; else fail "no word of meshnet: $(cat "$T/out")"; fi
expect_value l2 interfaces "[br-lan, mesh0, eth0.2]"
expect_log "$T/procd.log" "add_reload_interface_trigger meshnet" "meshnet coming up reloads"
NETS=MNIGS_TEST_NET_meshnet=mesh1
rc reload
expect_value l2 interfaces "[br-lan, mesh0, eth0.2, mesh1]"
NETS=

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
if grep -q "^savedir " "$T/uci.log"; then
	pass "from a save directory of its own (others' staged changes stay staged)"
else
	fail "uci was not given a save directory of its own"
fi
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
expect_log "$T/procd.log" "start" "reload of a disabled service sends procd..."
expect_no_log "$T/procd.log" "open_instance" "...no instance, so mnigsd stops and the triggers stay"

finish
