#!/bin/sh
# `make tsan`'s second half: batch mode's threads (cli/batch.c: the decode-ahead
# producer, the bounded queue, several workers, --max-failures stopping them) in a
# vtc built with ThreadSanitizer. A race makes TSan exit 66 (TSAN_OPTIONS from the
# Makefile); any other status is the batch's own (1: the bad inputs failed).
#   sh tools/tsan_batch.sh build/tsan/vtc
set -u
VTC=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/tsan_batch.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
head -c 3000 /dev/urandom >"$T/garbage.mp4"
printf '%s\n' "$PWD/samples/scene.png" "$PWD/samples/astronaut.jpg" "$PWD/samples/vtest.mp4" garbage.mp4 \
  missing.png >"$T/list.txt"
printf '{"path": "%s", "id": "again", "keep": 16}\n' "$PWD/samples/scene.png" >>"$T/list.txt"
fail=0
for args in "--out-dir $T/a --workers 3" "--out-dir $T/a --workers 3" "--out-dir $T/b --workers 2 --max-failures 1" \
  "--out-dir $T/c --workers 2 --shard 1/2"; do
  # shellcheck disable=SC2086
  "$VTC" compress --manifest "$T/list.txt" --frames 2 --threads 2 $args >/dev/null 2>"$T/err"
  rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
    echo "tsan_batch: vtc compress --manifest $args: exit $rc"
    head -n 30 "$T/err"
    fail=1
  fi
done
[ "$fail" -eq 0 ] && echo "tsan_batch: batch mode with 2 and 3 workers: no race"
exit "$fail"
