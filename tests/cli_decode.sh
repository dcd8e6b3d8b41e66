#!/bin/sh
# `vtc compress --decoder` (issue 7): kept visual tokens through the reference
# decoder with each in-decoder policy. Checks the "decode" report: generated
# text, executed FLOPs equal to the accounting (and to `vtc flops`), visual
# tokens per layer, KV-cache bytes, determinism of greedy decoding; exit codes
# and error lines; nothing written when decoding fails.
# Run from the repository root: sh tests/cli_decode.sh  (VTC=path/to/vtc)
# Needs ../shared/models/stories260K.bin + tok512.bin (skips without them) and jq.
. tests/lib.sh
MODELS=${MODELS:-../shared/models}
LM=$MODELS/stories260K.bin
TOK=$MODELS/tok512.bin
IMG=samples/astronaut.jpg
if [ ! -f "$LM" ] || [ ! -f "$TOK" ]; then
  skip "$LM or $TOK absent (see ../shared/models/README.md)"
fi
need_cmd jq "apt-get install jq"
need_vtc
# what check_json prints of a document that fails a check
JSON_DUMP='.decode | {visual_per_layer, flops, kv_cache_bytes}'

# run NAME ARGS...: compress + decode with --json into $T/NAME.json
run() {
  name=$1; shift
  if expect 0 "$VTC" compress "$IMG" --method divprune --keep 32 --decoder "$LM" --tokenizer "$TOK" \
      --prompt "Once upon a time" -n 24 --json -o "$T/$name.safetensors" "$@"; then
    cp "$T/out" "$T/$name.json"
    check_json "$T/$name.json" '.decode | type == "object"' "$name: no decode object"
    return 0
  fi
  echo '{}' > "$T/$name.json"
  return 1
}
# the figures every run must satisfy
common() {
  f=$T/$1.json
  check_json "$f" '.decode.visual_tokens == 32 and .decode.visual_tokens_uncompressed == 576' "$1: token counts"
  check_json "$f" '.decode.text_tokens == 5 and .decode.input_dim == 128 and .decode.adapter == true' "$1: prompt layout"
  check_json "$f" '(.decode.generated_tokens == 24 and .decode.stop == "steps") or .decode.stop == "bos"' "$1: generated count"
  check_json "$f" '(.decode.text | length) > 0 and (.decode.tokens | length) == .decode.generated_tokens' "$1: no text"
  check_json "$f" '.decode.flops.agree == true and .decode.flops.rel_diff < 0.01' "$1: FLOPs disagree"
  check_json "$f" '.decode.flops.prefill | (.executed - .accounted | fabs) <= 0.01 * .accounted' "$1: prefill FLOPs"
  check_json "$f" '.decode.flops.decode | (.executed - .accounted | fabs) <= 0.01 * .accounted' "$1: decode FLOPs"
  check_json "$f" '.decode.flops.prefill.executed < .decode.flops.prefill.uncompressed' "$1: no saving against 576 tokens"
  check_json "$f" '.decode.flops.decode.steps == .decode.generated_tokens - 1' "$1: decode steps"
  check_json "$f" '.decode.visual_per_layer | length == 5' "$1: per-layer counts"
  check_json "$f" '.decode.kv_cache_bytes | .held <= .full and .attended <= .held and .full < .uncompressed' "$1: KV bytes"
  check_json "$f" '.decode.timings_ms.prefill > 0' "$1: prefill time"
}

