# shellcheck shell=dash
# /usr/share/mnigs/uci.sh: /etc/config/mnigs (UCI) applied to mnigsd's YAML,
# which stays the daemon's only config. Sourced by /etc/init.d/mnigs after
# /lib/functions.sh; the caller has run `config_load mnigs`.
#
# mnigs_uci_apply CONF
#   Each UCI option below names one YAML key. The keys whose UCI value
#   differs from the one applied last (kept in CONF.uci) are set with one
#   `mnigs-cli -f CONF --set KEY=VALUE ...`: through mnigsd when it runs
#   (live keys apply at once, without dropping sessions), else in the file.
#   mnigs-cli checks every value as mnigsd would; if one is wrong, it names
#   it and nothing changes. So a key changed since in the web UI or the
#   file keeps its value until its UCI option changes. An option that is
#   absent (or empty, for lists) stands for the key's default.
#   Prints mnigs-cli's report. Returns 0 when all is applied (or nothing
#   changed), 1 when something was refused: CONF is then as it was.
#
# The web UI password (option webui_password in section main) is written
# once, hashed, by `mnigs-cli --set-password`; the plain text is then
# removed from UCI and the hash kept as webui_password_hash, from which the
# hash file is put back when daemon.dataDir lost it (/var is in RAM).

MNIGS_CLI=${MNIGS_CLI:-/usr/bin/mnigs-cli}
MNIGSD=${MNIGSD:-/usr/sbin/mnigsd}

mnigs_log() {
	echo "mnigs: $*" >&2
	if command -v logger >/dev/null 2>&1; then logger -t mnigs -- "$*"; fi
}

# _mnigs_set OPTION KEY VALUE: want KEY=VALUE, from UCI option OPTION
# (unless _mnigs_skip: then the key stays as it is, and is not recorded).
_mnigs_set() {
	if [ -n "$_mnigs_skip" ]; then
		_mnigs_skip=
		return
	fi
	case $3 in
	*'
'*)
		mnigs_log "mnigs.$1: a value on several lines is not allowed"
		_mnigs_bad=1
		return
		;;
	esac
	_mnigs_wanted="$_mnigs_wanted$2=$3
"
	_mnigs_origin="$_mnigs_origin$2 mnigs.$1
"
}

# _mnigs_scalar SECTION OPTION KEY DEFAULT
_mnigs_scalar() {
	_mnigs_v=
	config_get _mnigs_v "$1" "$2" "$4"
	_mnigs_set "$1.$2" "$3" "$_mnigs_v"
}

# _mnigs_bool SECTION OPTION KEY DEFAULT(0|1): UCI's spellings of true and
# false; anything else is an error, not the default.
_mnigs_bool() {
	_mnigs_v=
	config_get _mnigs_v "$1" "$2" "$4"
	case $_mnigs_v in
	1 | on | true | yes | enabled) _mnigs_set "$1.$2" "$3" true ;;
	0 | off | false | no | disabled) _mnigs_set "$1.$2" "$3" false ;;
	*)
		mnigs_log "mnigs.$1.$2: '$_mnigs_v' is not a boolean (use 0 or 1)"
		_mnigs_bad=1
		;;
	esac
}

# _mnigs_item VALUE: appends one list item to _mnigs_list.
_mnigs_item() {
	case $1 in
	*,* | *'[' | '['* | *'
'*)
		mnigs_log "mnigs.$_mnigs_option: '$1' may not hold a comma, a bracket or a newline"
		_mnigs_bad=1
		return
		;;
	esac
	_mnigs_list="$_mnigs_list${_mnigs_list:+,}$1"
}

# _mnigs_device_item NAME: a network (lan, wan) becomes its device. A name
# that cannot be a network (br-lan, eth0.2) is taken as a device. A network
# netifd knows but that is down has no device yet: the key is left as it is
# (_mnigs_skip), to be set by the reload its coming up brings.
_mnigs_device_item() {
	_mnigs_dev=
	case $1 in
	*[!A-Za-z0-9_]*) ;;
	*)
		if command -v network_get_device >/dev/null 2>&1; then
			network_get_device _mnigs_dev "$1" || _mnigs_dev=
		fi
		if [ -z "$_mnigs_dev" ] && uci -q get "network.$1" >/dev/null 2>&1; then
			mnigs_log "network $1 is down: mnigs.$_mnigs_option waits until it is up"
			_mnigs_skip=1
			return
		fi
		;;
	esac
	_mnigs_item "${_mnigs_dev:-$1}"
}

