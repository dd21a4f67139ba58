#!/usr/bin/env bash
# examples/polyglot on a single-node Docker Swarm: `pactown up -d --engine swarm` from nothing to
# every replica healthy (it returns then), versus `docker stack deploy` of our own Compose export
# (rewritten for a stack: host-mode ports, endpoint_mode dnsrr — no IPVS here —, no depends_on,
# which a stack ignores anyway) on the very same images, timed until every service's health path
# answers from the host through its task's published port. Prints a markdown table.
#
#   bash benches/swarm-bench.sh [RUNS]     (default 3 runs, median reported)
#
# Initialises a swarm (--advertise-addr 127.0.0.1) when the daemon is in none, and leaves it
# again at the end. Needs: docker, python3 with PyYAML, curl, bc; pactown at $PACTOWN (default a
# release build).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
PACTOWN=${PACTOWN:-target/release/pactown}
[ -x "$PACTOWN" ] || cargo build --release --quiet
export PACTOWN_CA_BUNDLE=${PACTOWN_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
export NO_COLOR=1
WORK=$(mktemp -d)
NAME="swbench-$$"
STACK="swstack$$"
INITIALISED=0
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null
  INITIALISED=1
fi
cleanup() {
  "$PACTOWN" down "$WORK/polyglot.pactown.yaml" --engine swarm >/dev/null 2>&1 || true
  docker stack rm "$STACK" >/dev/null 2>&1 || true
  sleep 2
  docker network rm "${STACK}_pactown" >/dev/null 2>&1 || true
  [ "$INITIALISED" = 1 ] && docker swarm leave --force >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

cp -r examples/polyglot/. "$WORK/"
sed -i "s/^name: polyglot$/name: $NAME/" "$WORK/polyglot.pactown.yaml"
ECO="$WORK/polyglot.pactown.yaml"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "warming up (builds images if needed)…" >&2
"$PACTOWN" up "$ECO" -d --engine swarm --timeout 300 >/dev/null
"$PACTOWN" down "$ECO" --engine swarm >/dev/null

# the stack file from our Compose export: same images, env, init, replicas, container ports
"$PACTOWN" export compose "$ECO" > "$WORK/compose.yaml"
python3 - "$WORK" "$ECO" <<'PY'
import sys, yaml
work, eco = sys.argv[1], sys.argv[2]
compose = yaml.safe_load(open(f"{work}/compose.yaml"))
spec = yaml.safe_load(open(eco))
stack = {"version": "3.8", "services": {}, "networks": {"pactown": {"driver": "overlay", "attachable": True}}}
health = open(f"{work}/health.txt", "w")
for name, s in compose["services"].items():
    ports = [int(p.rsplit(":", 1)[1]) for p in s.get("ports", [])]
    svc = spec["services"][name]
    stack["services"][name] = {
        "image": s["image"],
        "init": True,
        "environment": s.get("environment", {}),
        "networks": {"pactown": {"aliases": [name]}},
        "ports": [{"target": p, "mode": "host"} for p in ports],
        "deploy": {"endpoint_mode": "dnsrr", "replicas": int(svc.get("replicas", 1))},
    }
    if ports:
        health.write(f"{name} {svc.get('health_check', '/')}\n")
yaml.safe_dump(stack, open(f"{work}/stack.yaml", "w"))
PY
for image in $(python3 -c "import yaml,sys; print(' '.join(s['image'] for s in yaml.safe_load(open(sys.argv[1]))['services'].values()))" "$WORK/stack.yaml"); do
  docker image inspect "$image" >/dev/null 2>&1 || { echo "the export names $image, which up did not build" >&2; exit 1; }
done

# every task of the stack's services with a health path answers through its published port
stack_healthy() {
  local svc path ids id port
  while read -r svc path; do
    ids=$(docker service ps -q --filter desired-state=running "${STACK}_$svc" 2>/dev/null) || return 1
    [ -n "$ids" ] || return 1
    for id in $ids; do
      port=$(docker inspect --format '{{range .Status.PortStatus.Ports}}{{.PublishedPort}}{{end}}' "$id" 2>/dev/null | head -c 5)
      [ -n "$port" ] || return 1
      curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$port$path" || return 1
    done
  done < "$WORK/health.txt"
}

pt=() sk=()
for i in $(seq 1 "$RUNS"); do
  s=$(now)
  "$PACTOWN" up "$ECO" -d --engine swarm --timeout 300 >/dev/null
  pt+=("$(echo "$(now) - $s" | bc -l)")
  "$PACTOWN" down "$ECO" --engine swarm >/dev/null

  s=$(now)
  docker stack deploy -c "$WORK/stack.yaml" "$STACK" >/dev/null 2>&1
  deadline=$(( $(date +%s) + 300 ))
  until stack_healthy; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "the stack was not healthy within 300 s" >&2; docker stack ps "$STACK" >&2; exit 1; }
    sleep 0.05
  done
  sk+=("$(echo "$(now) - $s" | bc -l)")
  docker stack rm "$STACK" >/dev/null
  # the stack's overlay goes a moment after its services
  for _ in $(seq 1 100); do docker network inspect "${STACK}_pactown" >/dev/null 2>&1 || break; sleep 0.2; done
  echo "run $i: pactown ${pt[-1]} s, stack ${sk[-1]} s" >&2
done
P=$(printf '%s\n' "${pt[@]}" | median)
S=$(printf '%s\n' "${sk[@]}" | median)
echo
echo "| polyglot on a single-node swarm, from nothing to all healthy (median of $RUNS) | seconds |"
echo "|---|---|"
printf '| `pactown up -d --engine swarm` (health-ordered, returns when every replica answers) | %.2f |\n' "$P"
printf '| `docker stack deploy` of the Compose export + polling every task'"'"'s /health | %.2f |\n' "$S"
printf '| ratio pactown / stack | %.2f× |\n' "$(echo "$P / $S" | bc -l)"
