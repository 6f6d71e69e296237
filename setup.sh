#!/usr/bin/env bash
# Installs every Debian package Thoth needs, then builds it.
#   ./setup.sh            set up and build (Release)
#   ./setup.sh --test     set up, build and run every test
#   ./setup.sh --no-build install packages only
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libsndfile1-dev libsoxr-dev libcurl4-openssl-dev libssl-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev libsqlite3-dev libpcre2-dev
  portaudio19-dev libpulse-dev libx11-dev libxtst-dev libxfixes-dev libx11-xcb-dev libsystemd-dev dbus-daemon
  xdg-desktop-portal
  python3 python3-numpy espeak-ng sox libsox-fmt-all
  pulseaudio pulseaudio-utils xvfb xdotool xclip x11-utils
  sway foot wtype wl-clipboard ydotool
  chromium nodejs
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The web UI's browser test drives Debian's chromium through playwright-core, installed
# from the lockfile into tests/browser only (no global install, no browser download).
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  command -v npm >/dev/null || { SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"; $SUDO apt-get install -y -qq npm; }
  (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

mode="${1:-}"
[ "$mode" = "--no-build" ] && exit 0

BUILD_DIR="${BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR"

if [ "$mode" = "--test" ]; then
  export THOTH_SHARED="${THOTH_SHARED:-$(cd .. && pwd)/shared}"
  ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" ${CTEST_ARGS:-}
fi
