#!/usr/bin/env bash
# Installs the .deb on a clean Debian 12 run by systemd, in a container, and
# checks that the service starts, answers, reloads and goes away again:
#  - builds the package (scripts/deb.sh) unless given one;
#  - makes an image of debian:12 (debootstrap, as scripts/docker-test.sh) with
#    systemd, and the package's dependencies downloaded but not installed;
#  - boots it with systemd as PID 1 and no network but loopback, installs
#    the package with apt from those downloads (its Recommends too, as
#    `apt install ./mnigs_*.deb` does), and checks: the unit is
#    enabled and active (Type=notify: active means mnigsd said READY=1), every
#    plugin runs or says why not, `mnigs-cli --status` answers, `systemctl
#    reload` succeeds and `systemctl stop` ends it cleanly, remove and purge
#    leave no process and no state, and prints systemd's own exposure rating.
# Removes its container; keeps the images. Root and a Docker engine; not part
# of ./scripts/test.sh or CI.
#
#   scripts/deb-test.sh [PACKAGE.deb]
#
# Environment: as scripts/docker-test.sh (MNIGS_DEBIAN_MIRROR,
# MNIGS_DEBIAN_SECURITY_MIRROR, MNIGS_DOCKER_BUILD_NETWORK, DOCKER).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mirror=${MNIGS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${MNIGS_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
build_network=${MNIGS_DOCKER_BUILD_NETWORK:-host}
docker=${DOCKER:-docker}
image=mnigs-deb-test

step() { echo "== $*"; }
fail() {
  echo "deb-test: FAIL: $*" >&2
  exit 1
}

[[ $(id -u) -eq 0 ]] || fail "run as root (debootstrap and the Docker engine need it)"
"$docker" info >/dev/null 2>&1 ||
  fail "no Docker engine answers '$docker info': start one, e.g. 'dockerd --bridge=none --iptables=false &'"