# --- the command of the issue: divprune 576 -> 32, then fastv inside the decoder
run fastv --decode-method fastv && {
  common fastv
  check_json "$T/fastv.json" '.decode.visual_per_layer == [32,32,16,16,16] and .decode.equiv_tokens == 22.4' "fastv: per layer"
  check_json "$T/fastv.json" '.decode.policy | .name == "fastv" and .layer == 2 and .n_kept == 16 and .fired' "fastv: policy report"
  check_json "$T/fastv.json" '.decode.kv_cache_bytes.held < .decode.kv_cache_bytes.full' "fastv: dropped nothing from the cache"
  check_json "$T/fastv.json" '.n_kept == 32 and .flops.prefill.after > 0' "fastv: compress report lost" '{n_kept}'
  # the same sizes through `vtc flops` (an independent path to src/flops.h)
  if expect 0 "$VTC" flops --layers 5 --hidden 64 --ffn 172 --heads 8 --kv-heads 4 --vocab 512 \
      --visual 32 --kept 16 --prune-layer 2 --text 5 --gen 24 --json; then
    want=$(jq '.prefill.after' "$T/out"); wantd=$(jq '.decode.after' "$T/out")
    check_json "$T/fastv.json" ".decode.flops.prefill.executed == $want and .decode.flops.decode.executed == $wantd" \
      "fastv: executed FLOPs != vtc flops ($want, $wantd)"
  fi
}
# greedy decoding is deterministic
run fastv2 --decode-method fastv && {
  a=$(jq -c '.decode.tokens' "$T/fastv.json"); b=$(jq -c '.decode.tokens' "$T/fastv2.json")
  [ "$a" = "$b" ] && ok || bad "greedy decoding differs between two runs: $a vs $b"
}
run none && {
  common none
  check_json "$T/none.json" '.decode.method == "none" and (.decode | has("policy") | not)' "none: a policy ran"
  check_json "$T/none.json" '.decode.visual_per_layer == [32,32,32,32,32] and .decode.equiv_tokens == 32' "none: per layer"
  check_json "$T/none.json" '.decode.kv_cache_bytes | .held == .full and .attended == .full' "none: KV bytes"
  if expect 0 "$VTC" flops --layers 5 --hidden 64 --ffn 172 --heads 8 --kv-heads 4 --vocab 512 \
      --visual 576 --kept 32 --text 5 --gen 24 --json; then
    check_json "$T/none.json" ".decode.flops.prefill.executed == $(jq '.prefill.after' "$T/out") and
      .decode.flops.prefill.uncompressed == $(jq '.prefill.before' "$T/out")" "none: FLOPs != vtc flops"
  fi
  check_json "$T/fastv.json" ".decode.flops.prefill.executed < $(jq '.decode.flops.prefill.executed' "$T/none.json")" \
    "fastv prefill not below none's"
}
# --positions original: the same 32 tokens at their unpruned positions (gaps), the prompt at
# 577..: the same FLOPs as compact (the text may differ); fastv runs on it too
run orig --positions original && {
  common orig
  check_json "$T/orig.json" '.decode.positions == "original"' "orig: positions not reported"
  check_json "$T/none.json" '.decode.positions == "compact"' "none: positions not reported"
  check_json "$T/orig.json" ".decode.flops == $(jq -c '.decode.flops' "$T/none.json")" "orig: FLOPs differ from compact's"
}
run origfastv --positions original --decode-method fastv && common origfastv
# todre2 at its default layer (floor(7*5/8) = 4, the last) cannot drop anything; forced at layer 1
run todre2 --decode-method todre2 && {
  common todre2
  check_json "$T/todre2.json" '.decode.policy | .name == "todre2" and .layer == 4 and .fired and (.alpha_tv | type) == "number"' "todre2: report"
  check_json "$T/todre2.json" '.decode.visual_per_layer == [32,32,32,32,32]' "todre2: dropped after the last layer"
}
run todre2f --decode-method todre2 --decode-param layer=1 --decode-param tau=1 && {
  common todre2f
  check_json "$T/todre2f.json" '.decode.policy.dropped_all == true and .decode.visual_per_layer == [32,32,0,0,0]' "todre2 forced: per layer"
  check_json "$T/todre2f.json" '.decode.equiv_tokens == 12.8 and .decode.kv_cache_bytes.held < .decode.kv_cache_bytes.full' "todre2 forced: equiv/KV"
}
run dycoke --decode-method dycoke-kv && {
  common dycoke
  # int(32 * (1 - 0.7)) = 9 tokens for layers >= 3 in the decode steps; the prefill saw all 32
  check_json "$T/dycoke.json" '.decode.visual_per_layer == [32,32,32,9,9] and .decode.policy.steps == 23' "dycoke-kv: per layer"
  check_json "$T/dycoke.json" '.decode.kv_cache_bytes | .held == .full and .attended < .held' "dycoke-kv: KV (masks, no drops)"
  check_json "$T/dycoke.json" ".decode.flops.prefill.executed == $(jq '.decode.flops.prefill.executed' "$T/none.json") and
    .decode.flops.decode.executed < $(jq '.decode.flops.decode.executed' "$T/none.json")" "dycoke-kv: FLOPs against none"
}

