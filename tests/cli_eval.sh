#!/bin/sh
# `vtc eval`: accuracy against kept tokens per method and budget. Checks every
# prediction against an independent path (`vtc compress --decoder ... -n 1
# --temp 0`, one run per question), the accuracies that follow from them, the
# rows of the table, skipped methods, determinism, and the exit codes and error
# lines of bad options and bad question files.
# Run from the repository root: sh tests/cli_eval.sh  (VTC=path/to/vtc)
# Needs jq and python3 (skips without them).
. tests/lib.sh
FX=tests/fixtures
MODEL=$FX/models/clip224 # no projector: its 32-wide encoder features go to the decoder as they are
need_cmd jq "apt-get install jq"
PY=$(command -v python3 || echo /usr/bin/python3)
[ -x "$PY" ] || skip "python3 is not installed"
need_vtc

# --- the decoder: tests/fixtures/lm/tiny.bin (width 32, as the model's features)
# with its classifier cut down to the tokens a one-token answer can be: the ones
# with the tokenizer's dummy-prefix space. Predictions then land on answers often
# enough that accuracy is more than 0.
ANSWERS='30:a 31:b 32:c 36:ab 37:abc 39:he 43:hello 48:the 53:in 56:d 60:dog 61:do'
"$PY" - "$FX/lm/tiny.bin" "$T/lm.bin" "$ANSWERS" <<'EOF' || { bad "could not make the decoder"; exit 1; }
import struct, sys
src, dst, answers = sys.argv[1], sys.argv[2], sys.argv[3]
keep = {int(a.split(':')[0]) for a in answers.split()}
b = bytearray(open(src, 'rb').read())
dim, hidden, layers, heads, kv_heads, vocab, seq = struct.unpack('<7i', b[:28])
assert vocab < 0, 'want a separate classifier'
rows = -vocab
start = len(b) - rows * dim * 4  # the classifier closes a llama2.c checkpoint
for t in range(rows):
    if t not in keep:
        b[start + t * dim * 4:start + (t + 1) * dim * 4] = bytes(dim * 4)
open(dst, 'wb').write(b)
EOF
cp "$FX/lm/tiny_tok.bin" "$T/tok.bin"
LM="--decoder $T/lm.bin --tokenizer $T/tok.bin"

word_of() { for p in $ANSWERS; do [ "${p%%:*}" = "$1" ] && { echo "${p#*:}"; return; }; done; }
id_of() { for p in $ANSWERS; do [ "${p#*:}" = "$1" ] && { echo "${p%%:*}"; return; }; done; }

# --- questions over the fixture images (photo.jpg twice apart: two encodes)
mkdir "$T/q" "$T/q/img"
cp $FX/ref_images/photo.jpg $FX/ref_images/portrait_rgba.png $FX/images/baseline.jpg $FX/images/tall.jpg \
   $FX/images/rgb8.png "$T/q/img/"
cat > "$T/list" <<'EOF'
img/photo.jpg|what|the dog
img/photo.jpg|is|is the dog in
img/portrait_rgba.png|what|a cab
img/portrait_rgba.png|count|hello abc
img/baseline.jpg|count|do the
img/tall.jpg|where|he abc
img/rgb8.png|where|in the
img/photo.jpg|what|abc he
EOF
# first_token FILE.json: the generated token of `vtc compress --json -n 1` (a BOS stops it: id 1)
first_token() { jq -r '.decode.tokens[0] // 1' "$1"; }
# compress_pred NAME MEDIA QUESTION ARGS...: the independent prediction into $T/NAME.pred (one id a line)
compress_pred() {
  name=$1 media=$2 question=$3; shift 3
  if "$VTC" compress "$T/q/$media" --model "$MODEL" $LM --prompt "$question" -n 1 --temp 0 --json \
      -o "$T/c.safetensors" "$@" >"$T/c.json" 2>"$T/err"; then
    first_token "$T/c.json" >>"$T/$name.pred"
    jq '.decode.flops.prefill.executed' "$T/c.json" >>"$T/$name.flops"
  else
    bad "compress $* on $media: $(cat "$T/err")"; echo -1 >>"$T/$name.pred"
  fi
}
{ printf '# held-out scenes\n\nmedia\tkind\tquestion\tanswer\n'; } > "$T/q/q.tsv"
i=0; none_right=0; div_right=0
while IFS='|' read -r media kind question; do
  compress_pred none "$media" "$question" --method none
  compress_pred div "$media" "$question" --method divprune --keep 32
  compress_pred todre2 "$media" "$question" --method none --decode-method todre2 --decode-param layer=0 --decode-param tau=1
  p=$(tail -n 1 "$T/none.pred"); w=$(word_of "$p")
  # even questions: the answer the unpruned run gives, where it can be an answer; else a wrong one
  if [ $((i % 2)) -eq 0 ] && [ -n "$w" ]; then answer=$w; else answer=abc; [ "$p" = 37 ] && answer=ab; fi
  [ "$(id_of "$answer")" = "$p" ] && none_right=$((none_right+1))
  [ "$(id_of "$answer")" = "$(tail -n 1 "$T/div.pred")" ] && div_right=$((div_right+1))
  printf '%s\t%s\t%s\t%s\n' "$media" "$kind" "$question" "$answer" >>"$T/q/q.tsv"
  id_of "$answer" >>"$T/answer.ids"
  i=$((i+1))
