#!/usr/bin/env bash
# Build benchmark: for the Python (FastAPI) and Node (express) fixture services, time
#   cold      — `pactown build --no-cache` (every service layer rebuilt, pip/npm download again),
#   no-op     — the same README again (the tag exists: no build at all),
#   code-only — one code file changed (dependency layers from the cache),
# and print a markdown table with the ratio code-only / cold.
# Targets: no-op < 0.3 s, code-only < 10 % of cold.
#
# Usage: benches/build-bench.sh [--engine docker|podman|auto]
# Needs a running engine with debian:bookworm-slim (`pactown images bootstrap`); base images are
# built first (not timed). PACTOWN_CA_BUNDLE (default: the host bundle if present) is passed on.
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE_ARGS=("$@")
if [ -z "${PACTOWN_CA_BUNDLE:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export PACTOWN_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
fi
BIN=${PACTOWN_BIN:-}
if [ -z "$BIN" ]; then
  cargo build --release --quiet
  BIN=$PWD/target/release/pactown
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r tests/fixtures/build/python-fastapi tests/fixtures/build/node-express "$work/"
cat >"$work/bench.pactown.yaml" <<YAML
name: build-bench
services:
  bench-api:
    readme: python-fastapi/README.md
    port: 8201
  bench-web:
    readme: node-express/README.md
    port: 8202
YAML
"$BIN" -q images build python node "${ENGINE_ARGS[@]}" >/dev/null

now() { date +%s.%N; }
timed() { # prints seconds of one `pactown build` run
  local t0 t1
  t0=$(now)
  "$BIN" -q build "$work/bench.pactown.yaml" "${ENGINE_ARGS[@]}" "$@" >/dev/null
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}
# a unique marker keeps runs independent (new tag, old dependency layers)
stamp="bench-$$-$(date +%s)"
bump() { # $1 README, $2 code file, $3 comment prefix, $4 marker
  sed -i "s|markpact:file path=$2\$|markpact:file path=$2\n$3 $4|" "$1"
}
bump "$work/python-fastapi/README.md" main.py "#" "$stamp-0"
bump "$work/node-express/README.md" server.js "//" "$stamp-0"

rows=()
for svc in bench-api bench-web; do
  case $svc in
    bench-api) readme=$work/python-fastapi/README.md code=main.py c="#" ;;
    bench-web) readme=$work/node-express/README.md code=server.js c="//" ;;
  esac
  cold=$(timed "$svc" --no-cache)
  noop=$(timed "$svc")
  bump "$readme" "$code" "$c" "$stamp-1"
  code_only=$(timed "$svc")
  ratio=$(echo "100 * $code_only / $cold" | bc -l)
  rows+=("$(printf '| %s | %.2f s | %.3f s | %.2f s | %.1f %% |' "$svc" "$cold" "$noop" "$code_only" "$ratio")")
done

echo "| service | cold (--no-cache) | no-op rebuild | code-only rebuild | code-only / cold |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "targets: no-op < 0.3 s, code-only < 10 % of cold ($(uname -m), $(nproc) cores, engine ${ENGINE_ARGS[*]:-auto})"
