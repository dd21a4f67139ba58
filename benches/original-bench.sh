#!/usr/bin/env bash
# pactown versus the original, process-based pactown (PyPI package `pactown`), warm start to all
# healthy, on two ecosystems:
#
#   saas-platform  the original's own examples/saas-platform, from its source distribution and
#                  UNCHANGED (4 Python/FastAPI services, gateway → api, web, database);
#   polyglot-pair  this repository's examples/polyglot api (Python) + web (Node → api), the two of
#                  its four services the original can run here (the Go gateway needs a Go
#                  toolchain on the host; the static site has no run block); ports 8600-8601.
#
# pactown: `pactown up -d` (returns once every health probe answers), images already built.
# The original: `pactown up FILE` (foreground, local processes in venv/npm sandboxes it caches),
# timed from launch until every /health answers 200 from the host (polled every 50 ms); its
# first run (creates the venvs) is not timed. Each run is stopped (Ctrl+C / `down`) before the
# next, and the machine gets $PACTOWN_BENCH_SETTLE (default 3) seconds to settle. Prints a
# markdown table with medians and the ratio.
#
#   bash benches/original-bench.sh [RUNS]      (default 3 runs, median reported)
#
# Downloads (never committed): the original into a venv and its sdist, both under
# $PACTOWN_ORIGINAL_DIR (default /tmp/pactown-original-bench), version $PACTOWN_ORIGINAL_VERSION
# (default 0.1.173). Needs: Docker, python3 with venv/pip, node/npm, curl, ss; host ports
# 8000-8003 and 8600-8601 free; a release build of pactown.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
# 1: also time the original as shipped (see orig_mode); PACTOWN_BENCH_SHIPPED=0 skips it
SHIPPED=${PACTOWN_BENCH_SHIPPED:-1}
VERSION=${PACTOWN_ORIGINAL_VERSION:-0.1.173}
CACHE=${PACTOWN_ORIGINAL_DIR:-/tmp/pactown-original-bench}
PACTOWN=$(realpath "${PACTOWN:-target/release/pactown}" 2>/dev/null || echo target/release/pactown)
[ -x "$PACTOWN" ] || { cargo build --release --quiet; PACTOWN=$(realpath target/release/pactown); }
CA=/etc/ssl/certs/ca-certificates.crt
export PACTOWN_CA_BUNDLE=${PACTOWN_CA_BUNDLE:-$CA}
# the original's pip and npm installs go through the same intercepting proxy
export PIP_CERT=${PIP_CERT:-$CA} NPM_CONFIG_CAFILE=${NPM_CONFIG_CAFILE:-$CA} NODE_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS:-$CA}
# the original imports litellm, which otherwise tries to fetch a price list from the internet
export LITELLM_LOCAL_MODEL_COST_MAP=True
export NO_COLOR=1
WORK=$(mktemp -d)
ORIG_PID=""
ORIG_PORTS=""
RESULT=""

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
elapsed() { echo "$(now) - $1" | bc -l; }
log() { echo "$*" >&2; }

# ---------------------------------------------------------------- the original, installed once
retry() { local n; for n in 1 2 3; do "$@" && return 0; log "retry $n: $*"; sleep $((n * 5)); done; "$@"; }
mkdir -p "$CACHE"
VENV="$CACHE/venv-$VERSION"
if ! "$VENV/bin/python" -c "import importlib.metadata as m,sys; sys.exit(m.version('pactown') != '$VERSION')" 2>/dev/null; then
  log "installing the original pactown $VERSION into $VENV…"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  retry "$VENV/bin/pip" install -q --disable-pip-version-check "pactown==$VERSION"
fi
SDIST="$CACHE/pactown-$VERSION"
if [ ! -f "$SDIST/examples/saas-platform/saas.pactown.yaml" ]; then
  log "downloading the original's sdist…"
  retry python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
    -d "$CACHE" "pactown==$VERSION"
  tar -xzf "$CACHE/pactown-$VERSION.tar.gz" -C "$CACHE"
fi

# ---------------------------------------------------------------- working copies
# The original keeps its sandboxes (and venv cache) next to the file: its copies live in $CACHE
# so they stay warm between invocations; ours are fresh.
ORIG_SAAS="$CACHE/orig-saas-platform"
[ -d "$ORIG_SAAS" ] || cp -r "$SDIST/examples/saas-platform" "$ORIG_SAAS"
OURS_SAAS="$WORK/saas-platform"
cp -r "$SDIST/examples/saas-platform" "$OURS_SAAS"

