#!/usr/bin/env bash
# Removes the LGSP indicator gateway installed by deploy/install.sh. The configuration
# (/etc/lgsp-gateway), the credentials and the store (/var/lib/lgsp-gateway: undelivered reports,
# dead letters, receipts, the audit chain) are kept unless --purge is given.
#
#   sudo deploy/uninstall.sh            remove the program, keep configuration and data
#   sudo deploy/uninstall.sh --purge    also delete configuration, credentials, store and user
set -euo pipefail

purge=0
case "${1:-}" in
  "") ;;
  --purge) purge=1 ;;
  -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "uninstall.sh: unknown argument $1" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "uninstall.sh: run as root" >&2; exit 1; }

if [ -d /run/systemd/system ]; then
  systemctl disable --now lgsp-gateway 2>/dev/null || true
fi
rm -f /usr/bin/lgsp-gateway /lib/systemd/system/lgsp-gateway.service
rm -rf /usr/share/lgsp-gateway /usr/share/doc/lgsp-gateway
[ -d /run/systemd/system ] && systemctl daemon-reload

if [ "$purge" = 1 ]; then
  rm -rf /etc/lgsp-gateway /var/lib/lgsp-gateway /var/lib/private/lgsp-gateway
  if getent passwd lgsp-gateway >/dev/null; then userdel lgsp-gateway; fi
  if getent group lgsp-gateway >/dev/null; then groupdel lgsp-gateway; fi
  echo "removed lgsp-gateway with its configuration, credentials and store" >&2
else
  echo "removed lgsp-gateway; kept /etc/lgsp-gateway and /var/lib/lgsp-gateway (--purge deletes them)" >&2
fi
