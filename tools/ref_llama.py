#!/usr/bin/python3
"""Reference expectations for tests/test_lm.c: a tiny random Llama model written
as a llama2.c checkpoint and as a GGUF file, and the logits (plus the attention
figures the in-decoder hooks read) that an independent float64 PyTorch
implementation computes for it.

    /usr/bin/python3 tools/ref_llama.py [OUTDIR]      (default tests/fixtures/lm)

The reference is written the Hugging Face transformers way (LlamaForCausalLM):
weights in HF layout, RoPE by rotate_half (x[i] paired with x[i + hs/2]),
repeat_kv for grouped-query attention, an additive causal mask. lm/llama.c is
written the llama2.c way (adjacent pairs rotated, Meta's original layout), so
agreement checks the layouts as well as the arithmetic:

  Meta layout --HF permute (convert_llama_weights_to_hf.py)--> HF layout
  HF layout --llama.cpp permute (convert_hf_to_gguf.py, LlamaModel.permute)--> GGUF

The llama2.c file holds the Meta-layout weights (as llama2.c's export.py
writes them); the GGUF file holds what llama.cpp's converter would write from
the HF weights (matrices F16, norms F32). Weights are drawn as values exactly
representable in float16 so both files hold the same model and share one set of
expected logits.

Cases (row = KV slot; positions are the RoPE ids, with gaps where visual tokens
were pruned, as FastV/DyCoke keep original positions):
  plain    12 token rows, positions 0..11, logits of every row
  mixed    3 tokens, 6 embedding rows ("visual"), 3 tokens; gapped positions
  fastv    mixed with FastV at K = 1: layer 0's attention of the last row over
           the visual span (head mean), top 3 kept, the other visual rows gone
           from layers >= 1; last-row logits, then one decode step
  dycoke   mixed prefilled whole, then a decode step whose layers >= 1 attend to
           a fixed subset of the visual slots only (the cache stays whole)
  share    ToDRE stage 2's figures at layer 1 of mixed: the share of text
           queries' attention on visual keys and of visual queries' on text keys
  policy_* the three policies of lm/policies.c end to end on mixed, as the
           reference code behaves (FastV's fastv_kvcache.py, DyCoke's
           PrunableDynamicCache, ToDRE stage 2 as docs/methods.md#todre2 words it), with
           the parameters lm/policies.c takes for a 2-layer model: prefill
           logits, then the logits of each decode step
"""
import os
import struct
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)

CFG = dict(dim=32, hidden=80, layers=2, heads=4, kv_heads=2, vocab=64, seq_len=32)
EPS = 1e-5
THETA = 10000.0
SEED = 20240607


def f16_exact(a):
    return a.astype(np.float16).astype(np.float64)


def make_weights(rng):
    """Meta-layout weights (what llama2.c's model.py holds)."""
    d, h, L, H, KV, V = (CFG[k] for k in ("dim", "hidden", "layers", "heads", "kv_heads", "vocab"))
    hs = d // H
    kv = hs * KV
    W = dict(tok=f16_exact(rng.standard_normal((V, d))), norm=f16_exact(1 + 0.1 * rng.standard_normal(d)),
             cls=f16_exact(rng.standard_normal((V, d)) / np.sqrt(d)), layers=[])
    for _ in range(L):
        W["layers"].append(dict(
            attn_norm=f16_exact(1 + 0.1 * rng.standard_normal(d)),
            wq=f16_exact(rng.standard_normal((d, d)) * 1.5 / np.sqrt(d)),
            wk=f16_exact(rng.standard_normal((kv, d)) * 1.5 / np.sqrt(d)),
            wv=f16_exact(rng.standard_normal((kv, d)) / np.sqrt(d)),
            wo=f16_exact(rng.standard_normal((d, d)) / np.sqrt(d)),
            ffn_norm=f16_exact(1 + 0.1 * rng.standard_normal(d)),
            w1=f16_exact(rng.standard_normal((h, d)) / np.sqrt(d)),
            w2=f16_exact(rng.standard_normal((d, h)) / np.sqrt(h)),
            w3=f16_exact(rng.standard_normal((h, d)) / np.sqrt(d)),
        ))
    return W