rootfs=""
container=""
context=""
cleanup() {
  if [[ -n $container ]]; then "$docker" rm -f "$container" >/dev/null 2>&1 || true; fi
  if [[ -n $rootfs ]]; then rm -rf "$rootfs"; fi
  if [[ -n $context ]]; then rm -rf "$context"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

deb=${1:-}
if [[ -z $deb ]]; then
  step "building the package"
  deb=$("$top/scripts/deb.sh" | tail -n 1)
fi
[[ -f $deb ]] || fail "no package $deb"
step "package $(basename "$deb"), $(du -h "$deb" | cut -f1)"

# shellcheck source=scripts/docker-base.sh
source "$top/scripts/docker-base.sh"
ensure_base debian:12

step "image $image: debian:12, systemd, the package's dependencies downloaded"
context=$(mktemp -d /var/tmp/mnigs-deb-test.XXXXXX)
cp "$deb" "$context/mnigs.deb"
cat >"$context/Dockerfile" <<'EOF'
FROM debian:12
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends systemd systemd-sysv dbus \
 && rm -f /etc/systemd/system/*.wants/* /lib/systemd/system/multi-user.target.wants/getty* \
 && systemctl mask systemd-logind.service getty.target console-getty.service
COPY mnigs.deb /root/mnigs.deb
RUN apt-get install -y --download-only /root/mnigs.deb
STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
EOF
DOCKER_BUILDKIT=0 "$docker" build -q --network "$build_network" -t "$image" "$context" >/dev/null ||
  fail "docker build of $image failed"

step "booting it: systemd as PID 1, loopback only"
# systemd mounts what it needs (SYS_ADMIN); mnigsd gets what it needs on a
# router (NET_ADMIN, NET_RAW, the tun device), in the container's network.
container=$("$docker" run -d --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add NET_RAW \
  --device /dev/net/tun --network none --tmpfs /run --tmpfs /run/lock \
  -v /sys/fs/cgroup:/sys/fs/cgroup:rw --name "mnigs-deb-test-$$" "$image")
in_container() { "$docker" exec "$container" "$@"; }
booted=0
for _ in $(seq 1 100); do # 100 x 0.3 s
  state=$(in_container systemctl is-system-running 2>/dev/null || true)
  case $state in running | degraded) booted=1; break ;; esac
  sleep 0.3
done
((booted)) || fail "systemd did not finish booting (state: ${state:-none})"
step "systemd: $state"

step "apt-get install ./mnigs.deb (no network: from the downloads)"
# apt without downloads looks for every package, this one too, in its cache.
in_container cp /root/mnigs.deb "/var/cache/apt/archives/$(basename "$deb")"
in_container apt-get install -y --no-download /root/mnigs.deb >/dev/null ||
  fail "the package does not install"
in_container dpkg -s mnigs | grep -E '^(Status|Version|Depends):'

step "the service"
active=0
for _ in $(seq 1 100); do # 100 x 0.2 s
  if in_container systemctl is-active --quiet mnigsd; then active=1; break; fi
  sleep 0.2
done
in_container systemctl --no-pager status mnigsd | head -n 12 || true
((active)) || {
  in_container journalctl -u mnigsd --no-pager | tail -n 30 >&2
  fail "mnigsd.service is not active"
}
[[ $(in_container systemctl is-enabled mnigsd) == enabled ]] || fail "mnigsd.service is not enabled"
echo "enabled and active"
in_container mnigs-cli --status || fail "mnigs-cli --status"
in_container mnigs-cli --plugins
# Every plugin the package holds is listed and works (plugins_named): one
# that failed, was refused (a missing library: a dependency dpkg-shlibdeps
# missed) or is absent does not.
plugins=$(in_container mnigs-cli --plugins)
shipped=$(in_container dpkg -L mnigs | grep -c '/mnigs/plugins/.*\.so$' || true)
listed=$(awk 'NR > 1' <<<"$plugins" | wc -l)
working=$(plugins_named "$plugins" working | wc -l)
if ((shipped == 0 || listed != shipped || working != shipped)); then
  in_container journalctl -u mnigsd --no-pager | tail -n 30 >&2
  fail "$shipped plugins in the package, $listed listed, $working running or degraded (journal above)"
fi
echo "$working of $shipped plugins running or degraded"

step "systemctl reload (mnigs-cli --reload: waits until read)"
in_container systemctl reload mnigsd || fail "systemctl reload mnigsd"
in_container systemctl is-active --quiet mnigsd || fail "not active after the reload"

step "systemd-analyze security, on the running system"
in_container systemd-analyze security --no-pager mnigsd | tail -n 1

step "systemctl stop"
in_container systemctl stop mnigsd || fail "systemctl stop"
result=$(in_container systemctl show -p Result --value mnigsd)
[[ $result == success ]] || fail "stopped with result '$result'"
in_container systemctl start mnigsd

step "disabled by the admin: a reinstall, and a remove and install, leave it disabled"
in_container systemctl disable --now mnigsd >/dev/null 2>&1
in_container apt-get install -y --no-download --reinstall /root/mnigs.deb >/dev/null ||
  fail "reinstall"
[[ $(in_container systemctl is-enabled mnigsd || true) == disabled ]] ||
  fail "a reinstall enabled a service the admin had disabled"
in_container apt-get remove -y mnigs >/dev/null || fail "apt-get remove"
if in_container pgrep -x mnigsd >/dev/null; then fail "mnigsd still runs after the remove"; fi
in_container apt-get install -y --no-download /root/mnigs.deb >/dev/null || fail "install after remove"
[[ $(in_container systemctl is-enabled mnigsd || true) == disabled ]] ||
  fail "an install after a remove enabled a service the admin had disabled"
echo "still disabled"
in_container systemctl enable --now mnigsd >/dev/null 2>&1
in_container systemctl is-active --quiet mnigsd || fail "not active once enabled again"

step "apt-get purge mnigs"
in_container apt-get purge -y mnigs >/dev/null || fail "apt-get purge"
if in_container pgrep -x mnigsd >/dev/null; then fail "mnigsd still runs after the purge"; fi
if in_container test -e /var/lib/mnigs; then fail "/var/lib/mnigs is left after the purge"; fi
if in_container test -e /etc/mnigs/mnigs.yaml; then fail "/etc/mnigs/mnigs.yaml is left after the purge"; fi
echo "no mnigsd, no state, no config"

echo "deb-test: PASS"
