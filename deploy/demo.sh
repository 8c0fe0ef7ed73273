#!/usr/bin/env bash
# The demo: mock LGSP source, mock central endpoint (failing part of the time) and the gateway,
# in one process on loopback. Extra arguments go to `lgsp-mock demo` (try --json or --verbose): the
# demo ships with the mocks, not in the lgsp-gateway an operator installs.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib/ensure-tools.sh
swift build --product lgsp-mock >&2
exec "$(swift build --show-bin-path)/lgsp-mock" demo "$@"
