#!/usr/bin/env bash
# Run Datang for a pilot: SQLite with the demo data, reachable from the LAN.
#   PORT=5000 HOST=0.0.0.0 by default; DATABASE_URL and SECRET_KEY as in README.
source "$(dirname "$0")/env.sh"
flask --app run db upgrade
flask --app run seed-demo
HOST="${HOST:-0.0.0.0}"
PORT="${PORT:-5000}"
echo "Datang is at http://$(hostname -I 2>/dev/null | awk '{print $1}' || echo localhost):$PORT  (sign in as lobby1 / ${DATANG_DEMO_PASSWORD:-demo-pass-1234})"
# Two workers a core, one thread each: Python runs one thread of a process at a
# time, and on two cores two workers of four threads served less than half the
# pages of four workers of one (docs/performance.md). gthread keeps a tablet's connection open between polls
# (keep-alive longer than the board's 3 s poll); gunicorn's "sync" would close it.
exec gunicorn --worker-class gthread --workers "${WORKERS:-$((2 * $(nproc)))}" \
  --threads "${THREADS:-1}" --keep-alive 10 --bind "$HOST:$PORT" --access-logfile - run:app
