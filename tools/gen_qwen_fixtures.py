#!/usr/bin/python3
"""Writes the Qwen2-VL / Qwen2.5-VL parity fixtures: two tiny seeded random-weight vision
towers of the exact structure (patch 14, temporal patch 2, merge 2; Qwen2.5-VL: window 112,
full attention in blocks 1 and 3 of 4) as Hugging Face directories and as llama.cpp mmproj
GGUFs, the outputs of the float64 reference (tools/ref_qwen2vl.py) on real-photo images and
a 4-frame clip, and a smart_resize sweep.

    /usr/bin/python3 tools/gen_qwen_fixtures.py [--out DIR]   # default: tests/fixtures

Deterministic: the same bytes on every run (the clip is decoded with the ffmpeg tool).
Writes under DIR:
  models/qwen2vl/    Qwen2VLForConditionalGeneration as Qwen/Qwen2-VL-2B-Instruct ships
                     it (config.json with the text model's keys at the top level and
                     vision_config {depth, embed_dim, hidden_size, hidden_act, mlp_ratio,
                     num_heads, in_chans, patch_size, spatial_merge_size,
                     temporal_patch_size}; preprocessor_config.json with min_pixels /
                     max_pixels; model.safetensors with the visual.* tensors only, BF16 as
                     the real checkpoint, names sorted). Width 16, 2 heads, 4 blocks,
                     quick_gelu MLP 64, merger to 96.
  models/qwen25vl/   Qwen2_5_VLForConditionalGeneration as Qwen/Qwen2.5-VL-3B-Instruct
                     ships it (vision_config {depth, hidden_act silu, hidden_size,
                     intermediate_size, num_heads, in_chans, out_hidden_size, patch_size,
                     spatial_merge_size, spatial_patch_size, temporal_patch_size,
                     tokens_per_second, window_size 112, fullatt_block_indexes [1, 3]};
                     preprocessor_config.json also with the newer "size" dict). Width 16,
                     2 heads, 4 blocks, SwiGLU MLP 40 with biases, merger to 96,
                     tokens_per_second 5 (the video's t ids then test both the scaling and
                     the truncation: int(1 * 0.5 * 5) = 2).
  models/qwen2vl.gguf, models/qwen25vl.gguf   those directories through llama.cpp's
                     convert_hf_to_gguf.py --mmproj at its default F16 (Qwen2VLVisionModel):
                     matrices and both conv3d slices F16, 1-D tensors F32 (tools/README.md).
  expected/qwen/<model>__<input>__<image|video>__<min>__<max>.safetensors, MANIFEST.txt
  expected/qwen/grid_sweep.txt   smart_resize on a few hundred sizes and pixel budgets.

The GGUF layout is read from llama.cpp (ggml-org/llama.cpp): conversion/qwen.py
(Qwen2VLVisionModel: hparams renaming, qkv and conv3d splits, n_wa_pattern) and
conversion/base.py (MmprojModel.set_gguf_parameters, tensor_force_quant) at 2bbcf7fc
(convert_hf_to_gguf.py imports them), gguf-py/gguf/tensor_mapping.py at 0024aa74,
gguf-py/gguf/constants.py at ef035f77 (VisionProjectorType), tools/mtmd/models/qwen2vl.cpp
at 06e514f6 (full attention when (il + 1) % n_wa_pattern == 0; the two patch_embd slices
summed).

The clip's frames are decoded by the ffmpeg tool to raw rgb24 (lossless FFV1: the same
bytes as decoding to PNG), all 4 of them (indices 0..3); no fps sampling.

The weights are drawn so that BF16 -> F16 is exact (no magnitude under 2^-14), so one
expected file serves an HF directory and its GGUF (checked: the GGUF read back equals the
safetensors read back). The reference runs on the weights read back from the files.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_qwen2vl as Q  # noqa: E402
import vtc_ref as R  # noqa: E402

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
TOLERANCE = "1e-4"
D, HEADS, DEPTH, OUT = 16, 2, 4, 96
CLIP_FPS = 4.0  # clip4.mkv's frame rate; all 4 frames are taken, so the frames' rate is 4 fps


# ---------------------------------------------------------------- weights

def exact_bf16_f16(a):
    """float32 values that survive BF16 and then F16 unchanged: rounded to BF16, and
    magnitudes under 2^-14 (F16's smallest normal) set to 0."""
    t = torch.from_numpy(np.asarray(a, np.float32)).to(torch.bfloat16).to(torch.float32).numpy()
    t = np.where(np.abs(t) < 2.0 ** -14, np.float32(0), t).astype(np.float32)
    assert np.array_equal(t.astype(np.float16).astype(np.float32), t)
    return t


def rand_tower(rng, kind, mlp):
    """visual.* tensors (names as the released checkpoints) as float32 arrays; norms
    around 1, q/k scaled up so attention has structure, the patch conv at fan-in scale."""
    s = 1 / np.sqrt(D)
    w = {"visual.patch_embed.proj.weight": rng.normal(0, 1.5 / np.sqrt(3 * 2 * 14 * 14), (D, 3, 2, 14, 14))}
    for b in range(DEPTH):
        p = f"visual.blocks.{b}."
        qkv = rng.normal(0, s, (3 * D, D))
        qkv[:2 * D] *= 2.5
        w[p + "attn.qkv.weight"], w[p + "attn.qkv.bias"] = qkv, rng.normal(0, 0.05, 3 * D)
        w[p + "attn.proj.weight"], w[p + "attn.proj.bias"] = rng.normal(0, 0.7 * s, (D, D)), rng.normal(0, 0.05, D)
        for nm in ("norm1", "norm2"):
            w[p + nm + ".weight"] = 1 + rng.normal(0, 0.1, D)
            if kind == "qwen2vl":
                w[p + nm + ".bias"] = rng.normal(0, 0.1, D)
        if kind == "qwen2vl":
            w[p + "mlp.fc1.weight"], w[p + "mlp.fc1.bias"] = rng.normal(0, s, (mlp, D)), rng.normal(0, 0.05, mlp)
            w[p + "mlp.fc2.weight"] = rng.normal(0, 0.7 / np.sqrt(mlp), (D, mlp))
            w[p + "mlp.fc2.bias"] = rng.normal(0, 0.05, D)
        else:
            for nm, shape, sc in (("gate_proj", (mlp, D), 2 * s), ("up_proj", (mlp, D), s),
                                  ("down_proj", (D, mlp), 0.7 / np.sqrt(mlp))):
                w[p + f"mlp.{nm}.weight"] = rng.normal(0, sc, shape)
                w[p + f"mlp.{nm}.bias"] = rng.normal(0, 0.05, shape[0])
    w["visual.merger.ln_q.weight"] = 1 + rng.normal(0, 0.1, D)
    if kind == "qwen2vl":
        w["visual.merger.ln_q.bias"] = rng.normal(0, 0.1, D)
    H4 = 4 * D
    w["visual.merger.mlp.0.weight"], w["visual.merger.mlp.0.bias"] = (rng.normal(0, 1 / np.sqrt(H4), (H4, H4)),
                                                                      rng.normal(0, 0.05, H4))
    w["visual.merger.mlp.2.weight"], w["visual.merger.mlp.2.bias"] = (rng.normal(0, 1 / np.sqrt(H4), (OUT, H4)),
                                                                      rng.normal(0, 0.05, OUT))
    return {k: exact_bf16_f16(v) for k, v in w.items()}


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def text_config(model_type, arch):
    """The top-level (language model) keys of the released configs, at this LM width."""
    return {"architectures": [arch], "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645,
            "vision_start_token_id": 151652, "vision_end_token_id": 151653, "vision_token_id": 151654,
            "image_token_id": 151655, "video_token_id": 151656, "hidden_act": "silu", "hidden_size": OUT,
            "initializer_range": 0.02, "intermediate_size": 2 * OUT, "max_position_embeddings": 32768,
            "max_window_layers": 2, "model_type": model_type, "num_attention_heads": 4, "num_hidden_layers": 2,
            "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768,
            "tie_word_embeddings": True, "torch_dtype": "bfloat16", "transformers_version": "4.49.0",
            "use_cache": True, "use_sliding_window": False, "vocab_size": 151936,
            "rope_scaling": {"type": "mrope", "mrope_section": [4, 4, 4]}}


def preprocessor(min_pixels, max_pixels, processor_class, size_dict):
    p = {"min_pixels": min_pixels, "max_pixels": max_pixels, "patch_size": 14, "temporal_patch_size": 2,
         "merge_size": 2, "image_mean": Q.CLIP_MEAN, "image_std": Q.CLIP_STD,
         "image_processor_type": "Qwen2VLImageProcessor", "processor_class": processor_class}
    if size_dict:  # what a newer save_pretrained adds; the same budget
        p["size"] = {"longest_edge": max_pixels, "shortest_edge": min_pixels}
    return p


MODELS = {
    "qwen2vl": dict(arch="Qwen2VLForConditionalGeneration", model_type="qwen2_vl", mlp=64, seed=20260530,
                    min_pixels=3136, max_pixels=6272, processor="Qwen2VLProcessor", size_dict=False,
                    vision={"depth": DEPTH, "embed_dim": D, "hidden_size": OUT, "hidden_act": "quick_gelu",
                            "mlp_ratio": 4, "num_heads": HEADS, "in_chans": 3, "patch_size": 14,
                            "spatial_merge_size": 2, "temporal_patch_size": 2}),
    "qwen25vl": dict(arch="Qwen2_5_VLForConditionalGeneration", model_type="qwen2_5_vl", mlp=40, seed=20260531,
                     min_pixels=3136, max_pixels=12544, processor="Qwen2_5_VLProcessor", size_dict=True,
                     vision={"depth": DEPTH, "hidden_act": "silu", "hidden_size": D, "intermediate_size": 40,
                             "num_heads": HEADS, "in_chans": 3, "out_hidden_size": OUT, "patch_size": 14,
                             "spatial_merge_size": 2, "spatial_patch_size": 14, "temporal_patch_size": 2,
                             "tokens_per_second": 5, "window_size": 112, "fullatt_block_indexes": [1, 3]}),
}


def make_hf(d, name):
    m = MODELS[name]
    os.makedirs(d, exist_ok=True)
    w = rand_tower(np.random.default_rng(m["seed"]), "qwen2vl" if name == "qwen2vl" else "qwen25vl", m["mlp"])
    R.write_safetensors(os.path.join(d, "model.safetensors"), {k: R.BF16(w[k]) for k in sorted(w)},
                        {"format": "pt"})
    config = dict(text_config(m["model_type"], m["arch"]), vision_config=m["vision"])
    write_json(os.path.join(d, "config.json"), config)
    write_json(os.path.join(d, "preprocessor_config.json"),
               preprocessor(m["min_pixels"], m["max_pixels"], m["processor"], m["size_dict"]))
    back, _ = R.read_safetensors(os.path.join(d, "model.safetensors"))
    assert sorted(back) == sorted(w) and all(np.array_equal(back[k], w[k]) for k in w)
    cfg = Q.cfg_from_hf(config)
    assert (cfg["D"], cfg["heads"], cfg["depth"], cfg["out"], cfg["mlp"]) == (D, HEADS, DEPTH, OUT, m["mlp"])
    return cfg, {k[len("visual."):]: torch.from_numpy(v.astype(np.float64)) for k, v in back.items()}, config


# ---------------------------------------------------------------- GGUF (llama.cpp mmproj)

GGUF_BLOCK_NAMES = {"attn.proj": "attn_out", "norm1": "ln1", "norm2": "ln2", "mlp.fc1": "ffn_up",
                    "mlp.fc2": "ffn_down", "mlp.up_proj": "ffn_up", "mlp.gate_proj": "ffn_gate",
                    "mlp.down_proj": "ffn_down"}


def gguf_tensors(hf):
    """convert_hf_to_gguf.py's Qwen2VLVisionModel.modify_tensors + tensor_mapping.py on
    the HF tensors in the file's (sorted) order: qkv split in thirds into attn_q/k/v,
    the conv3d [D, 3, 2, 14, 14] split on its temporal axis into v.patch_embd.weight
    (frame 0) and v.patch_embd.weight.1 (frame 1), merger.ln_q -> v.post_ln,
    merger.mlp.0/2 -> mm.0/mm.2. At ftype F16: tensors of 2+ dimensions F16, 1-D F32."""
    out = []

    def put(name, arr):
        arr = np.asarray(arr, np.float32)
        out.append((name, arr.astype(np.float16), R.GGML_F16) if arr.ndim >= 2 else (name, arr, R.GGML_F32))

    for k in sorted(hf):
        v = hf[k]
        name = k[len("visual."):]
        if name == "patch_embed.proj.weight":
            put("v.patch_embd.weight", v[:, :, 0])
            put("v.patch_embd.weight.1", v[:, :, 1])
        elif name.startswith("blocks."):
            _, b, rest = name.split(".", 2)
            base, suf = rest.rsplit(".", 1)
            if base == "attn.qkv":
                c = v.shape[0] // 3
                for i, qkv in enumerate("qkv"):
                    put(f"v.blk.{b}.attn_{qkv}.{suf}", v[i * c:(i + 1) * c])
            else:
                put(f"v.blk.{b}.{GGUF_BLOCK_NAMES[base]}.{suf}", v)
        elif name.startswith("merger.ln_q."):
            put("v.post_ln." + name.rsplit(".", 1)[1], v)
        elif name.startswith("merger.mlp."):
            _, _, i, suf = name.split(".")
            put(f"mm.{i}.{suf}", v)
        else:
            raise KeyError(k)
    return out


def make_gguf(path, name, hf_dir, config):
    """The KV pairs in the converter's order: general.* (architecture clip, type mmproj,
    name, file_type 1 = MOSTLY_F16), MmprojModel.set_gguf_parameters (has_vision_encoder,
    projection_dim = the LM hidden_size, image_size 560 (Qwen2VLVisionModel's default),
    patch_size, embedding_length, feed_forward_length, block_count, head_count,
    image_mean/std from preprocessor_config.json), then Qwen2VLVisionModel's
    (projector_type; Qwen2.5-VL: use_silu, n_wa_pattern = fullatt_block_indexes[0] + 1),
    layer_norm_epsilon = the top-level rms_norm_eps, general.quantization_version 2.
    Qwen2-VL's renaming makes feed_forward_length its vision_config.hidden_size (the
    merger's output width, not the MLP's): a reader must take the MLP width from
    v.blk.*.ffn_up's shape."""
    vc = config["vision_config"]
    hf, _ = R.read_safetensors(os.path.join(hf_dir, "model.safetensors"))
    pre = json.load(open(os.path.join(hf_dir, "preprocessor_config.json")))
    U32, F32, S, B, A = R.GGUF_U32, R.GGUF_F32, R.GGUF_STR, R.GGUF_BOOL, R.GGUF_ARR
    if name == "qwen2vl":
        emb, ffn = vc["embed_dim"], vc["hidden_size"]
    else:
        emb, ffn = vc["hidden_size"], vc["intermediate_size"]
    kvs = [("general.architecture", S, "clip"), ("general.type", S, "mmproj"),
           ("general.name", S, f"vtc-tiny-{name}"), ("general.file_type", U32, 1),
           ("clip.has_vision_encoder", B, True), ("clip.vision.projection_dim", U32, config["hidden_size"]),
           ("clip.vision.image_size", U32, 560), ("clip.vision.patch_size", U32, vc["patch_size"]),
           ("clip.vision.embedding_length", U32, emb), ("clip.vision.feed_forward_length", U32, ffn),
           ("clip.vision.block_count", U32, vc["depth"]), ("clip.vision.attention.head_count", U32, vc["num_heads"]),
           ("clip.vision.image_mean", A, (F32, pre["image_mean"])),
           ("clip.vision.image_std", A, (F32, pre["image_std"]))]
    if name == "qwen2vl":
        kvs.append(("clip.projector_type", S, "qwen2vl_merger"))
    else:
        fa = vc["fullatt_block_indexes"]
        n_wa = fa[0] + 1
        assert all(fa[i] - fa[i - 1] == n_wa for i in range(1, len(fa)))  # the converter's check
        kvs += [("clip.projector_type", S, "qwen2.5vl_merger"), ("clip.use_silu", B, True),
                ("clip.vision.n_wa_pattern", U32, n_wa)]
    kvs += [("clip.vision.attention.layer_norm_epsilon", F32, config.get("rms_norm_eps", 1e-6)),
            ("general.quantization_version", U32, 2)]
    R.write_gguf(path, kvs, gguf_tensors(hf))
    # read back: the same weights as the HF file, reassembled
    kv, _, t, _ = R.read_gguf(path)
    back = {"patch_embed.proj.weight": np.stack([t["v.patch_embd.weight"], t["v.patch_embd.weight.1"]], 2)}
    inv = {v: k for k, v in GGUF_BLOCK_NAMES.items() if not (name == "qwen25vl" and k.startswith("mlp.fc"))
           and not (name == "qwen2vl" and k in ("mlp.up_proj", "mlp.gate_proj", "mlp.down_proj"))}
    for k, v in t.items():
        if k.startswith("v.blk."):
            _, _, b, base, suf = k.split(".")
            if base in ("attn_q", "attn_k", "attn_v"):
                continue
            back[f"blocks.{b}.{inv[base]}.{suf}"] = v
        elif k.startswith("v.post_ln."):
            back["merger.ln_q." + k.split(".")[-1]] = v
        elif k.startswith("mm."):
            back[f"merger.mlp.{k.split('.')[1]}.{k.split('.')[2]}"] = v
    for b in range(vc["depth"]):
        for suf in ("weight", "bias"):
            back[f"blocks.{b}.attn.qkv.{suf}"] = np.concatenate([t[f"v.blk.{b}.attn_{x}.{suf}"] for x in "qkv"])
    assert sorted(back) == sorted(k[len("visual."):] for k in hf)
    for k, v in back.items():
        assert np.array_equal(v.astype(np.float32), hf["visual." + k]), k
    assert kv["clip.vision.feed_forward_length"] == ffn
    return kv


# ---------------------------------------------------------------- cases

def clip_frames(path):
    """All frames of the clip (rgb24, as FFmpeg decodes them): clip4.mkv has 4 at 4 fps."""
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "stream=width,height", "-of", "csv=p=0", path], capture_output=True, check=True, text=True)
    w, h = (int(x) for x in probe.stdout.strip().split(","))
    raw = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return list(np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3))


