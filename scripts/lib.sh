# Shared helpers for the scripts in this folder (sourced, not run).

# Run as root, or through sudo when we are not root.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Install the Debian packages named, if any of them is missing.
need_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# The packages Outpost needs to build (libpq for diesel, a C compiler for -sys crates) and run.
need_build_and_service_packages() {
  # libpcsclite-dev: the NFC station agent (jobs/station) links PC/SC.
  need_packages libpq-dev libpcsclite-dev gcc pkg-config postgresql redis-server
}
