#!/usr/bin/env bash
# Starts `python -m pymux.echo` as the README does (on port 0, so nothing is
# pinned), echoes one line through its --connect client, stops it with SIGINT
# and checks the totals it prints.
set -euo pipefail
out=$(mktemp)
python -m pymux.echo --port 0 >"$out" 2>&1 &
pid=$!
trap 'kill -KILL "$pid" 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 100); do
    grep -q '^listening on ' "$out" && break
    sleep 0.1
done
port=$(sed -n 's/^listening on .*://p' "$out")
reply=$(printf 'ping\n' | timeout 10 python -m pymux.echo --connect "127.0.0.1:$port")
[ "$reply" = ping ] || { echo "echo smoke: expected 'ping', got '$reply'" >&2; cat "$out" >&2; exit 1; }
kill -INT "$pid"
wait "$pid"
cat "$out"
grep -q '^totals: 1 connections, 1 requests, 5 bytes$' "$out"
echo "echo smoke: ok"
