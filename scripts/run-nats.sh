#!/bin/sh
# `make run-nats`: the scaled-out demo end to end. Starts a nats-server with
# JetStream on a free loopback port (temporary store), publishes the demo events
# (demo/events.jsonl, repeated to 8,000) into the stream with `wasp publish`,
# runs three `wasp run --until-idle` workers on demo/nats.toml at once, prints
# each worker's summary and the combined one, and stops the server.
set -eu
WASP=${WASP:-target/debug/wasp}
work=$(mktemp -d)
server=
cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="nats://127.0.0.1:$port"
nats-server -js -a 127.0.0.1 -p "$port" -sd "$work/js" 2>"$work/server.log" &
server=$!
i=0
until grep -q "Server is ready" "$work/server.log" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 200 ] || ! kill -0 "$server" 2>/dev/null; then
        echo "error: nats-server did not start:" >&2
        cat "$work/server.log" >&2
        exit 1
    fi
    sleep 0.05
done
echo "nats-server with JetStream at $url"

# The demo manifest, pointed at this server (plugin paths made absolute).
sed -e "s#nats://127.0.0.1:4222#$url#" -e "s#\"\.\./#\"$PWD/#" demo/nats.toml >"$work/wasp.toml"
for _ in $(seq 1000); do cat demo/events.jsonl; done >"$work/events.jsonl"
"$WASP" publish -m "$work/wasp.toml" "$work/events.jsonl"

for w in 1 2 3; do
    "$WASP" run -m "$work/wasp.toml" --until-idle 2>"$work/worker$w.log" &
    eval "pid$w=\$!"
done
status=0
for w in 1 2 3; do
    eval "wait \$pid$w" || status=$?
    echo "worker $w: $(grep '^summary:' "$work/worker$w.log" || cat "$work/worker$w.log")"
done
[ $status = 0 ] || { echo "error: a worker failed (exit $status)" >&2; exit $status; }
cat "$work"/worker*.log | awk '
    /^summary:/ { gsub(",", ""); e += $2; o += $4; d += $6; l += $11; a += $13 }
    END { printf "combined: %d events, %d out, %d dropped by a stage, %d dead-lettered, %d delivered again (3 workers)\n", e, o, d, l, a }'
echo "outputs are in the stream 'results' (subject results), dead letters in 'dead'"
