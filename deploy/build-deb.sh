#!/usr/bin/env bash
# Builds the Debian package: the layout of deploy/install.sh, a self-contained binary
# (--static-swift-stdlib, so the server needs no Swift toolchain), and maintainer scripts that
# create the service's user. Prints the path of the .deb on its last line.
#
#   deploy/build-deb.sh [--binary PATH] [--out DIR]
set -euo pipefail

repository="$(cd "$(dirname "$0")/.." && pwd)"
out="$repository/.build/deb"
binary_argument=()
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary_argument=(--binary "${2:?--binary needs a path}"); shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    *) echo "build-deb.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

source "$repository/deploy/lib/ensure-tools.sh"
staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
root="$staging/root"
"$repository/deploy/install.sh" --destdir "$root" --no-system "${binary_argument[@]}"

# Debug symbols are half the binary's size; a server needs none of them.
strip --strip-unneeded "$root/usr/bin/lgsp-gateway"
version="$("$root/usr/bin/lgsp-gateway" --version)"
architecture="$(dpkg --print-architecture)"

# Runtime dependencies: the Debian packages that own the shared libraries the binary loads; passwd
# for the user, procps for the unit's ExecReload=/bin/kill (a minimal Debian lacks both).
depends="$(ldd "$root/usr/bin/lgsp-gateway" | awk '/=> \// { print $3 }' | while read -r library; do
  dpkg -S "$(readlink -f "$library")" 2>/dev/null || dpkg -S "$library" 2>/dev/null || true
done | cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g')"
[ -n "$depends" ] || { echo "build-deb.sh: could not work out the binary's library packages" >&2; exit 1; }

install -d "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<CONTROL
Package: lgsp-gateway
Version: $version
Architecture: $architecture
Maintainer: LGSP indicator gateway developers <lgsp-gateway@localhost>
Section: net
Priority: optional
Depends: $depends, passwd, procps
Installed-Size: $(du -sk "$root" | cut -f1)
Description: LGSP indicator gateway for provincial digital-transformation reporting
 Pulls the indicators of a province's digital-transformation resolution from its systems
 through declarative adapters, validates them against the shared contracts (JSON Schema and
 indicator catalogue), signs them (JWS) and delivers them durably to the central reporting
 endpoint. Runs as the systemd service lgsp-gateway.
CONTROL
echo "/etc/lgsp-gateway/gateway.yaml" > "$root/DEBIAN/conffiles"

{ echo '#!/bin/sh'; echo 'set -e'; echo 'if [ "$1" = configure ]; then'; cat "$repository/deploy/lib/system-setup.sh"; echo 'fi'; } > "$root/DEBIAN/postinst"
cat > "$root/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
  systemctl disable --now lgsp-gateway >/dev/null 2>&1 || true
fi
PRERM
cat > "$root/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
# remove keeps configuration, credentials and the store (undelivered reports, audit chain); purge deletes them.
if [ "$1" = purge ]; then
  rm -rf /etc/lgsp-gateway /var/lib/lgsp-gateway
  if getent passwd lgsp-gateway >/dev/null; then userdel lgsp-gateway; fi
  if getent group lgsp-gateway >/dev/null; then groupdel lgsp-gateway; fi
fi
POSTRM
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"

mkdir -p "$out"
package="$out/lgsp-gateway_${version}_${architecture}.deb"
dpkg-deb --root-owner-group --build "$root" "$package" >&2
echo "$package"
