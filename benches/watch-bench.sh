#!/usr/bin/env bash
# Developer loop: edit-to-new-response latency of `pactown watch` for a Python (FastAPI) and a
# Node (Express) service, next to a cold build (`pactown up -d --no-cache`, dependencies installed
# from the network) of the same service. Prints a markdown table.
#
#   bash benches/watch-bench.sh [RUNS]        (default 5 edits per service, median reported)
#
# An "edit" rewrites the service's README (a code change in a markpact:file block, deps block
# untouched); the clock runs from the write until GET /health on 127.0.0.1 returns the new body.
# Needs: Docker, python3. PACTOWN= picks the binary (default: release build if present, else
# debug; orchestration time is negligible next to the engine's).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
if [ -z "${PACTOWN:-}" ]; then
  if [ -x target/release/pactown ]; then PACTOWN=target/release/pactown; else
    cargo build --quiet; PACTOWN=target/debug/pactown; fi
fi
PACTOWN=$(realpath "$PACTOWN")
export PACTOWN_CA_BUNDLE=${PACTOWN_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
export NO_COLOR=1
WORK=$(mktemp -d)
WATCH_PID=
cleanup() {
  [ -n "$WATCH_PID" ] && kill -INT "$WATCH_PID" 2>/dev/null && wait "$WATCH_PID" 2>/dev/null || true
  for f in "$WORK"/*/eco.pactown.yaml; do
    [ -f "$f" ] && "$PACTOWN" down "$f" --engine docker --timeout 2 >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }

# one-service ecosystem for SERVICE (api|web) on PORT, health body carries rev "0"
make_eco() {
  local svc=$1 port=$2 dir="$WORK/$1"
  mkdir -p "$dir/$svc"
  cp "examples/polyglot/$svc/README.md" "$dir/$svc/README.md"
  case $svc in
    api) sed -i 's/"service": "api"}/"service": "api", "rev": "0"}/' "$dir/$svc/README.md" ;;
    web) sed -i 's/service: "web" }/service: "web", rev: "0" }/' "$dir/$svc/README.md" ;;
  esac
  grep -q 'rev' "$dir/$svc/README.md" || { echo "cannot mark $svc README" >&2; exit 1; }
  cat > "$dir/eco.pactown.yaml" <<EOF
name: wbench-$svc-$$
services:
  $svc:
    readme: $svc/README.md
    port: $port
    health_check: /health
    timeout: 120
EOF
}

# edit README of SVC to rev N and wait for it on PORT; prints seconds
edit_and_wait() {
  python3 - "$1" "$2" "$3" <<'PY'
import re, sys, time, urllib.request
path, port, rev = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path).read()
new = re.sub(r'(rev"?: ")\d+(")', lambda m: m.group(1) + rev + m.group(2), text, count=1)
assert new != text, "no rev marker"
t0 = time.time()
with open(path, "w") as f:
    f.write(new)
want = f'"rev":"{rev}"'
while time.time() - t0 < 120:
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read().decode()
        if want in body.replace(" ", ""):
            print(f"{time.time() - t0:.3f}")
            sys.exit(0)
    except Exception:
        pass
    time.sleep(0.02)
sys.exit("timed out")
PY
}

stats() { sort -g | awk '{a[NR]=$1} END {printf "%s %s %s\n", a[int((NR+1)/2)], a[1], a[NR]}'; }

declare -A COLD MED MIN MAX DOWN
for pair in api:9700 web:9701; do
  svc=${pair%%:*}; port=${pair##*:}
  make_eco "$svc" "$port"
  eco="$WORK/$svc/eco.pactown.yaml"
  echo "$svc: cold build + start (--no-cache)…" >&2
  s=$(now)
  "$PACTOWN" up "$eco" -d --no-cache --engine docker --timeout 300 >/dev/null 2>"$WORK/$svc.cold.log" \
    || { cat "$WORK/$svc.cold.log" >&2; exit 1; }
  COLD[$svc]=$(echo "$(now) - $s" | bc -l)
  "$PACTOWN" down "$eco" --engine docker --timeout 2 >/dev/null 2>&1

  echo "$svc: watch, $RUNS edits…" >&2
  "$PACTOWN" watch "$eco" --json --engine docker --timeout 120 >"$WORK/$svc.events" 2>"$WORK/$svc.watch.log" &
  WATCH_PID=$!
  for _ in $(seq 600); do grep -q '"event":"watching"' "$WORK/$svc.events" && break; sleep 0.1; done
  grep -q '"event":"watching"' "$WORK/$svc.events" || { cat "$WORK/$svc.watch.log" >&2; exit 1; }
  : > "$WORK/$svc.times"
  for i in $(seq "$RUNS"); do
    # a revision never used before, so the image really is rebuilt (tags are content hashes)
    edit_and_wait "$WORK/$svc/$svc/README.md" "$port" "$(date +%s%N)$i" >> "$WORK/$svc.times"
    sleep 1 # let the reconcile finish its bookkeeping
  done
  read -r MED[$svc] MIN[$svc] MAX[$svc] < <(stats < "$WORK/$svc.times")
  DOWN[$svc]=$(python3 - "$WORK/$svc.events" <<'PY'
import json, statistics, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
d = [e["downtime_ms"] for e in ev if e["event"] == "replaced"]
b = [e["image"]["seconds"] for e in ev if e["event"] == "built"]
reinstall = sum(1 for e in ev if e["event"] == "built"
                for s in e["image"]["steps"] if s["instruction"].startswith("RUN") and not s["cached"])
assert len(b) == len(d) > 0, f"{len(b)} builds, {len(d)} replacements"
print(f"{statistics.median(b):.2f} {statistics.median(d)/1000:.2f} {reinstall}")
PY
)
  kill -INT "$WATCH_PID"; wait "$WATCH_PID" 2>/dev/null || true; WATCH_PID=
done

echo
echo "| service | cold build + start | watch: edit → new response (median of $RUNS) | min – max | of which image build | of which swap (kill → healthy) | deps reinstalled | cold ÷ watch | < 3 s |"
echo "|---|---|---|---|---|---|---|---|---|"
for svc in api web; do
  read -r build swap reinstall <<< "${DOWN[$svc]}"
  runtime=$([ "$svc" = api ] && echo "Python (FastAPI)" || echo "Node (Express)")
  ratio=$(echo "${COLD[$svc]} / ${MED[$svc]}" | bc -l)
  ok=$(echo "${MED[$svc]} < 3" | bc -l | sed 's/1/yes/;s/0/no/')
  printf "| %s %s | %.2f s | %.2f s | %.2f – %.2f s | %.2f s | %.2f s | %s | %.0f× | %s |\n" \
    "$svc" "$runtime" "${COLD[$svc]}" "${MED[$svc]}" "${MIN[$svc]}" "${MAX[$svc]}" "$build" "$swap" \
    "$reinstall" "$ratio" "$ok"
done
