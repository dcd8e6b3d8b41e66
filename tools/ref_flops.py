#!/usr/bin/python3
"""Reference FLOPs figures for tests/test_flops.c, written from the formulas of
docs/flops.md (not from base/flops.c): exact integer arithmetic, explicit loops
over layers, heads, query positions and decode steps instead of closed forms.

    /usr/bin/python3 tools/ref_flops.py > tests/fixtures/flops_ref.txt

Conventions (the same as documented in base/flops.h, counted independently):
- FLOPs = 2 per multiply-accumulate, matmuls only.
- Decoder layer, per token: q and o (d x d), k and v (d x d_kv, grouped-query),
  SwiGLU gate, up (d x m) and down (m x d).
- Causal attention: query at position i (1-based) scores i keys and sums i values,
  head_dim MACs each, in every head.
- Prefill ends with the LM head (d x vocab) on the last position only; generating
  G tokens takes G-1 decode steps; step g feeds one token that attends over
  (tokens in that layer's cache) + g entries, then the LM head.
- In-decoder pruning after layer PL: layers < PL see N visual tokens, the rest K.
- Paper convention: per layer 4nd^2 + 2n^2d + 2ndm, K*f(n) + (L-K)*f(n_hat).
- ViT: patch conv (3*p*p MACs per output channel per patch), q/k/v/o, full
  bidirectional attention per head, fc1/fc2. Projector: two linears.
- Qwen2-VL / Qwen2.5-VL tower on a (t, h, w) patch grid: the Conv3d (3*tp*p*p MACs
  per output channel per patch), qkv and proj, attention per head inside each span
  (a temporal slice, or in Qwen2.5-VL's windowed blocks a window: patches bucketed
  by (slice, y // (window/p), x // (window/p)), so the last row and column of
  windows are cut at the image's edge), fc1/fc2 or gate/up/down. No merger here
  (the `proj` lines: its MLP is vtc's projector).

Output, one case per line (integers exact; averages as shortest round-trip floats):
  lm NAME layers hidden ffn heads kv_heads vocab N K T G PL prefill_before prefill_after
     decode_before decode_after per_token_before per_token_after paper_before paper_after equiv_tokens
  vit NAME hidden ffn patch n_patches n_tokens heads blocks flops
  proj n in_dim mid_dim out_dim flops
  qwen NAME D F patch temporal_patch merge window heads blocks gated full_blocks T GH GW flops
     (window 0: every block full; full_blocks comma-separated or -; NAME a folder under
     tests/fixtures/models/ for the fixture towers, which tests/test_encoder.c runs)
"""
from fractions import Fraction

# Presets as docs/flops.md#presets lists them (vocab sizes from the models' configs).
PRESETS = {
    "llava-1.5-7b": dict(layers=32, hidden=4096, ffn=11008, heads=32, kv=32, vocab=32000),
    "llava-1.5-13b": dict(layers=40, hidden=5120, ffn=13824, heads=40, kv=40, vocab=32000),
    "qwen2-7b": dict(layers=28, hidden=3584, ffn=18944, heads=28, kv=4, vocab=152064),
    "llava-onevision-7b": dict(layers=28, hidden=3584, ffn=18944, heads=28, kv=4, vocab=152064),
    "qwen2-0.5b": dict(layers=24, hidden=896, ffn=4864, heads=14, kv=2, vocab=151936),
    # config.json of Qwen/Qwen2-VL-7B-Instruct, Qwen/Qwen2.5-VL-3B-Instruct (tied head),
    # Qwen/Qwen2.5-VL-7B-Instruct on huggingface.co
    "qwen2-vl-7b": dict(layers=28, hidden=3584, ffn=18944, heads=28, kv=4, vocab=152064),
    "qwen2.5-vl-3b": dict(layers=36, hidden=2048, ffn=11008, heads=16, kv=2, vocab=151936),
    "qwen2.5-vl-7b": dict(layers=28, hidden=3584, ffn=18944, heads=28, kv=4, vocab=152064),
}
CUSTOM = dict(layers=3, hidden=64, ffn=176, heads=8, kv=2, vocab=1000)

MAC = 2  # FLOPs per multiply-accumulate


def matmul(rows, inner, cols):
    return MAC * rows * inner * cols


