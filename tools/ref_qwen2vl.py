"""Independent reference for Qwen2-VL and Qwen2.5-VL vision: the image/video processor,
both vision towers with their patch merger, vtc's split of the merger into features +
projector, the received-attention statistic, and the M-RoPE (t, h, w) ids of the vision
tokens, in PyTorch (float64), numpy and Pillow.

Written to the semantics of Hugging Face transformers (main, 2025-2026), read from its
source, not imported (it is not installed here):
- models/qwen2_vl/image_processing_qwen2_vl.py (smart_resize; the slow processor:
  Pillow BICUBIC resize of the uint8 image, then rescale 1/255 and normalise with
  OPENAI_CLIP_MEAN/STD, an image repeated to temporal_patch_size, patches flattened in
  (t, h/m, w/m, m, m) order, each row (C, tp, p, p)) and image_processing_pil_qwen2_vl.py
  (the same steps; a frame count not a multiple of temporal_patch_size is padded by
  repeating the last frame). smart_resize as after transformers PR #38706 (2025-06-10):
  no minimum-size error, the floor branch clamped to `factor`, an aspect ratio over 200
  refused; Python's round() (half to even) on height / factor.
- models/qwen2_vl/video_processing_qwen2_vl.py (frames paired along time: grid_t =
  frames / 2, the same patch order). The reference resizes every frame with Pillow
  BICUBIC, as the slow image processor did for videos (transformers <= 4.51); the
  torchvision video processor's bicubic differs by a grey level here and there.
- models/qwen2_vl/modeling_qwen2_vl.py (PatchEmbed: Conv3d without bias;
  VisionRotaryEmbedding(head_dim / 2, theta 10000) on the (h, w) patch ids in merge
  order, cat(freqs, freqs) and rotate_half; VisionAttention: qkv Linear split
  (3, heads, head_dim), attention per cu_seqlens segment = per temporal slice;
  Qwen2VLVisionBlock: LayerNorm eps 1e-6, MLP fc1 -> hidden_act (quick_gelu) -> fc2,
  mlp width int(embed_dim * mlp_ratio); PatchMerger: ln_q LayerNorm eps 1e-6, rows
  viewed as [-1, 4 D], mlp.0 Linear(4D, 4D), GELU (erf), mlp.2 Linear(4D, hidden_size);
  get_rope_index: vision ids (t, h, w) = (slice, merged row, merged column) + offset).
- models/qwen2_5_vl/modeling_qwen2_5_vl.py (Qwen2RMSNorm eps 1e-6 for norm1, norm2
  and merger ln_q; Qwen2_5_VLMLP with bias: down(silu(gate(x)) * up(x));
  get_window_index: windows of window_size / merge / patch = 4 x 4 merged units per
  temporal slice, the last row/column of windows cut at the image edge, windows in
  raster order, merged units raster inside a window; hidden states and rotary ids
  permuted to that order before the blocks, cu_window_seqlens for every block not in
  fullatt_block_indexes, the merger output permuted back with argsort(window_index);
  get_rope_index: t id = int(slice * second_per_grid_t * tokens_per_second), kept in
  floating point until the truncation as after transformers PR #48669; 0 for images)
  and processing_qwen2_5_vl.py (second_per_grid_t = temporal_patch_size / fps).
- configuration_qwen2_vl.py / configuration_qwen2_5_vl.py (vision_config keys).
Commits read: modeling_qwen2_vl.py and modeling_qwen2_5_vl.py at 00b676f8,
image_processing_qwen2_vl.py at cb0fc56f, image_processing_pil_qwen2_vl.py at 035abaa1,
video_processing_qwen2_vl.py at 000513e6, configuration_*.py at 018c8e03,
processing_qwen2_5_vl.py at 00368c17 (huggingface/transformers).

vtc's split of a Qwen tower (not a transformers notion): "features" = ln_q(output of the
last block), each merged 2x2 unit's 4 rows concatenated in merge order, [n_merged, 4 D]
(the merger MLP's input); the "projector" = the merger MLP; one token = one merged
unit, in the processor's order (for Qwen2.5-VL after the window order is undone).
"received" attention (no CLS): in the last block, per patch the head-mean attention it
receives, summed over the queries of its attention span (its temporal slice in a
full-attention block, its window in a windowed one) and divided by their count; per
merged unit the mean over its 4 patches. Within each span the patch values sum to 1.

`/usr/bin/python3 tools/ref_qwen2vl.py --selftest` checks the pieces that have an
independent formulation: smart_resize's invariants over a sweep of sizes, the patch
flattening against explicit loops, the patch embedding against F.conv3d, the rotary
embedding against complex multiplication (and its relative-position property), the
window order against a direct window-id sort and its inverse, attention over
cu_seqlens segments against one masked softmax, the merger order, and the positions.
"""
import math
import sys