def hf_permute(w, n_heads):
    """transformers' convert_llama_weights_to_hf.py: Meta -> HF (rotate_half) layout."""
    dim1, dim2 = w.shape
    return w.reshape(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(0, 2, 1, 3).reshape(dim1, dim2)


def gguf_permute(w, n_head, n_head_kv):
    """llama.cpp convert_hf_to_gguf.py LlamaModel.permute: HF -> GGUF layout."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


# ---------------------------------------------------------------- the reference model (HF style)

def rms_norm(x, w):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope_hf(x, pos):
    """x [n, heads, hs] rotated by positions pos [n] (LlamaRotaryEmbedding)."""
    hs = x.shape[-1]
    inv_freq = 1.0 / (THETA ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
    freqs = pos[:, None].double() * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return x * emb.cos()[:, None, :] + rotate_half(x) * emb.sin()[:, None, :]


class Ref:
    """HF-layout Llama in float64 over an explicit KV cache, so that layers can
    run on different row subsets (FastV) and attend to different key subsets
    (DyCoke-KV), exactly as the C hooks allow."""

    def __init__(self, W):
        self.d, self.H, self.KV = CFG["dim"], CFG["heads"], CFG["kv_heads"]
        self.hs = self.d // self.H
        t = lambda a: torch.tensor(a)
        self.tok, self.norm, self.cls = t(W["tok"]), t(W["norm"]), t(W["cls"])
        self.layers = []
        for lw in W["layers"]:
            self.layers.append(dict(
                attn_norm=t(lw["attn_norm"]), wq=t(hf_permute(lw["wq"], self.H)),
                wk=t(hf_permute(lw["wk"], self.KV)), wv=t(lw["wv"]), wo=t(lw["wo"]),
                ffn_norm=t(lw["ffn_norm"]), w1=t(lw["w1"]), w2=t(lw["w2"]), w3=t(lw["w3"])))
        self.reset()

    def reset(self):
        L = len(self.layers)
        self.k = [dict() for _ in range(L)]  # slot -> [KV, hs]
        self.v = [dict() for _ in range(L)]
        self.n_slots = 0

    def attention(self, l, q, slots, key_ok):
        """Queries q [n, H, hs] in slots `slots`; each attends to cached slots <= its
        own for which key_ok(slot) holds. Returns output [n, d] and probabilities
        [n, H, n_keys] over the key list (for the hook figures)."""
        keys = sorted(s for s in self.k[l] if key_ok(s))
        K = torch.stack([self.k[l][s] for s in keys])  # [nk, KV, hs]
        Vv = torch.stack([self.v[l][s] for s in keys])
        rep = self.H // self.KV
        K = K.repeat_interleave(rep, dim=1)  # repeat_kv
        Vv = Vv.repeat_interleave(rep, dim=1)
        scores = torch.einsum("nhd,khd->nhk", q, K) / np.sqrt(self.hs)
        mask = torch.tensor([[0.0 if k <= s else -np.inf for k in keys] for s in slots])
        probs = torch.softmax(scores + mask[:, None, :], dim=-1)
        out = torch.einsum("nhk,khd->nhd", probs, Vv).reshape(len(slots), self.d)
        return out, probs, keys

    def forward(self, x, pos, rows_at=None, key_ok_at=None, hook=None):
        """x [n, d] input rows appended at the next slots, pos [n]. rows_at(l) ->
        the row indices computed in layer l (FastV drops); key_ok_at(l) -> a key
        predicate for layer l. hook(l, ...) sees queries and probabilities.
        Returns the final hidden states [n, d]."""
        n = x.shape[0]
        slots = list(range(self.n_slots, self.n_slots + n))
        self.n_slots += n
        x = x.clone()
        for l, w in enumerate(self.layers):
            rows = list(range(n)) if rows_at is None else rows_at(l)
            key_ok = (lambda s: True) if key_ok_at is None else key_ok_at(l)
            xs = x[rows]
            h = rms_norm(xs, w["attn_norm"])
            q = rope_hf((h @ w["wq"].T).view(-1, self.H, self.hs), pos[rows])
            k = rope_hf((h @ w["wk"].T).view(-1, self.KV, self.hs), pos[rows])
            v = (h @ w["wv"].T).view(-1, self.KV, self.hs)
            for j, r in enumerate(rows):
                self.k[l][slots[r]] = k[j]
                self.v[l][slots[r]] = v[j]
            # keys dropped from this layer were never written for it
            ok = lambda s, key_ok=key_ok, l=l: key_ok(s) and s in self.k[l]
            att, probs, keys = self.attention(l, q, [slots[r] for r in rows], ok)
            xs = xs + att @ w["wo"].T
            h = rms_norm(xs, w["ffn_norm"])
            xs = xs + (torch.nn.functional.silu(h @ w["w1"].T) * (h @ w["w3"].T)) @ w["w2"].T
            x[rows] = xs
            if hook:
                hook(l, rows, [slots[r] for r in rows], probs, keys)
        return x

    def logits(self, h):
        return rms_norm(h, self.norm) @ self.cls.T


def meta_logits(W, tokens):
    """llama2.c's model.py formulation (complex RoPE on Meta-layout weights), a
    cross-check that the two layouts are the same model."""
    d, H, KV = CFG["dim"], CFG["heads"], CFG["kv_heads"]
    hs = d // H
    t = lambda a: torch.tensor(a)
    x = t(W["tok"])[tokens]
    n = len(tokens)
    freqs = 1.0 / (THETA ** (torch.arange(0, hs, 2).double() / hs))
    ang = torch.outer(torch.arange(n).double(), freqs)
    cis = torch.polar(torch.ones_like(ang), ang)

    def rot(z):
        zc = torch.view_as_complex(z.reshape(*z.shape[:-1], -1, 2).contiguous())
        return torch.view_as_real(zc * cis[:, None, :]).flatten(-2)

    mask = torch.full((n, n), -np.inf).triu(1)
    for lw in W["layers"]:
        h = rms_norm(x, t(lw["attn_norm"]))
        q = rot((h @ t(lw["wq"]).T).view(n, H, hs))
        k = rot((h @ t(lw["wk"]).T).view(n, KV, hs)).repeat_interleave(H // KV, 1)
        v = (h @ t(lw["wv"]).T).view(n, KV, hs).repeat_interleave(H // KV, 1)
        a = torch.softmax(torch.einsum("qhd,khd->hqk", q, k) / np.sqrt(hs) + mask, -1)
        x = x + torch.einsum("hqk,khd->qhd", a, v).reshape(n, d) @ t(lw["wo"]).T
        h = rms_norm(x, t(lw["ffn_norm"]))
        x = x + (torch.nn.functional.silu(h @ t(lw["w1"]).T) * (h @ t(lw["w3"]).T)) @ t(lw["w2"]).T
    return rms_norm(x, t(W["norm"])) @ t(W["cls"]).T


# ---------------------------------------------------------------- writers

def write_llama2c(path, W):
    """llama2.c legacy (v0) export with an unshared classifier (negative vocab)."""
    d, h, L, H, KV, V, S = (CFG[k] for k in ("dim", "hidden", "layers", "heads", "kv_heads", "vocab", "seq_len"))
    hs = d // H
    f32 = lambda a: np.asarray(a, dtype=np.float32).tobytes()
    out = [struct.pack("<7i", d, h, L, H, KV, -V, S), f32(W["tok"])]
    for name in ("attn_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w1", "w2", "w3"):
        out += [f32(lw[name]) for lw in W["layers"]]
    out.append(f32(W["norm"]))
    pos = np.arange(S)[:, None] * (1.0 / THETA ** (np.arange(0, hs, 2) / hs))[None, :]
    out += [f32(np.cos(pos)), f32(np.sin(pos))]  # the unused freq_cis tables
    out.append(f32(W["cls"]))
    with open(path, "wb") as fp:
        fp.write(b"".join(out))


GGUF_U32, GGUF_F32, GGUF_STRING, GGUF_ARRAY = 4, 6, 8, 9


def gguf_str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_kv(key, typ, value):
    out = gguf_str(key) + struct.pack("<I", typ)
    if typ == GGUF_U32:
        return out + struct.pack("<I", value)
    if typ == GGUF_F32:
        return out + struct.pack("<f", value)
    if typ == GGUF_STRING:
        return out + gguf_str(value)
    etype, items = value
    out += struct.pack("<IQ", etype, len(items))
    for it in items:
        out += gguf_str(it) if etype == GGUF_STRING else struct.pack("<f", it)
    return out


def write_gguf(path, W, vocab_pieces, vocab_scores):
    """What llama.cpp's convert_hf_to_gguf.py writes for the HF weights (outtype f16)."""
    d, H, KV = CFG["dim"], CFG["heads"], CFG["kv_heads"]
    kvs = [
        gguf_kv("general.architecture", GGUF_STRING, "llama"),
        gguf_kv("general.name", GGUF_STRING, "vtc tiny random llama"),
        gguf_kv("llama.context_length", GGUF_U32, CFG["seq_len"]),
        gguf_kv("llama.embedding_length", GGUF_U32, d),
        gguf_kv("llama.block_count", GGUF_U32, CFG["layers"]),
        gguf_kv("llama.feed_forward_length", GGUF_U32, CFG["hidden"]),
        gguf_kv("llama.rope.dimension_count", GGUF_U32, d // H),
        gguf_kv("llama.attention.head_count", GGUF_U32, H),
        gguf_kv("llama.attention.head_count_kv", GGUF_U32, KV),
        gguf_kv("llama.attention.layer_norm_rms_epsilon", GGUF_F32, EPS),
        gguf_kv("llama.rope.freq_base", GGUF_F32, THETA),
        gguf_kv("tokenizer.ggml.model", GGUF_STRING, "llama"),
        gguf_kv("tokenizer.ggml.tokens", GGUF_ARRAY, (GGUF_STRING, vocab_pieces)),
        gguf_kv("tokenizer.ggml.scores", GGUF_ARRAY, (GGUF_F32, vocab_scores)),
        gguf_kv("tokenizer.ggml.bos_token_id", GGUF_U32, 1),
        gguf_kv("tokenizer.ggml.eos_token_id", GGUF_U32, 2),
    ]
    tensors = [("token_embd.weight", W["tok"], 1), ("output_norm.weight", W["norm"], 0),
               ("output.weight", W["cls"], 1)]
    for i, lw in enumerate(W["layers"]):
        q_hf, k_hf = hf_permute(lw["wq"], H), hf_permute(lw["wk"], KV)
        q, k = gguf_permute(q_hf, H, H), gguf_permute(k_hf, H, KV)
        assert np.array_equal(q, lw["wq"]) and np.array_equal(k, lw["wk"])  # GGUF = Meta layout
        p = f"blk.{i}."
        tensors += [(p + "attn_norm.weight", lw["attn_norm"], 0), (p + "attn_q.weight", q, 1),
                    (p + "attn_k.weight", k, 1), (p + "attn_v.weight", lw["wv"], 1),
                    (p + "attn_output.weight", lw["wo"], 1), (p + "ffn_norm.weight", lw["ffn_norm"], 0),
                    (p + "ffn_gate.weight", lw["w1"], 1), (p + "ffn_up.weight", lw["w3"], 1),
                    (p + "ffn_down.weight", lw["w2"], 1)]
    infos, blobs, off = [], [], 0
    for name, a, is_f16 in tensors:
        data = np.asarray(a, dtype=np.float16 if is_f16 else np.float32).tobytes()
        ne = list(reversed(a.shape))  # ggml order: fastest dimension first
        infos.append(gguf_str(name) + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}Q", *ne) +
                     struct.pack("<IQ", 1 if is_f16 else 0, off))
        pad = (-len(data)) % 32
        blobs.append(data + b"\0" * pad)
        off += len(data) + pad
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs) + b"".join(infos)
    head += b"\0" * ((-len(head)) % 32)
    with open(path, "wb") as fp:
        fp.write(head + b"".join(blobs))


