#!/bin/sh
# `vtc export-lm`: the command's contract (exit status, one error line, nothing
# left behind on failure) and the conversion seen through vtc's own decoder,
# which reads GGUF llama files too: the trained model's decoder answers the same
# questions alike from samples/vlm/lm.bin and from its export (F32: the same
# weights, so every predicted token equal), and stories260K (when
# ../shared/models has it) generates the same text from both. tests/test_export.c
# compares the written tensors with an independent writer; tests/cli_llama_cpp.sh
# loads the export in llama.cpp.
# Run from the repository root: sh tests/cli_export_lm.sh  (VTC=path/to/vtc)
. tests/lib.sh
need_cmd jq "apt-get install jq"
need_vtc
M=samples/vlm

# usage errors: 2
expect 2 "$VTC" export-lm
expect 2 "$VTC" export-lm $M/lm.bin
expect 2 "$VTC" export-lm -o "$T/x.gguf"
expect 2 "$VTC" export-lm $M/lm.bin -o "$T/x.gguf" --type q8_0
expect 2 "$VTC" export-lm $M/lm.bin -o "$T/x.gguf" --bogus
expect 2 "$VTC" export-lm $M/lm.bin -o
expect 2 "$VTC" export-lm $M/lm.bin other.bin -o "$T/x.gguf"
expect 0 "$VTC" export-lm --help
grep -q 'export-lm IN.bin -o OUT.gguf' "$T/out" && ok || bad "export-lm --help prints no usage"
# input errors: 1, and no output
expect 1 "$VTC" export-lm "$T/missing.bin" -o "$T/x.gguf"
expect 1 "$VTC" export-lm $M/lm.bin -o "$T/x.gguf" --tokenizer "$T/missing.bin"
cp $M/lm.bin "$T/alone.bin"
expect 1 "$VTC" export-lm "$T/alone.bin" -o "$T/x.gguf" # no tokenizer.bin beside it
head -c 1000 $M/lm.bin > "$T/short.bin"
expect 1 "$VTC" export-lm "$T/short.bin" -o "$T/x.gguf" --tokenizer $M/tokenizer.bin
expect 1 "$VTC" export-lm $M/lm.bin -o "$T/nodir/x.gguf"
[ -e "$T/x.gguf" ] && bad "a failed export left $T/x.gguf"
no_tmp_left

# the export, read back by vtc
expect 0 "$VTC" export-lm $M/lm.bin -o "$T/vlm.gguf"
grep -q "^wrote $T/vlm.gguf: llama, 4 layers, width 128" "$T/out" && ok || { bad "export-lm summary"; show 2 "$T/out"; }
expect 1 "$VTC" export-lm "$T/vlm.gguf" -o "$T/again.gguf" # already GGUF
expect 0 "$VTC" export-lm $M/lm.bin --tokenizer $M/tokenizer.bin -o "$T/vlm16.gguf" --type f16 --name vlm
expect 0 "$VTC" info "$T/vlm16.gguf"
grep -q 'gguf, Llama architecture' "$T/out" && ok || bad "vtc info does not read the F16 export as a language model"
[ "$(wc -c < "$T/vlm16.gguf")" -lt "$(wc -c < "$T/vlm.gguf")" ] && ok || bad "the F16 export is not smaller"

# the same answers from the llama2.c file and the export (its own vocabulary)
S=$PWD/samples/scene.png
printf 'media\tkind\tquestion\tanswer\n' > "$T/q.tsv"
for q in "what is at the left ?" "what is at the top-left ?" "is there a boot ?" "how many boots ?" \
         "where is the shirt ?" "what is at the bottom-right ?"; do
  printf '%s\twhat\t%s\tshirt\n' "$S" "$q" >> "$T/q.tsv"
done
answers() { # decoder [tokenizer args...]
  d=$1; shift
  "$VTC" eval --decoder "$d" "$@" --questions "$T/q.tsv" --methods none,divprune --keep 64 --json --per-question \
    --no-time 2>"$T/err" | jq -c '[.rows[] | [.method, .budget, [.predictions[].token]]]'
}
a=$(answers $M/lm.bin)
b=$(answers "$T/vlm.gguf")
if [ -n "$a" ] && [ "$a" = "$b" ]; then ok; else bad "vtc eval answers differ between lm.bin and its export: $a / $b"; show; fi

S260=${VTC_SHARED_MODELS:-../shared/models}
if [ -f "$S260/stories260K.bin" ] && [ -f "$S260/tok512.bin" ]; then
  expect 0 "$VTC" export-lm "$S260/stories260K.bin" --tokenizer "$S260/tok512.bin" -o "$T/s.gguf"
  "$VTC" generate --lm "$S260/stories260K.bin" --tokenizer "$S260/tok512.bin" --temp 0 -n 64 \
    --prompt "Once upon a time" > "$T/a.txt" 2>&1
  "$VTC" generate --lm "$T/s.gguf" --temp 0 -n 64 --prompt "Once upon a time" > "$T/b.txt" 2>&1
  cmp -s "$T/a.txt" "$T/b.txt" && ok || { bad "stories260K generates differently from its export"; diff "$T/a.txt" "$T/b.txt" | head -4; }
else
  note "stories260K not found in $S260: its round trip not run"
fi
finish
