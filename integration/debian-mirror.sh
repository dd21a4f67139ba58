# Sourced by setup-engines.sh and vps/prepare.sh: the Debian mirror to debootstrap from.
# debian_mirror: PACTOWN_DEBIAN_MIRROR, else the first non-security Debian URI of the host's apt
# sources (deb822 `.sources` or one-line `.list` files), without a trailing slash; calls `die`
# (the caller's) when there is none.
debian_mirror() {
  if [ -n "${PACTOWN_DEBIAN_MIRROR:-}" ]; then echo "${PACTOWN_DEBIAN_MIRROR%/}"; return; fi
  local m
  m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
      awk '/^URIs:/{for(i=2;i<=NF;i++) if ($i !~ /security/) {print $i; exit}}')
  [ -z "$m" ] && m=$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      grep -v security | grep -E '/debian/?( |$)' | awk '{for(i=2;i<=NF;i++) if ($i ~ /^(https?|file):/) {print $i; exit}}' | head -1)
  [ -n "$m" ] || die "cannot find a Debian mirror in the apt sources; set PACTOWN_DEBIAN_MIRROR"
  echo "${m%/}"
}
