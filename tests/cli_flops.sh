#!/bin/sh
# Contract tests for `vtc flops` (docs/flops.md, docs/cli.md): output, --json, exit codes and
# error lines. Run from the repository root: sh tests/cli_flops.sh
# VTC names the binary (default build/vtc). Exits non-zero if any check fails.
. tests/lib.sh
need_vtc

# run WANT_RC ARGS...: runs vtc flops ARGS, checks the exit status (one check); output in $T/out, $T/err
run() {
  want=$1
  shift
  capture "$VTC" flops "$@"
  if [ "$rc" -ne "$want" ]; then
    bad "vtc flops $* -> exit $rc, want $want; stderr: $(head -c 300 "$T/err")"
    return 1
  fi
  ok
  return 0
}

# usage ARGS...: a usage error: exit 2, one "vtc: error: ..." line on stderr, nothing on stdout
usage() {
  run 2 "$@" || return
  if ! head -n 1 "$T/err" | grep -q '^vtc: error: flops: '; then
    bad "vtc flops $*: stderr does not start with 'vtc: error: flops: ': $(head -c 300 "$T/err")"
  elif [ "$(wc -l <"$T/err")" -ne 1 ]; then
    bad "vtc flops $*: more than one stderr line"
  fi
  [ -s "$T/out" ] && bad "vtc flops $*: wrote to stdout on a usage error"
}

# has PATTERN FILE: grep -q with a message
has() {
  grep -q -- "$1" "$2" || bad "'$1' not found in $(basename "$2"): $(head -c 400 "$2")"
}

# ---------------------------------------------------------------- help
run 0 --help && has '^usage: vtc flops --lm PRESET --visual N --kept K' "$T/out"
run 0 -h && has 'usage: vtc flops' "$T/out"
run 0 --help && has 'qwen2-vl-7b, qwen2.5-vl-3b, qwen2.5-vl-7b' "$T/out"
run 0 --lm nope --help   # --help wins, whatever else is on the line

# ---------------------------------------------------------------- human output
if run 0 --lm llava-1.5-7b --visual 576 --kept 64 --text 60 --gen 128; then
  has '^lm: llava-1.5-7b (32 layers, hidden 4096, ffn 11008, 32 heads, 32 kv heads, vocab 32000)' "$T/out"
  has '576 visual -> 64 kept, retained ratio 0.1111 (11.11%); 60 text, 128 generated' "$T/out"
  has '^LLM prefill  *8.344 TFLOPs  *1.610 TFLOPs  *0.1930$' "$T/out"
  has '^LLM decode per token' "$T/out"
  has '^LLM decode total' "$T/out"
  has '^paper prefill  *3.307 TFLOPs' "$T/out"
  [ -s "$T/err" ] && bad "stderr not empty on success: $(cat "$T/err")"
fi
run 0 --lm=qwen2-7b --visual=576 --kept=144 --prune-layer=2 && has 'equivalent visual tokens 174.86' "$T/out"
run 0 --layers 2 --hidden 64 --ffn 128 --heads 4 --visual 10 --kept 5 && has '^lm: custom (2 layers, hidden 64, ffn 128, 4 heads, 4 kv heads, vocab 32000)' "$T/out"
run 0 --lm qwen2-0.5b --layers 12 --visual 10 --kept 5 && has '(12 layers, hidden 896, ffn 4864, 14 heads, 2 kv heads, vocab 151936)' "$T/out"
# the Qwen VLMs' language models (config.json shapes; figures from tests/fixtures/flops_ref.txt)
run 0 --lm qwen2-vl-7b --visual 10 --kept 5 && has '^lm: qwen2-vl-7b (28 layers, hidden 3584, ffn 18944, 28 heads, 4 kv heads, vocab 152064)' "$T/out"
run 0 --lm qwen2.5-vl-7b --visual 10 --kept 5 && has '^lm: qwen2.5-vl-7b (28 layers, hidden 3584, ffn 18944, 28 heads, 4 kv heads, vocab 152064)' "$T/out"
if run 0 --lm qwen2.5-vl-3b --visual 576 --kept 192 --text 60 --gen 128 --json; then
  has '"name": "qwen2.5-vl-3b"' "$T/out"
  has '"layers": 36' "$T/out"
  has '"kv_heads": 2' "$T/out"
  has '"vocab": 151936' "$T/out"
  has '"before": 3589566300160' "$T/out"
  has '"after": 1408387710976' "$T/out"
  has '"before": 809984720896' "$T/out"
fi
run 0 --lm llava-1.5-7b --visual 576 --kept 576
run 0 --lm llava-1.5-7b --visual 576 --kept 0 --text 1

