#!/usr/bin/python3
"""Reference for prune/hired.c: HiRED's token selection, written to the official
code (hasanar1f/HiRED @ 502d6dd; nothing here reads vtc's C), and the fixtures
tests/test_prune.c compares vtc against.

  transformers/src/transformers/models/llava_next/modeling_llava_next.py
    HiRED_token_selection: per image, attention [T, heads, ctx, ctx] ->
      [:, :, 0, -P:] (CLS row, patch columns), .sum(dim=1) over heads;
      total = int(T * P * rate); full = min(int(total * alpha), P);
      sub = min(total - full, (T - 1) * P); the base tile's topk(full) of the
      feature layer ("bottom", layer 22); if sub > 0: a bool mask of the base
      tile's topk(int(P * (1 - alpha))) of layer 0 ("top"), then
    HiRED_sub_img_budgets: mask.reshape(h, w, -1).sum(-1).reshape(-1) (raster
      chunks of P / N base positions, chunk i -> sub-image i), ratio = cnt /
      cnt.sum() (int64 / int64 -> float32), (ratio * sub).int(), clamp(max=P);
      sub-image i keeps its own topk(b[i]) of the feature layer.
    Applied only when rate < 1 (forward: `if token_budget_rate < 1.0`).
  transformers/src/transformers/models/llava/modeling_llava.py
    HiRED_token_selection (LLaVA-1.5, one image): topk(min(P, int(P * rate))).

vtc's attention statistics are head means, not sums: a positive scale, the same
top-k. The inputs here are vtc's own `cls_attn` (feature layer) and
`cls_attn_first` (block 1 = layer 0), shaped [T, 1 head, 1 query, P] so the
official slicing and head sum apply unchanged.

Where the official code has no answer, vtc's documented rule (docs/methods.md#hired),
marked "vtc:" below:
  - ties in topk: the lower index first (torch leaves them open); every decision
    on real or random features is checked to have a gap > 0 and torch.topk's set
    to agree, so only the ties set depends on the rule;
  - --keep replaces int(T * P * rate) as the total; a total of every token keeps
    every token (the rate < 1 gate);
  - P / N not whole (the official reshape fails): chunk i is
    [floor(i * P / N), floor((i + 1) * P / N));
  - no base token marked (int(P * (1 - alpha)) = 0) while sub > 0: the official
    0 / 0 is NaN; vtc gives every sub-image 0;
  - a budget that keeps no token is an error (no case here).

Fixtures (tests/fixtures/prune/hired_<set>.features.safetensors, a vtc features
file with `features` cut to one column, `cls_attn`, `cls_attn_first` and the
tiling metadata; hired_<set>.expected.safetensors with one I32 index tensor per
case and metadata "cases", lines "name method keep seed params check" as
ref_prune.py's). Real sets come from `vtc encode` of tests/fixtures/ref_images
with the LLaVA-NeXT fixture model (CLIP: a CLS row) and one with the OneVision
fixture model (SigLIP 27 x 27 = 729: received attention, 729 / 2 not whole);
synthetic sets are seeded grids of 2, 3 and 4 sub-images with P / N whole (6 x 6)
and not (5 x 5), one whose budgets differ between float32 and exact arithmetic,
a single image, and exact ties.

    make build/vtc && /usr/bin/python3 tools/ref_prune_hired.py   # rewrites the files
"""
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtc_ref as R  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "prune")
VTC = os.environ.get("VTC", os.path.join(ROOT, "build", "vtc"))
SEED = 29005
margins = {}  # (set, what) -> smallest gap between the last kept and the first dropped score
f32_differs = []  # sub-image budgets where float32 truncates below the exact floor(cnt * sub / sum)


def topk_set(score, k, what):
    """Indices of the k largest (vtc: the lower index first on ties) as a sorted
    tensor; notes the gap and checks that torch.topk picks the same set when the
    gap is positive."""
    order = torch.sort(score, descending=True, stable=True).indices
    keep = torch.sort(order[:k]).values
    if 0 < k < score.numel():
        gap = float(score[order[k - 1]] - score[order[k]])
        margins[what] = min(margins.get(what, math.inf), gap)
        if gap > 0:
            assert torch.equal(torch.sort(score.topk(k, largest=True).indices).values, keep), what
    return keep