pair_yaml() { # NAME → the api+web part of polyglot on ports 8600/8601
  python3 - "$1" <<'PY'
import sys
s = open("examples/polyglot/polyglot.pactown.yaml").read()
s = s[: s.index("  gateway:")].replace("name: polyglot", f"name: {sys.argv[1]}")
s = s.replace("base_port: 8100", "base_port: 8600").replace("port: 8100", "port: 8600").replace("port: 8101", "port: 8601")
print(s, end="")
PY
}
ORIG_PAIR="$CACHE/orig-polyglot-pair"
mkdir -p "$ORIG_PAIR"
cp -r examples/polyglot/api examples/polyglot/web "$ORIG_PAIR/"
pair_yaml polyglot-pair > "$ORIG_PAIR/pair.pactown.yaml"
OURS_PAIR="$WORK/polyglot-pair"
mkdir -p "$OURS_PAIR"
cp -r examples/polyglot/api examples/polyglot/web "$OURS_PAIR/"
pair_yaml "bench-pair-$$" > "$OURS_PAIR/pair.pactown.yaml"

# ---------------------------------------------------------------- running the original
orig_stop() {
  [ -n "$ORIG_PID" ] || return 0
  local kids; kids=$(pgrep -P "$ORIG_PID" || true)
  kill -INT "$ORIG_PID" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$ORIG_PID" 2>/dev/null || break; sleep 0.1; done
  kill -TERM "$ORIG_PID" 2>/dev/null || true
  # its services run in their own sessions: end any it left behind, by process group id
  for k in $kids; do kill -TERM -- "-$k" 2>/dev/null || true; done
  wait "$ORIG_PID" 2>/dev/null || true
  ORIG_PID=""
  # its services' ports closed before anything else runs
  for _ in $(seq 100); do ports_free $ORIG_PORTS 2>/dev/null && break; sleep 0.1; done
  settle
}
# a quiet machine before each timed start (shutdowns finished, caches settled)
settle() { sleep "${PACTOWN_BENCH_SETTLE:-3}"; }
ports_free() { # PORT… → fails when one is taken
  local p; for p in "$@"; do
    if ss -ltnH "sport = :$p" | grep -q .; then log "host port $p is taken: free it first"; return 1; fi
  done
}
# orig_up DIR FILE PORT… → RESULT = seconds from launch to every http://127.0.0.1:PORT/health
# = 200 (not in a subshell: ORIG_PID must survive for orig_stop)
orig_up() {
  local dir=$1 file=$2; shift 2
  local p; for p in "$@"; do
    for _ in $(seq 100); do ports_free "$p" 2>/dev/null && break; sleep 0.1; done
  done
  # taken ports would make the original move its services elsewhere: refuse instead; and drop
  # registrations an unclean stop may have left, which would pin the services to other ports
  ports_free "$@"
  rm -f "$dir/.pactown-sandboxes/.pactown-services.json"
  ORIG_PORTS="$*"
  local start; start=$(now)
  # a background job of a script ignores SIGINT; the trampoline restores it so Ctrl+C (our
  # stop) reaches the original's KeyboardInterrupt handler, which stops its services
  (cd "$dir" && exec "${ORIG_ENV[@]}" python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
      "$VENV/bin/pactown" up "$file") >>"$WORK/original.log" 2>&1 &
  ORIG_PID=$!
  local deadline=$(( $(date +%s) + 600 ))
  for p in "$@"; do
    until curl -fs --noproxy '*' -o /dev/null "http://127.0.0.1:$p/health"; do
      kill -0 "$ORIG_PID" 2>/dev/null || { log "the original exited; see $WORK/original.log"; tail -20 "$WORK/original.log" >&2; return 1; }
      [ "$(date +%s)" -lt "$deadline" ] || { log "the original: not healthy in 600 s"; return 1; }
      sleep 0.05
    done
  done
  RESULT=$(elapsed "$start")
}

ours_down() { "$PACTOWN" down "$1" --engine docker --timeout 2 >/dev/null 2>&1 || true; settle; }
trap '[ -z "$HOLE_PID" ] || kill "$HOLE_PID" 2>/dev/null; orig_stop; ours_down "$OURS_SAAS/saas.pactown.yaml"; ours_down "$OURS_PAIR/pair.pactown.yaml"; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# ours_up FILE → RESULT = seconds of `pactown up -d`
ours_up() {
  local start; start=$(now)
  "$PACTOWN" up "$1" -d --engine docker --timeout 300 >>"$WORK/ours.log" 2>&1 || { tail -20 "$WORK/ours.log" >&2; return 1; }
  RESULT=$(elapsed "$start")
}

