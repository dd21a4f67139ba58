#!/usr/bin/env bash
# Benchmark (not a test): times `pactown validate` and `pactown graph --format json` on two
# generated 1,000-service ecosystems — a chain (s0001 <- s0002 <- … 1,000 deep) and a fan-out
# (one hub, 999 services depending on it) — each service with a small valid README.
# Prints a markdown table on stdout. Target: < 100 ms per command. The verdict uses CPU time
# (user+sys of the pactown process); wall-clock times are shown too, but on a machine shared with
# other work they mostly measure waiting for a core.
#
# Usage: benches/project-bench.sh [SERVICES]   (default 1000)
#   PACTOWN_BIN=path  use this binary instead of building target/release/pactown
#   RUNS=N            timed runs per command (default 10)
# Needs bash and python3 (for timing with CPU time next to wall-clock time).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000}"
RUNS="${RUNS:-10}"
TARGET_MS=100

if [ -z "${PACTOWN_BIN:-}" ]; then
  cargo build --release --quiet --bin pactown
  PACTOWN_BIN="$PWD/target/release/pactown"
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# A small valid README: one Python file, a run script, a health probe.
readme() {
  printf '# %s\n\n```python markpact:file path=app.py\nimport os\nprint("serving /health on", os.environ.get("PORT"))\n```\n\n```bash markpact:run\npython3 app.py\n```\n\n```http markpact:test\nGET /health EXPECT 200\n```\n' "$1"
}

# make_eco DIR SHAPE: writes DIR/bench.pactown.yaml and DIR/sNNNN/README.md.
make_eco() {
  local dir="$1" shape="$2" i name prev
  mkdir -p "$dir"
  {
    echo "name: bench-$shape"
    echo "base_port: 20000"
    echo "services:"
    for ((i = 1; i <= N; i++)); do
      name=$(printf 's%04d' "$i")
      echo "  $name:"
      echo "    health_check: /health"
      if [ "$shape" = chain ] && [ "$i" -gt 1 ]; then
        prev=$(printf 's%04d' $((i - 1)))
        echo "    depends_on: [$prev]"
      elif [ "$shape" = fanout ] && [ "$i" -gt 1 ]; then
        echo "    depends_on:"
        echo "      - name: s0001"
        echo "        env_var: HUB_URL"
      fi
    done
  } > "$dir/bench.pactown.yaml"
  for ((i = 1; i <= N; i++)); do
    name=$(printf 's%04d' "$i")
    mkdir -p "$dir/$name"
    readme "$name" > "$dir/$name/README.md"
  done
}

# time_cmd CMD...: runs CMD once to warm up, then RUNS times; prints "median min cpu" in ms:
# median and min wall-clock time, and the median CPU time (user+sys) of the child, which is
# what to read on a machine shared with other work.
time_cmd() {
  python3 - "$RUNS" "$@" <<'PY'
import resource, statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
wall, cpu = [], []
for _ in range(runs):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    wall.append((time.perf_counter() - start) * 1e3)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu.append(((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1e3)
print("%.1f %.1f %.1f" % (statistics.median(wall), min(wall), statistics.median(cpu)))
PY
}

echo "Generating two ${N}-service ecosystems in $WORK ..." >&2
make_eco "$WORK/chain" chain
make_eco "$WORK/fanout" fanout

echo "| shape | command | median wall (ms) | min wall (ms) | median CPU (ms) | CPU < ${TARGET_MS} ms |"
echo "|---|---|---:|---:|---:|---|"
for shape in chain fanout; do
  file="$WORK/$shape/bench.pactown.yaml"
  for cmd in "validate" "graph --format json"; do
    # shellcheck disable=SC2086
    read -r median min cpu < <(time_cmd "$PACTOWN_BIN" $cmd "$file")
    verdict=$(awk -v m="$cpu" -v t="$TARGET_MS" 'BEGIN { print (m < t) ? "ok" : "**over**" }')
    echo "| $shape ($N) | \`pactown $cmd\` | $median | $min | $cpu | $verdict |"
  done
done