# --- human summary, --report, tokenizer beside the checkpoint
if expect 0 "$VTC" compress "$IMG" --method divprune --keep 32 --decoder "$LM" --tokenizer "$TOK" \
    --prompt "Once upon a time" --decode-method fastv --decode-param k=3 --decode-param r=0.25 -n 8 \
    -o "$T/h.safetensors" --report "$T/h.json"; then
  for w in '^decoder ' '^output ' '^visual    per layer 32 32 32 24 24 ' '^policy    fastv' '^prefill .* executed' 'agree within'; do
    grep -q "$w" "$T/out" && ok || bad "human summary lacks '$w'"
  done
  check_json "$T/h.json" '.decode.parameters == "k=3,r=0.25" and .decode.generated_tokens <= 8' "--report lacks the decode object"
fi
mkdir "$T/beside" && cp "$LM" "$T/beside/model.bin" && cp "$TOK" "$T/beside/tokenizer.bin"
expect 0 "$VTC" compress "$IMG" --method divprune --keep 16 --decoder "$T/beside/model.bin" -n 4 -o "$T/b.safetensors"

# --- usage errors (exit 2) and runtime errors (exit 1): one error line, nothing written
expect 2 "$VTC" compress "$IMG" --decoder "$LM" --decode-method nosuch -o "$T/u1.safetensors"
expect 2 "$VTC" compress "$IMG" --decoder "$LM" --decode-method fastv --decode-param r=2 -o "$T/u2.safetensors"
expect 2 "$VTC" compress "$IMG" --decoder "$LM" --decode-method fastv --decode-param bogus=1 -o "$T/u3.safetensors"
expect 2 "$VTC" compress "$IMG" --decoder "$LM" --decode-param k=2 -o "$T/u4.safetensors"
expect 2 "$VTC" compress "$IMG" --decoder "$LM" --decode-param k2 -o "$T/u5.safetensors"
expect 2 "$VTC" compress "$IMG" --decoder "$LM" -n many -o "$T/u6.safetensors"
expect 2 "$VTC" compress "$IMG" --decoder "$LM" --temp -1 -o "$T/u7.safetensors"
expect 2 "$VTC" compress "$IMG" --prompt "no decoder" -o "$T/u8.safetensors"
expect 2 "$VTC" compress "$IMG" --decoder
expect 1 "$VTC" compress "$IMG" --decoder "$T/missing.bin" -o "$T/e1.safetensors"
expect 1 "$VTC" compress "$IMG" --decoder "$IMG" --tokenizer "$TOK" -o "$T/e2.safetensors"
expect 1 "$VTC" compress "$IMG" --decoder "$LM" --tokenizer "$IMG" -o "$T/e3.safetensors"
mkdir "$T/alone" && cp "$LM" "$T/alone/model.bin"
expect 1 "$VTC" compress "$IMG" --decoder "$T/alone/model.bin" -o "$T/e4.safetensors" # no tokenizer.bin beside it
not_left "a failed run" u1 u2 u3 u4 u5 u6 u7 u8 e1 e2 e3 e4
no_tmp_left

finish
