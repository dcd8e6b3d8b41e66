#!/bin/sh
# CLI contract under hostile input (docs/cli.md), complementing tests/cli_pipeline.sh:
# broken images, hostile model files, corrupted config.json / preprocessor_config.json,
# tensors whose shapes disagree with the config, NaN/Inf weights, broken videos,
# token files missing tensors or with wrong shapes, and every impossible --keep /
# --param / --frames / --fps / --threads / --layer value. Each case must exit with
# its code (1 input, 2 usage), print exactly one "vtc: error: " line on stderr,
# leave no output file (and no .tmp. file), and never crash (a signal, exit code
# >= 128, a hang or a sanitizer report is a failure). A handful also run under
# valgrind (when installed), failing on any memory error or leak.
# Run from the repository root: sh tests/cli_hostile.sh  (VTC=path/to/vtc)
. tests/lib.sh
command -v timeout >/dev/null 2>&1 && TO="timeout 60"   # capture's prefix: a hang fails

O=$T/o                 # every failing case writes under here; it must stay empty
mkdir -p "$O"
OUT=$O/out.safetensors

# crashed CMD...: reports a signal, a hang or a sanitizer report of the last capture; 0 if it did
crashed() {
  if [ "$rc" -ge 124 ]; then bad "exit $rc (crash or hang): $*"; show; return 0; fi
  if grep -qE 'Sanitizer|runtime error:|^==[0-9]+==' "$T/err"; then
    bad "sanitizer report: $*"; show 20; return 0
  fi
  return 1
}
# left_behind: anything left under $O (the failed command's outputs), then cleared
left_behind() {
  if [ -n "$(ls -A "$O")" ]; then bad "left behind $(ls -A "$O" | tr '\n' ' '): $*"; clear_o; return 0; fi
  return 1
}
clear_o() { rm -rf "$O"; mkdir -p "$O"; }
# expect CODE CMD...: exit CODE (1 or 2), one "vtc: error: " line, nothing written
# (the library's expect, with the crash and left-behind checks)
expect() {
  want=$1; shift
  capture "$@"
  crashed "$@" && return
  check_rc "$want" "$@" || { clear_o; return; }
  left_behind "$@" && return
  ok
}
# expect_0_or_1 CMD...: input vtc may accept or refuse (fixtures whose status is
# not pinned); either way the contract holds
expect_0_or_1() {
  capture "$@"
  crashed "$@" && return
  case $rc in
    0) clear_o; ok ;;
    1) if ! one_error_line; then
         bad "want one 'vtc: error:' line: $*"; show; clear_o
       else left_behind "$@" || ok; fi ;;
    *) bad "exit $rc (want 0 or 1): $*"; show 3; clear_o ;;
  esac
}
# a library status name (the fixtures' MANIFEST spelling) -> exit code
code_of() { case $1 in arg|ARG) echo 2 ;; *) echo 1 ;; esac; }

M=tests/fixtures/models/clip224   # small and fast: 224 px, 3 blocks, width 32
IMG=tests/fixtures/ref_images/photo.jpg
VID=samples/vtest.mp4
HAVE_PY=0; command -v python3 >/dev/null 2>&1 && HAVE_PY=1

# --- broken images. The image MANIFEST pins what vtc's PNG/JPEG decoder says; a
# file without PNG/JPEG magic goes to FFmpeg instead (a GIF is a one-frame video
# to it), so those, and unpinned files, may be accepted.
magic() { od -An -tx1 -N8 "$1" | tr -d ' \n'; }
for f in tests/fixtures/images/bad_*; do
  [ -f "$f" ] || continue
  st=$(awk -v f="$(basename "$f")" '$1 == "bad" && $2 == f { print $3 }' tests/fixtures/images/MANIFEST.txt)
  case $(magic "$f") in 89504e470d0a1a0a|ffd8ff*) ;; *) st="" ;; esac
  if [ -n "$st" ]; then
    expect "$(code_of "$st")" "$VTC" compress --model "$M" "$f" -o "$OUT"
    expect "$(code_of "$st")" "$VTC" info "$f"
  else
    expect_0_or_1 "$VTC" compress --model "$M" "$f" -o "$OUT"
  fi
