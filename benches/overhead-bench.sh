#!/usr/bin/env bash
# Per-`up` overhead: one service (`python3 -m http.server`, a warm image) brought up by
#
#   pactown     `pactown up -d` (returns when the port answers) — then `pactown down`;
#   run+poll    `ENGINE run -d -p 127.0.0.1:P:P IMAGE` plus polling the port from the host every
#               10 ms (the issue's baseline: what a shell script does);
#   run+same    the same `run` with pactown's container shape (its own network, read-only root,
#               cap-drop ALL, no-new-privileges, init, a volume on /app, tmpfs /tmp, pids limit):
#               what the engine itself charges for the guarantees pactown keeps.
#
# pactown − run+same is pactown's own cost; the timeline of one warm `up` (every engine call with
# its offset and duration, from `PACTOWN_LOG=pactown=debug`) is printed after the table.
#
#   bash benches/overhead-bench.sh [RUNS] [docker|podman]     (default 5 runs, median reported)
#
# Needs: the engine, curl, bc; a release build of pactown; the Python base image (`pactown images`).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
ENGINE=${2:-docker}
case "$ENGINE" in docker | podman) CLI=$ENGINE ;; *) echo "unknown engine $ENGINE" >&2; exit 2 ;; esac
PACTOWN=$(realpath "${PACTOWN:-target/release/pactown}" 2>/dev/null || echo target/release/pactown)
[ -x "$PACTOWN" ] || { cargo build --release --quiet; PACTOWN=$(realpath target/release/pactown); }
export NO_COLOR=1 PACTOWN_CA_BUNDLE=${PACTOWN_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
WORK=$(mktemp -d)
NAME="bench-ovh-$$"
PORT=${PORT:-27391}
NET="bench-ovh-net-$$"
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
poll() { until curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$1/" 2>/dev/null; do sleep 0.01; done; }
cleanup() {
  "$PACTOWN" down "$WORK/one.pactown.yaml" --engine "$ENGINE" --timeout 1 >/dev/null 2>&1 || true
  $CLI rm -f "$NAME-raw" >/dev/null 2>&1 || true
  $CLI network rm "$NET" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

cat >"$WORK/README.md" <<'MD'
# one

```markpact:run
python3 -m http.server ${MARKPACT_PORT:-8000}
```
MD
printf 'name: %s\nservices:\n  web:\n    readme: README.md\n    port: %s\n    health_check: /\n' \
  "$NAME" "$PORT" >"$WORK/one.pactown.yaml"
ECO="$WORK/one.pactown.yaml"

# warm: the image exists, nothing runs
"$PACTOWN" up -d "$ECO" --engine "$ENGINE" >"$WORK/log" 2>&1 || { cat "$WORK/log" >&2; exit 1; }
IMAGE=$($CLI inspect --format '{{.Config.Image}}' "$NAME-web-1")
"$PACTOWN" down "$ECO" --engine "$ENGINE" --timeout 1 >/dev/null 2>&1

pactown_up() {
  local s e
  s=$(now)
  "$PACTOWN" up -d "$ECO" --engine "$ENGINE" >"$WORK/log" 2>&1 || { cat "$WORK/log" >&2; exit 1; }
  e=$(now)
  local d0 d1
  d0=$(now)
  "$PACTOWN" down "$ECO" --engine "$ENGINE" --timeout 1 >/dev/null 2>&1
  d1=$(now)
  echo "$(echo "$e - $s" | bc -l) $(echo "$d1 - $d0" | bc -l)"
}
run_poll() {
  local s e
  s=$(now)
  $CLI run -d --name "$NAME-raw" -p "127.0.0.1:$PORT:$PORT" -e "MARKPACT_PORT=$PORT" "$IMAGE" >/dev/null
  poll "$PORT"
  e=$(now)
  $CLI rm -f "$NAME-raw" >/dev/null
  echo "$e - $s" | bc -l
}
run_same() {
  local s e
  s=$(now)
  $CLI network create "$NET" >/dev/null
  $CLI run -d --name "$NAME-raw" --network "$NET" --network-alias web \
    -p "127.0.0.1:$PORT:$PORT" -e "MARKPACT_PORT=$PORT" -e HOME=/tmp \
    --read-only --cap-drop ALL --security-opt no-new-privileges --init --pids-limit 512 \
    --tmpfs /tmp:rw,noexec,nosuid,nodev,size=256m,mode=1777 -v /app "$IMAGE" >/dev/null
  poll "$PORT"
  e=$(now)
  $CLI rm -f -v "$NAME-raw" >/dev/null
  $CLI network rm "$NET" >/dev/null
  echo "$e - $s" | bc -l
}

: >"$WORK/p" ; : >"$WORK/d"; : >"$WORK/r"; : >"$WORK/s"
for _ in $(seq "$RUNS"); do
  read -r up down < <(pactown_up)
  echo "$up" >>"$WORK/p"; echo "$down" >>"$WORK/d"
  run_poll >>"$WORK/r"
  run_same >>"$WORK/s"
done
P=$(median <"$WORK/p"); D=$(median <"$WORK/d"); R=$(median <"$WORK/r"); S=$(median <"$WORK/s")
ratio() { echo "scale=2; $1 / $2" | bc -l; }
echo "| $ENGINE, one service, median of $RUNS | seconds | vs run+poll |"
echo "|---|---|---|"
printf '| `pactown up -d` → healthy | %.3f | %s× |\n' "$P" "$(ratio "$P" "$R")"
printf '| `%s run -d -p` + poll | %.3f | 1.00× |\n' "$CLI" "$R"
printf '| `%s run` with pactown'"'"'s shape + poll | %.3f | %s× |\n' "$CLI" "$S" "$(ratio "$S" "$R")"
printf '| `pactown down` | %.3f | |\n' "$D"
echo
echo "timeline of one warm up -d (when each engine call ended, from process start; time in pactown and waiting for the engine):"
PACTOWN_LOG=pactown=debug "$PACTOWN" up -d "$ECO" --engine "$ENGINE" 2>&1 |
  awk '/ close time/ { t=$1; sub(/s$/,"",t); call=$3; sub(/:$/,"",call); busy=$0; sub(/.*time.busy=/,"",busy); sub(/ .*/,"",busy); idle=$0; sub(/.*time.idle=/,"",idle); printf "  ends %7.3fs  %-55s in pactown %-8s waiting %s\n", t, call, busy, idle }
       /healthy in|is up/ { print "  " $0 }'