def layer_linear(s, tokens):
    d, m = s["hidden"], s["ffn"]
    hd = d // s["heads"]
    d_kv = s["kv"] * hd
    q = matmul(tokens, d, d)
    k = matmul(tokens, d, d_kv)
    v = matmul(tokens, d, d_kv)
    o = matmul(tokens, d, d)
    gate = matmul(tokens, d, m)
    up = matmul(tokens, d, m)
    down = matmul(tokens, m, d)
    return q + k + v + o + gate + up + down


def attention_query(s, keys):
    """One query attending to `keys` entries, all heads: scores + weighted sum."""
    hd = s["hidden"] // s["heads"]
    total = 0
    for _ in range(s["heads"]):
        total += matmul(1, hd, keys)  # q . K^T
        total += matmul(1, keys, hd)  # p . V
    return total


_causal = {}


def causal_attention(s, t):
    """Queries 1..t, query i attending to keys 1..i (prefix sums cached per shape)."""
    key = tuple(sorted(s.items()))
    sums = _causal.setdefault(key, [0])
    while len(sums) <= t:
        i = len(sums)
        sums.append(sums[-1] + attention_query(s, i))
    return sums[t]


def lm_head(s):
    return matmul(1, s["hidden"], s["vocab"])


def tokens_in_layer(layer, pl, n_full, n_cut):
    return n_full if layer < pl else n_cut


def prefill(s, n_full, n_cut, pl):
    total = 0
    for layer in range(s["layers"]):
        t = tokens_in_layer(layer, pl, n_full, n_cut)
        total += layer_linear(s, t)
        total += causal_attention(s, t)
    return total + lm_head(s)


def decode_step(s, n_full, n_cut, pl, g):
    total = 0
    for layer in range(s["layers"]):
        cache = tokens_in_layer(layer, pl, n_full, n_cut)
        total += layer_linear(s, 1) + attention_query(s, cache + g)
    return total + lm_head(s)


def decode(s, n_full, n_cut, pl, gen):
    steps = [decode_step(s, n_full, n_cut, pl, g) for g in range(1, gen)]
    total = sum(steps)
    per_token = Fraction(total, len(steps)) if steps else Fraction(decode_step(s, n_full, n_cut, pl, 1))
    return total, per_token


def paper_layer(s, n):
    d, m = s["hidden"], s["ffn"]
    return 4 * n * d * d + 2 * n * n * d + 2 * n * d * m


def paper_prefill(s, n, n_hat, k):
    return sum(paper_layer(s, n if layer < k else n_hat) for layer in range(s["layers"]))


def num(x):
    if isinstance(x, Fraction):
        return str(x.numerator) if x.denominator == 1 else repr(float(x))
    return str(x)


def lm_case(name, s, N, K, T, G, PL):
    nb_full = N + T
    na_full, na_cut = N + T, K + T
    pb = prefill(s, nb_full, nb_full, 0)
    pa = prefill(s, na_full, na_cut, PL)
    db, tb = decode(s, nb_full, nb_full, 0, G)
    da, ta = decode(s, na_full, na_cut, PL, G)
    ppb = paper_prefill(s, nb_full, nb_full, 0)
    ppa = paper_prefill(s, na_full, na_cut, PL)
    equiv = Fraction(PL * N + (s["layers"] - PL) * K, s["layers"])
    shape = [s[k] for k in ("layers", "hidden", "ffn", "heads", "kv", "vocab")]
    fields = ["lm", name] + shape + [N, K, T, G, PL, pb, pa, db, da, tb, ta, ppb, ppa, equiv]
    return " ".join(num(f) for f in fields)


def vit(D, F, p, n_patches, n_tokens, heads, blocks):
    hd = D // heads
    total = n_patches * D * MAC * (3 * p * p)  # conv: every output channel of every patch
    for _ in range(blocks):
        total += 4 * matmul(n_tokens, D, D)  # q, k, v, o
        for _ in range(heads):
            total += matmul(n_tokens, hd, n_tokens)  # scores, no mask
            total += matmul(n_tokens, n_tokens, hd)  # weighted sum
        total += matmul(n_tokens, D, F) + matmul(n_tokens, F, D)  # fc1, fc2
    return total