# How the original runs. "local" (default): LITELLM_LOCAL_MODEL_COST_MAP=True, its CLI loads
# litellm's bundled price list. "shipped": the original as installed, whose CLI fetches that list
# from GitHub at start with a 5 s timeout; that host is unreachable from here (and the network
# rule forbids trying), so the fetch is pointed (LITELLM_MODEL_COST_MAP_URL) at a local port
# that accepts and never answers — what an unreachable host costs it here, on 127.0.0.1.
HOLE_PID=""
black_hole() { # → HOLE = a 127.0.0.1 port that accepts connections and never answers
  exec 9< <(python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
print(s.getsockname()[1], flush=True)
held = []
while True:
    held.append(s.accept()[0])
')
  HOLE_PID=$!
  read -r HOLE <&9
}
ORIG_ENV=(env)
orig_mode() { # local|shipped
  if [ "$1" = shipped ]; then
    [ -n "$HOLE_PID" ] || black_hole
    ORIG_ENV=(env -u LITELLM_LOCAL_MODEL_COST_MAP "LITELLM_MODEL_COST_MAP_URL=http://127.0.0.1:$HOLE/model_prices_and_context_window.json")
  else
    ORIG_ENV=(env)
  fi
}

declare -A FIRST_O FIRST_P
bench_case() { # CASE OURS_FILE ORIG_DIR ORIG_FILE PORT…
  local case=$1 ours=$2 odir=$3 ofile=$4; shift 4
  local -a P O S
  log "$case: first runs (build images / create venvs; not timed in the medians)…"
  orig_mode local
  ours_up "$ours"; FIRST_P[$case]=$RESULT; ours_down "$ours"
  orig_up "$odir" "$ofile" "$@"; FIRST_O[$case]=$RESULT; orig_stop
  for i in $(seq "$RUNS"); do
    log "$case: run $i/$RUNS"
    ours_up "$ours"; P+=("$RESULT"); ours_down "$ours"
    orig_mode local
    orig_up "$odir" "$ofile" "$@"; O+=("$RESULT"); orig_stop
    if [ "$SHIPPED" = 1 ]; then
      orig_mode shipped
      orig_up "$odir" "$ofile" "$@"; S+=("$RESULT"); orig_stop
      orig_mode local
    fi
  done
  local p o s="" sr=""
  p=$(printf '%s\n' "${P[@]}" | median); o=$(printf '%s\n' "${O[@]}" | median)
  if [ "$SHIPPED" = 1 ]; then
    s=$(printf '%s\n' "${S[@]}" | median)
    sr=$(printf ' %.2f s | %.3f× |' "$s" "$(echo "$p / $s" | bc -l)")
  fi
  printf '| %s | %.2f s | %.2f s | %.3f× |%s %.1f s / %.1f s |\n' "$case" "$p" "$o" "$(echo "$p / $o" | bc -l)" \
    "$sr" "${FIRST_P[$case]}" "${FIRST_O[$case]}" >>"$WORK/rows"
  log "$case: pactown ${P[*]} | original ${O[*]} | original as shipped ${S[*]:-}"
}

# the example really is unchanged
diff -r "$SDIST/examples/saas-platform" "$OURS_SAAS" >/dev/null

bench_case saas-platform "$OURS_SAAS/saas.pactown.yaml" "$ORIG_SAAS" saas.pactown.yaml 8003 8001 8002 8000
bench_case polyglot-pair "$OURS_PAIR/pair.pactown.yaml" "$ORIG_PAIR" pair.pactown.yaml 8600 8601

echo
echo "original pactown $VERSION vs $("$PACTOWN" --version), median of $RUNS warm runs ($(nproc) cores)"
echo
if [ "$SHIPPED" = 1 ]; then
  echo "| ecosystem | pactown up -d | original up | pactown ÷ original | original as shipped (cost-map fetch times out) | pactown ÷ as shipped | first run (pactown / original) |"
  echo "|---|---|---|---|---|---|---|"
else
  echo "| ecosystem | pactown up -d | original up | pactown ÷ original | first run (pactown / original) |"
  echo "|---|---|---|---|---|"
fi
cat "$WORK/rows"
