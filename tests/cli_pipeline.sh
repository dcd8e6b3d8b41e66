#!/bin/sh
# CLI contract (docs/cli.md): encode / compress / prune / info / methods on real inputs,
# exit codes 0/1/2, one "vtc: error:" line, no output file left behind on failure.
# Run from the repository root: sh tests/cli_pipeline.sh  (VTC=path/to/vtc)
. tests/lib.sh
IMG=tests/fixtures/ref_images/photo.jpg
[ -f "$IMG" ] || IMG=$(ls tests/fixtures/ref_images/*.jpg 2>/dev/null | head -n 1)
VID=samples/vtest.mp4

# --- happy paths
expect 0 "$VTC" --help
expect 0 "$VTC" methods
expect 0 "$VTC" compress "$IMG" --method none -o "$T/a.safetensors" --report "$T/a.json"
[ -s "$T/a.safetensors" ] && [ -s "$T/a.json" ] && ok || bad "compress wrote no token file or report"
grep -q '"retained_ratio": 1' "$T/a.json" && ok || bad "report lacks retained_ratio 1"
grep -q 'retained ratio' "$T/out" 2>/dev/null || true
expect 0 "$VTC" compress "$IMG" --method none -o "$T/b.safetensors" --json
for stage in load decode preprocess encode project prune write; do
  grep -q "\"$stage\":" "$T/out" && ok || bad "--json timings_ms lacks $stage"
done
expect 0 "$VTC" encode "$IMG" -o "$T/f.safetensors"
expect 0 "$VTC" info "$T/f.safetensors"
grep -q 'cls_attn' "$T/out" && ok || bad "info on a features file does not list cls_attn"
expect 0 "$VTC" info "$IMG"
if [ -f "$VID" ]; then
  expect 0 "$VTC" compress "$VID" --frames 4 -o "$T/v.safetensors" --json
  grep -q '"kind": "video"' "$T/out" && ok || bad "video report lacks kind video"
fi

# --- --precision (docs/cli.md): the report says what ran; auto falls back to f32 without bf16 units
expect 0 "$VTC" compress "$IMG" --method cls --keep 64 --precision bf16 -o "$T/p16.safetensors" --json
grep -q '"precision": "bf16"' "$T/out" && grep -q '"engine": "bf16 on oneDNN ' "$T/out" && ok ||
  bad "--precision bf16: the report does not say bf16 on oneDNN"
expect 0 "$VTC" compress "$IMG" --method cls --keep 64 --precision f32 -o "$T/p32.safetensors"
grep -q '^precision f32 on OpenBLAS$' "$T/out" && ok || bad "--precision f32: the summary does not say f32 on OpenBLAS"
# an AVX2-only CPU as oneDNN sees it (ONEDNN_MAX_CPU_ISA): auto runs f32 and says why
capture env -u VTC_PRECISION ONEDNN_MAX_CPU_ISA=AVX2 "$VTC" compress "$IMG" --method cls --keep 64 \
  -o "$T/pauto.safetensors" --json
check_rc 0 && grep -q '"precision": "f32"' "$T/out" &&
  grep -q "\"engine\": \"f32 on OpenBLAS (auto: oneDNN's ISA avx2 has no bf16 units)\"" "$T/out" && ok ||
  bad "auto under ONEDNN_MAX_CPU_ISA=AVX2 did not fall back to f32 with the reason"
cmp -s "$T/p32.safetensors" "$T/pauto.safetensors" && ok || bad "auto's f32 fallback differs from --precision f32"
expect 2 "$VTC" compress "$IMG" --precision fp16 -o "$T/u0.safetensors"
not_left "--precision fp16" u0
capture env VTC_PRECISION=fp16 "$VTC" compress "$IMG" -o "$T/u00.safetensors"
check_rc 2 && grep -q 'VTC_PRECISION=fp16' "$T/err" && ok || bad "VTC_PRECISION=fp16 is not a usage error naming it"

# --- usage errors: exit 2, nothing written
expect 2 "$VTC"
expect 2 "$VTC" frobnicate
expect 2 "$VTC" compress
expect 2 "$VTC" compress "$IMG" --keep
expect 2 "$VTC" compress "$IMG" --keep abc -o "$T/u1.safetensors"
expect 2 "$VTC" compress "$IMG" --keep -3 -o "$T/u2.safetensors"
expect 2 "$VTC" compress "$IMG" --frames 0 -o "$T/u3.safetensors"
expect 2 "$VTC" compress "$IMG" --frames 4 --fps 2 -o "$T/u4.safetensors"
expect 2 "$VTC" compress "$IMG" --method nosuchmethod -o "$T/u5.safetensors"
expect 2 "$VTC" compress "$IMG" --bogus -o "$T/u6.safetensors"
expect 2 "$VTC" encode "$IMG"
expect 2 "$VTC" compress "$IMG" --aspect sideways -o "$T/u7.safetensors"
expect 2 "$VTC" compress "$IMG" --positions original -o "$T/u8.safetensors"   # needs --decoder
expect 2 "$VTC" compress "$IMG" --decoder samples/vlm/lm.bin --positions shifted -o "$T/u9.safetensors"
not_left "usage error" u1 u2 u3 u4 u5 u6 u7 u8 u9

# --- compress without --method: the default of docs/cli.md for the kind of input
# (uniform for an image, divprune for a video, a third of the tokens), said in the report
if expect 0 "$VTC" compress "$IMG" -o "$T/d1.safetensors" --json; then
  check_json "$T/out" '.method == "uniform" and .method_default == true and .n_kept == ((.n_input / 3) | round)' \
    "an image's default is uniform at a third" '{method, method_default, n_input, n_kept}'
fi
if expect 0 "$VTC" compress "$VID" --frames 2 -o "$T/d2.safetensors" --json; then
  check_json "$T/out" '.method == "divprune" and .method_default == true and .n_kept == ((.n_input / 3) | round)' \
    "a video's default is divprune at a third" '{method, method_default, n_input, n_kept}'
fi
if expect 0 "$VTC" compress "$IMG" --keep 16 -o "$T/d3.safetensors" --json; then
  check_json "$T/out" '.method == "uniform" and .n_kept == 16' "--keep alone keeps the default method" '{method, n_kept}'
fi
expect 0 "$VTC" compress "$IMG" -o "$T/d4.safetensors"
grep -q '^method    uniform, keeping a third (the default for images; --method none keeps every token)' "$T/out" && ok ||
  bad "the summary does not name the default method"
expect 2 "$VTC" compress "$IMG" --param size=2 -o "$T/d5.safetensors"    # a knob of which method?

# --- token files carry every metadata key of docs/formats.md, written by the library
expect 0 "$VTC" encode "$IMG" -o "$T/m1.safetensors"
expect 0 "$VTC" info "$T/m1.safetensors"
for key in grid model model_format feature_layer n_input; do
  grep -q "^  $key " "$T/out" && ok || bad "a features file lacks metadata $key"
done
expect 0 "$VTC" prune "$T/m1.safetensors" --method cls --keep 8 -o "$T/m2.safetensors"
expect 0 "$VTC" info "$T/m2.safetensors"
for key in grid model model_format feature_layer method keep n_input n_kept retained_ratio space; do
  grep -q "^  $key " "$T/out" && ok || bad "a tokens file from prune lacks metadata $key"
done
grep -q '^  keep  *8$' "$T/out" && grep -q '^  n_kept  *8$' "$T/out" && ok || bad "prune's tokens file: keep/n_kept not 8"
expect 0 "$VTC" compress "$VID" --frames 2 --method dycoke -o "$T/m3.safetensors"
expect 0 "$VTC" info "$T/m3.safetensors"
grep -q '^  timestamps  *F64 *\[2\]' "$T/out" && grep -q '^  keep  *all$' "$T/out" && ok ||
  bad "a video's tokens file lacks its timestamps tensor or keep=all"
expect 0 "$VTC" compress "$VID" --frames 4 --method dycoke --param k=0.5 -o "$T/m4.safetensors"
expect 0 "$VTC" info "$T/m4.safetensors"
grep -q '^  parameters  *k=0.5$' "$T/out" && ok || bad "a tokens file lacks its method's parameters"

# --- LLaVA-NeXT / OneVision (tools/gen_model_fixtures.py's narrow models; parity: test_encoder)
NEXT=tests/fixtures/models/llava-next OV=tests/fixtures/models/onevision W600=tests/fixtures/ref_images/wide600x400.jpg
expect 0 "$VTC" compress --model "$NEXT" "$W600" --method none --json -o "$T/nx.safetensors"
check_json "$T/out" '.n_kept == 2144 and .n_input == 2144 and .grid == [5, 24, 24]' \
  "LLaVA-NeXT 600x400: base 576 + 32 rows of 48 + 32 newlines, as transformers" '{n_kept, n_input, grid}'
expect 0 "$VTC" info "$T/nx.safetensors"
grep -q '^  tile  *I32 *\[2144\]' "$T/out" && grep -q '^  tiling  *anyres 600x400 2x2 8,0,32,48 32x48$' "$T/out" &&
  grep -q '^  newline  *row$' "$T/out" && ok || bad "an anyres tokens file lacks tile / tiling / newline"
expect 0 "$VTC" info "$NEXT" --size 600x400
grep -q '^  a 600x400 image  2144 tokens: base 24x24, 2x2 tiles stitched to 48x48, unpadded to 32x48, a newline per row$' "$T/out" &&
  ok || bad "info --size on LLaVA-NeXT: $(tail -1 "$T/out")"
expect 0 "$VTC" info "$OV" --size 1411x1058
grep -q '7309 tokens.*shrunk to 70x93' "$T/out" && ok || bad "info --size on OneVision: $(tail -1 "$T/out")"
expect 0 "$VTC" encode --model "$NEXT" "$W600" -o "$T/nxf.safetensors"
expect 0 "$VTC" prune --model "$NEXT" "$T/nxf.safetensors" --method none -o "$T/nx2.safetensors"
cmp -s "$T/nx.safetensors" "$T/nx2.safetensors" && ok || bad "encode + prune none differs from compress none (anyres)"
for p in native unpad spatial; do
  expect 0 "$VTC" compress --model "$NEXT" "$W600" --method cls --keep 300 --pack $p --json -o "$T/nx-$p.safetensors"
  cp "$T/out" "$T/nx-$p.json"
done
check_json "$T/nx-spatial.json" '.n_kept == 300' "--pack spatial keeps the budget" '{n_kept}'
check_json "$T/nx-unpad.json" '.n_kept < 300 and (.note | test("fell in the padding"))' "--pack unpad drops padding" '{n_kept, note}'
check_json "$T/nx-native.json" '.n_kept > 300' "--pack native adds newline rows" '{n_kept}'
expect 0 "$VTC" compress --model "$NEXT" "$W600" --method cls --keep 300 --viz "$T/nx.png" -o "$T/nxv.safetensors"
[ "$(head -c 8 "$T/nx.png" | od -An -c | tr -d ' ')" = '211PNG\r\n032\n' ] && ok || bad "--viz of an anyres image is not a PNG"
expect 2 "$VTC" compress --model "$NEXT" "$W600" --method cls --pack rows -o "$T/e0.safetensors"
expect 1 "$VTC" compress --model "$NEXT" "$W600" --method dycoke -o "$T/e0.safetensors"
expect 1 "$VTC" compress --model "$NEXT" "$VID" -o "$T/e0.safetensors"
expect 0 "$VTC" compress --model "$OV" "$VID" --frames 4 --method none --json -o "$T/ov.safetensors"
check_json "$T/out" '.n_kept == 4 * 196 + 1 and .grid == [4, 14, 14]' \
  "OneVision video: 2x2 bilinear pooling by default, one newline" '{n_kept, grid}'
expect 0 "$VTC" compress --model "$OV" "$VID" --frames 4 --pool 1 --method none --json -o "$T/ov1.safetensors"
check_json "$T/out" '.n_kept == 4 * 729 + 1' "--pool 1 turns OneVision's pooling off" '{n_kept}'

# --- hired on an anyres image (LLaVA-NeXT, 2x2 sub-images) with HiRED's own packing: the
# paper's rate 0.2 of 5 x 576 tile tokens, unpadded after selection, no newline rows; refused on a video
NEXT=tests/fixtures/models/llava-next
if expect 0 "$VTC" compress --model "$NEXT" tests/fixtures/ref_images/wide600x400.jpg --method hired --pack unpad \
    -o "$T/h1.safetensors" --json; then
  check_json "$T/out" '.method == "hired" and (.note | test("^total 576 \\(rate 0.2\\), base 288, sub-images [0-9+]+; ")) and
    .n_kept + (.note | capture("(?<d>[0-9]+) kept tokens fell in the padding").d | tonumber) == 576' \
    "hired: 576 selected, those in the padding dropped, no newline rows" '{n_kept, note}'
fi
expect 1 "$VTC" compress "$VID" --frames 2 --method hired -o "$T/h2.safetensors"
grep -q 'hired needs one image or an anyres image.s tiles, not 2 video frames' "$T/err" && ok ||
  bad "hired on a video: $(cat "$T/err")"
not_left "hired on a video" h2

# --- input errors: exit 1, nothing written
printf 'not an image' > "$T/junk.png"
expect 1 "$VTC" compress "$T/junk.png" -o "$T/e1.safetensors"
expect 1 "$VTC" compress "$T/missing.jpg" -o "$T/e2.safetensors"
head -c 300 "$IMG" > "$T/trunc.jpg"
expect 1 "$VTC" compress "$T/trunc.jpg" -o "$T/e3.safetensors"
expect 1 "$VTC" compress --model "$T/junk.png" "$IMG" -o "$T/e4.safetensors"
expect 1 "$VTC" compress --model "$T" "$IMG" -o "$T/e5.safetensors"
expect 1 "$VTC" prune "$T/junk.png" --method cls --keep 8 -o "$T/e6.safetensors"
expect 1 "$VTC" compress "$IMG" -o "$T/nodir/e7.safetensors"
not_left "input error" e1 e2 e3 e4 e5 e6
no_tmp_left

# Qwen2-VL / Qwen2.5-VL: the native layout in `vtc info`, token counts of the
# processor's grid, methods on merged tokens, a clip's frames paired in time
Q2=tests/fixtures/models/qwen2vl Q25=tests/fixtures/models/qwen25vl CLIP4=tests/fixtures/ref_images/clip4.mkv
expect 0 "$VTC" info "$Q25" --size 1000x250
grep -q '^  layout  *native$' "$T/out" && grep -q 'windows of 112 px' "$T/out" &&
  grep -q '^  a 1000x250 image  16 tokens$' "$T/out" && ok || bad "info on Qwen2.5-VL: $(cat "$T/out")"
expect 0 "$VTC" compress --model "$Q25" "$IMG" --method none --json -o "$T/q25.safetensors"
check_json "$T/out" '.n_kept == 12 and .n_input == 12 and .grid == [1, 3, 4]' \
  "Qwen2.5-VL photo at max_pixels 12544: a 3x4 merged grid" '{n_kept, n_input, grid}'
expect 0 "$VTC" compress --model "$Q25" "$IMG" --resize-max-pixels 40000 --method divprune --keep 50% -o "$T/q25d.safetensors"
expect 0 "$VTC" compress --model "$Q2" "$CLIP4" --frames 4 --method dycoke --json -o "$T/q2v.safetensors"
check_json "$T/out" '.n_input == 12 and .grid == [2, 2, 3]' "Qwen2-VL clip of 4 frames: 2 temporal slices" \
  '{n_kept, n_input, grid}'
# Qwen2-VL's own frame sampling (transformers' Qwen2VLVideoProcessor.sample_frames): --frames 7
# rounds to 8 (round(3.5) = 4 pairs), torch.arange(0, 80, 10); --fps 1 on 8 s at 10 fps: 8 frames
expect 0 "$VTC" compress --model "$Q2" samples/vtest.mp4 --frames 7 --method none --json -o "$T/q2s.safetensors"
check_json "$T/out" '.media.frame_index == [0, 10, 20, 30, 40, 50, 60, 70] and .grid[0] == 4 and
  .media.timestamps == [0, 1, 2, 3, 4, 5, 6, 7]' "Qwen2-VL --frames 7: 8 frames, 4 slices" '{media, grid}'
expect 0 "$VTC" compress --model "$Q2" samples/vtest.mp4 --fps 1 --method none --json -o "$T/q2s.safetensors"
check_json "$T/out" '.media.frame_index == [0, 10, 20, 30, 40, 50, 60, 70]' "Qwen2-VL --fps 1" '{media}'
expect 2 "$VTC" compress --model "$Q2" samples/vtest.mp4 --frames 1 -o "$T/q2s.safetensors"
grep -q "rounds --frames 1 to no frames" "$T/err" && ok || bad "Qwen2-VL --frames 1 (rounds to 0): $(cat "$T/err")"
expect 1 "$VTC" compress --model "$Q2" samples/vtest.mp4 --frames 83 -o "$T/q2s.safetensors"
grep -q "more frames than the video's 80" "$T/err" && ok || bad "Qwen2-VL --frames 83 (84 of 80): $(cat "$T/err")"
# the same tower as llama.cpp's mmproj GGUF: its own pixel budget (llama.cpp's 8..4096
# tokens), and at the HF directory's budget the HF directory's tokens, byte for byte
Q25G=tests/fixtures/models/qwen25vl.gguf
expect 0 "$VTC" info "$Q25G" --size 1000x250
grep -q '^  layout  *native$' "$T/out" && grep -q 'windows of 112 px' "$T/out" && grep -q '6272..3211264 pixels' "$T/out" &&
  grep -q '^  a 1000x250 image  324 tokens$' "$T/out" && ok || bad "info on the Qwen2.5-VL GGUF: $(cat "$T/out")"
expect 0 "$VTC" compress --model "$Q25G" "$IMG" --resize-min-pixels 3136 --resize-max-pixels 12544 --method none \
  --json -o "$T/q25g.safetensors"
check_json "$T/out" '.model.format == "gguf" and .n_kept == 12 and .grid == [1, 3, 4]' \
  "Qwen2.5-VL GGUF photo at the HF budget: a 3x4 merged grid" '{model, n_kept, grid}'
expect 0 "$VTC" encode --model "$Q25G" "$IMG" --resize-min-pixels 3136 --resize-max-pixels 12544 -o "$T/q25g.safetensors"
expect 0 "$VTC" encode --model "$Q25" "$IMG" -o "$T/q25h.safetensors"
# the tensors' bytes after the header (whose model_format differs)
st_data() { tail -c +$((9 + $(od -An -tu8 -N8 "$1" | tr -d ' '))) "$1"; }
st_data "$T/q25g.safetensors" > "$T/q25g.data"; st_data "$T/q25h.safetensors" > "$T/q25h.data"
[ -s "$T/q25g.data" ] && cmp -s "$T/q25g.data" "$T/q25h.data" && ok ||
  bad "the Qwen2.5-VL GGUF's features differ from its HF directory's at the same pixel budget"
expect 2 "$VTC" compress --model "$Q25" "$IMG" --aspect crop -o "$T/q25x.safetensors"
expect 2 "$VTC" compress --model "$Q25" "$IMG" --resize-min-pixels 90000 --resize-max-pixels 3136 -o "$T/q25x.safetensors"
expect 2 "$VTC" compress "$IMG" --resize-max-pixels 40000 -o "$T/q25x.safetensors"

# found by fuzz_image: a 64x26672 JPEG whose padded square would once have been a
# 711 Mpx intermediate; preprocessing now resamples only the output window
for a in crop pad resize; do
    expect 0 "$VTC" compress --aspect $a tests/fixtures/images/fuzz_elongated.jpg -o "$T/el-$a.safetensors"
done

# --- a video's frames streamed through the encoder (docs/library.md#streaming): the same
# features with and without the decode thread; the report names the frames; --viz decodes
# the clip's frames again; --max-memory refuses an encode it cannot hold before decoding
if [ -f "$VID" ]; then
  expect 0 "$VTC" encode "$VID" --frames 5 --threads 1 -o "$T/s1.safetensors"
  if expect 0 "$VTC" encode "$VID" --frames 5 --threads 3 -o "$T/s3.safetensors" --json; then
    check_json "$T/out" '.media.frame_index == [0, 19, 39, 59, 79] and ([.media.timestamps[] * 10 | round] == [0, 19, 39, 59, 79]) and .media.total_frames == 80' \
      "the report's frames" '.media'
  fi
  cmp -s "$T/s1.safetensors" "$T/s3.safetensors" && ok || bad "streamed features differ between 1 and 3 threads"
  expect 0 "$VTC" compress "$VID" --frames 3 --method cls --keep 50% -o "$T/s4.safetensors" --viz "$T/s4.png"
  [ -s "$T/s4.png" ] && ok || bad "--viz of a clip wrote no picture"
  expect 1 "$VTC" encode "$VID" --frames 8 --max-memory 10000000 -o "$T/s5.safetensors"
  grep -q 'over the memory limit' "$T/err" && grep -q 'frames in flight' "$T/err" && ok ||
    bad "--max-memory: $(cat "$T/err")"
  not_left "--max-memory" s5
fi

finish
