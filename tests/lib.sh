# shellcheck shell=sh
# The harness every tests/cli_*.sh sources (POSIX sh; run from the repository root):
#   . tests/lib.sh
# Sourcing it sets VTC (default $BUILD/vtc, BUILD default build), TEST_NAME (the
# script's name without .sh), a fresh temporary directory $T removed on exit, the
# counters n (checks) and fail, and defines:
#   ok / bad MSG             count a passed / failed check (bad prints "FAIL: MSG",
#                            with "  [$CASE]" appended while CASE is set)
#   finish                   prints "TEST_NAME: P passed, F failed"; exits 1 on a failure
#   note MSG / skip MSG      prints "TEST_NAME: MSG" / "TEST_NAME: skipped: MSG", exits 0
#   need_cmd CMD HINT        skips the script when CMD is not installed
#   need_vtc                 exits 1 when $VTC is not an executable
#   capture CMD...           runs CMD with $TO before it (empty by default, e.g.
#                            "timeout 60"), stdin /dev/null, stdout in $T/out, stderr
#                            in $T/err; its exit status in $rc
#   show [N [FILE]]          the first N (5) lines of FILE ($T/err), indented "  | "
#   one_error_line           0 if $T/err is exactly one "vtc: error: " line
#   check_rc CODE CMD...     after capture: $rc is CODE and, for CODE != 0, $T/err is one
#                            error line; else bad (not counted when it holds)
#   expect CODE CMD...       capture + check_rc, counted; 0 if it held
#   check_json FILE EXPR MSG [DUMP]  counted: the jq expression EXPR is true on FILE;
#                            a failure names jq -c DUMP of FILE (default $JSON_DUMP)
#                            when DUMP is set
#   not_left WHAT NAME...    bad for each $T/NAME.safetensors that exists (not counted
#                            when none does)
#   no_tmp_left              bad when a .tmp file is left in $T (not counted otherwise)
# The library's own variables start with _ so that a script's survive its calls.

BUILD=${BUILD:-build}
VTC=${VTC:-$BUILD/vtc}
TEST_NAME=${0##*/}; TEST_NAME=${TEST_NAME%.sh}
TO=""
CASE=""
JSON_DUMP=""
fail=0; n=0

T=$(mktemp -d "${TMPDIR:-/tmp}/$TEST_NAME.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ok()  { n=$((n+1)); }
bad() { n=$((n+1)); fail=$((fail+1)); echo "FAIL: $*${CASE:+  [$CASE]}"; }
finish() {
  echo "$TEST_NAME: $((n-fail)) passed, $fail failed"
  [ "$fail" -eq 0 ] || exit 1
  exit 0
}
note() { echo "$TEST_NAME: $*"; }
skip() { note "skipped: $*"; exit 0; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed ($2)"; }
need_vtc() {
  [ -x "$VTC" ] && return 0
  echo "FAIL: $VTC is not an executable (build it, or set VTC)"
  exit 1
}

capture() { $TO "$@" </dev/null >"$T/out" 2>"$T/err"; rc=$?; }
show() { sed 's/^/  | /' "${2:-$T/err}" | head -n "${1:-5}"; }
one_error_line() { [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q '^vtc: error: ' "$T/err"; }
check_rc() {
  _want=$1; shift
  if [ "$rc" != "$_want" ]; then bad "exit $rc (want $_want): $*"; show; return 1; fi
  if [ "$_want" != 0 ] && ! one_error_line; then bad "want one 'vtc: error:' line: $*"; show; return 1; fi
  return 0
}
expect() {
  _want=$1; shift
  capture "$@"
  check_rc "$_want" "$@" || return 1
  ok
}
check_json() {
  if jq -e "$2" "$1" >/dev/null 2>&1; then ok; return 0; fi
  _dump=${4:-$JSON_DUMP}
  if [ -n "$_dump" ]; then bad "$3 ($2): $(jq -c "$_dump" "$1" 2>/dev/null | head -c 600)"; else bad "$3 ($2)"; fi
  return 0
}
not_left() {
  _what=$1; shift
  for _f; do [ -e "$T/$_f.safetensors" ] && bad "$_what left $_f.safetensors"; done
  return 0
}
no_tmp_left() {
  ls "$T" | grep -q '\.tmp' && bad "a temporary file was left behind"
  return 0
}
