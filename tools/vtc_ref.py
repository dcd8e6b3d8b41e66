"""Independent reference for vtc's vision side, in PyTorch (float64) and Pillow.

Written to the semantics of transformers' CLIPVisionModel / SiglipVisionModel /
LlavaForConditionalGeneration and their (slow, Pillow-based) image processors,
and to llama.cpp's legacy mmproj GGUF layout. The C implementation is tested
against what this module computes; nothing here reads vtc's C code.

Run with Debian's /usr/bin/python3 (python3-torch, python3-pil, python3-numpy).
`/usr/bin/python3 tools/vtc_ref.py --selftest` checks the forward against an
implementation built from torch.nn modules (Conv2d-free unfold patching,
nn.LayerNorm, nn.MultiheadAttention) and the file writers against their readers.

Conventions (what vtc's struct vtc_features holds):
- feature_layer is transformers' vision_feature_layer: an index into hidden_states,
  where hidden_states[0] is the embedding output (after CLIP's pre_layrnorm) and
  hidden_states[k] the output of block k; -1 = last block, -2 = penultimate.
  post_layernorm is applied only where transformers applies it to what a user takes
  as the features: a plain SiglipVisionModel (or SiglipModel's vision tower) returns
  last_hidden_state = post_layernorm(output of the last block)
  (models/siglip/modeling_siglip.py, SiglipVisionTransformer.forward), so there the
  default features (feature layer 0 = last_hidden_state) are post-LN'd
  (cfg["post_ln_last"]); an explicit index, even -1, is hidden_states[k], which never
  is (tie_last_hidden_states=False since transformers PR #40994), so CLIP towers,
  earlier SigLIP blocks and every LLaVA tower (which read hidden_states) get none.
- CLIP: features = patch rows of that hidden state, cls = its row 0; cls_attn =
  head-mean of that block's softmax row of the CLS query, patch columns only (the
  softmax runs over CLS + patches and is not renormalised).
- SigLIP (no CLS): cls_attn = attention each patch receives, averaged over heads
  and over all query rows.
- cls_attn_last: the same statistic for the last block present in the model.
- keys = that block's k_proj(layer_norm1(x)) (with bias), split into heads and
  averaged over heads, patch rows only: [N, head_dim].
- embeds = multi_modal_projector(features) = linear_2(gelu_erf(linear_1(x)));
  cls_embed = the same applied to cls.
"""
import json
import struct
import sys

import numpy as np
import torch
from PIL import Image

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
SIGLIP_MEAN = [0.5, 0.5, 0.5]
SIGLIP_STD = [0.5, 0.5, 0.5]

# ---------------------------------------------------------------- safetensors

_ST_DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.int32): "I32",
              np.dtype(np.float64): "F64", np.dtype(np.int64): "I64", np.dtype(np.uint8): "U8"}
_ST_NP = {"F32": "<f4", "F16": "<f2", "I32": "<i4", "F64": "<f8", "I64": "<i8", "U8": "u1"}


class BF16:
    """A float array to be stored as bfloat16 (round to nearest even, as torch does).
    .values is what a reader gets back (float64)."""

    def __init__(self, arr):
        if isinstance(arr, torch.Tensor):
            t = arr.detach().to(torch.bfloat16).contiguous()
        else:
            t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).to(torch.bfloat16)
        self.shape = tuple(t.shape)
        self.bits = t.view(torch.int16).numpy().view(np.uint16)
        self.values = t.to(torch.float64).numpy()


def _st_blob(arr):
    """(dtype name, little-endian bytes, shape) of one tensor to write."""
    if isinstance(arr, torch.Tensor):
        if arr.dtype == torch.bfloat16:
            arr = BF16(arr)
        else:
            arr = arr.detach().contiguous().numpy()
    if isinstance(arr, BF16):
        return "BF16", arr.bits.astype("<u2").tobytes(), list(arr.shape)
    a = np.ascontiguousarray(arr)
    if a.dtype not in _ST_DTYPES:
        raise ValueError(f"safetensors: unsupported dtype {a.dtype}")
    return _ST_DTYPES[a.dtype], a.astype(a.dtype.newbyteorder("<")).tobytes(), list(a.shape)