done
: > "$T/empty.jpg"
printf '\211PNG\r\n\032\n' > "$T/sig_only.png"
printf '\377\330\377' > "$T/soi_only.jpg"
tail -c 4096 "$M/model.safetensors" > "$T/random.png"          # float noise, the same every run
for f in empty.jpg sig_only.png soi_only.jpg random.png; do
  expect 1 "$VTC" compress --model "$M" "$T/$f" -o "$OUT"
done
expect 1 "$VTC" compress --model "$M" "$T" -o "$OUT"          # a directory as INPUT
expect 1 "$VTC" compress --model "$M" /dev/null -o "$OUT"

# --- hostile model files (safetensors and GGUF parser cases, sharded directories)
if [ -f tests/fixtures/files/hostile/MANIFEST.txt ]; then
  while read -r name st _; do
    case $name in '#'*|'') continue ;; esac
    f=tests/fixtures/files/hostile/${name%/}
    [ -e "$f" ] || { bad "hostile fixture $f listed but missing"; continue; }
    expect "$(code_of "$st")" "$VTC" compress --model "$f" "$IMG" -o "$OUT"
  done < tests/fixtures/files/hostile/MANIFEST.txt
fi
# valid files of the wrong kind
expect 1 "$VTC" compress --model tests/fixtures/lm/tiny.gguf "$IMG" -o "$OUT"
expect 1 "$VTC" compress --model tests/fixtures/files/st_basic.safetensors "$IMG" -o "$OUT"
expect 1 "$VTC" compress --model "$IMG" "$IMG" -o "$OUT"

if [ "$HAVE_PY" = 1 ]; then
# safetensors rewriting with the standard library only: read -> edit -> write
cat > "$T/st.py" <<'EOF'
import json, struct, sys
def read(p):
    b = open(p, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n]); data = b[8 + n:]
    meta = h.pop('__metadata__', None)
    return meta, {k: [v['dtype'], v['shape'], data[v['data_offsets'][0]:v['data_offsets'][1]]] for k, v in h.items()}
def write(p, meta, ts):
    h = {} if meta is None else {'__metadata__': meta}
    blob = b''
    for k, (dt, sh, d) in ts.items():
        h[k] = {'dtype': dt, 'shape': sh, 'data_offsets': [len(blob), len(blob) + len(d)]}
        blob += d
    hj = json.dumps(h).encode()
    hj += b' ' * (-len(hj) % 8)
    open(p, 'wb').write(struct.pack('<Q', len(hj)) + hj + blob)
NAN, INF = struct.pack('<f', float('nan')), struct.pack('<f', float('inf'))
src, dst, edit = sys.argv[1], sys.argv[2], sys.argv[3]
meta, ts = read(src)
P = 'vision_model.'
exec(edit)
write(dst, meta, ts)
EOF
# model_with NAME CONFIG_EDIT [WEIGHTS_EDIT [PREPROCESSOR_EDIT]]: a copy of clip224
# with config.json (c), model.safetensors (ts) or preprocessor_config.json (c) edited
model_with() {
  d=$T/m_$1; rm -rf "$d"; cp -r "$M" "$d"
  [ -n "$2" ] && python3 -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); exec(sys.argv[2]); json.dump(c, open(p, 'w'))" \
    "$d/config.json" "$2"
  [ -n "$3" ] && python3 "$T/st.py" "$M/model.safetensors" "$d/model.safetensors" "$3"
  [ -n "$4" ] && python3 -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); exec(sys.argv[2]); json.dump(c, open(p, 'w'))" \
    "$d/preprocessor_config.json" "$4"
  echo "$d"
}

