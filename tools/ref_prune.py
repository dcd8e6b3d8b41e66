#!/usr/bin/python3
"""Reference implementations of vtc's spatial pruning methods in PyTorch, written
to the official repositories' behaviour (the tensor operations in the order the
official code applies them, not vtc's C), and the fixtures tests/test_prune.c
compares vtc against.

  cls       FasterVLM (Theia-4869/FasterVLM, llava/model/llava_arch.py encode_images;
            multimodal_encoder/clip_encoder.py feature_select): attentions[-2][:, :, 0, 1:]
            mean over heads, torch.topk(k), scattered into a boolean mask -> raster
            order. Its Video-LLaVA variant (videollava/model/llava_arch.py
            encode_videos) takes topk per frame and sorts each frame: vtc's per_frame=1.
  visionzip dvlab-research/VisionZip, visionzip/clip_encoder.py: dominant = topk of the
            head-summed CLS row + the CLS token, masked_select (sequence order);
            contextual = targets arange(0, N_rem, max(1, N_rem // c))[:c], the rest
            one-hot assigned by argmax cosine of normalised head-mean keys, output
            target + assigned sum / counts.clamp(min=1).
  divprune  vbdi/divprune, LLaVA/llava/model/llava_arch.py DivPrune: 1 - cosine matrix of
            the post-projector tokens; first pick argmax of each column's second-
            smallest entry (torch.topk(.., 2, largest=False).values[1]); then argmax of
            the column minimum over the chosen rows; budget int(round(ratio * n)).
  todre     ToDRE stage 1 (arXiv 2505.18757 v2; no public code found): pivot = argmax
            CLS attention of the last layer (video: per-frame maxima, then the best);
            greedy argmin of the summed cosine similarity to the chosen set.
  tome      facebookresearch/ToMe, tome/merge.py: bipartite_soft_matching (class_token
            True / False) + merge_wavg, applied in rounds until k tokens remain.
  pool      LLaVA-OneVision's apply_pooling (F.interpolate bilinear to ceil(H/s),
            align_corners=False), avg_pool2d(ceil_mode=True) and avg_pool2d(s).

Where the official code leaves a choice open, vtc's documented rule is used, and
said so here:
  - ties in topk / argsort (torch leaves them unspecified): the lower index first
    (a stable descending sort); argmax / argmin / max take the first, as torch does;
  - index / pos / weight of merged or pooled tokens (the official code has none):
    as the file headers in prune/ define them;
  - per-frame budgets: floor(k / T) per frame, the first k mod T frames one more;
  - random and uniform have no official counterpart: ported from the algorithm
    their headers document (splitmix64 + partial Fisher-Yates; the lattice).

Fixtures: tests/fixtures/prune/<set>.features.safetensors (a vtc token file) and
<set>.expected.safetensors, whose metadata "cases" lists one case a line:
    name method keep seed params check
(params "-" for none; check "index" = the index tensor, order included, must be
equal; "tokens" = index equal, and <name>.tokens / <name>.weight within 1e-5).
Sets: random and clusters (24 x 24, like LLaVA-1.5), ties (8 x 8, exactly
representable vectors with duplicates and equal attention: every tie rule is
exercised and every score is exact in float32 too), video (4 frames of 8 x 8),
odd (7 x 5: odd sequence lengths for ToMe's caps), pool (2 frames of 13 x 11,
odd and non-square). Decisions are checked in float64
against a margin (smallest gap between the chosen and the next candidate) far
above float32 rounding, except in the ties set, where ties are exact on purpose.

    /usr/bin/python3 tools/ref_prune.py      # rewrites tests/fixtures/prune/
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtc_ref as R  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "prune")
SEED = 20261132    # the first seed from 20261124 on whose decisions all clear the margins below
NOISE = 0.3        # spread of the clusters set around its 12 centres (relative to the centres' scale)
MARGIN = 2e-6      # computed scores (cosines, sums of them): above the float32 worst case (~1e-6 at width 24)
margins = {}
current_set = ""
exact_set = False  # True while building the ties set: gaps of 0 are intended there


def note_margin(what, gap):
    """A decision's gap. 'topk' decisions compare stored float32 values themselves
    (the same numbers in C), so any gap > 0 is safe; the others compare values
    computed in float32 by vtc and in float64 here."""
    if exact_set:
        return
    key = (current_set, what)
    margins[key] = min(margins.get(key, math.inf), float(gap))


def margin_ok(what, gap):
    return gap > 0 if "topk" in what or "pivot" in what else gap >= MARGIN


def stable_desc(score):
    """Indices by descending score, the lower index first on ties (vtc's topk rule)."""
    return torch.sort(score, descending=True, stable=True).indices


def topk_lower_first(score, k, what="topk"):
    order = stable_desc(score)
    if k < score.numel():
        note_margin(what, score[order[k - 1]] - score[order[k]])
    return order[:k]


def frame_budgets(k, T):
    return [k // T + (1 if t < k % T else 0) for t in range(T)]


def argbest(score, largest, what):
    """torch.argmax / argmin (first on ties), noting the gap to the runner-up."""
    i = int(torch.argmax(score) if largest else torch.argmin(score))
    if score.numel() > 1 and torch.isfinite(score).sum() > 1:
        rest = score.clone()
        rest[i] = -math.inf if largest else math.inf
        j = int(torch.argmax(rest) if largest else torch.argmin(rest))
        if torch.isfinite(rest[j]):
            note_margin(what, abs(float(score[i] - rest[j])))
    return i


# ---------------------------------------------------------------- FasterVLM

def fastervlm(cls_attn, k):
    """cls_attn [N] (head mean). torch.topk then a boolean mask: raster order."""
    mask = torch.zeros(cls_attn.numel(), dtype=torch.bool)
    mask[topk_lower_first(cls_attn, k, "cls topk")] = True
    return torch.nonzero(mask)[:, 0]


def fastervlm_video(cls_attn, T, k):
    """Video-LLaVA variant: topk in each frame, sorted; frames in order."""
    hw = cls_attn.numel() // T
    out = []
    for t, kt in enumerate(frame_budgets(k, T)):
        idx = torch.sort(topk_lower_first(cls_attn[t * hw:(t + 1) * hw], kt, "cls topk")).values
        out.append(idx + t * hw)
    return torch.cat(out)


# ---------------------------------------------------------------- VisionZip

def visionzip(feats, cls, cls_attn, keys, d, c):
    """One image. feats [N, D] (patches), cls [D], cls_attn [N] (head mean; the
    reference sums the heads: the same order), keys [N, hd]. Returns tokens
    [d + c, D], index (-1 for CLS), weight."""
    N = feats.shape[0]
    hidden = torch.cat([cls[None], feats])            # the reference's [CLS, patches] sequence
    metric = torch.cat([torch.zeros_like(keys[:1]), keys])
    topk = topk_lower_first(cls_attn, d - 1, "visionzip topk") + 1  # dominant patches, past CLS
    all_idx = torch.cat([torch.zeros(1, dtype=topk.dtype), topk])
    mask = torch.ones(N + 1, dtype=torch.bool).scatter_(0, all_idx, False)
    dominant = hidden[~mask]                           # masked_select keeps sequence order
    dom_index = torch.nonzero(~mask)[:, 0] - 1          # -1 = CLS
    metric_f = metric[mask]
    hidden_f = hidden[mask]
    rem_index = torch.nonzero(mask)[:, 0] - 1
    mn = metric_f / metric_f.norm(dim=-1, keepdim=True)
    step = max(1, mn.shape[0] // c)
    target = torch.arange(0, mn.shape[0], step)[:c]
    is_t = torch.isin(torch.arange(mn.shape[0]), target)
    sim = mn[~is_t] @ mn[target].t()
    best = torch.stack([torch.tensor(argbest(row, True, "visionzip argmax")) for row in sim]) \
        if sim.shape[0] else torch.zeros(0, dtype=torch.long)
    assign = torch.zeros(int((~is_t).sum()), c, dtype=hidden.dtype)
    assign.scatter_(1, best[:, None], 1)
    counts = assign.sum(0).clamp(min=1)[:, None]
    agg = assign.t() @ hidden_f[~is_t] / counts
    contextual = hidden_f[target] + agg
    tokens = torch.cat([dominant, contextual])
    index = torch.cat([dom_index, rem_index[target]])
    weight = torch.cat([torch.ones(d), 1 + assign.sum(0)])
    return tokens, index, weight


# ---------------------------------------------------------------- DivPrune

def divprune(x, k):
    """The official loop on one sequence x [N, L]; output sorted by index."""
    xn = x / x.norm(dim=1, keepdim=True)
    dist = 1.0 - xn @ xn.t()
    s = torch.empty(k, dtype=torch.long)
    for i in range(k):
        if i == 0:
            scores = torch.topk(dist, 2, dim=0, largest=False).values[1, :]
        else:
            scores = torch.min(dist[s[:i]], dim=0).values
        s[i] = argbest(scores, True, "divprune argmax")
    # The official argmax may return a chosen token again once every remaining
    # token duplicates a chosen one; vtc never does. The fixtures stay short of that.
    assert len(set(s.tolist())) == k, "divprune fixture in the degenerate (duplicate-pick) regime"
    return torch.sort(s).values


def divprune_per_frame(x, T, k):
    hw = x.shape[0] // T
    return torch.cat([divprune(x[t * hw:(t + 1) * hw], kt) + t * hw for t, kt in enumerate(frame_budgets(k, T))])


# ---------------------------------------------------------------- ToDRE stage 1

def todre(x, attn_last, T, k):
    hw = x.shape[0] // T
    # per-frame maxima, then the best of them (ties: earliest frame, lowest index)
    frame_best = [t * hw + int(torch.argmax(attn_last[t * hw:(t + 1) * hw])) for t in range(T)]
    pivot = frame_best[int(torch.argmax(attn_last[frame_best]))]
    xn = x / x.norm(dim=-1, keepdim=True)
    chosen = [pivot]
    score = xn @ xn[pivot]
    taken = torch.zeros(x.shape[0], dtype=torch.bool)
    taken[pivot] = True
    while len(chosen) < k:
        s = score.clone()
        s[taken] = math.inf
        j = argbest(s, False, "todre argmin")
        chosen.append(j)
        taken[j] = True
        score = score + xn @ xn[j]
    return torch.sort(torch.tensor(chosen)).values


# ---------------------------------------------------------------- ToMe

def bipartite_soft_matching(metric, r, class_token):
    """tome/merge.py on one sequence [t, c] (no batch); returns merge(x, mode)."""
    protected = 1 if class_token else 0
    t = metric.shape[0]
    r = min(r, (t - protected) // 2)
    if r <= 0:
        return None, 0, None
    metric = metric / metric.norm(dim=-1, keepdim=True)
    a, b = metric[::2], metric[1::2]
    scores = a @ b.t()
    if class_token:
        scores[0, :] = -math.inf
    node_max, node_idx = scores.max(dim=-1)
    for i in range(scores.shape[0]):  # torch's max: the first B on ties
        if torch.isfinite(node_max[i]):
            argbest(scores[i], True, "tome argmax B")
    edge_idx = torch.sort(node_max, descending=True, stable=True).indices  # ToMe: argsort(descending)
    ordered = node_max[edge_idx]
    ordered = ordered[torch.isfinite(ordered)]
    if class_token:  # only the split at r matters: the unmerged go back to sequence order
        if r < ordered.numel():
            note_margin("tome edge order", ordered[r - 1] - ordered[r])
    elif ordered.numel() > 1:  # the whole descending order becomes the next sequence
        note_margin("tome edge order", (ordered[:-1] - ordered[1:]).min())
    unm_idx, src_idx = edge_idx[r:], edge_idx[:r]
    dst_idx = node_idx[src_idx]
    if class_token:
        unm_idx = torch.sort(unm_idx).values

    def merge(x, mode="mean"):
        src, dst = x[::2], x[1::2]
        unm = src[unm_idx]
        src = src[src_idx]
        dst = dst.scatter_reduce(0, dst_idx[:, None].expand(r, x.shape[1]), src, reduce=mode)
        return torch.cat([unm, dst])
    return merge, r, unm_idx


def tome(x, metric, k, cls=None):
    """Rounds of ToMe until k tokens remain (merge_wavg; the next round's metric is
    the merge_wavg of this one's, i.e. each group's mean). cls [D]: the sequence is
    [CLS, patches] with class_token=True. Returns tokens, representative index (the
    B token absorbing; -1 = CLS), size."""
    rep = torch.arange(x.shape[0])
    if cls is not None:
        x = torch.cat([cls[None], x])
        metric = torch.cat([torch.zeros_like(metric[:1]), metric])
        rep = torch.cat([torch.tensor([-1]), rep])
    size = torch.ones(x.shape[0], 1, dtype=x.dtype)
    while x.shape[0] > k:
        merge, r, unm_idx = bipartite_soft_matching(metric, x.shape[0] - k, cls is not None)
        assert r > 0
        # merge_wavg, on the tokens and on the metric
        new_size = merge(size, mode="sum")
        x = merge(x * size, mode="sum") / new_size
        metric = merge(metric * size, mode="sum") / new_size
        rep = torch.cat([rep[::2][unm_idx], rep[1::2]])  # a merged group is named by its B token
        size = new_size
    return x, rep, size[:, 0]


# ---------------------------------------------------------------- pooling

def pool(x, T, H, W, s, mode):
    """x [T*H*W, d] -> tokens, index (window's top-left / bilinear support's
    top-left), weight."""
    g = x.reshape(T, H, W, -1).permute(0, 3, 1, 2)
    if mode == 0:
        y = F.avg_pool2d(g, s, stride=s, ceil_mode=True)
    elif mode == 1:
        y = F.interpolate(g, size=[math.ceil(H / s), math.ceil(W / s)], mode="bilinear", align_corners=False)
    else:
        y = F.avg_pool2d(g, s)
    Ho, Wo = y.shape[2:]
    tokens = y.permute(0, 2, 3, 1).reshape(T * Ho * Wo, -1)

    def tap(o, n_in, n_out):
        return int(max(n_in / n_out * (o + 0.5) - 0.5, 0.0))
    index, weight = [], []
    for t in range(T):
        for yo in range(Ho):
            for xo in range(Wo):
                if mode == 1:
                    y0, x0, w = tap(yo, H, Ho), tap(xo, W, Wo), H * W / (Ho * Wo)
                else:
                    y0, x0 = yo * s, xo * s
                    w = min(s, H - y0) * min(s, W - x0)
                index.append((t * H + y0) * W + x0)
                weight.append(w)
    return tokens, torch.tensor(index), torch.tensor(weight, dtype=torch.float64)


# ---------------------------------------------------------------- random, uniform (from their documentation)

M64 = (1 << 64) - 1


def splitmix64(state):
    state[0] = (state[0] + 0x9E3779B97F4A7C15) & M64
    z = state[0]
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def random_draw(n, k, T, seed, per_frame):
    state = [seed]

    def draw(m, kk):
        perm = list(range(m))
        for i in range(kk):
            j = i + splitmix64(state) % (m - i)
            perm[i], perm[j] = perm[j], perm[i]
        return perm[:kk]
    if per_frame and T > 1:
        hw = n // T
        out = []
        for t, kt in enumerate(frame_budgets(k, T)):
            out += [i + t * hw for i in draw(hw, min(kt, hw))]
    else:
        out = draw(n, k)
    return torch.tensor(sorted(out))


def uniform_lattice(T, H, W, k):
    out = []
    for t, kt in enumerate(frame_budgets(k, T)):
        if kt <= 0:
            continue
        r = min(max(math.ceil(math.sqrt(kt * H / W)), 1), H)
        c = (kt + r - 1) // r
        if c > W:
            c = W
            r = (kt + c - 1) // c
        placed = 0
        for i in range(r):
            for j in range(c):
                if placed < kt:
                    out.append(t * H * W + int((i + 0.5) * H / r) * W + int((j + 0.5) * W / c))
                    placed += 1
    return torch.tensor(out)


# ---------------------------------------------------------------- sets

def f32(x):
    return x.float().double()  # the values the token file holds


def write_features(name, T, H, W, t):
    pos = np.stack(np.meshgrid(np.arange(T), np.arange(H), np.arange(W), indexing="ij"), -1).reshape(-1, 3)
    tensors = {"features": t["features"].float().numpy(), "positions": pos.astype(np.int32)}
    for key in ("cls", "cls_attn", "cls_attn_last", "keys", "embeds"):
        if key in t:
            tensors[key] = t[key].float().numpy()
    R.write_safetensors(os.path.join(OUT, f"{name}.features.safetensors"), tensors,
                        {"grid": f"{T},{H},{W}", "format": "vtc-features-1"})


def random_set(g, T, H, W, D, hd, L, clustered):
    N = T * H * W
    if clustered:
        centres = torch.randn(12, D, generator=g, dtype=torch.float64)
        lab = torch.randint(0, 12, (N,), generator=g)
        feats = centres[lab] + NOISE * torch.randn(N, D, generator=g, dtype=torch.float64)
    else:
        feats = torch.randn(N, D, generator=g, dtype=torch.float64)
    t = {"features": f32(feats)}
    t["cls"] = f32(torch.randn(T, D, generator=g, dtype=torch.float64))
    t["keys"] = f32(torch.randn(N, hd, generator=g, dtype=torch.float64))
    t["embeds"] = f32(torch.tanh(t["features"] @ torch.randn(D, L, generator=g, dtype=torch.float64) / 4))
    for key in ("cls_attn", "cls_attn_last"):
        a = (torch.rand(T, H * W, generator=g, dtype=torch.float64) ** 3)
        t[key] = f32((a / a.sum(dim=1, keepdim=True)).reshape(-1))
    return t


def ties_set(g, H, W):
    """Vectors whose cosines are exact in any arithmetic: one-hot rows (norm 1) and
    rows with four ones (norm 2, unit entries 0.5), drawn with duplicates; CLS
    attention in multiples of 1/32 with many equal values."""
    N, D = H * W, 16
    pool_rows = [torch.eye(D, dtype=torch.float64)[i] for i in range(D)]
    while len(pool_rows) < 24:
        v = torch.zeros(D, dtype=torch.float64)
        v[torch.randperm(D, generator=g)[:4]] = 1
        if not any(torch.equal(v, p) for p in pool_rows):
            pool_rows.append(v)
    P = torch.stack(pool_rows)
    t = {"embeds": P[torch.randint(0, 24, (N,), generator=g)],
         "keys": P[torch.randint(0, 24, (N,), generator=g)],
         "features": f32(torch.randn(N, D, generator=g, dtype=torch.float64)),
         "cls": f32(torch.randn(1, D, generator=g, dtype=torch.float64)),
         "cls_attn": torch.randint(0, 6, (N,), generator=g).double() / 32,
         "cls_attn_last": torch.randint(0, 6, (N,), generator=g).double() / 32}
    return t


def pool_set(g, T, H, W, D):
    return {"features": f32(torch.randn(T * H * W, D, generator=g, dtype=torch.float64))}


def keep_count(keep, n):
    """vtc_keep_count: a count, or a fraction rounded as Python's round()."""
    return max(1, int(round(keep * n))) if 0 < keep < 1 else (n if keep == 0 else int(keep))


def build(name, T, H, W, t, cases):
    """cases: (case name, method, keep, seed, params, check). Returns the tensors
    and the metadata lines of <name>.expected.safetensors."""
    n = T * H * W
    rows = t.get("embeds", t["features"])  # divprune/todre/pool: post-projector if present
    out, lines = {}, []
    for cname, method, keep, seed, params, check in cases:
        k = keep_count(keep, n)
        p = dict(kv.split("=") for kv in params.split(",")) if params != "-" else {}
        per_frame = p.get("per_frame") == "1"
        tokens = weight = None
        if method == "cls":
            index = fastervlm_video(t["cls_attn"], T, k) if per_frame and T > 1 else fastervlm(t["cls_attn"], k)
        elif method == "divprune":
            index = divprune_per_frame(rows, T, k) if per_frame and T > 1 else divprune(rows, k)
        elif method == "todre":
            index = todre(rows, t.get("cls_attn_last", t["cls_attn"]), T, k)
        elif method == "random":
            index = random_draw(n, k, T, seed, per_frame)
        elif method == "uniform":
            index = uniform_lattice(T, H, W, k)
        elif method == "visionzip":
            c = int((k * 10 + 32) // 64)
            tokens, index, weight = visionzip(t["features"], t["cls"][0], t["cls_attn"], t["keys"], k - c, c)
        elif method == "tome":
            cls = t["cls"][0] if p.get("cls") == "1" else None
            tokens, index, weight = tome(t["features"], t["keys"], k, cls)
        elif method == "pool":
            mode = int(p.get("mode", "0"))
            s = int(p["size"]) if "size" in p else 0
            if s == 0:  # the smallest factor that fits the budget
                s = next(s for s in range(1, 64) if T * ((H // s if mode == 2 else -(-H // s)) *
                                                         (W // s if mode == 2 else -(-W // s))) <= k)
            tokens, index, weight = pool(rows, T, H, W, s, mode)
        else:
            raise ValueError(method)
        out[cname] = index.numpy().astype(np.int32)
        if check == "tokens":
            out[cname + ".tokens"] = tokens.numpy().astype(np.float32)
            out[cname + ".weight"] = weight.numpy().astype(np.float32)
        lines.append(f"{cname} {method} {keep} {seed} {params} {check}")
    write_features(name, T, H, W, t)
    R.write_safetensors(os.path.join(OUT, f"{name}.expected.safetensors"), out, {"cases": "\n".join(lines)})
    return lines


def main():
    global exact_set, current_set
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(SEED)
    manifest = []
    # LLaVA-1.5's grid: FasterVLM/VisionZip's 64/128/192 settings and DivPrune's 10%.
    spatial = []
    for k in (64, 128, 192, 0.1):
        ks = "10pct" if k == 0.1 else str(k)
        spatial += [(f"cls_{ks}", "cls", k, 0, "-", "index"), (f"divprune_{ks}", "divprune", k, 0, "-", "index"),
                    (f"todre_{ks}", "todre", k, 0, "-", "index")]
    for k in (64, 128, 192):
        spatial.append((f"visionzip_{k}", "visionzip", k, 0, "-", "tokens"))
    spatial += [("tome_64", "tome", 64, 0, "-", "tokens"), ("tome_200", "tome", 200, 0, "-", "tokens"),
                ("tome_cls_64", "tome", 64, 0, "cls=1", "tokens")]  # with CLS: 577 > 289 > 145 > 73 > 64
    for name, clustered in (("random", False), ("clusters", True)):
        current_set = name
        t = random_set(g, 1, 24, 24, 16, 8, 24, clustered)
        manifest += [f"{name}: {line}" for line in build(name, 1, 24, 24, t, spatial)]
    # exact ties
    exact_set, current_set = True, "ties"
    t = ties_set(g, 8, 8)
    cases = [("cls_8", "cls", 8, 0, "-", "index"), ("cls_13", "cls", 13, 0, "-", "index"),
             ("divprune_8", "divprune", 8, 0, "-", "index"), ("divprune_12", "divprune", 12, 0, "-", "index"),
             ("todre_8", "todre", 8, 0, "-", "index"), ("todre_12", "todre", 12, 0, "-", "index"),
             ("visionzip_16", "visionzip", 16, 0, "-", "tokens"), ("tome_40", "tome", 40, 0, "-", "tokens"),
             ("tome_cls_40", "tome", 40, 0, "cls=1", "tokens")]
    manifest += [f"ties: {line}" for line in build("ties", 1, 8, 8, t, cases)]
    exact_set, current_set = False, "video"
    # video: whole-clip and per-frame budgets
    t = random_set(g, 4, 8, 8, 16, 8, 16, False)
    cases = [("cls_40", "cls", 40, 0, "-", "index"), ("cls_pf_40", "cls", 40, 0, "per_frame=1", "index"),
             ("cls_pf_42", "cls", 42, 0, "per_frame=1", "index"),
             ("divprune_40", "divprune", 40, 0, "-", "index"),
             ("divprune_pf_42", "divprune", 42, 0, "per_frame=1", "index"),
             ("todre_40", "todre", 40, 0, "-", "index"),
             ("random_30", "random", 30, 7, "-", "index"), ("random_pf_30", "random", 30, 7, "per_frame=1", "index"),
             ("uniform_37", "uniform", 37, 0, "-", "index"), ("uniform_256", "uniform", 256, 0, "-", "index")]
    manifest += [f"video: {line}" for line in build("video", 4, 8, 8, t, cases)]
    # an odd patch count: ToMe's caps differ with and without the class token
    t = random_set(g, 1, 7, 5, 8, 8, 16, False)
    cases = [("tome_cls_3", "tome", 3, 0, "cls=1", "tokens"), ("tome_5", "tome", 5, 0, "-", "tokens"),
             ("tome_cls_20", "tome", 20, 0, "cls=1", "tokens"), ("visionzip_9", "visionzip", 9, 0, "-", "tokens"),
             ("cls_7", "cls", 7, 0, "-", "index"), ("divprune_7", "divprune", 7, 0, "-", "index"),
             ("todre_7", "todre", 7, 0, "-", "index")]
    current_set = "odd"
    manifest += [f"odd: {line}" for line in build("odd", 1, 7, 5, t, cases)]
    # pooling on an odd, non-square grid (features only: pool falls back to them)
    current_set = "pool"
    t = pool_set(g, 2, 13, 11, 8)
    cases = []
    for s in (2, 3):
        for mode, mname in ((0, "avg"), (1, "bilinear"), (2, "floor")):
            cases.append((f"pool_{mname}_{s}", "pool", 0, 0, f"size={s},mode={mode}", "tokens"))
    cases.append(("pool_bilinear_keep60", "pool", 60, 0, "mode=1", "tokens"))
    manifest += [f"pool: {line}" for line in build("pool", 2, 13, 11, t, cases)]
    low = {k: v for k, v in margins.items() if not margin_ok(k[1], v)}
    with open(os.path.join(OUT, "MANIFEST.txt"), "w") as f:
        f.write("# by tools/ref_prune.py (seed %d): <set>.features.safetensors, <set>.expected.safetensors\n" % SEED)
        f.write("# smallest float64 decision margins (ties set excluded: exact by construction):\n")
        for k in sorted(margins):
            f.write(f"#   {k[0]:9s} {k[1]:18s} {margins[k]:.2e}\n")
        f.write("# set: name method keep seed params check\n")
        f.write("\n".join(manifest) + "\n")
    if low:
        raise SystemExit(f"decision margins too small: {low}; change the seed")
    print("ok:", len(manifest), "cases; margins:", ", ".join(f"{a}/{b} {v:.1e}" for (a, b), v in sorted(margins.items())))


if __name__ == "__main__":
    main()
