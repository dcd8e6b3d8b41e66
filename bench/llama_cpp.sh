#!/bin/sh
# bench/llama_cpp.sh: llama.cpp's prefill time for [BOS, K visual rows, 32 text
# tokens] with K = 576 (unpruned LLaVA-1.5 image), 192, 128 and 64 kept, on a
# Llama model of a real size with random weights, next to the prefill FLOPs
# ratio vtc predicts (vtc_lm_flops, what `vtc flops` reports), in one run.
#
#   sh bench/llama_cpp.sh [--shape tinyllama-1.1b|qwen2-0.5b] [--type f16|f32] [--threads N] [--reps R]
#                         [--exact] [--gguf FILE]
#
# The model: bench/decode --write-model writes the random llama2.c checkpoint
# (TinyLlama-1.1B's shape by default: 22 layers, d 2048, 32/4 heads, vocab
# 32000) into a temporary folder, `vtc export-lm` converts it (F16 by default),
# examples/llama_cpp_host --time-prefill times it in llama.cpp (the best of R
# rounds over every K, after a warm-up round) with llama.cpp's own settings (an
# F16 KV cache, flash attention where it can; --exact: the F32 cache without
# flash attention the tests use); the folder is removed at the end. --gguf FILE
# times that model instead of writing one. llama.cpp: $VTC_LLAMA_CPP_DIR, or
# tools/fetch_llama_cpp.sh's build. Needs `make bench` (or `make all
# build/bench/decode`) and about 7 GB of /tmp for the 1.1B shape. Timings need
# cores no other work is using (--threads 1 on a busy 2-core machine).
set -eu
BUILD=${BUILD:-build}
shape=tinyllama-1.1b type=f16 threads=$(nproc) reps=3 defaults=--defaults gguf=""
while [ $# -gt 0 ]; do
  case $1 in
    --exact) defaults=""; shift ;;
    --gguf) gguf=$2; shift 2 ;;
    --shape) shape=$2; shift 2 ;;
    --type) type=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    *) echo "usage: sh bench/llama_cpp.sh [--shape NAME] [--type f16|f32] [--threads N] [--reps R] [--exact] [--gguf F]" >&2
       exit 2 ;;
  esac
done
for b in "$BUILD/vtc" "$BUILD/bench/decode" "$BUILD/examples/llama_cpp_host"; do
  [ -x "$b" ] || { echo "bench/llama_cpp.sh: $b is not built (make bench)" >&2; exit 1; }
done
lib=${VTC_LLAMA_CPP_DIR:-$(sh tools/fetch_llama_cpp.sh build/llama-cpp)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vtc-bench-llama.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
if [ -z "$gguf" ]; then
  "$BUILD/bench/decode" --write-model "$tmp" --shape "$shape"
  "$BUILD/vtc" export-lm "$tmp/model.bin" -o "$tmp/model.gguf" --type "$type"
  rm "$tmp/model.bin"
  gguf=$tmp/model.gguf
fi
echo "llama.cpp: $lib; $(grep -c ^processor /proc/cpuinfo) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2086 # $defaults: empty or one option
"$BUILD/examples/llama_cpp_host" "$lib" "$gguf" --time-prefill 576,192,128,64 --text 32 \
  --threads "$threads" --reps "$reps" $defaults
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
