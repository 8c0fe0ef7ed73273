#!/usr/bin/env bash
# Proves the Debian package on a clean Debian 12: debootstraps a minimal bookworm (with systemd)
# into a folder, installs the package there with apt (no Swift toolchain inside), checks the layout
# and the user, then boots that system's own systemd in a container (systemd-nspawn) and runs the
# gateway as the packaged service against the mocks running outside: start (READY), delivery,
# reload (good and broken), stop, audit; finally removes (data kept) and purges (data gone) it.
# Needs root and Debian's mirror. Run by .ci/run.
#
#   deploy/test-package.sh [PACKAGE.deb]      builds the package when none is given
set -euo pipefail

repository="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repository"
[ "$(id -u)" -eq 0 ] || { echo "test-package.sh: needs root for debootstrap, chroot and systemd-nspawn" >&2; exit 1; }
source deploy/lib/ensure-tools.sh
ensure_apt_packages debootstrap systemd-container

package="${1:-$(deploy/build-deb.sh | tail -n 1)}"
package="$(readlink -f "$package")"
swift build --product lgsp-mock >&2
mock_binary="$(swift build --show-bin-path)/lgsp-mock"

root="$(mktemp -d /var/tmp/lgsp-debian12.XXXXXX)"
chmod 0755 "$root"  # apt's sandbox user must reach its cache inside
mock_pid=""
container_pid=""
cleanup() {
  if [ -n "${LGSP_KEEP_ROOT:-}" ]; then echo "kept $root (container $container_pid)" >&2; return; fi
  [ -n "$container_pid" ] && kill -KILL "$container_pid" 2>/dev/null && wait "$container_pid" 2>/dev/null || true
  [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true
  umount "$root/dev/pts" "$root/proc" 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT
step() { echo "== $*" >&2; }
fail() { echo "test-package.sh: FAILED: $*" >&2; exit 1; }
inside() { chroot "$root" "$@"; }

step "debootstrap a minimal Debian 12 (bookworm) with systemd"
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$root" http://deb.debian.org/debian >/dev/null
cp /etc/resolv.conf "$root/etc/resolv.conf"
[ ! -e "$root/opt/swift" ] || fail "the clean system has a Swift toolchain"

step "apt install $(basename "$package")"
mount -t proc proc "$root/proc"
mount -t devpts devpts "$root/dev/pts"
cp "$package" "$root/root/"
inside apt-get update -qq
DEBIAN_FRONTEND=noninteractive inside apt-get install -y -qq "/root/$(basename "$package")" >/dev/null
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
"$mock_binary" serve --directory "$mock_directory" --source-port 0 --central-port 0 --bank-port 0 > "$root/srv/mock.out" 2>/dev/null &
mock_pid=$!
for _ in $(seq 1 300); do grep -q "^mock central endpoint:" "$root/srv/mock.out" 2>/dev/null && break; sleep 0.1; done
source_url="$(awk '/^mock LGSP source:/ { print $4 }' "$root/srv/mock.out")"
central_url="$(awk '/^mock central endpoint:/ { print $4 }' "$root/srv/mock.out")"
bank_url="$(awk '/^mock bank:/ { print $3 }' "$root/srv/mock.out")"
[ -n "$source_url" ] && [ -n "$central_url" ] && [ -n "$bank_url" ] || fail "the mocks did not start"
chmod 0755 "$root/srv" "$mock_directory" && chmod 0644 "$mock_directory/ca.pem"
install -m 600 "$mock_directory/gateway-signing-key.pem" "$root/etc/lgsp-gateway/credentials/signing-key"
install -m 600 "$mock_directory/source-client-secret" "$root/etc/lgsp-gateway/credentials/lgsp-client-secret"
# The bank's server wants the client certificate it issued; the key stays the gateway user's alone.
install -m 644 "$mock_directory/client-certificate.pem" "$root/etc/lgsp-gateway/credentials/bank-client-certificate.pem"
install -m 600 "$mock_directory/client-key.pem" "$root/etc/lgsp-gateway/credentials/bank-client-key.pem"
inside chown -R lgsp-gateway:lgsp-gateway /etc/lgsp-gateway/credentials
sed -i -E \
  -e 's|^(  id: )"".*|\1son-la-gw-01|' \
  -e 's|^(  province: )"".*|\1"14"|' \
  -e "s|^(  url: )\"\".*|\\1$central_url|" \
  -e 's|^(  ca_bundle: )"".*|\1/srv/mock/ca.pem|' \
  -e 's|\$\{LGSP_ADMIN_LISTEN:-[^}]*\}|127.0.0.1:0|' \
  "$root/etc/lgsp-gateway/gateway.yaml"
for adapter in "$root"/usr/share/lgsp-gateway/adapters/*.yaml; do
  sed -E -e "s|\\\$\\{LGSP_SOURCE_URL:-[^}]*\\}|$source_url|g" \
    -e 's|\$\{LGSP_SOURCE_CA:-[^}]*\}|/srv/mock/ca.pem|' \
    -e 's|\$\{LGSP_CLIENT_SECRET:-[^}]*\}|credential:lgsp-client-secret|' \
    -e "s|\\\$\\{TELECOM_URL:-[^}]*\\}|$source_url|" \
    -e 's|\$\{TELECOM_CA:-[^}]*\}|/srv/mock/ca.pem|' \
    -e 's|\$\{BANK_CA:-[^}]*\}|/srv/mock/ca.pem|' \
    -e 's|\$\{TELECOM_API_KEY:-[^}]*\}|credential:lgsp-client-secret|' \
    -e "s|\\\$\\{SGD_URL:-[^}]*\\}|$source_url|" \
    -e 's|\$\{SGD_CA:-[^}]*\}|/srv/mock/ca.pem|' \
    -e 's|\$\{SGD_PASSWORD:-[^}]*\}|credential:lgsp-client-secret|' \
    -e "s|\\\$\\{BANK_URL:-[^}]*\\}|$bank_url|" \
    -e 's|\$\{BANK_CLIENT_CERT:-[^}]*\}|/etc/lgsp-gateway/credentials/bank-client-certificate.pem|' \
    -e 's|\$\{BANK_CLIENT_KEY:-[^}]*\}|/etc/lgsp-gateway/credentials/bank-client-key.pem|' \
    "$adapter" > "$root/etc/lgsp-gateway/adapters.d/$(basename "$adapter")"
done
mkdir -p "$root/etc/systemd/system/lgsp-gateway.service.d"
printf '[Service]\nLoadCredential=lgsp-client-secret:/etc/lgsp-gateway/credentials/lgsp-client-secret\n' \
  > "$root/etc/systemd/system/lgsp-gateway.service.d/secrets.conf"
chroot --userspec=lgsp-gateway:lgsp-gateway "$root" lgsp-gateway check --config /etc/lgsp-gateway/gateway.yaml >&2 \
  || fail "check refused the filled-in configuration"
# The container mounts its own; Swift reads a static binary's arguments from /proc/self/cmdline.
umount "$root/dev/pts" "$root/proc"

step "boot the system's own systemd (systemd-nspawn, host network)"
systemd-nspawn --quiet --register=no --keep-unit --directory "$root" --boot > "$root/srv/boot.log" 2>&1 &
container_pid=$!
leader=""
for _ in $(seq 1 300); do
  leader="$(pgrep -P "$container_pid" | head -n 1 || true)"
  if [ -n "$leader" ] && state="$(nsenter -t "$leader" -a systemctl is-system-running 2>/dev/null)"; then
    [ "$state" = running ] || [ "$state" = degraded ] && break
  fi
  sleep 0.1
done
[ -n "$leader" ] || fail "the container did not boot: $(tail -n 5 "$root/srv/boot.log")"
booted() { nsenter -t "$leader" -a "$@"; }
as_service() { booted runuser -u lgsp-gateway -- "$@"; }
# journald takes in the service's lines a moment after they are written: wait for a line rather
# than race it (a reload can return before its log line is in the journal).
journal_has() {
  for _ in $(seq 1 100); do
    booted journalctl -u lgsp-gateway --no-pager -o cat | grep -q -- "$1" && return 0
    sleep 0.1
  done
  return 1
}
echo "systemd $(booted systemctl --version | head -n 1 | cut -d' ' -f2) is running" >&2

step "systemctl start: Type=notify, READY once running"
booted systemctl start lgsp-gateway || fail "start failed: $(booted journalctl -u lgsp-gateway --no-pager -n 20)"
booted systemctl is-active --quiet lgsp-gateway || fail "not active after start"
status_line="$(booted systemctl show -p StatusText --value lgsp-gateway)"
grep -q "^delivering for province 14" <<<"$status_line" || fail "unexpected STATUS=: $status_line"
delivered=0
for _ in $(seq 1 600); do
  stats="$(as_service lgsp-gateway outbox stats --config /etc/lgsp-gateway/gateway.yaml --json 2>/dev/null | tail -n 1 || true)"
  if python3 -c 'import json,sys; s=json.loads(sys.argv[1]); sys.exit(0 if s["delivered"] > 0 and s["pending"] == 0 and s["in_flight"] == 0 else 1)' "$stats" 2>/dev/null; then
    delivered=1
    break
  fi
  sleep 0.1
done
[ "$delivered" = 1 ] || fail "nothing delivered: $(booted journalctl -u lgsp-gateway --no-pager -n 20)"
echo "outbox: $stats" >&2

step "systemctl reload: a sound configuration is applied, a broken one refused"
booted systemctl reload lgsp-gateway || fail "reload failed: $(booted journalctl -u lgsp-gateway --no-pager -n 20)"
journal_has '"message":"configuration reloaded"' || fail "no reload in the journal"
printf 'name: broken\nkind: http\ncolour: blue\n' > "$root/etc/lgsp-gateway/adapters.d/broken.yaml"
booted systemctl reload lgsp-gateway || fail "reload did not return"
booted systemctl is-active --quiet lgsp-gateway || fail "a refused reload stopped the service"
booted systemctl show -p StatusText --value lgsp-gateway | grep -q "^reload refused" || fail "systemctl status does not say the reload was refused"
journal_has "broken.yaml:3: colour" || fail "the refusal does not name file, line and field"
rm "$root/etc/lgsp-gateway/adapters.d/broken.yaml"

step "systemctl stop: STOPPING, a clean exit"
stop_started=$(date +%s%N)
booted systemctl stop lgsp-gateway
echo "stopped in $(( ($(date +%s%N) - stop_started) / 1000000 )) ms" >&2
journal_has '"message":"gateway stopped"' || fail "no clean stop in the journal"
[ "$(booted systemctl show -p Result --value lgsp-gateway)" = success ] || fail "the service did not end in success"
as_service lgsp-gateway audit verify --config /etc/lgsp-gateway/gateway.yaml >&2 || fail "the audit chain does not verify"
[ "$(booted stat -c %U /var/lib/lgsp-gateway/gateway.sqlite)" = lgsp-gateway ] || fail "the store is not owned by lgsp-gateway"

step "apt remove keeps configuration and store; apt purge deletes them and the user"
DEBIAN_FRONTEND=noninteractive booted apt-get remove -y -qq lgsp-gateway >/dev/null
[ ! -e "$root/usr/bin/lgsp-gateway" ] || fail "remove left the binary"
[ -f "$root/etc/lgsp-gateway/gateway.yaml" ] && [ -f "$root/var/lib/lgsp-gateway/gateway.sqlite" ] || fail "remove deleted configuration or store"
DEBIAN_FRONTEND=noninteractive booted apt-get purge -y -qq lgsp-gateway >/dev/null
[ ! -e "$root/etc/lgsp-gateway" ] && [ ! -e "$root/var/lib/lgsp-gateway" ] || fail "purge left configuration or store"
! booted getent passwd lgsp-gateway >/dev/null || fail "purge left the user"

echo "test-package.sh: lgsp-gateway $version installs, runs under systemd, reloads, stops, removes and purges on a clean Debian 12" >&2
