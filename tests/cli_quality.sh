#!/bin/sh
# Quality regression on the trained VLM (samples/vlm): a slice of the held-out
# benchmark `make quality` runs in full — the first 60 held-out scenes of
# tools/quality_data.py (seed 10^9 on), four methods at 64 tokens — through
# `vtc eval`. Checks:
#  1. vtc's unpruned answers equal the independent PyTorch float64 reference
#     (tools/quality_ref.py on the same scenes and exported weights), except
#     where the reference's top-2 logit margin is under 1e-3;
#  2. accuracies stay above thresholds derived from the full run (README,
#     "Quality"): the full run's figure minus 3 standard errors of a
#     60-scene slice;
#  3. the benchmark still discriminates: random at 64 tokens loses to none;
#  4. the attention- and diversity-based selections land on the items:
#     tools/quality_items.py on the first 20 scenes, cls, divprune and todre
#     at 64;
#  5. cls at 64 with --positions original: the answers equal
#     tools/quality_positions.py's (the same kept tokens at their unpruned
#     positions in PyTorch float64), through vtc eval and vtc compress;
#     divprune at 64 there stays above its threshold;
#  6. the first 20 held-out clips (8 frames, each pooled 3 x 3 to 64 tokens):
#     unpruned answers equal the reference's (which decodes the videos with
#     the ffmpeg tool and pools in PyTorch), and none and dycoke at 192 stay
#     above their thresholds.
# Needs /usr/bin/python3 with numpy, Pillow, scikit-image's photos and Debian's
# dataset-fashion-mnist (tools/setup.sh installs them).
# Run from the repository root: sh tests/cli_quality.sh  (VTC=path/to/vtc)
. tests/lib.sh
M=samples/vlm

# thresholds (percent) from the full run; see README "Quality" for the command
. tests/fixtures/quality/thresholds.sh

if ! /usr/bin/python3 tools/quality_data.py --out "$T/q" --n 60 --clips 20 >"$T/gen.log" 2>&1; then
  bad "tools/quality_data.py failed (run tools/setup.sh):"; sed 's/^/  | /' "$T/gen.log" | tail -5
  finish
fi
# the generator is deterministic: the slice is the one the reference answered
want=$(head -1 tests/fixtures/quality/ref_none.tsv | sed 's/.*questions \([0-9a-f]*\)$/\1/')
got=$(grep -v '^#' "$T/q/questions.tsv" | sha256sum | cut -c1-16)
[ "$want" = "$got" ] && ok || bad "the generated questions differ from the reference's ($got, want $want)"

if ! "$VTC" eval --model $M --decoder $M/lm.bin --tokenizer $M/tokenizer.bin --questions "$T/q/questions.tsv" \
     --methods none,random,cls,divprune --keep 64 --json --no-time --per-question >"$T/e.json" 2>"$T/e.err"; then
  bad "vtc eval failed:"; show 5 "$T/e.err"
  finish
fi

# 1. parity of the unpruned answers with the PyTorch reference
parity() { # eval JSON, reference TSV[, row of the JSON (default 0, none)[, what is compared]]
  jq -r --argjson r "${3:-0}" '.rows[$r].predictions[].text | ltrimstr(" ")' "$1" > "$T/vtc.txt"
  grep -v '^#' "$2" | cut -f3,4 > "$T/ref.txt"
  if [ "$(wc -l < "$T/vtc.txt")" -ne "$(wc -l < "$T/ref.txt")" ]; then
    bad "vtc answered $(wc -l < "$T/vtc.txt") questions, the reference $(wc -l < "$T/ref.txt")"
  else
    paste "$T/vtc.txt" "$T/ref.txt" | awk -F'\t' -v what="${4:-unpruned answers}" '
      { if ($1 == $2) same++; else if ($3 + 0 < 1e-3) close_call++; else { differ++; if (differ <= 5) print "  differs: line " NR ": vtc " $1 ", reference " $2 " (margin " $3 ")" } }
      END { printf "  %s vs PyTorch float64: %d equal, %d near-ties, %d differ\n", what, same, close_call, differ; exit differ > 0 }' \
      && ok || bad "vtc's answers differ from the reference's ($2)"
  fi
}
parity "$T/e.json" tests/fixtures/quality/ref_none.tsv

# 2. and 3. accuracies
acc() { jq -r --arg m "$1" '.rows[] | select(.method == $m) | .accuracy' "$T/e.json"; }
above() { awk -v a="$2" -v t="$3" 'BEGIN { exit !(a >= t) }' && ok || bad "$1 accuracy $2% is below its threshold $3%"; }
none=$(acc none); random=$(acc random); cls=$(acc cls); div=$(acc divprune)
printf '  slice (60 scenes, %s questions): none %.1f%%, random@64 %.1f%%, cls@64 %.1f%%, divprune@64 %.1f%%\n' \
  "$(jq .questions "$T/e.json")" "$none" "$random" "$cls" "$div"
above none "$none" "$MIN_NONE"
above cls@64 "$cls" "$MIN_CLS64"
above divprune@64 "$div" "$MIN_DIVPRUNE64"
awk -v a="$none" -v b="$random" -v g="$MIN_GAP_RANDOM64" 'BEGIN { exit !(a - b >= g) }' && ok ||
  bad "random@64 ($random%) is not at least $MIN_GAP_RANDOM64 points under none ($none%)"

