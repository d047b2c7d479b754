#!/usr/bin/env bash
# Fuzzes a fresh mindgate with schemathesis, every check on, against the
# OpenAPI document it serves: the document must describe exactly what the
# server accepts and answers. Any finding fails. Usage:
#   .ci/schemathesis.sh [path to the mindgate binary] [extra `st run` options]
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(realpath "${1:-target/debug/mindgate}")
config=$(realpath .ci/schemathesis.toml)
shift || true
work=$(mktemp -d)
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# A fresh instance with no provider keys: of the models, only `echo` can
# answer, so the document offers only `echo`, and nothing leaves the machine.
# `run` takes the place of the subshell it is called in, so the server's $!
# is the server itself, which the cleanup stops (not a shell around it).
run() { exec env -u OPENAI_API_KEY -u ANTHROPIC_API_KEY -u OPENAI_BASE_URL -u ANTHROPIC_BASE_URL \
    MINDGATE_DB="$work/mindgate.db" "$@"; }
key=$(run "$bin" keys create --name schemathesis)
# Key 2: the scope whose policy PUT /policies/{scope} is fuzzed on
# (schemathesis.toml); never used, so its policy restricts nothing here.
(run "$bin" keys create --name "policy target" --scope chat >/dev/null)
RUST_LOG=info run "$bin" serve --listen 127.0.0.1:0 >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    url=$(grep -o 'listening on http://[0-9.:]*' "$work/server.log" | head -n1 | cut -d' ' -f3 || true)
    [ -n "$url" ] && break
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "mindgate did not start:" >&2
    cat "$work/server.log" >&2
    exit 1
fi

# `st`, from the python3 that pip installed it into (its scripts directory
# may not be on PATH). A fixed seed keeps CI reproducible; pass --seed to
# explore further. --max-time bounds the run: fuzzing and stateful testing
# repeat until it is spent.
# Run from the scratch directory, where schemathesis leaves its cache.
cd "$work"
python3 -c 'import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())' \
    --config-file "$config" \
    run "$url/api/v1/openapi.json" \
    --checks all \
    --header "X-API-KEY: $key" \
    --max-examples 40 \
    --seed 20240814 \
    --generation-database none \
    --max-time 180 \
    --request-timeout 10 \
    --no-color \
    "$@"
