#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests when it is missing and we may (root + apt).
# Never `playwright install`: no browser downloads. Says loudly when it cannot.
set -u
if [[ -x /usr/bin/chromium ]]; then exit 0; fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "WARNING: could not install chromium; the browser tests will be SKIPPED." >&2
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "WARNING: could not install chromium; the browser tests will be SKIPPED." >&2
else
  echo "WARNING: /usr/bin/chromium is missing and this user cannot install it" \
       "(run: sudo apt-get install chromium). The browser tests will be SKIPPED." >&2
fi
exit 0
