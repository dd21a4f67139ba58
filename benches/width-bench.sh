#!/usr/bin/env bash
# Width and depth: how pactown's `up -d` scales with the number of services.
#
#   wide50   50 independent services (one level): every one may start at once;
#   chain10  10 services in a chain (s1 → s0, s2 → s1, …): each starts only after the one before
#            is healthy, so the time is 10 × (start + first health answer).
#
# Every service is the same tiny static README (served by `python3 -m http.server` in pactown's
# static base image), so all images share one layer set and the numbers measure orchestration,
# not builds. Reported: warm `up -d` (images present, no containers) → all healthy, its time per
# container, and `down`; for wide50 also two baselines on the same images: the same 50 containers
# started one by one with `docker run -d` (no health wait), and `docker-compose up -d` of
# pactown's own Compose export of wide50 (same images, env, hardening and ports) plus polling
# every published port until it answers (what "all healthy" means for pactown).
#
#   bash benches/width-bench.sh [RUNS]        (default 3 runs, median reported)
#
# Needs: Docker, docker-compose (1.29, Debian's package), bc, curl; a release build of pactown.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
PACTOWN=$(realpath "${PACTOWN:-target/release/pactown}" 2>/dev/null || echo target/release/pactown)
[ -x "$PACTOWN" ] || { cargo build --release --quiet; PACTOWN=$(realpath target/release/pactown); }
export NO_COLOR=1
WORK=$(mktemp -d)
TAG="w$$"
BASE_NET="bench-width-raw-$$"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs() { local s; s=$(now); "$@" >>"$WORK/log" 2>&1 || { tail -20 "$WORK/log" >&2; return 1; }; echo "$(now) - $s" | bc -l; }
log() { echo "$*" >&2; }

mkdir -p "$WORK/page"
cat >"$WORK/page/README.md" <<'MD'
# page

```html markpact:file path=index.html
<h1>ok</h1>
```
MD

# wide50: s00..s49, no dependencies, ports 8700-8749
{
  echo "name: bench-wide-$TAG"
  echo "base_port: 8700"
  echo "services:"
  for i in $(seq -w 0 49); do
    printf '  s%s:\n    readme: page/README.md\n    health_check: /\n' "$i"
  done
} >"$WORK/wide.pactown.yaml"

# chain10: c0 ← c1 ← … ← c9, ports 8760-8769
{
  echo "name: bench-chain-$TAG"
  echo "base_port: 8760"
  echo "services:"
  for i in $(seq 0 9); do
    printf '  c%s:\n    readme: page/README.md\n    health_check: /\n' "$i"
    [ "$i" = 0 ] || printf '    depends_on: [c%s]\n' "$((i - 1))"
  done
} >"$WORK/chain.pactown.yaml"

down() { "$PACTOWN" down "$1" --engine docker --timeout 2 >/dev/null 2>&1 || true; }
raw_cleanup() {
  local ids; ids=$(docker ps -aq --filter "label=bench-width-raw=$TAG")
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
  docker network rm "$BASE_NET" >/dev/null 2>&1 || true
}
COMPOSE_PROJECT="bench-wide-compose-$TAG"
compose_down() { docker-compose -p "$COMPOSE_PROJECT" -f "$WORK/wide.compose.yaml" down -t 2 >/dev/null 2>&1 || true; }
trap 'down "$WORK/wide.pactown.yaml"; down "$WORK/chain.pactown.yaml"; raw_cleanup; compose_down; rm -rf "$WORK"' EXIT

# until every port 8700-8749 on 127.0.0.1 answers (at most 120 s)
all_answer() {
  local deadline=$(( $(date +%s) + 120 )) p
  for p in $(seq 8700 8749); do
    until curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$p/"; do
      [ "$(date +%s)" -lt "$deadline" ] || { echo "port $p does not answer" >&2; return 1; }
      sleep 0.05
    done
  done
}
compose_up() { docker-compose -p "$COMPOSE_PROJECT" -f "$WORK/wide.compose.yaml" up -d && all_answer; }