# --- config.json: not JSON, wrong types, impossible geometry, disagreeing with the weights
d=$(model_with notjson ""); printf '{"hidden_size": 32,' > "$d/config.json"
expect 1 "$VTC" compress --model "$d" "$IMG" -o "$OUT"
d=$(model_with array ""); echo '[1, 2]' > "$d/config.json"
expect 1 "$VTC" compress --model "$d" "$IMG" -o "$OUT"
d=$(model_with zero ""); : > "$d/config.json"
expect 1 "$VTC" compress --model "$d" "$IMG" -o "$OUT"
i=0
for e in \
  "c['image_size'] = '224'" \
  "c['num_attention_heads'] = '4'" \
  "c['hidden_size'] = '32'" \
  "c['layer_norm_eps'] = 'small'" \
  "c['hidden_act'] = 3" \
  "c['hidden_act'] = 'relu'" \
  "c['vision_config'] = 5" \
  "c['vision_config'] = {'image_size': 'x'}" \
  "c['vision_feature_layer'] = 'x'" \
  "c['vision_feature_layer'] = 7" \
  "c['num_attention_heads'] = 5" \
  "c['num_attention_heads'] = 0" \
  "c['num_attention_heads'] = -4" \
  "c['image_size'] = 223" \
  "c['image_size'] = 0" \
  "c['image_size'] = -224" \
  "c['image_size'] = 224.5" \
  "c['image_size'] = 1e12" \
  "c['layer_norm_eps'] = 0" \
  "c['image_size'] = 240" \
  "c['hidden_size'] = 64" \
  "c['intermediate_size'] = 128" \
  "c['patch_size'] = 14" \
  ; do
  i=$((i+1)); d=$(model_with cfg$i "$e"); CASE=$e
  expect 1 "$VTC" compress --model "$d" "$IMG" -o "$OUT"
done
for e in "c['image_std'] = [0, 0.26, 0.27]" "c['image_mean'] = 'x'" "c['image_mean'] = [0.5, 0.5]" \
         "c['image_std'] = [0.2, 'x', 0.2]"; do
  i=$((i+1)); d=$(model_with pre$i "" "" "$e"); CASE=$e
  expect 1 "$VTC" compress --model "$d" "$IMG" -o "$OUT"
done
CASE=""
d=$(model_with prejunk ""); printf 'not json' > "$d/preprocessor_config.json"
expect 1 "$VTC" compress --model "$d" "$IMG" -o "$OUT"

# --- what the files do not determine, and models vtc knows but does not run
CASE="image_size 225 with 16-px patches: a 14x14 grid, as transformers' unpadded convolution"
d=$(model_with size225 "c['image_size'] = 225")
expect 0 "$VTC" info "$d"
grep -q 'grid 14x14 = 196 tokens + CLS (the last 1 pixel rows/columns unused)' "$T/out" && ok || bad "$CASE: $(cat "$T/out")"
CASE="no config.json: the head count is undetermined"
d=$(model_with nocfg ""); rm "$d/config.json"
expect 1 "$VTC" compress --model "$d" "$IMG" -o "$OUT"
grep -q 'head count is not determined.*--heads' "$T/err" && ok || bad "$CASE: $(cat "$T/err")"
expect 0 "$VTC" compress --model "$d" "$IMG" -o "$T/ok.safetensors" --heads 4
expect 2 "$VTC" compress --model "$d" "$IMG" -o "$OUT" --heads 4 --image-size 320
CASE="with config.json, --heads must agree"
expect 2 "$VTC" compress --model "$M" "$IMG" -o "$OUT" --heads 2
grep -q 'head count 2 given (--heads), but the model.s files say 4' "$T/err" && ok || bad "$CASE: $(cat "$T/err")"
CASE="neither config nor preprocessor config: the image size is undetermined"
rm "$d/preprocessor_config.json"
expect 1 "$VTC" compress --model "$d" "$IMG" -o "$OUT" --heads 4
grep -q 'image size is not determined.*224\.\.239 pixels' "$T/err" && ok || bad "$CASE: $(cat "$T/err")"
expect 0 "$VTC" compress --model "$d" "$IMG" -o "$T/ok.safetensors" --heads 4 --image-size 224
for e in "c['model_type'] = 'qwen2_vl'|Qwen2-VL" "c['vision_config'] = {'model_type': 'pixtral'}|Pixtral" \
         "c['model_type'] = 'llava'|without its multi_modal_projector" \
         "c['model_type'] = 'blip_2'|model_type \"blip_2\" is not a model vtc knows" \
         "c['vision_config'] = {'model_type': 'siglip_vision_model'}|a siglip tower with a class embedding" \
         "c['vision_feature_select_strategy'] = 'full'|\"full\" on a tower with a CLS token" \
         "c['vision_feature_select_strategy'] = 'cls'|vision_feature_select_strategy \"cls\""; do
  CASE=${e%%|*}; d=$(model_with refuse$i "$CASE"); i=$((i+1))
  expect 1 "$VTC" compress --model "$d" "$IMG" -o "$OUT"
  grep -q -- "${e#*|}" "$T/err" && ok || bad "$CASE: $(cat "$T/err")"
