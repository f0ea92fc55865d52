#!/usr/bin/env bash
# The whole suite on SQLite, then again on PostgreSQL when DATABASE_URL is set or the local
# server at 127.0.0.1:5432 answers.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export VNEMIS_VAR_DIR="${VNEMIS_VAR_DIR:-$PWD/var/test}"

if [[ ! -x /usr/bin/chromium ]]; then
  echo "##################################################################" >&2
  echo "# /usr/bin/chromium is missing: browser tests (tests/browser) are  #" >&2
  echo "# SKIPPED. Install Debian's chromium package to run them.          #" >&2
  echo "##################################################################" >&2
fi

echo "== test suite on SQLite =="
env -u DATABASE_URL "$BIN/pytest" -q -p no:cacheprovider "$@"

pg_url="${DATABASE_URL:-}"
if [[ -z $pg_url ]] && "$BIN/python" - <<'PY'
import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", 5432)) == 0 else 1)
PY
then
  # A name of its own per run, so parallel runs on one server never drop each other's test
  # database (pytest-django creates "test_<name>").
  pg_url="postgres://postgres@127.0.0.1:5432/vnemis_run_$$"
fi
if [[ -n $pg_url ]]; then
  echo "== test suite on PostgreSQL =="
  status=0
  DATABASE_URL="$pg_url" "$BIN/pytest" -q -p no:cacheprovider "$@" || status=$?
  # pytest-django cannot drop its test database while a live-server thread still holds a
  # connection; drop it here so runs leave nothing behind.
  "$BIN/python" - "$pg_url" <<'PY' || true
import sys, psycopg
url = sys.argv[1]
name = "test_" + url.rsplit("/", 1)[1]
with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
PY
  exit $status
else
  echo "PostgreSQL not reachable: PostgreSQL run skipped (set DATABASE_URL to run it)."
fi