def effective_n(a):
    p = a / a.sum()
    return float(np.exp(-(p * np.log(np.maximum(p, 1e-300))).sum()))


def run_case(name, cfg, w, model_rel, input_rel, mode, mn, mx):
    m = MODELS[name]
    min_px, max_px = mn or m["min_pixels"], mx or m["max_pixels"]
    if mode == "image":
        frames = [np.asarray(R.load_rgb(os.path.join(REPO, input_rel)))]
    else:
        frames = clip_frames(os.path.join(REPO, input_rel))
    px, grid, resized = Q.process_frames(frames, min_px, max_px)
    out, _, spans = Q.tower_forward(w, cfg, px, grid)
    ref = Q.masked_tower(w, cfg, px, grid)  # the independent formulation agrees
    for k in ("last_hidden", "embeds", "recv_attn"):
        assert float((out[k] - ref[k]).abs().max()) < 1e-10, k
    n_merged = px.shape[0] // 4
    if cfg["kind"] == "qwen2vl":
        pos = Q.rope_positions(grid)
        spg = None
    else:
        spg = 0.0 if mode == "image" else cfg["tp"] / CLIP_FPS
        pos = Q.rope_positions(grid, second_per_grid_t=spg, tokens_per_second=cfg["tokens_per_second"])
    # sanity: finite, the statistic is a distribution over each span, structured
    for v in out.values():
        assert torch.isfinite(v).all()
    for span in spans:
        assert abs(float(out["recv_patch"][torch.as_tensor(span)].sum()) - 1) < 1e-12
    eff = effective_n(out["recv_attn"].numpy())
    rp = out["recv_patch"].numpy()
    cv = float(rp.std() / rp.mean())  # not a flat statistic: patches differ in what they receive
    assert cv > 0.1, cv
    last_block = cfg["depth"] - 1
    meta = {"model": model_rel, "input": input_rel, "mode": mode, "grid_thw": "{},{},{}".format(*grid),
            "resized_hw": "{},{}".format(*resized), "input_hw": "{},{}".format(*frames[0].shape[:2]),
            "min_pixels": min_px, "max_pixels": max_px, "n_patches": px.shape[0], "n_tokens": n_merged,
            "frames": len(frames), "kind": cfg["kind"], "hidden": cfg["D"], "heads": cfg["heads"],
            "depth": cfg["depth"], "out_hidden": cfg["out"],
            "stats_block": last_block, "stats_attention": "full" if last_block in cfg["fullatt"] else "window",
            "n_spans_last_block": len(spans), "tolerance": TOLERANCE,
            "reference": "tools/ref_qwen2vl.py (PyTorch float64)"}
    if cfg["kind"] == "qwen25vl":
        _, lens = Q.window_index(grid, cfg["window_size"])
        meta.update({"windows": len(lens), "window_patches": ",".join(map(str, lens)),
                     "tokens_per_second": cfg["tokens_per_second"], "second_per_grid_t": repr(spg)})
    if mode == "video":
        meta.update({"video_fps": repr(CLIP_FPS), "frame_indices": ",".join(map(str, range(len(frames))))})
    tensors = {"pixel_values": px, "grid_thw": np.asarray(grid, np.int64),
               "features": out["features"].numpy().astype(np.float32),
               "embeds": out["embeds"].numpy().astype(np.float32),
               "recv_attn": out["recv_attn"].numpy().astype(np.float32), "positions": pos,
               "last_hidden": out["last_hidden"].numpy().astype(np.float32)}
    return tensors, meta, (eff, cv)


