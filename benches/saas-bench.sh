#!/usr/bin/env bash
# The original's saas-platform (4 FastAPI services in 4 health-ordered levels: database → api →
# web → gateway), warm, against its floor, on one engine:
#
#   pactown  `pactown up -d` with the images built and nothing running (no network, no
#            containers) until every /health answers, then `pactown down` (timed too);
#   floor    the same four containers, already created by pactown on their network and stopped
#            (`pactown stop`): one `ENGINE start` of all four, then polling every /health from the
#            host. The start script in each image holds a dependant until its dependency answers,
#            so the four processes still start one after another: what is left is the engine's
#            container start and the services' own start-up, which no health-ordered
#            orchestrator can avoid. pactown ÷ floor is what pactown adds (network, creates,
#            its own probing).
#
#   bash benches/saas-bench.sh [RUNS] [docker|podman]     (default 5 runs, median reported)
#
# The example comes unchanged from the original's source distribution (PyPI sdist of pactown
# $PACTOWN_ORIGINAL_VERSION, default 0.1.173, downloaded into $PACTOWN_ORIGINAL_DIR, default
# /tmp/pactown-original-bench; nothing of it is committed). Needs: the engine, curl, bc, ss,
# python3 with pip; host ports 8000-8003 free; a release build of pactown; the Python base image.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
ENGINE=${2:-docker}
case "$ENGINE" in docker | podman) CLI=$ENGINE ;; *) echo "unknown engine $ENGINE" >&2; exit 2 ;; esac
VERSION=${PACTOWN_ORIGINAL_VERSION:-0.1.173}
CACHE=${PACTOWN_ORIGINAL_DIR:-/tmp/pactown-original-bench}
PACTOWN=$(realpath "${PACTOWN:-target/release/pactown}" 2>/dev/null || echo target/release/pactown)
[ -x "$PACTOWN" ] || { cargo build --release --quiet; PACTOWN=$(realpath target/release/pactown); }
export NO_COLOR=1 PACTOWN_CA_BUNDLE=${PACTOWN_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
PORTS="8003 8001 8002 8000"
WORK=$(mktemp -d)
NAME="bench-saas-$$"
ECO="$WORK/saas-platform/saas.pactown.yaml"
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
settle() { sleep "${PACTOWN_BENCH_SETTLE:-2}"; }
healthy() { # every service answers /health, polled every 10 ms, at most 120 s
  local p deadline=$(($(date +%s) + 120))
  for p in $PORTS; do
    until curl -fs --noproxy '*' -o /dev/null --max-time 1 "http://127.0.0.1:$p/health"; do
      [ "$(date +%s)" -lt "$deadline" ] || { echo "port $p: not healthy in 120 s" >&2; exit 1; }
      sleep 0.01
    done
  done
}
pt() { "$PACTOWN" "$@" "$ECO" --engine "$ENGINE" >"$WORK/log" 2>&1 || { cat "$WORK/log" >&2; exit 1; }; }
cleanup() { "$PACTOWN" down "$ECO" --engine "$ENGINE" --timeout 1 >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

SDIST="$CACHE/pactown-$VERSION"
if [ ! -f "$SDIST/examples/saas-platform/saas.pactown.yaml" ]; then
  mkdir -p "$CACHE"
  python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: -d "$CACHE" "pactown==$VERSION"
  tar -xzf "$CACHE/pactown-$VERSION.tar.gz" -C "$CACHE"
fi
cp -r "$SDIST/examples/saas-platform" "$WORK/"
sed -i "s/^name: saas-platform/name: $NAME/" "$ECO"
for p in $PORTS; do
  if ss -ltnH "sport = :$p" | grep -q .; then echo "host port $p is taken: free it first" >&2; exit 1; fi
done

pt up -d # builds the images (not timed)
pt down

: >"$WORK/p"; : >"$WORK/d"; : >"$WORK/f"
for _ in $(seq "$RUNS"); do
  settle
  s=$(now); pt up -d; healthy; e=$(now)
  echo "$e - $s" | bc -l >>"$WORK/p"
  # the floor: the same containers, stopped, started again at once
  pt stop
  settle
  ids=$($CLI ps -aq --filter "label=io.pactown.ecosystem=$NAME")
  s=$(now)
  # shellcheck disable=SC2086
  $CLI start $ids >/dev/null
  healthy
  e=$(now)
  echo "$e - $s" | bc -l >>"$WORK/f"
  s=$(now); pt down; e=$(now)
  echo "$e - $s" | bc -l >>"$WORK/d"
done
P=$(median <"$WORK/p"); F=$(median <"$WORK/f"); D=$(median <"$WORK/d")
ratio() { echo "scale=2; $1 / $2" | bc -l; }
echo "| $ENGINE, saas-platform, median of $RUNS | seconds | vs floor |"
echo "|---|---|---|"
printf '| `pactown up -d` → all healthy | %.3f | %s× |\n' "$P" "$(ratio "$P" "$F")"
printf '| floor: `%s start` of the 4 created containers → all healthy | %.3f | 1.00× |\n' "$CLI" "$F"
printf '| `pactown down` | %.3f | |\n' "$D"