def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: np.ndarray (f32/f16/i32/f64/i64/u8) | BF16 | torch.Tensor
    (bfloat16 included)}, written in insertion order; metadata: {str: str}."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, arr in tensors.items():
        dtype, raw, shape = _st_blob(arr)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # data starts 8-aligned, as the Rust writer pads
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Returns ({name: np.ndarray}, metadata). BF16 comes back as float32 (exact)."""
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
        if info["dtype"] == "BF16":
            arr = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, _ST_NP[info["dtype"]])
        out[name] = arr.reshape(info["shape"])
    return out, meta


# ---------------------------------------------------------------- gguf (v3)

(GGUF_U8, GGUF_I8, GGUF_U16, GGUF_I16, GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL, GGUF_STR, GGUF_ARR, GGUF_U64,
 GGUF_I64, GGUF_F64) = range(13)
_GGUF_FMT = {GGUF_U8: "<B", GGUF_I8: "<b", GGUF_U16: "<H", GGUF_I16: "<h", GGUF_U32: "<I", GGUF_I32: "<i",
             GGUF_F32: "<f", GGUF_BOOL: "<B", GGUF_U64: "<Q", GGUF_I64: "<q", GGUF_F64: "<d"}
GGML_F32, GGML_F16 = 0, 1
_GGML_NP = {GGML_F32: np.float32, GGML_F16: np.float16}


def _gguf_str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def _gguf_value(t, v):
    if t == GGUF_STR:
        return _gguf_str(v)
    if t == GGUF_ARR:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(_gguf_value(et, x) for x in items)
    if t == GGUF_BOOL:
        return struct.pack("<B", 1 if v else 0)
    return struct.pack(_GGUF_FMT[t], v)


def write_gguf(path, kvs, tensors, alignment=32):
    """GGUF v3, little-endian. kvs: [(key, GGUF_* type, value)], an array value being
    (element type, [items]); tensors: [(name, np.ndarray, GGML_F32 | GGML_F16)].
    Dimensions are written in ggml order (numpy shape reversed: ne[0] is the
    fastest-varying axis); each tensor's data starts on an `alignment` boundary
    of the data section, which itself starts aligned (no general.alignment key is
    written unless given in kvs, as for the default 32)."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
    for k, t, v in kvs:
        out += _gguf_str(k) + struct.pack("<I", t) + _gguf_value(t, v)
    blobs, off = [], 0
    for name, arr, gt in tensors:
        raw = np.ascontiguousarray(arr, dtype=_GGML_NP[gt]).astype(np.dtype(_GGML_NP[gt]).newbyteorder("<")).tobytes()
        out += _gguf_str(name) + struct.pack("<I", arr.ndim) + b"".join(struct.pack("<Q", d) for d in arr.shape[::-1])
        out += struct.pack("<IQ", gt, off)
        blobs.append(raw)
        off += len(raw) + (-len(raw) % alignment)
    out += b"\0" * (-len(out) % alignment)
    for raw in blobs:
        out += raw + b"\0" * (-len(raw) % alignment)
    with open(path, "wb") as f:
        f.write(out)


def read_gguf(path):
    """Returns (kv {key: value}, kv types {key: type}, tensors {name: np.ndarray in numpy
    order}, infos [(name, ggml dims, ggml type, offset)]). F32/F16 tensors only."""
    data = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string():
        nonlocal pos
        n = take("<Q")
        s = data[pos:pos + n].decode()
        pos += n
        return s

    def value(t):
        if t == GGUF_STR:
            return string()
        if t == GGUF_ARR:
            et, n = take("<I"), take("<Q")
            return [value(et) for _ in range(n)]
        v = take(_GGUF_FMT[t])
        return bool(v) if t == GGUF_BOOL else v

    assert data[:4] == b"GGUF", "not a GGUF file"
    pos = 4
    version, n_t, n_kv = take("<I"), take("<Q"), take("<Q")
    assert version == 3, version
    kv, types = {}, {}
    for _ in range(n_kv):
        k = string()
        t = take("<I")
        kv[k], types[k] = value(t), t
    infos = []
    for _ in range(n_t):
        name = string()
        nd = take("<I")
        dims = [take("<Q") for _ in range(nd)]
        infos.append((name, dims, take("<I"), take("<Q")))
    align = kv.get("general.alignment", 32)
    base = pos + (-pos % align)
    tensors = {}
    for name, dims, gt, off in infos:
        dt = np.dtype(_GGML_NP[gt]).newbyteorder("<")
        count = int(np.prod(dims))
        tensors[name] = np.frombuffer(data, dt, count, base + off).reshape(dims[::-1])
    return kv, types, tensors, infos


