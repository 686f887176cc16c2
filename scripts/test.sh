#!/usr/bin/env bash
# Run every test: on SQLite, then on PostgreSQL.
#   TEST_DATABASE_URL: the PostgreSQL to use (default: the local one, database `test`).
#   DATANG_TEST_DATABASES: "sqlite postgresql" (default), or just one of them.
# Extra arguments go to pytest.
REQUIREMENTS="requirements.txt requirements-dev.txt"
source "$(dirname "$0")/env.sh"

if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium for the browser tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi

PG_URL="${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
databases="${DATANG_TEST_DATABASES:-sqlite postgresql}"
# The browser tests and the reliability tests (a soak, kill -9 during sync) each
# run a server: two at once on two cores makes their timing depend on the
# machine's load, so they run one at a time, after the others.
run_tests() {
  if [ $# -gt 0 ]; then
    python -m pytest -n "${PYTEST_WORKERS:-2}" -q "$@"
  else
    python -m pytest -n "${PYTEST_WORKERS:-2}" -q --ignore=tests/e2e --ignore=tests/reliability tests \
      && python -m pytest -q tests/reliability \
      && python -m pytest -q tests/e2e
  fi
}

status=0
for database in $databases; do
  echo "=== tests on $database ==="
  if [ "$database" = postgresql ]; then
    if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
      for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    fi
    # A skipped database is not a pass: fail loudly when PostgreSQL is not there.
    python -c "import sqlalchemy as sa; sa.create_engine('$PG_URL').connect().close()" \
      || { echo "PostgreSQL at $PG_URL cannot be reached"; exit 1; }
    TEST_DATABASE_URL="$PG_URL" run_tests "$@" || status=$?
  else
    (unset TEST_DATABASE_URL; run_tests "$@") || status=$?
  fi
done
exit $status