def tiny_vocab():
    """64 SentencePiece-style pieces (U+2581 = space) and a tokenizer.bin twin."""
    pieces = ["<unk>", "<s>", "</s>", "\u2581"] + list("abcdefghijklmnopqrstuvwxyz") + \
        ["\u2581a", "\u2581b", "\u2581c", "ab", "ba", "abc", "\u2581ab", "\u2581abc", "he", "\u2581he",
         "ll", "llo", "hello", "\u2581hello", "or", "wor", "world", "\u2581world", "\u2581the", "th",
         "the", "in", "ing", "\u2581in", ".", ",", "\u2581d", "do", "og", "dog", "\u2581dog", "\u2581do",
         "ca", "cat"]
    assert len(pieces) == CFG["vocab"], len(pieces)
    scores = [0.0, 0.0, 0.0] + [-float(i) for i in range(len(pieces) - 3)]
    return pieces, scores


def write_tokenizer_bin(path, pieces, scores):
    out = [struct.pack("<i", max(len(p.encode()) for p in pieces))]
    for p, s in zip(pieces, scores):
        b = p.replace("\u2581", " ").encode()
        out.append(struct.pack("<fi", s, len(b)) + b)
    with open(path, "wb") as fp:
        fp.write(b"".join(out))


# ---------------------------------------------------------------- cases

