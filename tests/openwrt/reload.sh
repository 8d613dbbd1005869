#!/bin/sh
# /etc/init.d/mnigs reload with mnigsd running, as procd runs it when
# /etc/config/mnigs changes: a live option reaches the running daemon and
# nothing restarts; an option that applies at a restart makes the script
# restart it; a wrong value fails the reload and the daemon keeps its
# settings. mnigsd runs in a network namespace of its own (root needed), so
# its plugins touch nothing of the host.
#
#   tests/openwrt/reload.sh SHELL SOURCE_DIR MNIGSD MNIGS_CLI PLUGIN_DIR WORK_DIR
set -u

if [ -z "${MNIGS_OPENWRT_NETNS:-}" ]; then
	MNIGS_OPENWRT_NETNS=1 exec unshare --net "$0" "$@"
fi
ip link set lo up

# shellcheck source=tests/openwrt/lib.sh
. "$2/tests/openwrt/lib.sh"

pid=
stop_daemon() {
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
}
trap stop_daemon EXIT

# running KEY: the value the running daemon uses.
running() {
	"$CLI_BIN" -f "$CONF" --json --get "$1" 2>/dev/null |
		sed -n 's/^[[:space:]]*"value" : "\{0,1\}\([^"]*\)"\{0,1\},\{0,1\}$/\1/p'
}

setup
rc start
[ "$rc_status" = 0 ] || fail "start exited $rc_status: $(cat "$T/out")"
"$MNIGSD_BIN" -f "$CONF" >"$T/daemon.log" 2>&1 &
pid=$!
tries=0
until "$CLI_BIN" -f "$CONF" --status >/dev/null 2>&1; do
	tries=$((tries + 1))
	if [ "$tries" -gt 150 ] || ! kill -0 "$pid" 2>/dev/null; then
		fail "mnigsd did not answer: $(tail -n 5 "$T/daemon.log")"
		finish
	fi
	sleep 0.1
done
pass "mnigsd runs with the YAML the init script wrote"

echo "== a live option: applied by the running daemon, no restart ($SH)"
[ "$(running subscriber.auto)" = true ] || fail "subscriber.auto is not true at the start"
uci_option subscriber auto 0
uci_option gateway max_connections 25
rc reload
[ "$rc_status" = 0 ] || fail "reload exited $rc_status: $(cat "$T/out")"
expect_no_log "$T/procd.log" "stop" "mnigsd is not stopped"
expect_log "$T/procd.log" "set_param command $MNIGSD_BIN -f $CONF" \
	"the same instance is sent again (procd keeps it running)"
if grep -q "^set_param file" "$T/procd.log"; then
	fail "the instance names a file: procd would restart mnigsd whenever it changes"
else
	pass "the instance names no file whose change would restart mnigsd"
fi
if [ "$(running subscriber.auto)" = false ] && [ "$(running gateway.maxConnections)" = 25 ]; then
	pass "the daemon uses the new values"
else
	fail "the daemon has subscriber.auto=$(running subscriber.auto)," \
		"gateway.maxConnections=$(running gateway.maxConnections)"
fi
expect_value subscriber auto false
if kill -0 "$pid" 2>/dev/null; then pass "the same mnigsd still runs"; else fail "mnigsd ended"; fi

echo "== an option that applies at a restart: the script restarts mnigsd"
uci_option main dht 1
rc reload
[ "$rc_status" = 0 ] || fail "reload exited $rc_status: $(cat "$T/out")"
expect_log "$T/procd.log" "stop" "mnigsd is stopped"
expect_log "$T/procd.log" "start" "and started again"
expect_value dht enabled true

echo "== a wrong value: the reload fails, the daemon keeps its settings"
uci_option gateway max_connections 0
rc reload
if [ "$rc_status" != 0 ]; then pass "reload fails"; else fail "reload succeeded"; fi
if grep -q "mnigs.gateway.max_connections" "$T/out"; then pass "and names the option"; else fail "no option named: $(cat "$T/out")"; fi
if [ "$(running gateway.maxConnections)" = 25 ]; then
	pass "the daemon keeps 25"
else
	fail "the daemon has gateway.maxConnections=$(running gateway.maxConnections)"
fi
expect_value gateway maxConnections 25

stop_daemon
finish
