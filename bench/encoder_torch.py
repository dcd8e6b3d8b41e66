#!/usr/bin/env python3
"""PyTorch peer for bench/encoder, random weights, timed the same way (best of
--reps after a warm-up). Run with Debian's /usr/bin/python3 (python3-torch).

--arch clip (default): the same CLIP ViT blocks (class token, pre-LayerNorm,
quick GELU). --arch siglip: SigLIP's (transformers' SiglipVisionModel up to its
last block, as LLaVA-OneVision reads it: no class token, no pre-LayerNorm, tanh
GELU, LayerNorm eps 1e-6, no post-LayerNorm, no pooling head). Each is timed in
float32, then with the same weights and input cast to bfloat16 (every op in
bfloat16, as `model.to(torch.bfloat16)` runs it), each after its own warm-up.
Prints `torch_ms <best> <median> float32` and `torch_ms <best> <median> bfloat16`
(--dtypes picks and orders them).

--arch qwen2.5vl: Qwen2.5-VL's vision tower and patch merger on one (t, h, w)
patch grid, with tools/ref_qwen2vl.py's semantics (transformers'
modeling_qwen2_5_vl.py): the Conv3d patch embedding as the matmul it is, 2-D
rotary q and k, rows in window order (get_window_index), attention per
cu_seqlens span (windows, the slice in fullatt_block_indexes) as transformers'
non-flash path splits it, RMSNorm and the SiLU-gated MLP, ln_q, the merger MLP,
the window order undone. Timed in float32, then the same weights in bfloat16
(norms, rotary and softmax in float32 and cast back, as transformers does), each
after a warm-up on a one-window grid (8 x 8 patches).
Prints `torch_ms <best> <median> float32` and `torch_ms <best> <median> bfloat16`.
"""
import argparse, os, statistics, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import ref_qwen2vl as Q  # noqa: E402  (the window order, as the reference computes it)


class Block(nn.Module):
    def __init__(self, d, heads, ffn, act="quick_gelu", eps=1e-5):
        super().__init__()
        self.heads, self.act = heads, act
        self.ln1, self.ln2 = nn.LayerNorm(d, eps=eps), nn.LayerNorm(d, eps=eps)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(d, ffn), nn.Linear(ffn, d)

    def forward(self, x):
        n, d = x.shape
        hd = d // self.heads
        h = self.ln1(x)
        q = self.q(h).view(n, self.heads, hd).transpose(0, 1)
        k = self.k(h).view(n, self.heads, hd).transpose(0, 1)
        v = self.v(h).view(n, self.heads, hd).transpose(0, 1)
        a = torch.softmax(q @ k.transpose(1, 2) * hd ** -0.5, dim=-1)
        x = x + self.o((a @ v).transpose(0, 1).reshape(n, d))
        h = self.fc1(self.ln2(x))
        h = F.gelu(h, approximate="tanh") if self.act == "gelu_pytorch_tanh" else h * torch.sigmoid(1.702 * h)
        return x + self.fc2(h)


class ViT(nn.Module):
    """CLIP's tower (siglip False) or SigLIP's (no class token, no pre-LayerNorm, tanh GELU)."""
    def __init__(self, size, patch, d, heads, ffn, layers, siglip=False):
        super().__init__()
        self.patch = nn.Conv2d(3, d, patch, patch, bias=False)
        g = size // patch
        self.cls = None if siglip else nn.Parameter(torch.randn(d))
        self.pos = nn.Parameter(torch.randn(g * g + (0 if siglip else 1), d) * 0.02)
        self.pre = nn.Identity() if siglip else nn.LayerNorm(d)
        act, eps = ("gelu_pytorch_tanh", 1e-6) if siglip else ("quick_gelu", 1e-5)
        self.blocks = nn.ModuleList(Block(d, heads, ffn, act, eps) for _ in range(layers))

    def forward(self, px):
        x = self.patch(px[None])[0].flatten(1).t()
        if self.cls is not None:
            x = torch.cat([self.cls[None], x])
        x = self.pre(x + self.pos)
        for b in self.blocks:
            x = b(x)
        return x


def wide(x):
    """float32 for float32 / bfloat16 (where transformers upcasts), float64 kept (the check)."""
    return x if x.dtype == torch.float64 else x.float()


