#!/usr/bin/env bash
# mnigs in action, on one machine: four network namespaces form a small mesh
#
#   inet ---- gw ==== relay ==== sub
#   10.254.0.1/24     10.77.1.0/24  10.77.2.0/24
#
# "inet" stands for the Internet (a web server), "gw" is a mesh node with an
# uplink that runs mnigsd as a gateway, "relay" is a plain mesh node and "sub"
# a subscriber with mesh routes but no default route. mnigs connects the
# subscriber to the gateway, and the subscriber fetches the page through it.
#
#   ./scripts/demo.sh          show each step, then keep running until Ctrl-C;
#                              the subscriber's RPC and web UI are on
#                              http://127.0.0.1:65533 meanwhile
#   ./scripts/demo.sh --once   the same steps without waiting, plus disconnect;
#                              exit 0 only if the fetch went through the
#                              gateway's NAT and stopped after disconnecting
#
# Run as root on Debian 12. Traffic stays on loopback and inside the demo's
# namespaces: no veth end is in the root namespace, no namespace has a route
# to the outside world, forwarding is only turned on inside the namespaces.
# The host reaches the subscriber's RPC through socat over a unix socket,
# not through routing. Everything is removed at exit, Ctrl-C included.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=deps.sh
source "$top/scripts/deps.sh"

once=0
case "${1:-}" in
  "") ;;
  --once) once=1 ;;
  -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
  *) echo "usage: $0 [--once]" >&2; exit 2 ;;
esac

# ---- the topology ----------------------------------------------------------

prefix=mnigs-demo-
nodes=(inet gw relay sub)
inet_addr=10.254.0.1            # the web server, "somewhere on the Internet"
uplink_addr=10.254.0.2          # the gateway's uplink; NAT hides the mesh behind it
uplink_if=to-inet
gw_mesh=10.77.1.1 gw_mesh6=fd77:0:0:1::1
relay_gw=10.77.1.2 relay_gw6=fd77:0:0:1::2
relay_sub=10.77.2.1 relay_sub6=fd77:0:0:2::1
sub_mesh=10.77.2.2 sub_mesh6=fd77:0:0:2::2
rpc_port=65533                  # daemon.rpcport, also the port on the host
gw_rpc_port=65533               # the gateway's daemon.rpcport, given to -c as -p
table=65533                     # forwarding.table: the subscriber's route via the gateway
url="http://$inet_addr/"
# Packages the demo runs besides the build: busybox httpd serves the page.
demo_packages=(iproute2 nftables socat curl busybox)

# ---- state, for cleanup ----------------------------------------------------

tmp=""
lock=/run/mnigs-demo.lock
have_lock=0
created_ns=()
procs=() # "PID NAME", one entry per process started, appended in one step
cleaned=0

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() {
  printf '==> FAILED: %s\n' "$*" >&2
  show_logs >&2
  exit 1
}

# Last lines of each daemon's log: the temp dir goes away at exit.
show_logs() {
  local n
  [[ -n $tmp ]] || return 0
  for n in gw relay sub; do
    [[ -s $tmp/$n.log ]] || continue
    printf -- '--- last lines of %s.log\n' "$n"
    tail -n 15 "$tmp/$n.log"
  done
}

ns() { printf '%s%s' "$prefix" "$1"; }

# run_in NODE CMD...: run CMD inside NODE's namespace ("host": the root namespace).
run_in() {
  local node=$1; shift
  if [[ $node == host ]]; then "$@"; else ip netns exec "$(ns "$node")" "$@"; fi
}

