# shellcheck shell=dash
# Stand-in for OpenWrt's /lib/functions.sh: the UCI calls mnigs's init script
# and translator use, with the behaviour OpenWrt documents for them. Options
# live in CONFIG_<section>_<option>; a list's items are also joined by spaces
# there and kept as CONFIG_<section>_<option>_ITEM<n> with _LENGTH.
# config_load reads $UCI_CONFIG_DIR/<package>, whose syntax (config, option,
# list, quoted values) is shell syntax, by evaluating it.

CONFIG_SECTIONS=
CONFIG_SECTION=
_stub_anon=0

config() {
	_stub_name=$2
	if [ -z "$_stub_name" ]; then
		_stub_anon=$((_stub_anon + 1))
		_stub_name="cfg$_stub_anon"
	fi
	CONFIG_SECTION=$_stub_name
	CONFIG_SECTIONS="$CONFIG_SECTIONS $_stub_name"
	eval "CONFIG_${_stub_name}_TYPE=\$1"
}

option() {
	eval "CONFIG_${CONFIG_SECTION}_$1=\$2"
}

list() {
	eval "_stub_len=\${CONFIG_${CONFIG_SECTION}_$1_LENGTH:-0}"
	_stub_len=$((_stub_len + 1))
	eval "CONFIG_${CONFIG_SECTION}_$1_ITEM$_stub_len=\$2"
	eval "CONFIG_${CONFIG_SECTION}_$1_LENGTH=$_stub_len"
	eval "_stub_all=\${CONFIG_${CONFIG_SECTION}_$1}"
	eval "CONFIG_${CONFIG_SECTION}_$1=\"\${_stub_all:+\$_stub_all }\$2\""
}

package() { :; }

config_load() {
	for _stub_s in $CONFIG_SECTIONS; do
		for _stub_v in $(set | sed -n "s/^\(CONFIG_${_stub_s}_[A-Za-z0-9_]*\)=.*/\1/p"); do
			unset "$_stub_v"
		done
	done
	CONFIG_SECTIONS=
	_stub_anon=0
	[ -f "$UCI_CONFIG_DIR/$1" ] || return 0
	# shellcheck source=/dev/null
	. "$UCI_CONFIG_DIR/$1"
}

# config_get VAR SECTION OPTION [DEFAULT], or config_get SECTION OPTION.
config_get() {
	case $3 in
	"")
		eval "echo \"\${CONFIG_$1_$2:-\${4}}\""
		;;
	*)
		eval "$1=\"\${CONFIG_$2_$3:-\${4}}\""
		;;
	esac
}

get_bool() {
	case $1 in
	1 | on | true | yes | enabled) echo 1 ;;
	0 | off | false | no | disabled) echo 0 ;;
	*) echo "$2" ;;
	esac
}

config_get_bool() {
	_stub_b=
	config_get _stub_b "$2" "$3"
	_stub_b=$(get_bool "$_stub_b" "$4")
	eval "$1=\$_stub_b"
}

# config_foreach FUNCTION [TYPE] [ARGS...]
config_foreach() {
	local _stub_f _stub_t _stub_s _stub_st
	_stub_f=$1
	shift
	_stub_t=$1
	[ $# -gt 0 ] && shift
	for _stub_s in $CONFIG_SECTIONS; do
		eval "_stub_st=\$CONFIG_${_stub_s}_TYPE"
		[ -z "$_stub_t" ] || [ "$_stub_t" = "$_stub_st" ] || continue
		"$_stub_f" "$_stub_s" "$@"
	done
}

# config_list_foreach SECTION OPTION FUNCTION [ARGS...]
config_list_foreach() {
	local _stub_ls _stub_lo _stub_lf _stub_n _stub_i _stub_item
	_stub_ls=$1
	_stub_lo=$2
	_stub_lf=$3
	shift 3
	eval "_stub_n=\${CONFIG_${_stub_ls}_${_stub_lo}_LENGTH:-0}"
	_stub_i=1
	while [ "$_stub_i" -le "$_stub_n" ]; do
		eval "_stub_item=\$CONFIG_${_stub_ls}_${_stub_lo}_ITEM$_stub_i"
		"$_stub_lf" "$_stub_item" "$@"
		_stub_i=$((_stub_i + 1))
	done
}
