#!/usr/bin/python3
"""Reference expectations for tests/test_temporal.c: the two temporal methods,
DyCoke token temporal merging and VQToken k-means codebooks, re-implemented in
PyTorch from the behaviour of the official code (not from prune/dycoke.c or
prune/vq.c), written as safetensors fixtures into tests/fixtures/temporal/.

    /usr/bin/python3 tools/ref_temporal.py [OUTDIR]

DyCoke (KD-TAO/DyCoke, llava/model/llava_arch.py, function dycole_ttm; it runs
on LLaVA-OneVision's 2x2-pooled post-projector frame features):
- K = dycoke_k (lmms_eval default 0.7); every pruned frame keeps
  int((1 - K) * N) tokens, N tokens per frame.
- First loop: frame pairs (i, i+1) for i = 0, 2, 4, ... < T-1: frame i whole,
  frame i+1 keeps its tokens least cosine-similar (same grid position) to the
  UNPRUNED frame i.  Second loop: i = 0, 4, 8, ... < T-4: frame i+2 is replaced
  by its tokens least similar to the unpruned frame i.  So in a window of four,
  frames 2 and 3 are compared with frame 1, frame 4 with the unpruned frame 3.
- Kept tokens come out in topk(largest=False) order: ascending similarity
  (most changed first), not raster order.
- Off-by-one: range(0, T-4, 4) skips the last window, whose third frame stays
  whole (frame 30 of 32, 0-based).  With odd T the first loop never reaches the
  last frame, which is dropped altogether; with T <= 4 torch.stack([]) raises.
  `dycoke_official` reproduces all of this; `dycoke_vtc` is the rule vtc
  implements: every window pruned, a trailing window of 1-3 frames handled the
  same way with the frames it has, ties broken by lower position, and each
  dropped token's weight accounted to the same-position token of the frame it
  was compared with (so weights sum to T*N).

VQToken (Hai-chao-Zhang/VQToken, VQToken/cluster.py KMeansTorch and
AdaptiveKMeansTorch, VQToken/vq_token.py adaptive_kmeans_clustering_tokens_torch;
it runs on post-projector frame features, 729 per frame):
- tokens L2-normalised; k-means++ init (first centre uniform, then sampling by
  squared Euclidean distance to the nearest centre + 1e-6); assignment argmin of
  1 - cos(x, c) with c normalised only for the distance; update = mean of the
  (normalised) members, empty clusters keep their centre; stop when the
  Frobenius norm of the centre shift is < tol = 1e-4, at most 100 iterations.
- the codebook handed on = per-label means of the normalised tokens (not
  re-normalised); the hash = the labels, shape [T, H*W].
- adaptive K: K = 12..max_K (32 in llava_arch.py), distortion = sum of squared
  Euclidean distances to the assigned centre, elbow = argmax of the second
  difference + 2, "+ 2" again, max(., 12).  The index is never offset by the
  first K (12), so only 12..22 can come out.  `elbow_official` reproduces it;
  `elbow_chord` is vtc's rule: the K whose (K, distortion) point lies farthest
  below the chord between the curve's end points, both axes scaled to [0, 1].

Objective used by the tests: sum over tokens of 1 - cos(x, code of its label).
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "temporal")


# ---------------------------------------------------------------- safetensors

def save_safetensors(path, tensors, metadata):
    """Minimal safetensors writer: F32/I32/F64 little-endian, header padded to 8."""
    dtypes = {np.dtype("float32"): "F32", np.dtype("int32"): "I32", np.dtype("float64"): "F64"}
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        blob = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtypes[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(text)))
        fh.write(text)
        for b in blobs:
            fh.write(b)


# ---------------------------------------------------------------- DyCoke

def lowest_similarity(ref, cur, keep):
    """Positions of `cur` least cosine-similar to `ref` (same position), as torch
    topk(largest=False) returns them: ascending similarity."""
    sim = F.cosine_similarity(ref, cur, dim=1)
    return torch.topk(sim, keep, largest=False).indices


def dycoke_official(feat, n, k):
    """Kept token indices, in output order, of DyCoke's dycole_ttm."""
    t_count = feat.shape[0] // n
    keep = int((1 - k) * n)
    frame = lambda t: feat[t * n:(t + 1) * n]
    pieces = []  # list position == frame number, as in the reference
    for i in range(0, t_count - 1, 2):
        pieces.append(torch.arange(n) + i * n)
        a, b = F.normalize(frame(i), p=2, dim=1), F.normalize(frame(i + 1), p=2, dim=1)
        pieces.append(lowest_similarity(a, b, keep) + (i + 1) * n)
    second = list(range(0, t_count - 4, 4))
    if not pieces or not second:
        raise ValueError("the reference raises for T <= 4 (torch.stack of an empty list)")
    for i in second:
        pieces[i + 2] = lowest_similarity(frame(i), frame(i + 2), keep) + (i + 2) * n
    return torch.cat(pieces)


