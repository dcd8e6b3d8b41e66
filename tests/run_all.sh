#!/bin/sh
# Runs each test binary given, then every tests/cli_*.sh contract script.
# Prints one summary line "N passed, N failed" and exits non-zero on any failure.
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