def put(out, name, values, fmt="%.10g"):
    values = np.asarray(values).ravel()
    out.append(f"{name} {len(values)}\n" + " ".join(fmt % v for v in values) + "\n")


DECODE = [25, 30, 7, 7, 7, 12]  # tokens fed after the mixed prompt, at positions 23, 24, ...
VIS = list(range(3, 9))


def head_mean_row(probs, keys, query_index, span):
    """Head-mean attention of one query over the slots of span (0 where not attended)."""
    p = probs.mean(1)[query_index]
    col = {s: i for i, s in enumerate(keys)}
    return np.array([float(p[col[s]]) if s in col else 0.0 for s in span])


def top(row, k):
    """Indices of the k largest, ties to the lower index (lm/policies.c's rule)."""
    return sorted(int(i) for i in np.argsort(-row, kind="stable")[:k])


def policy_fastv(ref, x, mpos, out, K=1, R=0.5):
    """FastV: layer K-1's last-row attention over the image span, head mean; the top
    round(n(1-R)) stay for layers >= K, with their positions; decode steps see the
    pruned cache in those layers."""
    n_keep = int(np.floor(len(VIS) * (1 - R) + 0.5))
    st = {}

    def hook(l, rows, slots, probs, keys):
        if l == K - 1 and "kept" not in st:
            st["kept"] = [VIS[i] for i in top(head_mean_row(probs, keys, len(rows) - 1, VIS), n_keep)]

    rows = lambda l: list(range(12)) if l < K else [r for r in range(12) if r not in VIS or r in st["kept"]]
    ref.reset()
    h = ref.forward(x, mpos, rows_at=rows, hook=hook)
    logits = [ref.logits(h[11:12])]
    for i, t in enumerate(DECODE):
        logits.append(ref.logits(ref.forward(ref.tok[[t]], torch.tensor([23 + i]))))
    put(out, "policy_fastv_kept", st["kept"], "%d")
    put(out, "policy_fastv_logits", torch.cat(logits).numpy())


