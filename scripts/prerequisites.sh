#!/usr/bin/env bash
# Installs what the portal needs and is missing, or says clearly what to install.
# Usage: scripts/prerequisites.sh [--tests]   (--tests: Chromium and the lab's proxies too, for the test suite)
set -euo pipefail

want_browser=0
case "${1:-}" in --tests|--browser) want_browser=1 ;; esac

missing=()
have_postgres() { command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
have_postgres || missing+=(postgresql)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# The portal's own TURN server (calls and video: UDP, loss and jitter through TURN), when none is configured.
[ -x /usr/bin/turnserver ] || missing+=(coturn)
if [ "$want_browser" = 1 ]; then
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/sbin/nginx ] || missing+=(nginx)
  [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
  # The lab's other real parts (tests/Portal.E2E.Tests/Lab, configurations in docker/lab/).
  [ -x /usr/sbin/varnishd ] || missing+=(varnish)
  [ -x /usr/sbin/squid ] || missing+=(squid-openssl)
  [ -x /usr/bin/mitmdump ] || missing+=(mitmproxy)
  [ -x /usr/bin/stunnel4 ] || missing+=(stunnel4)
  # The referee of the TLS probe (scenario 17: the portal must agree with it).
  [ -x /usr/bin/testssl ] || missing+=(testssl.sh)
  command -v tc >/dev/null 2>&1 || missing+=(iproute2)
  # Packet loss and blocked UDP on the lab's TURN path (this kernel has no netem).
  command -v nft >/dev/null 2>&1 || missing+=(nftables)
  # The customer's other browser engines: Firefox ESR, and WebKitGTK (MiniBrowser, its WebDriver, and an X server).
  [ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr)
  [ -x /usr/bin/WebKitWebDriver ] || missing+=(webkit2gtk-driver)
  ls /usr/lib/*/webkit2gtk-4.1/MiniBrowser >/dev/null 2>&1 || missing+=(libwebkit2gtk-4.1-0)
  [ -x /usr/bin/Xvfb ] || missing+=(xvfb)
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET SDK (10.0) is needed and 'dotnet' is not on PATH. Install it first: https://dot.net" >&2
  exit 1
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "Installing missing Debian packages: ${missing[*]}"
if [ "$(id -u)" = 0 ]; then
  apt=(apt-get)
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  apt=(sudo apt-get)
else
  echo "error: these packages are missing and this user cannot install them: ${missing[*]}" >&2
  echo "       Install them with: sudo apt-get install -y ${missing[*]}" >&2
  echo "       (or point the portal at an existing server with ConnectionStrings__Portal instead of installing postgresql)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: no apt-get on this machine; install these yourself: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${apt[@]}" update -qq
"${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "Installed: ${missing[*]}"
