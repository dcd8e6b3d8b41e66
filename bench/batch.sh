#!/bin/sh
# bench/batch.sh: batch-mode throughput (docs/batch.md#throughput) next to one
# `vtc compress` process per input, in the same run, on generated inputs:
#   - N small images (64x48 PNG; every image is resized to the model's input, so
#     the encode costs what a photo's does): N separate `vtc compress` calls, then
#     one `vtc compress --manifest` process (its default workers, then --workers 1 with
#     every thread), then 2 `--shard` processes of 1 thread
#   - 20 clips (2 s, 64x48) at 8 frames each (160 frames): the same without the separate calls
#   - with --vitl, the same at CLIP ViT-L/14-336 size with random weights
#     (bench/vitl_model.py writes the model, F16, 0.6 GB), on N/25 images and 2 clips
#     at 4 frames
#
#   sh bench/batch.sh [--n N] [--vitl] [--keep]     (N: images, default 200)
#
# Needs ffmpeg (and python3-numpy for --vitl). Prints images/s and frames/s; the
# speed-up of batch mode over the separate calls. Outputs are checked byte-identical
# across the modes. Run on an otherwise idle machine (see `uptime`).
set -eu
cd "$(dirname "$0")/.."
VTC=${VTC:-build/vtc}
N=200
VITL=0
KEEP=0
while [ $# -gt 0 ]; do
  case $1 in
    --n) N=$2; shift ;;
    --vitl) VITL=1 ;;
    --keep) KEEP=1 ;;
    *) echo "usage: sh bench/batch.sh [--n N] [--vitl] [--keep]" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$VTC" ] || { echo "bench/batch.sh: build $VTC first (make)" >&2; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/vtc-bench-batch.XXXXXX")
[ "$KEEP" -eq 1 ] && echo "inputs and outputs kept in $W" || trap 'rm -rf "$W"' EXIT

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.2f", n / (b - a) }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
row() { printf '%-52s %8s s %10s %s\n' "$1" "$2" "$3" "$4"; }
same() { # every token file of $1 equals $2's
  (cd "$1" && find . -name '*.tokens.safetensors') | while IFS= read -r f; do
    cmp -s "$1/$f" "$2/$f" || { echo "bench/batch.sh: $2/$f differs from $1/$f" >&2; exit 1; }
  done
}

mkdir -p "$W/img" "$W/clips"
ffmpeg -loglevel error -nostdin -f lavfi -i testsrc2=size=64x48:rate=25 -frames:v "$N" "$W/img/i%04d.png"
(cd "$W/img" && ls) >"$W/img/list.txt"
for i in $(seq 1 20); do
  ffmpeg -loglevel error -nostdin -f lavfi -i "testsrc=size=64x48:rate=10" -t 2 -pix_fmt yuv420p "$W/clips/c$i.mp4"
done
(cd "$W/clips" && ls ./*.mp4) >"$W/clips/list.txt"
CPUS=$(nproc)
echo "bench/batch.sh: $(uname -m), $CPUS CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load $(cut -d' ' -f1-3 /proc/loadavg)"

# the workers a batch runs with (the default: as many as threads, up to 4)
workers() {
  if [ "$1" = 1 ]; then echo "--workers 1 (x $CPUS threads)"
  else _w=$((CPUS < 4 ? CPUS : 4)); echo "default ($_w workers x $((CPUS / _w)))"; fi
}

# $1 label, $2 model option ("" = the embedded model), $3 image count, $4 clip count, $5 frames a clip
run_set() {
  label=$1 model=$2 n_img=$3 n_clip=$4 fpc=$5
  head -n "$n_img" "$W/img/list.txt" >"$W/img/l.txt"
  head -n "$n_clip" "$W/clips/list.txt" >"$W/clips/l.txt"
  o=$W/out-$label
  rm -rf "$o"
  mkdir -p "$o/sep"
  echo
  echo "== $label: $n_img images, $n_clip clips x $fpc frames; $CPUS CPUs"
  t0=$(now)
  while IFS= read -r f; do
    "$VTC" compress $model "$W/img/$f" -o "$o/sep/$f.tokens.safetensors" >/dev/null
  done <"$W/img/l.txt"
  t1=$(now)
  sep=$(rate "$n_img" "$t0" "$t1")
  row "images: $n_img separate vtc compress calls" "$(secs "$t0" "$t1")" "$sep" "images/s"
  for w in default 1; do
    t0=$(now)
    if [ "$w" = default ]; then "$VTC" compress $model --manifest "$W/img/l.txt" --out-dir "$o/one-$w" >/dev/null
    else "$VTC" compress $model --manifest "$W/img/l.txt" --out-dir "$o/one-$w" --workers "$w" >/dev/null; fi
    t1=$(now)
    one=$(rate "$n_img" "$t0" "$t1")
    row "images: one --manifest process, $(workers "$w")" "$(secs "$t0" "$t1")" "$one" \
      "images/s ($(awk -v a="$one" -v b="$sep" 'BEGIN { printf "%.2fx", a / b }') the separate calls)"
    same "$o/sep" "$o/one-$w"
  done
  t0=$(now)
  "$VTC" compress $model --manifest "$W/img/l.txt" --out-dir "$o/sh" --shard 0/2 --threads 1 >/dev/null &
  "$VTC" compress $model --manifest "$W/img/l.txt" --out-dir "$o/sh" --shard 1/2 --threads 1 >/dev/null
  wait
  t1=$(now)
  row "images: 2 --shard processes, 1 thread each" "$(secs "$t0" "$t1")" "$(rate "$n_img" "$t0" "$t1")" "images/s"
  same "$o/sep" "$o/sh"
  frames=$((n_clip * fpc))
  for w in default 1; do
    t0=$(now)
    if [ "$w" = default ]; then "$VTC" compress $model --manifest "$W/clips/l.txt" --out-dir "$o/vone-$w" --frames "$fpc" >/dev/null
    else "$VTC" compress $model --manifest "$W/clips/l.txt" --out-dir "$o/vone-$w" --frames "$fpc" --workers "$w" >/dev/null; fi
    t1=$(now)
    row "clips: one --manifest process, $(workers "$w")" "$(secs "$t0" "$t1")" "$(rate "$frames" "$t0" "$t1")" "frames/s"
  done
  same "$o/vone-default" "$o/vone-1"
  t0=$(now)
  "$VTC" compress $model --manifest "$W/clips/l.txt" --out-dir "$o/vsh" --frames "$fpc" --shard 0/2 --threads 1 >/dev/null &
  "$VTC" compress $model --manifest "$W/clips/l.txt" --out-dir "$o/vsh" --frames "$fpc" --shard 1/2 --threads 1 >/dev/null
  wait
  t1=$(now)
  row "clips: 2 --shard processes, 1 thread each" "$(secs "$t0" "$t1")" "$(rate "$frames" "$t0" "$t1")" "frames/s"
  same "$o/vone-default" "$o/vsh"
}

run_set default "" "$N" 20 8
if [ "$VITL" -eq 1 ]; then
  /usr/bin/python3 bench/vitl_model.py "$W/vitl"
  n=$((N / 25))
  [ "$n" -ge 2 ] || n=2
  run_set vit-l "--model $W/vitl" "$n" 2 4
fi