# 4. kept tokens on the items
if /usr/bin/python3 tools/quality_items.py --data "$T/q" --vtc "$VTC" --model $M --n 20 --methods cls,divprune,todre,random \
     --min cls="$MIN_ONITEMS_CLS64" --min divprune="$MIN_ONITEMS_DIVPRUNE64" --min todre="$MIN_ONITEMS_TODRE64" >"$T/items.log" 2>&1; then
  ok; sed 's/^/  /' "$T/items.log"
else
  bad "kept tokens are not on the items:"; sed 's/^/  | /' "$T/items.log"
fi

# 5. pruned tokens at their original RoPE positions (--positions original):
# cls at 64, against tools/quality_positions.py's forward of the same kept
# tokens; divprune at 64 above its threshold
if "$VTC" eval --model $M --decoder $M/lm.bin --tokenizer $M/tokenizer.bin --questions "$T/q/questions.tsv" \
     --methods cls,divprune --keep 64 --positions original --json --no-time --per-question \
     >"$T/o.json" 2>"$T/o.err"; then
  parity "$T/o.json" tests/fixtures/quality/ref_cls64_original.tsv 1 "cls@64 answers, original positions,"
  odiv=$(jq -r '.rows[] | select(.method == "divprune" and .budget == "64") | .accuracy' "$T/o.json")
  printf '  slice at original positions: divprune@64 %.1f%%\n' "$odiv"
  above "divprune@64 (original positions)" "$odiv" "$MIN_DIVPRUNE64_ORIGINAL"
else
  bad "vtc eval --positions original failed:"; show 5 "$T/o.err"
fi
# the same through `vtc compress --decoder --positions original`, question as the
# prompt, one greedy token, on the first 8 questions; and the unpruned tokens
# answer alike at either setting (their positions are 1..576 both ways)
grep -v '^#' tests/fixtures/quality/ref_cls64_original.tsv | head -8 > "$T/o8.tsv"
same=0; differ=0
while IFS="$(printf '\t')" read -r media q ref margin; do
  for p in compact original; do
    "$VTC" compress "$T/q/$media" --model $M --method none --decoder $M/lm.bin --tokenizer $M/tokenizer.bin \
      --prompt "$q" -n 1 --temp 0 --positions $p --json -o "$T/n-$p.safetensors" >"$T/n-$p.json" 2>>"$T/n.err"
  done
  [ "$(jq -r .decode.text "$T/n-compact.json")" = "$(jq -r .decode.text "$T/n-original.json")" ] || differ=$((differ+1))
  if "$VTC" compress "$T/q/$media" --model $M --method cls --keep 64 --decoder $M/lm.bin \
       --tokenizer $M/tokenizer.bin --prompt "$q" -n 1 --temp 0 --positions original --json \
       -o "$T/u.safetensors" >"$T/u.json" 2>>"$T/n.err" &&
     [ "$(jq -r '.decode.text | ltrimstr(" ")' "$T/u.json")" = "$ref" ] &&
     [ "$(jq -r .decode.positions "$T/u.json")" = original ]; then
    same=$((same+1))
  else
    differ=$((differ+1)); echo "  differs: $media '$q': vtc $(jq -r .decode.text "$T/u.json" 2>/dev/null), reference $ref"
  fi
done < "$T/o8.tsv"
echo "  vtc compress --positions original, 8 questions: $same as the reference, $differ not"
[ "$same" -eq 8 ] && [ "$differ" -eq 0 ] && ok || { bad "vtc compress --positions original"; head -3 "$T/n.err"; }

# 6. clips
want=$(head -1 tests/fixtures/quality/ref_clips.tsv | sed 's/.*questions \([0-9a-f]*\)$/\1/')
got=$(grep -v '^#' "$T/q/clips.tsv" | sha256sum | cut -c1-16)
[ "$want" = "$got" ] && ok || bad "the generated clip questions differ from the reference's ($got, want $want)"
if "$VTC" eval --model $M --decoder $M/lm.bin --tokenizer $M/tokenizer.bin --questions "$T/q/clips.tsv" \
     --frames 8 --pool 3 --methods none,dycoke --keep 192 --json --no-time --per-question >"$T/c.json" 2>"$T/c.err"; then
  parity "$T/c.json" tests/fixtures/quality/ref_clips.tsv
  cnone=$(jq -r '.rows[] | select(.method == "none") | .accuracy' "$T/c.json")
  cdy=$(jq -r '.rows[] | select(.method == "dycoke") | .accuracy' "$T/c.json")
  printf '  clips (20, %s questions): none %.1f%%, dycoke@192 %.1f%%\n' "$(jq .questions "$T/c.json")" "$cnone" "$cdy"
  above "clips none" "$cnone" "$MIN_CLIP_NONE"
  above "clips dycoke@192" "$cdy" "$MIN_CLIP_DYCOKE192"
else
  bad "vtc eval on the clips failed:"; show 5 "$T/c.err"
fi

finish
