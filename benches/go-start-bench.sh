#!/usr/bin/env bash
# Go start benchmark: a Go hello-world whose run block is `go run .`, built by pactown (the
# binary is compiled at image build time), started with pactown's hardened defaults (read-only
# root, noexec tmpfs /tmp, anonymous /app volume, no capabilities, no-new-privileges, init).
# Times, per run, from the container's start (State.StartedAt) to the first HTTP 200 on /health,
# polled from the host every 5 ms:
#   pactown  — the image's own CMD: start.sh → run.sh (`go run .`) → go shim → exec the binary;
#   baseline — the same image and flags, the binary as the container's command (no shell, no shim).
# Prints a markdown row per variant (median, min, max) and the ratio pactown / baseline.
#
# Usage: benches/go-start-bench.sh [RUNS] [docker|podman]   (default 10 docker)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10}
ENGINE=${2:-docker}
if [ -z "${PACTOWN_CA_BUNDLE:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export PACTOWN_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
fi
BIN=${PACTOWN_BIN:-}
if [ -z "$BIN" ]; then
  cargo build --release --quiet
  BIN=$PWD/target/release/pactown
fi
work=$(mktemp -d)
name=gobench-$$
cleanup() {
  "$ENGINE" rm -f -v "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
cp tests/fixtures/build/go-http/README.md "$work/README.md"
cat >"$work/bench.pactown.yaml" <<YAML
name: $name
services:
  gohello:
    readme: README.md
    port: 8000
YAML
"$BIN" -q build "$work/bench.pactown.yaml" --engine "$ENGINE" --json >"$work/build.json"
tag=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d=d.get("images",d) if isinstance(d,dict) else d; print(d[0]["tag"])' "$work/build.json")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

one() { # $@: command override (empty: the image's CMD); prints seconds StartedAt → first 200
  "$ENGINE" rm -f -v "$name" >/dev/null 2>&1 || true
  "$ENGINE" create --name "$name" --init --read-only \
    --tmpfs /tmp:rw,noexec,nosuid,nodev,size=256m,mode=1777 -v /app \
    --cap-drop ALL --security-opt no-new-privileges --pids-limit 512 \
    -e PORT=8000 -e HOME=/tmp -p "127.0.0.1:$port:8000" "$tag" "$@" >/dev/null
  "$ENGINE" start "$name" >/dev/null
  local t1
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null; do sleep 0.005; done
  t1=$(date +%s.%N)
  local started
  started=$("$ENGINE" inspect -f '{{.State.StartedAt}}' "$name")
  python3 - "$started" "$t1" <<'PY'
import sys, datetime, re
s = sys.argv[1].strip()
# Docker: 2026-12-01T20:01:02.123456789Z; Podman: 2026-12-01 20:01:02.123456789 +0000 UTC
m = re.match(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?", s)
base = datetime.datetime.strptime(m.group(1) + " " + m.group(2), "%Y-%m-%d %H:%M:%S")
base = base.replace(tzinfo=datetime.timezone.utc).timestamp()
frac = float("0." + (m.group(3) or "0"))
print("%.4f" % (float(sys.argv[2]) - base - frac))
PY
}
stats() { python3 -c 'import sys,statistics as s; v=sorted(map(float,sys.argv[1:])); print("%.3f %.3f %.3f" % (s.median(v), v[0], v[-1]))' "$@"; }

bin=/app/.markpact/bin/go-run-1
pac=() base=()
one >/dev/null # warm the engine's page cache for this image
for _ in $(seq "$RUNS"); do
  pac+=("$(one)")
  base+=("$(one "$bin")")
done
read -r pm pmin pmax <<<"$(stats "${pac[@]}")"
read -r bm bmin bmax <<<"$(stats "${base[@]}")"
ratio=$(python3 -c "print('%.2f' % ($pm / $bm))")
echo "| $ENGINE, median of $RUNS | StartedAt → first 200 | min | max |"
echo "|---|---|---|---|"
echo "| pactown (\`go run .\` → shim → binary built at image build) | ${pm} s | ${pmin} s | ${pmax} s |"
echo "| baseline (the binary as the container command) | ${bm} s | ${bmin} s | ${bmax} s |"
echo "| pactown ÷ baseline | ${ratio} | | |"
