#!/usr/bin/env bash
# Warm start of examples/polyglot: `pactown up -d` (returns when all services are healthy) versus
# a compose tool on the very same images, timed until every /health answers from the host; also
# no-op `up` and `status`/`ps`. Prints a markdown table.
#
#   bash benches/up-bench.sh [RUNS] [ENGINE]    (default 3 runs, median reported; docker|podman)
#
# docker: baseline `docker-compose up -d` with health-gated depends_on (1 s interval).
# podman: baseline `podman-compose` 1.0.3, which ignores `condition: service_healthy` (and no
#   health check is ever scheduled here: no systemd timers), so health is polled from the host:
#   "gated" starts api+site, waits for api, starts web, waits for web, starts gateway (what
#   depends_on means); "ungated" starts all four at once and waits for all.
#
# Needs: the engine, docker-compose / podman-compose (Debian packages), python3, curl, bc; a
# release build of pactown.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
ENGINE=${2:-docker}
case "$ENGINE" in
  docker) CLI=docker COMPOSE_TOOL=docker-compose ;;
  podman) CLI=podman COMPOSE_TOOL=podman-compose ;;
  *) echo "unknown engine $ENGINE (docker|podman)" >&2; exit 2 ;;
esac
command -v "$COMPOSE_TOOL" >/dev/null || { echo "$COMPOSE_TOOL is not installed (apt-get install -y $COMPOSE_TOOL)" >&2; exit 2; }
PACTOWN=${PACTOWN:-target/release/pactown}
[ -x "$PACTOWN" ] || cargo build --release --quiet
export PACTOWN_CA_BUNDLE=${PACTOWN_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
export NO_COLOR=1
WORK=$(mktemp -d)
NAME="bench-$$"
PROJECT="benchcompose$$"
trap '"$PACTOWN" down "$WORK/polyglot.pactown.yaml" --engine "$ENGINE" --timeout 2 >/dev/null 2>&1 || true;
      "$COMPOSE_TOOL" -p "$PROJECT" -f "$WORK/compose.json" down -t 2 >/dev/null 2>&1 || true;
      rm -rf "$WORK"' EXIT

cp -r examples/polyglot/. "$WORK/"
sed -i "s/^name: polyglot$/name: $NAME/" "$WORK/polyglot.pactown.yaml"
ECO="$WORK/polyglot.pactown.yaml"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs() { local s=$(now); "$@" >/dev/null 2>&1; echo "$(now) - $s" | bc -l; }

echo "warming up (builds images if needed)…" >&2
"$PACTOWN" up "$ECO" -d --engine "$ENGINE" --timeout 300 >/dev/null

# a compose file with the same images, env, init and container ports (host ports 9100+)
"$PACTOWN" status "$ECO" --json --engine "$ENGINE" > "$WORK/status.json"
python3 - "$WORK" "$NAME" "$CLI" <<'PY'
import json, subprocess, sys
work, name, cli = sys.argv[1], sys.argv[2], sys.argv[3]
status = json.load(open(f"{work}/status.json"))
deps = {"web": ["api"], "gateway": ["api", "web"]}
probe = {
    "api": ["CMD", "python3", "-c", "import urllib.request;urllib.request.urlopen('http://127.0.0.1:8100/health')"],
    "web": ["CMD", "node", "-e", "require('http').get('http://127.0.0.1:8101/health',r=>process.exit(r.statusCode<400?0:1)).on('error',()=>process.exit(1))"],
}
services = {}
for i, s in enumerate(status["services"]):
    cid = s["replicas"][0]["id"]
    cfg = json.loads(subprocess.check_output([cli, "inspect", cid]))[0]
    env = [e for e in cfg["Config"]["Env"]]
    port = {"api": 8100, "web": 8101, "gateway": 8102, "site": 8103}[s["service"]]
    svc = {"image": s["image"], "environment": env, "init": True,
           "ports": [f"127.0.0.1:{port + 1000}:{port}"]}
    if s["service"] in probe and cli == "docker":
        svc["healthcheck"] = {"test": probe[s["service"]], "interval": "1s", "timeout": "5s", "retries": 60}
    if s["service"] in deps and cli == "docker":
        svc["depends_on"] = {d: {"condition": "service_healthy"} for d in deps[s["service"]]}
    elif s["service"] in deps:
        svc["depends_on"] = deps[s["service"]]
    services[s["service"]] = svc
json.dump({"version": "2.4", "services": services}, open(f"{work}/compose.json", "w"), indent=2)
PY
"$PACTOWN" down "$ECO" --engine "$ENGINE" --timeout 2 >/dev/null 2>&1

URLS_COMPOSE="http://127.0.0.1:9100/health http://127.0.0.1:9101/health http://127.0.0.1:9102/health http://127.0.0.1:9103/"
wait_url() { until curl -fs -o /dev/null "$1"; do sleep 0.05; done; }
wait_all() { for u in $URLS_COMPOSE; do wait_url "$u"; done; }
compose() { "$COMPOSE_TOOL" -p "$PROJECT" -f "$WORK/compose.json" "$@"; }
# podman-compose ignores health conditions: start in dependency order, polling health ourselves
gated_up() {
  compose up -d --no-deps api site >/dev/null 2>&1; wait_url http://127.0.0.1:9100/health
  compose up -d --no-deps web >/dev/null 2>&1; wait_url http://127.0.0.1:9101/health
  compose up -d --no-deps gateway >/dev/null 2>&1; wait_all
}

declare -a P_UP C_UP U_UP P_NOOP C_NOOP P_ST C_ST
for i in $(seq "$RUNS"); do
  echo "run $i/$RUNS" >&2
  P_UP+=("$(secs "$PACTOWN" up "$ECO" -d --engine "$ENGINE")")
  P_NOOP+=("$(secs "$PACTOWN" up "$ECO" -d --engine "$ENGINE")")
  P_ST+=("$(secs "$PACTOWN" status "$ECO" --engine "$ENGINE")")
  "$PACTOWN" down "$ECO" --engine "$ENGINE" --timeout 2 >/dev/null 2>&1

  if [ "$ENGINE" = podman ]; then
    s=$(now); gated_up; C_UP+=("$(echo "$(now) - $s" | bc -l)")
  else
    s=$(now); compose up -d >/dev/null 2>&1; wait_all; C_UP+=("$(echo "$(now) - $s" | bc -l)")
  fi
  C_NOOP+=("$(secs compose up -d)")
  C_ST+=("$(secs compose ps)")
  compose down -t 2 >/dev/null 2>&1
  if [ "$ENGINE" = podman ]; then
    s=$(now); compose up -d >/dev/null 2>&1; wait_all; U_UP+=("$(echo "$(now) - $s" | bc -l)")
    compose down -t 2 >/dev/null 2>&1
  fi
done

row() {
  local what=$1 p c
  p=$(printf '%s\n' "${@:2:$RUNS}" | median)
  c=$(printf '%s\n' "${@:$((RUNS + 2)):$RUNS}" | median)
  printf '| %s | %.2f s | %.2f s | %.1f× |\n' "$what" "$p" "$c" "$(echo "$c / $p" | bc -l)"
}
echo
echo "| polyglot (4 services) on $ENGINE, median of $RUNS | pactown | $COMPOSE_TOOL | compose ÷ pactown |"
echo "|---|---|---|---|"
if [ "$ENGINE" = podman ]; then
  row "warm up -d → all healthy (compose gated by host polling)" "${P_UP[@]}" "${C_UP[@]}"
  row "warm up -d → all healthy (compose ungated)" "${P_UP[@]}" "${U_UP[@]}"
else
  row "warm up -d → all healthy" "${P_UP[@]}" "${C_UP[@]}"
fi
row "no-op up -d" "${P_NOOP[@]}" "${C_NOOP[@]}"
row "status / ps" "${P_ST[@]}" "${C_ST[@]}"
