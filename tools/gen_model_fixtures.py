#!/usr/bin/python3
"""Writes the encoder parity fixtures: tiny seeded random-weight models of the exact
CLIP, SigLIP, LLaVA, LLaVA-NeXT and LLaVA-OneVision architectures, in Hugging Face
safetensors layouts (F32, F16, BF16; single file and sharded) and as legacy llama.cpp
mmproj GGUFs (LLaVA-1.5 and LLaVA-1.6), plus the outputs of the float64 references
(tools/vtc_ref.py, tools/ref_families.py) on real-photo images and a 4-frame clip.

    /usr/bin/python3 tools/gen_model_fixtures.py [--out DIR]   # default: tests/fixtures

Deterministic: the same bytes on every run (the clip needs the ffmpeg tool). Writes under DIR:
  models/clip224/         CLIPVisionModel 224/16, 3 layers, quick_gelu, F32, one file
  models/clip336/         CLIPVisionModel 336/14, 4 layers, gelu (erf), F16, legacy preprocessor json
  models/siglip384/       SiglipVisionModel 384/16, 3 layers, gelu_pytorch_tanh, BF16, with the
                          attention-pooling head a real checkpoint carries (vtc must ignore it)
  models/llava/           llava-hf LlavaForConditionalGeneration: CLIP 336/14 (4 layers) +
                          projector to 48, F32, two shards + index, a few language_model.* tensors
  models/mmproj-legacy.gguf  models/llava as llama.cpp's legacy convert_image_encoder_to_gguf.py
                          writes LLaVA-1.5 (last block and post-LN dropped, fc1 -> ffn_down)
  models/siglip384p14/    SiglipVisionModel at so400m's geometry 384/14 (27x27), width 48, 3 heads
  models/siglip384p14-noconfig/  the same weights without config.json
  models/siglip384p14.gguf  models/siglip384p14 through the legacy converter as a vision-only
                          SigLIP tower (no projector, v.post_ln and the pooling head kept)
  models/siglip224p16/    SiglipModel (image + text towers) 224/16 as google/siglip-base-patch16-224
  models/llava-next/      llava-hf LlavaNextForConditionalGeneration (CLIP 336/14, newline, F16, 2 shards)
  models/mmproj-llava16.gguf  models/llava-next through llava_surgery_v2.py + the legacy converter
  models/llava-next-multi/  models/llava-next with vision_feature_layer [-3, -1] (projector 64 -> 48)
  models/mmproj-llava16-multi.gguf  models/llava-next-multi the same way (feature_layer [2, 4])
  models/onevision/       llava-hf LlavaOnevisionForConditionalGeneration (SigLIP 384/14, F16)
  ref_images/             photo.jpg (200x150 cut of a real photo), portrait_rgba.png (121x180,
                          RGBA with a varying alpha that convert('RGB') drops), seven JPEGs of
                          other aspect ratios (FAMILY_IMAGES) and clip4.mkv (4 frames, FFV1)
  expected/<model>__<image>__<aspect>__<layer>.safetensors   the reference outputs, F32 / I32
  (each expected file's metadata holds FNV-1a hashes of the model input(s) [3,S,S] F32 —
                          after pad/resize/crop/tiling, before rescale and normalise)
  expected/MANIFEST.txt   one line per case (format in its header)

The reference runs on the weights read back from the files written (F16/BF16 rounded).
Every tensor convention is in tools/README.md.
"""
import argparse
import json
import math
import os
import shutil
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_families as RF  # noqa: E402
import vtc_ref as R  # noqa: E402

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PHOTO_SRC = "/usr/lib/python3/dist-packages/skimage/data/coffee.png"  # R. Michetti, CC0
PORTRAIT_SRC = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"  # NASA, public domain

# Max |vtc - ref| / max |ref| per tensor that a float32 implementation should meet.
TOLERANCE = "1e-4"


# ---------------------------------------------------------------- weights

def rand_vision(rng, arch, size, patch, D, F, layers):
    """transformers-named vision weights (no vision_model. prefix), float32.
    Layer norms get weights around 1 and biases around 0 (so a swapped or missing
    one shows); q and k are scaled up so attention has real structure."""
    g = size // patch
    n_pos = g * g + (1 if arch == "clip" else 0)
    w = {"embeddings.patch_embedding.weight": rng.normal(0, 0.08, (D, 3, patch, patch))}
    if arch == "clip":
        w["embeddings.class_embedding"] = rng.normal(0, 1.0, D)
    else:
        w["embeddings.patch_embedding.bias"] = rng.normal(0, 0.1, D)
    w["embeddings.position_embedding.weight"] = rng.normal(0, 0.5, (n_pos, D))
    if arch == "clip":
        w["pre_layrnorm.weight"] = 1 + rng.normal(0, 0.1, D)
        w["pre_layrnorm.bias"] = rng.normal(0, 0.1, D)
    s = 1 / np.sqrt(D)
    for l in range(layers):
        p = f"encoder.layers.{l}."
        for nm, sc in (("q_proj", 2.5), ("k_proj", 2.5), ("v_proj", 1.0), ("out_proj", 0.7)):
            w[p + f"self_attn.{nm}.weight"] = rng.normal(0, sc * s, (D, D))
            w[p + f"self_attn.{nm}.bias"] = rng.normal(0, 0.05, D)
        for ln in ("layer_norm1", "layer_norm2"):
            w[p + ln + ".weight"] = 1 + rng.normal(0, 0.1, D)
            w[p + ln + ".bias"] = rng.normal(0, 0.1, D)
        w[p + "mlp.fc1.weight"] = rng.normal(0, s, (F, D))
        w[p + "mlp.fc1.bias"] = rng.normal(0, 0.05, F)
        w[p + "mlp.fc2.weight"] = rng.normal(0, 0.7 / np.sqrt(F), (D, F))
        w[p + "mlp.fc2.bias"] = rng.normal(0, 0.05, D)
    w["post_layernorm.weight"] = 1 + rng.normal(0, 0.1, D)
    w["post_layernorm.bias"] = rng.normal(0, 0.1, D)
    return {k: np.asarray(v, np.float32) for k, v in w.items()}


def siglip_head(rng, D, F):
    """SiglipMultiheadAttentionPoolingHead (vision_model.head.*): present in real
    checkpoints, unused for features."""
    w = {"head.probe": rng.normal(0, 1, (1, 1, D)),
         "head.attention.in_proj_weight": rng.normal(0, 0.2, (3 * D, D)),
         "head.attention.in_proj_bias": rng.normal(0, 0.05, 3 * D),
         "head.attention.out_proj.weight": rng.normal(0, 0.2, (D, D)),
         "head.attention.out_proj.bias": rng.normal(0, 0.05, D),
         "head.layernorm.weight": 1 + rng.normal(0, 0.1, D), "head.layernorm.bias": rng.normal(0, 0.1, D),
         "head.mlp.fc1.weight": rng.normal(0, 0.2, (F, D)), "head.mlp.fc1.bias": rng.normal(0, 0.05, F),
         "head.mlp.fc2.weight": rng.normal(0, 0.2, (D, F)), "head.mlp.fc2.bias": rng.normal(0, 0.05, D)}
    return {k: np.asarray(v, np.float32) for k, v in w.items()}


def rand_projector(rng, D, L):
    return {"linear_1.weight": rng.normal(0, 1 / np.sqrt(D), (L, D)).astype(np.float32),
            "linear_1.bias": rng.normal(0, 0.05, L).astype(np.float32),
            "linear_2.weight": rng.normal(0, 1 / np.sqrt(L), (L, L)).astype(np.float32),
            "linear_2.bias": rng.normal(0, 0.05, L).astype(np.float32)}


def cast(w, dtype):
    """What to write for float32 w stored as dtype."""
    return {"F32": lambda a: a, "F16": lambda a: a.astype(np.float16), "BF16": R.BF16}[dtype](w)


def strip(tensors, prefix):
    """{prefix + name: array} -> {name: float64 torch tensor} for the reference."""
    return {k[len(prefix):]: torch.from_numpy(np.asarray(v, np.float64)) for k, v in tensors.items()
            if k.startswith(prefix)}


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def clip_vision_config(size, patch, D, F, heads, layers, act, eps=1e-5):
    return {"model_type": "clip_vision_model", "hidden_size": D, "intermediate_size": F,
            "num_attention_heads": heads, "num_hidden_layers": layers, "image_size": size, "patch_size": patch,
            "hidden_act": act, "layer_norm_eps": eps, "num_channels": 3, "projection_dim": 24,
            "attention_dropout": 0.0}


# ---------------------------------------------------------------- images

def make_images(d):
    os.makedirs(d, exist_ok=True)
    # A 200x150 cut (no resampling) of a real photo (coffee cup, spoon, wood grain),
    # saved as a baseline 4:2:0 JPEG. 224: int(224 * 200 / 150) = 298 (round() gives 299).
    Image.open(PHOTO_SRC).convert("RGB").crop((300, 60, 500, 210)).save(os.path.join(d, "photo.jpg"), quality=90)
    # A 121x180 cut of the astronaut photo with an alpha that varies in both axes
    # (fully transparent corners included); RGB under alpha is kept as stored.
    # 121 wide: int(336 * 180 / 121) = 499 (round() gives 500), odd centre-crop margins.
    rgb = Image.open(PORTRAIT_SRC).convert("RGB").crop((170, 20, 291, 200))
    yy, xx = np.mgrid[0:180, 0:121]
    alpha = np.clip(255 * (0.2 + 0.9 * xx / 120 - 0.5 * yy / 179), 0, 255).astype(np.uint8)
    rgba = Image.fromarray(np.dstack([np.asarray(rgb), alpha]), "RGBA")
    rgba.save(os.path.join(d, "portrait_rgba.png"))
    return ["photo.jpg", "portrait_rgba.png"]


# ---------------------------------------------------------------- models

