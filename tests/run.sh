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
# The XSD check (tests/xsd.rs) runs tests/tools/xsd_validate.py in a venv with the pinned
# packages of tests/tools/requirements.txt, made again when that file changes.
py=target/py
if ! { command -v python3 >/dev/null && python3 -c 'import ensurepip, venv' 2>/dev/null; }; then
  echo "tests/run.sh: installing python3-venv for the XSD check" >&2
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
fi
if ! [ -x "$py/bin/python" ] || ! cmp -s tests/tools/requirements.txt "$py/requirements.txt"; then
  echo "tests/run.sh: creating $py with tests/tools/requirements.txt" >&2
  rm -rf "$py"
  python3 -m venv "$py"
  "$py/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/tools/requirements.txt
  cp tests/tools/requirements.txt "$py/requirements.txt"
fi
EASBOX_PYTHON="$(pwd)/$py/bin/python"
export EASBOX_PYTHON
exec cargo test --locked "$@"
