#!/usr/bin/env bash
# The test command: installs and starts Docker and Podman (idempotent, see setup-engines.sh),
# then runs every test — unit, CLI, snapshot and real-engine integration tests — with missing
# engines treated as failures.
set -euo pipefail
cd "$(dirname "$0")/.."
retry() { local n; for n in 1 2 3; do "$@" && return 0; echo "retry $n: $*" >&2; sleep $((n * 5)); done; "$@"; }
export PACTOWN_WITH_QUADLET=1   # also the `quadlet` generator, for dry-run checks of exported units
retry bash integration/setup-engines.sh
# the systemd "VPS" image of integration/vps.rs (debootstrap once, then cached)
retry bash integration/vps/prepare.sh >/dev/null
# docker-compose validates and runs the exported compose files
if ! command -v docker-compose >/dev/null; then
  retry bash -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-compose >/var/log/pactown-apt.log 2>&1 || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-compose >/var/log/pactown-apt.log 2>&1; }'
fi
# Debian's caddy: tests/ingress.rs checks the generated Caddyfiles with `caddy adapt`
if ! command -v caddy >/dev/null; then
  retry bash -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q caddy >>/var/log/pactown-apt.log 2>&1 || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q caddy >>/var/log/pactown-apt.log 2>&1; }'
fi
# a real OCI registry (distribution 2.8) for the push tests, and htpasswd for its auth; the tests
# start their own copies on 127.0.0.1 (the package's own config binds every interface: never used)
if ! command -v docker-registry >/dev/null || ! command -v htpasswd >/dev/null; then
  retry bash -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-registry apache2-utils openssl >>/var/log/pactown-apt.log 2>&1 || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-registry apache2-utils openssl >>/var/log/pactown-apt.log 2>&1; }'
fi
# the two-node Swarm test (integration/swarm_nodes.rs) puts a second dockerd in a network
# namespace: it needs ip (iproute2) and nsenter/setsid (util-linux)
if ! command -v ip >/dev/null || ! command -v nsenter >/dev/null; then
  retry bash -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q iproute2 util-linux >>/var/log/pactown-apt.log 2>&1 || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q iproute2 util-linux >>/var/log/pactown-apt.log 2>&1; }'
fi
export PACTOWN_REQUIRE_ENGINES=1
# the build machines here reach PyPI/npm through a TLS-intercepting proxy: hand its CA to builds
if [ -z "${PACTOWN_CA_BUNDLE:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export PACTOWN_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
fi
# one test at a time: the real-engine tests share two engines on a 2-core machine, and parallel
# runs produced no-op `up`s that saw another config hash (cause still open, see the closing note)
cargo test --locked --all-targets -- --test-threads="${PACTOWN_TEST_THREADS:-1}"
