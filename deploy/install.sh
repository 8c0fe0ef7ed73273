#!/usr/bin/env bash
# Installs the LGSP indicator gateway as a systemd service. Safe to run again: binaries, contracts,
# examples and the unit are replaced; gateway.yaml, adapters.d/ and credentials/ are never touched
# once they exist (a changed shipped gateway.yaml lands beside it as gateway.yaml.dist).
#
#   sudo deploy/install.sh                    build a release binary and install it
#   sudo deploy/install.sh --binary PATH      install a binary built elsewhere
#   deploy/install.sh --destdir DIR --binary PATH --no-system
#                                             stage the same layout under DIR (the Debian package does this)
#
# Layout:
#   /usr/bin/lgsp-gateway                     the gateway (self-contained: Swift's runtime linked in)
#   /usr/share/lgsp-gateway/contracts/        the shared contracts (JSON Schema, indicator catalogue)
#   /usr/share/lgsp-gateway/adapters/         shipped adapter definitions, to copy into adapters.d/
#   /usr/share/lgsp-gateway/prometheus/       alerting rules for the gateway's /metrics
#   /usr/share/doc/lgsp-gateway/              README.md and the operator's guide
#   /lib/systemd/system/lgsp-gateway.service  the unit
#   /etc/lgsp-gateway/gateway.yaml            the configuration (yours once installed)
#   /etc/lgsp-gateway/adapters.d/             the adapters that run (none until you add them)
#   /etc/lgsp-gateway/credentials/            signing key and secrets, read through LoadCredential=
#   /var/lib/lgsp-gateway/                    the store (outbox, quarantine, audit chain)
set -euo pipefail

repository="$(cd "$(dirname "$0")/.." && pwd)"
destdir=""
binary=""
system=1

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --destdir) destdir="${2:?--destdir needs a directory}"; shift 2 ;;
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    --no-system) system=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; usage 2 >&2 ;;
  esac
done

if [ "$system" = 1 ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (or stage with --destdir DIR --no-system)" >&2
  exit 1
fi

if [ -z "$binary" ]; then
  source "$repository/deploy/lib/ensure-tools.sh"
  (cd "$repository" && swift build -c release --static-swift-stdlib --product lgsp-gateway >&2)
  binary="$(cd "$repository" && swift build -c release --show-bin-path)/lgsp-gateway"
fi
[ -x "$binary" ] || { echo "install.sh: $binary is not an executable" >&2; exit 1; }

root="${destdir%/}"
etc="$root/etc/lgsp-gateway"
share="$root/usr/share/lgsp-gateway"
doc="$root/usr/share/doc/lgsp-gateway"

install -d -m 0755 "$root/usr/bin" "$share" "$doc" "$root/lib/systemd/system" "$etc" "$etc/adapters.d"
install -m 0755 "$binary" "$root/usr/bin/lgsp-gateway"

# Contracts and shipped adapters are replaced whole, so a file removed upstream goes too.
rm -rf "$share/contracts" "$share/adapters"
cp -R "$repository/Contracts" "$share/contracts"
install -d -m 0755 "$share/adapters"
# Each adapter file, and beside it a folder with its README and a sample of its source's answer.
cp -R "$repository/Adapters/." "$share/adapters/"
install -d -m 0755 "$share/prometheus"
install -m 0644 "$repository/deploy/prometheus/lgsp-gateway.rules.yml" "$share/prometheus/lgsp-gateway.rules.yml"
find "$share" -type d -exec chmod 0755 {} + && find "$share" -type f -exec chmod 0644 {} +
install -m 0644 "$repository/README.md" "$doc/README.md"
install -m 0644 "$repository/deploy/README.md" "$doc/operators-guide.md"
install -m 0644 "$repository/deploy/lgsp-gateway.service" "$root/lib/systemd/system/lgsp-gateway.service"

# The deployed configuration is the shipped example with the service's own paths, no mock
# defaults, and the signing key read through LoadCredential=. Everything else stays as shipped.
deployed_configuration() {
  sed -E \
    -e 's|\$\{LGSP_GATEWAY_ID:-[^}]*\}|""  # EDIT: this gateway'"'"'s name, e.g. son-la-gw-01|' \
    -e 's|"\$\{LGSP_PROVINCE:-[^}]*\}"|""  # EDIT: two-digit province code|' \
    -e 's|\$\{LGSP_CENTRAL_URL:-[^}]*\}|""  # EDIT: https:// address of the central reporting endpoint|' \
    -e 's|\$\{LGSP_CENTRAL_CA:-[^}]*\}|""  # empty: the system trust store|' \
    -e 's|\$\{LGSP_SIGNING_KEY:-[^}]*\}|credential:signing-key|' \
    -e 's|\$\{LGSP_STORE:-[^}]*\}|/var/lib/lgsp-gateway/gateway.sqlite|' \
    -e 's|\$\{LGSP_CONTRACTS:-[^}]*\}|/usr/share/lgsp-gateway/contracts|' \
    -e 's|\$\{LGSP_ADAPTERS:-[^}]*\}|/etc/lgsp-gateway/adapters.d|' \
    -e '2,/^$/{/^$/!d}' \
    -e '1s|.*|# LGSP indicator gateway, installed by deploy/install.sh: fill in the lines marked EDIT, then run\n# `lgsp-gateway check --config /etc/lgsp-gateway/gateway.yaml`. Secrets are never written here:\n# credential:NAME is /etc/lgsp-gateway/credentials/NAME, handed to the service by LoadCredential=.|' \
    "$repository/deploy/examples/gateway.yaml"
}
if [ -e "$etc/gateway.yaml" ]; then
  if ! deployed_configuration | cmp -s - "$etc/gateway.yaml"; then
    deployed_configuration > "$etc/gateway.yaml.dist"
    echo "kept your $etc/gateway.yaml; the shipped one is in gateway.yaml.dist" >&2
  fi
else
  deployed_configuration > "$etc/gateway.yaml"
fi
chmod 0644 "$etc/gateway.yaml"

install -d -m 0700 "$etc/credentials"

if [ "$system" = 0 ]; then
  exit 0
fi

. "$repository/deploy/lib/system-setup.sh"
echo "installed $("$root/usr/bin/lgsp-gateway" --version); to configure and start it, follow section 2 of /usr/share/doc/lgsp-gateway/operators-guide.md" >&2
