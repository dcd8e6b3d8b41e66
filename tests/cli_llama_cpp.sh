#!/bin/sh
# The kept tokens in a real llama.cpp (issue 34): the trained model's decoder
# (samples/vlm/lm.bin) exported with `vtc export-lm` and loaded by llama.cpp;
# examples/llama_cpp_host feeds [BOS, kept rows, question tokens] to
# llama_decode as a host does, for a slice of held-out scenes of the quality
# benchmark (tools/quality_data.py, the first $LLAMA_SCENES scenes: the start of
# tests/cli_quality.sh's slice) with none, cls, divprune and visionzip at 64 and
# 128 tokens, compact positions. Checks:
#  1. every answer (the argmax token) equals `vtc eval`'s on the same question,
#     method and budget;
#  2. the answer's logits from llama.cpp are within TOL of vtc's reference
#     decoder's on the same GGUF file and rows (llama.cpp with one thread, F32 KV
#     cache, flash attention off; measured: 3.6e-5 on these 16 scenes, 8.7e-5
#     on the first 20);
#  3. llama.cpp tokenizes every question as vtc does;
#  4. llama.cpp refuses the kept rows at their original (gapped) positions,
#     as docs/library.md says.
# llama.cpp comes from $VTC_LLAMA_CPP_DIR (a folder with libllama*.so and its
# ggml backends) or tools/fetch_llama_cpp.sh's cache, build/llama-cpp (fetched
# with `npm pack` at the pinned version, integrity checked); without npm or the
# registry the test skips, saying why.
# Run from the repository root: sh tests/cli_llama_cpp.sh  (VTC=path/to/vtc)
. tests/lib.sh
TOL=5e-4
LLAMA_SCENES=${LLAMA_SCENES:-16}
METHODS=none,cls,divprune,visionzip
KEEP=64,128
need_cmd jq "apt-get install jq"
need_vtc
HOST=$BUILD/examples/llama_cpp_host
[ -x "$HOST" ] || { echo "FAIL: $HOST is not built (make)"; exit 1; }

LIB=${VTC_LLAMA_CPP_DIR:-}
if [ -z "$LIB" ]; then
  LIB=$(sh tools/fetch_llama_cpp.sh build/llama-cpp 2>"$T/fetch.err")
  case $? in
    0) ;;
    3) skip "llama.cpp is not available: $(cat "$T/fetch.err")" ;;
    *) bad "tools/fetch_llama_cpp.sh failed:"; show 3 "$T/fetch.err"; finish ;;
  esac
fi

M=samples/vlm
if ! expect 0 "$VTC" export-lm $M/lm.bin --tokenizer $M/tokenizer.bin -o "$T/vlm.gguf"; then finish; fi
if ! /usr/bin/python3 tools/quality_data.py --out "$T/q" --n "$LLAMA_SCENES" --clips 0 >"$T/gen.log" 2>&1; then
  bad "tools/quality_data.py failed (run tools/setup.sh):"; show 5 "$T/gen.log"
  finish
fi
nq=$(grep -vc '^#' "$T/q/questions.tsv")

# 1. the same answers as vtc eval
if ! "$VTC" eval --model $M --decoder $M/lm.bin --tokenizer $M/tokenizer.bin --questions "$T/q/questions.tsv" \
     --methods $METHODS --keep $KEEP --json --per-question --no-time >"$T/e.json" 2>"$T/e.err"; then
  bad "vtc eval failed:"; show 5 "$T/e.err"
  finish
fi
jq -r '.question_list as $q | .rows[] | . as $r | range(0; $q | length) as $i |
       "\($q[$i].line)\t\($r.method)\t\($r.budget)\t\($r.predictions[$i].token)"' "$T/e.json" | sort > "$T/eval.txt"
if ! "$HOST" "$LIB" "$T/vlm.gguf" --questions "$T/q/questions.tsv" --method $METHODS --keep $KEEP --reference \
     --threads 1 >"$T/h.tsv" 2>"$T/h.err"; then
  bad "llama_cpp_host failed:"; show 5 "$T/h.err"
  finish
fi
grep -v '^#' "$T/h.tsv" | cut -f1,2,3,5 | sort > "$T/llama.txt"
runs=$(( $(echo $METHODS | tr ',' '\n' | grep -vc '^none$') * $(echo $KEEP | tr ',' '\n' | wc -l) + 1 ))
n_llama=$(wc -l < "$T/llama.txt")
[ "$n_llama" -eq $((nq * runs)) ] && ok || bad "llama.cpp answered $n_llama times, want $nq questions x $runs runs"
if cmp -s "$T/eval.txt" "$T/llama.txt"; then
  ok
else
  bad "llama.cpp's answers differ from vtc eval's (line, method, budget, token; < vtc eval, > llama.cpp):"
  diff "$T/eval.txt" "$T/llama.txt" | head -8 | sed 's/^/  | /'
fi

# 2. logits within TOL; 3. the same tokens
worst=$(grep -v '^#' "$T/h.tsv" | awk -F'\t' '$7 !~ /^[0-9.e+-]+$/ { odd = $7 } $7 + 0 > m { m = $7 + 0 }
                                               END { if (odd != "" || NR == 0) print "not a number: " odd; else printf "%.3g", m }')
awk -v w="$worst" -v t=$TOL 'BEGIN { exit !(w ~ /^[0-9.e+-]+$/ && w + 0 <= t + 0) }' && ok ||
  bad "llama.cpp's logits differ from vtc's decoder by up to $worst (tolerance $TOL)"
grep -q '; tokenization differs on 0$' "$T/h.tsv" && ok || { bad "llama.cpp tokenizes questions differently:"; tail -1 "$T/h.tsv" | show 1 -; }
note "$nq questions x $runs runs ($METHODS at $KEEP): answers as vtc eval's; largest logit difference $worst (tolerance $TOL)"

# 4. gaps refused: cls at 64 at its original positions
q1=$(grep -v '^#' "$T/q/questions.tsv" | head -1)
capture "$HOST" "$LIB" "$T/vlm.gguf" "$T/q/$(echo "$q1" | cut -f1)" "$(echo "$q1" | cut -f3)" --method cls --keep 64 \
  --positions original
if [ "$rc" -eq 1 ] && grep -q 'llama_decode returned -1: .*positions' "$T/err"; then
  ok
else
  bad "llama.cpp took gapped positions (exit $rc): docs/library.md says it refuses them"; show 3
fi
finish
