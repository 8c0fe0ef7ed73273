# The system part of an installation, shared by deploy/install.sh and the Debian package's
# postinst (which embeds this file): the service's user, its directories and ownership, and
# systemd's view of the unit. Safe to run any number of times. POSIX sh, as dpkg runs it.

if ! getent group lgsp-gateway >/dev/null; then groupadd --system lgsp-gateway; fi
if ! getent passwd lgsp-gateway >/dev/null; then
  useradd --system --gid lgsp-gateway --home-dir /var/lib/lgsp-gateway --no-create-home \
    --shell /usr/sbin/nologin --comment "LGSP indicator gateway" lgsp-gateway
fi
install -d -m 0700 -o lgsp-gateway -g lgsp-gateway /var/lib/lgsp-gateway
install -d -m 0755 /etc/lgsp-gateway /etc/lgsp-gateway/adapters.d
# The service's user owns its secrets: the key check refuses files other users can read.
install -d -m 0700 -o lgsp-gateway -g lgsp-gateway /etc/lgsp-gateway/credentials
chown -R lgsp-gateway:lgsp-gateway /etc/lgsp-gateway/credentials

if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  # An upgrade replaces the binary under a running service: restart it onto the new one.
  if systemctl is-active --quiet lgsp-gateway; then
    systemctl restart lgsp-gateway
    echo "restarted lgsp-gateway onto the new version" >&2
  fi
fi
