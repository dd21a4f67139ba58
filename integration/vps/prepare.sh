#!/usr/bin/env bash
# prepare.sh (pactown) — the "VPS" image for the systemd harness (integration/vps.rs): Debian trixie
# with systemd as PID 1, Podman 5 + Quadlet, Debian's docker-registry and caddy (the ingress; the
# package's own caddy.service is masked: pactown runs one per ecosystem), built offline with
# debootstrap from the Debian mirror in the host's apt sources and imported into Docker.
#
# Idempotent and cached: the rootfs tarball lives in $PACTOWN_VPS_CACHE (default
# ~/.cache/pactown-vps), keyed by the package list and this script's rootfs recipe; the Docker image
# is `pactown-vps:<key>`. A second run only checks that the image exists (well under a second).
# Prints the image name on stdout (logs go to stderr). Runs as root.
#
# Environment knobs:
#   PACTOWN_VPS_CACHE      cache folder (default ~/.cache/pactown-vps)
#   PACTOWN_DEBIAN_MIRROR  Debian mirror for debootstrap (default: first Debian URI in the host apt sources)
set -euo pipefail

SUITE=trixie
PACKAGES=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,podman,uidmap,slirp4netns,passt,netavark,aardvark-dns,crun,catatonit,conmon,iproute2,curl,ca-certificates,nftables,docker-registry,procps,caddy
# bump when the rootfs recipe below changes (part of the cache key)
RECIPE=5
CACHE_DIR="${PACTOWN_VPS_CACHE:-$HOME/.cache/pactown-vps}"

log() { printf '[vps-prepare] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"

# the host limits the rootfs is configured for (no CAP_SYS_RESOURCE here: Podman's default ulimits
# cannot be applied inside the VPS either)
hn=$(ulimit -Hn); hu=$(ulimit -Hu); pidmax=$(cat /proc/sys/kernel/pid_max)
[ "$hn" = unlimited ] && hn=1048576; [ "$hu" = unlimited ] && hu=32768
[ "$hn" -gt 1048576 ] && hn=1048576; [ "$hu" -gt 32768 ] && hu=32768; [ "$hu" -gt "$pidmax" ] && hu=$pidmax

KEY=$(printf '%s\n' "$SUITE" "$PACKAGES" "$RECIPE" "$hn" "$hu" | sha256sum | cut -c1-12)
IMAGE="pactown-vps:$KEY"
TARBALL="$CACHE_DIR/vps-$SUITE-$KEY.tar.gz"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "docker: $IMAGE present"
  echo "$IMAGE"
  exit 0
fi

command -v debootstrap >/dev/null || {
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null; }
}

# shellcheck source=integration/debian-mirror.sh
. "$(dirname "${BASH_SOURCE[0]}")/../debian-mirror.sh"

if [ ! -s "$TARBALL" ]; then
  mkdir -p "$CACHE_DIR"
  mirror=$(debian_mirror)
  root=$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  t0=$(date +%s)
  log "debootstrap --variant=minbase $SUITE from $mirror (about 90 s)"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$mirror" >"$CACHE_DIR/debootstrap.log" 2>&1 ||
    { tail -n 20 "$CACHE_DIR/debootstrap.log" >&2; die "debootstrap failed; see $CACHE_DIR/debootstrap.log"; }

  # a rootless deploy user with subordinate ids and linger (its user manager starts at boot)
  chroot "$root" useradd -m -u 1000 -s /bin/bash deploy
  echo "deploy:100000:65536" >"$root/etc/subuid"
  echo "deploy:100000:65536" >"$root/etc/subgid"
  mkdir -p "$root/var/lib/systemd/linger"
  # the harness mounts a volume at the rootless storage; Docker copies this owner into it
  install -d -o 1000 -g 1000 "$root/home/deploy/.local" "$root/home/deploy/.local/share" \
    "$root/home/deploy/.local/share/containers"
  # a second user without linger, for the "linger is off" warning
  chroot "$root" useradd -m -u 1001 -s /bin/bash nolinger
  echo "nolinger:200000:65536" >>"$root/etc/subuid"
  echo "nolinger:200000:65536" >>"$root/etc/subgid"

  # Podman inside the VPS: limits the host allows (system and rootless read containers.conf.d)
  mkdir -p "$root/etc/containers/containers.conf.d"
  cat >"$root/etc/containers/containers.conf.d/50-host-limits.conf" <<EOF
# written by integration/vps/prepare.sh: the host has no CAP_SYS_RESOURCE, so Podman's default
# ulimits (nofile=1048576, high nproc) cannot be applied
[containers]
default_ulimits = ["nofile=${hn}:${hn}", "nproc=${hu}:${hu}"]
EOF
  # the registry is configured and enabled by the harness (its port is chosen per run)
  chroot "$root" systemctl disable docker-registry.service >/dev/null 2>&1 || true
  # nothing to do in a container: consoles, udev, timers that only cost boot time
  for u in getty@tty1.service console-getty.service systemd-udevd.service systemd-udev-trigger.service \
           systemd-udevd-control.socket systemd-udevd-kernel.socket apt-daily.timer apt-daily-upgrade.timer \
           dpkg-db-backup.timer e2scrub_all.timer fstrim.timer systemd-tmpfiles-clean.timer \
           podman-auto-update.timer podman-clean-transient.service caddy.service caddy-api.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$u"
  done
  # rootless Podman needs the tun and fuse devices Docker passes in (root-only by default)
  printf 'z /dev/net/tun 0666 - - -\nz /dev/fuse 0666 - - -\n' >"$root/etc/tmpfiles.d/pactown-vps-devices.conf"
  # no network manager in a container: the network is up when the container starts, so let
  # network-online.target (rootless Quadlet units wait for it) be reached at boot
  mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
  ln -sf /usr/lib/systemd/system/network-online.target "$root/etc/systemd/system/multi-user.target.wants/network-online.target"
  echo pactown-vps >"$root/etc/hostname"
  : >"$root/etc/machine-id"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*.log
  tar --numeric-owner --xattrs --sort=name -C "$root" -c . | gzip -1 >"$TARBALL.tmp"
  mv "$TARBALL.tmp" "$TARBALL"
  rm -rf "$root"; trap - EXIT
  log "rootfs cached: $TARBALL ($(du -h "$TARBALL" | cut -f1), $(($(date +%s) - t0)) s)"
fi

docker import -c 'CMD ["/sbin/init"]' -c 'ENV container=docker' \
  "$TARBALL" "$IMAGE" >/dev/null
log "docker: imported $IMAGE"
# drop what older recipes left behind (an image still used by a container stays)
find "$CACHE_DIR" -maxdepth 1 -name 'vps-*.tar.gz' ! -name "$(basename "$TARBALL")" -delete
docker images --format '{{.Repository}}:{{.Tag}}' pactown-vps | grep -vx "$IMAGE" | xargs -r docker rmi >/dev/null 2>&1 || true
echo "$IMAGE"
