#!/usr/bin/python3
"""PyTorch references of the two merging methods, written to the official code's
behaviour (not to vtc's C), and the fixtures tests/test_prune_merge.c checks
prune/visionzip.c and prune/tome.c against.

VisionZip: dvlab-research/VisionZip, visionzip/clip_encoder.py,
  CLIPVisionTower_VisionZip.forward (+ visionzip/utils.py: the metric is layer -2's
  key_states averaged over heads; hidden_states[-2] and attentions[-2]):
  dominant = topk of the head-SUMMED CLS attention row (patch columns), + the CLS
  token; mask/masked_select keep sequence order; contextual = targets
  arange(0, N_rem, max(1, N_rem // c))[:c] of the remaining tokens, the others
  one-hot assigned by argmax cosine of normalised keys, output target +
  (assigned sum / counts.clamp(min=1)). visionzip(model, dominant, contextual)
  passes dominant_num = dominant - 1.
ToMe: facebookresearch/ToMe, tome/merge.py bipartite_soft_matching (class_token
  False: vtc's token sequence holds patches only) and merge_wavg, applied in
  rounds r = t - k (capped by the matching itself at t // 2) until k tokens remain.

What is vtc's own (no official counterpart), and so is spelled out here from
docs/methods.md / the file headers, not from the C:
  - the budget split: c = round(k * 10 / 64) (halves up, >= 1 when k >= 2),
    d = k - c; params dominant= / contextual= per frame; video: per frame, K // T
    each, the first K % T frames one more;
  - no CLS (SigLIP): the same procedure without the CLS row, d patches dominant,
    ranked by the (head-summed) attention each patch receives;
  - ToMe's next-round metric of a merged token: merge_wavg of the metric (the
    group's mean); ToMe's argsort made stable (ties: earlier A first); the
    representative (index/pos) of a merged token: the B token that survived.

Decisions the C makes in float32 (BLAS) are checked here in float64 to have a
margin far above float32 rounding (top-k boundary, every argmax, the whole
descending order of ToMe's edges), so exact index equality is a fair test; the
margins are printed and written to MANIFEST.txt.

    /usr/bin/python3 tools/ref_prune_merge.py     # writes tests/fixtures/prune_merge/
"""
import os
import sys
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    from vtc_ref import write_safetensors  # noqa: E402
except ImportError:  # a minimal writer, same format
    import json
    import struct

    def write_safetensors(path, tensors, metadata=None):
        names = {np.dtype(np.float32): "F32", np.dtype(np.int32): "I32"}
        header, blobs, off = {}, [], 0
        if metadata:
            header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
        for name, a in tensors.items():
            a = np.ascontiguousarray(a)
            raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
            header[name] = {"dtype": names[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
            blobs.append(raw)
            off += len(raw)
        h = json.dumps(header, separators=(",", ":")).encode()
        h += b" " * (-len(h) % 8)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))

warnings.filterwarnings("ignore", message="scatter_reduce")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "prune_merge")
MARGIN = 1e-6  # smallest decision margin accepted (float32 rounding of these scores is ~1e-7)
BASE_SEED = 20260611
margins = {}


def note_margin(case, what, value):
    key = (case, what)
    margins[key] = min(margins.get(key, float("inf")), float(value))


# ---------------------------------------------------------------- VisionZip