def make_clip224(rng, d):
    cfg = dict(arch="clip", image_size=224, patch=16, hidden=32, heads=4, ffn=64, layers=3, act="quick_gelu",
               eps=1e-5, mean=R.CLIP_MEAN, std=R.CLIP_STD)
    w = rand_vision(rng, "clip", 224, 16, 32, 64, 3)
    R.write_safetensors(os.path.join(d, "model.safetensors"), {"vision_model." + k: v for k, v in w.items()},
                        {"format": "pt"})
    write_json(os.path.join(d, "config.json"), dict(architectures=["CLIPVisionModel"], torch_dtype="float32",
                                                    **clip_vision_config(224, 16, 32, 64, 4, 3, "quick_gelu")))
    write_json(os.path.join(d, "preprocessor_config.json"), {
        "crop_size": {"height": 224, "width": 224}, "do_center_crop": True, "do_convert_rgb": True,
        "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": R.CLIP_MEAN,
        "image_processor_type": "CLIPImageProcessor", "image_std": R.CLIP_STD, "resample": 3,
        "rescale_factor": 1 / 255, "size": {"shortest_edge": 224}})
    t, _ = R.read_safetensors(os.path.join(d, "model.safetensors"))
    return cfg, strip(t, "vision_model."), None


def make_clip336(rng, d):
    cfg = dict(arch="clip", image_size=336, patch=14, hidden=32, heads=2, ffn=64, layers=4, act="gelu", eps=1e-5,
               mean=R.CLIP_MEAN, std=R.CLIP_STD)
    w = rand_vision(rng, "clip", 336, 14, 32, 64, 4)
    R.write_safetensors(os.path.join(d, "model.safetensors"),
                        {"vision_model." + k: cast(v, "F16") for k, v in w.items()}, {"format": "pt"})
    write_json(os.path.join(d, "config.json"), dict(architectures=["CLIPVisionModel"], torch_dtype="float16",
                                                    **clip_vision_config(336, 14, 32, 64, 2, 4, "gelu")))
    # the legacy (CLIPFeatureExtractor) form openai/clip-vit-large-patch14-336 ships: sizes as ints
    write_json(os.path.join(d, "preprocessor_config.json"), {
        "crop_size": 336, "do_center_crop": True, "do_normalize": True, "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": R.CLIP_MEAN, "image_std": R.CLIP_STD,
        "resample": 3, "size": 336})
    t, _ = R.read_safetensors(os.path.join(d, "model.safetensors"))
    return cfg, strip(t, "vision_model."), None


def make_siglip384(rng, rng_extra, d):
    cfg = dict(arch="siglip", image_size=384, patch=16, hidden=32, heads=4, ffn=64, layers=3,
               act="gelu_pytorch_tanh", eps=1e-6, mean=R.SIGLIP_MEAN, std=R.SIGLIP_STD, post_ln_last=True)
    w = rand_vision(rng, "siglip", 384, 16, 32, 64, 3)
    w.update(siglip_head(rng_extra, 32, 64))
    R.write_safetensors(os.path.join(d, "model.safetensors"),
                        {"vision_model." + k: cast(v, "BF16") for k, v in w.items()}, {"format": "pt"})
    write_json(os.path.join(d, "config.json"), {
        "architectures": ["SiglipVisionModel"], "model_type": "siglip_vision_model", "hidden_size": 32,
        "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 3, "image_size": 384,
        "patch_size": 16, "num_channels": 3, "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6,
        "attention_dropout": 0.0, "vision_use_head": True, "torch_dtype": "bfloat16"})
    write_json(os.path.join(d, "preprocessor_config.json"), {
        "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": R.SIGLIP_MEAN,
        "image_processor_type": "SiglipImageProcessor", "image_std": R.SIGLIP_STD, "processor_class": "SiglipProcessor",
        "resample": 3, "rescale_factor": 1 / 255, "size": {"height": 384, "width": 384}})
    t, _ = R.read_safetensors(os.path.join(d, "model.safetensors"))
    return cfg, strip(t, "vision_model."), None


def make_llava(rng, rng_extra, d):
    """llava-hf layout, F32, two shards in state_dict order (vision tower, projector,
    language model) with an index whose weight_map is sorted, as save_pretrained does."""
    cfg = dict(arch="clip", image_size=336, patch=14, hidden=32, heads=4, ffn=64, layers=4, act="quick_gelu",
               eps=1e-5, mean=R.CLIP_MEAN, std=R.CLIP_STD)
    w = rand_vision(rng, "clip", 336, 14, 32, 64, 4)
    proj = rand_projector(rng, 32, 48)
    lm = {"language_model.model.embed_tokens.weight": rng.normal(0, 1, (16, 48)).astype(np.float32)}
    lm.update({"language_model.model.layers.0.self_attn.q_proj.weight": rng_extra.normal(0, 0.1, (48, 48)),
               "language_model.model.layers.0.input_layernorm.weight": 1 + rng_extra.normal(0, 0.1, 48),
               "language_model.model.norm.weight": 1 + rng_extra.normal(0, 0.1, 48),
               "language_model.lm_head.weight": rng_extra.normal(0, 0.1, (16, 48))})
    names = {"vision_tower.vision_model." + k: v for k, v in w.items()}
    names.update({"multi_modal_projector." + k: v for k, v in proj.items()})
    names.update({k: np.asarray(v, np.float32) for k, v in lm.items()})
    keys = list(names)
    cut = int(len(keys) * 0.6)  # the vision tower spans both shards
    shards = {"model-00001-of-00002.safetensors": keys[:cut], "model-00002-of-00002.safetensors": keys[cut:]}
    wmap = {}
    for fn, ks in shards.items():
        R.write_safetensors(os.path.join(d, fn), {k: names[k] for k in ks}, {"format": "pt"})
        wmap.update({k: fn for k in ks})
    write_json(os.path.join(d, "model.safetensors.index.json"),
               {"metadata": {"total_size": int(sum(v.nbytes for v in names.values()))},
                "weight_map": dict(sorted(wmap.items()))})
    vc = clip_vision_config(336, 14, 32, 64, 4, 4, "quick_gelu")
    write_json(os.path.join(d, "config.json"), {
        "architectures": ["LlavaForConditionalGeneration"], "model_type": "llava", "ignore_index": -100,
        "image_token_index": 15, "image_aspect_ratio": "pad", "projector_hidden_act": "gelu",
        "vision_feature_layer": -2, "vision_feature_select_strategy": "default", "torch_dtype": "float32",
        "vision_config": vc,
        "text_config": {"model_type": "llama", "hidden_size": 48, "intermediate_size": 96, "num_hidden_layers": 1,
                        "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 16,
                        "rms_norm_eps": 1e-5}})
    write_json(os.path.join(d, "preprocessor_config.json"), {
        "crop_size": {"height": 336, "width": 336}, "do_center_crop": True, "do_convert_rgb": True,
        "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": R.CLIP_MEAN,
        "image_processor_type": "CLIPImageProcessor", "image_std": R.CLIP_STD, "processor_class": "LlavaProcessor",
        "resample": 3, "rescale_factor": 1 / 255, "size": {"shortest_edge": 336}})
    back = {}
    for fn in shards:
        back.update(R.read_safetensors(os.path.join(d, fn))[0])
    return cfg, strip(back, "vision_tower.vision_model."), strip(back, "multi_modal_projector."), w, proj, vc


# The legacy converter's renaming (get_tensor_name), for the names LLaVA-1.5 has.
LEGACY_BLOCK_NAMES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
                      "self_attn.out_proj": "attn_out", "layer_norm1": "ln1", "layer_norm2": "ln2",
                      "mlp.fc1": "ffn_down", "mlp.fc2": "ffn_up"}
# CLIPEncoderLayer's state_dict order: self_attn (k, v, q, out), layer_norm1, mlp (fc1, fc2), layer_norm2.
STATE_DICT_ORDER = ["self_attn.k_proj", "self_attn.v_proj", "self_attn.q_proj", "self_attn.out_proj", "layer_norm1",
                    "mlp.fc1", "mlp.fc2", "layer_norm2"]


def legacy_tensor(name, arr):
    """convert_image_encoder_to_gguf.py's storage rule at its default ftype 1: 4-D tensors
    and 2-D '.weight' tensors F16, the rest F32 (its projector loop stores every 2-D
    or 4-D tensor F16, which is the same set for mm.*)."""
    arr = np.asarray(arr, np.float32)
    if arr.ndim == 4 or (arr.ndim == 2 and name.endswith(".weight")):
        return name, arr.astype(np.float16), R.GGML_F16
    return name, arr, R.GGML_F32


def legacy_vision_tensors(w, n_blocks):
    """CLIPVisionModel's state_dict in the converter's names, blocks 0..n_blocks-1,
    post_layernorm skipped (has_llava_projector)."""
    out = [legacy_tensor("v.class_embd", w["embeddings.class_embedding"]),
           legacy_tensor("v.patch_embd.weight", w["embeddings.patch_embedding.weight"]),
           legacy_tensor("v.position_embd.weight", w["embeddings.position_embedding.weight"]),
           legacy_tensor("v.pre_ln.weight", w["pre_layrnorm.weight"]),
           legacy_tensor("v.pre_ln.bias", w["pre_layrnorm.bias"])]
    for l in range(n_blocks):
        for hf in STATE_DICT_ORDER:
            for suf in ("weight", "bias"):
                out.append(legacy_tensor(f"v.blk.{l}.{LEGACY_BLOCK_NAMES[hf]}.{suf}", w[f"encoder.layers.{l}.{hf}.{suf}"]))
    return out


def legacy_vision_kvs(name, vc, n_blocks):
    """The converter's KV pairs up to clip.vision.block_count, in its order."""
    S, U32, B = R.GGUF_STR, R.GGUF_U32, R.GGUF_BOOL
    return [("general.architecture", S, "clip"), ("clip.has_text_encoder", B, False),
            ("clip.has_vision_encoder", B, True), ("clip.has_llava_projector", B, True),
            ("general.file_type", U32, 1), ("general.name", S, name),
            ("general.description", S, "image encoder for LLaVA"), ("clip.projector_type", S, "mlp"),
            ("clip.vision.image_size", U32, vc["image_size"]), ("clip.vision.patch_size", U32, vc["patch_size"]),
            ("clip.vision.embedding_length", U32, vc["hidden_size"]),
            ("clip.vision.feed_forward_length", U32, vc["intermediate_size"]),
            ("clip.vision.projection_dim", U32, vc["projection_dim"]),  # CLIP's own, not the LM width
            ("clip.vision.attention.head_count", U32, vc["num_attention_heads"]),
            ("clip.vision.attention.layer_norm_epsilon", R.GGUF_F32, vc.get("layer_norm_eps", 1e-5)),
            ("clip.vision.block_count", U32, n_blocks)]


