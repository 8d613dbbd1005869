# shellcheck shell=bash
# Sourced by scripts/docker-test.sh and scripts/deb-test.sh: the debian:12
# base image, made from Debian's packages with debootstrap when the Docker
# engine has none (no registry can be reached here), and the rule both apply
# to the plugins mnigsd lists.
#
# ensure_base IMAGE: makes IMAGE (only debian:12) unless the engine has it.
# Uses the caller's docker, mirror, security_mirror, step and fail; the root
# file system being made is in $rootfs, for the caller's clean-up.
# shellcheck disable=SC2154 # docker, mirror, security_mirror: the caller's
make_base() {
  [[ $base == debian:12 ]] || fail "no image $base, and only debian:12 can be made here"
  command -v debootstrap >/dev/null || fail "no $base image and no debootstrap to make it: apt-get install debootstrap"
  rootfs=$(mktemp -d /var/tmp/mnigs-base.XXXXXX)
  step "making $base with debootstrap from $mirror (a few minutes)"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
    { tail -20 "$rootfs.log" >&2; fail "debootstrap bookworm from $mirror failed (log above, whole in $rootfs.log)"; }
  rm -f "$rootfs.log"
  # The suites and sources of Debian's own debian:12 image.
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
  tar --numeric-owner -C "$rootfs" -c . | "$docker" import --change 'CMD ["bash"]' - "$base" >/dev/null
  rm -rf "$rootfs"
  rootfs=""
}

ensure_base() {
  base=$1
  if ! "$docker" image inspect "$base" >/dev/null 2>&1; then
    make_base
  fi
}

# plugins_named LISTING working|waiting: the names, one per line, of the
# plugins in LISTING (`mnigs-cli --plugins`) that work in a bare system:
# running, or degraded where that means waiting for a mesh daemon that is
# not there (discovery, and cjdns's tunnel, iptunnel); or only those waiting.
# A degraded tunnel plugin is a fault, as is one failed, refused or absent.
plugins_named() {
  awk -v want="$2" 'NR > 1 {
    waits = $4 == "degraded" && ($2 == "discovery" || $1 == "iptunnel")
    if (waits || (want == "working" && $4 == "running")) print $1
  }' <<<"$1"
}