def visionzip_image(case, hidden, attn_heads, metric, dominant_num, contextual_num, has_cls):
    """One image, batch of 1, as the reference's forward.
    hidden [L, D]: layer -2 hidden states, CLS first when has_cls (L = prefix + N);
    attn_heads [heads, N]: each head's CLS->patch softmax (or, without CLS, the
    attention each patch receives); metric [L, hd]: head-mean keys.
    Returns (tokens, index (-1 = CLS), weight)."""
    prefix = 1 if has_cls else 0
    hidden, metric = hidden[None], metric[None]
    B, L, D = hidden.shape
    score = attn_heads.sum(dim=0)[None]  # the reference sums over heads
    order = torch.sort(score[0], descending=True, stable=True)
    if dominant_num > 0:
        v = order.values
        if dominant_num < v.shape[0]:
            note_margin(case, "topk boundary (rel)", (v[dominant_num - 1] - v[dominant_num]) / v[dominant_num - 1])
        topk = score.topk(dominant_num, dim=1).indices + prefix
    else:
        topk = torch.zeros(B, 0, dtype=torch.long)
    keep_idx = torch.cat([torch.zeros(B, prefix, dtype=torch.long), topk], dim=1)
    mask = torch.ones(B, L, dtype=torch.bool).scatter_(1, keep_idx, False)  # True = not dominant
    n_dom = dominant_num + prefix
    dominant = hidden.masked_select(~mask[..., None]).view(B, n_dom, D)
    dom_index = torch.nonzero(~mask[0])[:, 0] - prefix  # sequence order; CLS -> -1
    n_rem = L - n_dom
    rest_metric = metric[mask].view(B, n_rem, metric.shape[2])
    rest_hidden = hidden.masked_select(mask[..., None]).view(B, n_rem, D)
    rest_index = torch.nonzero(mask[0])[:, 0] - prefix
    tokens, index, weight = [dominant[0]], [dom_index], [torch.ones(n_dom, dtype=hidden.dtype)]
    if contextual_num > 0:
        unit = rest_metric / rest_metric.norm(dim=-1, keepdim=True)
        step = max(1, n_rem // contextual_num)
        targets = torch.arange(0, n_rem, step)[:contextual_num]
        is_target = torch.isin(torch.arange(n_rem), targets)
        to_merge = unit[:, ~is_target, :]
        sim = torch.bmm(to_merge, unit[:, targets, :].transpose(1, 2))
        if contextual_num > 1 and sim.shape[1] > 0:
            top2 = sim[0].topk(2, dim=1).values
            note_margin(case, "argmax target", (top2[:, 0] - top2[:, 1]).min())
        one_hot = torch.zeros(B, to_merge.shape[1], contextual_num, dtype=hidden.dtype)
        one_hot.scatter_(2, sim.argmax(dim=2)[..., None], 1)
        counts = one_hot.sum(dim=1).clamp(min=1)[..., None]
        merged = torch.bmm(one_hot.transpose(1, 2), rest_hidden[:, ~is_target, :]) / counts
        contextual = rest_hidden[:, targets, :] + merged
        tokens.append(contextual[0])
        index.append(rest_index[targets])
        weight.append(1 + one_hot.sum(dim=1)[0])
    return torch.cat(tokens), torch.cat(index), torch.cat(weight)


def auto_contextual(k):
    c = (k * 10 + 32) // 64
    return 1 if c < 1 and k >= 2 else c


def visionzip_split(K, T, dominant, contextual):
    """vtc's per-frame (d, c) (d counts the CLS token)."""
    out = []
    for t in range(T):
        k = dominant + contextual if dominant and contextual else K // T + (1 if t < K % T else 0)
        c = contextual if contextual else (k - dominant if dominant else auto_contextual(k))
        out.append((0, 0) if k == 0 else (k - c, c))
    return out


def visionzip(case, s, K, dominant=0, contextual=0):
    T, hw = s["T"], s["H"] * s["W"]
    has_cls = "cls" in s
    toks, idxs, ws, poss = [], [], [], []
    for t, (d, c) in enumerate(visionzip_split(K, T, dominant, contextual)):
        if d + c == 0:
            continue
        sl = slice(t * hw, (t + 1) * hw)
        feats, keys = s["features"][sl], s["keys"][sl]
        if has_cls:
            hidden = torch.cat([s["cls"][t:t + 1], feats])
            metric = torch.cat([s["cls_key"][t:t + 1], keys])
        else:
            hidden, metric = feats, keys
        tok, idx, w = visionzip_image(case, hidden, s["attn_heads"][:, sl], metric, d - (1 if has_cls else 0), c,
                                      has_cls)
        g = torch.where(idx >= 0, idx + t * hw, idx)
        pos = torch.stack([torch.full_like(idx, t), torch.where(idx >= 0, idx // s["W"], -1),
                           torch.where(idx >= 0, idx % s["W"], -1)], dim=1)
        toks.append(tok), idxs.append(g), ws.append(w), poss.append(pos)
    return torch.cat(toks), torch.cat(idxs), torch.cat(poss), torch.cat(ws)


# ---------------------------------------------------------------- ToMe

def bipartite_soft_matching(case, metric, r):
    """tome/merge.py semantics, class_token = distill_token = False. Also returns
    the round's (unm_idx, src_idx, dst_idx) for representative tracking."""
    t = metric.shape[1]
    r = min(r, t // 2)
    if r <= 0:
        return None, None
    metric = metric / metric.norm(dim=-1, keepdim=True)
    a, b = metric[..., ::2, :], metric[..., 1::2, :]
    scores = a @ b.transpose(-1, -2)
    node_max, node_idx = scores.max(dim=-1)
    # ToMe: node_max.argsort(dim=-1, descending=True); vtc fixes ties stably
    edge_idx = torch.sort(node_max, dim=-1, descending=True, stable=True).indices[..., None]
    # decisions that shape the result: the cut at r and the order of the unmerged
    # (the next sequence), and the partner of every merged A token
    sorted_max = node_max[0][edge_idx[0, :, 0]][r - 1:]
    if sorted_max.shape[0] > 1:
        note_margin(case, "edge order", (sorted_max[:-1] - sorted_max[1:]).min())
    if scores.shape[-1] > 1:
        top2 = scores[0][edge_idx[0, :r, 0]].topk(2, dim=-1).values
        note_margin(case, "argmax B", (top2[:, 0] - top2[:, 1]).min())
    unm_idx = edge_idx[..., r:, :]
    src_idx = edge_idx[..., :r, :]
    dst_idx = node_idx[..., None].gather(dim=-2, index=src_idx)

    def merge(x, mode="mean"):
        src, dst = x[..., ::2, :], x[..., 1::2, :]
        n, t1, c = src.shape
        unm = src.gather(dim=-2, index=unm_idx.expand(n, t1 - r, c))
        src = src.gather(dim=-2, index=src_idx.expand(n, r, c))
        dst = dst.scatter_reduce(-2, dst_idx.expand(n, r, c), src, reduce=mode)
        return torch.cat([unm, dst], dim=1)

    return merge, unm_idx


def merge_wavg(merge, x, size=None):
    if size is None:
        size = torch.ones_like(x[..., 0, None])
    x = merge(x * size, mode="sum")
    size = merge(size, mode="sum")
    return x / size, size


def tome(case, s, k, use_features=False):
    x = s["features"][None]
    m = (s["features"] if use_features else s["keys"])[None]
    size = None
    rep = torch.arange(x.shape[1])
    while x.shape[1] > k:
        merge, unm_idx = bipartite_soft_matching(case, m, x.shape[1] - k)
        m, _ = merge_wavg(merge, m, size)  # the group's mean metric for the next round
        x, size = merge_wavg(merge, x, size)
        rep = torch.cat([rep[::2][unm_idx[0, :, 0]], rep[1::2]])
    if size is None:
        size = torch.ones(1, x.shape[1], 1, dtype=x.dtype)
    hw = s["H"] * s["W"]
    pos = torch.stack([rep // hw, (rep % hw) // s["W"], rep % s["W"]], dim=1)
    return x[0], rep, pos, size[0, :, 0]


# ---------------------------------------------------------------- inputs

def f32(x):
    return x.float().double()  # the values the fixture file holds


def make_set(g, T, H, W, D, hd, heads, has_cls, clustered):
    N = T * H * W
    s = {"T": T, "H": H, "W": W}
    if clustered:  # objects: Voronoi blobs on each frame's grid sharing features, keys and attention
        n_obj = 12
        seeds = torch.rand(n_obj, 2, generator=g, dtype=torch.float64) * torch.tensor([H, W], dtype=torch.float64)
        yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64),
                                indexing="ij")
        d2 = (yy.reshape(-1, 1) - seeds[:, 0]) ** 2 + (xx.reshape(-1, 1) - seeds[:, 1]) ** 2
        label = d2.argmin(dim=1).repeat(T)
        centre = torch.randn(n_obj, D, generator=g, dtype=torch.float64)
        kcentre = torch.randn(n_obj, hd, generator=g, dtype=torch.float64)
        salience = torch.randn(n_obj, generator=g, dtype=torch.float64) * 2
        feats = centre[label] + 0.15 * torch.randn(N, D, generator=g, dtype=torch.float64)
        keys = kcentre[label] + 0.35 * torch.randn(N, hd, generator=g, dtype=torch.float64)
        logits = salience[label][None] + torch.randn(heads, N, generator=g, dtype=torch.float64)
    else:
        feats = torch.randn(N, D, generator=g, dtype=torch.float64)
        keys = torch.randn(N, hd, generator=g, dtype=torch.float64)
        logits = 2 * torch.randn(heads, N, generator=g, dtype=torch.float64)
    s["features"], s["keys"] = f32(feats), f32(keys)
    # per-head attention rows: a softmax over [CLS, patches] per frame (CLS query), or
    # SigLIP's received attention (positive, per head); vtc stores the head mean in float32
    attn = torch.empty(heads, N, dtype=torch.float64)
    hw = H * W
    for t in range(T):
        sl = slice(t * hw, (t + 1) * hw)
        self_logit = torch.randn(heads, 1, generator=g, dtype=torch.float64)
        row = torch.softmax(torch.cat([self_logit, logits[:, sl]], dim=1), dim=1)
        attn[:, sl] = row[:, 1:] if has_cls else row[:, 1:] * hw  # received: mean over queries ~ 1/hw each
    s["attn_heads"] = attn
    s["cls_attn"] = f32(attn.mean(dim=0))
    if has_cls:
        s["cls"] = f32(torch.randn(T, D, generator=g, dtype=torch.float64))
        s["cls_key"] = f32(torch.randn(T, hd, generator=g, dtype=torch.float64))
    return s


SETS = {  # name: T, H, W, D, hd, heads, has_cls, clustered
    "img_rand": (1, 24, 24, 8, 6, 4, True, False),
    "img_clust": (1, 24, 24, 8, 6, 4, True, True),
    "sig": (1, 14, 14, 8, 6, 4, False, False),
    "vid": (4, 10, 10, 8, 6, 4, True, True),
}

CASES = [  # name, method, set, keep (0 = not given), params
    ("vz_rand_64", "visionzip", "img_rand", 64, ""),      # the reference's 54 + 10
    ("vz_rand_128", "visionzip", "img_rand", 128, ""),    # 108 + 20
    ("vz_rand_192", "visionzip", "img_rand", 192, ""),    # 162 + 30
    ("vz_rand_d40", "visionzip", "img_rand", 64, "dominant=40"),
    ("vz_rand_c5", "visionzip", "img_rand", 64, "contextual=5"),
    ("vz_rand_both", "visionzip", "img_rand", 0, "dominant=30,contextual=20"),
    ("vz_rand_both64", "visionzip", "img_rand", 64, "dominant=54,contextual=10"),
    ("vz_rand_k1", "visionzip", "img_rand", 1, ""),       # the CLS token alone
    ("vz_rand_k2", "visionzip", "img_rand", 2, ""),       # CLS + one contextual token of everything
    ("vz_rand_k3", "visionzip", "img_rand", 3, ""),
    ("vz_clust_64", "visionzip", "img_clust", 64, ""),
    ("vz_clust_100", "visionzip", "img_clust", 100, ""),
    ("vz_sig_64", "visionzip", "sig", 64, ""),
    ("vz_sig_1", "visionzip", "sig", 1, ""),
    ("vz_sig_2", "visionzip", "sig", 2, ""),
    ("vz_sig_196", "visionzip", "sig", 196, ""),          # keep = n
    ("vz_vid_64", "visionzip", "vid", 64, ""),            # 16 per frame: CLS + 12 + 3 (2.5 rounds up)
    ("vz_vid_66", "visionzip", "vid", 66, ""),            # 17, 17, 16, 16
    ("vz_vid_400", "visionzip", "vid", 400, ""),          # keep = n
    ("vz_vid_3", "visionzip", "vid", 3, ""),              # fewer than the frames: CLS of frames 0-2
    ("tm_rand_64", "tome", "img_rand", 64, ""),
    ("tm_rand_200", "tome", "img_rand", 200, ""),
    ("tm_rand_1", "tome", "img_rand", 1, ""),
    ("tm_rand_2", "tome", "img_rand", 2, ""),
    ("tm_rand_feat100", "tome", "img_rand", 100, "metric=1"),
    ("tm_clust_64", "tome", "img_clust", 64, ""),
    ("tm_clust_100", "tome", "img_clust", 100, ""),
    ("tm_sig_196", "tome", "sig", 196, ""),               # keep = n: nothing merges
    ("tm_sig_195", "tome", "sig", 195, ""),               # one merge
    ("tm_sig_33", "tome", "sig", 33, ""),                 # 196 > 98 > 49 > 33: an odd round
    ("tm_sig_1", "tome", "sig", 1, ""),                   # r capped at t // 2 on odd t (49 > 25 > 13 > 7 > 4 > 2 > 1)
    ("tm_vid_77", "tome", "vid", 77, ""),                 # the whole clip is one sequence
    ("tm_vid_50", "tome", "vid", 50, ""),
]


def params_of(text):
    out = {}
    for kv in filter(None, text.split(",")):
        k, v = kv.split("=")
        out[k] = int(v)
    return out


def build(seed):
    """All sets and cases from one seed: (inputs, input metadata, expected, case lines)."""
    margins.clear()
    g = torch.Generator().manual_seed(seed)
    sets = {name: make_set(g, *spec) for name, spec in SETS.items()}
    inputs, meta = {}, {"seed": str(seed)}
    for name, s in sets.items():
        inputs[f"{name}/features"] = s["features"].float().numpy()
        inputs[f"{name}/keys"] = s["keys"].float().numpy()
        inputs[f"{name}/cls_attn"] = s["cls_attn"].float().numpy()
        if "cls" in s:
            inputs[f"{name}/cls"] = s["cls"].float().numpy()
        meta[f"{name}.grid"] = f"{s['T']},{s['H']},{s['W']}"
        meta[f"{name}.cls_is_received"] = "0" if "cls" in s else "1"
    expected, lines = {}, []
    for name, method, set_name, keep, params in CASES:
        s, p = sets[set_name], params_of(params)
        K = keep if keep else s["T"] * s["H"] * s["W"]
        if method == "visionzip":
            tok, idx, pos, w = visionzip(name, s, K, p.get("dominant", 0), p.get("contextual", 0))
        else:
            tok, idx, pos, w = tome(name, s, K, p.get("metric", 0) == 1)
        expected[f"{name}/tokens"] = tok.float().numpy()
        expected[f"{name}/index"] = idx.numpy().astype(np.int32)
        expected[f"{name}/pos"] = pos.numpy().astype(np.int32)
        expected[f"{name}/weight"] = w.float().numpy()
        lines.append(f"{name} {method} {set_name} {keep} {params or '-'}")
    return inputs, meta, expected, lines


def main():
    # The first seed from BASE_SEED whose every decision clears MARGIN (random
    # near-ties, ~1e-9 apart, do occur; on them float32 and float64 may disagree
    # and neither answer would be wrong).
    for seed in range(BASE_SEED, BASE_SEED + 1000):
        inputs, meta, expected, lines = build(seed)
        if min(margins.values()) > MARGIN:
            break
    else:
        sys.exit("no seed gives decision margins above float32 rounding")
    os.makedirs(OUT, exist_ok=True)
    write_safetensors(os.path.join(OUT, "inputs.safetensors"), inputs, meta)
    write_safetensors(os.path.join(OUT, "expected.safetensors"), expected, {"cases": "\n".join(lines)})
    report = [f"{c:16s} {what:20s} {v:.2e}" for (c, what), v in sorted(margins.items())]
    with open(os.path.join(OUT, "MANIFEST.txt"), "w") as f:
        f.write("# by tools/ref_prune_merge.py: inputs.safetensors (<set>/features|keys|cls_attn|cls, metadata\n"
                "# <set>.grid, <set>.cls_is_received) and expected.safetensors (<case>/tokens|index|pos|weight,\n"
                f"# metadata 'cases': name method set keep params). Seed {seed}; smallest float64 decision margins:\n")
        f.write("\n".join(report) + "\n")
    print(f"seed {seed}: {len(CASES)} cases, smallest decision margin {min(margins.values()):.2e} (> {MARGIN:.0e})")


if __name__ == "__main__":
    main()
