# Sourced by deploy/demo.sh and Tests/test.sh: installs what a fresh machine lacks, and only that.
# Safe to run any number of times.

# The Swift toolchain of this machine kind lives in /opt/swift.
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi
command -v swift >/dev/null 2>&1 || { echo "swift is not installed (expected in /opt/swift)" >&2; exit 1; }

# Installs the Debian packages named that are not installed yet.
ensure_apt_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# GRDB links the system SQLite.
ensure_apt_packages libsqlite3-dev