import numpy as np
import torch
from PIL import Image

F = torch.nn.functional

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]  # OPENAI_CLIP_MEAN
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]  # OPENAI_CLIP_STD
MAX_RATIO = 200


# ---------------------------------------------------------------- processor

def smart_resize(height, width, factor=28, min_pixels=56 * 56, max_pixels=28 * 28 * 1280):
    """(resized_h, resized_w), both multiples of factor; ValueError when the aspect
    ratio exceeds 200. Python floats (IEEE double) and round-half-even, in the
    upstream order of operations."""
    if max(height, width) / min(height, width) > MAX_RATIO:
        raise ValueError(f"absolute aspect ratio must be smaller than {MAX_RATIO}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def pil_resize(u8, hw):
    """transformers' resize of a uint8 image: Pillow BICUBIC (reducing_gap None)."""
    return np.asarray(Image.fromarray(u8).resize((hw[1], hw[0]), Image.BICUBIC))


def flatten_patches(frames, patch=14, tp=2, merge=2):
    """frames: float [T, C, H, W] (T a multiple of tp) -> [T/tp * gh * gw, C*tp*p*p],
    rows ordered (t, h/m, w/m, m, m), each row (C, tp, p, p)."""
    T, C, H, W = frames.shape
    gt, gh, gw = T // tp, H // patch, W // patch
    x = frames.reshape(gt, tp, C, gh // merge, merge, patch, gw // merge, merge, patch)
    x = x.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return np.ascontiguousarray(x.reshape(gt * gh * gw, C * tp * patch * patch)), (gt, gh, gw)


def process_frames(frames_u8, min_pixels, max_pixels, patch=14, tp=2, merge=2, mean=CLIP_MEAN, std=CLIP_STD):
    """frames_u8: list of RGB uint8 [H, W, 3] of one size (one image or one clip's
    frames). Returns pixel_values float32 [n_patches, 3*tp*p*p], grid_thw (t, h, w)
    and the resized (h, w). The arithmetic is transformers' own, so the values are
    the processor's to the bit: rescale = float32(float64(u8) * (1/255))
    (image_transforms.rescale), normalise = (x - float32(mean)) / float32(std) in
    float32 (image_transforms.normalize)."""
    H, W = frames_u8[0].shape[:2]
    rh, rw = smart_resize(H, W, patch * merge, min_pixels, max_pixels)
    m = np.asarray(mean, np.float32)[:, None, None]
    s = np.asarray(std, np.float32)[:, None, None]
    out = []
    for f in frames_u8:
        x = (pil_resize(f, (rh, rw)).transpose(2, 0, 1).astype(np.float64) * (1 / 255)).astype(np.float32)
        out.append((x - m) / s)
    while len(out) % tp:  # an image (one frame) or an odd clip: the last frame repeated
        out.append(out[-1])
    px, grid = flatten_patches(np.stack(out), patch, tp, merge)
    assert px.dtype == np.float32
    return px, grid, (rh, rw)


# ---------------------------------------------------------------- geometry

def sample_frames(total, video_fps, num_frames=None, fps=None, frame_factor=2, min_frames=4, max_frames=768):
    """Qwen2VLVideoProcessor.sample_frames (video_processing_qwen2_vl.py at 000513e6): the
    frame indices it keeps of a video of `total` frames at `video_fps`, with torch.arange
    as that code calls it (torch's own float32 rounding included). Raises ValueError
    where the processor fails (no frame, more frames than the video)."""
    if num_frames is not None:
        num_frames = round(num_frames / frame_factor) * frame_factor
    else:
        max_frames = math.floor(min(max_frames, total) / frame_factor) * frame_factor
        num_frames = total / video_fps * fps
        num_frames = min(max(num_frames, min_frames), max_frames, total)
        num_frames = math.floor(num_frames / frame_factor) * frame_factor
    if num_frames > total or num_frames <= 0:  # the processor: an error, or a division by zero
        raise ValueError(f"cannot sample {num_frames} of {total} frames")
    idx = torch.arange(0, total, total / num_frames).int().tolist()
    if idx[-1] >= total:  # float32 rounding past the end: video[indices] raises IndexError
        raise ValueError(f"index {idx[-1]} of {total} frames")
    return idx


def patch_hw_ids(grid, merge=2):
    """(h, w) patch coordinates of every patch row in the processor order [n, 2]."""
    gt, gh, gw = grid
    hh, ww = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    one = np.stack([hh, ww], -1).reshape(gh // merge, merge, gw // merge, merge, 2)
    one = one.transpose(0, 2, 1, 3, 4).reshape(-1, 2)
    return np.tile(one, (gt, 1))


def window_index(grid, window_size=112, patch=14, merge=2):
    """Qwen2.5-VL's window order: a permutation of the merged units (indices into the
    processor order) and the window lengths in patches (no empty windows)."""
    gt, gh, gw = grid
    mh, mw = gh // merge, gw // merge
    ws = window_size // merge // patch
    order, lens = [], []
    for t in range(gt):
        for wr in range(0, mh, ws):
            for wc in range(0, mw, ws):
                units = [t * mh * mw + r * mw + c for r in range(wr, min(wr + ws, mh))
                         for c in range(wc, min(wc + ws, mw))]
                order += units
                lens.append(len(units) * merge * merge)
    return np.asarray(order, np.int64), lens


def rope_positions(grid, merge=2, second_per_grid_t=None, tokens_per_second=None):
    """M-RoPE (t, h, w) ids of the vision tokens (merged units, processor order) minus
    the offset of the first one (get_rope_index). Qwen2-VL: t = temporal slice
    (tokens_per_second None); Qwen2.5-VL: t = int(slice * second_per_grid_t *
    tokens_per_second), second_per_grid_t 0 for an image."""
    gt, gh, gw = grid
    mh, mw = gh // merge, gw // merge
    t = np.arange(gt)
    if tokens_per_second is not None:
        t = np.array([int(k * second_per_grid_t * tokens_per_second) for k in range(gt)])
    tt, hh, ww = np.meshgrid(t, np.arange(mh), np.arange(mw), indexing="ij")
    return np.stack([tt, hh, ww], -1).reshape(-1, 3).astype(np.int64)


# ---------------------------------------------------------------- tower

def rotary_angles(ids, head_dim, theta=10000.0):
    """ids [n, 2] (h, w) -> angles [n, head_dim / 2]: h * inv_freq then w * inv_freq,
    inv_freq = theta ** -(arange(0, head_dim/2, 2) / (head_dim/2))."""
    dim = head_dim // 2
    inv = 1.0 / theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    ids = torch.as_tensor(ids, dtype=torch.float64)
    return torch.cat([ids[:, :1] * inv, ids[:, 1:] * inv], dim=1)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def apply_rotary(x, angles):
    """x [n, heads, hd], angles [n, hd/2]: x * cos + rotate_half(x) * sin, emb =
    cat(angles, angles)."""
    emb = torch.cat([angles, angles], dim=-1)[:, None, :]
    return x * emb.cos() + rotate_half(x) * emb.sin()


def segment_attention(q, k, v, lens):
    """q, k, v [n, heads, hd], lens: consecutive segment lengths (cu_seqlens
    differences). Softmax(q k^T / sqrt(hd)) inside each segment. Returns the output
    [n, heads, hd] and the probabilities of each segment [heads, len, len]."""
    hd = q.shape[-1]
    outs, probs, s = [], [], 0
    for n in lens:
        qs, ks, vs = (t[s:s + n].transpose(0, 1) for t in (q, k, v))
        a = torch.softmax((qs @ ks.transpose(1, 2)) * hd ** -0.5, dim=-1)
        outs.append((a @ vs).transpose(0, 1))
        probs.append(a)
        s += n
    return torch.cat(outs), probs


def layer_norm(x, w, b, eps=1e-6):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def rms_norm(x, w, eps=1e-6):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def lin(x, w, name, bias=True):
    y = x @ w[name + ".weight"].t()
    return y + w[name + ".bias"] if bias else y


ACTS = {"quick_gelu": lambda x: x * torch.sigmoid(1.702 * x), "silu": F.silu, "gelu": F.gelu}


def tower_forward(w, cfg, pixel_values, grid):
    """w: {name without 'visual.': float64 tensor}; cfg: dict(kind 'qwen2vl'|'qwen25vl',
    D, heads, depth, act, merge, patch, window_size, fullatt); pixel_values
    [n, 3*2*14*14]. Returns last_hidden [n, D] (processor order), features
    [n/4, 4D], embeds [n/4, out], recv_attn [n/4] and the last block's probabilities
    per span with the spans (lists of processor-order patch indices)."""
    D, H, m = cfg["D"], cfg["heads"], cfg["merge"]
    hd = D // H
    unit = m * m
    x = torch.as_tensor(pixel_values, dtype=torch.float64)
    n = x.shape[0]
    pe = w["patch_embed.proj.weight"]
    x = x @ pe.reshape(pe.shape[0], -1).t()  # Conv3d with stride = kernel, no bias
    angles = rotary_angles(patch_hw_ids(grid, m), hd)
    gt, gh, gw = grid
    slice_lens = [gh * gw] * gt
    perm = np.arange(n)
    win_lens = None
    if cfg["kind"] == "qwen25vl":
        order, win_lens = window_index(grid, cfg["window_size"], cfg["patch"], m)
        perm = (order[:, None] * unit + np.arange(unit)).reshape(-1)  # merged units -> patches
        x, angles = x[perm], angles[perm]
    probs = None
    for b in range(cfg["depth"]):
        def g(s):
            return f"blocks.{b}.{s}"

        if cfg["kind"] == "qwen2vl":
            h = layer_norm(x, w[g("norm1.weight")], w[g("norm1.bias")])
        else:
            h = rms_norm(x, w[g("norm1.weight")])
        qkv = lin(h, w, g("attn.qkv")).reshape(n, 3, H, hd)
        q, k, v = (apply_rotary(qkv[:, 0], angles), apply_rotary(qkv[:, 1], angles), qkv[:, 2])
        full = cfg["kind"] == "qwen2vl" or b in cfg["fullatt"]
        o, probs = segment_attention(q, k, v, slice_lens if full else win_lens)
        x = x + lin(o.reshape(n, D), w, g("attn.proj"))
        if cfg["kind"] == "qwen2vl":
            h = layer_norm(x, w[g("norm2.weight")], w[g("norm2.bias")])
            x = x + lin(ACTS[cfg["act"]](lin(h, w, g("mlp.fc1"))), w, g("mlp.fc2"))
        else:
            h = rms_norm(x, w[g("norm2.weight")])
            gate = ACTS[cfg["act"]](lin(h, w, g("mlp.gate_proj")))
            x = x + lin(gate * lin(h, w, g("mlp.up_proj")), w, g("mlp.down_proj"))
        last_full = full
    inv = np.argsort(perm)  # back to the processor order (patch level)
    last_hidden = x[inv]
    if cfg["kind"] == "qwen2vl":
        normed = layer_norm(last_hidden, w["merger.ln_q.weight"], w["merger.ln_q.bias"])
    else:
        normed = rms_norm(last_hidden, w["merger.ln_q.weight"])
    features = normed.reshape(n // unit, unit * D)
    embeds = lin(F.gelu(lin(features, w, "merger.mlp.0")), w, "merger.mlp.2")
    # received attention in the last block, per span; spans in processor-order indices
    lens = slice_lens if last_full else win_lens
    starts = np.cumsum([0] + list(lens))
    spans = [perm[starts[i]:starts[i + 1]] for i in range(len(lens))]
    recv = torch.zeros(n, dtype=torch.float64)
    for span, a in zip(spans, probs):
        recv[torch.as_tensor(span)] = a.mean(0).sum(0) / len(span)
    recv_attn = recv.reshape(n // unit, unit).mean(1)
    return dict(last_hidden=last_hidden, features=features, embeds=embeds, recv_attn=recv_attn,
                recv_patch=recv), probs, spans


# ---------------------------------------------------------------- config

def cfg_from_hf(config):
    """The tower geometry from a config.json dict (Qwen2VLForConditionalGeneration or
    Qwen2_5_VLForConditionalGeneration), with the vision config classes' defaults."""
    vc = config["vision_config"]
    kind = {"qwen2_vl": "qwen2vl", "qwen2_5_vl": "qwen25vl"}[config["model_type"]]
    base = dict(kind=kind, depth=vc["depth"], heads=vc["num_heads"], patch=vc.get("patch_size", 14),
                merge=vc.get("spatial_merge_size", 2), tp=vc.get("temporal_patch_size", 2))
    if kind == "qwen2vl":
        D = vc["embed_dim"]
        return dict(base, D=D, mlp=int(D * vc.get("mlp_ratio", 4)), out=vc["hidden_size"],
                    act=vc.get("hidden_act", "quick_gelu"), fullatt=list(range(vc["depth"])), window_size=None,
                    tokens_per_second=None)
    return dict(base, D=vc["hidden_size"], mlp=vc["intermediate_size"], out=vc["out_hidden_size"],
                act=vc.get("hidden_act", "silu"), fullatt=list(vc["fullatt_block_indexes"]),
                window_size=vc.get("window_size", 112), tokens_per_second=vc.get("tokens_per_second", 4))


# ---------------------------------------------------------------- selftest

def _selftest():
    g = torch.Generator().manual_seed(5)
    rng = np.random.default_rng(5)
    fails = 0

    def check(name, ok, detail=""):
        nonlocal fails
        print(("ok   " if ok else "FAIL ") + name + (f"  ({detail})" if detail else ""))
        fails += 0 if ok else 1

    # smart_resize invariants: multiples of 28, within budget unless forced by the
    # clamps, aspect ratio kept within one factor step, ratio > 200 refused
    bad = 0
    for _ in range(20000):
        h, w = int(rng.integers(1, 4000)), int(rng.integers(1, 4000))
        mn = int(rng.integers(1, 400)) * 784
        mx = mn + int(rng.integers(0, 4000)) * 784
        try:
            rh, rw = smart_resize(h, w, 28, mn, mx)
        except ValueError:
            bad += max(h, w) / min(h, w) <= 200
            continue
        bad += rh % 28 != 0 or rw % 28 != 0 or rh < 28 or rw < 28
        if round(h / 28) * round(w / 28) * 784 > mx:
            bad += rh * rw > mx and rh > 28 and rw > 28
        elif round(h / 28) * round(w / 28) * 784 < mn:
            bad += rh * rw < mn
        else:
            bad += (rh, rw) != (round(h / 28) * 28, round(w / 28) * 28)
    check("smart_resize invariants over 20000 random sizes", bad == 0, f"{bad} violations")
    check("smart_resize rounds half to even", smart_resize(42, 70, 28, 1, 10 ** 9) == (56, 56)
          and smart_resize(98, 98, 28, 1, 10 ** 9) == (112, 112))

    # patch flattening vs explicit loops
    T, C, Hh, Ww = 4, 3, 56, 84
    fr = rng.standard_normal((T, C, Hh, Ww))
    px, (gt, gh, gw) = flatten_patches(fr)
    ref, r = np.zeros_like(px), 0
    for t in range(gt):
        for br in range(gh // 2):
            for bc in range(gw // 2):
                for mr in range(2):
                    for mc in range(2):
                        y, x0 = (br * 2 + mr) * 14, (bc * 2 + mc) * 14
                        ref[r] = fr[t * 2:t * 2 + 2, :, y:y + 14, x0:x0 + 14].transpose(1, 0, 2, 3).reshape(-1)
                        r += 1
    check("patch flattening vs explicit loops", np.array_equal(px, ref))
    ids = patch_hw_ids((gt, gh, gw))
    rr = []
    for t in range(gt):
        for br in range(gh // 2):
            for bc in range(gw // 2):
                for mr in range(2):
                    for mc in range(2):
                        rr.append((br * 2 + mr, bc * 2 + mc))
    check("rotary (h, w) ids vs explicit loops", np.array_equal(ids, np.array(rr)))

    # patch embedding as a matmul vs Conv3d
    D = 8
    wt = torch.randn(D, 3, 2, 14, 14, generator=g, dtype=torch.float64)
    mm = torch.as_tensor(px) @ wt.reshape(D, -1).t()
    cv = F.conv3d(torch.as_tensor(px).view(-1, 3, 2, 14, 14), wt).view(-1, D)
    check("patch embedding matmul vs F.conv3d", torch.allclose(mm, cv, atol=1e-10))

    # rotary vs complex numbers: pair (i, i + hd/2) rotated by angle i
    hd = 16
    q = torch.randn(30, 2, hd, generator=g, dtype=torch.float64)
    pos = torch.randint(0, 40, (30, 2), generator=g)
    ang = rotary_angles(pos, hd)
    z = torch.complex(q[..., :hd // 2], q[..., hd // 2:]) * torch.polar(torch.ones_like(ang), ang)[:, None]
    check("rotary vs complex multiplication",
          torch.allclose(apply_rotary(q, ang), torch.cat([z.real, z.imag], -1), atol=1e-12))
    kk = torch.randn(1, 1, hd, generator=g, dtype=torch.float64)
    shift = torch.tensor([[3, 5]])
    a1 = (apply_rotary(q[:1, :1], rotary_angles(torch.tensor([[1, 2]]), hd)) *
          apply_rotary(kk, rotary_angles(torch.tensor([[4, 9]]), hd))).sum()
    a2 = (apply_rotary(q[:1, :1], rotary_angles(torch.tensor([[1, 2]]) + shift, hd)) *
          apply_rotary(kk, rotary_angles(torch.tensor([[4, 9]]) + shift, hd))).sum()
    check("rotary scores depend on relative (h, w) only", abs(float(a1 - a2)) < 1e-12)

    # window order vs a sort by (t, window row, window column, unit row, unit column)
    for grid in [(1, 10, 14), (2, 6, 20), (1, 16, 16), (1, 2, 2), (3, 18, 8)]:
        order, lens = window_index(grid)
        gt_, mh, mw = grid[0], grid[1] // 2, grid[2] // 2
        keys = [(t, r // 4, c // 4, r, c) for t in range(gt_) for r in range(mh) for c in range(mw)]
        direct = np.array(sorted(range(len(keys)), key=lambda i: keys[i]))
        ok = np.array_equal(order, direct) and sum(lens) == 4 * len(keys)
        ok &= np.array_equal(order[np.argsort(order)], np.arange(len(order)))
        ok &= all(lens)
        check(f"window order and inverse, grid {grid}", ok, f"windows {len(lens)}")

    # segment attention vs one masked softmax over the whole sequence
    n, Hh2, hd2 = 24, 3, 8
    q, k_, v = (torch.randn(n, Hh2, hd2, generator=g, dtype=torch.float64) for _ in range(3))
    lens = [4, 12, 8]
    out, probs = segment_attention(q, k_, v, lens)
    seg = torch.repeat_interleave(torch.arange(3), torch.tensor(lens))
    s = torch.einsum("qhd,khd->hqk", q, k_) * hd2 ** -0.5
    s = s.masked_fill(seg[None, :, None] != seg[None, None, :], float("-inf"))
    a = torch.softmax(s, -1)
    check("cu_seqlens attention vs masked softmax", torch.allclose(out, torch.einsum("hqk,khd->qhd", a, v),
                                                                     atol=1e-12))

    # a whole tower with random weights: windowed path vs a masked full-sequence pass
    for kind in ("qwen2vl", "qwen25vl"):
        cfg = dict(kind=kind, D=16, heads=2, depth=3, merge=2, patch=14, act="quick_gelu" if kind == "qwen2vl"
                   else "silu", window_size=112, fullatt=[1] if kind == "qwen25vl" else [0, 1, 2], mlp=24, out=12)
        w = random_weights(torch.Generator().manual_seed(9), cfg)
        grid = (2, 6, 10)
        pxr = rng.standard_normal((2 * 60, 1176))
        out, probs, spans = tower_forward(w, cfg, pxr, grid)
        ref = masked_tower(w, cfg, pxr, grid)
        err = max(float((out[k] - ref[k]).abs().max()) for k in ("last_hidden", "embeds", "recv_attn"))
        check(f"{kind} tower vs masked full-sequence formulation", err < 1e-10, f"max err {err:.2e}")
        sums = [float(out["recv_patch"][torch.as_tensor(sp)].sum()) for sp in spans]
        check(f"{kind} received attention sums to 1 per span", max(abs(x - 1) for x in sums) < 1e-12)

    # positions
    p = rope_positions((2, 4, 6))
    check("Qwen2-VL positions", p.shape == (12, 3) and p[7].tolist() == [1, 0, 1])
    p = rope_positions((2, 4, 6), second_per_grid_t=0.5, tokens_per_second=5)
    check("Qwen2.5-VL positions int(0.5 * 5) = 2", p[7].tolist() == [2, 0, 1])
    print("selftest:", "all passed" if fails == 0 else f"{fails} failed")
    return fails


def random_weights(gen, cfg, scale=0.2):
    """Random float64 weights with the real tensor names (without 'visual.')."""
    D, m2 = cfg["D"], cfg["merge"] ** 2

    def r(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64) * scale

    w = {"patch_embed.proj.weight": r(D, 3, 2, 14, 14) * 0.1}
    for b in range(cfg["depth"]):
        p = f"blocks.{b}."
        w[p + "norm1.weight"] = 1 + r(D)
        w[p + "norm2.weight"] = 1 + r(D)
        if cfg["kind"] == "qwen2vl":
            w[p + "norm1.bias"], w[p + "norm2.bias"] = r(D), r(D)
            w[p + "mlp.fc1.weight"], w[p + "mlp.fc1.bias"] = r(cfg["mlp"], D), r(cfg["mlp"])
            w[p + "mlp.fc2.weight"], w[p + "mlp.fc2.bias"] = r(D, cfg["mlp"]), r(D)
        else:
            for nm, (o, i) in (("gate_proj", (cfg["mlp"], D)), ("up_proj", (cfg["mlp"], D)),
                               ("down_proj", (D, cfg["mlp"]))):
                w[p + f"mlp.{nm}.weight"], w[p + f"mlp.{nm}.bias"] = r(o, i), r(o)
        w[p + "attn.qkv.weight"], w[p + "attn.qkv.bias"] = r(3 * D, D), r(3 * D)
        w[p + "attn.proj.weight"], w[p + "attn.proj.bias"] = r(D, D), r(D)
    w["merger.ln_q.weight"] = 1 + r(D)
    if cfg["kind"] == "qwen2vl":
        w["merger.ln_q.bias"] = r(D)
    w["merger.mlp.0.weight"], w["merger.mlp.0.bias"] = r(m2 * D, m2 * D), r(m2 * D)
    w["merger.mlp.2.weight"], w["merger.mlp.2.bias"] = r(cfg["out"], m2 * D), r(cfg["out"])
    return w


def masked_tower(w, cfg, px, grid):
    """The tower in the processor order throughout, every block one softmax over the
    whole sequence with a mask allowing same-slice (full) or same-window pairs, Conv3d
    patch embedding and nn modules: an independent check of tower_forward."""
    D, H, m = cfg["D"], cfg["heads"], cfg["merge"]
    hd = D // H
    x = torch.as_tensor(px, dtype=torch.float64)
    n = x.shape[0]
    x = F.conv3d(x.view(n, 3, 2, 14, 14), w["patch_embed.proj.weight"]).view(n, D)
    gt, gh, gw = grid
    ids = patch_hw_ids(grid, m)
    t_of = np.repeat(np.arange(gt), gh * gw)
    ws = (cfg["window_size"] or 0) // m // cfg["patch"]
    win = t_of * 10 ** 6 + ((ids[:, 0] // m // ws) * 1000 + ids[:, 1] // m // ws if ws else 0)
    same_t = torch.as_tensor(t_of[:, None] == t_of[None, :])
    same_w = torch.as_tensor(win[:, None] == win[None, :])
    # rotary through complex numbers
    dim = hd // 2
    inv = 1.0 / 10000.0 ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    ang = torch.cat([torch.as_tensor(ids[:, :1], dtype=torch.float64) * inv,
                     torch.as_tensor(ids[:, 1:], dtype=torch.float64) * inv], 1)
    rot = torch.polar(torch.ones_like(ang), ang)[:, None]

    def rope(t):
        z = torch.complex(t[..., :hd // 2], t[..., hd // 2:]) * rot
        return torch.cat([z.real, z.imag], -1)

    def norm(t, pre):
        if cfg["kind"] == "qwen2vl":
            return F.layer_norm(t, (D,), w[pre + ".weight"], w[pre + ".bias"], 1e-6)
        return t / torch.sqrt(t.pow(2).mean(-1, keepdim=True) + 1e-6) * w[pre + ".weight"]

    a = None
    for b in range(cfg["depth"]):
        p = f"blocks.{b}."
        h = norm(x, p + "norm1")
        qkv = F.linear(h, w[p + "attn.qkv.weight"], w[p + "attn.qkv.bias"]).view(n, 3, H, hd)
        q, k, v = rope(qkv[:, 0]), rope(qkv[:, 1]), qkv[:, 2]
        mask = same_t if b in cfg["fullatt"] else same_w
        s = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(hd)
        a = torch.softmax(s.masked_fill(~mask, float("-inf")), -1)
        x = x + F.linear(torch.einsum("hqk,khd->qhd", a, v).reshape(n, D), w[p + "attn.proj.weight"],
                         w[p + "attn.proj.bias"])
        h = norm(x, p + "norm2")
        if cfg["kind"] == "qwen2vl":
            x = x + F.linear(ACTS[cfg["act"]](F.linear(h, w[p + "mlp.fc1.weight"], w[p + "mlp.fc1.bias"])),
                             w[p + "mlp.fc2.weight"], w[p + "mlp.fc2.bias"])
        else:
            gte = F.silu(F.linear(h, w[p + "mlp.gate_proj.weight"], w[p + "mlp.gate_proj.bias"]))
            up = F.linear(h, w[p + "mlp.up_proj.weight"], w[p + "mlp.up_proj.bias"])
            x = x + F.linear(gte * up, w[p + "mlp.down_proj.weight"], w[p + "mlp.down_proj.bias"])
    last_mask = (same_t if cfg["depth"] - 1 in cfg["fullatt"] else same_w).double()
    recv = a.mean(0).sum(0) / last_mask.sum(0)  # column sums over the queries that may see the key
    mlp = torch.nn.Sequential(torch.nn.Linear(4 * D, 4 * D), torch.nn.GELU(), torch.nn.Linear(4 * D, cfg["out"]))
    mlp = mlp.double()
    with torch.no_grad():
        for i in (0, 2):
            mlp[i].weight.copy_(w[f"merger.mlp.{i}.weight"])
            mlp[i].bias.copy_(w[f"merger.mlp.{i}.bias"])
        emb = mlp(norm(x, "merger.ln_q").reshape(n // 4, 4 * D))
    return dict(last_hidden=x, embeds=emb, recv_attn=recv.view(n // 4, 4).mean(1))


if __name__ == "__main__":
    if "--selftest" in sys.argv:
        sys.exit(1 if _selftest() else 0)
    print(__doc__)
