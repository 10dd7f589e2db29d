#!/bin/bash
# Instructions per client_credentials request, user space, under callgrind: a count that
# other work on the machine cannot move (unlike CPU time), for comparing two builds.
# `mamori serve` runs under valgrind with collection off; one curl sends warm-up requests,
# then N requests over one HTTP/1.1 keep-alive connection (as wrk does) are counted.
# Prints the total per request and the share of the ES256 signature (ECDSA_do_sign).
#
#   cargo build --release --bin mamori
#   conformance-tests/oidc/bench/callgrind.sh [N]          # N = 200; needs valgrind, curl
#
# MAMORI_BIN picks the binary; CALLGRIND_KEEP=DIR keeps the profile for callgrind_annotate.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BIN=${MAMORI_BIN:-$here/../../../target/release/mamori}
N=${1:-200}
work=$(mktemp -d /tmp/mamori-callgrind-XXXX)
trap 'kill "$vpid" 2>/dev/null || true; [ -n "${CALLGRIND_DEBUG:-}" ] || rm -rf "$work"' EXIT
cd "$work"
"$BIN" quickstart --no-serve > quickstart.log 2>&1
config=$work/mamori-data/mamori.toml
secret=$("$BIN" --config "$config" admin oidc-client create --tenant demo --client-id bench --name Bench \
  --redirect-uri https://localhost:9/cb --grant-type client_credentials --scope api.read --first-party --output json \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["client_secret"])')
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
MAMORI_SERVER__LISTEN=127.0.0.1:$port MAMORI_SERVER__MTLS_LISTEN=127.0.0.1:0 MAMORI_LOG__LEVEL=warn \
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/callgrind.out" "$BIN" --config "$config" serve > serve.log 2>&1 &
vpid=$!
for _ in $(seq 1 600); do grep -q "listening on" serve.log && break; sleep 1; done
url=https://localhost:$port/t/demo/token
requests() {
  local args=()
  for _ in $(seq 1 "$1"); do
    args+=(--next --http1.1 -s -o /dev/null -w '%{http_code}\n' --cacert mamori-data/tls/dev-root.pem -u "bench:$secret"
      -d 'grant_type=client_credentials&scope=api.read' "$url")
  done
  curl "${args[@]:1}"
}
# The first request pays the secret's Argon2id; then the keys and caches are warm.
requests 21 > /dev/null
callgrind_control -i on "$vpid" > /dev/null 2>&1
answers=$(requests "$N" | sort | uniq -c | tr -s ' ')
callgrind_control -d "$vpid" > /dev/null 2>&1
kill "$vpid"; wait "$vpid" 2>/dev/null || true
profile=$(ls "$work"/callgrind.out.* | head -1)
[ -n "${CALLGRIND_KEEP:-}" ] && cp "$profile" "$CALLGRIND_KEEP/"
total=$(callgrind_annotate "$profile" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
ecdsa=$(callgrind_annotate --inclusive=yes "$profile" 2>/dev/null | awk '/ECDSA_do_sign \[/ && !n++ {gsub(",", "", $1); print $1}')
echo "answers: $answers"
echo "instructions per request: $((total / N)) (ES256 signature $((ecdsa / N)), the rest $(((total - ecdsa) / N)); one TLS handshake in the count)"