def dycoke_official_features(feat, n, k):
    """The same function computed on features, as the reference returns them."""
    t_count = feat.shape[0] // n
    keep_ratio = 1 - k
    frames = [feat[t * n:(t + 1) * n] for t in range(t_count)]
    out = []
    for i in range(0, t_count - 1, 2):
        s = F.cosine_similarity(F.normalize(frames[i], p=2, dim=1),
                                F.normalize(frames[i + 1], p=2, dim=1), dim=1)
        out += [frames[i], frames[i + 1][s.topk(int(keep_ratio * n), largest=False).indices]]
    for i in range(0, t_count - 4, 4):
        s = F.cosine_similarity(frames[i], frames[i + 2], dim=1)
        out[i + 2] = frames[i + 2][s.topk(int(keep_ratio * n), largest=False).indices]
    return torch.cat(out, dim=0)


def dycoke_vtc(feat, n, k):
    """vtc's rule: (index order, weight per kept token, kept count per frame)."""
    t_count = feat.shape[0] // n
    keep = int((1 - k) * n)
    weight = np.ones(t_count * n, dtype=np.float64)
    order, per_frame = [], []
    for w in range(0, t_count, 4):
        frames = list(range(w, min(w + 4, t_count)))
        compared_with = {w + 1: w, w + 2: w, w + 3: w + 2}
        chosen = {}
        for f in frames[1:]:
            r = compared_with[f]
            sim = F.cosine_similarity(feat[r * n:(r + 1) * n], feat[f * n:(f + 1) * n], dim=1)
            chosen[f] = np.argsort(sim.numpy(), kind="stable")[:keep]  # ties: lower position
        for f in reversed(frames[1:]):  # frame 4 merges into 3 before 3 merges into 1
            r = compared_with[f]
            for p in sorted(set(range(n)) - set(chosen[f].tolist())):
                weight[r * n + p] += weight[f * n + p]
                weight[f * n + p] = 0
        order += list(range(w * n, (w + 1) * n))
        per_frame.append(n)
        for f in frames[1:]:
            order += [f * n + int(p) for p in chosen[f]]
            per_frame.append(keep)
    order = np.array(order, dtype=np.int32)
    return order, weight[order].astype(np.float32), np.array(per_frame, dtype=np.int32)


def min_similarity_gap(feat, n):
    """Smallest gap between sorted same-position similarities of any compared
    pair; fixtures need it well above float rounding so the order is unambiguous."""
    t_count = feat.shape[0] // n
    gap = np.inf
    for w in range(0, t_count, 4):
        for f, r in ((w + 1, w), (w + 2, w), (w + 3, w + 2)):
            if f >= t_count:
                continue
            s = np.sort(F.cosine_similarity(feat[r * n:(r + 1) * n],
                                            feat[f * n:(f + 1) * n], dim=1).double().numpy())
            gap = min(gap, np.min(np.diff(s)) if len(s) > 1 else np.inf)
    return gap


def make_video(gen, t_count, h, w, d, cut=None):
    """A clip: a static background, a 2x2 object moving one column per frame,
    noise, and optionally a scene cut at frame `cut`."""
    def scene():
        return torch.randn(h * w, d, generator=gen)
    bg, obj = scene(), torch.randn(d, generator=gen) * 2
    frames = []
    for t in range(t_count):
        if cut is not None and t == cut:
            bg = scene()
        x = bg + 0.15 * torch.randn(h * w, d, generator=gen)
        for dy in range(2):
            for dx in range(2):
                y, xx = (1 + dy) % h, (t + dx) % w
                x[y * w + xx] = obj + 0.15 * torch.randn(d, generator=gen)
        frames.append(x)
    return torch.cat(frames).float()


