#!/usr/bin/env bash
# The test command (README): installs the third-party cross-check tools the tests use when they
# are missing, then runs the whole suite. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wbxml2xml >/dev/null; then
  echo "tests/run.sh: installing libwbxml2-utils (wbxml2xml, xml2wbxml) for the cross-checks" >&2
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends libwbxml2-utils >/dev/null
fi
exec cargo test --locked "$@"
