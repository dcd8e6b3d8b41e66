#!/usr/bin/python3
"""PyTorch references for vtc's divprune, todre and pool methods, and the
fixtures tests/test_prune_div.c holds vtc against.

  divprune  the official loop (vbdi/divprune, LLaVA/llava/model/llava_arch.py
            DivPrune), op for op: cosine_matrix = 1 - xn @ xn.T with
            xn = x / x.norm(dim=1, keepdim=True); pick 0 = argmax of
            torch.topk(cosine_matrix, 2, dim=0, largest=False).values[1]; pick i =
            argmax of torch.min(cosine_matrix[s[:i]], dim=0).values; the indices
            are then sorted (keep_indexs.sort()). Budget int(round(ratio * n)).
            Run on the post-projector tokens (vtc: embeds, else features).
  todre     ToDRE stage 1 (arXiv 2505.18757; no public code): pivot = argmax of the
            last layer's CLS attention (video: each frame's argmax, then the best
            of those), or without CLS a seeded pivot splitmix64(seed) % n; then the
            argmin over unpicked tokens of the summed cosine similarity to the
            chosen set, k picks with the pivot; sorted.
  pool      LLaVA-NeXT get_2dPool / LLaVA-OneVision apply_pooling per frame:
            mode 0 F.avg_pool2d(s, ceil_mode=True) (vtc's default: edge windows
            average what they have), mode 1 F.interpolate(size=(ceil(H/s),
            ceil(W/s)), mode="bilinear", align_corners=False) (OneVision), mode 2
            F.avg_pool2d(s) (NeXT's "average": whole windows only). index = window's
            top-left (bilinear: the top-left of its 2 x 2 support), weight = tokens
            averaged (bilinear: H*W / (H'*W')). With --keep and no size: the
            smallest s with T*H'*W' <= keep.
Where the official code leaves a choice open, vtc's rule is used: argmax / argmin
take the first (lowest index) on ties, as torch does; per-frame budgets
floor(k / T), the first k mod T frames one more.

Inputs are exact: features and embeddings are int8 codes / 64 (stored as I8), so
float32 and float64 see the same numbers; attention is stored as float32. Every
decision is made in float64 and its margin (the gap between the winner and the
best competitor whose row differs from the winner's) is checked against the
float32 rounding vtc's BLAS can make: 4e-6 for a distance (measured worst case
4.2e-7 at width 64), 4e-6 + 1e-6 per accumulated row for a ToDRE sum. Each set
is drawn from the first seed whose decisions all clear their margins — except
the ties set, built from vectors whose cosines are exact in any arithmetic
(one-hot, 4-sparse and dense sign rows, norm 64) with duplicates and equal
attention, where ties are the point. Every decision is also rerun in float32
torch and must agree.

Fixtures: tests/fixtures/prune_div/<set>.safetensors, each with the inputs
(features I8, embeds I8, cls_attn F32, cls_attn_last F32 — the attentions only
where a case reads them), the expected outputs
(<case> I32 kept indices; <case>.tokens F32, <case>.weight F32 where checked),
and metadata: grid "T,H,W", seed, and "cases", one a line:
    name method keep seed params variant check
params "-" for none; variant: full | noembeds (embeds dropped) | nolast
(cls_attn_last dropped) | nocls (cls_is_received = 1) | noattn (both attentions
dropped); check: index (kept indices equal, in order) | layout (index and
weight) | tokens (index, weight, and tokens within 1e-5).

    /usr/bin/python3 tools/ref_prune_div.py     # rewrites tests/fixtures/prune_div/
"""
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "prune_div")
SCALE = 64.0            # codes / SCALE are the values
DIST_MARGIN = 4e-6      # a distance decision
SUM_MARGIN = 1e-6       # per accumulated row of a ToDRE sum, on top of DIST_MARGIN


class Margins:
    """The smallest gap each kind of decision had; None while building exact sets."""

    def __init__(self):
        self.gaps = {}
        self.exact = False

    def note(self, what, gap, need):
        if not self.exact:
            g, n = self.gaps.get(what, (math.inf, need))
            self.gaps[what] = (min(g, gap), max(n, need))

    def ok(self):
        return all(g >= n for g, n in self.gaps.values())