def policy_todre2(ref, x, mpos, out, name, layer, tau):
    """ToDRE stage 2: at `layer`, alpha_tv = mean over the text rows after the image of
    their head-mean attention mass on visual keys, alpha_vt = mean over the visual rows
    of their mass on text keys; both < tau: every visual token leaves layers > layer."""
    st = {}

    def hook(l, rows, slots, probs, keys):
        if l != layer:
            return
        p = probs.mean(1)
        col = {s: i for i, s in enumerate(keys)}
        vis_cols = [col[s] for s in VIS if s in col]
        txt_cols = [col[s] for s in keys if s not in VIS]
        r = {s: i for i, s in enumerate(slots)}
        st["tv"] = float(p[[r[s] for s in (9, 10, 11)]][:, vis_cols].sum(1).mean())
        st["vt"] = float(p[[r[s] for s in VIS]][:, txt_cols].sum(1).mean())
        st["drop"] = st["tv"] < tau and st["vt"] < tau

    rows = lambda l: list(range(12)) if l <= layer or not st["drop"] else [r for r in range(12) if r not in VIS]
    ref.reset()
    h = ref.forward(x, mpos, rows_at=rows, hook=hook)
    logits = [ref.logits(h[11:12])]
    for i, t in enumerate(DECODE[:2]):
        logits.append(ref.logits(ref.forward(ref.tok[[t]], torch.tensor([23 + i]))))
    put(out, f"policy_{name}_alphas", [st["tv"], st["vt"], 1.0 if st["drop"] else 0.0])
    put(out, f"policy_{name}_logits", torch.cat(logits).numpy())