def qwen_vit(D, F, p, tp, merge, window, heads, blocks, gated, full, T, GH, GW):
    hd = D // heads
    n = T * GH * GW
    wp = window // p  # a window's side in patches
    total = n * D * MAC * (3 * tp * p * p)  # Conv3d: every output channel of every patch
    for b in range(blocks):
        total += matmul(n, D, 3 * D) + matmul(n, D, D)  # qkv, proj
        span = {}
        for t in range(T):
            for y in range(GH):
                for x in range(GW):
                    key = (t, y // wp, x // wp) if window and b not in full else (t,)
                    span[key] = span.get(key, 0) + 1
        for size in span.values():
            for _ in range(heads):
                total += matmul(size, hd, size)  # scores within the span
                total += matmul(size, size, hd)  # weighted sum
        total += matmul(n, D, F) + matmul(n, F, D)  # fc1 / gate, fc2 / down
        if gated:
            total += matmul(n, D, F)  # up
    return total


def main():
    print("# generated by tools/ref_flops.py -- do not edit; see that file for the format")
    cases = [  # N, K, T, G, PL
        (576, 64, 0, 0, 0),
        (576, 192, 60, 128, 0),
        (576, 576, 40, 1, 0),
        (576, 288, 60, 32, 2),   # FastV K=2, R=50%
        (576, 0, 35, 16, 2),     # everything visual dropped after layer 2
        (2880, 720, 100, 64, 0),  # a clip of 5 x 576
        (196, 1, 1, 2, 0),
    ]
    for name, s in PRESETS.items():
        for N, K, T, G, PL in cases:
            print(lm_case(name, s, N, K, T, G, PL))
    for N, K, T, G, PL in [(10, 3, 2, 5, 0), (10, 3, 2, 5, 1), (10, 10, 0, 0, 3), (1, 0, 1, 3, 0)]:
        print(lm_case("custom", CUSTOM, N, K, T, G, PL))

    vits = [  # name, D, F, p, patches, tokens (with CLS), heads, executed blocks
        ("clip-vit-l-14-336", 1024, 4096, 14, 576, 577, 16, 24),
        ("clip-vit-l-14-336-llava", 1024, 4096, 14, 576, 577, 16, 23),
        ("clip-vit-b-16-224", 768, 3072, 16, 196, 197, 12, 12),
        ("siglip-so400m-14-384", 1152, 4304, 14, 729, 729, 16, 26),
    ]
    for name, D, F, p, P, n, h, b in vits:
        print(" ".join(num(x) for x in ["vit", name, D, F, p, P, n, h, b, vit(D, F, p, P, n, h, b)]))
    for n, a, b, c in [(576, 1024, 4096, 4096), (64, 1024, 5120, 5120), (729, 1152, 3584, 3584)]:
        print(" ".join(num(x) for x in ["proj", n, a, b, c, MAC * n * a * b + MAC * n * b * c]))

    # the fixture towers of tools/gen_qwen_fixtures.py (tests/fixtures/models/*/config.json)
    qwen2vl = dict(D=16, F=64, p=14, tp=2, merge=2, window=0, heads=2, blocks=4, gated=0, full=[])
    qwen25vl = dict(D=16, F=40, p=14, tp=2, merge=2, window=112, heads=2, blocks=4, gated=1, full=[1, 3])
    grids = [  # T, GH, GW (in patches, multiples of merge)
        (1, 2, 2),    # smaller than one window
        (1, 8, 8),    # exactly one window
        (1, 16, 22),  # 2 x 3 windows, the last column 6 patches wide
        (1, 18, 10),  # 3 x 2 windows, the last row 2 and column 2 patches
        (2, 10, 36),  # two slices (a clip), windows per slice
        (3, 4, 30),
    ]
    for name, c in [("qwen2vl", qwen2vl), ("qwen25vl", qwen25vl)]:
        for T, GH, GW in grids:
            f = qwen_vit(**c, T=T, GH=GH, GW=GW)
            full = ",".join(str(b) for b in c["full"]) or "-"
            print(" ".join(num(x) for x in ["qwen", name, c["D"], c["F"], c["p"], c["tp"], c["merge"], c["window"],
                                            c["heads"], c["blocks"], c["gated"], full, T, GH, GW, f]))


if __name__ == "__main__":
    main()
