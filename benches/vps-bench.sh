#!/usr/bin/env bash
# The VPS harness (integration/vps.rs) as a benchmark: boots the systemd "VPS" container once and
# prints the timings it measures as a table, with `pactown quadlet install` next to a baseline from
# the same run (systemd + Podman alone starting the very same installed, already pulled units).
#
#   bash benches/vps-bench.sh
#
# Debug build (the time is systemd and Podman, not pactown). Needs what the harness needs (Docker; integration/vps/prepare.sh builds the VPS image once).
set -euo pipefail
cd "$(dirname "$0")/.."
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
PACTOWN_REQUIRE_ENGINES=1 cargo test --test integration -- vps --test-threads=1 --nocapture >"$log" 2>&1 ||
  { tail -n 40 "$log" >&2; echo "the harness failed" >&2; exit 1; }
secs() { grep "BENCH $1" "$log" | head -1 | sed -E 's/.*: ([0-9.]+) s$/\1/'; }
install=$(secs "system install"); base=$(secs "baseline")
echo "| VPS harness (2 services, Python) | seconds |"
echo "|---|---|"
grep '^BENCH' "$log" | sed -E 's/^BENCH (.*): ([0-9.]+) s$/| \1 | \2 |/'
awk -v a="$install" -v b="$base" 'BEGIN { if (b > 0) printf "| install ÷ baseline | %.2f× |\n", a / b }'
