#!/usr/bin/env bash
# Lint and type checks; any finding fails (CI runs this before the tests).
#   ruff check: pyflakes, pycodestyle, bugbear, import order, security rules;
#   ruff format --check: the code is formatted; mypy: app/ (strict on the
#   write path); lint-imports: the import contracts between the features, the
#   core and the models. Their settings are in pyproject.toml.
REQUIREMENTS="requirements.txt requirements-dev.txt"
source "$(dirname "$0")/env.sh"
status=0
echo "=== ruff check ===" && ruff check . || status=1
echo "=== ruff format --check ===" && ruff format --check . || status=1
echo "=== mypy ===" && mypy || status=1
echo "=== lint-imports ===" && lint-imports || status=1
exit $status