class RMSNorm(nn.Module):
    """Qwen2RMSNorm: in float32, cast back to the input's type, times the weight."""
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(d)), eps

    def forward(self, x):
        h = wide(x)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class QwenBlock(nn.Module):
    def __init__(self, d, heads, ffn):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = RMSNorm(d), RMSNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.gate, self.up, self.down = nn.Linear(d, ffn), nn.Linear(d, ffn), nn.Linear(ffn, d)

    def forward(self, x, cos, sin, lens):
        n, d = x.shape
        hd = d // self.heads
        qkv = self.qkv(self.norm1(x)).view(n, 3, self.heads, hd)
        q, k, v = qkv.unbind(1)
        q, k = q.to(cos.dtype), k.to(cos.dtype)  # apply_rotary_pos_emb_vision: in float32
        q = (q * cos + rotate_half(q) * sin).to(x.dtype)
        k = (k * cos + rotate_half(k) * sin).to(x.dtype)
        outs = []
        for qs, ks, vs in zip(q.split(lens), k.split(lens), v.split(lens)):
            qs, ks, vs = qs.transpose(0, 1), ks.transpose(0, 1), vs.transpose(0, 1)
            a = torch.softmax(wide(qs @ ks.transpose(1, 2)) * hd ** -0.5, dim=-1).to(x.dtype)
            outs.append((a @ vs).transpose(0, 1))
        x = x + self.proj(torch.cat(outs).reshape(n, d))
        h = self.norm2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class QwenTower(nn.Module):
    def __init__(self, patch, tp, merge, window, d, heads, ffn, layers, out, full):
        super().__init__()
        self.patch, self.merge, self.window, self.heads, self.full = patch, merge, window, heads, set(full)
        self.patch_embed = nn.Linear(3 * tp * patch * patch, d, bias=False)  # Conv3d, stride = kernel
        self.blocks = nn.ModuleList(QwenBlock(d, heads, ffn) for _ in range(layers))
        self.ln_q = RMSNorm(d)
        self.mlp0, self.mlp2 = nn.Linear(merge * merge * d, merge * merge * d), nn.Linear(merge * merge * d, out)

    def geometry(self, grid, hd):
        """Window order of the merged units, window lengths in patches, rotary cos/sin per row (window order)."""
        gt, gh, gw = grid
        m, mh, mw = self.merge, gh // self.merge, gw // self.merge
        order, lens = Q.window_index(grid, self.window, self.patch, m)  # the reference's window order
        order = torch.from_numpy(order)
        unit = torch.arange(mh * mw)  # (h, w) patch ids in the processor's (h/m, w/m, m, m) order
        e = torch.arange(m * m)
        hh = ((unit // mw)[:, None] * m + e // m).reshape(-1).repeat(gt)
        ww = ((unit % mw)[:, None] * m + e % m).reshape(-1).repeat(gt)
        dim = hd // 2
        inv = 1.0 / 10000.0 ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
        ang = torch.cat([hh[:, None] * inv, ww[:, None] * inv], dim=1)
        perm = (order[:, None] * (m * m) + e).reshape(-1)
        emb = torch.cat([ang, ang], dim=-1)[perm][:, None, :]
        return order, lens, perm, emb.cos(), emb.sin()

    def forward(self, px, grid):
        hd = self.blocks[0].qkv.in_features // self.heads
        order, win_lens, perm, cos, sin = self.geometry(grid, hd)
        rot = torch.float64 if self.patch_embed.weight.dtype == torch.float64 else torch.float32
        cos, sin = cos.to(rot), sin.to(rot)
        x = self.patch_embed(px.to(self.patch_embed.weight.dtype))[perm]
        slice_lens = [grid[1] * grid[2]] * grid[0]
        for b, blk in enumerate(self.blocks):
            x = blk(x, cos, sin, slice_lens if b in self.full else win_lens)
        x = self.ln_q(x).view(-1, self.mlp0.in_features)
        x = self.mlp2(F.gelu(self.mlp0(x)))
        return x[torch.argsort(order)]


def check_against_reference():
    """A small tower against tools/ref_qwen2vl.py's float64 tower_forward on the same
    weights (windows cut at the edges, two slices): the peer computes what it should."""
    import os
    ref = Q
    torch.manual_seed(1)
    grid, patch, tp, merge, window, d, heads, ffn, layers, out, full = (2, 10, 18), 14, 2, 2, 112, 32, 4, 48, 3, 24, [1]
    m = QwenTower(patch, tp, merge, window, d, heads, ffn, layers, out, full).double().eval()
    w = {"patch_embed.proj.weight": m.patch_embed.weight.view(d, 3, tp, patch, patch), "merger.ln_q.weight":
         m.ln_q.weight, "merger.mlp.0.weight": m.mlp0.weight, "merger.mlp.0.bias": m.mlp0.bias,
         "merger.mlp.2.weight": m.mlp2.weight, "merger.mlp.2.bias": m.mlp2.bias}
    for b, blk in enumerate(m.blocks):
        with torch.no_grad():
            blk.norm1.weight.uniform_(0.5, 1.5), blk.norm2.weight.uniform_(0.5, 1.5)
        for ours, theirs in [("norm1", "norm1"), ("norm2", "norm2"), ("qkv", "attn.qkv"), ("proj", "attn.proj"),
                             ("gate", "mlp.gate_proj"), ("up", "mlp.up_proj"), ("down", "mlp.down_proj")]:
            for k, v in getattr(blk, ours).named_parameters():
                w[f"blocks.{b}.{theirs}.{k}"] = v
    w = {k: v.detach() for k, v in w.items()}
    cfg = dict(kind="qwen25vl", D=d, heads=heads, depth=layers, act="silu", merge=merge, patch=patch,
               window_size=window, fullatt=full)
    px = torch.randn(grid[0] * grid[1] * grid[2], 3 * tp * patch * patch, dtype=torch.float64)
    want = ref.tower_forward(w, cfg, px.numpy(), grid)[0]["embeds"]
    with torch.inference_mode():
        got = m(px, grid)
    err = float((got - want).abs().max() / want.abs().max())
    print(f"qwen2.5vl peer vs tools/ref_qwen2vl.py (float64): max relative difference {err:.1e}")
    return err < 1e-12


def timed(f, reps, warm_up=None):
    times = []
    with torch.inference_mode():
        (warm_up or f)()
        for _ in range(reps):
            t = time.perf_counter()
            f()
            times.append((time.perf_counter() - t) * 1e3)
    return min(times), statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", choices=["clip", "siglip", "qwen2.5vl"], default="clip")
    ap.add_argument("--size", type=int, help="clip, siglip: image side")
    ap.add_argument("--grid", help="qwen2.5vl: T,H,W in patches")
    ap.add_argument("--patch", type=int, required=True)
    ap.add_argument("--hidden", type=int, required=True)
    ap.add_argument("--heads", type=int, required=True)
    ap.add_argument("--ffn", type=int, required=True)
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--tp", type=int, default=2, help="qwen2.5vl: temporal patch")
    ap.add_argument("--merge", type=int, default=2, help="qwen2.5vl: spatial merge")
    ap.add_argument("--window", type=int, default=112, help="qwen2.5vl: window_size (pixels)")
    ap.add_argument("--full", default="7,15,23,31", help="qwen2.5vl: fullatt_block_indexes")
    ap.add_argument("--out", type=int, default=3584, help="qwen2.5vl: the merger's out_hidden_size")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--dtypes", default="float32,bfloat16", help="clip, siglip: the types timed, in order")
    if "--check" in sys.argv:  # the Qwen peer against the float64 reference, then exit
        sys.exit(0 if check_against_reference() else 1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.arch in ("clip", "siglip"):
        m = ViT(a.size, a.patch, a.hidden, a.heads, a.ffn, a.layers, a.arch == "siglip").eval()
        px = torch.randn(3, a.size, a.size)
        for name in a.dtypes.split(","):
            dtype = getattr(torch, name)
            m, x = m.to(dtype), px.to(dtype)
            best, median = timed(lambda: m(x), a.reps)
            print(f"torch_ms {best:.3f} {median:.3f} {name} torch {torch.__version__}", flush=True)
        return
    grid = tuple(int(v) for v in a.grid.split(","))
    full = [int(v) for v in a.full.split(",") if v]
    m = QwenTower(a.patch, a.tp, a.merge, a.window, a.hidden, a.heads, a.ffn, a.layers, a.out, full).eval()
    px = torch.randn(grid[0] * grid[1] * grid[2], 3 * a.tp * a.patch * a.patch)
    # warm-up: one window's grid (8 x 8 patches), so that a bfloat16 forward of minutes
    # on a CPU without bfloat16 arithmetic runs only `reps` times
    small = (1, 8, 8)
    px_small = px[: small[1] * small[2]]
    for dtype in (torch.float32, torch.bfloat16):
        m = m.to(dtype)
        best, median = timed(lambda: m(px, grid), a.reps, lambda: m(px_small, small))
        print(f"torch_ms {best:.3f} {median:.3f} {str(dtype).replace('torch.', '')} torch {torch.__version__}",
              flush=True)


if __name__ == "__main__":
    main()
