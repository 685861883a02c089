#!/usr/bin/env bash
# Short fuzz run of every target in tests/fuzz (cargo-fuzz, libFuzzer, AddressSanitizer).
#
#   bash tests/fuzz-smoke.sh [SECONDS_PER_TARGET]      (default 20)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). Works on the stable toolchain:
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address, sancov), which stable rustc accepts
# with RUSTC_BOOTSTRAP=1; this script sets it. Honours CARGO_TARGET_DIR.
#
# Each target starts from a seed corpus built here, in the target directory, never committed:
# - wbxml_decode: the golden WBXML files (tests/golden/**/*.wbxml), libwbxml's encoding of its
#   ActiveSync vectors (../shared/fixtures/wbxml-libwbxml, via xml2wbxml when installed), and a
#   few hand-made documents;
# - request_line: plain and base64 request lines with header values.
# Any crash, panic, leak or timeout fails the script; libFuzzer leaves the input that did it in
# tests/fuzz/artifacts/<target>/ (git-ignored) and prints how to reproduce it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
case "$seconds" in '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;; esac

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz-smoke: cargo-fuzz is missing; install it with: cargo install cargo-fuzz --locked" >&2
  exit 1
fi
export RUSTC_BOOTSTRAP=1
fuzz_dir=tests/fuzz
target_dir="${CARGO_TARGET_DIR:-target}"
corpora="$target_dir/fuzz-corpus"

# --- seeds ---------------------------------------------------------------------------------
seed_wbxml() {
  local dir="$1" n=0 f
  while IFS= read -r -d '' f; do
    cp "$f" "$dir/golden-$n.wbxml"; n=$((n + 1))
  done < <(find tests/golden -name '*.wbxml' -print0 2>/dev/null)
  if command -v xml2wbxml >/dev/null; then
    for f in ../shared/fixtures/wbxml-libwbxml/*.xml; do
      [ -e "$f" ] || continue
      xml2wbxml -a -n -v 1.3 -o "$dir/libwbxml-$(basename "$f" .xml).wbxml" "$f" >/dev/null 2>&1 ||
        echo "fuzz-smoke: xml2wbxml failed on $f (seed skipped)" >&2
    done
  else
    echo "fuzz-smoke: xml2wbxml not installed; seeding wbxml_decode without libwbxml vectors" >&2
  fi
  # Header 03 01 6A 00, then: an empty Sync; Sync with a SyncKey string; a page switch to
  # Contacts with an opaque Picture; a FolderSync request.
  printf '\x03\x01\x6a\x00\x05' >"$dir/hand-empty.wbxml"
  printf '\x03\x01\x6a\x00\x45\x4b\x03\x31\x00\x01\x01' >"$dir/hand-synckey.wbxml"
  printf '\x03\x01\x6a\x00\x45\x00\x01\x7c\xc3\x03\x01\x02\x03\x01\x01' >"$dir/hand-opaque.wbxml"
  printf '\x03\x01\x6a\x00\x00\x07\x56\x52\x03\x30\x00\x01\x01' >"$dir/hand-foldersync.wbxml"
  echo "$n golden file(s) and $(find "$dir" -name 'libwbxml-*' | wc -l) libwbxml vector(s)"
}

# Base64 request line from raw bytes (standard alphabet, + / = percent-encoded).
b64q() { printf "$1" | base64 -w0 | sed -e 's/+/%2B/g' -e 's#/#%2F#g' -e 's/=/%3D/g'; }

seed_request_line() {
  local dir="$1"
  # query \n MS-ASProtocolVersion \n X-MS-PolicyKey \n MS-ASAcceptMultiPart
  printf 'Cmd=Sync&User=jdoe&DeviceId=ABCDEF0123&DeviceType=iPhone\n14.1\n1234567890\n' \
    >"$dir/plain-sync"
  printf 'Cmd=Provision&User=CONTOSO%%5Cjdoe&DeviceId=androidc1234&DeviceType=Android\n16.1\n\n' \
    >"$dir/plain-provision"
  printf 'Cmd=ItemOperations&User=jdoe@example.com&DeviceId=X1&DeviceType=SP\n14.0\n\nT' \
    >"$dir/plain-itemops"
  printf 'Cmd=SmartReply&User=u&DeviceId=D&DeviceType=T&ItemId=5:12&CollectionId=5&SaveInSent=T\n12.1\n' \
    >"$dir/plain-smartreply"
  printf 'Cmd=GetAttachment&User=u&DeviceId=D&DeviceType=T&AttachmentName=5%%3A1%%3A0\n12.1\n' \
    >"$dir/plain-getattachment"
  # version 141, Sync (0), locale 0x0409, DeviceId "ABCD", no policy key, DeviceType "iPhone".
  b64q '\x8d\x00\x09\x04\x04ABCD\x00\x06iPhone' >"$dir/b64-sync"
  # version 161, Ping (18), policy key 1, DeviceType "SP", User tag (8) "jdoe".
  b64q '\xa1\x12\x09\x04\x02D1\x04\x01\x00\x00\x00\x02SP\x08\x04jdoe' >"$dir/b64-ping"
  # version 140, SendMail (1), options (7) SaveInSent.
  b64q '\x8c\x01\x00\x00\x02D1\x00\x02SP\x07\x01\x01' >"$dir/b64-sendmail"
}

# --- run -----------------------------------------------------------------------------------
targets=(wbxml_decode request_line)
echo "fuzz-smoke: building ${targets[*]}"
cargo fuzz build --fuzz-dir "$fuzz_dir"

status=0
for t in "${targets[@]}"; do
  corpus="$corpora/$t"
  rm -rf "$corpus"
  mkdir -p "$corpus"
  case "$t" in
    wbxml_decode) seed_wbxml "$corpus" ;;
    request_line) seed_request_line "$corpus" ;;
  esac
  echo "fuzz-smoke: $t for ${seconds}s from $(find "$corpus" -type f | wc -l) seed(s)"
  if ! cargo fuzz run --fuzz-dir "$fuzz_dir" "$t" "$corpus" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
    echo "fuzz-smoke: $t FAILED; the input is in $fuzz_dir/artifacts/$t/" >&2
    status=1
  fi
done
exit "$status"