def dycoke_cases():
    # name, T, H, W, D, k, kind
    return [
        ("rand16", 16, 6, 6, 16, 0.7, "random"),
        ("video16", 16, 6, 6, 16, 0.7, "video"),
        ("video12_k5", 12, 6, 6, 16, 0.5, "video"),
        ("rand13_k5", 13, 6, 6, 16, 0.5, "random"),
        ("rand14_k4", 14, 5, 7, 16, 0.4, "random"),
        ("rand15", 15, 6, 6, 16, 0.7, "random"),
        ("rand8", 8, 4, 4, 8, 0.7, "random"),
        ("rand32", 32, 3, 3, 8, 0.7, "random"),
        ("t1", 1, 4, 5, 8, 0.7, "random"),
        ("t2", 2, 4, 5, 8, 0.7, "random"),
        ("t3", 3, 4, 5, 8, 0.25, "random"),
    ]


def write_dycoke():
    summary = []
    for ci, (name, t_count, h, w, d, k, kind) in enumerate(dycoke_cases()):
        n = h * w
        for attempt in range(100):
            gen = torch.Generator().manual_seed(1000 * ci + attempt)
            feat = (make_video(gen, t_count, h, w, d, cut=9 if t_count > 9 else None)
                    if kind == "video" else torch.randn(t_count * n, d, generator=gen))
            if min_similarity_gap(feat, n) > 1e-5:
                break
        else:
            raise RuntimeError(f"{name}: no seed without near-ties")
        order, weight, per_frame = dycoke_vtc(feat, n, k)
        assert abs(weight.sum() - t_count * n) < 1e-3
        tensors = {"features": feat.numpy(), "index": order, "weight": weight,
                   "per_frame": per_frame}
        meta = {"grid": f"{t_count},{h},{w}", "k": repr(k), "kind": kind}
        if t_count > 4:
            off = dycoke_official(feat, n, k)
            assert torch.equal(dycoke_official_features(feat, n, k), feat[off]), name
            tensors["official_index"] = off.numpy().astype(np.int32)
        else:
            try:
                dycoke_official(feat, n, k)
                raise AssertionError("reference expected to fail for T <= 4")
            except ValueError:
                meta["official"] = "raises"
        save_safetensors(os.path.join(OUT, f"dycoke_{name}.safetensors"), tensors, meta)
        summary.append(f"dycoke {name}: T={t_count} {h}x{w} D={d} k={k} kept={len(order)}"
                       f"{'' if t_count <= 4 else ' official=' + str(len(tensors['official_index']))}")
    return summary


# ---------------------------------------------------------------- VQToken

def kmeans_official(x, k, max_iter=100, tol=1e-4):
    """KMeansTorch.fit on already L2-normalised tokens x (uses torch's global
    RNG). Returns (labels, per-label means of x as vq_token.py computes them,
    the centres the labels were assigned to)."""
    n = x.shape[0]
    picks = [int(torch.randint(0, n, (1,)).item())]
    for _ in range(1, k):
        d2 = torch.cdist(x, x[picks], p=2).min(dim=1).values.pow(2).clamp(min=0.0) + 1e-6
        picks.append(int(torch.multinomial(d2 / d2.sum(), 1).item()))
    centres = x[picks].clone()
    for _ in range(max_iter):
        xn = x / x.norm(dim=-1, keepdim=True)
        cn = centres / centres.norm(dim=-1, keepdim=True)
        labels = torch.argmin(1 - xn @ cn.T, dim=1)
        moved = torch.stack([x[labels == j].mean(dim=0) if (labels == j).any() else centres[j]
                             for j in range(k)])
        if torch.norm(centres - moved) < tol:
            break
        centres = moved
    sums = torch.zeros(k, x.shape[1]).index_add_(0, labels, x)
    counts = torch.bincount(labels, minlength=k).clamp(min=1).to(x.dtype)
    return labels, sums / counts[:, None], centres


def objective(x, labels, codes):
    """Sum over tokens of 1 - cos(token, code of its label), in float64."""
    xd, cd = x.double(), codes.double()
    cn = cd / cd.norm(dim=-1, keepdim=True).clamp(min=1e-30)
    return float((1 - (xd * cn[labels]).sum(dim=1)).sum())


def distortion(x, labels, centres):
    return float(((x.double() - centres.double()[labels]) ** 2).sum())


def elbow_official(distortions):
    """AdaptiveKMeansTorch's elbow for distortions over K = 12, 13, ..."""
    dd = torch.tensor(distortions)
    diffs = dd[1:] - dd[:-1]
    second = diffs[1:] - diffs[:-1]
    return max(int(torch.argmax(second)) + 2 + 2, 12)