# ---------------------------------------------------------------- image processors

def load_rgb(path):
    """As transformers/LLaVA open images: Pillow, then convert('RGB') (alpha dropped,
    not composited)."""
    return Image.open(path).convert("RGB")


def expand2square(img, mean):
    """LLaVA-1.5's pad: a square of the longer side filled with int(mean*255) per
    channel, the image pasted centred on the shorter axis ((long - short) // 2)."""
    w, h = img.size
    if w == h:
        return img
    bg = tuple(int(x * 255) for x in mean)
    s = max(w, h)
    out = Image.new(img.mode, (s, s), bg)
    out.paste(img, ((s - w) // 2, 0) if h > w else (0, (s - h) // 2))
    return out


def model_input(img, size, aspect, mean):
    """The uint8 RGB image [size, size, 3] the model sees before rescale/normalise.
    aspect: 'crop' (CLIPImageProcessor: shortest edge -> size with Pillow BICUBIC,
    new long side int(size * long / short), centre crop top=(h-size)//2,
    left=(w-size)//2), 'pad' (LLaVA-1.5: expand2square with the mean colour, then
    the crop pipeline) or 'resize' (SiglipImageProcessor: BICUBIC to size x size)."""
    if aspect not in ("crop", "pad", "resize"):
        raise ValueError(aspect)
    if aspect == "pad":
        img = expand2square(img, mean)
    if aspect == "resize":
        return np.asarray(img.resize((size, size), Image.BICUBIC))
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(size * long / short)
    nw, nh = (size, new_long) if w <= h else (new_long, size)
    a = np.asarray(img.resize((nw, nh), Image.BICUBIC))
    top, left = (nh - size) // 2, (nw - size) // 2
    return a[top:top + size, left:left + size].copy()


def normalise(u8, mean, std):
    """transformers' rescale then normalize: float32(u8 * (1/255) in float64), then
    (x - mean) / std in float32. [S, S, 3] uint8 -> [3, S, S] float32."""
    a = (u8.astype(np.float64) * (1 / 255)).astype(np.float32)
    a = (a - np.array(mean, np.float32)) / np.array(std, np.float32)
    return a.transpose(2, 0, 1).copy()


def preprocess(img, size, aspect, mean, std):
    """Pillow image -> the model's pixel_values [3, size, size] float32."""
    return normalise(model_input(img, size, aspect, mean), mean, std)


# ---------------------------------------------------------------- the encoder

ACTS = {
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
    "gelu": lambda x: torch.nn.functional.gelu(x),  # erf
    "gelu_pytorch_tanh": lambda x: torch.nn.functional.gelu(x, approximate="tanh"),
}


def vit_forward(w, cfg, pixels):
    """w: {transformers vision_model.* name without the prefix: float64 tensor};
    cfg: dict(arch 'clip'|'siglip', hidden, heads, layers, patch, act, eps);
    pixels: [3, S, S]. Returns hidden_states (list of [n, D], [0] = embeddings after
    CLIP's pre-LN, [k] = output of block k), attentions (per block [heads, n, n]
    softmax probabilities) and keys (per block [n, heads, head_dim], with bias);
    n = 1 + patches for CLIP (CLS first), patches for SigLIP, raster order."""
    D, H, p = cfg["hidden"], cfg["heads"], cfg["patch"]
    hd = D // H
    F = torch.nn.functional
    x = torch.as_tensor(pixels, dtype=torch.float64)[None]
    pe = F.conv2d(x, w["embeddings.patch_embedding.weight"], w.get("embeddings.patch_embedding.bias"), stride=p)
    tok = pe[0].flatten(1).t()  # [P, D]
    if cfg["arch"] == "clip":
        tok = torch.cat([w["embeddings.class_embedding"][None], tok])
    tok = tok + w["embeddings.position_embedding.weight"]
    if cfg["arch"] == "clip":
        tok = F.layer_norm(tok, (D,), w["pre_layrnorm.weight"], w["pre_layrnorm.bias"], cfg["eps"])
    hidden, attns, keys = [tok], [], []
    act = ACTS[cfg["act"]]
    for l in range(cfg["layers"]):
        def g(name):
            return w[f"encoder.layers.{l}.{name}"]

        def lin(t, name):
            return t @ g(name + ".weight").t() + g(name + ".bias")

        n = tok.shape[0]
        h = F.layer_norm(tok, (D,), g("layer_norm1.weight"), g("layer_norm1.bias"), cfg["eps"])
        q = lin(h, "self_attn.q_proj").view(n, H, hd).transpose(0, 1)
        k = lin(h, "self_attn.k_proj").view(n, H, hd).transpose(0, 1)
        v = lin(h, "self_attn.v_proj").view(n, H, hd).transpose(0, 1)
        a = torch.softmax((q * hd ** -0.5) @ k.transpose(1, 2), dim=-1)
        tok = tok + lin((a @ v).transpose(0, 1).reshape(n, D), "self_attn.out_proj")
        h = F.layer_norm(tok, (D,), g("layer_norm2.weight"), g("layer_norm2.bias"), cfg["eps"])
        tok = tok + lin(act(lin(h, "mlp.fc1")), "mlp.fc2")
        hidden.append(tok)
        attns.append(a)
        keys.append(k.transpose(0, 1))
    return hidden, attns, keys


def project(w, x):
    """LLaVA's multi_modal_projector: linear_2(gelu(linear_1(x))), GELU with erf."""
    h = torch.nn.functional.gelu(x @ w["linear_1.weight"].t() + w["linear_1.bias"])
    return h @ w["linear_2.weight"].t() + w["linear_2.bias"]


def resolve_feature_layer(layer, n_layers):
    """hidden_states index -> the 1-based block whose output it is."""
    blk = layer if layer > 0 else n_layers + 1 + layer
    if layer == 0 or not 1 <= blk <= n_layers:
        raise ValueError(f"feature layer {layer} outside 1..{n_layers} / -{n_layers}..-1")
    return blk


def encoder_outputs(w, cfg, pixels, feature_layer, proj=None):
    """What vtc's struct vtc_features holds for one image, as float64 numpy:
    features, cls (CLIP), cls_attn, cls_attn_last, keys, embeds and cls_embed
    (with a projector). Also returns the 1-based feature block. feature_layer 0 is
    the tower's last_hidden_state: with cfg["post_ln_last"] (a plain SigLIP tower)
    post_layernorm'd; any other index is hidden_states[k], never normed; attention
    statistics and keys never are.
    A list of indices is LLaVA-NeXT's multi-layer vision_feature_layer
    (modeling_llava_next.py, get_image_features): features (and cls) are
    torch.cat([hidden_states[i] for i in list], dim=-1), in list order, width
    D * len(list); cls_attn and keys are those of the LAST listed layer's block, which
    is the block returned."""
    hidden, attns, keys = vit_forward(w, cfg, pixels)
    L = cfg["layers"]
    c0 = 1 if cfg["arch"] == "clip" else 0
    if isinstance(feature_layer, (list, tuple)):
        blks = [resolve_feature_layer(x, L) for x in feature_layer]
        blk = blks[-1]
        feat = torch.cat([hidden[b] for b in blks], dim=-1)
    else:
        # feature_layer 0: a plain tower's own output, last_hidden_state (vtc's default when
        # neither the config nor the caller names a layer); k != 0: hidden_states[k]
        blk = L if feature_layer == 0 else resolve_feature_layer(feature_layer, L)
        feat = hidden[blk]
    if cfg.get("post_ln_last") and feature_layer == 0:  # a plain SigLIP tower's last_hidden_state
        feat = torch.nn.functional.layer_norm(feat, (cfg["hidden"],), w["post_layernorm.weight"],
                                              w["post_layernorm.bias"], cfg["eps"])

    def stat(a):  # a [heads, n, n]
        if c0:
            return a[:, 0, c0:].mean(0)  # CLS query row, patch columns, head mean
        return a.mean(1).mean(0)  # received: mean over query rows, then heads

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
        if c0:
            out["cls_embed"] = project(proj, feat[:1])
    return {k: v.numpy() for k, v in out.items()}, blk


def encoder_flops_parts(cfg, blk, want_last=True):
    """FLOPs (2 per multiply-accumulate, matmuls only; no layer norms, softmax,
    activations or residual adds) of vtc's encoder as executed:
      patch_embed    P * (3 p^2) * D MACs
      per block      q, k, v, o: 4 n D^2; scores + weighted sum: 2 n^2 D; MLP: 2 n D F
      feature blocks blocks 1..blk in full
      last_stat      only when cls_attn_last is wanted and blk < L: blocks blk+1..L-1
                     in full, then for block L only what the statistic needs:
                     CLIP: keys of all n tokens (n D^2), the CLS query (D^2), its
                     score row (n D); SigLIP (every query row is needed): q, k, v
                     (3 n D^2) and the attention (2 n^2 D, vtc runs the weighted sum too).
    n = P + 1 with a CLS token, P patches = (image_size / patch)^2."""
    D, F, p = cfg["hidden"], cfg["ffn"], cfg["patch"]
    P = (cfg["image_size"] // p) ** 2
    n = P + (1 if cfg["arch"] == "clip" else 0)
    block = 2 * (4 * n * D * D + 2 * n * n * D + 2 * n * D * F)
    parts = {"patch_embed": 2 * P * 3 * p * p * D, "block": block, "feature_blocks": blk * block, "last_stat": 0}
    L = cfg["layers"]
    if want_last and blk < L:
        if cfg["arch"] == "clip":
            last = 2 * (n * D * D + D * D + n * D)
        else:
            last = 2 * (3 * n * D * D + 2 * n * n * D)
        parts["last_stat"] = (L - 1 - blk) * block + last
    parts["total"] = parts["patch_embed"] + parts["feature_blocks"] + parts["last_stat"]
    return parts


def encoder_flops(cfg, blk, want_last=True):
    return encoder_flops_parts(cfg, blk, want_last)["total"]


def projector_flops(n_tokens, D, L):
    """linear_1 (D -> L) and linear_2 (L -> L) per token."""
    return n_tokens * 2 * (D * L + L * L)


# ---------------------------------------------------------------- self-test

def crosscheck_forward(w, cfg, pixels):
    """Recomputes vit_forward with torch.nn building blocks (unfold patching,
    nn.LayerNorm, nn.MultiheadAttention) and returns the largest absolute
    difference over all hidden states and attention probabilities."""
    D, H, p = cfg["hidden"], cfg["heads"], cfg["patch"]
    nn = torch.nn
    x = torch.as_tensor(pixels, dtype=torch.float64)[None]
    cols = nn.functional.unfold(x, p, stride=p)[0].t()  # [P, 3 p p], (c, ky, kx) order
    tok = cols @ w["embeddings.patch_embedding.weight"].reshape(D, -1).t()
    if "embeddings.patch_embedding.bias" in w:
        tok = tok + w["embeddings.patch_embedding.bias"]
    if cfg["arch"] == "clip":
        tok = torch.cat([w["embeddings.class_embedding"][None], tok])
    tok = tok + w["embeddings.position_embedding.weight"]

    def ln(prefix):
        m = nn.LayerNorm(D, eps=cfg["eps"]).double()
        m.weight.data, m.bias.data = w[prefix + ".weight"].clone(), w[prefix + ".bias"].clone()
        return m

    def linear(prefix):
        wt = w[prefix + ".weight"]
        m = nn.Linear(wt.shape[1], wt.shape[0]).double()
        m.weight.data, m.bias.data = wt.clone(), w[prefix + ".bias"].clone()
        return m

    if cfg["arch"] == "clip":
        tok = ln("pre_layrnorm")(tok)
    act = {"quick_gelu": lambda t: t * torch.sigmoid(1.702 * t), "gelu": nn.GELU(),
           "gelu_pytorch_tanh": nn.GELU(approximate="tanh")}[cfg["act"]]
    ref_hidden, ref_attn, _ = vit_forward(w, cfg, pixels)

    def diff(a, b):  # NaN counts as the worst
        d = (a - b).abs().max().item()
        return d if d == d else float("inf")

    worst = diff(tok, ref_hidden[0])
    for l in range(cfg["layers"]):
        pre = f"encoder.layers.{l}."
        mha = nn.MultiheadAttention(D, H, batch_first=True).double()
        mha.in_proj_weight.data = torch.cat([w[pre + f"self_attn.{t}_proj.weight"] for t in "qkv"])
        mha.in_proj_bias.data = torch.cat([w[pre + f"self_attn.{t}_proj.bias"] for t in "qkv"])
        mha.out_proj.weight.data = w[pre + "self_attn.out_proj.weight"].clone()
        mha.out_proj.bias.data = w[pre + "self_attn.out_proj.bias"].clone()
        h = ln(pre + "layer_norm1")(tok)[None]
        o, a = mha(h, h, h, need_weights=True, average_attn_weights=False)
        tok = tok + o[0]
        tok = tok + linear(pre + "mlp.fc2")(act(linear(pre + "mlp.fc1")(ln(pre + "layer_norm2")(tok))))
        worst = max(worst, diff(tok, ref_hidden[l + 1]), diff(a[0], ref_attn[l]))
    return worst


def _selftest():
    import os
    import tempfile
    rng = np.random.default_rng(0)
    for arch, act in (("clip", "quick_gelu"), ("clip", "gelu"), ("siglip", "gelu_pytorch_tanh")):
        D, H, F, p, S, L = 16, 2, 24, 4, 16, 2
        g = S // p
        w = {"embeddings.patch_embedding.weight": rng.normal(0, 0.2, (D, 3, p, p)),
             "embeddings.position_embedding.weight": rng.normal(0, 0.5, (g * g + (arch == "clip"), D))}
        if arch == "clip":
            w["embeddings.class_embedding"] = rng.normal(0, 1, D)
            w["pre_layrnorm.weight"], w["pre_layrnorm.bias"] = 1 + rng.normal(0, .1, D), rng.normal(0, .1, D)
        else:
            w["embeddings.patch_embedding.bias"] = rng.normal(0, 0.1, D)
        for l in range(L):
            pre = f"encoder.layers.{l}."
            for t in ("q_proj", "k_proj", "v_proj", "out_proj"):
                w[pre + f"self_attn.{t}.weight"], w[pre + f"self_attn.{t}.bias"] = rng.normal(0, .5, (D, D)), \
                    rng.normal(0, .1, D)
            for t in ("layer_norm1", "layer_norm2"):
                w[pre + t + ".weight"], w[pre + t + ".bias"] = 1 + rng.normal(0, .1, D), rng.normal(0, .1, D)
            w[pre + "mlp.fc1.weight"], w[pre + "mlp.fc1.bias"] = rng.normal(0, .3, (F, D)), rng.normal(0, .1, F)
            w[pre + "mlp.fc2.weight"], w[pre + "mlp.fc2.bias"] = rng.normal(0, .3, (D, F)), rng.normal(0, .1, D)
        w = {k: torch.from_numpy(np.asarray(v, np.float64)) for k, v in w.items()}
        cfg = dict(arch=arch, hidden=D, heads=H, layers=L, patch=p, act=act, eps=1e-5)
        pixels = rng.normal(0, 1, (3, S, S))
        err = crosscheck_forward(w, cfg, pixels)
        print(f"forward {arch}/{act}: max |diff| vs torch.nn modules {err:.1e}")
        assert err < 1e-12
        if arch == "siglip":  # a plain tower's last block is post_layernorm'd, no other
            w["post_layernorm.weight"] = torch.from_numpy(1 + rng.normal(0, .1, D))
            w["post_layernorm.bias"] = torch.from_numpy(rng.normal(0, .1, D))
            ln = torch.nn.LayerNorm(D, eps=cfg["eps"]).double()
            ln.weight.data, ln.bias.data = w["post_layernorm.weight"], w["post_layernorm.bias"]
            hidden = vit_forward(w, cfg, pixels)[0]
            plain = dict(cfg, post_ln_last=True)
            for layer, want in ((0, ln(hidden[L])), (-1, hidden[L]), (L, hidden[L]), (-2, hidden[L - 1])):
                got = encoder_outputs(w, plain, pixels, layer)[0]["features"]
                assert abs(got - want.detach().numpy()).max() < 1e-12, layer
            assert (encoder_outputs(w, cfg, pixels, -1)[0]["features"] == hidden[L].numpy()).all()
            print("siglip post_layernorm: feature layer 0 (last_hidden_state) of a plain tower only")
        # a list of layers: hidden_states concatenated in list order, statistics at the last listed
        hidden, attns, _ = vit_forward(w, cfg, pixels)
        c0 = 1 if arch == "clip" else 0
        for layers in ([-2, -1], [-1, 0 + 1], [1, 1]):
            out, blk = encoder_outputs(w, cfg, pixels, layers)
            single, blk1 = encoder_outputs(w, cfg, pixels, layers[-1])
            want = torch.cat([hidden[resolve_feature_layer(x, L)] for x in layers], dim=-1)[c0:].numpy()
            assert out["features"].shape == (g * g, D * len(layers)) and (out["features"] == want).all()
            assert (out["features"][:, -D:] == single["features"]).all() and blk == blk1
            assert (out["cls_attn"] == single["cls_attn"]).all() and (out["keys"] == single["keys"]).all()
        print(f"{arch}: feature layer lists concatenate hidden_states in list order, statistics at the last listed")
    with tempfile.TemporaryDirectory() as d:
        a = rng.normal(0, 1, (3, 5)).astype(np.float32)
        write_safetensors(os.path.join(d, "t.safetensors"),
                          {"f32": a, "f16": a.astype(np.float16), "bf16": BF16(a),
                           "tbf16": torch.from_numpy(a).bfloat16(),
                           "i32": np.arange(6, dtype=np.int32).reshape(2, 3)}, {"k": "v"})
        t, meta = read_safetensors(os.path.join(d, "t.safetensors"))
        assert meta == {"k": "v"} and (t["f32"] == a).all() and (t["f16"] == a.astype(np.float16)).all()
        assert (t["bf16"] == BF16(a).values).all() and (t["tbf16"] == t["bf16"]).all() and t["i32"][1, 2] == 5
        write_gguf(os.path.join(d, "t.gguf"), [("a.b", GGUF_U32, 7), ("a.s", GGUF_STR, "x"),
                                               ("a.arr", GGUF_ARR, (GGUF_F32, [0.5, 0.25])), ("a.t", GGUF_BOOL, True),
                                               ("a.i", GGUF_ARR, (GGUF_I32, [336, -2]))],
                   [("w", a.astype(np.float16), GGML_F16), ("b", a[0], GGML_F32)])
        kv, _, tens, infos = read_gguf(os.path.join(d, "t.gguf"))
        assert kv == {"a.b": 7, "a.s": "x", "a.arr": [0.5, 0.25], "a.t": True, "a.i": [336, -2]}
        assert infos[0][1] == [5, 3] and infos[1][3] % 32 == 0 and (tens["w"] == a.astype(np.float16)).all()
    print("file writers: ok")


if __name__ == "__main__":
    if sys.argv[1:] == ["--selftest"]:
        _selftest()
    else:
        print(__doc__)