def legacy_tail_kvs(vc):
    """image_mean/std (the converter's CLIP defaults: no processor is loaded for a
    vision-only model) and clip.use_gelu (hidden_act == "gelu"; quick_gelu -> False)."""
    return [("clip.vision.image_mean", R.GGUF_ARR, (R.GGUF_F32, R.CLIP_MEAN)),
            ("clip.vision.image_std", R.GGUF_ARR, (R.GGUF_F32, R.CLIP_STD)),
            ("clip.use_gelu", R.GGUF_BOOL, vc["hidden_act"] == "gelu")]


def read_legacy_gguf(path, cfg):
    """A legacy mmproj read back in transformers names: (vision weights, projector,
    image_newline or None) as float64 tensors."""
    kv, types, t, infos = R.read_gguf(path)
    assert "v.post_ln.weight" not in t and types["clip.vision.attention.layer_norm_epsilon"] == R.GGUF_F32
    inv = {v: k for k, v in LEGACY_BLOCK_NAMES.items()}
    back, proj_back, newline = {}, {}, None
    top = {"v.class_embd": "embeddings.class_embedding", "v.patch_embd.weight": "embeddings.patch_embedding.weight",
           "v.position_embd.weight": "embeddings.position_embedding.weight", "v.pre_ln.weight": "pre_layrnorm.weight",
           "v.pre_ln.bias": "pre_layrnorm.bias"}
    for name, arr in t.items():
        a = torch.from_numpy(arr.astype(np.float64))
        if name == "model.image_newline":
            newline = a
        elif name.startswith("mm."):
            proj_back[name.replace("mm.0", "linear_1").replace("mm.2", "linear_2")] = a
        elif name in top:
            back[top[name]] = a
        else:
            _, _, l, gg, suf = name.split(".")
            back[f"encoder.layers.{l}.{inv[gg]}.{suf}"] = a
    assert back["encoder.layers.0.mlp.fc1.weight"].shape == (cfg["ffn"], cfg["hidden"])
    p = cfg["patch"]
    assert [i[1] for i in infos if i[0] == "v.patch_embd.weight"][0] == [p, p, 3, cfg["hidden"]]  # ggml order
    return kv, back, proj_back, newline


def make_mmproj(path, cfg_llava, w, proj, vc):
    """What `convert_image_encoder_to_gguf.py -m clip-vit-large-patch14-336 --llava-projector
    llava.projector` writes (no vision_feature_layer in that config): projector tensors first
    (mm.0/mm.2 from model.mm_projector.0/2; 2-D -> F16, 1-D -> F32), then the vision
    state_dict minus post_layernorm and minus the last block (block_count = layers - 1):
    4-D always F16, 2-D '.weight' F16, the rest F32."""
    L = cfg_llava["layers"]
    tensors = []
    for hf, gg in (("linear_1", "mm.0"), ("linear_2", "mm.2")):
        tensors.append(legacy_tensor(gg + ".weight", proj[hf + ".weight"]))
        tensors.append(legacy_tensor(gg + ".bias", proj[hf + ".bias"]))
    tensors += legacy_vision_tensors(w, L - 1)
    R.write_gguf(path, legacy_vision_kvs("vtc-tiny-clip-vit-336", vc, L - 1) + legacy_tail_kvs(vc), tensors)
    kv, back, proj_back, _ = read_legacy_gguf(path, cfg_llava)
    assert kv["clip.vision.block_count"] == L - 1
    return dict(cfg_llava, layers=L - 1), back, proj_back


# ---------------------------------------------------------------- model families (issue 29)

def siglip_preprocessor(size):
    """SiglipImageProcessor's preprocessor_config.json as google/siglip-* ship it."""
    return {"do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": R.SIGLIP_MEAN,
            "image_processor_type": "SiglipImageProcessor", "image_std": R.SIGLIP_STD,
            "processor_class": "SiglipProcessor", "resample": 3, "rescale_factor": 1 / 255,
            "size": {"height": size, "width": size}}


def write_sorted(path, tensors):
    """A safetensors file as the Rust serializer lays it out (one dtype: names sorted)."""
    R.write_safetensors(path, {k: tensors[k] for k in sorted(tensors)}, {"format": "pt"})


def make_siglip384p14(d, d_noconfig):
    """SiglipVisionModel at so400m's geometry: 384/14 is a 27x27 grid (729 patches, the
    last 6 pixel rows and columns never seen), width 48 with 3 heads (head count not
    width/64), 3 blocks, F32 as google/siglip-so400m-patch14-384 ships, post_layernorm
    and the pooling head present. config.json as save_pretrained writes it: only what
    differs from SiglipVisionConfig's defaults (no hidden_act, layer_norm_eps,
    num_channels: gelu_pytorch_tanh, 1e-6, 3). d_noconfig: the same weights file and
    preprocessor_config.json, no config.json (the head count is then undetermined)."""
    rng = np.random.default_rng(38414)
    D, Fd, H, L = 48, 64, 3, 3
    cfg = dict(arch="siglip", image_size=384, patch=14, hidden=D, heads=H, ffn=Fd, layers=L, act="gelu_pytorch_tanh",
               eps=1e-6, mean=R.SIGLIP_MEAN, std=R.SIGLIP_STD, post_ln_last=True)
    w = rand_vision(rng, "siglip", 384, 14, D, Fd, L)
    w.update(siglip_head(rng, D, Fd))
    write_sorted(os.path.join(d, "model.safetensors"), {"vision_model." + k: v for k, v in w.items()})
    write_json(os.path.join(d, "config.json"), {
        "architectures": ["SiglipVisionModel"], "hidden_size": D, "image_size": 384, "intermediate_size": Fd,
        "model_type": "siglip_vision_model", "num_attention_heads": H, "num_hidden_layers": L, "patch_size": 14,
        "torch_dtype": "float32"})
    write_json(os.path.join(d, "preprocessor_config.json"), siglip_preprocessor(384))
    for f in ("model.safetensors", "preprocessor_config.json"):
        shutil.copyfile(os.path.join(d, f), os.path.join(d_noconfig, f))
    if os.path.exists(os.path.join(d_noconfig, "config.json")):
        os.remove(os.path.join(d_noconfig, "config.json"))
    t, _ = R.read_safetensors(os.path.join(d, "model.safetensors"))
    return cfg, strip(t, "vision_model."), None


# SiglipVisionModel's state_dict order: embeddings (patch conv weight, bias, position
# table), encoder.layers.N as CLIPEncoderLayer's (SiglipEncoderLayer registers
# self_attn k, v, q, out, layer_norm1, mlp fc1, fc2, layer_norm2), post_layernorm, then
# SiglipMultiheadAttentionPoolingHead (probe, nn.MultiheadAttention's in_proj_weight,
# in_proj_bias, out_proj, layernorm, mlp).
SIGLIP_HEAD_ORDER = ["head.probe", "head.attention.in_proj_weight", "head.attention.in_proj_bias",
                     "head.attention.out_proj.weight", "head.attention.out_proj.bias", "head.layernorm.weight",
                     "head.layernorm.bias", "head.mlp.fc1.weight", "head.mlp.fc1.bias", "head.mlp.fc2.weight",
                     "head.mlp.fc2.bias"]


def siglip_state_dict_order(layers, head):
    names = ["embeddings.patch_embedding.weight", "embeddings.patch_embedding.bias",
             "embeddings.position_embedding.weight"]
    for l in range(layers):
        names += [f"encoder.layers.{l}.{hf}.{suf}" for hf in STATE_DICT_ORDER for suf in ("weight", "bias")]
    return ["vision_model." + n for n in names + ["post_layernorm.weight", "post_layernorm.bias"]
            + (SIGLIP_HEAD_ORDER if head else [])]


def legacy_generic_name(name):
    """convert_image_encoder_to_gguf.py get_tensor_name's last line, literally (the names
    a CLIP or SigLIP vision tower reaches): 'in_proj_weight' becomes 'in_weight',
    post_layernorm 'post_ln', head.layernorm 'head.ln', mlp.fc1 'ffn_down'."""
    return (name.replace("text_model", "t").replace("vision_model", "v").replace("encoder.layers", "blk")
            .replace("embeddings.", "").replace("_proj", "").replace("self_attn.", "attn_").replace("layer_norm", "ln")
            .replace("layernorm", "ln").replace("mlp.fc1", "ffn_down").replace("mlp.fc2", "ffn_up")
            .replace("embedding", "embd").replace("final", "post").replace("layrnorm", "ln"))


