#!/usr/bin/env bash
# shellcheck disable=SC2317 # the helpers are called through check() and trap
# System test of scripts/demo.sh, the README's first command.
#
# 1. `demo.sh --once` must exit 0: the subscriber fetched the internet host's
#    page through the gateway, the server saw the gateway's uplink address
#    (NAT), and the fetch failed again after disconnecting. Afterwards nothing
#    of the demo may be left: namespaces, temp dir, lock, listener on the host.
# 2. `demo.sh` without --once must come up, serve the subscriber's web UI and
#    RPC on 127.0.0.1:65533 of the host through its relay, and remove
#    everything when interrupted with SIGINT (Ctrl-C).
#
# Needs root (the demo creates network namespaces); fails, rather than skips,
# without it. Prints why it fails; exits 0 or 1.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
demo="$top/scripts/demo.sh"
port=65533
uplink_addr=10.254.0.2

passed=0 failed=0
ok() { printf 'ok:   %s\n' "$*"; passed=$((passed + 1)); }
bad() { printf 'FAIL: %s\n' "$*"; failed=$((failed + 1)); }
check() { # check DESC CMD...
  local desc=$1; shift
  if "$@"; then ok "$desc"; else bad "$desc"; fi
}
finish() {
  printf '%d passed, %d failed\n' "$passed" "$failed"
  ((failed == 0 && passed > 0))
  exit $?
}

no_namespaces() { ! ip netns list | grep -q '^mnigs-demo-'; }
port_free() { [[ -z $(ss -Hltn "sport = :$port") ]]; }
no_lock() { [[ ! -e /run/mnigs-demo.lock ]]; }
# The demo names its temp dir on its first line.
tmp_of() { sed -n 's/^==> configs, data and logs in \([^ ]*\) .*/\1/p' "$1" | head -n 1; }
tmp_gone() { local d; d=$(tmp_of "$1"); [[ -n $d && ! -e $d ]]; }
dump() { # dump FILE: the demo's output, for the reader of a failure
  printf -- '--- output of the demo\n'
  cat "$1"
  printf -- '--- end\n'
}

out1=$(mktemp) out2=$(mktemp)
demo_pid=""
on_exit() {
  # Only if this test is cut short while the interactive demo still runs.
  if [[ -n $demo_pid ]] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -TERM "$demo_pid" 2>/dev/null
    for ((i = 0; i < 150; i++)); do kill -0 "$demo_pid" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -f "$out1" "$out2"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ $(id -u) -ne 0 ]]; then
  bad "must run as root: the demo creates network namespaces"
  finish
fi

if ! port_free; then
  bad "TCP port $port is in use on this host; the demo needs it"
  finish
fi

# ---- 1. --once ---------------------------------------------------------------

echo "running $demo --once"
# The first run may install packages and build everything.
timeout 1500 "$demo" --once >"$out1" 2>&1
rc=$?
if ((rc == 0)); then ok "demo.sh --once exits 0"; else bad "demo.sh --once exits $rc, not 0"; fi
check "the page shows the gateway's uplink address $uplink_addr" \
  grep -qF "Your request came from $uplink_addr." "$out1"
check "the demo reports success" grep -q '^==> demo passed' "$out1"
check "no mnigs-demo-* namespace is left" no_namespaces
check "the demo's temp dir is removed" tmp_gone "$out1"
check "the lock file is removed" no_lock
check "nothing listens on port $port any more" port_free
((failed == 0)) || { dump "$out1"; finish; }

# ---- 2. interactive, then Ctrl-C -------------------------------------------

echo "running $demo, then interrupting it"
# A background command of a script starts with SIGINT ignored, and a script
# cannot trap a signal ignored at entry: give the demo back the default.
env --default-signal=INT "$demo" >"$out2" 2>&1 &
demo_pid=$!
up=0
for ((i = 0; i < 600; i++)); do # 120 s: the build is done already
  if grep -q '^==> Ctrl-C stops the demo' "$out2"; then up=1; break; fi
  kill -0 "$demo_pid" 2>/dev/null || break
  sleep 0.2
done
if ((up)); then
  ok "the demo comes up and waits for Ctrl-C"
  check "the subscriber's web UI is served on 127.0.0.1:$port of the host" \
    sh -c "curl -fsS --max-time 5 http://127.0.0.1:$port/ | grep -qi '<html'"
  check "the subscriber's RPC answers nodeInfo on 127.0.0.1:$port of the host" \
    sh -c "curl -fsS --max-time 5 -H 'Content-Type: application/json' \
      -d '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nodeInfo\"}' \
      http://127.0.0.1:$port/jsonrpc | grep -q '\"demo-sub\"'"
else
  bad "the demo did not come up within 120 s"
fi

kill -INT "$demo_pid" 2>/dev/null
rc=""
for ((i = 0; i < 300; i++)); do # 60 s
  if ! kill -0 "$demo_pid" 2>/dev/null; then
    wait "$demo_pid"
    rc=$?
    break
  fi
  sleep 0.2
done
if [[ -z $rc ]]; then
  bad "the demo still runs 60 s after SIGINT"
else
  demo_pid=""
  check "after SIGINT the demo exits 130 (it exited $rc)" test "$rc" -eq 130
fi
check "no mnigs-demo-* namespace is left after SIGINT" no_namespaces
check "the demo's temp dir is removed after SIGINT" tmp_gone "$out2"
check "the lock file is removed after SIGINT" no_lock
check "nothing listens on port $port after SIGINT" port_free
((failed == 0)) || dump "$out2"
finish
