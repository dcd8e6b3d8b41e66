#!/usr/bin/python3
"""Writes the encoder parity fixtures: tiny seeded random-weight models of the exact
CLIP, SigLIP and LLaVA architectures, in Hugging Face safetensors layouts (F32, F16,
BF16; single file and sharded) and as a legacy llama.cpp LLaVA mmproj GGUF (F16),
plus the reference outputs of tools/vtc_ref.py on two real-photo images.

    /usr/bin/python3 tools/gen_model_fixtures.py     # from the repository root

Outputs (deterministic): tests/fixtures/models/*, tests/fixtures/ref_images/*,
tests/fixtures/expected/*.safetensors and MANIFEST.txt, one line per case:
    <case> <model path> <image> <aspect> <feature_layer>
The reference runs in float64 on exactly the weights the files hold (F16/BF16 rounded).
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import vtc_ref as R  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
FIX = os.path.join(ROOT, "tests", "fixtures")
MODELS, EXPECTED, IMAGES = (os.path.join(FIX, d) for d in ("models", "expected", "ref_images"))


def rand_vision(rng, arch, size, patch, D, heads, F, layers):
    """transformers-named vision weights (no prefix) as float32 numpy."""
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
        # q/k scaled up so the attention has real structure (not near-uniform)
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


def rand_projector(rng, D, L):
    return {"linear_1.weight": rng.normal(0, 1 / np.sqrt(D), (L, D)).astype(np.float32),
            "linear_1.bias": rng.normal(0, 0.05, L).astype(np.float32),
            "linear_2.weight": rng.normal(0, 1 / np.sqrt(L), (L, L)).astype(np.float32),
            "linear_2.bias": rng.normal(0, 0.05, L).astype(np.float32)}


def stored(w, dtype):
    """The values a reader gets back after storing w in dtype, and what to write."""
    if dtype == "F32":
        return w, w
    if dtype == "F16":
        h = w.astype(np.float16)
        return h.astype(np.float32), h
    b = R.BF16(w)
    return b.values.astype(np.float32), b


def torchify(w):
    return {k: torch.from_numpy(np.asarray(v, np.float64)) for k, v in w.items()}


def make_images():
    os.makedirs(IMAGES, exist_ok=True)
    # A real photo (Debian opencv-doc, HappyFish.jpg) cut to 200x150, saved as JPEG.
    src = "/usr/share/doc/opencv-doc/examples/data/HappyFish.jpg"
    img = Image.open(src).convert("RGB")
    img = img.resize((200, 150), Image.BICUBIC)
    img.save(os.path.join(IMAGES, "photo.jpg"), quality=90)
    # skimage's astronaut (public domain, NASA) crop 120x180 with an alpha gradient, as RGBA PNG.
    ast = Image.open("/usr/lib/python3/dist-packages/skimage/data/astronaut.png").convert("RGB")
    ast = ast.crop((150, 40, 390, 400)).resize((120, 180), Image.BICUBIC)
    alpha = Image.linear_gradient("L").resize((120, 180))
    rgba = ast.copy()
    rgba.putalpha(alpha)
    rgba.save(os.path.join(IMAGES, "portrait_rgba.png"))
    return ["photo.jpg", "portrait_rgba.png"]


def main():
    rng = np.random.default_rng(20261124)
    for d in (MODELS, EXPECTED):
        os.makedirs(d, exist_ok=True)
    images = make_images()
    cases = []  # (case, model path, cfg, weights (float), proj, aspect, layer)

    # a. CLIP 224/16, F32, single file, quick_gelu
    cfg_a = dict(arch="clip", image_size=224, patch=16, hidden=32, heads=4, ffn=64, layers=3, act="quick_gelu",
                 eps=1e-5)
    w = rand_vision(rng, "clip", 224, 16, 32, 4, 64, 3)
    d = os.path.join(MODELS, "clip224")
    os.makedirs(d, exist_ok=True)
    R.write_safetensors(os.path.join(d, "model.safetensors"), {"vision_model." + k: v for k, v in w.items()})
    json.dump({"model_type": "clip_vision_model", "hidden_size": 32, "intermediate_size": 64,
               "num_attention_heads": 4, "num_hidden_layers": 3, "image_size": 224, "patch_size": 16,
               "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5}, open(os.path.join(d, "config.json"), "w"), indent=1)
    json.dump({"image_processor_type": "CLIPImageProcessor", "crop_size": {"height": 224, "width": 224},
               "size": {"shortest_edge": 224}, "do_center_crop": True, "image_mean": R.CLIP_MEAN,
               "image_std": R.CLIP_STD}, open(os.path.join(d, "preprocessor_config.json"), "w"), indent=1)
    for img in images:
        cases.append(("clip224", "tests/fixtures/models/clip224", cfg_a, w, None, img, "crop", -1))
    cases.append(("clip224", "tests/fixtures/models/clip224", cfg_a, w, None, images[0], "crop", 1))
    cases.append(("clip224", "tests/fixtures/models/clip224", cfg_a, w, None, images[1], "pad", -2))

    # b. CLIP 336/14, F16, gelu (erf)
    cfg_b = dict(arch="clip", image_size=336, patch=14, hidden=32, heads=2, ffn=64, layers=4, act="gelu", eps=1e-5)
    w = rand_vision(rng, "clip", 336, 14, 32, 2, 64, 4)
    back, write = {}, {}
    for k, v in w.items():
        back[k], write["vision_model." + k] = stored(v, "F16")
    d = os.path.join(MODELS, "clip336")
    os.makedirs(d, exist_ok=True)
    R.write_safetensors(os.path.join(d, "model.safetensors"), write)
    json.dump({"model_type": "clip_vision_model", "hidden_size": 32, "intermediate_size": 64,
               "num_attention_heads": 2, "num_hidden_layers": 4, "image_size": 336, "patch_size": 14,
               "hidden_act": "gelu", "layer_norm_eps": 1e-5}, open(os.path.join(d, "config.json"), "w"), indent=1)
    for img in images:
        cases.append(("clip336", "tests/fixtures/models/clip336", cfg_b, back, None, img, "crop", -2))

    # c. SigLIP 384/16, BF16, gelu_pytorch_tanh, eps 1e-6, mean/std 0.5
    cfg_c = dict(arch="siglip", image_size=384, patch=16, hidden=32, heads=4, ffn=64, layers=3,
                 act="gelu_pytorch_tanh", eps=1e-6)
    w = rand_vision(rng, "siglip", 384, 16, 32, 4, 64, 3)
    back, write = {}, {}
    for k, v in w.items():
        back[k], write["vision_model." + k] = stored(v, "BF16")
    d = os.path.join(MODELS, "siglip384")
    os.makedirs(d, exist_ok=True)
    R.write_safetensors(os.path.join(d, "model.safetensors"), write)
    json.dump({"model_type": "siglip_vision_model", "hidden_size": 32, "intermediate_size": 64,
               "num_attention_heads": 4, "num_hidden_layers": 3, "image_size": 384, "patch_size": 16,
               "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6},
              open(os.path.join(d, "config.json"), "w"), indent=1)
    json.dump({"image_processor_type": "SiglipImageProcessor", "size": {"height": 384, "width": 384},
               "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]},
              open(os.path.join(d, "preprocessor_config.json"), "w"), indent=1)
    for img in images:
        cases.append(("siglip384", "tests/fixtures/models/siglip384", cfg_c, back, None, img, "resize", -1))

    # d. llava-hf layout, sharded (two files + index), F32, projector to 48, pad
    cfg_d = dict(arch="clip", image_size=336, patch=14, hidden=32, heads=4, ffn=64, layers=4, act="quick_gelu",
                 eps=1e-5)
    w = rand_vision(rng, "clip", 336, 14, 32, 4, 64, 4)
    proj = rand_projector(rng, 32, 48)
    d = os.path.join(MODELS, "llava")
    os.makedirs(d, exist_ok=True)
    names = {"vision_tower.vision_model." + k: v for k, v in w.items()}
    names.update({"multi_modal_projector." + k: v for k, v in proj.items()})
    names["language_model.model.embed_tokens.weight"] = rng.normal(0, 1, (16, 48)).astype(np.float32)
    keys = list(names)
    shards = {"model-00001-of-00002.safetensors": keys[: len(keys) // 2],
              "model-00002-of-00002.safetensors": keys[len(keys) // 2:]}
    wmap = {}
    for fn, ks in shards.items():
        R.write_safetensors(os.path.join(d, fn), {k: names[k] for k in ks}, {"format": "pt"})
        wmap.update({k: fn for k in ks})
    json.dump({"metadata": {"total_size": int(sum(v.nbytes for v in names.values()))}, "weight_map": wmap},
              open(os.path.join(d, "model.safetensors.index.json"), "w"), indent=1)
    json.dump({"model_type": "llava", "vision_feature_layer": -2, "vision_feature_select_strategy": "default",
               "projector_hidden_act": "gelu", "image_aspect_ratio": "pad",
               "vision_config": {"model_type": "clip_vision_model", "hidden_size": 32, "intermediate_size": 64,
                                 "num_attention_heads": 4, "num_hidden_layers": 4, "image_size": 336,
                                 "patch_size": 14, "hidden_act": "quick_gelu"},
               "text_config": {"hidden_size": 48}}, open(os.path.join(d, "config.json"), "w"), indent=1)
    json.dump({"image_processor_type": "CLIPImageProcessor", "crop_size": {"height": 336, "width": 336},
               "size": {"shortest_edge": 336}, "image_mean": R.CLIP_MEAN, "image_std": R.CLIP_STD},
              open(os.path.join(d, "preprocessor_config.json"), "w"), indent=1)
    for img in images:
        cases.append(("llava", "tests/fixtures/models/llava", cfg_d, w, proj, img, "pad", -2))
    cases.append(("llava", "tests/fixtures/models/llava", cfg_d, w, proj, images[0], "crop", -2))

    # e. the same LLaVA as llama.cpp's legacy converter writes it: last block and
    # post-LN dropped, fc1 named ffn_down and fc2 ffn_up, matrices and patch conv
    # F16, 1-D tensors F32.
    L = cfg_d["layers"]
    back = {}
    tensors = []

    def add(name, arr, hf_name=None, table=back):
        arr = np.asarray(arr, np.float32)
        if arr.ndim >= 2:
            h = arr.astype(np.float16)
            tensors.append((name, h, R.GGML_F16))
            val = h.astype(np.float32)
        else:
            tensors.append((name, arr, R.GGML_F32))
            val = arr
        if hf_name:
            table[hf_name] = val

    add("v.class_embd", w["embeddings.class_embedding"], "embeddings.class_embedding")
    add("v.patch_embd.weight", w["embeddings.patch_embedding.weight"], "embeddings.patch_embedding.weight")
    add("v.position_embd.weight", w["embeddings.position_embedding.weight"],
        "embeddings.position_embedding.weight")
    add("v.pre_ln.weight", w["pre_layrnorm.weight"], "pre_layrnorm.weight")
    add("v.pre_ln.bias", w["pre_layrnorm.bias"], "pre_layrnorm.bias")
    gmap = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
            "self_attn.out_proj": "attn_out", "layer_norm1": "ln1", "layer_norm2": "ln2",
            "mlp.fc1": "ffn_down", "mlp.fc2": "ffn_up"}
    for l in range(L - 1):
        for hf, gg in gmap.items():
            for suf in ("weight", "bias"):
                k = f"encoder.layers.{l}.{hf}.{suf}"
                add(f"v.blk.{l}.{gg}.{suf}", w[k], k)
    proj_back = {}
    add("mm.0.weight", proj["linear_1.weight"], "linear_1.weight", proj_back)
    add("mm.0.bias", proj["linear_1.bias"], "linear_1.bias", proj_back)
    add("mm.2.weight", proj["linear_2.weight"], "linear_2.weight", proj_back)
    add("mm.2.bias", proj["linear_2.bias"], "linear_2.bias", proj_back)
    S = R.GGUF_STR
    kvs = [("general.architecture", S, "clip"), ("clip.has_text_encoder", R.GGUF_BOOL, False),
           ("clip.has_vision_encoder", R.GGUF_BOOL, True), ("clip.has_llava_projector", R.GGUF_BOOL, True),
           ("general.file_type", R.GGUF_U32, 1), ("general.name", S, "vtc test llava mmproj"),
           ("general.description", S, "image encoder for LLaVA"), ("clip.projector_type", S, "mlp"),
           ("clip.vision.image_size", R.GGUF_U32, 336), ("clip.vision.patch_size", R.GGUF_U32, 14),
           ("clip.vision.embedding_length", R.GGUF_U32, 32), ("clip.vision.feed_forward_length", R.GGUF_U32, 64),
           ("clip.vision.projection_dim", R.GGUF_U32, 48), ("clip.vision.attention.head_count", R.GGUF_U32, 4),
           ("clip.vision.attention.layer_norm_epsilon", R.GGUF_F32, 1e-5),
           ("clip.vision.block_count", R.GGUF_U32, L - 1),
           ("clip.vision.image_mean", R.GGUF_ARR, (R.GGUF_F32, R.CLIP_MEAN)),
           ("clip.vision.image_std", R.GGUF_ARR, (R.GGUF_F32, R.CLIP_STD)), ("clip.use_gelu", R.GGUF_BOOL, False)]
    R.write_gguf(os.path.join(MODELS, "mmproj-legacy.gguf"), kvs, tensors)
    cfg_e = dict(cfg_d, layers=L - 1)
    for img in images:
        cases.append(("mmproj", "tests/fixtures/models/mmproj-legacy.gguf", cfg_e, back, proj_back, img, "pad", -1))

    manifest = []
    for case, mpath, cfg, wts, pj, img, aspect, layer in cases:
        mean, std = (R.CLIP_MEAN, R.CLIP_STD) if cfg["arch"] == "clip" else ([0.5] * 3, [0.5] * 3)
        px = R.preprocess(R.load_rgb(os.path.join(IMAGES, img)), cfg["image_size"], aspect, mean, std)
        out, blk = R.encoder_outputs(torchify(wts), cfg, px, layer, torchify(pj) if pj else None)
        g = cfg["image_size"] // cfg["patch"]
        name = f"{case}__{os.path.splitext(img)[0]}__{aspect}__{layer}.safetensors"
        t = {k: v.astype(np.float32) for k, v in out.items()}
        R.write_safetensors(os.path.join(EXPECTED, name), t, {
            "model": mpath, "image": img, "aspect": aspect, "feature_layer": layer, "feature_block": blk,
            "grid": f"1,{g},{g}", "flops_encoder": R.encoder_flops(cfg, blk, True)})
        manifest.append(f"{name} {mpath} tests/fixtures/ref_images/{img} {aspect} {layer}")
        assert all(np.isfinite(v).all() for v in out.values())
    with open(os.path.join(EXPECTED, "MANIFEST.txt"), "w") as f:
        f.write("# expected-output file, model, image, aspect (crop|pad|resize), feature layer (HF index)\n")
        f.write("# written by tools/gen_model_fixtures.py (reference: tools/vtc_ref.py, float64 PyTorch)\n")
        f.write("\n".join(manifest) + "\n")
    print(f"{len(manifest)} cases")


if __name__ == "__main__":
    main()