def elbow_chord(ks, distortions):
    """vtc's elbow: the point farthest below the chord between the end points,
    K and distortion each scaled to [0, 1]; first of equals; K0 if flat."""
    if len(ks) == 1:
        return ks[0]
    d0, d1 = distortions[0], distortions[-1]
    if not d0 > d1:
        return ks[0]
    score = [1 - (kk - ks[0]) / (ks[-1] - ks[0]) - (dv - d1) / (d0 - d1)
             for kk, dv in zip(ks, distortions)]
    return ks[int(np.argmax(score))]


def planted(gen, t_count, h, w, d, n_clusters, noise, orthogonal=False):
    """Tokens from n_clusters random (or mutually orthogonal) directions; each
    grid position keeps its cluster across frames (a static scene), with fresh
    noise per frame."""
    if orthogonal:
        q, _ = torch.linalg.qr(torch.randn(d, d, generator=gen))
        centres = q[:n_clusters] * 3
    else:
        centres = F.normalize(torch.randn(n_clusters, d, generator=gen), dim=1) * 3
    cell = torch.randint(0, n_clusters, (h * w,), generator=gen)
    cell[:n_clusters] = torch.arange(n_clusters)  # every cluster present
    cell = cell[torch.randperm(h * w, generator=gen)]
    x = torch.cat([centres[cell] + noise * 3 * torch.randn(h * w, d, generator=gen)
                   for _ in range(t_count)])
    return x.float(), cell.repeat(t_count).to(torch.int32)


def write_vq():
    summary = []
    seeds = list(range(10))
    # Fixed K: objective of the official k-means for several seeds.
    gen = torch.Generator().manual_seed(7)
    fixed = [
        ("clusters", *planted(gen, 8, 6, 6, 16, 6, 0.08, orthogonal=True), (8, 6, 6), 6),
        ("random", torch.randn(4 * 36, 16, generator=gen), None, (4, 6, 6), 12),
        ("image", *planted(gen, 1, 12, 12, 16, 9, 0.25), (1, 12, 12), 9),
    ]
    for name, feat, truth, grid, k in fixed:
        x = feat / feat.norm(dim=-1, keepdim=True)
        objs = []
        for s in seeds:
            torch.manual_seed(s)
            labels, codes, _ = kmeans_official(x, k)
            objs.append(objective(x, labels, codes))
        tensors = {"features": feat.numpy(), "objectives": np.array(objs, dtype=np.float64)}
        if truth is not None:
            tensors["truth"] = truth.numpy()
        save_safetensors(os.path.join(OUT, f"vq_{name}.safetensors"), tensors,
                         {"grid": ",".join(map(str, grid)), "k": k, "seeds": len(seeds)})
        summary.append(f"vq {name}: N={feat.shape[0]} K={k} objective best={min(objs):.6f} "
                       f"mean={np.mean(objs):.6f} worst={max(objs):.6f}")

    # Adaptive K: distortion curve of the official k-means, both elbows.
    gen = torch.Generator().manual_seed(11)
    for name, grid, true_k, kmin, kmax in (("elbow7", (4, 6, 6), 7, 2, 14),
                                           ("elbow5_image", (1, 10, 10), 5, 2, 12)):
        feat, truth = planted(gen, *grid, 16, true_k, 0.05, orthogonal=True)
        x = feat / feat.norm(dim=-1, keepdim=True)
        torch.manual_seed(0)
        ks = list(range(kmin, kmax + 1))
        dist = []
        for k in ks:
            labels, _, centres = kmeans_official(x, k)
            dist.append(distortion(x, labels, centres))
        chosen = elbow_chord(ks, dist)
        assert chosen == true_k, (name, chosen, dist)
        save_safetensors(os.path.join(OUT, f"vq_{name}.safetensors"),
                         {"features": feat.numpy(), "truth": truth.numpy(),
                          "distortions": np.array(dist, dtype=np.float64)},
                         {"grid": ",".join(map(str, grid)), "kmin": kmin, "kmax": kmax,
                          "elbow": chosen})
        summary.append(f"vq {name}: K {kmin}..{kmax} chord elbow={chosen} (planted {true_k})")

    # The official elbow on its own range can only answer 12..22 (K = 12..32).
    rng = np.random.default_rng(0)
    answers = {elbow_official(sorted(rng.random(21).tolist(), reverse=True)) for _ in range(2000)}
    assert answers <= set(range(12, 23)), answers
    summary.append(f"vq official elbow over K=12..32 answers {min(answers)}..{max(answers)}")
    return summary


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    for line in write_dycoke() + write_vq():
        print(line)


if __name__ == "__main__":
    main()