done
# LLaVA-1.5 weights under a LLaVA-NeXT / OneVision config: what the layout needs is missing
for e in "llava_next|missing tensor image_newline" "llava_onevision|a LLaVA-OneVision config without image_grid_pinpoints"; do
  CASE=${e%%|*}; d=$T/m_$CASE; rm -rf "$d"; cp -r tests/fixtures/models/llava "$d"
  python3 -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); c['model_type']=sys.argv[2]; json.dump(c, open(p, 'w'))" \
    "$d/config.json" "$CASE"
  expect 1 "$VTC" compress --model "$d" "$IMG" -o "$OUT"
  grep -q -- "${e#*|}" "$T/err" && ok || bad "$CASE: $(cat "$T/err")"
done
CASE=""

# --- tensors whose shapes disagree with the config / each other, missing tensors
for e in \
  "ts[P+'encoder.layers.0.mlp.fc1.weight'][1] = [32, 64]" \
  "ts[P+'embeddings.position_embedding.weight'][1] = [394, 16]" \
  "ts[P+'embeddings.position_embedding.weight'][1] = [32, 197]" \
  "ts[P+'encoder.layers.1.self_attn.q_proj.bias'][1] = [2, 16]" \
  "ts[P+'embeddings.patch_embedding.weight'][1] = [32, 12, 8, 8]" \
  "ts[P+'embeddings.patch_embedding.weight'][1] = [16, 3, 16, 32]" \
  "del ts[P+'encoder.layers.1.mlp.fc2.bias']" \
  "del ts[P+'encoder.layers.2.mlp.fc1.weight']" \
  "del ts[P+'embeddings.position_embedding.weight']" \
  "ts[P+'encoder.layers.0.mlp.fc1.weight'][0] = 'I32'" \
  ; do
  i=$((i+1)); d=$(model_with shape$i "" "$e"); CASE=$e
  expect 1 "$VTC" compress --model "$d" "$IMG" -o "$OUT"
done

# --- NaN / Inf weights (F32, F16, BF16)
CASE="one NaN in layers.0.mlp.fc1.weight"
NAN_MODEL=$(model_with nan "" "w = ts[P+'encoder.layers.0.mlp.fc1.weight']; w[2] = w[2][:400] + NAN + w[2][404:]")
expect 1 "$VTC" compress --model "$NAN_MODEL" "$IMG" -o "$OUT"
for e in \
  "w = ts[P+'encoder.layers.2.layer_norm2.bias']; w[2] = w[2][:-4] + INF" \
  "w = ts[P+'embeddings.class_embedding']; w[2] = struct.pack('<f', float('-inf')) + w[2][4:]" \
  "ts[P+'encoder.layers.0.mlp.fc1.weight'] = ['F16', [64, 32], b'\\x00\\x3c' * 2047 + b'\\x00\\x7e']" \
  "ts[P+'encoder.layers.0.mlp.fc1.weight'] = ['BF16', [64, 32], b'\\x80\\x3f' * 2047 + b'\\x80\\x7f']" \
  ; do
  i=$((i+1)); d=$(model_with nan$i "" "$e"); CASE=$e
  expect 1 "$VTC" compress --model "$d" "$IMG" -o "$OUT"
