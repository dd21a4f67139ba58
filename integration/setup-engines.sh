#!/usr/bin/env bash
# setup-engines.sh (pactown) — install and start Docker (docker.io) and Podman on Debian 12 (bookworm),
# and create the base image debian:bookworm-slim in both engines without any registry.
#
# Idempotent: a second run only checks things (a few seconds). Runs as root.
#
# Environment knobs:
#   PACTOWN_BASE_CACHE     where the debootstrap rootfs tarball is cached (default ~/.cache/pactown-base)
#   PACTOWN_DEBIAN_MIRROR  Debian mirror for debootstrap (default: first Debian URI in the host apt sources)
#   PACTOWN_SKIP_DOCKER=1 / PACTOWN_SKIP_PODMAN=1   leave that engine alone
#   PACTOWN_ENGINE_LOGDIR  daemon logs (default /var/log)
#   PACTOWN_WITH_QUADLET=1 also fetch the `quadlet` generator from Debian trixie's podman package
#                          (bookworm's podman 4.3.1 has none) into /usr/local/bin/quadlet, for
#                          `QUADLET_UNIT_DIRS=dir quadlet -dryrun` checks of exported units
#
# Afterwards:
#   Docker API: unix:///var/run/docker.sock
#   Podman API: unix:///run/podman/podman.sock  (libpod API + Docker-compatible API on the same socket)
set -euo pipefail

BASE_IMAGE="debian:bookworm-slim"
PODMAN_BASE_IMAGE="docker.io/library/debian:bookworm-slim"
CACHE_DIR="${PACTOWN_BASE_CACHE:-$HOME/.cache/pactown-base}"
BASE_TARBALL="$CACHE_DIR/debian-bookworm-minbase.tar.gz"
LOGDIR="${PACTOWN_ENGINE_LOGDIR:-/var/log}"
DOCKER_SOCK=/var/run/docker.sock
PODMAN_SOCK=/run/podman/podman.sock
DO_DOCKER=$([ "${PACTOWN_SKIP_DOCKER:-0}" = 1 ] && echo 0 || echo 1)
DO_PODMAN=$([ "${PACTOWN_SKIP_PODMAN:-0}" = 1 ] && echo 0 || echo 1)

