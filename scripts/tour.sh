#!/usr/bin/env bash
# `make tour`: the rapport CLI on a sample model in a fresh ./demo-workspace (SQLite) — a
# workspace, a new object, an import, an export, an API token — then the web server on it.
#   SERVE=no   stop after the command line part
#   HOST, PORT where to serve (default 127.0.0.1:8000)
set -euo pipefail
cd "$(dirname "$0")/.."

RAPPORT="${RAPPORT:-.venv/bin/rapport}"
WORKSPACE=demo-workspace
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
# always the local SQLite demo, whatever the caller's environment points at
unset RAPPORT_DATABASE_URL RAPPORT_READ_DATABASE_URL RAPPORT_HOME

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
show() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; }
step() {
    show "$@"
    "$@"
}
rapport() { "$RAPPORT" "$@"; }

rm -rf "$WORKSPACE"
step rapport init "$WORKSPACE" --admin-email admin@example.com --admin-password rapport-demo

export RAPPORT_HOME="$WORKSPACE"
printf '\n(RAPPORT_HOME=%s from here on)\n' "$WORKSPACE"
step rapport meta validate examples/project.json
step rapport meta apply examples/project.json --plan
step rapport meta apply examples/project.json -m "demo: add the project object"
step rapport import opportunity examples/opportunities.csv
show rapport export opportunity '|' head
exported="$(rapport export opportunity)"  # not a pipe: head closing it early is no failure
printf '%s\n' "$exported" | head
step rapport user token admin@example.com

printf '\nThe workspace is in ./%s (config + SQLite file). More to try:\n' "$WORKSPACE"
echo "  RAPPORT_HOME=$WORKSPACE .venv/bin/rapport export project"
echo "  RAPPORT_HOME=$WORKSPACE .venv/bin/rapport meta export $WORKSPACE/exported"
echo "  make demo   (another workspace, ./rapport-demo, with sample data, served)"
if [ "${SERVE:-yes}" = no ]; then
    exit 0
fi
show rapport serve --host "$HOST" --port "$PORT"
printf '\nopen http://%s:%s/ and log in as admin@example.com / rapport-demo (Ctrl-C stops)\n' \
    "$HOST" "$PORT"
exec "$RAPPORT" serve --host "$HOST" --port "$PORT"