# ---------------------------------------------------------------- frame sampling sweep

def sample_sweep(path):
    """Qwen2VLVideoProcessor.sample_frames on hand-picked and seeded random videos:
    `total video_fps frames fps : indices...` (frames 0: the fps rule) or `... : error`."""
    cases = [(1, 30, 2, 0), (1, 30, 0, 1), (2, 30, 1, 0), (3, 30, 3, 0), (5, 30, 5, 0), (8, 30, 8, 0), (9, 30, 10, 0),
             (8, 30, 9, 0), (8, 30, 11, 0), (300, 30, 16, 0), (300, 30, 0, 1), (300, 30, 0, 2), (300, 30, 0, 0.1),
             (3600, 30, 32, 0), (3600, 30, 0, 1), (3600, 30, 0, 5), (3600, 30, 0, 30), (68, 10, 0, 1), (795, 10, 0, 2),
             (100, 25, 0, 1e6), (123798, 30, 1336, 0), (182410, 30, 914, 0), (69818, 30, 1478, 0), (10, 3, 0, 1)]
    rng = np.random.default_rng(32)
    for _ in range(60):
        total = int(rng.integers(2, 20000))
        cases.append((total, float(rng.choice([10, 24, 25, 29.97, 30, 60])), int(rng.integers(1, 200)), 0))
    for _ in range(40):
        total = int(rng.integers(2, 20000))
        cases.append((total, float(rng.choice([10, 24, 25, 29.97, 30, 60])), 0, float(rng.choice([0.5, 1, 2, 4, 8]))))
    lines, n_err = [], 0
    for total, vfps, frames, fps in cases:
        try:
            idx = Q.sample_frames(total, vfps, num_frames=frames if frames else None, fps=fps if not frames else None)
            lines.append(f"{total} {vfps!r} {frames} {fps!r} : " + " ".join(map(str, idx)))
        except ValueError:
            lines.append(f"{total} {vfps!r} {frames} {fps!r} : error")
            n_err += 1
    with open(path, "w") as f:
        f.write("# Qwen2VLVideoProcessor.sample_frames (transformers models/qwen2_vl/video_processing_qwen2_vl.py,\n"
                "# frame_factor 2, min_frames 4, max_frames 768), written by tools/gen_qwen_fixtures.py from\n"
                "# tools/ref_qwen2vl.py with torch " + torch.__version__ + "'s arange (its float32 rounding).\n"
                "# <total> <video_fps> <frames (0: by fps)> <fps> : <indices...> | error\n")
        f.write("\n".join(lines) + "\n")
    return len(lines), n_err


