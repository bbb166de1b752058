#!/usr/bin/env bash
# What the test suite needs beyond npm packages, from Debian's packages: promtool (the monitoring rules and
# /metrics checks) and Chromium (the dashboard's browser tests). Installs what is missing when it can
# (root with apt-get); otherwise says what to install, and the tests that need it fail saying so too.
set -euo pipefail
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing for the tests: ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
else
  echo "the tests need Debian's ${need[*]} (apt-get install ${need[*]}); the tests that use them will fail" >&2
fi