def policy_dycoke(ref, x, mpos, out, Ld=1, P=0.5, SIM=0.9):
    """DyCoke-KV: no pruning in the prefill; at each decode step the new token's
    head-mean attention after layer Ld-1 over the image span is compared (cosine)
    with the previous step's; on the first step or below SIM the top int(n(1-P))
    are selected again; layers >= Ld attend only to the current selection (the
    cache stays whole). The previous vector is updated every step."""
    n_keep = int(len(VIS) * (1 - P))
    st = {"prev": None, "kept": None}
    sims, kept_log = [], []

    def hook(l, rows, slots, probs, keys):
        if l != Ld - 1:
            return
        row = head_mean_row(probs, keys, 0, VIS)
        sim = 0.0 if st["prev"] is None else float(
            torch.nn.functional.cosine_similarity(torch.tensor(row), torch.tensor(st["prev"]), dim=0))
        if st["prev"] is None or sim < SIM:
            st["kept"] = [VIS[i] for i in top(row, n_keep)]
        st["prev"] = row
        sims.append(sim)
        kept_log.extend(st["kept"])

    ref.reset()
    ref.forward(x, mpos)
    logits = []
    for i, t in enumerate(DECODE):
        ok = lambda l: (lambda s: True) if l < Ld else (lambda s: s not in VIS or s in st["kept"])
        h = ref.forward(ref.tok[[t]], torch.tensor([23 + i]), key_ok_at=ok, hook=hook)
        logits.append(ref.logits(h))
    put(out, "policy_dycoke_similarity", sims)
    put(out, "policy_dycoke_kept", kept_log, "%d")
    put(out, "policy_dycoke_logits", torch.cat(logits).numpy())
    return sims