# ---------------------------------------------------------------- --json
# values from tests/fixtures/flops_ref.txt (tools/ref_flops.py)
if run 0 --lm llava-1.5-7b --visual 576 --kept 192 --text 60 --gen 128 --json; then
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$T/out" <<'EOF' || bad "--json content (see above)"
import json, sys
r = json.load(open(sys.argv[1]))
want = {
    ("lm", "name"): "llava-1.5-7b", ("lm", "custom"): False, ("lm", "layers"): 32, ("lm", "hidden"): 4096,
    ("lm", "ffn"): 11008, ("lm", "heads"): 32, ("lm", "kv_heads"): 32, ("lm", "vocab"): 32000,
    ("visual",): 576, ("kept",): 192, ("text",): 60, ("gen",): 128, ("prune_layer",): 0,
    ("prefill", "before"): 8343943905280, ("prefill", "after"): 3280882106368,
    ("prefill", "paper_before"): 3307129012224, ("prefill", "paper_after"): 1285004722176,
    ("decode", "before"): 1724806856704, ("decode", "after"): 1699238379520,
    ("decode", "per_token_before"): 13581156352, ("decode", "per_token_after"): 13379829760,
    ("vision_encoder",): None, ("equivalent_visual_tokens",): 192,
}
ok = True
for path, v in want.items():
    got = r
    for k in path:
        got = got[k]
    if got != v or type(got) is not type(v):
        print("FAIL: --json %s = %r, want %r" % (".".join(path), got, v))
        ok = False
checks = [("retained_ratio", 192 / 576), ("prefill.ratio", 3280882106368 / 8343943905280),
          ("prefill.paper_ratio", 1285004722176 / 3307129012224), ("decode.ratio", 1699238379520 / 1724806856704),
          ("total.ratio", (3280882106368 + 1699238379520) / (8343943905280 + 1724806856704))]
for path, v in checks:
    got = r
    for k in path.split("."):
        got = got[k]
    if abs(got - v) > 1e-15 * abs(v):
        print("FAIL: --json %s = %r, want %r" % (path, got, v))
        ok = False
sys.exit(0 if ok else 1)
EOF
  else
    has '"before": 8343943905280' "$T/out"
    has '"retained_ratio": 0.33333333333333331\|"retained_ratio": 0.3333333333333333' "$T/out"
  fi
fi
# no generated tokens: decode ratios are null, not NaN
if run 0 --lm qwen2-0.5b --visual 100 --kept 10 --json; then
  has '"ratio": null' "$T/out"
  grep -qi 'nan\|inf' "$T/out" && bad "--json contains nan/inf: $(cat "$T/out")"
fi

# ---------------------------------------------------------------- usage errors
usage --lm gpt-9 --visual 576 --kept 64
has "unknown" "$T/err"
usage --lm llava-1.5-7b --kept 64
has "visual" "$T/err"
usage --lm llava-1.5-7b --visual 576
has "kept" "$T/err"
usage --lm llava-1.5-7b --visual 576 --kept 577
usage --lm llava-1.5-7b --visual -5 --kept 1
usage --lm llava-1.5-7b --visual 0 --kept 0
usage --lm llava-1.5-7b --visual 576 --kept -1
usage --lm llava-1.5-7b --visual abc --kept 1
usage --lm llava-1.5-7b --visual 57x --kept 1
usage --lm llava-1.5-7b --visual 5.5 --kept 1
usage --lm llava-1.5-7b --visual "" --kept 1
usage --lm llava-1.5-7b --visual= --kept 1
usage --lm llava-1.5-7b --visual 99999999999999999999 --kept 1
usage --lm llava-1.5-7b --visual 576 --kept 64 --text -1
usage --lm llava-1.5-7b --visual 576 --kept 64 --gen x
usage --lm llava-1.5-7b --visual 576 --kept 64 --bogus 1
has "unknown option '--bogus'" "$T/err"
usage --lm llava-1.5-7b --visual 576 --kept 64 --json=1
usage --lm llava-1.5-7b --visual 576 --kept 64 extra
usage --lm llava-1.5-7b --visual 576 --kept
has "needs a value" "$T/err"
usage --lm
usage --visual 576 --kept 64
usage --layers 2 --hidden 64 --ffn 128 --visual 10 --kept 5
has "heads" "$T/err"
usage --layers 2 --hidden 64 --ffn 128 --heads 4 --kv-heads 3 --visual 10 --kept 5
usage --layers 2 --hidden 63 --ffn 128 --heads 4 --visual 10 --kept 5
usage --lm llava-1.5-7b --layers 0 --visual 10 --kept 5
usage --lm llava-1.5-7b --visual 576 --kept 64 --prune-layer 33
usage --lm llava-1.5-7b --visual 576 --kept 0
has "empty prompt" "$T/err"

finish