def make_siglip_gguf(path, st_dir):
    """siglip384p14/ (SiglipVisionModel, F32, 3 blocks, post_layernorm and pooling head)
    as llama.cpp's legacy convert_image_encoder_to_gguf.py writes it with
    `-m DIR --clip-model-is-vision --clip-model-is-siglip --vision-only
    --image-mean 0.5 0.5 0.5 --image-std 0.5 0.5 0.5`, DIR holding the weights and a
    hand-written config.json: siglip384p14/config.json plus _name_or_path, hidden_act
    gelu_pytorch_tanh and layer_norm_eps 1e-6 (the converter reads v_hparams["hidden_act"]
    and ["layer_norm_eps"] with no default, and save_pretrained leaves both out as
    SiglipVisionConfig's defaults). --vision-only is needed: without it or
    --llava-projector, has_text_encoder stays True and `assert t_hparams is not None`
    fails for --clip-model-is-vision. --image-mean/std: no processor is loaded for
    SigLIP, the default is CLIP's mean/std.
    What it writes: no projector (has_llava_projector False, no clip.projector_type),
    description "vision-only CLIP model", projection_dim 0, block_count =
    num_hidden_layers (every block kept: no feature layer, no projector), the full
    SiglipVisionModel state_dict in order through get_tensor_name's generic chain:
    v.patch_embd.{weight,bias}, v.position_embd.weight, v.blk.N.* (fc1 -> ffn_down),
    v.post_ln.* (kept: only a llava projector drops it), v.head.* (the pooling head:
    probe, attention.in_weight/in_bias, attention.out.*, ln, ffn_down/ffn_up); each
    squeeze()d (probe [1,1,D] -> [D]); ftype 1: 4-D and 2-D '.weight' F16, the rest F32
    (v.head.attention.in_weight is 2-D but ends '_weight': F32). clip.use_gelu =
    (hidden_act == "gelu") = False: the legacy format has no way to say
    gelu_pytorch_tanh, and clip.cpp (and vtc) read False as quick GELU.
    Returns the reference cfg (act from clip.use_gelu as clip.cpp reads it, eps, mean
    and std as stored) and the tower weights read back (head dropped)."""
    t, _ = R.read_safetensors(os.path.join(st_dir, "model.safetensors"))
    hf = json.load(open(os.path.join(st_dir, "config.json")))
    hand = dict(hf, _name_or_path="vtc-tiny-siglip-so400m-p14-384", hidden_act="gelu_pytorch_tanh",
                layer_norm_eps=1e-6)
    order = siglip_state_dict_order(hand["num_hidden_layers"], head=True)
    assert sorted(order) == sorted(t), set(order) ^ set(t)
    for l, hfn in enumerate(STATE_DICT_ORDER):  # the generic chain gives the legacy block names
        assert legacy_generic_name(f"vision_model.encoder.layers.{l}.{hfn}.weight") == \
            f"v.blk.{l}.{LEGACY_BLOCK_NAMES[hfn]}.weight"
    tensors = [legacy_tensor(legacy_generic_name(n), np.asarray(t[n], np.float32).squeeze()) for n in order]
    S, U32, B, F32 = R.GGUF_STR, R.GGUF_U32, R.GGUF_BOOL, R.GGUF_F32
    kvs = [("general.architecture", S, "clip"), ("clip.has_text_encoder", B, False),
           ("clip.has_vision_encoder", B, True), ("clip.has_llava_projector", B, False),
           ("general.file_type", U32, 1), ("general.name", S, hand["_name_or_path"]),
           ("general.description", S, "vision-only CLIP model"),
           ("clip.vision.image_size", U32, hand["image_size"]), ("clip.vision.patch_size", U32, hand["patch_size"]),
           ("clip.vision.embedding_length", U32, hand["hidden_size"]),
           ("clip.vision.feed_forward_length", U32, hand["intermediate_size"]),
           ("clip.vision.projection_dim", U32, 0),  # "Siglip does not have a visual projector"
           ("clip.vision.attention.head_count", U32, hand["num_attention_heads"]),
           ("clip.vision.attention.layer_norm_epsilon", F32, hand["layer_norm_eps"]),
           ("clip.vision.block_count", U32, hand["num_hidden_layers"]),
           ("clip.vision.image_mean", R.GGUF_ARR, (F32, [0.5, 0.5, 0.5])),
           ("clip.vision.image_std", R.GGUF_ARR, (F32, [0.5, 0.5, 0.5])),
           ("clip.use_gelu", B, hand["hidden_act"] == "gelu")]
    R.write_gguf(path, kvs, tensors)

    kv, types, back, infos = R.read_gguf(path)
    assert "clip.projector_type" not in kv and not any(n.startswith("mm.") for n in back)
    assert [i[0] for i in infos] == [x[0] for x in tensors] and "v.post_ln.weight" in back
    assert back["v.head.attention.in_weight"].dtype == np.float32 and back["v.head.probe"].shape == (48,)
    assert [i[1] for i in infos if i[0] == "v.patch_embd.weight"][0] == [14, 14, 3, 48]  # ggml order
    inv = {legacy_generic_name(n): n[len("vision_model."):] for n in order if ".head." not in n}
    w = {inv[n]: torch.from_numpy(np.asarray(a, np.float64)) for n, a in back.items() if n in inv}
    cfg = dict(arch="siglip", image_size=kv["clip.vision.image_size"], patch=kv["clip.vision.patch_size"],
               hidden=kv["clip.vision.embedding_length"], heads=kv["clip.vision.attention.head_count"],
               ffn=kv["clip.vision.feed_forward_length"], layers=kv["clip.vision.block_count"],
               act="gelu" if kv["clip.use_gelu"] else "quick_gelu",
               eps=kv["clip.vision.attention.layer_norm_epsilon"], mean=kv["clip.vision.image_mean"],
               std=kv["clip.vision.image_std"], post_ln_last=True,
               act_note="clip.use_gelu false: quick GELU, as llama.cpp's clip.cpp reads it; the HF tower's "
                        "hidden_act is gelu_pytorch_tanh, which the legacy GGUF keys cannot express")
    assert cfg["act"] == "quick_gelu" and cfg["mean"] == R.SIGLIP_MEAN and len(w) == len(inv)
    return cfg, w, None


def make_siglip224p16(d):
    """SiglipModel (image and text towers) as google/siglip-base-patch16-224 ships it: one
    F32 file with logit_scale, logit_bias, text_model.* and vision_model.*, and a
    config.json of model_type "siglip" whose vision_config lists only what differs from
    SiglipVisionConfig's defaults (image_size 224, hidden_act and layer_norm_eps are
    defaults, so absent). 224/16 = 14x14 patches, width 32, 2 heads, 2 blocks; vtc
    reads the vision tower only."""
    rng = np.random.default_rng(22416)
    D, Fd, H, L = 32, 64, 2, 2
    cfg = dict(arch="siglip", image_size=224, patch=16, hidden=D, heads=H, ffn=Fd, layers=L, act="gelu_pytorch_tanh",
               eps=1e-6, mean=R.SIGLIP_MEAN, std=R.SIGLIP_STD, post_ln_last=True)
    w = rand_vision(rng, "siglip", 224, 16, D, Fd, L)
    w.update(siglip_head(rng, D, Fd))
    text = rand_vision(rng, "siglip", 64, 16, D, Fd, 1)  # a text encoder block has the vision block's tensors
    tt = {"embeddings.token_embedding.weight": rng.normal(0, 0.5, (32, D)).astype(np.float32),
          "embeddings.position_embedding.weight": rng.normal(0, 0.5, (16, D)).astype(np.float32),
          "final_layer_norm.weight": text["post_layernorm.weight"], "final_layer_norm.bias": text["post_layernorm.bias"],
          "head.weight": rng.normal(0, 0.2, (D, D)).astype(np.float32), "head.bias": np.zeros(D, np.float32)}
    tt.update({k: v for k, v in text.items() if k.startswith("encoder.")})
    tensors = {"logit_scale": np.array([2.3], np.float32), "logit_bias": np.array([-10.0], np.float32)}
    tensors.update({"text_model." + k: v for k, v in tt.items()})
    tensors.update({"vision_model." + k: v for k, v in w.items()})
    write_sorted(os.path.join(d, "model.safetensors"), tensors)
    write_json(os.path.join(d, "config.json"), {
        "architectures": ["SiglipModel"], "initializer_factor": 1.0, "model_type": "siglip",
        "text_config": {"hidden_size": D, "intermediate_size": Fd, "max_position_embeddings": 16,
                        "model_type": "siglip_text_model", "num_attention_heads": H, "num_hidden_layers": 1,
                        "vocab_size": 32},
        "torch_dtype": "float32", "transformers_version": "4.37.0.dev0",
        "vision_config": {"hidden_size": D, "intermediate_size": Fd, "model_type": "siglip_vision_model",
                          "num_attention_heads": H, "num_hidden_layers": L, "patch_size": 16}})
    write_json(os.path.join(d, "preprocessor_config.json"), siglip_preprocessor(224))
    t, _ = R.read_safetensors(os.path.join(d, "model.safetensors"))
    return cfg, strip(t, "vision_model."), None


def newline_init(rng, lm):
    """image_newline as LlavaNextModel / LlavaOnevisionModel initialise it: randn / sqrt(lm)."""
    return (rng.normal(0, 1, lm) / np.sqrt(lm)).astype(np.float32)


def make_llava_next(d):
    """llava-hf LlavaNextForConditionalGeneration as llava-hf/llava-v1.6-mistral-7b-hf ships
    it: F16, sharded in state_dict order (image_newline, vision_tower.vision_model.*,
    multi_modal_projector.*, language_model.*) with the index's weight_map sorted, the
    tensors inside each file sorted. CLIP 336/14 (24x24), width 32, 4 heads, 4 blocks,
    quick_gelu; projector 32 -> 48 -> 48; image_newline [48]. config.json copied in
    structure from the real one: image_grid_pinpoints the real five (height, width),
    vision_feature_layer -2, strategy "default", a vision_config without hidden_act or
    layer_norm_eps (CLIPVisionConfig's defaults quick_gelu and 1e-5 apply), text_config
    with hidden_size (the real one leaves Mistral's 4096 default implicit).
    preprocessor_config.json as LlavaNextImageProcessor's; processor_config.json with
    num_additional_image_tokens 1 and patch_size 14 (the processor's token count)."""
    rng = np.random.default_rng(16)
    D, Fd, H, L, LM = 32, 64, 4, 4, 48
    cfg = dict(arch="clip", image_size=336, patch=14, hidden=D, heads=H, ffn=Fd, layers=L, act="quick_gelu",
               eps=1e-5, mean=R.CLIP_MEAN, std=R.CLIP_STD)
    w = rand_vision(rng, "clip", 336, 14, D, Fd, L)
    proj = rand_projector(rng, D, LM)
    names = {"image_newline": newline_init(rng, LM)}
    names.update({"vision_tower.vision_model." + k: v for k, v in w.items()})
    names.update({"multi_modal_projector." + k: v for k, v in proj.items()})
    names.update({"language_model.model.embed_tokens.weight": rng.normal(0, 1, (16, LM)),
                  "language_model.model.layers.0.self_attn.q_proj.weight": rng.normal(0, 0.1, (LM, LM)),
                  "language_model.model.layers.0.input_layernorm.weight": 1 + rng.normal(0, 0.1, LM),
                  "language_model.model.norm.weight": 1 + rng.normal(0, 0.1, LM),
                  "language_model.lm_head.weight": rng.normal(0, 0.1, (16, LM))})
    names = {k: np.asarray(v, np.float32).astype(np.float16) for k, v in names.items()}
    vc = {"hidden_size": D, "image_size": 336, "intermediate_size": Fd, "model_type": "clip_vision_model",
          "num_attention_heads": H, "num_hidden_layers": L, "patch_size": 14, "projection_dim": 24, "vocab_size": 32000}
    fam = write_llava_next(d, names, vc, cfg, -2)
    fam["name"] = "llava-next"
    return fam, vc, names