done
CASE=""
fi # python3

# --- videos that are not (whole) videos
for v in audio.wav trunc.mp4 garbage.avi cover.mp3; do
  [ -f "tests/fixtures/video/$v" ] || continue
  expect 1 "$VTC" compress --model "$M" "tests/fixtures/video/$v" -o "$OUT"
  expect 1 "$VTC" encode --model "$M" "tests/fixtures/video/$v" --fps 1 -o "$OUT"
done
expect 1 "$VTC" encode --model "$M" tests/fixtures/video/gap.mkv --fps 4 -o "$OUT"   # sample times past 2^52
head -c 20000 "$VID" > "$T/half.mp4"
expect_0_or_1 "$VTC" compress --model "$M" "$T/half.mp4" --frames 4 -o "$OUT"

# --- token files for `vtc prune`: real `vtc encode` outputs, then rewritten
capture "$VTC" encode --model "$M" "$IMG" -o "$T/feat.safetensors"
[ "$rc" = 0 ] && ok || bad "encode for the token-file cases failed (exit $rc)"
capture "$VTC" compress --model "$M" "$IMG" --method cls --keep 8 -o "$T/kept.safetensors"
[ "$rc" = 0 ] && ok || bad "compress for the token-file cases failed (exit $rc)"
expect 1 "$VTC" prune "$T/kept.safetensors" --method cls --keep 4 -o "$OUT"   # kept tokens are not features
if [ "$HAVE_PY" = 1 ]; then
  i=0
  for e in \
    "del ts['features']" \
    "del meta['grid']" \
    "meta = None" \
    "meta['grid'] = '1,14,15'" \
    "meta['grid'] = '0,14,14'" \
    "meta['grid'] = '1,14,14x'" \
    "meta['grid'] = '1,14'" \
    "meta['grid'] = '4294967297,14,14'" \
    "meta['grid'] = '1323003836,30871,3161593'" \
    "ts['features'][1] = [196 * 32]" \
    "ts['features'][1] = [98, 64]" \
    "ts['features'][1] = [196, 16, 2]" \
    "ts['features'] = ['F32', [196, 0], b'']" \
    "ts['features'][0] = 'I32'" \
    "ts['cls_attn'][1] = [195]; ts['cls_attn'][2] = ts['cls_attn'][2][:-4]" \
    "ts['cls_attn'][1] = [98, 2]" \
    "ts['keys'][1] = [195, 8]; ts['keys'][2] = ts['keys'][2][:-32]" \
    "ts['keys'][1] = [196 * 8]" \
    "ts['cls'][1] = [2, 16]" \
    "ts['embeds'] = ['F32', [195, 4], bytes(195 * 16)]" \
    "ts['features'][2] = NAN + ts['features'][2][4:]" \
    "ts['cls_attn'][2] = INF + ts['cls_attn'][2][4:]" \
    "ts['embeds'] = ['F32', [196, 4], NAN * 196 * 4]" \
    "del ts['cls_attn']" \
    ; do
    i=$((i+1)); python3 "$T/st.py" "$T/feat.safetensors" "$T/tok$i.safetensors" "$e"; CASE=$e
    expect 1 "$VTC" prune "$T/tok$i.safetensors" --method cls --keep 8 -o "$OUT"
  done
  python3 "$T/st.py" "$T/feat.safetensors" "$T/nokeys.safetensors" "del ts['keys']"; CASE="del ts['keys']"
  expect 1 "$VTC" prune "$T/nokeys.safetensors" --method visionzip --keep 8 -o "$OUT"
  # an anyres image's features (LLaVA-NeXT, 1 + 2x2 tiles) with a layout that does not fit
  NEXT=tests/fixtures/models/llava-next
  capture "$VTC" encode --model "$NEXT" tests/fixtures/ref_images/wide600x400.jpg -o "$T/tiled.safetensors"
  [ "$rc" = 0 ] && ok || bad "encode of an anyres image failed (exit $rc)"
  for e in \
    "meta['tiling'] = 'anyres 600x400 2x3 8,0,32,48 32x48'" \
    "meta['tiling'] = 'anyres 600x400 2x2 8,0,48,48 48x48'" \
    "meta['tiling'] = 'anyres 600x400 2x2 -8,0,32,48 32x48'" \
    "meta['tiling'] = 'anyres 600x400 2x2 8,0,32,48 40x48'" \
    "meta['tiling'] = 'anyres 600x400 2x2 8,0,32,48'" \
    "meta['tiling'] = 'tiles'" \
    "meta['newline'] = 'column'" \
    "meta['newline'] = 'end'" \
    "del meta['tiling']" \
    ; do
    i=$((i+1)); python3 "$T/st.py" "$T/tiled.safetensors" "$T/tok$i.safetensors" "$e"; CASE=$e
    expect 1 "$VTC" prune "$T/tok$i.safetensors" --model "$NEXT" --method cls --keep 64 -o "$OUT"
  done
  CASE=""
