#!/usr/bin/env bash
# Push benchmark: the polyglot example (four services) pushed to a real registry (Debian's
# docker-registry on 127.0.0.1, fresh storage) with `pactown build --push`
#   cold      — into an empty registry,
#   unchanged — the same ecosystem again,
#   code edit — after a code-only change to one service (api),
# each beside `docker push` / `podman push` of the same images into a second empty registry (the
# baseline: same engine, same layers). Bytes are what the registry received: the sizes of the blobs whose
# upload completed (`PUT …/blobs/uploads/…?digest=` in its request log). Prints a markdown table.
#
# Usage: benches/push-bench.sh [docker|podman]   (default docker; needs docker-registry:
#        apt-get install docker-registry)
# PACTOWN_BIN=path uses that binary instead of a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE=${1:-docker}
case "$ENGINE" in
  docker) PUSH=(docker push -q) ;;
  podman) PUSH=(podman push -q --tls-verify=false) ;;
  *) echo "usage: $0 [docker|podman]" >&2; exit 2 ;;
esac
if [ -z "${PACTOWN_CA_BUNDLE:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export PACTOWN_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
fi
BIN=${PACTOWN_BIN:-}
if [ -z "$BIN" ]; then
  cargo build --release --quiet
  BIN=$PWD/target/release/pactown
fi
command -v docker-registry >/dev/null || { echo "needs docker-registry" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  "$ENGINE" images --format '{{.Repository}}:{{.Tag}}' | grep -E "^127\.0\.0\.1:($P1|$P2)/" | xargs -r "$ENGINE" rmi -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_registry() { # NAME PORT
  mkdir -p "$work/$1"
  cat >"$work/$1/config.yml" <<YAML
version: 0.1
log: {level: info, accesslog: {disabled: false}}
storage: {filesystem: {rootdirectory: $work/$1/data}}
http: {addr: 127.0.0.1:$2, secret: bench}
YAML
  docker-registry serve "$work/$1/config.yml" >"$work/$1/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$2/v2/" >/dev/null && return; sleep 0.1; done
  echo "registry $1 did not start" >&2; exit 1
}
P1=$(free_port); start_registry pactown "$P1"
P2=$(free_port); start_registry baseline "$P2"
# uploads in the log of registry NAME after byte offset MARK: "COUNT BYTES"
uploads() {
  local name=$1 port=$2 mark=$3 count=0 bytes=0
  while read -r repo digest; do
    size=$(curl -sI "http://127.0.0.1:$port/v2/$repo/blobs/$digest" | tr -d '\r' | awk 'tolower($1)=="content-length:"{print $2}')
    count=$((count + 1)); bytes=$((bytes + ${size:-0}))
  done < <(tail -c +$((mark + 1)) "$work/$name/log" | grep '"PUT /v2/' | grep '/blobs/uploads/' | grep 'HTTP/1.1" 201' |
    sed -E 's|.*"PUT /v2/(.*)/blobs/uploads/[^?]*\?[^ ]*digest=sha256%3A([0-9a-f]+).*|\1 sha256:\2|')
  echo "$count $bytes"
}
mark() { stat -c %s "$work/$1/log"; }
now() { date +%s.%N; }

cp -r examples/polyglot "$work/eco"
file="$work/eco/polyglot.pactown.yaml"
"$BIN" -q build "$file" --engine "$ENGINE" >/dev/null   # the images themselves (not timed)

declare -A secs bytes blobs bsecs bbytes bblobs
pactown_push() { # CASE
  local m t0 t1
  m=$(mark pactown); t0=$(now)
  "$BIN" -q build "$file" --engine "$ENGINE" --push --repo "127.0.0.1:$P1/bench" --metadata-file "$work/meta.json" >/dev/null
  t1=$(now)
  secs[$1]=$(echo "$t1 - $t0" | bc)
  read -r blobs[$1] bytes[$1] < <(uploads pactown "$P1" "$m")
}
baseline_push() { # CASE — docker/podman push of the same images (the pushed names, retagged)
  local m t0 t1 refs=()
  while read -r local name; do
    "$ENGINE" tag "$local" "127.0.0.1:$P2/bench/$name" && refs+=("127.0.0.1:$P2/bench/$name")
  done < <(python3 -c "
import json; m=json.load(open('$work/meta.json'))
for s,p in m['services'].items(): print(p['image'], p['image'].split('/')[-1])")
  m=$(mark baseline); t0=$(now)
  for r in "${refs[@]}"; do "${PUSH[@]}" "$r" >/dev/null; done
  t1=$(now)
  bsecs[$1]=$(echo "$t1 - $t0" | bc)
  read -r bblobs[$1] bbytes[$1] < <(uploads baseline "$P2" "$m")
}
pactown_push cold; baseline_push cold
pactown_push unchanged; baseline_push unchanged
sed -i 's/"service": "api"/"service": "api-bench-edit"/' "$work/eco/api/README.md"
grep -q api-bench-edit "$work/eco/api/README.md" || { echo "code edit did not apply" >&2; exit 1; }
"$BIN" -q build "$file" --engine "$ENGINE" >/dev/null
pactown_push edit; baseline_push edit

kb() { printf '%.1f' "$(echo "scale=3; $1 / 1000" | bc)"; }
echo "| push of polyglot (4 services, $ENGINE) | pactown s | blobs | kB uploaded | $ENGINE push s | blobs | kB uploaded | time ratio |"
echo "|---|---|---|---|---|---|---|---|"
for c in cold unchanged edit; do
  ratio=$(printf '%.2f' "$(echo "scale=3; ${secs[$c]} / ${bsecs[$c]}" | bc)")
  printf '| %s | %.2f | %s | %s | %.2f | %s | %s | %s× |\n' "$c" "${secs[$c]}" "${blobs[$c]}" "$(kb "${bytes[$c]}")" \
    "${bsecs[$c]}" "${bblobs[$c]}" "$(kb "${bbytes[$c]}")" "$ratio"
done
