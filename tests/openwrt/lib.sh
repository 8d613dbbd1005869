# shellcheck shell=dash disable=SC2034 # rc_status is read by the scripts that source this
# Helpers of tests/openwrt/run.sh and reload.sh, sourced at their top level,
# where "$@" is their command line: SHELL SOURCE_DIR MNIGSD MNIGS_CLI
# PLUGIN_DIR WORK_DIR.

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
	# netifd's networks: wan and lan are up (devices in rc below), meshnet
	# is known but down unless a test gives it a device.
	printf "config interface '%s'\n" wan lan meshnet >"$T/etc/config/network"
	NETS=
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

# rc ACTION: /etc/init.d/mnigs ACTION, its output in $T/out. NETS may add
# MNIGS_TEST_NET_<network>=<device> assignments.
rc() {
	: >"$T/procd.log"
	: >"$T/cli.log"
	# shellcheck disable=SC2086 # SH is a command with arguments; NETS, words
	env PATH="$HERE/root/bin:$PATH" MNIGS_TEST_ROOT="$HERE/root" PROCD_LOG="$T/procd.log" \
		UCI_CONFIG_DIR="$T/etc/config" UCI_LOG="$T/uci.log" LOGGER_LOG="$T/logger.log" \
		MNIGS_TEST_NET_wan=eth1 MNIGS_TEST_NET_lan=br-lan $NETS \
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


# finish: the summary, and the exit status; the work directory is kept when
# something failed.
finish() {
	if [ "$failures" -gt 0 ]; then
		echo "$failures check(s) failed under $SH (files in $WORK/case)"
		exit 1
	fi
	rm -rf "$WORK/case"
	echo "all checks passed under $SH"
	exit 0
}