def write_llava_next(d, names, vc, cfg, feature_layer):
    """make_llava_next's files for F16 tensors `names` (state_dict order) and
    vision_feature_layer (an int or a list); returns the family dict, the weights read
    back from the shards."""
    LM = names["image_newline"].shape[0]
    keys = list(names)
    cut = keys.index("language_model.model.embed_tokens.weight") + 1  # vision, projector, newline in shard 1
    shards = {"model-00001-of-00002.safetensors": keys[:cut], "model-00002-of-00002.safetensors": keys[cut:]}
    wmap = {}
    for fn, ks in shards.items():
        write_sorted(os.path.join(d, fn), {k: names[k] for k in ks})
        wmap.update({k: fn for k in ks})
    write_json(os.path.join(d, "model.safetensors.index.json"),
               {"metadata": {"total_size": int(sum(v.nbytes for v in names.values()))},
                "weight_map": dict(sorted(wmap.items()))})
    write_json(os.path.join(d, "config.json"), {
        "architectures": ["LlavaNextForConditionalGeneration"], "ignore_index": -100,
        "image_grid_pinpoints": RF.LLAVA_NEXT_PINPOINTS, "image_token_index": 15, "model_type": "llava_next",
        "projector_hidden_act": "gelu",
        "text_config": {"_name_or_path": "mistralai/Mistral-7B-Instruct-v0.2", "architectures": ["MistralForCausalLM"],
                        "hidden_size": LM, "intermediate_size": 96, "max_position_embeddings": 32768,
                        "model_type": "mistral", "num_attention_heads": 4, "num_hidden_layers": 1,
                        "num_key_value_heads": 2, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0,
                        "sliding_window": None, "torch_dtype": "bfloat16", "vocab_size": 16},
        "torch_dtype": "float16", "transformers_version": "4.39.0.dev0", "use_image_newline_parameter": True,
        "vision_config": vc, "vision_feature_layer": feature_layer, "vision_feature_select_strategy": "default",
        "vocab_size": 16})
    write_json(os.path.join(d, "preprocessor_config.json"), {
        "aspect_ratio_setting": "anyres", "crop_size": {"height": 336, "width": 336}, "do_center_crop": True,
        "do_convert_rgb": True, "do_normalize": True, "do_pad": True, "do_rescale": True, "do_resize": True,
        "image_grid_pinpoints": RF.LLAVA_NEXT_PINPOINTS, "image_mean": R.CLIP_MEAN,
        "image_processor_type": "LlavaNextImageProcessor", "image_std": R.CLIP_STD,
        "processor_class": "LlavaNextProcessor", "resample": 3, "rescale_factor": 1 / 255,
        "size": {"shortest_edge": 336}})
    write_json(os.path.join(d, "processor_config.json"), {
        "image_token": "<image>", "num_additional_image_tokens": 1, "patch_size": 14,
        "processor_class": "LlavaNextProcessor", "vision_feature_select_strategy": "default"})
    back = {}
    for fn in shards:
        back.update(R.read_safetensors(os.path.join(d, fn))[0])
    return dict(cfg=cfg, w=strip(back, "vision_tower.vision_model."), proj=strip(back, "multi_modal_projector."),
                newline=torch.from_numpy(back["image_newline"].astype(np.float64)), pinpoints=RF.LLAVA_NEXT_PINPOINTS,
                tile=336, layer=feature_layer, strategy="default", max_tiles=None, aspect="anyres", lm=LM,
                num_additional=1)


def make_llava_next_multi(d, names, cfg, vc):
    """LLaVA-NeXT with a multi-layer vision_feature_layer [-3, -1]: llava-next/'s files with
    the same F16 tensors (tower, image_newline, language_model.*: the second shard is
    byte-identical) and vision_config, except a new projector whose linear_1 takes
    D * 2 = 64 inputs (LlavaNextMultiModalProjector: vision_config.hidden_size *
    len(vision_feature_layer)), 64 -> 48 -> 48. transformers concatenates
    hidden_states[-3] (block 2's output) and hidden_states[-1] (block 4's) on the
    feature axis in that order, then drops the CLS row (get_image_features)."""
    rng = np.random.default_rng(1631)
    D, LM = cfg["hidden"], names["image_newline"].shape[0]
    proj = rand_projector(rng, 2 * D, LM)
    multi = dict(names)
    multi.update({"multi_modal_projector." + k: v.astype(np.float16) for k, v in proj.items()})
    fam = write_llava_next(d, multi, vc, cfg, [-3, -1])
    fam["name"] = "llava-next-multi"
    assert fam["proj"]["linear_1.weight"].shape == (LM, 2 * D)
    return fam


def make_mmproj_llava16(path, fam, vc, name="vtc-tiny-llava-next-vision"):
    """llama.cpp's documented path for a llava-hf LLaVA-NeXT checkpoint
    (docs/multimodal/granitevision.md, legacy-models/): llava_surgery_v2.py -C moves the
    vision tower into llava.clip (vision_model.* names) and the projector plus newline
    into llava.projector (the projector shard's keys in safetensors' sorted order, then
    image_newline; all .float()); a vision config.json is written by hand from the
    model's vision_config plus hidden_act, layer_norm_eps, image_grid_pinpoints,
    image_aspect_ratio "anyres", mm_patch_merge_type "spatial_unpad" and
    vision_feature_layer; then convert_image_encoder_to_gguf.py -m DIR --llava-projector
    DIR/llava.projector --clip-model-is-vision. vision_feature_layer -2 of 4 blocks becomes
    feature_layer [3] (non-negative hidden_states index), block_count 3 and the encoder
    cut to blocks 0..2; post_layernorm is skipped. The KV extras follow the converter's
    order: image_grid_pinpoints (INT32, the config's (height, width) pairs flattened as
    written), image_aspect_ratio, mm_patch_merge_type, feature_layer (INT32 array). The
    weights are the HF file's F16 values, so the reference outputs are the HF ones.
    A list (llava-next-multi's [-3, -1]) becomes feature_layer [2, 4] in list order
    (get_non_negative_vision_feature_layers: n + 1 + layer for a negative one), and the
    converter keeps blocks 0 .. max - 1 (encoder.layers[:max(feature_layers)]; here all
    4), block_count = max."""
    cfg = fam["cfg"]
    L = cfg["layers"]
    hand = dict(vc, hidden_act="quick_gelu", layer_norm_eps=1e-5, _name_or_path=name)
    layers = fam["layer"] if isinstance(fam["layer"], list) else [fam["layer"]]
    feature_layers = [L + x + 1 if x < 0 else x for x in layers]
    n_blocks = max(feature_layers)
    f32 = {k: v.numpy().astype(np.float32) for k, v in fam["proj"].items()}
    tensors = [legacy_tensor("mm.0.bias", f32["linear_1.bias"]), legacy_tensor("mm.0.weight", f32["linear_1.weight"]),
               legacy_tensor("mm.2.bias", f32["linear_2.bias"]), legacy_tensor("mm.2.weight", f32["linear_2.weight"]),
               legacy_tensor("model.image_newline", fam["newline"].numpy())]
    tensors += legacy_vision_tensors({k: v.numpy() for k, v in fam["w"].items()}, n_blocks)
    I32, S = R.GGUF_I32, R.GGUF_STR
    kvs = legacy_vision_kvs(hand["_name_or_path"], hand, n_blocks) + [
        ("clip.vision.image_grid_pinpoints", R.GGUF_ARR, (I32, [v for hw in fam["pinpoints"] for v in hw])),
        ("clip.vision.image_aspect_ratio", S, "anyres"), ("clip.vision.mm_patch_merge_type", S, "spatial_unpad"),
        ("clip.vision.feature_layer", R.GGUF_ARR, (I32, feature_layers))] + legacy_tail_kvs(hand)
    R.write_gguf(path, kvs, tensors)
    kv, back, proj_back, newline = read_legacy_gguf(path, cfg)
    assert kv["clip.vision.block_count"] == n_blocks and kv["clip.vision.feature_layer"] == feature_layers
    kept = [k for k in fam["w"] if not k.startswith("post_layernorm")
            and (not k.startswith("encoder.layers.") or int(k.split(".")[2]) < n_blocks)]
    assert sorted(back) == sorted(kept)  # blocks 0 .. max - 1, no post_layernorm
    for k in proj_back:
        assert torch.equal(proj_back[k], fam["proj"][k]), k
    for k in back:
        assert torch.equal(back[k], fam["w"][k]), k
    assert torch.equal(newline, fam["newline"])  # the same values: the HF references serve the GGUF too
    return feature_layers