# ---------------------------------------------------------------- smart_resize sweep

def grid_sweep(path):
    """smart_resize on hand-picked extremes and seeded random sizes under several pixel
    budgets: `h w min max resized_h resized_w grid_t grid_h grid_w` (grid_t 1: an image),
    or `h w min max error` where the processor refuses (aspect ratio over 200)."""
    budgets = [(3136, 12845056), (3136, 1003520), (200704, 1003520), (3136, 6272), (3136, 12544), (784, 784),
               (3136, 3136), (12544, 3136)]
    sizes = [(1, 1), (1, 200), (1, 201), (200, 1), (201, 1), (2, 401), (10, 2000), (10, 2001), (13, 13), (14, 14),
             (27, 27), (28, 28), (29, 29), (41, 41), (42, 42), (42, 70), (70, 70), (98, 98), (126, 154), (14, 42),
             (30, 5000), (28, 5600), (5600, 28), (56, 11200), (96, 128), (150, 200), (180, 121), (250, 1000),
             (427, 213), (1058, 1411), (512, 512), (1080, 1920), (2160, 3840), (4000, 3000), (8192, 8192),
             (16384, 82), (3, 600), (600, 3), (35, 7000), (7000, 35)]
    rng = np.random.default_rng(30)
    for _ in range(36):
        sizes.append((int(rng.integers(1, 3000)), int(rng.integers(1, 3000))))
    for _ in range(4):
        h = int(rng.integers(1, 20))
        sizes.append((h, h * int(rng.integers(150, 260))))
    lines = []
    for mn, mx in budgets:
        for h, w in sizes:
            try:
                rh, rw = Q.smart_resize(h, w, 28, mn, mx)
                lines.append(f"{h} {w} {mn} {mx} {rh} {rw} 1 {rh // 14} {rw // 14}")
            except ValueError:
                lines.append(f"{h} {w} {mn} {mx} error")
    with open(path, "w") as f:
        f.write("# smart_resize (transformers models/qwen2_vl/image_processing_qwen2_vl.py, factor 28 =\n"
                "# patch 14 x merge 2), written by tools/gen_qwen_fixtures.py from tools/ref_qwen2vl.py.\n"
                "# <height> <width> <min_pixels> <max_pixels> <resized_h> <resized_w> <grid_t> <grid_h> <grid_w>\n"
                "# (an image: grid_t 1), or <height> <width> <min_pixels> <max_pixels> error (aspect ratio\n"
                "# over 200). round() is half to even; beta and the divisions are IEEE doubles in the\n"
                "# upstream order: sqrt(h * w / max), h / beta / 28.\n")
        f.write("\n".join(lines) + "\n")
    return len(lines), sum(x.endswith("error") for x in lines)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures"), help="fixtures root")
    args = ap.parse_args()
    models, expected = os.path.join(args.out, "models"), os.path.join(args.out, "expected", "qwen")
    os.makedirs(expected, exist_ok=True)
    for f in os.listdir(expected):  # stale outputs of earlier case lists
        if f.endswith(".safetensors"):
            os.remove(os.path.join(expected, f))
    rel = "tests/fixtures/models/"
    loaded = {}
    for name in MODELS:
        d = os.path.join(models, name)
        cfg, w, config = make_hf(d, name)
        kv = make_gguf(os.path.join(models, name + ".gguf"), name, d, config)
        loaded[name] = (cfg, w, config)
        print(f"{name}: D {cfg['D']} heads {cfg['heads']} depth {cfg['depth']} mlp {cfg['mlp']} out {cfg['out']}; "
              f"gguf projector {kv['clip.projector_type']}")

    img = "tests/fixtures/ref_images/"
    # (model, input, mode, min override, max override); 0 = the preprocessor config's
    cases = [("qwen2vl", img + "photo.jpg", "image", 0, 0),             # 200x150 -> 56x84, 4x6 patches
             ("qwen2vl", img + "portrait_rgba.png", "image", 0, 0),     # RGBA 121x180 -> 84x56
             ("qwen2vl", img + "wide1000x250.jpg", "image", 0, 0),      # aspect 4 -> 28x140 (merged 1x5)
             ("qwen2vl", img + "clip4.mkv", "video", 3136, 4704),       # 4 frames 128x96 -> (2, 4, 4)
             ("qwen25vl", img + "tall213x427.jpg", "image", 0, 0),     # -> 140x56: merged 5x2, 2 windows
             ("qwen25vl", img + "wide1000x250.jpg", "image", 0, 9408),  # -> 28x168: merged 1x6, 2 windows
             ("qwen25vl", img + "clip4.mkv", "video", 3136, 11760)]     # -> (2, 6, 10): 2 windows per slice
    manifest = []
    print(f"{'case':56s} {'grid':>9s} {'tokens':>6s} {'effN':>6s} {'cv':>5s} {'spans':>5s}")
    for name, inp, mode, mn, mx in cases:
        cfg, w, config = loaded[name]
        tensors, meta, eff = run_case(name, cfg, w, rel + name, inp, mode, mn, mx)
        stem = os.path.splitext(os.path.basename(inp))[0]
        fname = f"{name}__{stem}__{mode}__{mn}__{mx}.safetensors"
        R.write_safetensors(os.path.join(expected, fname), tensors, meta)
        back, _ = R.read_safetensors(os.path.join(expected, fname))
        assert all(np.array_equal(back[k], tensors[k]) for k in tensors)
        frames = f" frames={meta['frames']}" if mode == "video" else ""
        manifest.append(f"{fname} {rel}{name} {inp} {mode} {mn} {mx}{frames}")
        # the GGUF holds the same weights but no pixel budget: its lines state the budget used
        manifest.append(f"{fname} {rel}{name}.gguf {inp} {mode} {meta['min_pixels']} {meta['max_pixels']}{frames}")
        print(f"{fname:56s} {meta['grid_thw']:>9s} {meta['n_tokens']:6d} {eff[0]:6.1f} {eff[1]:5.2f} "
              f"{meta['n_spans_last_block']:5d}")

    with open(os.path.join(expected, "MANIFEST.txt"), "w") as f:
        f.write("# Qwen2-VL / Qwen2.5-VL parity cases, written by tools/gen_qwen_fixtures.py; reference:\n"
                "# tools/ref_qwen2vl.py (PyTorch float64 on the weights as stored). One case per line:\n"
                "#   <expected file in this folder> <model path> <image or clip> <image|video>\n"
                "#   <min_pixels or 0 = the preprocessor config's> <max_pixels or 0> [frames=N]\n"
                "# A GGUF has no pixel budget: its lines give the one the HF line used. Each expected file\n"
                "# serves an HF directory and its GGUF (the same weights, BF16 -> F16 exact). video: every\n"
                "# frame of the clip (frames=N, indices 0..N-1, no fps sampling), paired along time;\n"
                "# Qwen2.5-VL's t ids take the clip's 4 fps: second_per_grid_t = 2 / 4.\n"
                "# Tensors: pixel_values F32 [n_patches, 1176] (the processor's), grid_thw I64 [3],\n"
                "# features F32 [n_tokens, 4 D] (merger ln_q output, 4 patch rows per merged unit),\n"
                "# embeds F32 [n_tokens, out] (merger output), recv_attn F32 [n_tokens] (received attention\n"
                "# in the last block over each patch's span, mean of the unit's 4 patches), positions I64\n"
                "# [n_tokens, 3] (M-RoPE t, h, w minus the first vision token's offset), last_hidden F32\n"
                "# [n_patches, D] (the last block's output, processor order). tools/README.md has the rest.\n"
                f"# Tolerance: max |vtc - ref| / max |ref| <= {TOLERANCE} per tensor (float32 vs float64).\n")
        f.write("\n".join(manifest) + "\n")
    n, n_err = grid_sweep(os.path.join(expected, "grid_sweep.txt"))
    print(f"{len(manifest)} manifest lines; grid_sweep.txt: {n} lines ({n_err} refused)")
    n, n_err = sample_sweep(os.path.join(expected, "sample_sweep.txt"))
    print(f"sample_sweep.txt: {n} lines ({n_err} refused)")


if __name__ == "__main__":
    main()
