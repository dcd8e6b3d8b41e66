#!/usr/bin/python3
"""Writes the encoder parity fixtures: tiny seeded random-weight models of the exact
CLIP, SigLIP and LLaVA architectures, in Hugging Face safetensors layouts (F32, F16,
BF16; single file and sharded) and as a legacy llama.cpp LLaVA mmproj GGUF, plus the
outputs of the float64 reference (tools/vtc_ref.py) on two real-photo images.

    /usr/bin/python3 tools/gen_model_fixtures.py [--out DIR]   # default: tests/fixtures

Deterministic: the same bytes on every run. Writes under DIR:
  models/clip224/         CLIPVisionModel 224/16, 3 layers, quick_gelu, F32, one file
  models/clip336/         CLIPVisionModel 336/14, 4 layers, gelu (erf), F16, legacy preprocessor json
  models/siglip384/       SiglipVisionModel 384/16, 3 layers, gelu_pytorch_tanh, BF16, with the
                          attention-pooling head a real checkpoint carries (vtc must ignore it)
  models/llava/           llava-hf LlavaForConditionalGeneration: CLIP 336/14 (4 layers) +
                          projector to 48, F32, two shards + index, a few language_model.* tensors
  models/mmproj-legacy.gguf  models/llava as llama.cpp's legacy convert_image_encoder_to_gguf.py
                          writes LLaVA-1.5 (last block and post-LN dropped, fc1 -> ffn_down)
  ref_images/             photo.jpg (200x150 cut of a real photo), portrait_rgba.png (121x180,
                          RGBA with a varying alpha that convert('RGB') drops)
  expected/<model>__<image>__<aspect>__<layer>.safetensors   the reference outputs, F32
  (each expected file's metadata holds pixels_fnv1a64, a hash of the model input [3,S,S] F32 —
                          after pad/resize/crop, before rescale and normalise)
  expected/MANIFEST.txt   one line per case (format in its header)

The reference runs on the weights read back from the files written (F16/BF16 rounded).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
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
               act="gelu_pytorch_tanh", eps=1e-6, mean=R.SIGLIP_MEAN, std=R.SIGLIP_STD)
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


def make_mmproj(path, cfg_llava, w, proj, vc):
    """What `convert_image_encoder_to_gguf.py -m clip-vit-large-patch14-336 --llava-projector
    llava.projector` writes (no vision_feature_layer in that config): projector tensors first
    (mm.0/mm.2 from model.mm_projector.0/2; 2-D -> F16, 1-D -> F32), then the vision
    state_dict minus post_layernorm and minus the last block (block_count = layers - 1):
    4-D always F16, 2-D '.weight' F16, the rest F32."""
    L = cfg_llava["layers"]
    tensors = []

    def add(name, arr):
        arr = np.asarray(arr, np.float32)
        if arr.ndim == 4 or (arr.ndim == 2 and name.endswith(".weight")):
            tensors.append((name, arr.astype(np.float16), R.GGML_F16))
        else:
            tensors.append((name, arr, R.GGML_F32))

    for hf, gg in (("linear_1", "mm.0"), ("linear_2", "mm.2")):
        add(gg + ".weight", proj[hf + ".weight"])
        add(gg + ".bias", proj[hf + ".bias"])
    add("v.class_embd", w["embeddings.class_embedding"])
    add("v.patch_embd.weight", w["embeddings.patch_embedding.weight"])
    add("v.position_embd.weight", w["embeddings.position_embedding.weight"])
    add("v.pre_ln.weight", w["pre_layrnorm.weight"])
    add("v.pre_ln.bias", w["pre_layrnorm.bias"])
    for l in range(L - 1):
        for hf in STATE_DICT_ORDER:
            for suf in ("weight", "bias"):
                add(f"v.blk.{l}.{LEGACY_BLOCK_NAMES[hf]}.{suf}", w[f"encoder.layers.{l}.{hf}.{suf}"])
    S, U32, B = R.GGUF_STR, R.GGUF_U32, R.GGUF_BOOL
    kvs = [("general.architecture", S, "clip"), ("clip.has_text_encoder", B, False),
           ("clip.has_vision_encoder", B, True), ("clip.has_llava_projector", B, True),
           ("general.file_type", U32, 1), ("general.name", S, "vtc-tiny-clip-vit-336"),
           ("general.description", S, "image encoder for LLaVA"), ("clip.projector_type", S, "mlp"),
           ("clip.vision.image_size", U32, vc["image_size"]), ("clip.vision.patch_size", U32, vc["patch_size"]),
           ("clip.vision.embedding_length", U32, vc["hidden_size"]),
           ("clip.vision.feed_forward_length", U32, vc["intermediate_size"]),
           ("clip.vision.projection_dim", U32, vc["projection_dim"]),  # CLIP's own, not the LM width
           ("clip.vision.attention.head_count", U32, vc["num_attention_heads"]),
           ("clip.vision.attention.layer_norm_epsilon", R.GGUF_F32, vc["layer_norm_eps"]),
           ("clip.vision.block_count", U32, L - 1),
           ("clip.vision.image_mean", R.GGUF_ARR, (R.GGUF_F32, R.CLIP_MEAN)),
           ("clip.vision.image_std", R.GGUF_ARR, (R.GGUF_F32, R.CLIP_STD)),
           ("clip.use_gelu", B, vc["hidden_act"] == "gelu")]
    R.write_gguf(path, kvs, tensors)

    # Read it back and map to transformers names for the reference.
    kv, types, t, infos = R.read_gguf(path)
    assert kv["clip.vision.block_count"] == L - 1 and "v.post_ln.weight" not in t
    assert types["clip.vision.attention.layer_norm_epsilon"] == R.GGUF_F32
    inv = {v: k for k, v in LEGACY_BLOCK_NAMES.items()}
    back, proj_back = {}, {}
    top = {"v.class_embd": "embeddings.class_embedding", "v.patch_embd.weight": "embeddings.patch_embedding.weight",
           "v.position_embd.weight": "embeddings.position_embedding.weight", "v.pre_ln.weight": "pre_layrnorm.weight",
           "v.pre_ln.bias": "pre_layrnorm.bias"}
    for name, arr in t.items():
        a = torch.from_numpy(arr.astype(np.float64))
        if name.startswith("mm."):
            proj_back[name.replace("mm.0", "linear_1").replace("mm.2", "linear_2")] = a
        elif name in top:
            back[top[name]] = a
        else:
            _, _, l, gg, suf = name.split(".")
            back[f"encoder.layers.{l}.{inv[gg]}.{suf}"] = a
    assert back["encoder.layers.0.mlp.fc1.weight"].shape == (cfg_llava["ffn"], cfg_llava["hidden"])
    assert [i[1] for i in infos if i[0] == "v.patch_embd.weight"][0] == [14, 14, 3, 32]  # ggml order
    return dict(cfg_llava, layers=L - 1), back, proj_back


# ---------------------------------------------------------------- reference outputs

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
    for d in ("clip224", "clip336", "siglip384", "llava"):
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

    # (model, image, aspect, feature layer): every model on both images, crop and pad on
    # every CLIP geometry, an explicit early layer, and the SigLIP / CLIP paths where
    # cls_attn_last needs blocks past the feature block.
    cases = [("clip224", photo, "crop", -1), ("clip224", photo, "crop", 1),
             ("clip224", photo, "pad", -1), ("clip224", portrait, "pad", -2),
             ("clip336", photo, "crop", -2), ("clip336", portrait, "crop", -2),
             ("siglip384", photo, "resize", -1), ("siglip384", portrait, "resize", -1),
             ("siglip384", photo, "resize", -2),
             ("llava", photo, "pad", -2), ("llava", portrait, "pad", -2),
             ("mmproj", photo, "pad", -1), ("mmproj", portrait, "pad", -1)]
    manifest, pixel_files = [], {}
    print(f"{'case':48s} {'effN cls_attn':>13s} {'last':>6s} {'xcheck':>8s}")
    for model, img, aspect, layer in cases:
        mpath, cfg, w, proj = m[model]
        S = cfg["image_size"]
        u8 = R.model_input(R.load_rgb(os.path.join(images, img)), S, aspect, cfg["mean"])
        stem = os.path.splitext(img)[0]
        px_name = f"pixels/{stem}__{S}__{aspect}.png"
        if px_name in pixel_files:
            assert (pixel_files[px_name] == u8).all(), px_name  # pad colour is the CLIP mean throughout
        else:
            pixel_files[px_name] = u8
        px = R.normalise(u8, cfg["mean"], cfg["std"])
        # the model input is checked by a hash of its float32 bytes (vtc's matches bit for bit),
        # which keeps the fixtures small: FNV-1a 64 over [3, S, S] little-endian float32
        h = 0xcbf29ce484222325
        for byte in np.ascontiguousarray(px, dtype="<f4").tobytes():
            h = ((h ^ byte) * 0x100000001b3) & 0xffffffffffffffff
        out, blk, err = run_case(cfg, w, proj, px, layer)
        name = f"{model}__{stem}__{aspect}__{layer}.safetensors"
        g = S // cfg["patch"]
        fl = R.encoder_flops_parts(cfg, blk, True)
        meta = {"model": mpath, "image": "tests/fixtures/ref_images/" + img, "aspect": aspect,
                "feature_layer": layer, "feature_block": blk, "n_layers": cfg["layers"], "grid": f"1,{g},{g}",
                "arch": cfg["arch"], "pixels_fnv1a64": f"{h:016x}",
                "image_mean": ",".join(repr(x) for x in cfg["mean"]),
                "image_std": ",".join(repr(x) for x in cfg["std"]),
                "flops_encoder": fl["total"], "flops_patch_embed": fl["patch_embed"], "flops_block": fl["block"],
                "flops_last_stat": fl["last_stat"], "tolerance": TOLERANCE,
                "reference": "tools/vtc_ref.py (PyTorch float64)"}
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
    with open(os.path.join(expected, "MANIFEST.txt"), "w") as f:
        f.write("# Encoder parity cases, written by tools/gen_model_fixtures.py; reference: tools/vtc_ref.py\n"
                "# (PyTorch float64 on the weights as stored). One case per line, space-separated:\n"
                "#   <expected file in this folder> <model path> <image> <aspect crop|pad|resize>\n"
                "#   <feature layer, transformers' vision_feature_layer index>\n"
                "# Each file's metadata pixels_fnv1a64 hashes the model input [3,S,S] float32.\n"
                f"# Tolerance: max |vtc - ref| / max |ref| <= {TOLERANCE} per tensor (float32 vs float64).\n")
        f.write("\n".join(manifest) + "\n")
    print(f"{len(manifest)} cases, {len(pixel_files)} pixel images")


if __name__ == "__main__":
    main()
