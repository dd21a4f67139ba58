#!/usr/bin/env bash
# Loopback benchmark of `pactown registry serve` with wrk: publishes/s (unique versions, each one
# durably committed) and reads/s (README of `latest`, and the artifact list). Prints a table.
#
#   bash benches/registry-bench.sh            # builds --release first
#   PACTOWN_BIN=target/debug/pactown DURATION=5 bash benches/registry-bench.sh
#
# Needs wrk (`apt-get install -y wrk`). Only 127.0.0.1 is used. Knobs: DURATION (s, default 10),
# CONNECTIONS (default 32), THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 2; }
if [ -z "${PACTOWN_BIN:-}" ]; then
  cargo build --release --quiet
  PACTOWN_BIN=target/release/pactown
fi

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

TOKEN="bench-token-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
printf '%s *\n' "$TOKEN" > "$WORK/tokens"
chmod 600 "$WORK/tokens"
"$PACTOWN_BIN" registry serve --bind 127.0.0.1:0 --storage "$WORK/storage" \
  --token-file "$WORK/tokens" --rate-limit 0 > "$WORK/server.out" 2> "$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 100); do grep -q 'http://' "$WORK/server.out" 2>/dev/null && break; sleep 0.1; done
URL="$(grep -o 'http://[0-9.:]*' "$WORK/server.out" | head -1)"
[ -n "$URL" ] || { echo "server did not start:" >&2; cat "$WORK/server.err" >&2; exit 1; }

README='# Bench\n\n```python markpact:file path=main.py\nprint(\"bench\")\n```\n\n```bash markpact:run\npython main.py\n```\n'
curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d "{\"name\":\"api\",\"namespace\":\"bench\",\"version\":\"1.0.0\",\"readme_content\":\"$README\"}" \
  "$URL/v1/publish"

LUA_README="${README//\\/\\\\}"  # Lua string escapes: keep JSON's backslashes
cat > "$WORK/publish.lua" <<LUA
local n = 0
function setup(thread)
  n = n + 1
  thread:set("tid", n)
end
function init(args)
  counter = 0
  errors = 0
end
request = function()
  counter = counter + 1
  local body = string.format('{"name":"svc%d","namespace":"bench","version":"%d.0.0","readme_content":"$LUA_README"}', tid, counter)
  return wrk.format("POST", "/v1/publish", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer $TOKEN",
  }, body)
end
LUA

# run NAME ARGS… → one table row from wrk's output
run() {
  local name="$1"; shift
  local out; out="$(wrk --latency -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "$@")"
  local rps p50 p99 total bad
  rps="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
  total="$(awk '/requests in/ {print $1}' <<<"$out")"
  bad="$(awk '/Non-2xx or 3xx responses/ {print $5}' <<<"$out")"
  printf '| %-28s | %10s | %8s | %8s | %9s | %6s |\n' "$name" "$rps" "$p50" "$p99" "$total" "${bad:-0}"
}

echo "pactown registry on $URL — wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, binary $PACTOWN_BIN, $(nproc) CPUs"
printf '| %-28s | %10s | %8s | %8s | %9s | %6s |\n' "workload" "req/s" "p50" "p99" "requests" "non-2xx"
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..30})" "------------" "----------" "----------" "-----------" "--------"
run "read GET .../latest/readme" "$URL/v1/artifacts/bench/api/latest/readme"
run "publish POST /v1/publish" -s "$WORK/publish.lua" "$URL/v1/publish"
run "read GET /v1/artifacts (list)" "$URL/v1/artifacts?namespace=bench"
VERSIONS="$(curl -fsS "$URL/v1/artifacts?namespace=bench" | python3 -c 'import json,sys; print(sum(len(a["versions"]) for a in json.load(sys.stdin)))')"
echo "versions stored after the run: $VERSIONS (index $(du -h "$WORK/storage/index.json" | cut -f1))"