done < "$T/list"
[ "$none_right" -gt 0 ] && ok || bad "no question is answered right: the test checks too little"
json_list() { paste -sd, "$1" | sed 's/^/[/; s/$/]/'; }
NONE=$(json_list "$T/none.pred"); DIV=$(json_list "$T/div.pred"); TODRE2=$(json_list "$T/todre2.pred")
ANSWER_IDS=$(json_list "$T/answer.ids")
FLOPS_MEAN=$(jq -s 'add / length' "$T/none.flops")

# --- the run: predictions and accuracies against the independent ones
if expect 0 "$VTC" eval --model "$MODEL" $LM --questions "$T/q/q.tsv" --methods divprune,pool,random --keep 64,32 \
    --decode-methods todre2 --decode-param layer=0 --decode-param tau=1 --json --per-question --no-time; then
  cp "$T/out" "$T/e.json"
  check_json "$T/e.json" '.questions == 8 and .media == 5 and .encodes == 6 and .token_dim == 32' "question/media counts"
  check_json "$T/e.json" '[.rows[] | "\(.method)/\(.budget)"] == ["none/all","divprune/64","divprune/32","pool/64","pool/32","random/64","random/32","todre2/all"]' "rows"
  check_json "$T/e.json" "[.rows[0].predictions[].token] == $NONE" "none predictions differ from compress's $NONE"
  check_json "$T/e.json" "[.rows[2].predictions[].token] == $DIV" "divprune 32 predictions differ from compress's $DIV"
  check_json "$T/e.json" "[.rows[7].predictions[].token] == $TODRE2" "todre2 predictions differ from compress's $TODRE2"
  check_json "$T/e.json" ".rows[0].correct == $none_right and .unpruned_accuracy == $none_right * 100 / 8" \
    "unpruned accuracy is not $none_right of 8"
  check_json "$T/e.json" ".rows[2].correct == $div_right and .rows[2].accuracy == $div_right * 100 / 8" \
    "divprune 32 accuracy is not $div_right of 8"
  check_json "$T/e.json" ".rows[2].relative == (if $none_right > 0 then $div_right * 100 / $none_right else null end)" \
    "divprune 32 relative"
  check_json "$T/e.json" '.rows[0].relative == 100 and .rows[0].tokens == 196 and .rows[0].skipped == 0' "none row"
  check_json "$T/e.json" '.rows[1].tokens == 64 and .rows[2].tokens == 32 and .rows[3].tokens == 49 and .rows[4].tokens == 25' \
    "tokens kept (pool: 7x7 for 64, 5x5 for 32)"
  check_json "$T/e.json" '.rows[7].in_decoder and .rows[7].tokens == 196 and .rows[7].equiv_tokens == 98' "todre2 equivalent tokens"
  check_json "$T/e.json" "(.rows[0].prefill_flops - $FLOPS_MEAN | fabs) <= 1e-9 * $FLOPS_MEAN" "none prefill FLOPs != compress's mean"
  check_json "$T/e.json" '.rows[3].prefill_flops < .rows[1].prefill_flops and .rows[1].prefill_flops < .rows[0].prefill_flops' "FLOPs order"
  check_json "$T/e.json" '.kinds == {"what":3,"is":1,"count":2,"where":2}' "kinds"
  check_json "$T/e.json" 'all(.rows[]; ([.per_kind[].questions] | add) == .questions and ([.per_kind[].correct] | add) == .correct)' "per-kind sums"
  check_json "$T/e.json" '.rows[0].per_kind.what.questions == 3 and .rows[0].per_kind.is.questions == 1' "per-kind counts"
  check_json "$T/e.json" '[.question_list[].line] == [4,5,6,7,8,9,10,11] and .question_list[0].question == "the dog"' "question lines"
  check_json "$T/e.json" "[.question_list[].answer_token] == $ANSWER_IDS" "answer tokens"
  check_json "$T/e.json" '. as $d | all($d.rows[]; .predictions as $p | .correct == ([$p[] | select(.correct)] | length) and
    all(range(0; $p | length); $p[.].correct == ($p[.].token == $d.question_list[.].answer_token)))' "correct flags"
  check_json "$T/e.json" '(has("timings_ms") | not) and all(.rows[]; has("ms") | not)' "--no-time left times in"
