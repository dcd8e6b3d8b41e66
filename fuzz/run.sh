#!/bin/sh
# Runs each fuzz target for SECONDS on a working corpus seeded from the test
# fixtures. Exits non-zero if any target finds a crash (the input is saved as
# build/fuzz/crash-*; turn it into a hostile-input test).
# usage: sh fuzz/run.sh SECONDS build/fuzz/fuzz_x ...
set -u
secs=$1; shift
root=$(pwd)   # paths given to the fuzzer are absolute: fuzz_cli runs in a scratch directory
status=0
for bin in "$@"; do
  name=$(basename "$bin")
  case "$name" in
    fuzz_image)       seeds="tests/fixtures/images" ;;
    fuzz_gguf)        seeds="tests/fixtures/files tests/fixtures/models" ;;
    fuzz_safetensors) seeds="tests/fixtures/files tests/fixtures/expected" ;;
    fuzz_tokenfile)   seeds="tests/fixtures/expected" ;;
    fuzz_video)       seeds="tests/fixtures/video" ;;
    fuzz_cli)         seeds="fuzz/seeds/cli" ;;
    *)                seeds="" ;;
  esac
  extra=""
  [ "$name" = fuzz_cli ] && extra="-dict=$root/fuzz/cli.dict -close_fd_mask=3 -max_len=4096"
  corpus="$root/build/fuzz/corpus-$name"
  mkdir -p "$corpus"
  echo "== $name: ${secs}s"
  if ! "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=262144 -timeout=20 \
       -artifact_prefix="$root/build/fuzz/crash-$name-" -print_final_stats=1 $extra "$corpus" $(for d in $seeds; do echo "$root/$d"; done) 2>build/fuzz/$name.log; then
    echo "FAIL: $name found a problem (build/fuzz/$name.log):"; tail -30 build/fuzz/$name.log; status=1
  else
    grep -E "stat::number_of_executed_units|Done" build/fuzz/$name.log | tail -2
  fi
done
exit $status
