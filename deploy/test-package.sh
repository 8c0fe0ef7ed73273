#!/usr/bin/env bash
# Proves the Debian package on a clean Debian 12: debootstraps a minimal bookworm into a folder,
# installs the package there with apt (no Swift toolchain inside), checks the layout and the user,
# then runs the installed gateway inside it, as its own user, against the mocks running outside,
# until everything valid is delivered; finally removes (data kept) and purges (data gone) it.
# Needs root (chroot) and Debian's mirror. Run by .ci/run.
#
#   deploy/test-package.sh [PACKAGE.deb]      builds the package when none is given
set -euo pipefail

repository="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repository"
[ "$(id -u)" -eq 0 ] || { echo "test-package.sh: needs root for debootstrap and chroot" >&2; exit 1; }
source deploy/lib/ensure-tools.sh
ensure_apt_packages debootstrap

package="${1:-$(deploy/build-deb.sh | tail -n 1)}"
package="$(readlink -f "$package")"
swift build --product lgsp-mock >&2
mock_binary="$(swift build --show-bin-path)/lgsp-mock"

root="$(mktemp -d /var/tmp/lgsp-debian12.XXXXXX)"
chmod 0755 "$root"  # apt's sandbox user must reach its cache inside
mock_pid=""
gateway_pid=""
cleanup() {
  [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true
  [ -n "$gateway_pid" ] && kill -KILL "$gateway_pid" 2>/dev/null || true
  umount "$root/dev/pts" "$root/proc" 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT
step() { echo "== $*" >&2; }
fail() { echo "test-package.sh: FAILED: $*" >&2; exit 1; }
inside() { chroot "$root" "$@"; }
as_service() { chroot --userspec=lgsp-gateway:lgsp-gateway "$root" "$@"; }

step "debootstrap a minimal Debian 12 (bookworm)"
debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount -t devpts devpts "$root/dev/pts"
[ ! -e "$root/opt/swift" ] || fail "the clean system has a Swift toolchain"

step "apt install $(basename "$package")"
cp "$package" "$root/tmp/"
inside apt-get update -qq
DEBIAN_FRONTEND=noninteractive inside apt-get install -y -qq "/tmp/$(basename "$package")" >/dev/null
version="$(inside lgsp-gateway --version)"
echo "installed lgsp-gateway $version" >&2
inside getent passwd lgsp-gateway >/dev/null || fail "no lgsp-gateway user"
[ "$(inside stat -c '%U %a' /etc/lgsp-gateway/credentials)" = "lgsp-gateway 700" ] || fail "credentials/ is not 700 lgsp-gateway"
[ "$(inside stat -c '%U %a' /var/lib/lgsp-gateway)" = "lgsp-gateway 700" ] || fail "/var/lib/lgsp-gateway is not 700 lgsp-gateway"
for file in /lib/systemd/system/lgsp-gateway.service /usr/share/lgsp-gateway/contracts/manifest.json /usr/share/doc/lgsp-gateway/operators-guide.md; do
  [ -f "$root$file" ] || fail "$file missing"
done

step "a fresh configuration names what is left to fill in"
if check="$(inside lgsp-gateway check --config /etc/lgsp-gateway/gateway.yaml 2>&1)"; then fail "check passed on an unfilled configuration"; fi
for field in gateway.id gateway.province central.url signing.key; do
  grep -q ": $field: " <<<"$check" || fail "check does not name $field: $check"
done

step "configure it as the guide says, against the mocks outside"
mock_directory="$root/srv/mock"
mkdir -p "$mock_directory"
"$mock_binary" serve --directory "$mock_directory" --source-port 0 --central-port 0 > "$root/srv/mock.out" 2>/dev/null &
mock_pid=$!
for _ in $(seq 1 300); do grep -q "^mock central endpoint:" "$root/srv/mock.out" 2>/dev/null && break; sleep 0.1; done
source_url="$(awk '/^mock LGSP source:/ { print $4 }' "$root/srv/mock.out")"
central_url="$(awk '/^mock central endpoint:/ { print $4 }' "$root/srv/mock.out")"
[ -n "$source_url" ] && [ -n "$central_url" ] || fail "the mocks did not start"
install -m 600 "$mock_directory/gateway-signing-key.pem" "$root/etc/lgsp-gateway/credentials/signing-key"
install -m 600 "$mock_directory/source-client-secret" "$root/etc/lgsp-gateway/credentials/lgsp-client-secret"
inside chown -R lgsp-gateway:lgsp-gateway /etc/lgsp-gateway/credentials
sed -i -E \
  -e 's|^(  id: )"".*|\1son-la-gw-01|' \
  -e 's|^(  province: )"".*|\1"14"|' \
  -e "s|^(  url: )\"\".*|\\1$central_url|" \
  -e 's|^(  ca_bundle: )"".*|\1/srv/mock/ca.pem|' \
  "$root/etc/lgsp-gateway/gateway.yaml"
for adapter in "$root"/usr/share/lgsp-gateway/adapters/*.yaml; do
  sed -E -e "s|\\\$\\{LGSP_SOURCE_URL:-[^}]*\\}|$source_url|g" \
    -e 's|\$\{LGSP_SOURCE_CA:-[^}]*\}|/srv/mock/ca.pem|' \
    -e 's|\$\{LGSP_CLIENT_SECRET:-[^}]*\}|credential:lgsp-client-secret|' \
    "$adapter" > "$root/etc/lgsp-gateway/adapters.d/$(basename "$adapter")"
done
as_service lgsp-gateway check --config /etc/lgsp-gateway/gateway.yaml >&2 || fail "check refused the filled-in configuration"

step "run the installed gateway as its own user until everything is delivered"
# chroot itself, not a function (whose subshell would take the signal); any free admin port.
LGSP_ADMIN_LISTEN=127.0.0.1:0 chroot --userspec=lgsp-gateway:lgsp-gateway "$root" \
  lgsp-gateway run --config /etc/lgsp-gateway/gateway.yaml --log-format json > "$root/srv/gateway.log" 2>&1 &
gateway_pid=$!
delivered=0
for _ in $(seq 1 600); do
  stats="$(as_service lgsp-gateway outbox stats --config /etc/lgsp-gateway/gateway.yaml --json 2>/dev/null | tail -n 1 || true)"
  if python3 -c 'import json,sys; s=json.loads(sys.argv[1]); sys.exit(0 if s["delivered"] > 0 and s["pending"] == 0 and s["in_flight"] == 0 else 1)' "$stats" 2>/dev/null; then
    delivered=1
    break
  fi
  sleep 0.1
done
kill -TERM "$gateway_pid"
status=0
wait "$gateway_pid" || status=$?
[ "$status" = 0 ] || fail "the gateway exited with $status on SIGTERM: $(tail -n 5 "$root/srv/gateway.log")"
[ "$delivered" = 1 ] || fail "nothing delivered: $(tail -n 20 "$root/srv/gateway.log")"
echo "outbox: $stats" >&2
as_service lgsp-gateway audit verify --config /etc/lgsp-gateway/gateway.yaml >&2 || fail "the audit chain does not verify"
[ "$(inside stat -c %U /var/lib/lgsp-gateway/gateway.sqlite)" = lgsp-gateway ] || fail "the store is not owned by lgsp-gateway"

step "apt remove keeps configuration and store; apt purge deletes them and the user"
DEBIAN_FRONTEND=noninteractive inside apt-get remove -y -qq lgsp-gateway >/dev/null
[ ! -e "$root/usr/bin/lgsp-gateway" ] || fail "remove left the binary"
[ -f "$root/etc/lgsp-gateway/gateway.yaml" ] && [ -f "$root/var/lib/lgsp-gateway/gateway.sqlite" ] || fail "remove deleted configuration or store"
DEBIAN_FRONTEND=noninteractive inside apt-get purge -y -qq lgsp-gateway >/dev/null
[ ! -e "$root/etc/lgsp-gateway" ] && [ ! -e "$root/var/lib/lgsp-gateway" ] || fail "purge left configuration or store"
! inside getent passwd lgsp-gateway >/dev/null || fail "purge left the user"

echo "test-package.sh: lgsp-gateway $version installs, runs, delivers, removes and purges on a clean Debian 12" >&2
