#!/usr/bin/env bash
# Install what Silverguard needs on Debian 12, then the project into .venv.
# Safe to run again: it installs only what is missing.
#   scripts/setup.sh demo   # Mosquitto, InfluxDB, Python packages
#   scripts/setup.sh test   # the above, plus PostgreSQL, Chromium, a CJK font, test tools
set -euo pipefail
profile=${1:-demo}
cd "$(dirname "$0")/.."

apt_packages=(python3 python3-venv python3-dev gcc mosquitto mosquitto-clients influxdb)
if [[ $profile == test ]]; then
  apt_packages+=(postgresql chromium fonts-wqy-microhei docker-compose)
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: run as root or install sudo" >&2; exit 1; }
  sudo="sudo"
fi

missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -q
  # Do not start the packaged services: Silverguard starts its own, on free ports.
  policy_added=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    policy_added=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || { [[ -n $policy_added ]] && $sudo rm -f /usr/sbin/policy-rc.d; exit 1; }
  [[ -n $policy_added ]] && $sudo rm -f /usr/sbin/policy-rc.d
fi

# PostgreSQL's binaries live in a versioned directory; tests look for them there.
if [[ ! -d .venv ]]; then
  python3 -m venv .venv
fi
extras="all"
[[ $profile == test ]] && extras="dev"
stamp=".venv/.silverguard-$extras.stamp"
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
  echo "setup: installing Python packages into .venv ($extras)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[$extras]"
  touch "$stamp"
fi
echo "setup: ready ($profile)"
