#!/usr/bin/env bash
# Installs the browser the HTML report tests render report.html in (Debian's chromium), when it
# is missing. Idempotent: does nothing when /usr/bin/chromium (or $STANDPOINT_CHROMIUM) is there.
# Without root or apt-get it says what to do; STANDPOINT_SKIP_BROWSER=1 makes the tests skip the
# browser checks instead (they still check the HTML as text).
set -euo pipefail
browser="${STANDPOINT_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$browser" ] || [ "${STANDPOINT_SKIP_BROWSER:-0}" = 1 ]; then
  exit 0
fi
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "installing chromium for the HTML report tests (apt-get install -y chromium)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
  exit 0
fi
echo "install-test-browser: $browser is missing; install Chromium (Debian: apt-get install -y chromium)," >&2
echo "point STANDPOINT_CHROMIUM at it, or set STANDPOINT_SKIP_BROWSER=1 to skip the browser checks" >&2
exit 2
