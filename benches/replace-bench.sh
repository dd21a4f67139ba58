#!/usr/bin/env bash
# Replacing an exposed service behind the ingress under load: how many requests fail.
#
# One Python service behind `ingress: {tls: off}`; clients loop through the proxy the whole time
# (2 loops of quick GETs, 2 loops of POSTs the service answers after 0.3 s, so requests are in
# flight whenever a container goes). Each round changes the service's env (a new container is
# needed) and applies it, with:
#
#   pactown-docker   `pactown up -d` on Docker: surge container, proxy steered by renames
#   pactown-podman   `pactown up -d` on Podman: stop-then-start, the proxy retries the gap
#   compose          `docker-compose up -d` of pactown's Compose export (same images, same
#                    Caddy): Compose stops the old container, then starts the new one
#
# Reported per tool (sum over the rounds): the apply's median time, requests sent, and failed
# ones (any answer but 200, or a transport error).
#
#   bash benches/replace-bench.sh [ROUNDS]      (default 3)
#
# Needs: Docker, Podman, docker-compose (1.29), curl, bc; a release build of pactown.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
PACTOWN=$(realpath "${PACTOWN:-target/release/pactown}" 2>/dev/null || echo target/release/pactown)
[ -x "$PACTOWN" ] || { cargo build --release --quiet; PACTOWN=$(realpath target/release/pactown); }
export NO_COLOR=1
WORK=$(mktemp -d)
HOST=replace.bench.test
PORT=18990
NAME="bench-replace-$$"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
log() { echo "$*" >&2; }

cat >"$WORK/api.md" <<'MD'
# api

```python markpact:file path=server.py
import http.server, os, time

class H(http.server.BaseHTTPRequestHandler):
    def reply(self):
        data = ("api " + os.environ.get("VERSION", "0")).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.reply()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        time.sleep(0.3)
        self.reply()

    def log_message(self, *a):
        pass

http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
```

```bash markpact:run
python3 server.py
```
MD

eco() {
  cat >"$WORK/eco.pactown.yaml" <<YAML
name: $NAME
ingress: {tls: off, http_port: $PORT}
services:
  api:
    readme: api.md
    port: 18991
    health_check: /
    env: {VERSION: "$1"}
    expose: {host: $HOST}
YAML
}

# client loops until $WORK/stop exists; one status code per line in $WORK/codes.N
load() {
  rm -f "$WORK/stop" "$WORK"/codes.*
  for n in 1 2 3 4; do
    (
      while [ ! -e "$WORK/stop" ]; do
        if [ $((n % 2)) = 0 ]; then
          curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 -d order \
            --resolve "$HOST:$PORT:127.0.0.1" "http://$HOST:$PORT/order" || echo "x"
        else
          curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 \
            --resolve "$HOST:$PORT:127.0.0.1" "http://$HOST:$PORT/" || echo "x"
        fi
      done >>"$WORK/codes.$n"
    ) &
  done
}
unload() {
  sleep 1
  touch "$WORK/stop"
  wait
  cat "$WORK"/codes.* >>"$WORK/all"
}

# one tool: $1 label, $2 command applying the file (run after each edit)
measure() {
  local label=$1 apply=$2 times=() start
  : >"$WORK/all"
  for r in $(seq 1 "$ROUNDS"); do
    eco "v$r"
    load
    sleep 0.5
    start=$(now)
    eval "$apply" >>"$WORK/log" 2>&1 || log "$label: apply exited $? (see $WORK/log)"
    times+=("$(echo "$(now) - $start" | bc -l)")
    unload
  done
  local total failed t
  total=$(wc -l <"$WORK/all")
  failed=$(grep -cv '^200$' "$WORK/all" || true)
  t=$(printf '%s\n' "${times[@]}" | median)
  printf '| %s | %.2f s | %s | %s |\n' "$label" "$t" "$total" "$failed"
}

cleanup() {
  touch "$WORK/stop" 2>/dev/null || true
  "$PACTOWN" down -v "$WORK/eco.pactown.yaml" --engine docker >/dev/null 2>&1 || true
  "$PACTOWN" down -v "$WORK/eco.pactown.yaml" --engine podman >/dev/null 2>&1 || true
  (cd "$WORK" && docker-compose -p "$NAME" down -v >/dev/null 2>&1) || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "| tool | apply (median) | requests | failed |"
echo "|---|---|---|---|"
for engine in docker podman; do
  eco v0
  log "$engine: first up"
  "$PACTOWN" up -d "$WORK/eco.pactown.yaml" --engine "$engine" >>"$WORK/log" 2>&1
  measure "pactown-$engine" "$PACTOWN up -d $WORK/eco.pactown.yaml --engine $engine"
  "$PACTOWN" down -v "$WORK/eco.pactown.yaml" --engine "$engine" >>"$WORK/log" 2>&1
done

eco v0
log "compose: build and first up"
"$PACTOWN" build "$WORK/eco.pactown.yaml" --engine docker >>"$WORK/log" 2>&1
compose_apply() {
  "$PACTOWN" export compose "$WORK/eco.pactown.yaml" -o "$WORK/docker-compose.yml" &&
    (cd "$WORK" && docker-compose -p "$NAME" up -d)
}
compose_apply >>"$WORK/log" 2>&1
for _ in $(seq 1 60); do
  curl -sf -o /dev/null --resolve "$HOST:$PORT:127.0.0.1" "http://$HOST:$PORT/" && break
  sleep 0.5
done
measure compose compose_apply