log "first runs (build the 60 image tags on one shared layer set; not in the medians)…"
FIRST_W=$(secs "$PACTOWN" up "$WORK/wide.pactown.yaml" -d --engine docker --timeout 120)
down "$WORK/wide.pactown.yaml"
FIRST_C=$(secs "$PACTOWN" up "$WORK/chain.pactown.yaml" -d --engine docker --timeout 120)
down "$WORK/chain.pactown.yaml"
IMAGE=$("$PACTOWN" build "$WORK/wide.pactown.yaml" s00 --json --engine docker | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["tag"])')
"$PACTOWN" export compose "$WORK/wide.pactown.yaml" -o "$WORK/wide.compose.yaml"
grep -q '8749' "$WORK/wide.compose.yaml" || { echo "the Compose export publishes no ports" >&2; exit 1; }

declare -a WU WD CU CD RAW CMP CMPD
for i in $(seq "$RUNS"); do
  log "run $i/$RUNS"
  WU+=("$(secs "$PACTOWN" up "$WORK/wide.pactown.yaml" -d --engine docker --timeout 120)")
  WD+=("$(secs "$PACTOWN" down "$WORK/wide.pactown.yaml" --engine docker --timeout 2)")
  CU+=("$(secs "$PACTOWN" up "$WORK/chain.pactown.yaml" -d --engine docker --timeout 120)")
  CD+=("$(secs "$PACTOWN" down "$WORK/chain.pactown.yaml" --engine docker --timeout 2)")
  # baseline: the same 50 containers with the docker CLI, one by one, no health wait
  s=$(now)
  docker network create --label "bench-width-raw=$TAG" "$BASE_NET" >/dev/null
  for j in $(seq -w 0 49); do
    docker run -d --label "bench-width-raw=$TAG" --network "$BASE_NET" --network-alias "s$j" \
      -p "127.0.0.1::80$j" -e "PORT=80$j" -e "MARKPACT_PORT=80$j" "$IMAGE" >/dev/null
  done
  RAW+=("$(echo "$(now) - $s" | bc -l)")
  raw_cleanup
  # baseline: docker-compose up -d of the Compose export, then every port answers
  CMP+=("$(secs compose_up)")
  CMPD+=("$(secs compose_down)")
done

m() { printf '%s\n' "$@" | median; }
wu=$(m "${WU[@]}"); wd=$(m "${WD[@]}"); cu=$(m "${CU[@]}"); cd_=$(m "${CD[@]}"); raw=$(m "${RAW[@]}")
cmp=$(m "${CMP[@]}"); cmpd=$(m "${CMPD[@]}")
echo
echo "$("$PACTOWN" --version), Docker $(docker version -f '{{.Server.Version}}'), $(nproc) cores, median of $RUNS; concurrency ${PACTOWN_CONCURRENCY:-default}"
echo
echo "| ecosystem | warm up -d → all healthy | per container | down | first up (build) |"
echo "|---|---|---|---|---|"
printf '| wide50 (50 × 1 level) | %.2f s | %.0f ms | %.2f s | %.1f s |\n' "$wu" "$(echo "$wu * 1000 / 50" | bc -l)" "$wd" "$FIRST_W"
printf '| chain10 (10 deep) | %.2f s | %.0f ms | %.2f s | %.1f s |\n' "$cu" "$(echo "$cu * 1000 / 10" | bc -l)" "$cd_" "$FIRST_C"
printf '| baseline: 50 × `docker run -d` serially, no health wait | %.2f s | %.0f ms | – | – |\n' "$raw" "$(echo "$raw * 1000 / 50" | bc -l)"
printf '| baseline: `docker-compose up -d` of the export of wide50 + every port answers | %.2f s | %.0f ms | %.2f s | – |\n' "$cmp" "$(echo "$cmp * 1000 / 50" | bc -l)" "$cmpd"
echo
printf 'wide50: pactown ÷ docker-compose = %.2f× (up), %.2f× (down)\n' "$(echo "$wu / $cmp" | bc -l)" "$(echo "$wd / $cmpd" | bc -l)"
log "wide up: ${WU[*]} | chain up: ${CU[*]} | raw: ${RAW[*]} | compose: ${CMP[*]}"
