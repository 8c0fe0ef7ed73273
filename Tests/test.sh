#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, then runs them.
# Extra arguments go to `swift test` (e.g. --filter EndToEnd).
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib/ensure-tools.sh

# The independent JOSE verifier used by the interoperability tests; sqlite3 to tamper with stores;
# openssl to make keys the way operators do; systemd-analyze to check the unit.
# binutils' nm to read the installed binary's symbols; prometheus for promtool, which checks and
# tests the shipped alerting rules.
# chromium and its driver for the console's browser test, which Selenium drives.
ensure_apt_packages python3 python3-pip sqlite3 openssl systemd binutils prometheus chromium chromium-driver
if ! python3 -c 'import joserfc, cryptography, prometheus_client, selenium' >/dev/null 2>&1; then
  for requirements in Tests/interop/requirements.txt Tests/browser/requirements.txt; do
    python3 -m pip install --quiet --disable-pip-version-check -r "$requirements" \
      || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages -r "$requirements"
  done
fi

# The shared PostgreSQL store's tests run against a real server, started here and stopped after.
source Tests/postgres.sh
start_test_postgres

# Each test makes its files in a directory of its own under this run's directory, which is kept
# when a test fails (its files help to see why) and removed when all pass, so that runs on a
# developer's machine do not fill /tmp (a package test alone writes 160 MB).
export TMPDIR="$(mktemp -d "${TMPDIR:-/tmp}/lgsp-tests.XXXXXX")"
finish() {
  local status=$?
  stop_test_postgres
  if [ "$status" -eq 0 ]; then rm -rf "$TMPDIR"; else echo "the tests' files are kept in $TMPDIR" >&2; fi
  return "$status"
}
trap finish EXIT

# Every module a target imports must be one it declares (Package.resolved stays out of the
# repository: the local package mirror's commit ids differ from upstream).
swift test --explicit-target-dependency-import-check error "$@"
