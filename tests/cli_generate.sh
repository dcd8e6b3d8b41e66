#!/bin/sh
# `vtc generate` against llama2.c's run.c: the same bytes on stdout for the
# cases of tests/fixtures/lm/cases.txt (expected texts made by run.c, see
# tests/fixtures/lm/README.md). Skips when ../shared/models is absent.
VTC=${VTC:-build/vtc}
M=${VTC_SHARED_MODELS:-../shared/models}
if [ ! -f "$M/stories260K.bin" ] || [ ! -f "$M/tok512.bin" ]; then
  echo "cli_generate: skipped ($M/stories260K.bin not found)"; exit 0
fi
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
pass=0; fail=0
while read -r n temp topp seed steps; do
  case "$n" in '#'*|'') continue ;; esac
  D=tests/fixtures/lm
  "$VTC" generate --lm "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temp "$temp" --topp "$topp" \
    --seed "$seed" -n "$steps" --prompt "$(cat "$D/gen_$n.prompt")" > "$T/out" 2>"$T/err"
  # run.c prints a trailing newline and a timing line on stderr only; compare stdout
  if cmp -s "$T/out" "$D/gen_$n.expected"; then pass=$((pass+1)); else
    fail=$((fail+1)); echo "FAIL: case $n differs from run.c"; diff "$T/out" "$D/gen_$n.expected" | head -5
  fi
done < tests/fixtures/lm/cases.txt
echo "cli_generate: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
