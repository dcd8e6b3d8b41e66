#!/bin/sh
# Runs each test binary given, then every tests/cli_*.sh contract script.
# Prints one summary line "N passed, N failed" and exits non-zero on any failure.
# The suite's expected values are float32 results: contexts left at precision
# auto run f32 (VTC_PRECISION, docs/library.md#precision) even on a CPU with
# bf16 units; the bf16 tests ask for bf16 explicitly.
VTC_PRECISION=f32
export VTC_PRECISION
passed=0; failed=0; failed_names=""
for t in "$@"; do
  if "$t"; then passed=$((passed+1)); else failed=$((failed+1)); failed_names="$failed_names $t"; fi
done
for s in tests/cli_*.sh; do
  [ -f "$s" ] || continue
  if sh "$s"; then passed=$((passed+1)); else failed=$((failed+1)); failed_names="$failed_names $s"; fi
done
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
