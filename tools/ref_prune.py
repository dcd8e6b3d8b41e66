#!/usr/bin/python3
"""Reference implementations of the spatial pruning methods in PyTorch, written
to the official repositories' behaviour (tensor ops in the order the official
code uses them), and the fixtures tests/test_prune.c compares vtc against.

  FasterVLM (Theia-4869/FasterVLM): CLS attention of layer -2, head mean, topk, sorted.
  VisionZip (dvlab-research/VisionZip): dominant = topk of the head-summed CLS
      attention + the CLS token; contextual = targets at stride max(1, N_rem // c),
      the rest assigned by argmax cosine of normalised keys, target + mean(assigned).
  DivPrune (vbdi/divprune): 1 - pairwise cosine; first pick argmax of each column's
      second-smallest distance; then argmax of the column minimum over chosen rows.
  ToDRE stage 1: pivot = argmax CLS attention (last layer); greedy argmin of summed
      cosine similarity to the chosen set.
  ToMe (facebookresearch/ToMe): bipartite_soft_matching + merge_wavg, in rounds.

    /usr/bin/python3 tools/ref_prune.py      # writes tests/fixtures/prune/
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import vtc_ref as R  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "prune")


def fastvlm(cls_attn, k):
    return torch.sort(torch.topk(cls_attn, k).indices).values


def visionzip(feats, cls, cls_attn, keys, d, c):
    """One image. feats [N, D] (patches), cls [D], cls_attn [N] (head mean), keys [N, hd].
    Returns tokens [d + c, D], index (-1 for CLS), weight."""
    N = feats.shape[0]
    hidden = torch.cat([cls[None], feats])            # the reference's [CLS, patches] sequence
    metric = torch.cat([torch.zeros_like(keys[:1]), keys])
    topk = torch.topk(cls_attn, d - 1).indices + 1     # dominant patches, shifted past CLS
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
    assign = torch.zeros(int((~is_t).sum()), c, dtype=hidden.dtype)
    assign.scatter_(1, sim.argmax(dim=1)[:, None], 1)
    counts = assign.sum(0).clamp(min=1)[:, None]
    agg = assign.t() @ hidden_f[~is_t] / counts
    contextual = hidden_f[target] + agg
    tokens = torch.cat([dominant, contextual])
    index = torch.cat([dom_index, rem_index[target]])
    weight = torch.cat([torch.ones(d), 1 + assign.sum(0)])
    return tokens, index, weight


def divprune(x, k):
    xn = x / x.norm(dim=-1, keepdim=True)
    dist = 1.0 - xn @ xn.t()
    s = torch.empty(k, dtype=torch.long)
    for i in range(k):
        if i == 0:
            scores = torch.topk(dist, 2, dim=0, largest=False).values[1, :]
        else:
            scores = torch.min(dist[s[:i]], dim=0).values
        s[i] = torch.argmax(scores)
    return torch.sort(s).values


def todre(x, cls_attn_last, k):
    xn = x / x.norm(dim=-1, keepdim=True)
    pivot = int(torch.argmax(cls_attn_last))
    chosen = [pivot]
    score = xn @ xn[pivot]
    taken = torch.zeros(x.shape[0], dtype=torch.bool)
    taken[pivot] = True
    while len(chosen) < k:
        s = score.clone()
        s[taken] = float("inf")
        j = int(torch.argmin(s))
        chosen.append(j)
        taken[j] = True
        score = score + xn @ xn[j]
    return torch.sort(torch.tensor(chosen)).values


def tome(x, metric, k):
    """Rounds of bipartite soft matching until k tokens remain (merge_wavg).
    Returns tokens, representative index (the B token absorbing), size."""
    x = x.clone()
    m = metric.clone()
    size = torch.ones(x.shape[0], 1, dtype=x.dtype)
    rep = torch.arange(x.shape[0])
    xs, ms = x * size, m * size
    while x.shape[0] > k:
        t = x.shape[0]
        r = min(t - k, (t + 1) // 2)
        if t // 2 == 0:
            break
        mm = ms / size
        mm = mm / mm.norm(dim=-1, keepdim=True)
        a, b = mm[::2], mm[1::2]
        scores = a @ b.t()
        node_max, node_idx = scores.max(dim=-1)
        edge_idx = torch.sort(node_max, descending=True, stable=True).indices
        unm_idx, src_idx = edge_idx[r:], edge_idx[:r]
        dst_idx = node_idx[src_idx]

        def merge(v):
            src, dst = v[::2], v[1::2].clone()
            dst.index_add_(0, dst_idx, src[src_idx])
            return torch.cat([src[unm_idx], dst])
        xs, ms, size = merge(xs), merge(ms), merge(size)
        rep = torch.cat([rep[::2][unm_idx], rep[1::2]])
        x = xs / size
    return xs / size, rep, size[:, 0]


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(20261124)
    lines = []
    cases = {}
    # random features, and clustered ones (duplicates and near-ties)
    for name, kind in (("random", 0), ("clusters", 1)):
        T, H, W, D, hd, L = 1, 24, 24, 16, 8, 24
        N = T * H * W
        if kind == 0:
            feats = torch.randn(N, D, generator=g, dtype=torch.float64)
        else:
            centres = torch.randn(12, D, generator=g, dtype=torch.float64)
            lab = torch.randint(0, 12, (N,), generator=g)
            feats = centres[lab] + 0.05 * torch.randn(N, D, generator=g, dtype=torch.float64)
        feats = feats.float().double()  # the values the file holds
        cls = torch.randn(D, generator=g, dtype=torch.float64).float().double()
        keys = torch.randn(N, hd, generator=g, dtype=torch.float64).float().double()
        embeds = torch.tanh(feats @ torch.randn(D, L, generator=g, dtype=torch.float64) / 4).float().double()
        a = torch.rand(N, generator=g, dtype=torch.float64) ** 3
        cls_attn = (a / a.sum()).float().double()
        b = torch.rand(N, generator=g, dtype=torch.float64) ** 3
        cls_attn_last = (b / b.sum()).float().double()
        pos = np.stack(np.meshgrid(np.arange(T), np.arange(H), np.arange(W), indexing="ij"), -1).reshape(-1, 3)
        R.write_safetensors(os.path.join(OUT, f"{name}.features.safetensors"), {
            "features": feats.float().numpy(), "positions": pos.astype(np.int32), "cls": cls[None].float().numpy(),
            "cls_attn": cls_attn.float().numpy(), "cls_attn_last": cls_attn_last.float().numpy(),
            "keys": keys.float().numpy(), "embeds": embeds.float().numpy()},
            {"grid": f"{T},{H},{W}", "format": "vtc-features-1"})
        exp = {}
        for k in (64, 128, 192, 58):  # 58 = round(0.1 * 576): DivPrune's 10% setting
            exp[f"cls_{k}"] = fastvlm(cls_attn, k)
            exp[f"divprune_{k}"] = divprune(embeds, k)
            exp[f"todre_{k}"] = todre(embeds, cls_attn_last, k)
        for k, (d, c) in ((64, (54, 10)), (128, (108, 20)), (192, (162, 30))):
            tok, idx, w = visionzip(feats, cls, cls_attn, keys, d, c)
            exp[f"visionzip_{k}.tokens"], exp[f"visionzip_{k}"], exp[f"visionzip_{k}.weight"] = tok, idx, w
        for k in (64, 200):
            tok, idx, w = tome(feats, keys, k)
            exp[f"tome_{k}.tokens"], exp[f"tome_{k}"], exp[f"tome_{k}.weight"] = tok, idx, w
        out = {}
        for key, v in exp.items():
            out[key] = v.numpy().astype(np.int32 if v.dtype == torch.long else np.float32)
        R.write_safetensors(os.path.join(OUT, f"{name}.expected.safetensors"), out)
        lines.append(name)
    with open(os.path.join(OUT, "MANIFEST.txt"), "w") as f:
        f.write("# <name>.features.safetensors (input) and <name>.expected.safetensors, by tools/ref_prune.py\n")
        f.write("\n".join(lines) + "\n")
    print("ok")


if __name__ == "__main__":
    main()
