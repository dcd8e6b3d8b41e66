"""Independent reference for vtc's vision side, in PyTorch (float64) and Pillow.

Written to the semantics of transformers' CLIPVisionModel / SiglipVisionModel /
LlavaForConditionalGeneration and their image processors, and llama.cpp's
legacy mmproj GGUF layout. The C implementation is tested against what this
module computes; nothing here reads vtc's C code.

Run with Debian's /usr/bin/python3 (python3-torch, python3-pil, python3-numpy).
"""
import json
import math
import struct

import numpy as np
import torch
from PIL import Image

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

# ---------------------------------------------------------------- safetensors

_ST_DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.int32): "I32",
              np.dtype(np.float64): "F64", np.dtype(np.int64): "I64", np.dtype(np.uint8): "U8"}


class BF16:
    """A float array to be stored as bfloat16 (round to nearest even, as torch)."""

    def __init__(self, arr):
        self.shape = arr.shape
        t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).to(torch.bfloat16)
        self.bits = t.view(torch.int16).numpy().view(np.uint16)
        self.values = t.to(torch.float64).numpy()  # what a reader gets back


def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: np.ndarray | BF16}. Insertion order is kept."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, arr in tensors.items():
        if isinstance(arr, BF16):
            dtype, raw, shape = "BF16", arr.bits.astype("<u2").tobytes(), list(arr.shape)
        else:
            a = np.ascontiguousarray(arr)
            dtype, raw, shape = _ST_DTYPES[a.dtype], a.astype(a.dtype.newbyteorder("<")).tobytes(), list(a.shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        raw = data[base + a:base + b]
        dt = info["dtype"]
        if dt == "BF16":
            bits = np.frombuffer(raw, "<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        else:
            arr = np.frombuffer(raw, {"F32": "<f4", "F16": "<f2", "I32": "<i4", "F64": "<f8", "I64": "<i8",
                                      "U8": "u1"}[dt])
        out[name] = arr.reshape(info["shape"])
    return out, meta


# ---------------------------------------------------------------- gguf (v3)

GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL, GGUF_STR, GGUF_ARR, GGUF_U64 = 4, 5, 6, 7, 8, 9, 10
GGML_F32, GGML_F16 = 0, 1


def _gguf_str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def _gguf_value(t, v):
    if t == GGUF_U32:
        return struct.pack("<I", v)
    if t == GGUF_I32:
        return struct.pack("<i", v)
    if t == GGUF_F32:
        return struct.pack("<f", v)
    if t == GGUF_BOOL:
        return struct.pack("<B", 1 if v else 0)
    if t == GGUF_STR:
        return _gguf_str(v)
    if t == GGUF_U64:
        return struct.pack("<Q", v)
    if t == GGUF_ARR:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(_gguf_value(et, x) for x in items)
    raise ValueError(t)


def write_gguf(path, kvs, tensors, alignment=32):
    """kvs: [(key, type, value)]; tensors: [(name, np.ndarray, GGML_F32|GGML_F16)].
    Dimensions are written in ggml order (numpy shape reversed)."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
    for k, t, v in kvs:
        out += _gguf_str(k) + struct.pack("<I", t) + _gguf_value(t, v)
    blobs, off = [], 0
    for name, arr, gt in tensors:
        raw = np.ascontiguousarray(arr, dtype=np.float16 if gt == GGML_F16 else np.float32).tobytes()
        out += _gguf_str(name) + struct.pack("<I", arr.ndim) + b"".join(struct.pack("<Q", d) for d in arr.shape[::-1])
        out += struct.pack("<IQ", gt, off)
        blobs.append(raw)
        off += len(raw) + (-len(raw) % alignment)
    out += b"\0" * (-len(out) % alignment)
    for raw in blobs:
        out += raw + b"\0" * (-len(raw) % alignment)
    with open(path, "wb") as f:
        f.write(out)


# ---------------------------------------------------------------- image processors

def load_rgb(path):
    return Image.open(path).convert("RGB")


def expand2square(img, mean):
    """LLaVA-1.5's pad: a square of the longer side filled with int(mean*255), image centred."""
    w, h = img.size
    if w == h:
        return img
    bg = tuple(int(x * 255) for x in mean)
    s = max(w, h)
    out = Image.new(img.mode, (s, s), bg)
    out.paste(img, ((s - w) // 2, 0) if h > w else (0, (s - h) // 2))
    return out


def preprocess(img, size, aspect, mean, std):
    """aspect: 'crop' (CLIPImageProcessor), 'pad' (LLaVA-1.5), 'resize' (SiglipImageProcessor).
    Returns float32 [3, size, size]."""
    if aspect == "pad":
        img = expand2square(img, mean)
    if aspect == "resize":
        img = img.resize((size, size), Image.BICUBIC)
        a = np.asarray(img)
    else:
        w, h = img.size
        short, long = (w, h) if w <= h else (h, w)
        new_long = int(size * long / short)
        nw, nh = (size, new_long) if w <= h else (new_long, size)
        a = np.asarray(img.resize((nw, nh), Image.BICUBIC))
        top, left = (nh - size) // 2, (nw - size) // 2
        a = a[top:top + size, left:left + size]
    a = (a.astype(np.float64) * (1 / 255)).astype(np.float32)
    a = (a - np.array(mean, np.float32)) / np.array(std, np.float32)
    return a.transpose(2, 0, 1).copy()


# ---------------------------------------------------------------- the encoder

ACTS = {
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
    "gelu": lambda x: torch.nn.functional.gelu(x),
    "gelu_pytorch_tanh": lambda x: torch.nn.functional.gelu(x, approximate="tanh"),
}


def vit_forward(w, cfg, pixels):
    """w: dict of float64 torch tensors named as transformers' vision_model.* (no
    prefix); cfg: dict(arch, hidden, heads, layers, patch, act, eps). pixels [3,S,S].
    Returns hidden_states (list, [0] = embeddings after pre-LN), attentions
    (per block [heads, n, n]) and keys (per block [n, heads, hd])."""
    D, H, p = cfg["hidden"], cfg["heads"], cfg["patch"]
    hd = D // H
    x = torch.from_numpy(pixels).double()[None]
    pe = torch.nn.functional.conv2d(x, w["embeddings.patch_embedding.weight"],
                                    w.get("embeddings.patch_embedding.bias"), stride=p)
    tok = pe[0].flatten(1).t()  # [P, D], raster order
    if cfg["arch"] == "clip":
        tok = torch.cat([w["embeddings.class_embedding"][None], tok])
    tok = tok + w["embeddings.position_embedding.weight"]
    if cfg["arch"] == "clip":
        tok = torch.nn.functional.layer_norm(tok, (D,), w["pre_layrnorm.weight"], w["pre_layrnorm.bias"], cfg["eps"])
    hidden, attns, keys = [tok], [], []
    act = ACTS[cfg["act"]]
    for l in range(cfg["layers"]):
        g = lambda n: w[f"encoder.layers.{l}.{n}"]
        n = tok.shape[0]
        h = torch.nn.functional.layer_norm(tok, (D,), g("layer_norm1.weight"), g("layer_norm1.bias"), cfg["eps"])
        q = (h @ g("self_attn.q_proj.weight").t() + g("self_attn.q_proj.bias")).view(n, H, hd).transpose(0, 1)
        k = (h @ g("self_attn.k_proj.weight").t() + g("self_attn.k_proj.bias")).view(n, H, hd).transpose(0, 1)
        v = (h @ g("self_attn.v_proj.weight").t() + g("self_attn.v_proj.bias")).view(n, H, hd).transpose(0, 1)
        a = torch.softmax(q @ k.transpose(1, 2) * hd ** -0.5, dim=-1)
        o = (a @ v).transpose(0, 1).reshape(n, D)
        tok = tok + o @ g("self_attn.out_proj.weight").t() + g("self_attn.out_proj.bias")
        h = torch.nn.functional.layer_norm(tok, (D,), g("layer_norm2.weight"), g("layer_norm2.bias"), cfg["eps"])
        h = act(h @ g("mlp.fc1.weight").t() + g("mlp.fc1.bias"))
        tok = tok + h @ g("mlp.fc2.weight").t() + g("mlp.fc2.bias")
        hidden.append(tok)
        attns.append(a)
        keys.append(k.transpose(0, 1))
    return hidden, attns, keys


def project(w, x):
    """LLaVA's multi_modal_projector: linear_2(gelu(linear_1(x)))."""
    h = torch.nn.functional.gelu(x @ w["linear_1.weight"].t() + w["linear_1.bias"])
    return h @ w["linear_2.weight"].t() + w["linear_2.bias"]


def encoder_outputs(w, cfg, pixels, feature_layer, proj=None):
    """What vtc's struct vtc_features holds for one image (float64 numpy)."""
    hidden, attns, keys = vit_forward(w, cfg, pixels)
    L = cfg["layers"]
    blk = feature_layer if feature_layer > 0 else L + 1 + feature_layer  # 1-based block
    c0 = 1 if cfg["arch"] == "clip" else 0
    feat = hidden[blk]

    def stat(a):
        if c0:
            return a[:, 0, c0:].mean(0)  # CLS row over patches, head mean
        return a.mean(1).mean(0)  # mean received attention (over queries, then heads)

    out = {
        "features": feat[c0:],
        "cls_attn": stat(attns[blk - 1]),
        "cls_attn_last": stat(attns[L - 1]),
        "keys": keys[blk - 1][c0:].mean(1),
    }
    if c0:
        out["cls"] = feat[:1]
    if proj is not None:
        out["embeds"] = project(proj, feat[c0:])
    return {k: v.numpy() for k, v in out.items()}, blk


def encoder_flops(cfg, blk, want_last):
    """FLOPs (2 per MAC) vtc's encoder executes: patch embedding, blocks 1..blk in full, and
    for the last block's attention statistic the blocks in between plus what it needs."""
    D, F, p = cfg["hidden"], cfg["ffn"], cfg["patch"]
    P = (cfg["image_size"] // p) ** 2
    n = P + (1 if cfg["arch"] == "clip" else 0)
    block = 8 * n * D * D + 4 * n * n * D + 4 * n * D * F
    fl = 2 * P * 3 * p * p * D + blk * block
    L = cfg["layers"]
    if want_last and blk < L:
        fl += (L - 1 - blk) * block
        if cfg["arch"] == "clip":
            fl += 2 * n * D * D + 2 * D * D + 2 * n * D
        else:
            fl += 6 * n * D * D + 4 * n * n * D
    return fl
