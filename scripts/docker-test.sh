#!/usr/bin/env bash
# Builds the Docker image from this tree and checks that it runs:
#  - makes the Dockerfile's base image (debian:12) with debootstrap when the
#    engine has none, since no registry can be reached here;
#  - builds the image (default name `mnigs`) and prints the time and its size;
#  - starts it with no network but loopback (and the right to change that
#    network, as tunnels need), and checks that mnigsd answers nodeInfo over
#    JSON-RPC and `mnigs-cli --status`, that every plugin in the image is
#    loaded and running (or degraded, waiting for a mesh daemon), that the
#    web UI is served, that the commands it runs at start and stop (nft, ip)
#    work, and that it stops cleanly on SIGTERM.
# Removes the containers it started; keeps the images. Needs root and a running
# Docker engine. Not part of ./scripts/test.sh or CI.
#
#   scripts/docker-test.sh [--no-build]    --no-build: check the image as it is
#
# Environment: MNIGS_IMAGE (image name, default mnigs); MNIGS_DEBIAN_MIRROR
# (default http://deb.debian.org/debian) and MNIGS_DEBIAN_SECURITY_MIRROR for
# the base image; MNIGS_DOCKER_BUILD_NETWORK (default host: the build's
# apt-get reaches the mirror as the host's does, with no bridge or NAT, so the
# engine may run with --bridge=none --iptables=false); DOCKER (the client).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
image=${MNIGS_IMAGE:-mnigs}
mirror=${MNIGS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${MNIGS_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
build_network=${MNIGS_DOCKER_BUILD_NETWORK:-host}
docker=${DOCKER:-docker}
build=1
case "${1:-}" in
  "") ;;
  --no-build) build=0 ;;
  *) echo "usage: scripts/docker-test.sh [--no-build]" >&2; exit 2 ;;
esac

# The base image is the one the Dockerfile starts from, so the two cannot differ.
base=$(awk 'toupper($1) == "FROM" { print $2; exit }' "$top/Dockerfile")

