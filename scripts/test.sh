#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine, then run it.
#   - Debian's chromium for the Playwright journeys (playwright cannot download browsers here)
#   - pg_dump and pg_restore (postgresql-client) for the PostgreSQL backup tests
#   - the PostgreSQL at 127.0.0.1:5432 (started if it is down)
#   - eventscope with its `test` extra (pytest-xdist among it: the suite runs in parallel)
#   - axe-core from the npm registry (tests/browser/package.json) for the accessibility checks
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v pg_dump >/dev/null 2>&1 || missing+=(postgresql-client)  # `eventscope backup`
command -v npm >/dev/null 2>&1 || missing+=(npm)  # axe-core for the accessibility checks
if [ "${#missing[@]}" -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi

python3 -m pip install -q --disable-pip-version-check -e ".[test]"

# axe-core (npm registry), injected into the page by the browser tests' accessibility checks
npm ci --prefix tests/browser --no-audit --no-fund --silent

# the layering of docs/architecture.md, checked by import-linter (pyproject.toml)
lint-imports

# in parallel (pytest-xdist): three worker processes keep two cores busy through the tests'
# waits on browsers, servers and subprocesses; each worker has a PostgreSQL database of its
# own (tests/conftest.py). pytest-benchmark, if the machine has it, is off: it refuses xdist.
python3 -m pytest -n "${EVENTSCOPE_TEST_WORKERS:-3}" -p no:benchmark "$@"