# _mnigs_listopt SECTION OPTION KEY DEFAULT [ITEM_FUNCTION]: a UCI list;
# none (or no items) stands for DEFAULT, given comma-separated.
_mnigs_listopt() {
	_mnigs_list=
	_mnigs_option="$1.$2"
	config_list_foreach "$1" "$2" "${5:-_mnigs_item}"
	_mnigs_set "$1.$2" "$3" "${_mnigs_list:-$4}"
}

# mnigs_uci_networks: the UCI options that may name networks, one per line
# (for procd's interface triggers).
mnigs_uci_networks() {
	config_get _mnigs_v gateway uplink
	{
		echo "$_mnigs_v"
		config_list_foreach discovery interface echo
	} | grep -x '[A-Za-z0-9_][A-Za-z0-9_]*'
}

# _mnigs_password CONF: the password from UCI hashed into the file, or the
# file put back from the hash kept in UCI. A hash changed outside UCI
# (mnigs-cli --set-password) is copied into UCI.
_mnigs_password() {
	_mnigs_dir=$(_mnigs_data_dir "$1") || return 1
	_mnigs_file="$_mnigs_dir/webui.password"
	_mnigs_pw=
	_mnigs_commit=
	# Our own save directory: what another admin staged is not committed.
	_mnigs_save=$(mktemp -d "${TMPDIR:-/tmp}/mnigs-uci.XXXXXX") || return 1
	config_get _mnigs_pw main webui_password
	if [ -n "$_mnigs_pw" ]; then
		if ! printf '%s\n' "$_mnigs_pw" | "$MNIGS_CLI" -f "$1" --set-password; then
			mnigs_log "mnigs.main.webui_password was refused; it stays in UCI until it is mended"
			rm -rf "$_mnigs_save"
			return 1
		fi
		uci -q -t "$_mnigs_save" delete mnigs.main.webui_password
		_mnigs_commit=1
	fi
	_mnigs_hash=
	config_get _mnigs_hash main webui_password_hash
	_mnigs_status=0
	if [ -e "$_mnigs_file" ]; then
		_mnigs_now=$(cat "$_mnigs_file") || _mnigs_now=
		case $_mnigs_now in
		'$'*'
'* | '$'*"'"*) _mnigs_now= ;;
		'$'*) ;;
		*) _mnigs_now= ;;
		esac
		if [ -z "$_mnigs_now" ]; then
			mnigs_log "$_mnigs_file holds no crypt(5) hash: not copied into UCI"
			_mnigs_status=1
		elif [ "$_mnigs_now" != "$_mnigs_hash" ]; then
			uci -q -t "$_mnigs_save" set mnigs.main.webui_password_hash="$_mnigs_now"
			_mnigs_commit=1
		fi
	elif [ -n "$_mnigs_hash" ]; then
		(umask 077 && mkdir -p "$_mnigs_dir" &&
			printf '%s\n' "$_mnigs_hash" >"$_mnigs_file.tmp" &&
			mv "$_mnigs_file.tmp" "$_mnigs_file") || {
			mnigs_log "cannot put the web UI password back into $_mnigs_file"
			_mnigs_status=1
		}
	fi
	[ -z "$_mnigs_commit" ] || uci -q -t "$_mnigs_save" commit mnigs
	rm -rf "$_mnigs_save"
	return "$_mnigs_status"
}