step() { echo "== $*"; }
fail() { echo "docker-test: FAIL: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || fail "run as root (debootstrap and the Docker engine need it)"
command -v "$docker" >/dev/null || fail "no Docker client '$docker': apt-get install docker.io"
"$docker" info >/dev/null 2>&1 ||
  fail "no Docker engine answers '$docker info': start one, e.g. 'dockerd --bridge=none --iptables=false &'"

rootfs=""
container=""
cleanup() {
  if [[ -n $container ]]; then "$docker" rm -f "$container" >/dev/null 2>&1 || true; fi
  if [[ -n $rootfs ]]; then rm -rf "$rootfs"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the base image ---------------------------------------------------------
# shellcheck source=scripts/docker-base.sh
source "$top/scripts/docker-base.sh"
ensure_base "$base"
step "base $base: $("$docker" image inspect -f '{{.Size}}' "$base" | numfmt --to=iec)"

# --- the image --------------------------------------------------------------
if ((build)); then
  step "building $image (network: $build_network)"
  start=$(date +%s)
  "$docker" build --network "$build_network" -t "$image" "$top" ||
    fail "docker build of $image failed (output above)"
  step "built $image in $(($(date +%s) - start)) s"
fi
"$docker" image inspect "$image" >/dev/null 2>&1 || fail "no image $image: run without --no-build"
step "image $image: $("$docker" image inspect -f '{{.Size}}' "$image" | numfmt --to=iec)"

# --- a container: loopback only -----------------------------------------------
# NET_ADMIN and the tun device, as a gateway or subscriber needs them; they act
# on the container's own network namespace. -v: debug logs, which say when the
# start-up clean-up of tunnel state (nft, ip) is done.
container=$("$docker" run -d --network none --cap-add NET_ADMIN --device /dev/net/tun \
  --name "mnigs-test-$$" "$image" -v)
in_container() { "$docker" exec "$container" "$@"; }
logs() { "$docker" logs "$container" 2>&1 | tail -n 30 >&2; }

step "waiting for mnigsd in container ${container:0:12}"
up=0
for _ in $(seq 1 100); do  # 100 x 0.2 s
  if [[ $("$docker" inspect -f '{{.State.Running}}' "$container") != true ]]; then
    logs
    fail "the container stopped before mnigsd answered (its log above)"
  fi
  if in_container mnigs-cli --status >/dev/null 2>&1; then up=1; break; fi
  sleep 0.2
done
((up)) || { logs; fail "mnigsd did not answer mnigs-cli --status within 20 s (its log above)"; }

# nodeInfo, as a peer on the mesh asks for it: a JSON-RPC POST over plain HTTP,
# not through mnigs-cli. The image has bash, so no HTTP client is needed.
step "nodeInfo over JSON-RPC"
request='{"jsonrpc":"2.0","id":1,"method":"nodeInfo"}'
# shellcheck disable=SC2016 # expanded by the bash in the container
reply=$(in_container timeout 10 bash -c '
  exec 3<>/dev/tcp/127.0.0.1/65533
  printf "POST /jsonrpc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" "${#1}" "$1" >&3
  head -c 65536 <&3' _ "$request") || fail "no answer to nodeInfo on 127.0.0.1:65533"
echo "$reply" | tail -n 1
[[ $reply == "HTTP/1.1 200"* ]] || fail "nodeInfo: expected HTTP 200, got: ${reply%%$'\r'*}"
[[ $reply == *'"result"'* && $reply == *'"plugins"'* && $reply != *'"error"'* ]] ||
  fail "nodeInfo: no result with a plugin list in: $reply"

step "mnigs-cli --status"
status=$(in_container mnigs-cli --status) || fail "mnigs-cli --status exited $?"
echo "$status"
grep -q '^config    /etc/mnigs/mnigs.yaml$' <<<"$status" ||
  fail "mnigsd does not run on /etc/mnigs/mnigs.yaml"

# Every plugin shipped in the image is listed, and running or degraded: one
# that failed to load (a missing library, a symbol) or to start would show as
# failed/refused, or be missing from the list. Degraded is what a discovery
# plugin says with no mesh daemon to read (babeld, cjdroute, olsrd, batman-adv
# are not in the image): it names what it waits for.
step "mnigs-cli --plugins"
plugins=$(in_container mnigs-cli --plugins) || fail "mnigs-cli --plugins exited $?"
echo "$plugins"
shipped=$(in_container find / -xdev -path '*/mnigs/plugins/*.so' -type f | wc -l)
((shipped > 0)) || fail "no plugin .so files found in the image"
listed=$(awk 'NR > 1' <<<"$plugins" | wc -l)
working=$(plugins_named "$plugins" working | wc -l)
((listed == shipped)) || fail "$shipped plugin files in the image, but mnigsd lists $listed"
((working == shipped)) ||
  fail "$((shipped - working)) of $shipped plugins neither run nor wait for something (list above)"

step "web UI"
page=$(in_container timeout 10 bash -c '
  exec 3<>/dev/tcp/127.0.0.1/65533
  printf "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" >&3
  head -c 262144 <&3') || fail "no answer to GET / on 127.0.0.1:65533"
[[ $page == "HTTP/1.1 200"* && $page == *"<html"* ]] ||
  fail "GET / did not return the web UI page: ${page%%$'\r'*}"
echo "GET / -> ${page%%$'\r'*}"

step "start-up clean-up of tunnel state"
done_line="sessions and connection resumed"
resumed=0
for _ in $(seq 1 100); do  # 100 x 0.2 s
  if "$docker" logs "$container" 2>&1 | grep -q "\[mnigsd\] $done_line"; then resumed=1; break; fi
  sleep 0.2
done
((resumed)) || { logs; fail "mnigsd did not log \"$done_line\" within 20 s (its log above)"; }
echo "$done_line"

step "docker stop (SIGTERM)"
"$docker" stop -t 20 "$container" >/dev/null
code=$("$docker" inspect -f '{{.State.ExitCode}}' "$container")
((code == 0)) || { logs; fail "mnigsd exited $code on SIGTERM (log above)"; }
echo "mnigsd exited 0"

# A warning or error from anything but a plugin waiting for its mesh daemon
# (none is in a bare container, and it says so) means something in the image
# does not work: the core, the RPC server, the DHT, or a tunnel plugin's nft
# and ip commands.
step "log: warnings and errors"
waiting=$(plugins_named "$plugins" waiting | tr '\n' '|')
"$docker" logs "$container" 2>&1 | grep -E '^[0-9-]+ [0-9:.]+ (warn|error) ' || true
bad=$("$docker" logs "$container" 2>&1 | grep -E '^[0-9-]+ [0-9:.]+ (warn|error) ' |
  grep -Ev " \[(${waiting%|})\] " || true)
[[ -z $bad ]] || fail "mnigsd logged warnings or errors outside the degraded plugins: $bad"
echo "none outside the degraded plugins (${waiting%|})"

echo "docker-test: image $image passed"