def make_onevision(d):
    """llava-hf LlavaOnevisionForConditionalGeneration as llava-hf/llava-onevision-qwen2-0.5b-ov-hf
    ships it: one F16 file, SigLIP 384/14 tower (27x27) of width 24 with 3 heads and 3
    blocks whose config agrees with the weights, post_layernorm stored but unused (the
    features are hidden_states[-1]), no pooling head (vision_use_head false); projector
    24 -> 16 -> 16, image_newline [16], a few language_model.* tensors and no lm_head
    (tied). config.json: the real 36 pinpoints (384..2304 both ways, (height, width)),
    vision_feature_layer -1, strategy "full", vision_aspect_ratio "anyres_max_9";
    preprocessor_config.json as the converter saves LlavaOnevisionImageProcessor
    (SigLIP's mean/std 0.5, 384x384, BICUBIC); processor_config.json num_image_tokens 729."""
    rng = np.random.default_rng(14)
    D, Fd, H, L, LM = 24, 48, 3, 3, 16
    cfg = dict(arch="siglip", image_size=384, patch=14, hidden=D, heads=H, ffn=Fd, layers=L, act="gelu_pytorch_tanh",
               eps=1e-6, mean=R.SIGLIP_MEAN, std=R.SIGLIP_STD)
    w = rand_vision(rng, "siglip", 384, 14, D, Fd, L)
    proj = rand_projector(rng, D, LM)
    names = {"image_newline": newline_init(rng, LM)}
    names.update({"vision_tower.vision_model." + k: v for k, v in w.items()})
    names.update({"multi_modal_projector." + k: v for k, v in proj.items()})
    names.update({"language_model.model.embed_tokens.weight": rng.normal(0, 1, (16, LM)),
                  "language_model.model.layers.0.self_attn.q_proj.weight": rng.normal(0, 0.1, (LM, LM)),
                  "language_model.model.layers.0.self_attn.q_proj.bias": rng.normal(0, 0.1, LM),
                  "language_model.model.norm.weight": 1 + rng.normal(0, 0.1, LM)})
    write_sorted(os.path.join(d, "model.safetensors"),
                 {k: np.asarray(v, np.float32).astype(np.float16) for k, v in names.items()})
    pins = RF.ONEVISION_PINPOINTS
    write_json(os.path.join(d, "config.json"), {
        "architectures": ["LlavaOnevisionForConditionalGeneration"], "ignore_index": -100,
        "image_grid_pinpoints": pins, "image_token_index": 14, "model_type": "llava_onevision",
        "projector_hidden_act": "gelu",
        "text_config": {"_name_or_path": "Qwen/Qwen2-0.5B-Instruct", "architectures": ["Qwen2ForCausalLM"],
                        "hidden_size": LM, "intermediate_size": 32, "max_position_embeddings": 32768,
                        "model_type": "qwen2", "num_attention_heads": 2, "num_hidden_layers": 1,
                        "num_key_value_heads": 1, "rope_theta": 1000000.0, "tie_word_embeddings": True,
                        "torch_dtype": "bfloat16", "vocab_size": 16},
        "tie_word_embeddings": True, "torch_dtype": "float16", "transformers_version": "4.45.0.dev0",
        "use_image_newline_parameter": True, "video_token_index": 15, "vision_aspect_ratio": "anyres_max_9",
        "vision_config": {"hidden_act": "gelu_pytorch_tanh", "hidden_size": D, "image_size": 384,
                          "intermediate_size": Fd, "layer_norm_eps": 1e-06, "model_type": "siglip_vision_model",
                          "num_attention_heads": H, "num_hidden_layers": L, "patch_size": 14, "vision_use_head": False},
        "vision_feature_layer": -1, "vision_feature_select_strategy": "full"})
    write_json(os.path.join(d, "preprocessor_config.json"), {
        "do_convert_rgb": True, "do_normalize": True, "do_pad": True, "do_rescale": True, "do_resize": True,
        "image_grid_pinpoints": pins, "image_mean": R.SIGLIP_MEAN,
        "image_processor_type": "LlavaOnevisionImageProcessor", "image_std": R.SIGLIP_STD,
        "processor_class": "LlavaOnevisionProcessor", "resample": 3, "rescale_factor": 1 / 255,
        "size": {"height": 384, "width": 384}})
    write_json(os.path.join(d, "processor_config.json"), {
        "image_token": "<image>", "num_image_tokens": 729, "processor_class": "LlavaOnevisionProcessor",
        "video_token": "<video>", "vision_aspect_ratio": "anyres_max_9", "vision_feature_select_strategy": "full"})
    back, _ = R.read_safetensors(os.path.join(d, "model.safetensors"))
    return dict(name="onevision", cfg=cfg, w=strip(back, "vision_tower.vision_model."),
                proj=strip(back, "multi_modal_projector."),
                newline=torch.from_numpy(back["image_newline"].astype(np.float64)), pinpoints=pins, tile=384,
                layer=-1, strategy="full", max_tiles=9, aspect="anyres_max_9", lm=LM, num_image_tokens=729)


SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data/"
# name: (source in scikit-image's data, crop box or None, JPEG quality); every source is
# CC0 or public domain (tools/README.md names each)
FAMILY_IMAGES = {
    "wide600x400.jpg": ("coffee.png", None, 90),                      # LLaVA-NeXT 2x2, OneVision 2x2
    "square512.jpg": ("astronaut.png", None, 90),                     # LLaVA-NeXT 2x2 with nothing to unpad
    "tall213x427.jpg": ("rocket.jpg", (213, 0, 426, 427), 90),        # LLaVA-NeXT 2x1
    "wide1000x250.jpg": ("hubble_deep_field.jpg", (0, 300, 1000, 550), 90),  # 1x3 (both)
    "tall250x1000.jpg": ("retina.jpg", (580, 205, 830, 1205), 90),    # 3x1 (both)
    "cat451x300.jpg": ("chelsea.png", None, 90),                      # OneVision 1x2
    "large1411x1058.jpg": ("retina.jpg", (0, 176, 1411, 1234), 75),   # OneVision 3x4, anyres_max_9 shrinks
}


def make_family_images(d):
    for name, (src, box, q) in FAMILY_IMAGES.items():
        img = Image.open(SKIMAGE + src).convert("RGB")
        if box:
            img = img.crop(box)
        img.save(os.path.join(d, name), quality=q)


def clip_frames():
    """Four 128x96 frames panning across the coffee photo (a moving crop, no resampling)."""
    img = np.asarray(Image.open(PHOTO_SRC).convert("RGB"))
    return np.stack([img[150 - 6 * t:246 - 6 * t, 250 + 12 * t:378 + 12 * t] for t in range(4)])


def make_clip(path, frames):
    """The frames as an FFV1 (bgr0, lossless) Matroska clip at 4 fps, written by the
    ffmpeg tool with bitexact flags, then decoded back to check it is lossless."""
    import subprocess
    n, h, w, _ = frames.shape
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
                    "-r", "4", "-i", "-", "-c:v", "ffv1", "-pix_fmt", "bgr0", "-fflags", "+bitexact",
                    "-flags:v", "+bitexact", path], input=frames.tobytes(), check=True)
    raw = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    assert np.array_equal(np.frombuffer(raw, np.uint8).reshape(frames.shape), frames), "clip is not lossless"


def fnv1a64(buf):
    h = 0xcbf29ce484222325
    for byte in buf:
        h = ((h ^ byte) * 0x100000001b3) & 0xffffffffffffffff
    return f"{h:016x}"


def pixels_hash(px):
    """FNV-1a 64 over a model input [3, S, S] as little-endian float32 (what vtc hashes)."""
    return fnv1a64(np.ascontiguousarray(px, dtype="<f4").tobytes())


def encode_tiles(fam, tiles_u8):
    """Each tile through the tower: features after the select strategy [T, P, D]
    ([T, P, D * k] for k listed feature layers: transformers' concatenation in list
    order, checked equal to clip.cpp's ascending stack for the GGUF's indices),
    cls_attn [T, P] (vtc_ref's definition at the feature block; the last listed layer's
    for a list), embeds [T, P, lm] and the model-input hashes."""
    cfg = fam["cfg"]
    assert (fam["strategy"] == "default") == (cfg["arch"] == "clip")  # default drops CLIP's CLS; SigLIP has none
    feats, attn, embeds, hashes = [], [], [], []
    for u8 in tiles_u8:
        px = R.normalise(u8, cfg["mean"], cfg["std"])
        out, blk = R.encoder_outputs(fam["w"], cfg, px, fam["layer"], fam["proj"])
        if isinstance(fam["layer"], list):
            hidden = R.vit_forward(fam["w"], cfg, px)[0]
            hf = RF.select_image_features(hidden, fam["layer"], fam["strategy"]).numpy()
            gg = RF.clipcpp_feature_stack(hidden, fam["gguf_layers"])[1:].numpy()
            assert np.array_equal(hf, out["features"]) and np.array_equal(gg, out["features"])
        feats.append(out["features"])
        attn.append(out["cls_attn"])
        embeds.append(out["embeds"])
        hashes.append(pixels_hash(px))
    return np.stack(feats), np.stack(attn), np.stack(embeds), hashes, blk


def family_meta(fam, blk, img_rel, aspect, n_tiles, hashes):
    cfg = fam["cfg"]
    g = cfg["image_size"] // cfg["patch"]
    P = g * g
    layers = fam["layer"] if isinstance(fam["layer"], list) else [fam["layer"]]
    blocks = [R.resolve_feature_layer(x, cfg["layers"]) for x in layers]
    meta = {"model": fam["path"], "image": img_rel, "aspect": aspect, "feature_layer": last_layer(fam["layer"]),
            "feature_block": blk, "n_layers": cfg["layers"], "strategy": fam["strategy"], "arch": cfg["arch"],
            "tile_size": fam["tile"], "grid": f"{g},{g}", "n_tiles": n_tiles, "lm_dim": fam["lm"],
            "tile_pixels_fnv1a64": ",".join(hashes),
            "image_mean": ",".join(repr(x) for x in cfg["mean"]), "image_std": ",".join(repr(x) for x in cfg["std"]),
            "flops_encoder_tile": R.encoder_flops(cfg, max(blocks), want_last=False),
            "flops_projector_tile": R.projector_flops(P, cfg["hidden"] * len(layers), fam["lm"]),
            "tolerance": TOLERANCE, "reference": "tools/ref_families.py + tools/vtc_ref.py (PyTorch float64)"}
    if len(layers) > 1:  # features: the listed layers concatenated in list order; statistics: the last listed
        meta.update({"feature_layers": ",".join(map(str, layers)), "feature_blocks": ",".join(map(str, blocks)),
                     "feature_dim": cfg["hidden"] * len(layers), "stats_block": blk,
                     "gguf_feature_layers": ",".join(map(str, fam["gguf_layers"]))})
    return meta


