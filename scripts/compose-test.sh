#!/usr/bin/env bash
# Brings up the compose demo (packaging/docker/compose.yaml) and checks what
# it shows: the subscriber connects through a gateway by itself, fetches the
# "Internet" page through it, serves its web UI on the host's
# 127.0.0.1:65533, and when that gateway stops, switches to the other one and
# fetches again. Then takes the demo down (containers and networks; the
# images stay). Root, a Docker engine, docker-compose, and the mnigs image
# (scripts/docker-test.sh builds it). Not part of CI.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
docker=${DOCKER:-docker}
compose=(docker-compose -p mnigs-demo -f "$top/packaging/docker/compose.yaml")

step() { echo "== $*"; }
fail() {
  echo "compose-test: FAIL: $*" >&2
  "${compose[@]}" logs --tail 20 subscriber gateway1 gateway2 >&2 2>&1 || true
  exit 1
}

[[ $(id -u) -eq 0 ]] || fail "run as root"
command -v docker-compose >/dev/null || fail "no docker-compose: apt-get install docker-compose"
"$docker" image inspect mnigs >/dev/null 2>&1 || fail "no image mnigs: run scripts/docker-test.sh"

cleanup() { "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

in_sub() { "${compose[@]}" exec -T subscriber "$@"; }
# routes SERVICE: its main routing table.
routes() {
  "${compose[@]}" exec -T "$1" sh -c 'ip route show table main 2>/dev/null || busybox ip route'
}
# fetch: the "Internet" page from the subscriber (bash's /dev/tcp: the image
# has no HTTP client).
fetch() {
  # shellcheck disable=SC2016 # expanded by the bash in the container
  in_sub timeout 5 bash -c 'exec 3<>/dev/tcp/10.99.0.2/80
    printf "GET / HTTP/1.0\r\nHost: 10.99.0.2\r\n\r\n" >&3; cat <&3' 2>/dev/null
}
# via: the gateway the subscriber's uplink goes through, if connected.
via() {
  in_sub mnigs-cli --status 2>/dev/null | sed -n 's/^uplink *connected via \([0-9.]*\) .*/\1/p'
}

step "docker-compose up"
cleanup
DOCKER_BUILDKIT=0 "${compose[@]}" up -d --build >/dev/null 2>&1 ||
  { "${compose[@]}" up -d; fail "docker-compose up"; }

step "no container has a way out of its networks"
# Docker gives containers on internal networks a default route to the host
# too; the demo removes it (a gateway's leads to the Internet host). The
# subscriber may be connected already: mnigs's route is in a table of its own.
for s in subscriber internet; do
  r=$(routes "$s") || fail "ip route in $s"
  ! grep -q '^default' <<<"$r" || fail "$s has a default route: $r"
done
for s in gateway1 gateway2; do
  r=$(routes "$s") || fail "ip route in $s"
  grep -q '^default via 10.99.0.2 ' <<<"$r" || fail "$s's default route is not the Internet host's: $r"
done
! grep -q '^10\.99\.' <<<"$(routes subscriber)" || fail "the subscriber has a route to the uplink"
echo "subscriber and internet: no default route; gateways: via 10.99.0.2"

step "waiting for the subscriber to connect by itself"
first=""
for _ in $(seq 1 90); do # 90 x 1 s
  first=$(via)
  [[ -n $first ]] && break
  sleep 1
done
[[ -n $first ]] || fail "the subscriber did not connect within 90 s"
in_sub mnigs-cli --status | grep -E '^(uplink|scan)' || true

step "the Internet page, through $first"
page=$(fetch) || true
grep -q "hello from the internet" <<<"$page" || fail "no page through $first: $page"
echo "$page" | tail -n 1

step "the web UI on the host's 127.0.0.1:65533"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:65533/) || true
[[ $code == 200 ]] || fail "GET http://127.0.0.1:65533/ gave $code"
status=$(curl -s --max-time 5 -H 'Content-Type: application/json' \
  -d '{"jsonrpc":"2.0","id":1,"method":"status"}' http://127.0.0.1:65533/jsonrpc) || true
grep -q '"result"' <<<"$status" || fail "status over the relay: $status"
echo "index.html 200; status answers"

case $first in
  10.77.0.11) down=gateway1 other=10.77.0.12 ;;
  10.77.0.12) down=gateway2 other=10.77.0.11 ;;
  *) fail "connected through $first, which is neither gateway" ;;
esac
step "$down stops: the subscriber switches to $other"
"${compose[@]}" stop -t 5 "$down" >/dev/null 2>&1
now=""
for _ in $(seq 1 60); do # 60 x 1 s
  now=$(via)
  [[ $now == "$other" ]] && break
  sleep 1
done
[[ $now == "$other" ]] || fail "still not through $other 60 s after $down stopped (now: ${now:-none})"
page=$(fetch) || true
grep -q "hello from the internet" <<<"$page" || fail "no page through $other: $page"
echo "the page again, through $other"

echo "compose-test: PASS"
