#!/usr/bin/env bash
# Talks to TicketVelo's embedded Kafka broker with a third-party client,
# kcat (librdkafka): starts `ticketvelo broker` on a free port, lists its
# metadata, produces a booking event the way the outbox relay does (key =
# order id, "type" header) and consumes booking.events back.
#
#   scripts/kcat-smoke.sh            # needs kcat: apt-get install kcat
#
# The Go test booker/outbox TestKcatReadsTheRelayedEvents does the same
# against records published by the real relay.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v kcat >/dev/null || { echo "kcat not found: apt-get install -y kcat" >&2; exit 1; }

port=${KCAT_SMOKE_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
broker=127.0.0.1:$port
data=$(mktemp -d)
bin=$data/ticketvelo
go build -o "$bin" ./cmd/ticketvelo

"$bin" broker --addr "$broker" --persist=false --data-dir "$data" --log-level warn >"$data/broker.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

for _ in $(seq 50); do
  kcat -b "$broker" -L -m 1 >/dev/null 2>&1 && grep -q "booking.events.dlq" <(kcat -b "$broker" -L -m 1 2>/dev/null) && break
  sleep 0.2
done

echo "== metadata"
kcat -b "$broker" -L | tee "$data/meta.txt"
grep -q 'topic "booking.events" with 6 partitions' "$data/meta.txt"
grep -q 'topic "booking.events.dlq" with 1 partitions' "$data/meta.txt"

order=$(python3 -c 'import uuid; print(uuid.uuid4())')
event=$(printf '{"type":"booking.confirmed","order_id":"%s","occurred_at":"2026-11-25T12:00:00Z","buyer":{"user_id":1,"email":"ana@example.com","name":"Ana"},"show":{"event_id":1,"name":"Smoke Test","starts_at":"2027-03-14T19:30:00Z","venue":"Northgate Arena","city":"Manchester","timezone":"Europe/London"},"tickets":[{"id":"%s","seat_no":0,"section":"Floor A","row":"1","number":1,"price_cents":5000}],"total_cents":5000,"currency":"GBP"}' "$order" "$order")

echo "== produce"
printf '%s|%s\n' "$order" "$event" | kcat -b "$broker" -P -t booking.events -K '|' -H type=booking.confirmed

echo "== consume booking.events"
kcat -b "$broker" -C -t booking.events -o beginning -e -q -f 'key=%k partition=%p offset=%o headers=%h\n%s\n' | tee "$data/consumed.txt"
grep -q "key=$order" "$data/consumed.txt"
grep -q "headers=type=booking.confirmed" "$data/consumed.txt"

echo "PASS: kcat listed the embedded broker's topics and read booking.events back"