def policy_cases(ref, x, mpos, out):
    policy_fastv(ref, x, mpos, out)
    policy_todre2(ref, x, mpos, out, "todre2_keep", 0, 0.1)
    policy_todre2(ref, x, mpos, out, "todre2_drop", 0, 0.99)
    sims = policy_dycoke(ref, x, mpos, out)
    print("dycoke similarities", ["%.4f" % s for s in sims])


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/lm"
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(SEED)
    W = make_weights(rng)
    write_llama2c(os.path.join(outdir, "tiny.bin"), W)
    pieces, scores = tiny_vocab()
    write_gguf(os.path.join(outdir, "tiny.gguf"), W, pieces, scores)
    write_tokenizer_bin(os.path.join(outdir, "tiny_tok.bin"), pieces, scores)
    ref = Ref(W)
    d = CFG["dim"]
    out = []

    # plain: 12 tokens at 0..11; every row's logits; the Meta formulation agrees.
    tokens = [1, 5, 9, 33, 17, 2, 60, 41, 8, 8, 23, 50]
    pos = torch.arange(len(tokens))
    ref.reset()
    h = ref.forward(ref.tok[tokens], pos)
    logits = ref.logits(h)
    assert (logits - meta_logits(W, tokens)).abs().max() < 1e-10
    put(out, "plain_tokens", tokens, "%d")
    put(out, "plain_logits", logits.numpy())

    # mixed: 3 tokens, 6 embedding rows, 3 tokens, gapped positions.
    mtok = [1, 14, 7, -1, -1, -1, -1, -1, -1, 30, 44, 12]
    mpos = torch.tensor([0, 1, 2, 5, 6, 7, 8, 9, 10, 20, 21, 22])
    emb = np.asarray(rng.standard_normal((6, d)), dtype=np.float32).astype(np.float64)
    x = torch.stack([ref.tok[t] if t >= 0 else torch.tensor(emb[0]) for t in mtok])
    x[3:9] = torch.tensor(emb)
    put(out, "mixed_tokens", mtok, "%d")
    put(out, "mixed_pos", mpos.numpy(), "%d")
    put(out, "mixed_embeds", emb, "%.9g")
    ref.reset()
    h = ref.forward(x, mpos)
    put(out, "mixed_logits", ref.logits(h).numpy())

    # share (ToDRE stage 2 figures) at layer 1, and FastV's row at layer 0.
    vis = range(3, 9)
    text_after, text_before = [9, 10, 11], [0, 1, 2]
    figs = {}

    def share_hook(l, rows, slots, probs, keys):
        p = probs.mean(1)  # head mean [n, nk]
        kidx = {s: i for i, s in enumerate(keys)}
        vis_cols = [kidx[s] for s in vis if s in kidx]
        txt_cols = [kidx[s] for s in text_before + text_after if s in kidx]
        r = {s: i for i, s in enumerate(slots)}
        if l == 1:
            figs["t2v"] = float(p[[r[s] for s in text_after]][:, vis_cols].sum(1).mean())
            figs["v2t"] = float(p[[r[s] for s in vis]][:, txt_cols].sum(1).mean())
        if l == 0:
            figs["row0"] = p[r[11], [kidx[s] for s in vis]].numpy()

    ref.reset()
    ref.forward(x, mpos, hook=share_hook)
    put(out, "share_t2v_layer1", [figs["t2v"]])
    put(out, "share_v2t_layer1", [figs["v2t"]])
    put(out, "fastv_row_layer0", figs["row0"])

    # fastv: K = 1, keep the top 3 of 6 visual rows by layer 0's last-row attention.
    row = figs["row0"]
    kept = sorted(3 + int(i) for i in np.argsort(-row, kind="stable")[:3])
    keep_rows = [r for r in range(12) if r not in vis or r in kept]
    ref.reset()
    h = ref.forward(x, mpos, rows_at=lambda l: list(range(12)) if l < 1 else keep_rows)
    put(out, "fastv_kept", kept, "%d")
    put(out, "fastv_logits", ref.logits(h[11:12]).numpy())
    h = ref.forward(ref.tok[[25]], torch.tensor([23]))  # decode: dropped slots have no layer-1 K/V
    put(out, "fastv_decode_logits", ref.logits(h).numpy())

    # dycoke: full prefill, then a decode step whose layers >= 1 see visual slots {3, 6, 8} only.
    dy_keep = [3, 6, 8]
    ref.reset()
    ref.forward(x, mpos)
    h = ref.forward(ref.tok[[25]], torch.tensor([23]),
                    key_ok_at=lambda l: (lambda s: True) if l < 1 else (lambda s: s not in vis or s in dy_keep))
    put(out, "dycoke_keep", dy_keep, "%d")
    put(out, "dycoke_decode_logits", ref.logits(h).numpy())

    policy_cases(ref, x, mpos, out)
    with open(os.path.join(outdir, "tiny_expected.txt"), "w") as fp:
        fp.write("# tools/ref_llama.py: float64 PyTorch (HF-style) reference for tiny.bin / tiny.gguf\n")
        fp.write("".join(out))
    print(f"wrote {outdir}/tiny.bin, tiny.gguf, tiny_tok.bin, tiny_expected.txt; "
          f"fastv kept {kept}, t2v {figs['t2v']:.4f}, v2t {figs['v2t']:.4f}")


if __name__ == "__main__":
    main()