def anyres_case(fam, images_dir, img, aspect, per_tile):
    """One image through the family's image path: LLaVA-NeXT "anyres", OneVision
    "anyres_max_9", or OneVision's multi-image path "pad" (pad to square, one tile).
    per_tile: which of tile_features, tile_embeds to store besides tile_cls_attn."""
    cfg = fam["cfg"]
    g = cfg["image_size"] // cfg["patch"]
    u8 = np.asarray(R.load_rgb(os.path.join(images_dir, img)))
    H, W = u8.shape[:2]
    multi = aspect == "pad"
    if multi:
        tiles_u8 = [RF.pil_resize(RF.pad_to_square(u8, cfg["mean"]), (fam["tile"], fam["tile"]))]
        geo = {}
    else:
        tiles_u8, geo = RF.anyres_tiles(u8, fam["pinpoints"], fam["tile"])
    feats, attn, embeds, hashes, blk = encode_tiles(fam, tiles_u8)
    packed = RF.pack_image_features(torch.from_numpy(embeds), (H, W), geo.get("tiles_hw"), g, fam["newline"],
                                    fam["max_tiles"]).numpy()
    tile_ids, pos, src, lgeo = RF.pack_layout((H, W), geo.get("tiles_hw"), g, fam["max_tiles"], multi)
    if fam["max_tiles"] is None:  # LLaVA-NeXT (OneVision: anyres_max_9)
        n_proc = RF.next_num_tokens((H, W), fam["pinpoints"], fam["tile"], cfg["patch"], fam["num_additional"],
                                    fam["strategy"])
    else:
        n_proc = RF.onevision_num_tokens((H, W), fam["pinpoints"], fam["tile"], fam["num_image_tokens"],
                                         fam["max_tiles"], multi)
    assert packed.shape[0] == len(tile_ids) == n_proc, (img, packed.shape, len(tile_ids), n_proc)
    # the base rows are the base tile's embeds, each newline row the newline, and every
    # stitched row of an unshrunk grid is its source tile's embed at the layout's position
    assert np.array_equal(packed[:g * g], embeds[0]) and (packed[tile_ids == -1] == fam["newline"].numpy()).all()
    body = tile_ids > 0
    if not lgeo.get("shrunk"):
        cells = (src[body, 0] % g) * g + src[body, 1] % g
        assert np.array_equal(packed[body], embeds[tile_ids[body], cells])
    meta = family_meta(fam, blk, "tests/fixtures/ref_images/" + img, aspect, len(tiles_u8), hashes)
    meta.update({"image_size": f"{W},{H}", "n_tokens": packed.shape[0], "processor_tokens": n_proc})
    if not multi:
        (bh, bw), (th, tw) = geo["best"], geo["tiles_hw"]
        swapped = RF.select_best_resolution((H, W), [[w, h] for h, w in fam["pinpoints"]])
        top, left, rows, cols = lgeo["window"]
        meta.update({"pinpoint": f"{bh},{bw}", "pinpoint_if_wh": f"{swapped[0]},{swapped[1]}",
                     "tiles": f"{th},{tw}", "resized": "{},{}".format(*geo["resized"]),
                     "paste": "{},{}".format(*geo["paste"]), "window": f"{top},{left},{rows},{cols}",
                     "shrunk": "{},{}".format(*lgeo["shrunk"]) if lgeo["shrunk"] else "none",
                     "out_grid": "{},{}".format(*lgeo["grid"])})
    tensors = {"packed": packed.astype(np.float32), "packed_tile": tile_ids, "packed_pos": pos,
               "tile_cls_attn": attn.astype(np.float32)}
    for k, v in (("tile_features", feats), ("tile_embeds", embeds)):
        if k in per_tile:
            tensors[k] = v.astype(np.float32)
    return tensors, meta


def video_case(fam, clip_rel, frames):
    """OneVision's video path: every frame resized to 384x384 (BICUBIC, no aspect kept),
    encoded (hidden_states[-1], strategy "full"), projected, apply_pooling (bilinear to
    14x14), frames concatenated, one image_newline at the end."""
    cfg = fam["cfg"]
    g = cfg["image_size"] // cfg["patch"]
    S = cfg["image_size"]
    feats, attn, embeds, hashes, blk = encode_tiles(fam, [RF.pil_resize(f, (S, S)) for f in frames])
    T = len(frames)
    pooled = RF.apply_pooling(torch.from_numpy(embeds), g).reshape(-1, fam["lm"])
    packed = torch.cat([pooled, fam["newline"][None]]).numpy()
    frame_ids, pos = RF.video_layout(T, g)
    assert packed.shape[0] == len(frame_ids) == RF.video_num_tokens(T, g * g)
    meta = family_meta(fam, blk, clip_rel, "video", T, hashes)
    meta.update({"frames": T, "frame_size": f"{frames.shape[2]},{frames.shape[1]}",
                 "frames_fnv1a64": ",".join(fnv1a64(np.ascontiguousarray(f).tobytes()) for f in frames),
                 "pooled_grid": "{0},{0}".format(math.ceil(g / 2)), "n_tokens": packed.shape[0]})
    tensors = {"packed": packed.astype(np.float32), "packed_frame": frame_ids, "packed_pos": pos,
               "frame_cls_attn": attn.astype(np.float32), "frame_embeds": embeds.astype(np.float32)}
    return tensors, meta


# ---------------------------------------------------------------- reference outputs

def last_layer(layer):
    """The MANIFEST's feature-layer column: the layer itself, or a list's last entry."""
    return layer[-1] if isinstance(layer, list) else layer


def layers_column(layer):
    """The MANIFEST's optional sixth column for a model with a feature-layer list."""
    return " layers=" + ",".join(str(x) for x in layer) if isinstance(layer, list) else ""


def effective_n(a):
    p = a / a.sum()
    return float(np.exp(-(p * np.log(np.maximum(p, 1e-300))).sum()))