fi
# the table: one row per method x budget, in order; deterministic without times
if expect 0 "$VTC" eval --model "$MODEL" $LM --questions "$T/q/q.tsv" --methods divprune,pool,random --keep 64,32 --no-time; then
  cp "$T/out" "$T/t1"
  rows=$(awk '$1 ~ /^(none|divprune|pool|random)$/ { printf "%s/%s ", $1, $2 }' "$T/t1")
  [ "$rows" = "none/all divprune/64 divprune/32 pool/64 pool/32 random/64 random/32 " ] && ok || bad "table rows: $rows"
  grep -q "^8 questions on 5 media (6 encodes); unpruned accuracy" "$T/t1" && ok || bad "table header: $(sed -n 2p "$T/t1")"
  head -n 1 "$T/t1" | grep -q "model $MODEL, decoder $T/lm.bin, questions $T/q/q.tsv" && ok || bad "header paths"
  grep -q 'ms/q' "$T/t1" && bad "--no-time table has a time column" || ok
  expect 0 "$VTC" eval --model "$MODEL" $LM --questions "$T/q/q.tsv" --methods divprune,pool,random --keep 64,32 --no-time &&
    { cmp -s "$T/out" "$T/t1" && ok || bad "two runs differ"; }
fi
expect 0 "$VTC" eval --model "$MODEL" $LM --questions "$T/q/q.tsv" --methods cls --keep 16 &&
  { grep -q 'ms/q' "$T/out" && ok || bad "the table has no time column"; }
expect 0 "$VTC" eval --model "$MODEL" $LM --questions "$T/q/q.tsv" --methods cls --keep 16 --json &&
  check_json "$T/out" '(.timings_ms.prefill_per_question | length) == 2 and .timings_ms.total > 0' "JSON timings"
# the default methods on images: none, then the 9 image methods at 4 budgets (not dycoke, vq)
expect 0 "$VTC" eval --model "$MODEL" $LM --questions "$T/q/q.tsv" --json --no-time &&
  check_json "$T/out" '(.rows | length) == 37 and all(.rows[]; .method != "dycoke" and .method != "vq" and .questions == 8) and
    ([.rows[].budget] | unique) == ["128","192","32","64","all"] and any(.notes[]; test("dycoke, vq: video methods"))' "default rows"
expect 0 "$VTC" eval --model "$MODEL" $LM --questions "$T/q/q.tsv" --limit 3 --methods uniform --keep 25% --json --no-time &&
  check_json "$T/out" '.questions == 3 and .encodes == 2 and .rows[1].budget == "25%" and .rows[1].tokens == 49' "--limit / --keep 25%"

# --- a method that cannot run on some media is skipped there, with a note
printf 'vid.mp4\tmotion\tthe dog\tdog\nimg/photo.jpg\twhat\tthe dog\tdog\n' > "$T/q/v.tsv"
cp $FX/video/cam40.mp4 "$T/q/vid.mp4"
expect 0 "$VTC" eval --model "$MODEL" $LM --questions "$T/q/v.tsv" --frames 4 --methods dycoke,cls --keep 400 --json --no-time &&
  check_json "$T/out" '.rows[1] | .method == "dycoke" and .questions == 1 and .skipped == 1 and .tokens == 400 and (.note | test("more than the 196"))' "dycoke skip" &&
  check_json "$T/out" '.rows[0].questions == 2 and .rows[0].tokens == (784 + 196) / 2 and (.notes | length) >= 2' "video none row"
# --pool pools the video's frames (14 x 14 -> 7 x 7 each), not the image
expect 0 "$VTC" eval --model "$MODEL" $LM --questions "$T/q/v.tsv" --frames 4 --pool 2 --methods cls --keep 16 --json --no-time &&
  check_json "$T/out" '.pool == 2 and .rows[0].tokens == (4 * 49 + 196) / 2' "--pool on video only"
# --positions original: the unpruned row is the same (its positions are 1..N either way)
expect 0 "$VTC" eval --model "$MODEL" $LM --questions "$T/q/v.tsv" --frames 4 --methods uniform --keep 16 --json --no-time --per-question &&
  cp "$T/out" "$T/compact.json"
expect 0 "$VTC" eval --model "$MODEL" $LM --questions "$T/q/v.tsv" --frames 4 --methods uniform --keep 16 --json --no-time --per-question \
    --positions original &&
  check_json "$T/out" '.positions == "original" and .rows[1].tokens == 16' "--positions original"
