#!/usr/bin/env bash
# Dependency-edit benchmark (#21): for a heavy Python service (pandas + numpy + fastapi + uvicorn)
# and a heavy Node service (next + react + react-dom + lodash), time
#   cold    — `pactown build --no-cache` (every dependency downloaded and installed again),
#   add     — one dependency added (python: httpx, node: zod),
#   remove  — one of the original dependencies removed (python: fastapi, node: lodash),
# each with a code edit too, for two binaries in the same run: BEFORE (pip / npm install on the
# base image, the layer cache only) and AFTER (this tree: uv, and the dependency image built on
# top of the service's previous one). Prints a markdown table with add / cold and remove / cold
# per binary, and after-cold / before-cold.
# Targets (#21): add ≤ 20 % of cold, after-cold Python ≤ 0.5× before-cold.
#
# Usage: BEFORE_BIN=/path/to/old/pactown benches/deps-bench.sh [--engine docker|podman]
# Needs a running engine with debian:bookworm-slim (`pactown images bootstrap`); base images are
# built first (not timed). Every run uses a requirement / override no earlier run used, so no
# layer or dependency image of an earlier run can serve it; the images it made are removed.
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE_ARGS=("$@")
if [ -z "${PACTOWN_CA_BUNDLE:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export PACTOWN_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
fi
AFTER_BIN=${AFTER_BIN:-}
if [ -z "$AFTER_BIN" ]; then
  cargo build --release --quiet
  AFTER_BIN=$PWD/target/release/pactown
fi
BEFORE_BIN=${BEFORE_BIN:?set BEFORE_BIN to the pactown binary to compare with}
cli=docker
for a in "${ENGINE_ARGS[@]}"; do [ "$a" = podman ] && cli=podman; done
work=$(mktemp -d)
cleanup() { # the service and dependency images this run made (timed runs in a subshell)
  [ -s "$work/made.txt" ] && xargs $cli rmi --force <"$work/made.txt" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
run_id="$$-$(date +%s)"
now() { date +%s.%N; }

python_readme() { # $1 code marker, $2.. requirement lines
  local marker=$1; shift
  printf '```python markpact:deps\n'
  printf '%s\n' "$@"
  # unique per run and binary: no earlier layer or dependency image matches
  printf 'six ; sys_platform != "bench-%s"\n' "$run_id"
  printf '```\n\n```python markpact:file path=main.py\n# %s\nfrom fastapi import FastAPI\napp = FastAPI()\n```\n\n' "$marker"
  printf '```bash markpact:run\nuvicorn main:app --host 0.0.0.0 --port ${MARKPACT_PORT:-8000}\n```\n'
}
node_readme() { # $1 code marker, $2.. dependency names
  local marker=$1; shift
  local deps="" d
  for d in "$@"; do deps="$deps\"$d\": \"latest\", "; done
  printf '```json markpact:file path=package.json\n'
  printf '{"name": "bench", "private": true, "dependencies": {%s}, "overrides": {"pactown-bench-%s": "1.0.0"}}\n' "${deps%, }" "$run_id"
  printf '```\n\n```javascript markpact:file path=server.js\n// %s\nrequire("http").createServer((q, s) => s.end("ok")).listen(process.env.PORT || 8000);\n```\n\n' "$marker"
  printf '```bash markpact:run\nnode server.js\n```\n'
}

# one build: $1 binary, $2 service, $3 variant tag, extra args; prints seconds
timed() {
  local bin=$1 svc=$2 variant=$3; shift 3
  local t0 t1 out
  t0=$(now)
  out=$("$bin" -q build "$work/$variant/eco.pactown.yaml" "${ENGINE_ARGS[@]}" --json "$svc" "$@") \
    || { echo "build of $svc ($variant) failed" >&2; exit 1; }
  t1=$(now)
  echo "$out" | python3 -c 'import json,sys
for r in json.load(sys.stdin):
    print(r["tag"])
    if r.get("deps_image"): print(r["deps_image"])' >>"$work/made.txt"
  echo "$t1 - $t0" | bc -l
}

rows=()
for variant in before after; do
  bin=$BEFORE_BIN; [ $variant = after ] && bin=$AFTER_BIN
  mkdir -p "$work/$variant"
  cat >"$work/$variant/eco.pactown.yaml" <<YAML
name: deps-bench-$variant
services:
  heavy-py:
    readme: py.md
    port: 8211
  heavy-node:
    readme: node.md
    port: 8212
YAML
  "$bin" -q images build python node "${ENGINE_ARGS[@]}" >/dev/null
  # build reads every README of the file: both exist from the start
  python_readme "$variant 0" pandas >"$work/$variant/py.md"
  node_readme "$variant 0" lodash >"$work/$variant/node.md"
  for svc in heavy-py heavy-node; do
    f=$work/$variant/py.md; [ $svc = heavy-node ] && f=$work/$variant/node.md
    if [ $svc = heavy-py ]; then
      python_readme "$variant 1" pandas numpy fastapi uvicorn >"$f"
      cold=$(timed "$bin" $svc $variant --no-cache) || exit 1
      python_readme "$variant 2" pandas numpy fastapi uvicorn httpx >"$f"
      add=$(timed "$bin" $svc $variant) || exit 1
      python_readme "$variant 3" pandas numpy uvicorn httpx >"$f"
      remove=$(timed "$bin" $svc $variant) || exit 1
    else
      node_readme "$variant 1" next react react-dom lodash >"$f"
      cold=$(timed "$bin" $svc $variant --no-cache) || exit 1
      node_readme "$variant 2" next react react-dom lodash zod >"$f"
      add=$(timed "$bin" $svc $variant) || exit 1
      node_readme "$variant 3" next react react-dom zod >"$f"
      remove=$(timed "$bin" $svc $variant) || exit 1
    fi
    eval "cold_${variant}_${svc//-/_}=$cold"
    rows+=("$(printf '| %s | %s | %.2f s | %.2f s | %.2f s | %.0f %% | %.0f %% |' "$svc" "$variant" "$cold" "$add" "$remove" "$(echo "100 * $add / $cold" | bc -l)" "$(echo "100 * $remove / $cold" | bc -l)")")
  done
done

echo "| service | binary | cold (--no-cache) | add one | remove one | add / cold | remove / cold |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
printf 'after-cold / before-cold: Python %.2f×, Node %.2f×\n' \
  "$(echo "$cold_after_heavy_py / $cold_before_heavy_py" | bc -l)" \
  "$(echo "$cold_after_heavy_node / $cold_before_heavy_node" | bc -l)"
echo "targets: add ≤ 20 % of cold, Python after-cold ≤ 0.5× before-cold ($(uname -m), $(nproc) cores, engine ${ENGINE_ARGS[*]:-auto})"