fi

# --- impossible values (cli_pipeline.sh has --keep abc / -3, --frames 0, --frames + --fps)
for k in 0 0% 0.0 150% -5% % nan inf 1.5 1e10 1e400 0x10 '' ' 5' '5 '; do
  expect 2 "$VTC" compress --model "$M" "$IMG" --method cls --keep "$k" -o "$OUT"
  expect 2 "$VTC" prune "$T/feat.safetensors" --method cls --keep "$k" -o "$OUT"
done
# budgets the input cannot meet: an input error (VTC_ERR_NEEDS), not a usage error
expect 1 "$VTC" compress --model "$M" "$IMG" --method cls --keep 1000 -o "$OUT"   # more than the 196 tokens
expect 1 "$VTC" prune "$T/feat.safetensors" --method cls --keep 197 -o "$OUT"
expect 1 "$VTC" prune "$T/feat.safetensors" --method vq --param k=197 -o "$OUT"
long="per_frame=$(printf "%02100d" 1)"   # past the 2047 characters of --param: refused as such, not cut
expect 2 "$VTC" prune "$T/feat.safetensors" --method random --keep 8 --param "$long" -o "$OUT"
grep -q 'more than 2047 characters' "$T/err" && ok || bad "prune: a --param past 2047 characters: $(cat "$T/err")"
expect 2 "$VTC" compress --model "$M" "$IMG" --method random --keep 8 --param "$long" -o "$OUT"
grep -q 'more than 2047 characters' "$T/err" && ok || bad "compress: a --param past 2047 characters: $(cat "$T/err")"
for p in "dycoke k" "dycoke =1" "dycoke k=" "dycoke k=abc" "dycoke k=2" "dycoke k=1" "dycoke k=0" "dycoke k=nan" \
         "dycoke k=inf" "dycoke k=-0.5" "dycoke k=0.5,k=0.6" "dycoke bogus=1" "random per_frame=2" \
         "random per_frame=0.5" "none size=2" "pool size=-1" "pool size=1e9" "vq kmin=40,kmax=12" "vq iters=0" \
         "vq tol=-1" "cls per_frame=1=1"; do
  set -- $p
  expect 2 "$VTC" compress --model "$M" "$IMG" --method "$1" --param "$2" -o "$OUT"
  expect 2 "$VTC" prune "$T/feat.safetensors" --method "$1" --keep 8 --param "$2" -o "$OUT"