def sub_img_budgets(spatial_distribution, tiles_h, tiles_w, sub, P):
    """HiRED_sub_img_budgets, the reshape replaced by vtc's chunk rule when P / N
    is not whole (checked equal to the reshape when it is)."""
    N = tiles_h * tiles_w
    bounds = [i * P // N for i in range(N + 1)]  # vtc: floor(i * P / N)
    cnt = torch.stack([spatial_distribution[bounds[i]:bounds[i + 1]].sum() for i in range(N)])
    if P % N == 0:  # the official reshape
        official = spatial_distribution.reshape(tiles_h, tiles_w, -1).sum(dim=-1).reshape(-1)
        assert torch.equal(official, cnt)
    if cnt.sum() == 0:  # vtc: nothing marked (alpha = 1); the official 0 / 0 is NaN
        return torch.zeros(N, dtype=torch.int32)
    budget_ratio = cnt / cnt.sum()  # int64 / int64 -> float32
    assert budget_ratio.dtype == torch.float32
    num_topk_others = (budget_ratio * sub).int()
    exact = cnt * sub // cnt.sum()
    f32_differs.extend(zip(num_topk_others.tolist(), exact.tolist()))
    return torch.clamp(num_topk_others, max=P)


def hired(top_layer_attn, bottom_layer_attn, tiles_h, tiles_w, P, rate, alpha, keep, what):
    """One anyres image (modeling_llava_next.py HiRED_token_selection). Attention
    [T, heads, 1, P]; keep: vtc's --keep count (0 = the rate). Returns the kept
    flat indices (tile-major, ascending) and the per-tile budgets."""
    top = top_layer_attn[:, :, 0, -P:].sum(dim=1)
    bottom = bottom_layer_attn[:, :, 0, -P:].sum(dim=1)
    T = bottom.shape[0]
    total = keep if keep else int(T * P * rate)  # vtc: --keep replaces the rate's total
    if total >= T * P:  # the official `rate < 1` gate; vtc: also a --keep of every token
        return torch.arange(T * P), [P] * T
    mask = torch.zeros_like(bottom, dtype=torch.bool)
    full = min(int(total * alpha), P)
    sub = min(total - full, (T - 1) * P)
    mask[0, topk_set(bottom[0], full, what)] = True
    budgets = [full] + [0] * (T - 1)
    if sub > 0:
        spatial_distribution = torch.zeros_like(top[0], dtype=torch.bool)
        spatial_distribution[topk_set(top[0], int(P * (1 - alpha)), what)] = True
        b = sub_img_budgets(spatial_distribution, tiles_h, tiles_w, sub, P)
        for i, k in enumerate(b.tolist()):
            mask[i + 1, topk_set(bottom[i + 1], k, what)] = True
            budgets[i + 1] = k
    return torch.nonzero(mask.reshape(-1)).reshape(-1), budgets


def hired_single(bottom_layer_attn, P, rate, keep, what):
    """One image (modeling_llava.py HiRED_token_selection)."""
    attn = bottom_layer_attn[0, :, 0, -P:].sum(dim=0)
    k = keep if keep else min(P, int(P * rate))
    if k >= P:
        return torch.arange(P), [P]
    mask = torch.zeros_like(attn, dtype=torch.bool)
    mask[topk_set(attn, k, what)] = True
    return torch.nonzero(mask).reshape(-1), [k]


def keep_count(keep, n):
    """vtc_prune_keep_count: a count, or a fraction rounded as Python's round()."""
    return 0 if keep == 0 else max(1, int(round(keep * n))) if keep < 1 else int(keep)


def build(name, s, cases):
    """s: the set (cls_attn, cls_attn_first [T*P] float32, T, H, W, tiling (th, tw)
    or None, meta). cases: (case, keep, params). Writes both files; returns lines."""
    T, H, W = s["T"], s["H"], s["W"]
    P, n = H * W, T * H * W
    heads = lambda a: torch.from_numpy(a).reshape(T, 1, 1, P)  # noqa: E731
    out, lines = {}, []
    for cname, keep, params in cases:
        p = dict(kv.split("=") for kv in params.split(",")) if params != "-" else {}
        rate, alpha = float(p.get("rate", 0.2)), float(p.get("alpha", 0.5))
        what = (name, cname)
        if s["tiling"]:
            idx, budgets = hired(heads(s["cls_attn_first"]), heads(s["cls_attn"]), *s["tiling"], P, rate, alpha,
                                 keep_count(keep, n), what)
        else:
            idx, budgets = hired_single(heads(s["cls_attn"]), P, rate, keep_count(keep, n), what)
        out[cname] = idx.numpy().astype(np.int32)
        lines.append(f"{cname} hired {keep} 0 {params} index")
        print(f"  {name:14s} {cname:18s} keep {keep:<5g} {params:22s} -> {len(idx):4d}: {'+'.join(map(str, budgets))}")
    tensors = {"features": s["features"].astype(np.float16), "cls_attn": s["cls_attn"],
               "cls_attn_first": s["cls_attn_first"]}
    meta = dict(s["meta"], grid=f"{T},{H},{W}", format="vtc-features-1")
    R.write_safetensors(os.path.join(OUT, f"hired_{name}.features.safetensors"), tensors, meta)
    R.write_safetensors(os.path.join(OUT, f"hired_{name}.expected.safetensors"), out, {"cases": "\n".join(lines)})
    return [f"hired_{name}: {line}" for line in lines]


def encoded(model, image, tmp):
    """vtc encode's features of one image, cut to what hired reads."""
    path = os.path.join(tmp, os.path.basename(image) + ".features.safetensors")
    subprocess.run([VTC, "encode", "--model", model, image, "-o", path], check=True, stdout=subprocess.DEVNULL)
    t, meta = R.read_safetensors(path)
    T, H, W = map(int, meta["grid"].split(","))
    th, tw = map(int, meta["tiling"].split()[2].split("x"))
    keepm = {k: meta[k] for k in ("tiling", "newline", "cls_attn", "model", "model_format", "feature_layer")
             if k in meta}
    return {"T": T, "H": H, "W": W, "tiling": (th, tw), "meta": keepm, "features": t["features"][:, :1].copy(),
            "cls_attn": t["cls_attn"].astype(np.float32), "cls_attn_first": t["cls_attn_first"].astype(np.float32)}


def synthetic(g, th, tw, H, W, ties=False):
    """Seeded attention rows; tiling (th, tw) or None for a single image."""
    T = 1 + th * tw if th else 1
    n = T * H * W
    if ties:  # multiples of 1/8: many equal values, exact in float32
        a, a0 = (torch.randint(0, 4, (n,), generator=g).float() / 8 for _ in range(2))
    else:
        a, a0 = (torch.rand(n, generator=g) for _ in range(2))
    meta = {}
    if th:  # the whole stitched grid as the window
        meta = {"tiling": f"anyres {tw * W * 14}x{th * H * 14} {th}x{tw} 0,0,{th * H},{tw * W} {th * H}x{tw * W}",
                "newline": "row"}
    return {"T": T, "H": H, "W": W, "tiling": (th, tw) if th else None, "meta": meta,
            "features": torch.rand(n, 1, generator=g).numpy(), "cls_attn": a.numpy(), "cls_attn_first": a0.numpy()}


def float32_trap(g):
    """3 sub-images of 6 x 6 whose base tile marks 5, 10 and 12 of its top 27
    tokens (alpha 0.25) in the three chunks: with sub = 81 (rate 0.75), float32
    gives 5/27*81 -> 14 and 10/27*81 -> 29 where exact arithmetic gives 15, 30."""
    s = synthetic(g, 3, 1, 6, 6)
    a0 = torch.rand(4 * 36, generator=g)
    for chunk, marks in enumerate((5, 10, 12)):
        pick = torch.randperm(12, generator=g)[:marks] + 12 * chunk
        a0[pick] += 1  # the top 27 of the base tile
    s["cls_attn_first"] = a0.numpy()
    return s


# the official defaults, other rates and shares, --keep as a count and as a fraction,
# alpha = 0; on one set also the clamps (sub at N*P, a sub-image at P) and alpha = 1
# (nothing marked). Large budgets are few: every kept index is 4 bytes of fixture.
REAL_CASES = [("default", 0, "-"), ("rate10", 0, "rate=0.1"), ("rate30_a30", 0, "rate=0.3,alpha=0.3"),
              ("keep300_a70", 300, "alpha=0.7"), ("keep15pct", 0.15, "-"), ("rate20_a0", 0, "rate=0.2,alpha=0")]
CLAMP_CASES = [("rate90_a10", 0, "rate=0.9,alpha=0.1"), ("rate60_a1", 0, "rate=0.6,alpha=1")]
SYN_CASES = [("default", 0, "-"), ("rate40", 0, "rate=0.4"), ("rate35_a25", 0, "rate=0.35,alpha=0.25"),
             ("keep20", 20, "-"), ("keep40pct", 0.4, "alpha=0.6"), ("rate95_a05", 0, "rate=0.95,alpha=0.05"),
             ("rate50_a1", 0, "rate=0.5,alpha=1"), ("all", 0, "rate=1")]
SINGLE_CASES = [("default", 0, "-"), ("rate50", 0, "rate=0.5"), ("keep7", 7, "-"), ("keep25pct", 0.25, "-")]


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = []
    with tempfile.TemporaryDirectory() as tmp:
        next_model = os.path.join(ROOT, "tests/fixtures/models/llava-next")
        for name, extra in (("wide600x400", []), ("cat451x300", CLAMP_CASES), ("wide1000x250", [])):
            s = encoded(next_model, os.path.join(ROOT, "tests/fixtures/ref_images", name + ".jpg"), tmp)
            manifest += build(f"next_{name}", s, REAL_CASES + extra)
        s = encoded(os.path.join(ROOT, "tests/fixtures/models/onevision"),
                    os.path.join(ROOT, "tests/fixtures/ref_images/cat451x300.jpg"), tmp)
        manifest += build("ov_cat451x300", s, REAL_CASES)
    g = torch.Generator().manual_seed(SEED)
    for th, tw in ((1, 2), (3, 1), (2, 2)):
        for side in (6, 5):  # P = 36 splits into 2, 3 and 4 chunks; 25 into none of them
            manifest += build(f"syn{th}x{tw}_p{side * side}", synthetic(g, th, tw, side, side), SYN_CASES)
    manifest += build("syn3x1_f32", float32_trap(g), [("rate75_a25", 0, "rate=0.75,alpha=0.25"),
                                                      ("keep108_a25", 108, "alpha=0.25")])
    manifest += build("syn_single", synthetic(g, 0, 0, 6, 6), SINGLE_CASES)
    manifest += build("syn_ties", synthetic(g, 2, 2, 4, 4, ties=True), SYN_CASES)
    tied = {k: v for k, v in margins.items() if v <= 0 and not k[0].endswith("ties")}
    with open(os.path.join(OUT, "MANIFEST_hired.txt"), "w") as f:
        f.write("# by tools/ref_prune_hired.py (seed %d): hired_<set>.features.safetensors, "
                "hired_<set>.expected.safetensors\n" % SEED)
        f.write("# smallest gap at a top-k boundary per set (ties set excluded: tied on purpose):\n")
        per_set = {}
        for (sname, _), v in margins.items():
            per_set[sname] = min(per_set.get(sname, math.inf), v)
        for sname in sorted(per_set):
            if not sname.endswith("ties"):
                f.write(f"#   {sname:18s} {per_set[sname]:.2e}\n")
        low = sum(a != b for a, b in f32_differs)
        f.write(f"# sub-image budgets: {len(f32_differs)}, of which {low} differ from the exact "
                "floor(cnt * sub / sum) in float32 (as torch does)\n")
        f.write("# set: name method keep seed params check\n")
        f.write("\n".join(manifest) + "\n")
    if tied:
        raise SystemExit(f"tied top-k boundaries outside the ties set: {sorted(tied)}")
    print("ok:", len(manifest), "cases;", sum(a != b for a, b in f32_differs), "of", len(f32_differs),
          "sub-image budgets differ from the exact quotient in float32")


if __name__ == "__main__":
    main()