# _mnigs_data_dir CONF: daemon.dataDir, as mnigsd reads it; fails (and says
# why) when mnigsd cannot read CONF, or for a path its dump would escape.
_mnigs_data_dir() {
	_mnigs_dump=$("$MNIGSD" --dump-config -f "$1" 2>&1) || {
		mnigs_log "mnigsd cannot read $1: $(printf '%s' "$_mnigs_dump" | tail -n 1)"
		return 1
	}
	_mnigs_dd=$(printf '%s\n' "$_mnigs_dump" | sed -n 's/^  dataDir: //p' | head -n 1)
	case $_mnigs_dd in
	/*[\\\"\']* | [!/]* | "")
		mnigs_log "daemon.dataDir ($_mnigs_dd) must be a plain absolute path for the web UI password"
		return 1
		;;
	esac
	printf '%s\n' "$_mnigs_dd"
}

mnigs_uci_apply() {
	_mnigs_conf=$1
	_mnigs_state="$1.uci"
	_mnigs_wanted=
	_mnigs_origin=
	_mnigs_bad=
	_mnigs_skip=

	# The defaults below are conf/mnigs.yaml's; tests/openwrt checks that
	# an empty /etc/config/mnigs changes no value of that file.
	_mnigs_scalar main name main.name ''
	_mnigs_scalar main log_level daemon.logLevel info
	_mnigs_bool main dht dht.enabled 1
	_mnigs_bool main webui_in_luci daemon.webuiFrameSameHost 0

	_mnigs_bool gateway enabled gateway.enabled 0
	# One uplink: a list in the YAML, an option here.
	_mnigs_list=
	_mnigs_option=gateway.uplink
	config_get _mnigs_v gateway uplink
	[ -z "$_mnigs_v" ] || _mnigs_device_item "$_mnigs_v"
	_mnigs_set gateway.uplink gateway.uplinks "$_mnigs_list"
	_mnigs_scalar gateway max_connections gateway.maxConnections 10
	_mnigs_listopt gateway payment gateway.payments free
	_mnigs_listopt gateway tunnel gateway.tunnels forwarding,websocket,gre,ipip,openvpn,cjdns
	_mnigs_scalar gateway throttle_kbit gateway.throttleKbit 0
	# The payment page's offer, only where that page is offered.
	config_get _mnigs_v gateway payment
	case " $_mnigs_v " in
	*" webpage "*)
		_mnigs_scalar gateway title webpage.title 'Internet access'
		_mnigs_scalar gateway currency webpage.currency ''
		_mnigs_scalar gateway price_per_hour webpage.pricePerHour 0
		_mnigs_scalar gateway price_per_gb webpage.pricePerGB 0
		_mnigs_bool gateway voucher_only webpage.voucherOnly 1
		;;
	esac

	_mnigs_bool subscriber auto subscriber.auto 0
	_mnigs_scalar subscriber max_price subscriber.maxPrice 0
	_mnigs_listopt subscriber prefer subscriber.prefer ''
	_mnigs_listopt subscriber avoid subscriber.avoid ''
	_mnigs_scalar subscriber standby subscriber.standby 1

	_mnigs_listopt discovery interface l2.interfaces '' _mnigs_device_item
	_mnigs_listopt discovery static_peer static.peers ''
	_mnigs_scalar discovery scan_interval scan.interval 600

	# The password is apart: its trouble does not hold back the options.
	_mnigs_pw_status=0
	_mnigs_password "$_mnigs_conf" || _mnigs_pw_status=1
	if [ -n "$_mnigs_bad" ]; then
		mnigs_log "nothing applied from /etc/config/mnigs"
		return 1
	fi

	# Only what changed since the last time, so that a key changed in the
	# web UI is not undone at each start.
	set --
	_mnigs_changed=
	while IFS= read -r _mnigs_line; do
		[ -n "$_mnigs_line" ] || continue
		if ! grep -Fxq -- "$_mnigs_line" "$_mnigs_state" 2>/dev/null; then
			set -- "$@" --set "$_mnigs_line"
			_mnigs_changed="$_mnigs_changed${_mnigs_line%%=*} "
		fi
	done <<EOF
$_mnigs_wanted
EOF
	[ $# -gt 0 ] || return "$_mnigs_pw_status"
	if ! "$MNIGS_CLI" -f "$_mnigs_conf" "$@"; then
		for _mnigs_key in $_mnigs_changed; do
			_mnigs_line=$(printf '%s' "$_mnigs_origin" | grep -F -m 1 -- "$_mnigs_key ")
			mnigs_log "${_mnigs_line#* } sets $_mnigs_key"
		done
		mnigs_log "nothing applied from /etc/config/mnigs; $_mnigs_conf is as it was"
		return 1
	fi
	(umask 077 && printf '%s' "$_mnigs_wanted" >"$_mnigs_state.tmp" &&
		mv "$_mnigs_state.tmp" "$_mnigs_state") ||
		mnigs_log "cannot write $_mnigs_state: all options will be applied again next time"
	return "$_mnigs_pw_status"
}