def run_case(cfg, w, proj, pixels, layer):
    out, blk = R.encoder_outputs(w, cfg, pixels, layer, proj)
    # sanity: finite, attention rows sum to one, the statistics are structured
    hidden, attns, _ = R.vit_forward(w, cfg, pixels)
    for a in attns:
        assert abs(a.sum(-1) - 1).max() < 1e-12
    assert all(np.isfinite(v).all() for v in out.values())
    N = (cfg["image_size"] // cfg["patch"]) ** 2
    for k in ("cls_attn", "cls_attn_last"):
        a = out[k]
        assert a.shape == (N,) and (a >= 0).all()
        if cfg["arch"] == "clip":
            assert a.sum() <= 1 + 1e-12  # the rest is the CLS token's attention to itself
        else:
            assert abs(a.sum() - 1) < 1e-12
        assert 2 < effective_n(a) < 0.8 * N, (k, effective_n(a))
    err = R.crosscheck_forward(w, cfg, pixels)
    assert err < 1e-10, err
    return out, blk, err


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures"), help="fixtures root")
    args = ap.parse_args()
    models, expected, images = (os.path.join(args.out, d) for d in ("models", "expected", "ref_images"))
    for d in ("clip224", "clip336", "siglip384", "llava", "siglip384p14", "siglip384p14-noconfig", "siglip224p16",
              "llava-next", "llava-next-multi", "onevision"):
        os.makedirs(os.path.join(models, d), exist_ok=True)
    for f in os.listdir(expected):  # stale outputs of earlier case lists
        if f.endswith(".safetensors"):
            os.remove(os.path.join(expected, f))

    rng = np.random.default_rng(20261124)  # model weights
    rng_extra = np.random.default_rng(7)  # tensors vtc must ignore
    photo, portrait = make_images(images)
    rel = "tests/fixtures/models/"
    m = {"clip224": (rel + "clip224",) + make_clip224(rng, os.path.join(models, "clip224")),
         "clip336": (rel + "clip336",) + make_clip336(rng, os.path.join(models, "clip336")),
         "siglip384": (rel + "siglip384",) + make_siglip384(rng, rng_extra, os.path.join(models, "siglip384"))}
    cfg, wb, pb, w, proj, vc = make_llava(rng, rng_extra, os.path.join(models, "llava"))
    m["llava"] = (rel + "llava", cfg, wb, pb)
    m["mmproj"] = (rel + "mmproj-legacy.gguf",) + make_mmproj(os.path.join(models, "mmproj-legacy.gguf"), cfg, w,
                                                                 proj, vc)
    # issue 29's families, each from its own seed (the models above keep their bytes)
    m["siglip384p14"] = (rel + "siglip384p14",) + make_siglip384p14(os.path.join(models, "siglip384p14"),
                                                                     os.path.join(models, "siglip384p14-noconfig"))
    m["siglip224p16"] = (rel + "siglip224p16",) + make_siglip224p16(os.path.join(models, "siglip224p16"))
    next_fam, next_vc, next_names = make_llava_next(os.path.join(models, "llava-next"))
    next_fam["path"] = rel + "llava-next"
    make_mmproj_llava16(os.path.join(models, "mmproj-llava16.gguf"), next_fam, next_vc)
    # the SigLIP tower through the legacy converter; LLaVA-NeXT with two feature layers
    m["siglip384p14-gguf"] = (rel + "siglip384p14.gguf",) + make_siglip_gguf(
        os.path.join(models, "siglip384p14.gguf"), os.path.join(models, "siglip384p14"))
    multi_fam = make_llava_next_multi(os.path.join(models, "llava-next-multi"), next_names, next_fam["cfg"], next_vc)
    multi_fam["path"] = rel + "llava-next-multi"
    multi_fam["gguf_layers"] = make_mmproj_llava16(os.path.join(models, "mmproj-llava16-multi.gguf"), multi_fam,
                                                   next_vc, "vtc-tiny-llava-next-multi-vision")
    ov_fam = make_onevision(os.path.join(models, "onevision"))
    ov_fam["path"] = rel + "onevision"
    make_family_images(images)
    frames = clip_frames()
    make_clip(os.path.join(images, "clip4.mkv"), frames)

    # (model, image, aspect, feature layer): every model on both images, crop and pad on
    # every CLIP geometry, an explicit early layer, and the SigLIP / CLIP paths where
    # cls_attn_last needs blocks past the feature block; SigLIP's last block (post-LN'd
    # for a plain tower) and the one before on both new geometries.
    cases = [("clip224", photo, "crop", -1), ("clip224", photo, "crop", 1),
             ("clip224", photo, "pad", -1), ("clip224", portrait, "pad", -2),
             ("clip336", photo, "crop", -2), ("clip336", portrait, "crop", -2),
             ("siglip384", photo, "resize", 0), ("siglip384", portrait, "resize", 0),
             ("siglip384", photo, "resize", -1), ("siglip384", photo, "resize", -2),
             ("llava", photo, "pad", -2), ("llava", portrait, "pad", -2),
             ("mmproj", photo, "pad", -1), ("mmproj", portrait, "pad", -1),
             ("siglip384p14", photo, "resize", 0), ("siglip384p14", portrait, "resize", 0),
             ("siglip384p14", photo, "resize", -2),
             ("siglip224p16", photo, "resize", 0), ("siglip224p16", portrait, "resize", 0),
             ("siglip224p16", photo, "resize", -2),
             ("siglip384p14-gguf", photo, "resize", 0), ("siglip384p14-gguf", portrait, "resize", 0)]
    manifest, pixel_files = [], {}
    print(f"{'case':48s} {'effN cls_attn':>13s} {'last':>6s} {'xcheck':>8s}")
    for model, img, aspect, layer in cases:
        mpath, cfg, w, proj = m[model]
        S = cfg["image_size"]
        u8 = R.model_input(R.load_rgb(os.path.join(images, img)), S, aspect, cfg["mean"])
        stem = os.path.splitext(img)[0]
        px_key = f"{stem}__{S}__{aspect}"
        if px_key in pixel_files:
            assert (pixel_files[px_key] == u8).all(), px_key  # pad colour is the CLIP mean throughout
        else:
            pixel_files[px_key] = u8
        px = R.normalise(u8, cfg["mean"], cfg["std"])
        out, blk, err = run_case(cfg, w, proj, px, layer)
        name = f"{model}__{stem}__{aspect}__{layer}.safetensors"
        g = S // cfg["patch"]
        fl = R.encoder_flops_parts(cfg, blk, True)
        # the model input is checked by a hash of its float32 bytes (vtc's matches bit for bit),
        # which keeps the fixtures small: FNV-1a 64 over [3, S, S] little-endian float32
        meta = {"model": mpath, "image": "tests/fixtures/ref_images/" + img, "aspect": aspect,
                "feature_layer": layer, "feature_block": blk, "n_layers": cfg["layers"], "grid": f"1,{g},{g}",
                "arch": cfg["arch"], "pixels_fnv1a64": pixels_hash(px),
                "post_layernorm": int(bool(cfg.get("post_ln_last")) and layer == 0),
                "image_mean": ",".join(repr(x) for x in cfg["mean"]),
                "image_std": ",".join(repr(x) for x in cfg["std"]),
                "flops_encoder": fl["total"], "flops_patch_embed": fl["patch_embed"], "flops_block": fl["block"],
                "flops_last_stat": fl["last_stat"], "tolerance": TOLERANCE,
                "reference": "tools/vtc_ref.py (PyTorch float64)"}
        if "act_note" in cfg:  # an activation read from a GGUF key, not the model's own
            meta.update({"act": cfg["act"], "act_note": cfg["act_note"]})
        if proj is not None:
            n_proj = g * g + (cfg["arch"] == "clip")  # vtc projects the CLS token too (cls_embed)
            meta["flops_projector"] = R.projector_flops(n_proj, cfg["hidden"], proj["linear_1.weight"].shape[0])
        order = ("features", "cls", "cls_attn", "cls_attn_last", "keys", "embeds", "cls_embed")
        R.write_safetensors(os.path.join(expected, name),
                            {k: out[k].astype(np.float32) for k in order if k in out}, meta)
        back, _ = R.read_safetensors(os.path.join(expected, name))
        assert all(np.array_equal(back[k], out[k].astype(np.float32)) for k in out)
        manifest.append(f"{name} {mpath} tests/fixtures/ref_images/{img} {aspect} {layer}")
        print(f"{name:48s} {effective_n(out['cls_attn']):13.1f} {effective_n(out['cls_attn_last']):6.1f} "
              f"{err:8.1e}")

    # tiled images and video: (family, image, aspect, per-tile tensors stored besides
    # tile_cls_attn: a few cases only, the size budget); the LLaVA-NeXT HF files serve its
    # legacy GGUF too (the same weights, feature block 3)
    next_images = [photo, portrait, "wide600x400.jpg", "square512.jpg", "tall213x427.jpg", "wide1000x250.jpg",
                   "tall250x1000.jpg"]
    ov_images = [photo, portrait, "cat451x300.jpg", "wide600x400.jpg", "wide1000x250.jpg", "tall250x1000.jpg",
                 "large1411x1058.jpg"]
    both = ("tile_features", "tile_embeds")
    family_cases = ([(next_fam, img, "anyres", ("tile_features",) if img == photo else ()) for img in next_images]
                    + [(multi_fam, img, "anyres", ("tile_features",) if img == photo else ())
                       for img in (photo, "wide600x400.jpg")]
                    + [(ov_fam, img, "anyres_max_9", both if img == photo else ()) for img in ov_images]
                    + [(ov_fam, photo, "pad", both)])
    for x in (next_fam, ov_fam):
        err = R.crosscheck_forward(x["w"], x["cfg"], R.normalise(np.zeros((x["tile"],) * 2 + (3,), np.uint8) + 100,
                                                                 x["cfg"]["mean"], x["cfg"]["std"]))
        assert err < 1e-10, err
    print(f"{'case':48s} {'tiles':>5s} {'pinpoint':>9s} {'grid':>8s} {'tokens':>6s}")
    for fam, img, aspect, per_tile in family_cases:
        tensors, meta = anyres_case(fam, images, img, aspect, per_tile)
        layer = last_layer(fam["layer"])
        name = f"{fam['name']}__{os.path.splitext(img)[0]}__{aspect}__{layer}.safetensors"
        R.write_safetensors(os.path.join(expected, name), tensors, meta)
        manifest.append(f"{name} {fam['path']} tests/fixtures/ref_images/{img} {aspect} {layer}"
                        + layers_column(fam["layer"]))
        if fam is next_fam:
            manifest.append(f"{name} {rel}mmproj-llava16.gguf tests/fixtures/ref_images/{img} {aspect} -1")
        if fam is multi_fam:  # its GGUF keeps blocks up to the deepest listed: -1 is block 4 there too
            manifest.append(f"{name} {rel}mmproj-llava16-multi.gguf tests/fixtures/ref_images/{img} {aspect} -1"
                            + layers_column(fam["gguf_layers"]))
        print(f"{name:48s} {meta['n_tiles']:5d} {meta.get('pinpoint', '-'):>9s} {meta.get('out_grid', '-'):>8s} "
              f"{meta['n_tokens']:6d}")
    tensors, meta = video_case(ov_fam, "tests/fixtures/ref_images/clip4.mkv", frames)
    name = f"onevision__clip4__video__{ov_fam['layer']}.safetensors"
    R.write_safetensors(os.path.join(expected, name), tensors, meta)
    manifest.append(f"{name} {ov_fam['path']} tests/fixtures/ref_images/clip4.mkv video {ov_fam['layer']}")
    print(f"{name:48s} {meta['frames']:5d} {'-':>9s} {meta['pooled_grid']:>8s} {meta['n_tokens']:6d}")

    with open(os.path.join(expected, "MANIFEST.txt"), "w") as f:
        f.write("# Encoder parity cases, written by tools/gen_model_fixtures.py; references: tools/vtc_ref.py,\n"
                "# tools/ref_families.py (PyTorch float64 on the weights as stored). One case per line:\n"
                "#   <expected file in this folder> <model path> <image or clip> <aspect> <feature layer>\n"
                "# aspect: crop | pad | resize (one tile: features, cls, cls_attn, cls_attn_last, keys,\n"
                "#   embeds, cls_embed; metadata pixels_fnv1a64 hashes the model input [3,S,S] float32);\n"
                "#   anyres (LLaVA-NeXT) | anyres_max_9 (LLaVA-OneVision): tiled, packed with newlines;\n"
                "#   pad on a OneVision model: its multi-image path (one padded tile, one newline);\n"
                "#   video (OneVision: every frame, pooled 2x2 bilinear, one newline). These hold packed,\n"
                "#   packed_tile or packed_frame, packed_pos, tile_cls_attn or frame_cls_attn, and\n"
                "#   sometimes tile_features, tile_embeds / frame_embeds (tools/README.md).\n"
                "# Feature layer: transformers' vision_feature_layer index (a legacy GGUF's -1 is its last\n"
                "# block present); 0 = the model's default (a plain SigLIP tower: last_hidden_state, after\n"
                "# post_layernorm; a GGUF: its last block, then v.post_ln when the file has it). The\n"
                "# LLaVA-NeXT files serve both llava-next/ and mmproj-llava16.gguf.\n"
                "# Optional sixth column layers=A,B,...: the model's own feature-layer list, as its file\n"
                "# states it (config.json vision_feature_layer; a GGUF's clip.vision.feature_layer,\n"
                "# non-negative hidden_states indices). The model is then loaded with that list (from its\n"
                "# config, not the caller's params); the fifth column is the LAST listed layer (a GGUF\n"
                "# row: -1, its last listed index being its last block), whose block cls_attn and keys\n"
                "# come from; the features are the listed layers' hidden states concatenated on the\n"
                "# feature axis in list order (ascending here, where transformers' list order and\n"
                "# clip.cpp's block order agree), CLS row dropped, then projected.\n"
                f"# Tolerance: max |vtc - ref| / max |ref| <= {TOLERANCE} per tensor (float32 vs float64).\n")
        f.write("\n".join(manifest) + "\n")
    print(f"{len(manifest)} cases")


if __name__ == "__main__":
    main()
