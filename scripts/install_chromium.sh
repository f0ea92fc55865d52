#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use, when missing and we may (root +
# apt): chromium (browser tests), poppler-utils (pdfsig: the independent signature validator
# and pdftotext in the e-office tests), wrk (bench/lookup.py's load generator).
# Never `playwright install`: no browser downloads. Says loudly what it cannot install.
set -u
declare -A binary_of=([chromium]=/usr/bin/chromium [poppler-utils]=/usr/bin/pdfsig [wrk]=/usr/bin/wrk)
missing=()
for package in chromium poppler-utils wrk; do
  [[ -x ${binary_of[$package]} ]] || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo)
else
  echo "WARNING: ${missing[*]} missing and this user cannot install them" \
       "(run: sudo apt-get install ${missing[*]}). Tests that need them will be SKIPPED." >&2
  exit 0
fi
echo "Installing Debian packages: ${missing[*]}..."
("${sudo[@]}" apt-get update -qq \
  && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
  || echo "WARNING: could not install ${missing[*]}; tests that need them will be SKIPPED." >&2
exit 0
