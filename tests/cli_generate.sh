#!/bin/sh
# `vtc generate` against llama2.c's run.c: the same bytes on stdout for the
# cases of tests/fixtures/lm/cases.txt (expected texts made by run.c, see
# tests/fixtures/lm/README.md). Skips when ../shared/models is absent.
. tests/lib.sh
M=${VTC_SHARED_MODELS:-../shared/models}
if [ ! -f "$M/stories260K.bin" ] || [ ! -f "$M/tok512.bin" ]; then
  skip "$M/stories260K.bin not found"
fi
while read -r c temp topp seed steps; do
  case "$c" in '#'*|'') continue ;; esac
  D=tests/fixtures/lm
  "$VTC" generate --lm "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temp "$temp" --topp "$topp" \
    --seed "$seed" -n "$steps" --prompt "$(cat "$D/gen_$c.prompt")" > "$T/out" 2>"$T/err"
  # run.c prints a trailing newline and a timing line on stderr only; compare stdout
  if cmp -s "$T/out" "$D/gen_$c.expected"; then ok; else
    bad "case $c differs from run.c"; diff "$T/out" "$D/gen_$c.expected" | head -5
  fi
done < tests/fixtures/lm/cases.txt
finish
