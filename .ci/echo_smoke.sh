#!/usr/bin/env bash
# Starts `python -m pymux.echo` as the README does (on port 0, so nothing is
# pinned), echoes one line through its --connect client, stops it with SIGINT
# and checks the totals it prints; a bad option must be one line and status 2.
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
status=0
err=$(python -m pymux.echo --port 70000 2>&1 >/dev/null) || status=$?
[ "$status" = 2 ] && [ "$err" = "python -m pymux.echo: error: argument --port: must be from 0 to 65535, not 70000" ] \
    || { echo "echo smoke: --port 70000 gave status $status and '$err'" >&2; exit 1; }
echo "echo smoke: ok"