log() { printf '[setup-engines] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"

have_systemd() { [ -d /run/systemd/system ]; }

# ---------------------------------------------------------------- packages
PKGS=(curl ca-certificates iptables debootstrap)
[ "$DO_DOCKER" = 1 ] && PKGS+=(docker.io)
# crun is pulled in by podman; we configure runc instead (see containers.conf below).
# catatonit: needed for `--init` / HostConfig.Init on podman.
[ "$DO_PODMAN" = 1 ] && PKGS+=(podman runc netavark aardvark-dns slirp4netns uidmap fuse-overlayfs catatonit)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
  aptlog="$LOGDIR/pactown-apt.log"
  { apt-get update -q && apt-get install -y -q "${missing[@]}"; } >"$aptlog" 2>&1 ||
    { tail -n 20 "$aptlog" >&2; die "apt-get failed; see $aptlog"; }
else
  log "packages already installed"
fi

# ---------------------------------------------------------------- podman config
if [ "$DO_PODMAN" = 1 ]; then
  # No CAP_SYS_RESOURCE on these machines: podman's default ulimits (nofile=1048576, high nproc)
  # cannot be applied -> "error setting rlimit ... operation not permitted". Use values within the
  # host hard limits. Podman lowers its own RLIMIT_NPROC to 32768, so cap nproc there as well.
  hn=$(ulimit -Hn); hu=$(ulimit -Hu); pidmax=$(cat /proc/sys/kernel/pid_max)
  [ "$hn" = unlimited ] && hn=1048576; [ "$hu" = unlimited ] && hu=32768
  [ "$hn" -gt 1048576 ] && hn=1048576
  [ "$hu" -gt 32768 ] && hu=32768
  [ "$hu" -gt "$pidmax" ] && hu=$pidmax
  conf=/etc/containers/containers.conf.d/50-pactown.conf
  want=$(cat <<EOF
# written by setup-engines.sh (pactown)
[containers]
# podman's defaults exceed the host hard limits and there is no CAP_SYS_RESOURCE
default_ulimits = ["nofile=${hn}:${hn}", "nproc=${hu}:${hu}"]

[network]
network_backend = "netavark"

[engine]
# crun 1.8 (bookworm) fails on the hybrid cgroup v1/v2 layout: "cgroups in hybrid mode not supported"
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
# podman 4.3 deletes the whole events file when it passes the limit (default 1m, reached within
# one test run): events a moment old vanish from pactown events; rotate at 256m instead
events_logfile_max_size = "256m"
EOF
)
  if have_systemd; then
    # with systemd as PID 1 the defaults for cgroups/events are fine; keep runc + ulimits only
    want=$(printf '%s\n' "$want" | sed -e '/^cgroup_manager/d' -e '/^events_log/d')
  fi
  mkdir -p "$(dirname "$conf")"
  if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
    printf '%s\n' "$want" >"$conf"
    log "wrote $conf"
    PODMAN_CONF_CHANGED=1
  fi
fi

# ---------------------------------------------------------------- cgroup v1 controllers
# Without systemd as PID 1 some v1 controllers (net_cls,net_prio, perf_event, hugetlb) are not
# mounted. A container's systemd (the VPS harness) mounts them and leaves child cgroups behind, so
# the hierarchies outlive it unmounted: /proc/PID/cgroup then names hierarchies no mount shows,
# containerd fails "loading cgroup … cannot find cgroup mount destination" and no longer reports
# OOM kills, and Podman's `pod create` trips over the empty entries left in the read-only tmpfs.
# Mount every enabled controller as a systemd host does (one folder per hierarchy, a symlink per
# co-mounted controller), idempotently; stale empty entries are removed.
mount_cgroup_controllers() {
  local fs=/sys/fs/cgroup
  [ -d "$fs/memory" ] && [ ! -f "$fs/cgroup.controllers" ] || return 0 # only a v1/hybrid layout
  local mounted groups dir c remounted=0
  mounted=$(awk '$9 == "cgroup" {print $NF}' /proc/self/mountinfo | tr ',' '\n' | sort -u)
  # controllers of one hierarchy (column 2 of /proc/cgroups) must be mounted together
  # (0: in no hierarchy yet, mounted one by one)
  groups=$(awk 'NR > 1 && $4 == 1 { if ($2 == 0) print $1; else h[$2] = h[$2] ? h[$2] "," $1 : $1 }
                END { for (k in h) print h[k] }' /proc/cgroups)
  for dir in $groups; do
    local missing=0
    for c in ${dir//,/ }; do grep -qx "$c" <<<"$mounted" || missing=1; done
    [ "$missing" = 1 ] || continue
    if [ "$remounted" = 0 ]; then mount -o remount,rw "$fs" && remounted=1 || return 0; fi
    [ -L "$fs/$dir" ] && rm -f "$fs/$dir"
    mkdir -p "$fs/$dir"
    if mount -t cgroup -o "$dir" cgroup "$fs/$dir" 2>/dev/null; then
      log "mounted cgroup v1 controller(s) $dir"
      for c in ${dir//,/ }; do
        [ "$c" = "$dir" ] || { [ -e "$fs/$c" ] && [ ! -L "$fs/$c" ] && rmdir "$fs/$c" 2>/dev/null; ln -sfn "$dir" "$fs/$c"; }
      done
    else
      rmdir "$fs/$dir" 2>/dev/null || true
      log "warning: could not mount cgroup v1 controller(s) $dir"
    fi
  done
  # empty folders and dangling symlinks left by a failed mount (e.g. `cpu,cpuacct` beside cpu/)
  for dir in "$fs"/*; do
    if [ -L "$dir" ] && [ ! -e "$dir" ]; then
      [ "$remounted" = 1 ] || { mount -o remount,rw "$fs" && remounted=1; }
      rm -f "$dir"
    elif [ -d "$dir" ] && ! mountpoint -q "$dir" && [ -z "$(ls -A "$dir")" ]; then
      [ "$remounted" = 1 ] || { mount -o remount,rw "$fs" && remounted=1; }
      rmdir "$dir"
    fi
  done
  [ "$remounted" = 0 ] || mount -o remount,ro "$fs"
}
have_systemd || mount_cgroup_controllers

# ---------------------------------------------------------------- daemons
wait_sock() { # $1 socket, $2 name, $3 timeout seconds
  local i
  for ((i = 0; i <= $3 * 4; i++)); do
    curl -fsS --max-time 2 --unix-socket "$1" http://localhost/_ping >/dev/null 2>&1 && return 0
    [ "$i" -lt $(($3 * 4)) ] && sleep 0.25
  done
  return 1
}

if [ "$DO_DOCKER" = 1 ]; then
  if wait_sock "$DOCKER_SOCK" docker 0; then
    log "dockerd already answering on $DOCKER_SOCK"
  else
    if have_systemd; then
      systemctl start docker.service
    elif pidof dockerd >/dev/null; then
      log "dockerd is running but not answering yet; waiting"
    else
      log "starting dockerd (log: $LOGDIR/dockerd.log)"
      setsid nohup dockerd >>"$LOGDIR/dockerd.log" 2>&1 </dev/null &
    fi
    wait_sock "$DOCKER_SOCK" docker 60 || die "dockerd did not answer; see $LOGDIR/dockerd.log"
  fi
fi

if [ "$DO_PODMAN" = 1 ]; then
  if [ "${PODMAN_CONF_CHANGED:-0}" = 1 ] && ! have_systemd && wait_sock "$PODMAN_SOCK" podman 0; then
    log "containers.conf changed: restarting the podman API service"
    pkill -f "podman system service .*unix://$PODMAN_SOCK" || true
    for _ in $(seq 40); do wait_sock "$PODMAN_SOCK" podman 0 || break; sleep 0.25; done
  fi
  if wait_sock "$PODMAN_SOCK" podman 0; then
    log "podman API already answering on $PODMAN_SOCK"
    [ "${PODMAN_CONF_CHANGED:-0}" = 1 ] && log "WARNING: containers.conf changed; restart the podman API service to apply it"
  else
    mkdir -p "$(dirname "$PODMAN_SOCK")"
    if have_systemd; then
      systemctl start podman.socket
    elif pgrep -f "podman system service .*unix://$PODMAN_SOCK" >/dev/null; then
      log "podman API service is running but not answering yet; waiting"
    else
      rm -f "$PODMAN_SOCK"
      log "starting podman system service (log: $LOGDIR/podman-service.log)"
      setsid nohup podman system service --time=0 "unix://$PODMAN_SOCK" >>"$LOGDIR/podman-service.log" 2>&1 </dev/null &
    fi
    wait_sock "$PODMAN_SOCK" podman 60 || die "podman API did not answer; see $LOGDIR/podman-service.log"
  fi
fi

# ---------------------------------------------------------------- base image (offline)
# shellcheck source=integration/debian-mirror.sh
. "$(dirname "${BASH_SOURCE[0]}")/debian-mirror.sh"
security_mirror() {
  local s
  s=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
      awk '/^URIs:/{for(i=2;i<=NF;i++) if ($i ~ /security/) {print $i; exit}}')
  [ -z "$s" ] && s=$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      grep -oE '(https?|file)://[^ ]*security[^ ]*' | head -1)
  [ -n "$s" ] && echo "${s%/}" || echo "${1%/debian}/debian-security"
}

make_base_tarball() {
  [ -s "$BASE_TARBALL" ] && return 0
  local mirror sec root t0
  mirror=$(debian_mirror); sec=$(security_mirror "$mirror")
  mkdir -p "$CACHE_DIR"
  root=$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")
  t0=$(date +%s)
  log "debootstrap --variant=minbase bookworm from $mirror (about 35 s)"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$CACHE_DIR/debootstrap.log" 2>&1 ||
    { rm -rf "$root"; die "debootstrap failed; see $CACHE_DIR/debootstrap.log"; }
  # make it look like the official slim image: same apt sources layout, no docs/man/locales, no caches
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $sec
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d" "$root/etc/apt/apt.conf.d"
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
         "$root"/var/log/* "$root"/tmp/* "$root"/usr/share/man/* "$root"/usr/share/info/*
  find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  : >"$root/etc/machine-id"
  tar --numeric-owner --sort=name -C "$root" -c . | gzip -1 >"$BASE_TARBALL.tmp"
  mv "$BASE_TARBALL.tmp" "$BASE_TARBALL"
  rm -rf "$root"
  log "base rootfs cached: $BASE_TARBALL ($(du -h "$BASE_TARBALL" | cut -f1), $(($(date +%s) - t0)) s)"
}

IMPORT_CHANGES=(--change 'CMD ["bash"]'
                --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
                --change 'LABEL org.pactown.base=debootstrap-minbase')

if [ "$DO_DOCKER" = 1 ]; then
  if DOCKER_HOST="unix://$DOCKER_SOCK" docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "docker: $BASE_IMAGE present"
  else
    make_base_tarball
    DOCKER_HOST="unix://$DOCKER_SOCK" docker import "${IMPORT_CHANGES[@]}" "$BASE_TARBALL" "$BASE_IMAGE" >/dev/null
    log "docker: imported $BASE_IMAGE"
  fi
fi
if [ "$DO_PODMAN" = 1 ]; then
  if podman image exists "$PODMAN_BASE_IMAGE"; then
    log "podman: $PODMAN_BASE_IMAGE present"
  else
    make_base_tarball
    podman import -q "${IMPORT_CHANGES[@]}" "$BASE_TARBALL" "$PODMAN_BASE_IMAGE" >/dev/null
    log "podman: imported $PODMAN_BASE_IMAGE"
  fi
fi

# ---------------------------------------------------------------- optional: quadlet (dry-run only)
if [ "${PACTOWN_WITH_QUADLET:-0}" = 1 ] && [ ! -x /usr/local/lib/pactown/quadlet ]; then
  qt=$(mktemp -d); chmod 755 "$qt"; mkdir -p "$qt/lists/partial" "$qt/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(debian_mirror) trixie main" >"$qt/sources.list"
  # a private apt state: the host's sources, lists and caches are not touched
  QO=(-o "Dir::Etc::sourcelist=$qt/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$qt/lists"
      -o "Dir::Cache=$qt/cache" -o APT::Sandbox::User=root)
  log "fetching quadlet from trixie's podman package"
  apt-get "${QO[@]}" update -q >/dev/null
  (cd "$qt" && apt-get "${QO[@]}" download podman >/dev/null)
  dpkg-deb -x "$qt"/podman_*.deb "$qt/x"
  install -D -m 755 "$qt/x/usr/libexec/podman/quadlet" /usr/local/lib/pactown/quadlet
  ln -sf /usr/local/lib/pactown/quadlet /usr/local/bin/quadlet
  rm -rf "$qt"
  log "quadlet $(/usr/local/bin/quadlet -version) installed (dry-run use only; needs systemd + podman >= 4.4 to run units)"
fi

# ---------------------------------------------------------------- summary
if [ "$DO_DOCKER" = 1 ]; then
  log "docker: server $(DOCKER_HOST="unix://$DOCKER_SOCK" docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), dockerd pid $(pidof dockerd || echo '?')"
fi
if [ "$DO_PODMAN" = 1 ]; then
  log "podman: $(podman --version), API socket $PODMAN_SOCK, service pid $(pgrep -f "podman system service --time=0 unix://$PODMAN_SOCK" | head -1 || echo '?')"
fi
log "done"
