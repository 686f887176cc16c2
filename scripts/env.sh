# Sourced by the scripts beside it: make .venv and install the requirements
# when they changed. Nothing else needs to be installed by hand.
#   REQUIREMENTS: the lock files to install; the app's own by default, the
#   scripts that test or lint add requirements-dev.txt.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
REQUIREMENTS="${REQUIREMENTS:-requirements.txt}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha
# shellcheck disable=SC2086  # one word per file
want="$(cat $REQUIREMENTS | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # shellcheck disable=SC2046
  .venv/bin/python -m pip install --quiet --disable-pip-version-check $(printf -- '-r %s ' $REQUIREMENTS)
  echo "$want" > "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