# A process still running (kill -0 also succeeds for a zombie).
alive() {
  local stat
  kill -0 "$1" 2>/dev/null || return 1
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# stop_pid PID NAME: SIGTERM, up to 10 s, then SIGKILL. Only PIDs this script
# started, or found inside its own namespaces.
stop_pid() {
  local pid=$1 name=$2 i child children=()
  alive "$pid" || return 0
  # socat forks a child per connection, httpd one per CGI: those go first.
  { read -ra children <"/proc/$pid/task/$pid/children"; } 2>/dev/null || true
  for child in "${children[@]}"; do
    stop_pid "$child" "$name child"
  done
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do alive "$pid" || return 0; sleep 0.2; done
  note "$name (PID $pid) still runs 10 s after SIGTERM: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 25; i++)); do alive "$pid" || return 0; sleep 0.2; done
  note "$name (PID $pid) does not go away"
}

cleanup() {
  local rc=$? i n pid children=()
  trap '' INT TERM # a second Ctrl-C must not leave half of it behind
  set +eu
  ((cleaned)) && return
  cleaned=1
  if ((${#procs[@]} || ${#created_ns[@]})); then say "cleaning up"; fi
  # Newest first: the socat relays before the subscriber's daemon, the daemons
  # before the web server.
  for ((i = ${#procs[@]} - 1; i >= 0; i--)); do
    stop_pid "${procs[i]%% *}" "${procs[i]#* }"
  done
  # A child started just before the signal, not yet in procs[].
  { read -ra children <"/proc/$$/task/$$/children"; } 2>/dev/null
  for pid in "${children[@]}"; do stop_pid "$pid" "child $pid"; done
  for n in "${created_ns[@]}"; do
    [[ -e /run/netns/$(ns "$n") ]] || continue
    # Whatever is left in our namespaces was started by our processes
    # (hooks, CGI scripts).
    for pid in $(ip netns pids "$(ns "$n")" 2>/dev/null); do
      stop_pid "$pid" "process in $(ns "$n")"
    done
    ip netns del "$(ns "$n")" 2>/dev/null || note "could not delete namespace $(ns "$n")"
  done
  [[ -n $tmp && -d $tmp ]] && rm -rf -- "$tmp"
  ((have_lock)) && rm -f -- "$lock"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# spawn NAME LOG NODE CMD...: start CMD in NODE's namespace in the background
# and remember its PID. No function or subshell in between: ip netns exec
# execs CMD, so $! is CMD itself. The lock stays with this script.
spawn() {
  local name=$1 log=$2 node=$3; shift 3
  if [[ $node == host ]]; then
    "$@" </dev/null >"$log" 2>&1 9>&- &
  else
    ip netns exec "$(ns "$node")" "$@" </dev/null >"$log" 2>&1 9>&- &
  fi
  procs+=("$! $name")
}

# wait_for TRIES DESC CMD...: run CMD every 0.2 s until it succeeds, at most
# TRIES times.
wait_for() {
  local tries=$1 desc=$2 i; shift 2
  for ((i = 0; i < tries; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "$desc"
}

# show NODE CMD...: print the command as typed at NODE's prompt, run it there
# (bounded), print its output indented. Returns the command's status.
show() {
  local node=$1; shift
  local text="$*" out rc=0
  text=${text//"$cli"/mnigs-cli}
  text=${text//"$tmp/"/}
  printf '    %s# %s\n' "$node" "$text"
  out=$(run_in "$node" timeout --foreground 60 "$@" 2>&1) || rc=$?
  [[ -z $out ]] || printf '%s\n' "$out" | sed 's/^/      /'
  ((rc == 0)) || printf '      (exit %d)\n' "$rc"
  return "$rc"
}

fetch() { run_in sub curl -sS --max-time 5 "$url"; }

# ---- 1. packages and build -------------------------------------------------

[[ $(id -u) -eq 0 ]] || die "run as root: the demo creates network namespaces"

# One demo at a time: the namespace names are fixed.
exec 9>"$lock"
flock -n 9 || die "another demo is running (it holds $lock)"
have_lock=1

tmp=$(mktemp -d /tmp/mnigs-demo.XXXXXX)
say "configs, data and logs in $tmp (removed at exit)"

say "packages: the build's and ${demo_packages[*]} (installed if missing)"
MNIGS_BUILD_PACKAGES+=("${demo_packages[@]}")
if ! install_deps build >"$tmp/apt.log" 2>&1; then
  tail -n 20 "$tmp/apt.log" >&2
  die "package installation failed"
fi
grep '^== installing' "$tmp/apt.log" | sed 's/^== /    /' || true

# The host end of the RPC relay needs this port.
if [[ -n $(ss -Hltn "sport = :$rpc_port") ]]; then
  ss -Hltnp "sport = :$rpc_port" | sed 's/^/    /' >&2
  die "TCP port $rpc_port is in use on this host (an mnigsd from up.sh?); the demo puts the subscriber's RPC and web UI there: stop it and run again"
fi

build="${MNIGS_RUN_BUILD_DIR:-$top/build-run}"
cli="$build/cli/mnigs-cli"
say "building into $build (quiet unless it fails)"
if ! build_tree "$build" -DMNIGS_BUILD_TESTS=OFF >"$tmp/build.log" 2>&1; then
  tail -n 40 "$tmp/build.log" >&2
  die "build failed (the whole log was $tmp/build.log)"
fi

# ---- 2. namespaces, links, routes ------------------------------------------

# Left over from a run that was killed with SIGKILL: empty ones can go.
for n in "${nodes[@]}"; do
  ip netns list | grep -qw "^$(ns "$n")" || continue
  if [[ -n $(ip netns pids "$(ns "$n")") ]]; then
    die "namespace $(ns "$n") is left from an earlier run and still has processes ($(ip netns pids "$(ns "$n")" | xargs)); end them, then: ip netns del $(ns "$n")"
  fi
  note "removing namespace $(ns "$n") left from an earlier run"
  ip netns del "$(ns "$n")"
done

say "creating namespaces ${nodes[*]/#/$prefix}"
for n in "${nodes[@]}"; do
  created_ns+=("$n") # first: a signal may come right after the add
  ip netns add "$(ns "$n")"
  ip -n "$(ns "$n")" link set lo up
done

# link A B: a veth pair created inside A's namespace with its peer directly in
# B's (never in the root namespace); A's end is to-B, B's end is to-A.
link() {
  ip -n "$(ns "$1")" link add "to-$2" type veth peer name "to-$1" netns "$(ns "$2")"
}
# addr NODE IFACE V4/LEN [V6/LEN]
addr() {
  ip -n "$(ns "$1")" addr add "$3" dev "$2"
  # nodad: usable at once rather than after duplicate address detection
  [[ -z ${4:-} ]] || ip -n "$(ns "$1")" addr add "$4" dev "$2" nodad
  ip -n "$(ns "$1")" link set "$2" up
}
# Writes to /proc/sys/net are per network namespace.
sysctl_in() { run_in "$1" sh -c "echo $3 > /proc/sys/net/$2"; }

say "wiring inet--gw (uplink), gw==relay==sub (mesh)"
link gw inet
addr inet to-gw "$inet_addr/24"
addr gw "$uplink_if" "$uplink_addr/24"
link gw relay
addr gw to-relay "$gw_mesh/24" "$gw_mesh6/64"
addr relay to-gw "$relay_gw/24" "$relay_gw6/64"
link relay sub
addr relay to-sub "$relay_sub/24" "$relay_sub6/64"
addr sub to-relay "$sub_mesh/24" "$sub_mesh6/64"

say "mesh routes, as a mesh routing protocol would install them"
# The relay forwards between its two mesh links.
sysctl_in relay ipv4/ip_forward 1
sysctl_in relay ipv6/conf/all/forwarding 1
ip -n "$(ns sub)" route add 10.77.1.0/24 via "$relay_sub"
ip -n "$(ns sub)" -6 route add fd77:0:0:1::/64 via "$relay_sub6"
ip -n "$(ns gw)" route add 10.77.2.0/24 via "$relay_gw"
ip -n "$(ns gw)" -6 route add fd77:0:0:2::/64 via "$relay_gw6"
# The gateway's uplink; the mesh protocol propagates the gateway's default
# route to the relay, but the subscriber has none: mnigs must provide it.
ip -n "$(ns gw)" route add default via "$inet_addr"
ip -n "$(ns relay)" route add default via "$gw_mesh"

# ---- the internet host's web server ----------------------------------------

www="$tmp/www"
mkdir -p "$www/cgi-bin"
install -m 0755 "$top/scripts/demo/index.cgi" "$www/cgi-bin/index.cgi"
say "web server on $url (busybox httpd in $(ns inet))"
spawn "httpd" "$tmp/httpd.log" inet busybox httpd -f -p "$inet_addr:80" -h "$www"
wait_for 50 "the web server does not answer on $url" run_in inet curl -fsS --max-time 2 "$url"

# ---- 3. configs and daemons ------------------------------------------------

# make_conf NODE [SECTION.KEY=VALUE...]: the default config, pointed at this
# build and at a data dir of the node's own, plus the node's keys.
make_conf() {
  local node=$1 conf="$tmp/$1.yaml" kv args=(); shift
  cp "$top/conf/mnigs.yaml" "$conf"
  mkdir -m 0700 "$tmp/$node"
  # plugins.dir first: plugin sections are known from the plugins found there.
  "$cli" -f "$conf" \
    --set "main.name=demo-$node" \
    --set "plugins.dir=$build/plugins" \
    --set "daemon.dataDir=$tmp/$node" \
    --set "daemon.webuiDir=$top/webui" >/dev/null ||
    die "cannot write $conf"
  # A plugin's section once plugins.dir names where it is. Each node's own
  # openvpn files: the nodes share this host's /run.
  "$cli" -f "$conf" --set "openvpn.runDir=$tmp/$node/openvpn" >/dev/null ||
    die "cannot write $conf"
  ((${#})) || return 0
  for kv in "$@"; do args+=(--set "$kv"); done
  "$cli" -f "$conf" "${args[@]}" >/dev/null || die "cannot set $* in $conf"
}

say "configs: gateway on gw (uplink $uplink_if), subscriber on sub (peer $gw_mesh)"
make_conf gw gateway.enabled=yes gateway.subscriberTimeout=60 "forwarding.uplink=$uplink_if"
make_conf relay
make_conf sub "static.peers=$gw_mesh"

declare -A daemon_pid
for n in gw relay sub; do
  say "starting mnigsd in $(ns "$n")"
  spawn "mnigsd ($n)" "$tmp/$n.log" "$n" "$build/daemon/mnigsd" -f "$tmp/$n.yaml"
  daemon_pid[$n]=${procs[-1]%% *}
done
for n in gw relay sub; do
  ready=0
  for ((i = 0; i < 100; i++)); do
    alive "${daemon_pid[$n]}" || die "mnigsd in $(ns "$n") exited"
    if run_in "$n" timeout 5 "$cli" -f "$tmp/$n.yaml" --status >/dev/null 2>&1; then
      ready=1
      break
    fi
    sleep 0.2
  done
  ((ready)) || die "mnigsd in $(ns "$n") does not answer --status after 20 s"
done
say "all three daemons answer (logs: $tmp/{gw,relay,sub}.log)"

# ---- 4. the subscriber gets Internet access --------------------------------

note "commands below run inside the namespace named at the prompt;"
note "mnigs-cli is $cli, the .yaml files are in $tmp"

say "the subscriber has mesh routes but no default route"
show sub ip route || true

say "so it cannot reach the internet host"
show sub ip route get "$inet_addr" || true
if show sub curl -sS --max-time 5 "$url"; then
  die "the subscriber reached $url before connecting: the topology leaks"
fi

say "the subscriber scans the mesh and finds the gateway's offer"
show sub "$cli" -f "$tmp/sub.yaml" -s || die "the subscriber's scan failed"
run_in sub "$cli" -f "$tmp/sub.yaml" --json -l | grep -q '"name" : "demo-gw"' ||
  die "the subscriber's scan did not find the gateway"

say "the gateway's nodeInfo, asked from the subscriber across the relay"
show sub "$cli" -f "$tmp/sub.yaml" --rpc "$gw_mesh" --info || true

say "the subscriber connects to the gateway"
show sub "$cli" -f "$tmp/sub.yaml" -c "$gw_mesh" -p "$gw_rpc_port" ||
  die "the subscriber could not connect to $gw_mesh"

say "the session, on both ends"
show gw "$cli" -f "$tmp/gw.yaml" --sessions || true
show sub "$cli" -f "$tmp/sub.yaml" --sessions || true

say "the subscriber's default route now lives in table $table, chosen by ip rules"
show sub ip route show table "$table" || true
show sub ip rule || true

say "the subscriber fetches the page through the gateway"
fetched=0 page=""
for ((i = 0; i < 10; i++)); do
  if page=$(fetch 2>&1); then fetched=1; break; fi
  sleep 0.5
done
printf '    sub# curl -sS %s\n' "$url"
printf '%s\n' "$page" | sed 's/^/      /'
nat_ok=0
if ((fetched)) && grep -qF "came from $uplink_addr." <<<"$page"; then
  nat_ok=1
  note "the server saw $uplink_addr, the gateway's uplink: the gateway NATs the subscriber"
elif ((fetched)); then
  note "the server did not see the gateway's uplink address $uplink_addr"
fi
((fetched && nat_ok)) || die "the fetch through the gateway did not work"

say "on the gateway, the forwarding plugin's nftables rules for the session"
show gw nft list ruleset || true

# ---- 5. the subscriber's RPC and web UI on the host ------------------------

say "relaying 127.0.0.1:$rpc_port on the host to the subscriber's RPC (socat, unix socket)"
sock="$tmp/sub-rpc.sock"
spawn "socat (sub)" "$tmp/socat-sub.log" sub \
  socat "UNIX-LISTEN:$sock,fork,mode=0600" "TCP:127.0.0.1:$rpc_port"
wait_for 50 "socat in $(ns sub) did not create $sock" test -S "$sock"
# Taken in the meantime? Say so rather than fight over it.
[[ -z $(ss -Hltn "sport = :$rpc_port") ]] ||
  die "TCP port $rpc_port was taken on this host while the demo started"
spawn "socat (host)" "$tmp/socat-host.log" host \
  socat "TCP-LISTEN:$rpc_port,bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:$sock"
wait_for 50 "socat on the host does not listen on 127.0.0.1:$rpc_port" \
  sh -c "ss -Hltn 'sport = :$rpc_port' | grep -q ."
show host "$cli" -f "$tmp/sub.yaml" --status ||
  die "the subscriber's RPC does not answer through the relay"

if ((once)); then
  say "the subscriber disconnects"
  show sub "$cli" -f "$tmp/sub.yaml" -d || die "disconnecting failed"
  say "and the internet host is out of reach again"
  blocked=0
  for ((i = 0; i < 10; i++)); do
    if ! fetch >/dev/null 2>&1; then blocked=1; break; fi
    sleep 0.5
  done
  show sub curl -sS --max-time 5 "$url" || true
  ((blocked)) || die "the subscriber still reaches $url after disconnecting"
  say "demo passed: the subscriber reached $url through the gateway's NAT ($uplink_addr), and lost it on disconnect"
  exit 0
fi

say "running; the subscriber stays connected. From this host:"
note "http://127.0.0.1:$rpc_port/   the subscriber's web UI, JSON-RPC at /jsonrpc"
note "$cli -f $tmp/sub.yaml --status"
note "  (-f: the RPC port from the config, the admin token from its data dir)"
note "inside the namespaces:"
note "ip netns exec $(ns sub) curl $url"
note "ip netns exec $(ns sub) $cli -f $tmp/sub.yaml -d      # disconnect"
note "ip netns exec $(ns gw) $cli -f $tmp/gw.yaml --sessions"
note "logs: $tmp/{gw,relay,sub}.log"
say "Ctrl-C stops the demo and removes everything it created"
# Waits for Ctrl-C (unbounded on purpose), but gives up if a process dies.
while :; do
  for p in "${procs[@]}"; do
    alive "${p%% *}" || die "${p#* } (PID ${p%% *}) exited"
  done
  sleep 1 9>&-
done