done
many=""; for j in $(seq 33); do many="$many --param per_frame=1"; done
expect 2 "$VTC" compress --model "$M" "$IMG" --method cls $many -o "$OUT"
expect 2 "$VTC" compress --model "$M" "$IMG" --method cls --param per_frame=1 --param per_frame=0 -o "$OUT"
for f in -1 abc 1.5 100001 '' 1e3 0x4; do
  expect 2 "$VTC" compress --model "$M" "$VID" --frames "$f" -o "$OUT"
done
expect 1 "$VTC" compress --model "$M" "$VID" --frames 5000 -o "$OUT"              # over the frame limit
expect 1 "$VTC" compress --model "$M" "$VID" --frames 3 --max-frames 2 -o "$OUT"
for f in 0 -1 nan inf abc 1001 1e-7 ''; do
  expect 2 "$VTC" compress --model "$M" "$VID" --fps "$f" -o "$OUT"
done
for t in 0 -1 1025 abc 1.5 ''; do
  expect 2 "$VTC" compress --model "$M" "$IMG" --threads "$t" -o "$OUT"
done
for l in 0 1025 -1025 abc 1.5 '' 4 -4 10; do                       # clip224 has 3 blocks
  expect 2 "$VTC" compress --model "$M" "$IMG" --layer "$l" -o "$OUT"
done
for s in 0 9 abc; do expect 2 "$VTC" compress --model "$M" "$IMG" --pool "$s" -o "$OUT"; done
for s in -1 abc 1e3; do expect 2 "$VTC" compress --model "$M" "$IMG" --seed "$s" -o "$OUT"; done
expect 2 "$VTC" compress --model "$M" "$IMG" --max-pixels 0 -o "$OUT"
expect 1 "$VTC" compress --model "$M" "$IMG" --max-pixels 100 -o "$OUT"
expect 2 "$VTC" compress --model "$M" "$IMG" --lm nosuch -o "$OUT"
expect 2 "$VTC" compress --model "$M" "$IMG" "$IMG" -o "$OUT"
expect 2 "$VTC" compress --model "$M" "$IMG" -n 4 -o "$OUT"                       # needs --decoder
expect 2 "$VTC" encode --model "$M" "$IMG" --method cls -o "$OUT"
expect 2 "$VTC" prune "$T/feat.safetensors" --keep 8 -o "$OUT"                    # no --method
expect 2 "$VTC" prune "$T/feat.safetensors" --method nosuch --keep 8 -o "$OUT"
expect 2 "$VTC" prune "$T/feat.safetensors" --method cls --keep 8                 # no -o
expect 2 "$VTC" prune "$T/feat.safetensors" --method cls --keep 8 --param k -o "$OUT"
expect 2 "$VTC" prune "$T/feat.safetensors" --method cls --keep 8 -o ''

# --- outputs that cannot be written, or must not be replaced
expect 1 "$VTC" compress --model "$M" "$IMG" -o "$O"                              # a directory
expect 1 "$VTC" compress --model "$M" "$IMG" -o "$OUT" --report "$T/nodir/r.json"  # token file must go too
expect 1 "$VTC" compress --model "$M" "$IMG" -o "$OUT" --report "$O"
expect 1 "$VTC" compress --model "$M" "$IMG" -o "$OUT" --viz "$T/nodir/v.png"
# a file name that is not UTF-8 is still a name: it is read, and the JSON report
# carries its bytes escaped (the token file records no path: docs/formats.md)
cp "$IMG" "$T/caf$(printf '\351').png"
capture "$VTC" compress --model "$M" "$T/caf$(printf '\351').png" -o "$T/latin1.safetensors" --json
[ "$rc" = 0 ] && [ -s "$T/latin1.safetensors" ] && jq -e '.input | test("caf")' "$T/out" >/dev/null && ok ||
  bad "a Latin-1 file name: exit $rc, or no token file, or the report's input is not valid JSON"