[ "$(jq -c '.rows[0]' "$T/out")" = "$(jq -c '.rows[0]' "$T/compact.json")" ] && ok ||
  bad "--positions original changed the unpruned row"

# --- usage errors (exit 2)
Q="--questions $T/q/q.tsv"
expect 2 "$VTC" eval --model "$MODEL" $LM $Q --keep abc
expect 2 "$VTC" eval --model "$MODEL" $LM $Q --keep 64,,32
expect 2 "$VTC" eval --model "$MODEL" $LM $Q --keep 64.5
expect 2 "$VTC" eval --model "$MODEL" $LM $Q --methods cls,nosuch
expect 2 "$VTC" eval --model "$MODEL" $LM $Q --methods cls,cls
expect 2 "$VTC" eval --model "$MODEL" $LM $Q --methods random --param "per_frame=$(printf "%01100d" 1)"
grep -q 'more than 1023 characters' "$T/err" && ok || bad "a --param past 1023 characters is not refused as such: $(cat "$T/err")"
expect 2 "$VTC" eval --model "$MODEL" $LM $Q --methods fastv
expect 2 "$VTC" eval --model "$MODEL" $LM $Q --decode-methods nosuch
expect 2 "$VTC" eval --model "$MODEL" $LM $Q --decode-methods fastv --decode-param r=2
expect 2 "$VTC" eval --model "$MODEL" $LM $Q --decode-param k=2
expect 2 "$VTC" eval --model "$MODEL" $LM $Q --methods pool --param pool:bogus=1
expect 2 "$VTC" eval --model "$MODEL" $LM $Q --methods pool --param cls:per_frame=1
expect 2 "$VTC" eval --model "$MODEL" $LM $Q --limit 0
expect 2 "$VTC" eval --model "$MODEL" $LM $Q --pool 0
expect 2 "$VTC" eval --model "$MODEL" $LM $Q --pool 9
expect 2 "$VTC" eval --model "$MODEL" $LM $Q --positions renumbered
expect 2 "$VTC" eval --model "$MODEL" $LM $Q --bogus
expect 2 "$VTC" eval --model "$MODEL" $LM
expect 2 "$VTC" eval --model "$MODEL" $Q
expect 2 "$VTC" eval --model "$MODEL" $LM --questions

# --- input and runtime errors (exit 1), naming the line
bad_tsv() { # bad_tsv NAME CONTENT PATTERN
  printf "$2" > "$T/q/$1.tsv"
  expect 1 "$VTC" eval --model "$MODEL" $LM --questions "$T/q/$1.tsv" --methods cls --keep 16 &&
    { grep -q "$3" "$T/err" && ok || bad "$1: error does not say '$3': $(cat "$T/err")"; }
}
bad_tsv columns 'img/photo.jpg\twhat\tthe dog\tdog\nimg/photo.jpg\twhat\tthe dog\n' 'columns.tsv:2: 3 tab-separated columns'
bad_tsv extra '# x\nimg/photo.jpg\twhat\tthe dog\tdog\tmore\n' 'extra.tsv:2: 5 tab-separated'
bad_tsv empty_answer 'img/photo.jpg\twhat\tthe dog\t\n' 'empty_answer.tsv:1: the answer column is empty'
bad_tsv multi 'img/photo.jpg\twhat\tthe dog\tdog\n\nimg/photo.jpg\twhat\tthe dog\tcat\n' "multi.tsv:3: the answer 'cat' is 3 tokens, not one"
bad_tsv world 'img/photo.jpg\twhat\tthe dog\tworld\n' "world.tsv:1: the answer 'world' is 4 tokens"
bad_tsv vocab 'img/photo.jpg\twhat\tis the dog here?\tdog\n' 'vocab.tsv:1: question'
bad_tsv utf8 'img/photo.jpg\twhat\tthe \377 dog\tdog\n' 'utf8.tsv:1: not UTF-8'
bad_tsv media 'img/photo.jpg\twhat\tthe dog\tdog\nimg/missing.png\twhat\tthe dog\tdog\n' 'media.tsv:2: media'
bad_tsv none '# nothing\n\n' 'none.tsv: no questions'
expect 1 "$VTC" eval --model "$MODEL" $LM --questions "$T/q/missing.tsv"
expect 1 "$VTC" eval --model "$MODEL" --decoder "$T/lm.bin" $Q # no tokenizer.bin beside it
expect 1 "$VTC" eval --model "$MODEL" --decoder "$T/missing.bin" --tokenizer "$T/tok.bin" $Q
# a model whose tokens are 48 wide: no adapter, a clear refusal
expect 1 "$VTC" eval --model $FX/models/llava $LM $Q &&
  { grep -q "48 wide (projector output) but the decoder's embeddings 32" "$T/err" && ok || bad "width error: $(cat "$T/err")"; }

finish
