#!/usr/bin/env python3
"""PyTorch float32 peer for bench/encoder: the same CLIP ViT blocks with random
weights, timed the same way (best of --reps after a warm-up). Prints one line:
`torch_ms <best> <median>`. Run with Debian's /usr/bin/python3 (python3-torch)."""
import argparse, statistics, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads, ffn):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
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
        return x + self.fc2(h * torch.sigmoid(1.702 * h))


class ViT(nn.Module):
    def __init__(self, size, patch, d, heads, ffn, layers):
        super().__init__()
        self.patch = nn.Conv2d(3, d, patch, patch, bias=False)
        g = size // patch
        self.cls = nn.Parameter(torch.randn(d))
        self.pos = nn.Parameter(torch.randn(g * g + 1, d) * 0.02)
        self.pre = nn.LayerNorm(d)
        self.blocks = nn.ModuleList(Block(d, heads, ffn) for _ in range(layers))

    def forward(self, px):
        x = self.patch(px[None])[0].flatten(1).t()
        x = torch.cat([self.cls[None], x]) + self.pos
        x = self.pre(x)
        for b in self.blocks:
            x = b(x)
        return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--patch", type=int, required=True)
    ap.add_argument("--hidden", type=int, required=True)
    ap.add_argument("--heads", type=int, required=True)
    ap.add_argument("--ffn", type=int, required=True)
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = ViT(a.size, a.patch, a.hidden, a.heads, a.ffn, a.layers).eval()
    px = torch.randn(3, a.size, a.size)
    times = []
    with torch.inference_mode():
        m(px)  # warm-up
        for _ in range(a.reps):
            t = time.perf_counter()
            m(px)
            times.append((time.perf_counter() - t) * 1e3)
    print(f"torch_ms {min(times):.3f} {statistics.median(times):.3f} torch {torch.__version__}")


if __name__ == "__main__":
    main()
