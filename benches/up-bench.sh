#!/usr/bin/env bash
# Warm start of examples/polyglot: `pactown up -d` (returns when all services are healthy) versus
# `docker-compose up -d` on the very same images with health-gated depends_on plus polling every
# /health from the host; also no-op `up` and `status`/`ps`. Prints a markdown table.
#
#   bash benches/up-bench.sh [RUNS]        (default 3 runs, median reported)
#
# Needs: Docker, docker-compose (Debian package), python3, curl; a release build of pactown.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
PACTOWN=${PACTOWN:-target/release/pactown}
[ -x "$PACTOWN" ] || cargo build --release --quiet
export PACTOWN_CA_BUNDLE=${PACTOWN_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
export NO_COLOR=1
WORK=$(mktemp -d)
NAME="bench-$$"
PROJECT="benchcompose$$"
trap '"$PACTOWN" down "$WORK/polyglot.pactown.yaml" --engine docker --timeout 2 >/dev/null 2>&1 || true;
      docker-compose -p "$PROJECT" -f "$WORK/compose.json" down -t 2 >/dev/null 2>&1 || true;
      rm -rf "$WORK"' EXIT

cp -r examples/polyglot/. "$WORK/"
sed -i "s/^name: polyglot$/name: $NAME/" "$WORK/polyglot.pactown.yaml"
ECO="$WORK/polyglot.pactown.yaml"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs() { local s=$(now); "$@" >/dev/null 2>&1; echo "$(now) - $s" | bc -l; }

echo "warming up (builds images if needed)…" >&2
"$PACTOWN" up "$ECO" -d --engine docker --timeout 300 >/dev/null

# a compose file with the same images, env, init and container ports (host ports 9100+)
"$PACTOWN" status "$ECO" --json --engine docker > "$WORK/status.json"
python3 - "$WORK" "$NAME" <<'PY'
import json, subprocess, sys
work, name = sys.argv[1], sys.argv[2]
status = json.load(open(f"{work}/status.json"))
deps = {"web": ["api"], "gateway": ["api", "web"]}
probe = {
    "api": ["CMD", "python3", "-c", "import urllib.request;urllib.request.urlopen('http://127.0.0.1:8100/health')"],
    "web": ["CMD", "node", "-e", "require('http').get('http://127.0.0.1:8101/health',r=>process.exit(r.statusCode<400?0:1)).on('error',()=>process.exit(1))"],
}
services = {}
for i, s in enumerate(status["services"]):
    cid = s["replicas"][0]["id"]
    cfg = json.loads(subprocess.check_output(["docker", "inspect", cid]))[0]
    env = [e for e in cfg["Config"]["Env"]]
    port = {"api": 8100, "web": 8101, "gateway": 8102, "site": 8103}[s["service"]]
    svc = {"image": s["image"], "environment": env, "init": True,
           "ports": [f"127.0.0.1:{port + 1000}:{port}"]}
    if s["service"] in probe:
        svc["healthcheck"] = {"test": probe[s["service"]], "interval": "1s", "timeout": "5s", "retries": 60}
    if s["service"] in deps:
        svc["depends_on"] = {d: {"condition": "service_healthy"} for d in deps[s["service"]]}
    services[s["service"]] = svc
json.dump({"version": "2.4", "services": services}, open(f"{work}/compose.json", "w"), indent=2)
PY
"$PACTOWN" down "$ECO" --engine docker --timeout 2 >/dev/null 2>&1

URLS_COMPOSE="http://127.0.0.1:9100/health http://127.0.0.1:9101/health http://127.0.0.1:9102/health http://127.0.0.1:9103/"
wait_all() { for u in $URLS_COMPOSE; do until curl -fs -o /dev/null "$u"; do sleep 0.05; done; done; }
compose() { docker-compose -p "$PROJECT" -f "$WORK/compose.json" "$@"; }

declare -a P_UP C_UP P_NOOP C_NOOP P_ST C_ST
for i in $(seq "$RUNS"); do
  echo "run $i/$RUNS" >&2
  P_UP+=("$(secs "$PACTOWN" up "$ECO" -d --engine docker)")
  P_NOOP+=("$(secs "$PACTOWN" up "$ECO" -d --engine docker)")
  P_ST+=("$(secs "$PACTOWN" status "$ECO" --engine docker)")
  "$PACTOWN" down "$ECO" --engine docker --timeout 2 >/dev/null 2>&1

  s=$(now); compose up -d >/dev/null 2>&1; wait_all; C_UP+=("$(echo "$(now) - $s" | bc -l)")
  C_NOOP+=("$(secs compose up -d)")
  C_ST+=("$(secs compose ps)")
  compose down -t 2 >/dev/null 2>&1
done

row() {
  local what=$1 p c
  p=$(printf '%s\n' "${@:2:$RUNS}" | median)
  c=$(printf '%s\n' "${@:$((RUNS + 2)):$RUNS}" | median)
  printf '| %s | %.2f s | %.2f s | %.1f× |\n' "$what" "$p" "$c" "$(echo "$c / $p" | bc -l)"
}
echo
echo "| polyglot (4 services), median of $RUNS | pactown | docker-compose | compose ÷ pactown |"
echo "|---|---|---|---|"
row "warm up -d → all healthy" "${P_UP[@]}" "${C_UP[@]}"
row "no-op up -d" "${P_NOOP[@]}" "${C_NOOP[@]}"
row "status / ps" "${P_ST[@]}" "${C_ST[@]}"