M = Margins()


def write_safetensors(path, tensors, metadata):
    """Minimal writer: I8, I32 and F32 arrays, insertion order, data 8-aligned."""
    names = {np.dtype(np.int8): "I8", np.dtype(np.int32): "I32", np.dtype(np.float32): "F32"}
    header, blobs, off = {"__metadata__": metadata}, [], 0
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


def keep_count(keep, n):
    """vtc_keep_count: a count, or int(round(ratio * n)) (halves to even), at least 1."""
    return int(keep) if keep >= 1 else max(1, int(round(keep * n)))


def frame_budgets(k, T):
    return [k // T + (1 if t < k % T else 0) for t in range(T)]


def competitors_gap(score, winner, rows, eligible, largest):
    """Gap between score[winner] and the best eligible competitor whose row differs."""
    same = (rows == rows[winner]).all(dim=1)
    mask = eligible & ~same
    if not bool(mask.any()):
        return math.inf
    other = score[mask].max() if largest else score[mask].min()
    return float(score[winner] - other) if largest else float(other - score[winner])


# ---------------------------------------------------------------- DivPrune (official loop)

def divprune_official(x, k):
    """vbdi/divprune DivPrune on x [N, L] with threshold_terms = k; returns the pick
    order (s) — the caller sorts, as llava_arch does with keep_indexs."""
    norm_matrix = x / x.norm(dim=1, keepdim=True)
    cosine_matrix = 1.0 - norm_matrix @ norm_matrix.t()
    s = torch.empty(k, dtype=torch.long)
    for i in range(k):
        if i == 0:
            m2 = cosine_matrix
        else:
            m2 = torch.index_select(cosine_matrix, 0, torch.index_select(s, 0, torch.arange(0, i)))
        if i == 0:
            scores = torch.topk(m2, 2, dim=0, largest=False).values[1, :]
        else:
            scores = torch.min(m2, dim=0).values
        s[i] = torch.argmax(scores)
    return s


def divprune_checked(x, k):
    s = divprune_official(x, k)
    assert len(set(s.tolist())) == k, "degenerate regime: the official loop re-picked a chosen token"
    assert torch.equal(divprune_official(x.float(), k), s), "float32 torch decides differently"
    # margins of each decision, in float64: pick 0 on the nearest-neighbour
    # distance, pick i on the running minimum over the chosen rows
    xn = x / x.norm(dim=1, keepdim=True)
    dist = 1.0 - xn @ xn.t()
    n = x.shape[0]
    nn = (dist + torch.diag(torch.full((n,), math.inf, dtype=dist.dtype))).min(dim=0).values
    run = torch.full((n,), math.inf, dtype=dist.dtype)
    eligible = torch.ones(n, dtype=torch.bool)
    for i in range(k):
        j = int(s[i])
        M.note("divprune", competitors_gap(nn if i == 0 else run, j, xn, eligible, True), DIST_MARGIN)
        eligible[j] = False
        run = torch.minimum(run, dist[j])
    return torch.sort(s).values


def divprune(x, T, k, per_frame):
    if not (per_frame and T > 1):
        return divprune_checked(x, k)
    hw = x.shape[0] // T
    return torch.cat([divprune_checked(x[t * hw:(t + 1) * hw], kt) + t * hw
                      for t, kt in enumerate(frame_budgets(k, T)) if kt > 0])


# ---------------------------------------------------------------- ToDRE stage 1

MASK64 = (1 << 64) - 1


def splitmix64(state):
    state[0] = (state[0] + 0x9E3779B97F4A7C15) & MASK64
    z = state[0]
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def todre_pivot(attn, T):
    """Each frame's first argmax, then the first best of those."""
    hw = attn.numel() // T
    best = [t * hw + int(torch.argmax(attn[t * hw:(t + 1) * hw])) for t in range(T)]
    return best[int(torch.argmax(attn[best]))]


def todre(x, attn, T, k, seed):
    n = x.shape[0]
    pivot = todre_pivot(attn, T) if attn is not None else splitmix64([seed]) % n
    xn = x / x.norm(dim=1, keepdim=True)
    xn32 = xn.float()
    s, s32 = torch.zeros(n, dtype=x.dtype), torch.zeros(n)
    taken = torch.zeros(n, dtype=torch.bool)
    chosen, pick = [], pivot
    for c in range(k):
        chosen.append(pick)
        taken[pick] = True
        if c + 1 == k:
            break
        s = s + xn @ xn[pick]
        s32 = s32 + xn32 @ xn32[pick]
        masked = s.masked_fill(taken, math.inf)
        pick = int(torch.argmin(masked))
        assert int(torch.argmin(s32.masked_fill(taken, math.inf))) == pick, "float32 torch decides differently"
        M.note("todre", competitors_gap(s, pick, xn, ~taken, False), DIST_MARGIN + SUM_MARGIN * (c + 1))
    return torch.sort(torch.tensor(chosen)).values, pivot


# ---------------------------------------------------------------- pooling

def pooled_shape(H, W, s, mode):
    return (H // s, W // s) if mode == 2 else (-(-H // s), -(-W // s))


def pool(x, T, H, W, s, mode):
    g = x.reshape(T, H, W, -1).permute(0, 3, 1, 2)
    if mode == 0:
        y = F.avg_pool2d(g, s, stride=s, ceil_mode=True)
    elif mode == 1:
        y = F.interpolate(g, size=[math.ceil(H / s), math.ceil(W / s)], mode="bilinear", align_corners=False)
    else:
        y = F.avg_pool2d(g, s)
    Ho, Wo = y.shape[2:]
    tokens = y.permute(0, 2, 3, 1).reshape(T * Ho * Wo, -1)

    def tap(o, n_in, n_out):  # torch's area_pixel_compute_source_index, align_corners=False
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


def pool_factor(T, H, W, keep, mode):
    s_max = min(H, W) if mode == 2 else max(H, W)
    for s in range(1, s_max):
        Ho, Wo = pooled_shape(H, W, s, mode)
        if T * Ho * Wo <= keep:
            return s
    return s_max


# ---------------------------------------------------------------- sets

def random_codes(rng, n, d):
    return rng.integers(-127, 128, size=(n, d)).astype(np.int8)


def cluster_codes(rng, n, d, centres=12, spread=20, duplicates=24):
    c = rng.integers(-90, 91, size=(centres, d))
    lab = rng.integers(0, centres, size=n)
    codes = np.clip(c[lab] + rng.integers(-spread, spread + 1, size=(n, d)), -127, 127)
    src = rng.choice(n, size=duplicates, replace=False)  # exact duplicates of some tokens
    dst = rng.choice(np.setdiff1d(np.arange(n), src), size=duplicates, replace=False)
    codes[dst] = codes[src]
    return codes.astype(np.int8)


def video_codes(rng, T, hw, d):
    """Frames that drift: frame t = frame t-1 + small noise (temporal redundancy)."""
    frames = [rng.integers(-100, 101, size=(hw, d))]
    for _ in range(1, T):
        frames.append(np.clip(frames[-1] + rng.integers(-25, 26, size=(hw, d)), -127, 127))
    return np.concatenate(frames).astype(np.int8)


def palette_codes(rng, n, d):
    """Rows of norm 64 whose cosines are exact: +-64 one-hots, +-32 on four
    coordinates, +-16 on all sixteen; 32 e_i duplicates 64 e_i's direction."""
    pal = []
    for i in range(6):
        v = np.zeros(d, dtype=np.int64)
        v[i] = 64
        pal += [v, -v, v // 2]
    for _ in range(8):
        v = np.zeros(d, dtype=np.int64)
        v[rng.choice(d, 4, replace=False)] = rng.choice([-32, 32], 4)
        pal.append(v)
    for _ in range(4):
        pal.append(rng.choice([-16, 16], d))
    pal = np.stack(pal)
    return pal[rng.integers(0, len(pal), size=n)].astype(np.int8)


def attention(rng, n, ties=False):
    if ties:  # multiples of 1/8, many equal, the maximum at least twice
        a = rng.integers(0, 6, size=n).astype(np.float32) / 8
        a[rng.choice(n, 2, replace=False)] = 1.0
        return a
    a = rng.random(n) ** 3
    return (a / a.sum()).astype(np.float32)


def values(codes):
    return torch.tensor(codes.astype(np.float64) / SCALE)


def run_case(inp, T, H, W, method, keep, seed, params, variant):
    """The kept index (and tokens, weight) the reference gives for one case."""
    n = T * H * W
    k = keep_count(keep, n) if keep else n
    p = dict(kv.split("=") for kv in params.split(",")) if params != "-" else {}
    rows = values(inp["features"] if variant == "noembeds" else inp["embeds"])
    if method == "divprune":
        return divprune(rows, T, k, p.get("per_frame") == "1"), None, None
    if method == "todre":
        attn = {"full": inp["cls_attn_last"], "noembeds": inp["cls_attn_last"], "nolast": inp["cls_attn"],
                "nocls": None, "noattn": None}[variant]
        index, _ = todre(rows, torch.tensor(attn, dtype=torch.float64) if attn is not None else None, T, k, seed)
        return index, None, None
    if method == "pool":
        mode = int(p.get("mode", "0"))
        s = int(p["size"]) if "size" in p else (pool_factor(T, H, W, k, mode) if keep else 2)
        tokens, index, weight = pool(rows, T, H, W, s, mode)
        return index, tokens, weight
    raise ValueError(method)


def build(name, T, H, W, make, cases, seed0, exact=False):
    """Draws the set from the first seed >= seed0 whose decisions all clear their
    margins, computes every case, writes <name>.safetensors."""
    for seed in range(seed0, seed0 + 200):
        M.gaps, M.exact = {}, exact
        rng = np.random.default_rng(seed)
        inp = make(rng)
        out, lines = {}, []
        try:
            results = [run_case(inp, T, H, W, c[1], c[2], c[3], c[4], c[5]) for c in cases]
        except AssertionError as e:  # float32 disagrees, or a degenerate draw: the next seed
            print(f"{name}: seed {seed}: {e}")
            continue
        for (cname, method, keep, cseed, params, variant, check), (index, tokens, weight) in zip(cases, results):
            out[cname] = index.numpy().astype(np.int32)
            if check in ("layout", "tokens"):
                out[cname + ".weight"] = weight.numpy().astype(np.float32)
            if check == "tokens":
                out[cname + ".tokens"] = tokens.numpy().astype(np.float32)
            lines.append(f"{cname} {method} {keep} {cseed} {params} {variant} {check}")
        if M.ok():
            break
    else:
        raise RuntimeError(f"{name}: no seed in 200 clears the margins")
    tensors = {key: inp[key] for key in ("features", "embeds", "cls_attn", "cls_attn_last") if key in inp}
    tensors.update(out)
    gaps = ", ".join(f"{w} {g:.2e} (need {n:.1e})" for w, (g, n) in sorted(M.gaps.items()))
    write_safetensors(os.path.join(OUT, f"{name}.safetensors"), tensors,
                      {"grid": f"{T},{H},{W}", "seed": str(seed), "cases": "\n".join(lines),
                       "margins": gaps or "exact"})
    print(f"{name}: {T}x{H}x{W}, seed {seed}, {len(cases)} cases; smallest gaps: {gaps or 'exact set'}")


def main():
    os.makedirs(OUT, exist_ok=True)

    def std(T, hw, d_feat, d_emb, codes):
        def make(rng):
            return {"features": random_codes(rng, T * hw, d_feat), "embeds": codes(rng),
                    "cls_attn": attention(rng, T * hw), "cls_attn_last": attention(rng, T * hw)}
        return make

    D = "divprune"
    build("rand576", 1, 24, 24, std(1, 576, 16, 64, lambda r: random_codes(r, 576, 64)), [
        ("div_64", D, 64, 0, "-", "full", "index"),
        ("div_128", D, 128, 0, "-", "full", "index"),
        ("div_192", D, 192, 0, "-", "full", "index"),
        ("div_10pct", D, 0.1, 0, "-", "full", "index"),
        ("div_feat_64", D, 64, 0, "-", "noembeds", "index"),
        ("todre_64", "todre", 64, 0, "-", "full", "index"),
        ("todre_128", "todre", 128, 0, "-", "full", "index"),
        ("todre_nolast_64", "todre", 64, 0, "-", "nolast", "index"),
        ("todre_nocls_64", "todre", 64, 7, "-", "nocls", "index"),
        ("todre_noattn_64", "todre", 64, 11, "-", "noattn", "index"),
        ("pool_s3", "pool", 0, 0, "size=3", "full", "tokens"),
        ("pool_keep100", "pool", 100, 0, "-", "full", "layout"),
    ], 1000)
    build("clust576", 1, 24, 24, std(1, 576, 16, 32, lambda r: cluster_codes(r, 576, 32)), [
        ("div_64", D, 64, 0, "-", "full", "index"),
        ("div_128", D, 128, 0, "-", "full", "index"),
        ("div_192", D, 192, 0, "-", "full", "index"),
        ("div_10pct", D, 0.1, 0, "-", "full", "index"),
        ("todre_64", "todre", 64, 0, "-", "full", "index"),
        ("todre_128", "todre", 128, 0, "-", "full", "index"),
    ], 2000)
    build("rand196", 1, 14, 14, std(1, 196, 16, 48, lambda r: random_codes(r, 196, 48)), [
        ("div_10pct", D, 0.1, 0, "-", "full", "index"),
        ("div_64", D, 64, 0, "-", "full", "index"),
        ("todre_20", "todre", 20, 0, "-", "full", "index"),
        ("todre_64", "todre", 64, 0, "-", "full", "index"),
    ], 3000)

    def ties(rng):
        return {"features": palette_codes(rng, 64, 16), "embeds": palette_codes(rng, 64, 16),
                "cls_attn": attention(rng, 64, True), "cls_attn_last": attention(rng, 64, True)}
    build("ties64", 1, 8, 8, ties, [
        ("div_4", D, 4, 0, "-", "full", "index"),
        ("div_8", D, 8, 0, "-", "full", "index"),
        ("div_16", D, 16, 0, "-", "full", "index"),
        ("div_feat_12", D, 12, 0, "-", "noembeds", "index"),
        ("todre_8", "todre", 8, 0, "-", "full", "index"),
        ("todre_24", "todre", 24, 0, "-", "full", "index"),
        ("todre_nolast_16", "todre", 16, 0, "-", "nolast", "index"),
    ], 4000, exact=True)

    def video(rng):
        a_last = attention(rng, 576)
        a_last[2 * 144 + 5] = a_last[3 * 144] = 1.0  # equal maxima in frames 2 and 3: the earlier frame's
        return {"features": random_codes(rng, 576, 16), "embeds": video_codes(rng, 4, 144, 32),
                "cls_attn": attention(rng, 576), "cls_attn_last": a_last}
    build("video4", 4, 12, 12, video, [
        ("div_10pct", D, 0.1, 0, "-", "full", "index"),
        ("div_64", D, 64, 0, "-", "full", "index"),
        ("div_pf_10pct", D, 0.1, 0, "per_frame=1", "full", "index"),
        ("div_pf_64", D, 64, 0, "per_frame=1", "full", "index"),
        ("todre_64", "todre", 64, 0, "-", "full", "index"),
        ("pool_s2", "pool", 0, 0, "-", "full", "tokens"),
        ("pool_keep40", "pool", 40, 0, "-", "full", "layout"),
        ("pool_keep2", "pool", 2, 0, "-", "full", "layout"),
    ], 5000)

    def grid27(rng):
        return {"features": random_codes(rng, 2 * 729, 2), "embeds": random_codes(rng, 2 * 729, 8)}
    build("grid27", 2, 27, 27, grid27, [
        ("pool_avg_2", "pool", 0, 0, "size=2,mode=0", "full", "tokens"),
        ("pool_bilinear_2", "pool", 0, 0, "size=2,mode=1", "full", "tokens"),
        ("pool_floor_2", "pool", 0, 0, "size=2,mode=2", "full", "tokens"),
        ("pool_avg_3", "pool", 0, 0, "size=3,mode=0", "full", "tokens"),
        ("pool_bilinear_keep100", "pool", 100, 0, "mode=1", "full", "layout"),
        ("pool_floor_keep60", "pool", 60, 0, "mode=2", "full", "layout"),
    ], 6000)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"fixtures: {total / 1024:.0f} KiB in {OUT}")


if __name__ == "__main__":
    main()