# ... and a failed command leaves the previous output as it was
capture "$VTC" compress --model "$M" "$IMG" --method cls --keep 8 -o "$T/prev.safetensors"
[ "$rc" = 0 ] && ok || bad "compress for the previous-output cases failed (exit $rc)"
cp "$T/prev.safetensors" "$T/prev.copy"
expect 1 "$VTC" compress --model "$M" "$IMG" --method cls --keep 4 -o "$T/prev.safetensors" --report "$T/nodir/r.json"
expect 1 "$VTC" compress --model "$M" "$IMG" --method cls --keep 4 -o "$T/prev.safetensors" --viz "$T/nodir/v.png"
cmp -s "$T/prev.safetensors" "$T/prev.copy" && ok || bad "a failed --report / --viz replaced the previous token file"
[ -z "$(find "$T" -name '*.vtc-staged')" ] && ok || bad "staged token files left: $(find "$T" -name '*.vtc-staged')"
if command -v mkfifo >/dev/null 2>&1 && mkfifo "$T/fifo"; then
  # the atomic rename would replace a FIFO (or, as root, /dev/null) with a regular file
  expect 1 "$VTC" compress --model "$M" "$IMG" -o "$T/fifo"
  [ -p "$T/fifo" ] && ok || bad "-o FIFO: the FIFO was replaced by a regular file"
  expect 1 "$VTC" compress --model "$M" "$IMG" -o "$T/fifo" --viz "$T/fifo.png"   # staged, then renamed
  [ -p "$T/fifo" ] && ok || bad "-o FIFO --viz: the FIFO was replaced by a regular file"
fi
[ -z "$(find "$T" -name '*.tmp.*')" ] && ok || bad "temporary files left: $(find "$T" -name '*.tmp.*')"

# --- a handful under valgrind: no memory error, no leak, on the error paths and one success
# (not for a sanitizer build: valgrind cannot run ASan/TSan binaries, and they check themselves)
if grep -qa -e __asan_init -e __tsan_init "$VTC" 2>/dev/null; then
  note "$VTC is a sanitizer build, valgrind checks skipped"
elif ! command -v valgrind >/dev/null 2>&1; then
  note "valgrind not installed, memory checks skipped"
elif ! valgrind -q --log-file="$T/vg.log" "$VTC" --version >/dev/null 2>&1; then
  # valgrind itself cannot run the binary on some CPUs: 3.19 stops with SIGILL in libhwy's
  # start-up code (FFmpeg -> libjxl -> libhwy) on AMD EPYC; ASan in CI covers the same paths
  note "valgrind cannot run $VTC --version on this machine, memory checks skipped:"
  grep -m 3 -e 'signal' -e 'opcode' -e 'at 0x' "$T/vg.log" | sed 's/^/  | /'
else
  vg() {
    want=$1; shift
    $TO valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,possible \
      --log-file="$T/vg.log" "$@" >/dev/null 2>"$T/err"; rc=$?
    if [ "$rc" != "$want" ] || [ -s "$T/vg.log" ]; then
      bad "valgrind: exit $rc (want $want): $*"; show 20 "$T/vg.log"
    else ok; fi
    clear_o
  }
  vg 0 "$VTC" compress --model "$M" "$IMG" --method cls --keep 8 -o "$OUT"
  vg 1 "$VTC" compress --model "$M" tests/fixtures/images/bad_trunc.jpg -o "$OUT"
  vg 1 "$VTC" compress --model tests/fixtures/files/hostile/st_dup_name.safetensors "$IMG" -o "$OUT"
  vg 1 "$VTC" compress --model tests/fixtures/files/hostile/g_dup_tensor.gguf "$IMG" -o "$OUT"
  vg 1 "$VTC" compress --model "$M" tests/fixtures/video/trunc.mp4 -o "$OUT"
  [ -n "${NAN_MODEL:-}" ] && vg 1 "$VTC" compress --model "$NAN_MODEL" "$IMG" -o "$OUT"
  [ -f "$T/tok4.safetensors" ] && vg 1 "$VTC" prune "$T/tok4.safetensors" --method cls --keep 8 -o "$OUT"
  vg 1 "$VTC" prune "$T/feat.safetensors" --method cls --keep 197 -o "$OUT"
fi

finish
