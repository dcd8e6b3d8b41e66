#!/usr/bin/python3
"""Trains vtc's small VLM on the scenes of tools/quality_data.py and exports it
in the formats vtc loads.

    /usr/bin/python3 tools/quality_train.py --out DIR
        [--vision-minutes 30 | --vision-steps N] [--vision-items 1-5] [--vision-pos random]
        [--minutes 100 | --steps N]
        [--freeze-vision] [--init-vision DIR0 | --init DIR1] [--what 2 | --all-questions]
        [--clips SHARE [--clip-change W] [--clip-subset SHARE] [--clip-reuse R]]
        [--bg-collapse W] [--seed 1]

The shipped samples/vlm comes from three commands, about two hours in all
(README, "Quality"): stage 0 alone (--minutes 0), then stage 1 from its vision
tower (--init-vision), frozen, asking each scene every question it supports
(--all-questions), half its steps on token subsets (--subset 0.5), with the
grounding loss (--ground 0.3), for a fixed 4500 steps; then the same again
from stage 1's exported model (--init) with 80% of the steps on clips (--clips
0.8), each clip used about four times (--clip-reuse 4): 8-frame clips of
quality_data.make_clip, each frame's tokens pooled 3 x 3 (LLaVA-OneVision's
video path) to 8 x 8, 512 tokens a clip, asked which item
changed first and last and what appeared, vanished and moved, with the
per-token change loss (--clip-change 1, see forward_clip), every clip
step on all 512 tokens at their own positions (--clip-subset 0), and the
background loss on the image steps (--bg-collapse 16, below).

The model (LLaVA-1.5's shape, scaled down):
  vision  CLIP ViT, patch 14 at 336 px (24 x 24 = 576 tokens + CLS), hidden 128,
          4 pre-LN blocks, 4 heads, quick_gelu; features from the penultimate
          block (vision_feature_layer -2) as LLaVA takes them
  projector  LLaVA's MLP: linear, GELU, linear (128 -> 128)
  language   Llama: dim 128, 4 layers, 4 heads, SwiGLU 384, RMSNorm, RoPE on
          adjacent pairs (llama2.c's layout), a word-level vocabulary
Sequence: [BOS, the visual tokens, the question's tokens], consecutive positions,
the answer predicted at the last question token: the prefill `vtc eval` runs.

Stage 0 (--vision-minutes) trains the vision tower alone on dense per-patch
item labels and the CLS head (see vision_stage); --vision-items LO-HI sets how
many items its training scenes hold (default 1-5, as held-out scenes have), and
--vision-pos sincos starts the position rows from a 2D sine-cosine table
instead of small random values. Stage 1 (--minutes) trains
everything, or with --freeze-vision the projector and language model only.
Stage 1's signals: the answer (cross-entropy over the vocabulary); alignment of
each visual token's post-projector embedding with the language model's word
embeddings (its dot products with the item words and "nothing" classify the
item under it, those with the cell words its cell; --cell-align items keeps
the cell words to the tokens on items, tried so that background tokens would
sit together for a diversity-based selection: they stayed apart by cell and
`where` fell, README, Quality), LLaVA's stage-1 idea of putting visual
tokens where the words are; the final CLS token's multi-label
"which items are present" (a linear head, training only), which gives the CLS
token attention worth pruning by; and grounding (--ground): one attention head
of layers 0 and 1 is told where to look, from the question's key word and from
its last token to the visual tokens of the cell or item the question names
(see forward). Without it the decoder found that lookup from the answers alone
only after ~4000 steps (held-out accuracy 0.46-0.57 from step 600 to 3400,
samples/vlm/train_log.tsv of commit d7ac6ef); with it, in ~600. With
--bg-collapse W the image steps add W times the mean cosine distance between
each scene's background tokens after the projector (1 - |the mean of their
unit vectors|^2), which draws them together. Without it the answers and the
cell alignment spread the background out by cell, and DivPrune, whose max-min
selection compares these embeddings by cosine, spread its picks over the
cells with them rather than taking the items (README, Quality).
Augmentation: in a share of the steps (--subset) the LM sees a random subset
(5-100%) of the visual tokens, compacted, so it reads an item's place from the
features (the ViT's position embeddings) rather than from the token's index in
the sequence — which is what survives pruning. --clip-subset sets that share
for the clip steps apart (default: --subset's): a clip's frames show the same
places, and at their own positions the same place in two frames is a fixed
distance apart in the sequence, which RoPE lets the decoder find; compacted,
it is not. With --clip-subset 0 the clips went from 50.8% to 61.7% (commit
203f7e1), and renumbered pruned clips lose more (README, Quality, Targets).
With the tower frozen, a clip's vision features do not change, so --clip-reuse R
keeps the clips of past steps in a replay buffer (ClipReplay) and runs the
tower on about 1/R of each step's clips, drawing the rest from it: each clip is
used about R times, and a clip step costs less than half as much at R = 4.
With it a 7000-step stage 2 ran 5655 clip steps in the 30 minutes where commit
203f7e1's ran 1716, and the clips went from 61.7% to 88.1% (commit 4046c69);
an 8000-step one (38 minutes, commit 23c848e) reached 91.5%, and the shipped
one, the same with --bg-collapse 16 (43 minutes, the machine slower that
session), 90.3%.

Several questions of one scene share one vision pass: question i's tokens see
[BOS, visual] and their own question (a block mask), all at the positions they
would have alone, which is the same function as separate sequences.

Writes OUT/model.safetensors (float16, llava-hf names: vision_tower.vision_model.*,
multi_modal_projector.*), OUT/config.json, OUT/preprocessor_config.json,
OUT/lm.bin (llama2.c format), OUT/tokenizer.bin (llama2.c format) and
OUT/train_log.tsv (step, minutes, loss, answer loss, batch accuracy, held-out
accuracy; stage 0's rows are "v<step>", their last column the held-out share of
item patches the patch head names).
Matrix products run in bfloat16 under torch.autocast (oneDNN; AMX where the
CPU has it), weights and optimiser state in float32; the exported vision and
projector weights are float16, lm.bin float32, and vtc computes in float32.
The budgets are wall-clock (--vision-minutes, --minutes), so the number of steps
depends on the machine and its load, and the learning-rate schedule follows the
clock: two runs of one command differ. --vision-steps and --steps fix the step
counts (and make the schedule follow them) instead, which makes a run
repeatable on one machine.
PyTorch frees and maps its large buffers anew each step; where page faults are
dear (a virtual machine) jemalloc told to keep them is 1.6x faster, with the
same losses step for step (Debian libjemalloc2):
    LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 \
        /usr/bin/python3 tools/quality_train.py ...
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quality_data as qd  # noqa: E402
from vtc_ref import read_safetensors, write_safetensors  # noqa: E402

MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]

VIS = dict(hidden=128, layers=4, heads=4, mlp=512, patch=14, image=336)
LM = dict(dim=128, hidden=384, layers=4, heads=4, kv_heads=4, seq_len=1024)
Q_SLOTS = 7  # tokens per question slot (the longest question has 6)
CLIP_POOL = 3  # clips: each frame's 24 x 24 tokens pooled to 8 x 8 (8 frames -> 512 tokens)
_G = VIS["image"] // VIS["patch"]
# change labels (make_clip_batch): "unchanged" is most of a clip's tokens, so it weighs less
CHANGE_WEIGHT = torch.tensor([1.0] + [5.0] * (2 * len(qd.CLASSES)))
# the 3 x 3 layout cell (0-8) of each of the 24 x 24 visual tokens, in raster order
TOKEN_CELL = torch.from_numpy(qd.token_cells(_G))


# ---------------------------------------------------------------- vocabulary

def vocab():
    """llama2.c pieces: <unk> <s> </s>, the 256 byte tokens, the printable ASCII
    characters, then every prefix (2 characters and longer) of each space-led
    word. Scores rise with length, so run.c's merge loop (best-scoring adjacent
    pair first) builds each word left to right into one token."""
    pieces = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    scores = [0.0] * len(pieces)
    seen = set()
    for c in map(chr, range(32, 127)):
        pieces.append(c), scores.append(0.0), seen.add(c)
    for w in qd.WORDS:
        word = " " + w
        for n in range(2, len(word) + 1):
            p = word[:n]
            if p not in seen:
                seen.add(p), pieces.append(p), scores.append(float(n))
    ids = {p: i for i, p in enumerate(pieces)}
    return pieces, scores, ids


def write_tokenizer(path, pieces, scores):
    out = [struct.pack("<i", max(len(p.encode()) for p in pieces))]
    for p, s in zip(pieces, scores):
        b = p.encode()
        out.append(struct.pack("<fi", s, len(b)) + b)
    with open(path, "wb") as f:
        f.write(b"".join(out))


def encode(text, ids):
    return [ids[" " + w] for w in text.split()]


# ---------------------------------------------------------------- model

def attend(q, k, v, mask=None, rows=None):
    """softmax(q k^T / sqrt(hd) + mask) v for (B, H, T, hd) inputs, the mask
    (T, T, additive) fused into the product by baddbmm. Under autocast (training)
    all of it runs in bfloat16: autocast would run the softmax in float32,
    converting every (T, T) score tensor there and back, which was most of a
    step's time, and bfloat16 attention is the usual mixed-precision trade (vtc
    computes in float32). Otherwise in the inputs' dtype (quality_ref.py's float64).
    With rows (B, R) it also returns head 0's attention rows at those queries,
    (B, R, T), for the grounding loss."""
    B, H, T, hd = q.shape
    dt = torch.bfloat16 if torch.is_autocast_cpu_enabled() else q.dtype
    with torch.autocast("cpu", enabled=False):
        q, k, v = (t.to(dt).reshape(B * H, T, hd) for t in (q, k, v))
        if mask is None:
            s = torch.bmm(q * hd ** -0.5, k.transpose(1, 2))
        else:
            s = torch.baddbmm(mask.to(dt).expand(B * H, T, T), q, k.transpose(1, 2), alpha=hd ** -0.5)
        p = torch.softmax(s, -1)
        out = torch.bmm(p, v).view(B, H, T, hd)
        if rows is None:
            return out
        return out, torch.gather(p.view(B, H, T, T)[:, 0], 1, rows[:, :, None].expand(-1, -1, T))


class Block(nn.Module):
    def __init__(self, d, h, m):
        super().__init__()
        self.h = h
        self.ln1, self.ln2 = nn.LayerNorm(d, eps=1e-5), nn.LayerNorm(d, eps=1e-5)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(d, m), nn.Linear(m, d)

    def forward(self, x):
        B, N, D = x.shape
        hd = D // self.h
        y = self.ln1(x)
        q = self.q(y).view(B, N, self.h, hd).transpose(1, 2)
        k = self.k(y).view(B, N, self.h, hd).transpose(1, 2)
        v = self.v(y).view(B, N, self.h, hd).transpose(1, 2)
        x = x + self.o(attend(q, k, v).transpose(1, 2).reshape(B, N, D))
        y = self.fc1(self.ln2(x))
        return x + self.fc2(y * torch.sigmoid(1.702 * y))  # quick_gelu


class Vision(nn.Module):
    def __init__(self, c=VIS):
        super().__init__()
        d, p, n = c["hidden"], c["patch"], (c["image"] // c["patch"]) ** 2
        self.patch = nn.Conv2d(3, d, p, p, bias=False)
        self.cls = nn.Parameter(torch.randn(d) * 0.02)
        self.pos = nn.Parameter(torch.randn(n + 1, d) * 0.02)
        self.pre = nn.LayerNorm(d, eps=1e-5)
        self.blocks = nn.ModuleList(Block(d, c["heads"], c["mlp"]) for _ in range(c["layers"]))
        self.post = nn.LayerNorm(d, eps=1e-5)

    def forward(self, px):
        x = self.patch(px).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], 1, -1), x], 1) + self.pos
        x = self.pre(x)
        for i, b in enumerate(self.blocks):
            x = b(x)
            if i == len(self.blocks) - 2:
                feat = x  # vision_feature_layer -2: the penultimate block's output, no post-LN
        return feat, self.post(x[:, 0])


def sincos_positions(d, g):
    """(g*g + 1, d) fixed 2D sine-cosine position table (MAE's): a quarter of
    the channels each sin(y w), cos(y w), sin(x w), cos(x w) over d/4
    frequencies w; the CLS row zero. A starting point that already tells
    neighbouring patches apart, which random rows must learn first."""
    w = 1.0 / 10000 ** (torch.arange(d // 4, dtype=torch.float64) / (d // 4))
    y, x = torch.meshgrid(torch.arange(g, dtype=torch.float64), torch.arange(g, dtype=torch.float64), indexing="ij")
    y, x = y.reshape(-1, 1) * w, x.reshape(-1, 1) * w
    table = torch.cat([torch.sin(y), torch.cos(y), torch.sin(x), torch.cos(x)], 1)
    return torch.cat([torch.zeros(1, d, dtype=torch.float64), table]).float()


class Projector(nn.Module):
    def __init__(self, din, dout):
        super().__init__()
        self.l1, self.l2 = nn.Linear(din, dout), nn.Linear(dout, dout)

    def forward(self, x):
        return self.l2(F.gelu(self.l1(x)))


def rope(x, pos):
    """x (B, H, T, hd), adjacent pairs (2i, 2i+1) rotated by pos * 10000^(-2i/hd) (llama2.c)."""
    hd = x.shape[-1]
    freq = 1.0 / 10000.0 ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd)
    ang = pos[:, None].float() * freq[None, :]  # (T, hd/2)
    c, s = torch.cos(ang), torch.sin(ang)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x0 * c - x1 * s, x0 * s + x1 * c], -1).flatten(-2)


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.w


class LMBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, h = c["dim"], c["hidden"]
        self.h = c["heads"]
        self.n1, self.n2 = RMSNorm(d), RMSNorm(d)
        self.wq, self.wk, self.wv, self.wo = (nn.Linear(d, d, bias=False) for _ in range(4))
        self.w1, self.w3 = nn.Linear(d, h, bias=False), nn.Linear(d, h, bias=False)
        self.w2 = nn.Linear(h, d, bias=False)

    def forward(self, x, pos, mask, rows=None):
        B, T, D = x.shape
        hd = D // self.h
        y = self.n1(x)
        q = rope(self.wq(y).view(B, T, self.h, hd).transpose(1, 2), pos)
        k = rope(self.wk(y).view(B, T, self.h, hd).transpose(1, 2), pos)
        v = self.wv(y).view(B, T, self.h, hd).transpose(1, 2)
        a, probe = (attend(q, k, v, mask), None) if rows is None else attend(q, k, v, mask, rows)
        x = x + self.wo(a.transpose(1, 2).reshape(B, T, D))
        y = self.n2(x)
        return x + self.w2(F.silu(self.w1(y)) * self.w3(y)), probe


class LanguageModel(nn.Module):
    def __init__(self, vocab_size, c=LM):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, c["dim"])
        nn.init.normal_(self.tok.weight, std=0.02)
        self.blocks = nn.ModuleList(LMBlock(c) for _ in range(c["layers"]))
        self.norm = RMSNorm(c["dim"])

    def forward(self, x, pos, mask, rows=(), hidden=0):
        """-> logits (B, T, V); with rows, a list of (B, R) query indices per
        layer from layer 0 on, or hidden n, -> (logits, each such layer's
        head-0 attention at those rows (B, R, T), the residual stream after
        each of the first n layers (B, T, D))."""
        probes, states = [], []
        for i, b in enumerate(self.blocks):
            x, p = b(x, pos, mask, rows[i] if i < len(rows) else None)
            if p is not None:
                probes.append(p)
            if i < hidden:
                states.append(x)
        logits = self.norm(x) @ self.tok.weight.t()  # shared classifier, as llama2.c's positive vocab_size
        return (logits, probes, states) if rows or hidden else logits


class VLM(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.vision = Vision()
        self.proj = Projector(VIS["hidden"], LM["dim"])
        self.lm = LanguageModel(vocab_size)
        self.cls_head = nn.Linear(VIS["hidden"], len(qd.CLASSES))       # training only
        self.patch_head = nn.Linear(VIS["hidden"], len(qd.CLASSES) + 1)  # training only (stage 0)
        # training only (--clip-change): each clip token's change since the first frame, read from the
        # decoder's residual stream after layers 0 and 1 (made last, so the weights above start as before)
        self.change_heads = nn.ModuleList(nn.Linear(LM["dim"], 1 + 2 * len(qd.CLASSES)) for _ in range(2))


# ---------------------------------------------------------------- batches

def pixels(imgs):
    x = torch.from_numpy(np.stack(imgs)).float().permute(0, 3, 1, 2) / 255.0
    return (x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]


def pad(questions, n):
    """A scene's questions repeated cyclically to n (every scene of a batch has n slots)."""
    return (questions * n)[:n]


def text_block(questions, ids):
    """n questions -> tokens (n * Q_SLOTS), last-token slot per question,
    answers, slot validity, and each question's key word: its slot (the word
    before "?" in every template) and what it names, a cell (0-8) or an item
    class (9 + class index)."""
    n = len(questions)
    toks = np.zeros((n, Q_SLOTS), np.int64)
    valid = np.zeros((n, Q_SLOTS), bool)
    last, ans = np.zeros(n, np.int64), np.zeros(n, np.int64)
    key, names = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for i, (kind, q, a) in enumerate(questions):
        t = encode(q, ids)
        toks[i, :len(t)], valid[i, :len(t)] = t, True
        last[i], ans[i] = i * Q_SLOTS + len(t) - 1, ids[" " + a]
        key[i] = i * Q_SLOTS + len(t) - 2
        word = q.split()[-2]
        if kind == "order" or kind in qd.CHANGES:
            names[i] = -1  # a clip's question: no one region to look at
        else:
            names[i] = qd.CELLS.index(word) if kind == "what" else \
                qd.GRID * qd.GRID + next(j for j, (_, c) in enumerate(qd.CLASSES) if word in (c, qd.PLURAL[c]))
    return toks.reshape(-1), valid.reshape(-1), last, ans, key, names


def seq_mask(K, n_q):
    """Additive mask (T, T) and positions (T) for [BOS, K visual, n_q question
    slots]. A question's padding slots come after its tokens, so causality
    already keeps them out of every real token's view: one mask fits a batch."""
    P = 1 + K
    T = P + n_q * Q_SLOTS
    allow = torch.zeros(T, T, dtype=torch.bool)
    allow[:P, :P] = torch.tril(torch.ones(P, P, dtype=torch.bool))
    allow[P:, :P] = True
    slot_q = torch.arange(n_q * Q_SLOTS) // Q_SLOTS
    same = slot_q[:, None] == slot_q[None, :]
    allow[P:, P:] = same & torch.tril(torch.ones(n_q * Q_SLOTS, n_q * Q_SLOTS, dtype=torch.bool))
    mask = torch.zeros(T, T).masked_fill(~allow, float("-inf"))
    pos = torch.cat([torch.arange(P), P + torch.arange(n_q * Q_SLOTS) % Q_SLOTS])
    return mask, pos


def make_batch(rng, assets, n, n_what=2, every=False, n_items=(1, 5)):
    """n training scenes: images, patch labels, present items, and questions:
    n_what "what", one "is", one "count", a "where" when some item appears once
    (quality_data.make_questions, as held-out scenes are asked), or with every
    each question the scene supports (quality_data.all_questions); cycled to
    fill the same number of slots per scene."""
    imgs, labels, present, qs = [], [], [], []
    for _ in range(n):
        seed = int(rng.integers(0, qd.HELD_OUT_SEED))
        srng = qd.scene_rng(seed)
        img, objects, lab = qd.make_scene(srng, assets, n_items)
        if every:
            q = pad(qd.all_questions(objects), qd.ALL_QUESTIONS)
        else:
            q = pad(qd.make_questions(srng, objects, n_what), n_what + 3)
        imgs.append(img), labels.append(lab.reshape(-1))
        pr = np.zeros(len(qd.CLASSES), np.float32)
        for k, _ in objects:
            pr[k] = 1
        present.append(pr), qs.append(q)
    return imgs, np.stack(labels), np.stack(present), qs


def make_clip_batch(rng, assets, n, on_changes=False):
    """n training clips: frames (n, 8, 336, 336, 3), every question each
    supports (quality_data.clip_questions), cycled to CLIP_QUESTIONS slots,
    for each question the pooled tokens (n, CLIP_QUESTIONS, 8 * 64) its
    grounding looks at (none for a "nothing" answer), and each pooled token's
    change label (n, 8 * 64): 0 where its place shows what it showed in the
    first frame, 1 + k where item class k is there now and was not then
    (appeared, or moved in), 1 + 6 + k where k was there then and is not now
    (vanished, or moved away). The grounding targets are the tokens that show
    the item asked about, in the frames that show it (a moved item before and
    after), or with on_changes the tokens its change labels (the frames from
    its change on, where the change can be seen: a token cannot see later
    frames, so an item's tokens before it vanishes do not know it will)."""
    frames, qs, targets, labels = [], [], [], []
    g = _G // CLIP_POOL
    for _ in range(n):
        seed = int(rng.integers(0, qd.HELD_OUT_SEED))
        f, events, masks = qd.make_clip(qd.scene_rng(seed), assets)
        q = pad(qd.clip_questions(events), qd.CLIP_QUESTIONS)
        # a pooled token shows the item when any of its 3 x 3 patches does
        pooled = [m.reshape(len(m), g, CLIP_POOL, g, CLIP_POOL).any((2, 4)).reshape(len(m), -1) for m in masks]
        lab = np.zeros(pooled[0].shape, np.int64)
        changed = []
        for (_, _, k), p in zip(events, pooled):
            came, went = p & ~p[:1], p[:1] & ~p
            lab[came], lab[went] = 1 + k, 1 + len(qd.CLASSES) + k
            changed.append((came | went).reshape(-1))
        t = np.zeros((qd.CLIP_QUESTIONS, pooled[0].size), bool)
        for i, (_, text, _) in enumerate(q):
            word = text.split()[-2]
            hit = [0] if word == "first" else [1] if word == "last" else \
                [j for j, e in enumerate(events) if e[1] == word]
            if hit:
                t[i] = changed[hit[0]] if on_changes else pooled[hit[0]].reshape(-1)
        frames.append(f), qs.append(q), targets.append(t), labels.append(lab.reshape(-1))
    return np.stack(frames), qs, np.stack(targets), np.stack(labels)


def pool_frames(vis, n_frames, s=CLIP_POOL):
    """(B * n_frames, 576, D) post-projector tokens -> (B, n_frames * (24/s)^2, D):
    s x s average pooling of each frame's grid, frames in order -- LLaVA-
    OneVision's video pooling, which `vtc eval --pool s` (vtc_features_pool) runs."""
    BT, N, D = vis.shape
    x = vis.reshape(BT, _G, _G, D).permute(0, 3, 1, 2)
    x = F.avg_pool2d(x, s).permute(0, 2, 3, 1)
    return x.reshape(BT // n_frames, -1, D)


def sequence(model, vis, qs, ids):
    """The decoder's input for visual tokens vis (B, K, dim) and each sample's
    questions: [BOS, vis, the questions' text block] -> (embeddings, positions,
    mask, the index of each question's last token, text_block's blocks)."""
    B, K = vis.shape[0], vis.shape[1]
    blocks = [text_block(q, ids) for q in qs]
    mask, pos = seq_mask(K, len(qs[0]))
    bos = model.lm.tok.weight[1].expand(B, 1, -1)
    txt = model.lm.tok(torch.from_numpy(np.stack([b[0] for b in blocks])))
    x = torch.cat([bos, vis, txt], 1)
    last = torch.from_numpy(np.stack([b[2] for b in blocks])) + 1 + K
    return x, pos, mask, last, blocks


def clip_features(model, frames):
    """(B, T, 336, 336, 3) frames -> (B, T, 576, dim) vision features, bfloat16,
    without gradient: the clips teach the language model to read frames in time,
    the images teach the tower to see. (The projector's first matrix product
    runs in bfloat16 under autocast, so keeping them in bfloat16 loses nothing.)"""
    B, T = frames.shape[:2]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        feat, _ = model.vision(pixels(list(frames.reshape(B * T, *frames.shape[2:]))))
    return feat[:, 1:].to(torch.bfloat16).reshape(B, T, -1, feat.shape[-1])


def forward_clip(model, feat, qs, ids, keep_idx=None, targets=None, change=None):
    """-> answer logits (B, n_q, V), answers, with targets (B, n_q, tokens)
    the grounding loss (else None), and with change labels (B, tokens) the
    change loss (else None) for clips: each frame's vision features
    (clip_features) through the projector, pooled, the frames' tokens in
    order, then the questions as for an image. Grounding:
    head 0 of layer 1 from the last token onto the tokens of the item asked
    about (make_clip_batch says which). (Not layer 0 from the key word as for
    images: which item changed is not in any one token's embedding, the
    decoder has to compare frames first.) Change: the change heads read each
    visual token's change since the first frame (make_clip_batch) off the
    residual stream after layers 0 and 1 -- the comparison of frames the
    answers need, taught token by token rather than left to emerge from five
    answers a clip."""
    B, T = feat.shape[:2]
    vis = pool_frames(model.proj(feat.reshape(B * T, *feat.shape[2:])), T)
    if keep_idx is not None:
        vis = vis[:, keep_idx]
    K = vis.shape[1]
    x, pos, mask, last, blocks = sequence(model, vis, qs, ids)
    ground = l_change = None
    n_hidden = len(model.change_heads) if change is not None else 0
    if targets is None and not n_hidden:
        logits = model.lm(x, pos, mask)
    else:
        logits, probes, states = model.lm(x, pos, mask, [None, last] if targets is not None else (), n_hidden)
        if targets is not None:
            target = torch.from_numpy(targets)
            if keep_idx is not None:
                target = target[:, :, keep_idx]
            has = target.any(-1)
            if has.any():
                ground = sum(-(torch.log((p[:, :, 1:1 + K].float() * target).sum(-1)[has] + 1e-6)).mean()
                             for p in probes) / len(probes)
        if n_hidden:
            lab = torch.from_numpy(change)
            if keep_idx is not None:
                lab = lab[:, keep_idx]
            l_change = sum(F.cross_entropy(head(h[:, 1:1 + K]).float().reshape(-1, head.out_features),
                                           lab.reshape(-1), weight=CHANGE_WEIGHT)
                           for head, h in zip(model.change_heads, states)) / n_hidden
    return (logits[torch.arange(B)[:, None], last], torch.from_numpy(np.stack([b[3] for b in blocks])), ground,
            l_change)


def forward(model, imgs, qs, ids, keep_idx=None, frozen=False, labels=None):
    """-> answer logits (B, n_q, V), answers (B, n_q), every token's embedding
    (B, 576, dim, before any drop), CLS logits, patch logits, and with the
    scenes' patch labels (B, 576) the grounding loss (else None): head 0's
    attention from each question's key word in layer 0, and from its last
    token in layer 1, should fall on the visual tokens the key word names --
    the cell's tokens for "what is at the CELL", the item's tokens for the
    other kinds (skipped when the scene has none) -- which is the lookup every
    answer needs, taught directly rather than left to emerge from the answers
    alone (it took the LM ~4000 steps to find it)."""
    with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):
        feat, cls = model.vision(pixels(imgs))
    tokens = feat[:, 1:]
    vis = vis_all = model.proj(tokens)
    if keep_idx is not None:
        vis = vis[:, keep_idx]
    B, K = vis.shape[0], vis.shape[1]
    x, pos, mask, last, blocks = sequence(model, vis, qs, ids)
    ground = None
    if labels is None:
        logits = model.lm(x, pos, mask)
    else:
        key = torch.from_numpy(np.stack([b[4] for b in blocks])) + 1 + K
        logits, probes, _ = model.lm(x, pos, mask, [key, last])
        names = torch.from_numpy(np.stack([b[5] for b in blocks]))  # (B, n_q)
        # what each visual token is, as a key-word id: its cell, or its item
        target = (names[:, :, None] == TOKEN_CELL[None, None]) | \
            (names[:, :, None] == qd.GRID * qd.GRID + torch.from_numpy(labels)[:, None])
        if keep_idx is not None:
            target = target[:, :, keep_idx]
        has = target.any(-1)
        ground = sum(-(torch.log((p[:, :, 1:1 + K].float() * target).sum(-1)[has] + 1e-6)).mean()
                     for p in probes) / len(probes)
    ans = torch.from_numpy(np.stack([b[3] for b in blocks]))
    out = logits[torch.arange(B)[:, None], last]
    return out, ans, vis_all, model.cls_head(cls), model.patch_head(tokens), ground


# ---------------------------------------------------------------- export

def export(model, out, pieces, scores):
    os.makedirs(out, exist_ok=True)
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    t = {hf: sd[ours] for ours, hf in hf_names().items()}
    # float16 halves the file (vtc computes in float32 either way; the held-out
    # figures of `vtc eval` are those of these rounded weights)
    write_safetensors(os.path.join(out, "model.safetensors"),
                      {k: np.ascontiguousarray(v, dtype=np.float16) for k, v in t.items()},
                      {"format": "pt", "source": "tools/quality_train.py"})
    cfg = {"architectures": ["LlavaForConditionalGeneration"], "model_type": "llava",
           "projector_hidden_act": "gelu", "vision_feature_layer": -2,
           "vision_feature_select_strategy": "default", "image_aspect_ratio": "pad", "torch_dtype": "float32",
           "vision_config": {"model_type": "clip_vision_model", "hidden_size": VIS["hidden"],
                             "intermediate_size": VIS["mlp"], "num_attention_heads": VIS["heads"],
                             "num_hidden_layers": VIS["layers"], "image_size": VIS["image"],
                             "patch_size": VIS["patch"], "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5,
                             "num_channels": 3},
           "text_config": {"model_type": "llama", "hidden_size": LM["dim"], "intermediate_size": LM["hidden"],
                           "num_hidden_layers": LM["layers"], "num_attention_heads": LM["heads"],
                           "num_key_value_heads": LM["kv_heads"], "vocab_size": len(pieces),
                           "rms_norm_eps": 1e-5}}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    pre = {"crop_size": {"height": 336, "width": 336}, "do_center_crop": True, "do_convert_rgb": True,
           "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": MEAN, "image_std": STD,
           "image_processor_type": "CLIPImageProcessor", "resample": 3, "rescale_factor": 1 / 255,
           "size": {"shortest_edge": 336}}
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump(pre, f, indent=2)
    # llama2.c: header, token embeddings, per-layer weights grouped by kind, final norm, freq tables
    d, h, L, S = LM["dim"], LM["hidden"], LM["layers"], LM["seq_len"]
    hs = d // LM["heads"]
    f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32).tobytes()
    blob = [struct.pack("<7i", d, h, L, LM["heads"], LM["kv_heads"], len(pieces), S), f32(sd["lm.tok.weight"])]
    for kind in ("n1.w", "wq.weight", "wk.weight", "wv.weight", "wo.weight", "n2.w", "w1.weight", "w2.weight",
                 "w3.weight"):
        blob += [f32(sd[f"lm.blocks.{i}.{kind}"]) for i in range(L)]
    blob.append(f32(sd["lm.norm.w"]))
    ang = np.arange(S)[:, None] * (1.0 / 10000.0 ** (np.arange(0, hs, 2) / hs))[None, :]
    blob += [f32(np.cos(ang)), f32(np.sin(ang))]
    with open(os.path.join(out, "lm.bin"), "wb") as f:
        f.write(b"".join(blob))
    write_tokenizer(os.path.join(out, "tokenizer.bin"), pieces, scores)


def hf_names():
    """Our parameter names -> llava-hf's, for the vision tower and projector."""
    V = "vision_tower.vision_model."
    m = {"vision.cls": V + "embeddings.class_embedding", "vision.patch.weight": V + "embeddings.patch_embedding.weight",
         "vision.pos": V + "embeddings.position_embedding.weight", "vision.pre.weight": V + "pre_layrnorm.weight",
         "vision.pre.bias": V + "pre_layrnorm.bias", "vision.post.weight": V + "post_layernorm.weight",
         "vision.post.bias": V + "post_layernorm.bias"}
    names = dict(q="self_attn.q_proj", k="self_attn.k_proj", v="self_attn.v_proj", o="self_attn.out_proj",
                 ln1="layer_norm1", ln2="layer_norm2", fc1="mlp.fc1", fc2="mlp.fc2")
    for i in range(VIS["layers"]):
        for ours, hf in names.items():
            for wb in ("weight", "bias"):
                m[f"vision.blocks.{i}.{ours}.{wb}"] = f"{V}encoder.layers.{i}.{hf}.{wb}"
    for ours, hf in (("l1", "linear_1"), ("l2", "linear_2")):
        for wb in ("weight", "bias"):
            m[f"proj.{ours}.{wb}"] = f"multi_modal_projector.{hf}.{wb}"
    return m


def load_vision(model, src):
    """Loads the vision tower from an exported SRC/model.safetensors, for --init-vision."""
    t, _ = read_safetensors(os.path.join(src, "model.safetensors"))
    sd = model.state_dict()
    for ours, hf in hf_names().items():
        if ours.startswith("vision."):
            sd[ours].copy_(torch.from_numpy(np.asarray(t[hf], dtype=np.float32)).reshape(sd[ours].shape))


def load_all(model, src, n_vocab):
    """Loads every exported weight from SRC (model.safetensors' vision tower and
    projector, lm.bin's language model), for --init: a stage that goes on from
    an exported model. The training-only heads are not exported: they start at
    zero, which sends no gradient into the tower until they have learnt."""
    for head in (model.cls_head, model.patch_head):
        nn.init.zeros_(head.weight), nn.init.zeros_(head.bias)
    t, _ = read_safetensors(os.path.join(src, "model.safetensors"))
    sd = model.state_dict()
    for ours, hf in hf_names().items():
        sd[ours].copy_(torch.from_numpy(np.asarray(t[hf], dtype=np.float32)).reshape(sd[ours].shape))
    d, h, L = LM["dim"], LM["hidden"], LM["layers"]
    with open(os.path.join(src, "lm.bin"), "rb") as f:
        head = struct.unpack("<7i", f.read(28))
        if head[:5] != (d, h, L, LM["heads"], LM["kv_heads"]) or not 0 < head[5] <= n_vocab:
            raise SystemExit(f"quality_train: {src}/lm.bin has shape {head}, not this script's model")
        w = np.frombuffer(f.read(), np.float32)
    # words added since (the vocabulary only grows at its end) keep their fresh embeddings
    n_old = head[5]
    sd["lm.tok.weight"][:n_old] = torch.from_numpy(w[:n_old * d].copy()).reshape(n_old, d)
    w = w[n_old * d:]
    shapes = []
    for kind, shape in (("n1.w", (d,)), ("wq.weight", (d, d)), ("wk.weight", (d, d)), ("wv.weight", (d, d)),
                        ("wo.weight", (d, d)), ("n2.w", (d,)), ("w1.weight", (h, d)), ("w2.weight", (d, h)),
                        ("w3.weight", (h, d))):
        shapes += [(f"lm.blocks.{i}.{kind}", shape) for i in range(L)]
    shapes.append(("lm.norm.w", (d,)))
    at = 0
    for name, shape in shapes:
        n = int(np.prod(shape))
        sd[name].copy_(torch.from_numpy(w[at:at + n].copy()).reshape(shape))
        at += n


# ---------------------------------------------------------------- training

def _tally(right, total, qs, n_real, ok):
    """Adds batch results to per-kind counts: the first n_real[b] questions of
    sample b are real (the rest padding), ok[b, k] whether question k was right."""
    for b, q in enumerate(qs):
        for k in range(n_real[b]):
            right[q[k][0]] = right.get(q[k][0], 0) + int(ok[b, k])
            total[q[k][0]] = total.get(q[k][0], 0) + 1


@torch.no_grad()
def held_out_accuracy(model, assets, ids, n=64):
    """-> accuracy on n held-out scenes' questions (a range `vtc eval` does
    not use), and per question kind."""
    model.eval()
    right, total = {}, {}
    for i in range(0, n, 16):
        imgs, qs, real = [], [], []
        for j in range(i, min(n, i + 16)):
            rng = qd.scene_rng(qd.HELD_OUT_SEED + 10**8 + j)
            img, objects, _ = qd.make_scene(rng, assets)
            q = qd.make_questions(rng, objects)  # as `vtc eval` asks them
            imgs.append(img), qs.append(pad(q, 5)), real.append(min(len(q), 5))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out, ans, _, _, _, _ = forward(model, imgs, qs, ids)
        _tally(right, total, qs, real, (out.argmax(-1) == ans).numpy())
    model.train()
    return sum(right.values()) / sum(total.values()), {k: right[k] / total[k] for k in sorted(total)}


@torch.no_grad()
def held_out_clip_accuracy(model, assets, ids, n=32):
    """-> accuracy on n held-out clips' questions (seeds `vtc eval`'s clips do
    not use), and per question kind."""
    model.eval()
    right, total = {}, {}
    for i in range(0, n, 4):
        frames, qs = [], []
        for j in range(i, min(n, i + 4)):
            f, events, _ = qd.make_clip(qd.scene_rng(qd.HELD_OUT_SEED + 3 * 10**8 + j), assets)
            frames.append(f), qs.append(qd.clip_questions(events))
        real = [len(q) for q in qs]
        qs = [pad(q, qd.CLIP_QUESTIONS) for q in qs]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out, ans, _, _ = forward_clip(model, clip_features(model, np.stack(frames)), qs, ids)
        _tally(right, total, qs, real, (out.argmax(-1) == ans).numpy())
    model.train()
    return sum(right.values()) / sum(total.values()), {k: right[k] / total[k] for k in sorted(total)}


def progress(step, steps, start, minutes):
    """The share of a stage's budget spent before `step`: of `steps` when that
    is set, else of `minutes` of wall clock since `start`; None once spent."""
    if steps:
        frac = step / steps
    elif minutes > 0:
        frac = (time.time() - start) / (minutes * 60)
    else:
        return None
    return frac if frac < 1.0 else None


def vision_stage(model, a, rng, train_assets, test_assets, log, t0):
    """Stage 0: the vision tower alone learns to name the item under each patch
    (a linear head on the penultimate block's tokens, the features LLaVA hands
    on) and which items the scene holds (the CLS head) -- the role CLIP's
    pretraining plays for LLaVA, whose vision tower arrives already seeing.
    Dense labels make this far faster than learning to see through the answers."""
    params = list(model.vision.parameters()) + list(model.patch_head.parameters()) + \
        list(model.cls_head.parameters())
    opt = torch.optim.AdamW(params, lr=a.vision_lr, betas=(0.9, 0.98), weight_decay=0.05)
    weight = torch.tensor([3.0] * len(qd.CLASSES) + [1.0])
    step, start = 0, time.time()
    while (frac := progress(step, a.vision_steps, start, a.vision_minutes)) is not None:
        lr = a.vision_lr * min(1.0, (step + 1) / 50) * (0.5 * (1 + math.cos(math.pi * frac)) * 0.9 + 0.1)
        for g in opt.param_groups:
            g["lr"] = lr
        imgs, labels, present, _ = make_batch(rng, train_assets, a.batch, n_items=a.vision_items)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            feat, cls = model.vision(pixels(imgs))
            pl, cl = model.patch_head(feat[:, 1:]), model.cls_head(cls)
        l_patch = F.cross_entropy(pl.float().reshape(-1, pl.shape[-1]), torch.from_numpy(labels).reshape(-1),
                                  weight=weight)
        l_cls = F.binary_cross_entropy_with_logits(cl.float(), torch.from_numpy(present))
        loss = l_patch + 0.3 * l_cls
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        held = ""
        if step % 50 == 0:
            held = "%.4f" % patch_accuracy(model, test_assets)
        log.write("v%d\t%.2f\t%.4f\t%.4f\t\t%s\n" % (step, (time.time() - t0) / 60, loss.item(), l_patch.item(),
                                                      held))
        log.flush()
        if step % 10 == 0:
            print("vision step %d  %.1f min  patch loss %.3f  cls loss %.3f %s" %
                  (step, (time.time() - t0) / 60, l_patch.item(), l_cls.item(),
                   "held-out item-patch acc " + held if held else ""), flush=True)


@torch.no_grad()
def patch_accuracy(model, assets, n=16):
    """Share of held-out item patches whose item the stage-0 head names."""
    model.eval()
    imgs, labs = [], []
    for j in range(n):
        rng = qd.scene_rng(qd.HELD_OUT_SEED + 2 * 10**8 + j)
        img, _, lab = qd.make_scene(rng, assets)
        imgs.append(img), labs.append(lab.reshape(-1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        feat, _ = model.vision(pixels(imgs))
        pred = model.patch_head(feat[:, 1:]).float().argmax(-1).numpy()
    model.train()
    lab = np.stack(labs)
    item = lab < len(qd.CLASSES)
    return float((pred[item] == lab[item]).mean())


class ClipReplay:
    """Clips already through the frozen vision tower, kept for reuse (--clip-reuse):
    a ring of the last `capacity` clips' features (bfloat16, 1.2 MB a clip),
    questions, grounding targets and change labels. The tower is most of a
    clip step's time (about 0.75 of it on the 2-core dev machine), the language
    model's forward and backward pass the rest, so a step that runs the tower on
    one clip in four and takes the others from here costs about half. The ring
    is allocated whole at the first clip: with each clip in a tensor of its
    own, and jemalloc told to keep freed memory (see above), a stage 2 run grew
    to 23 GB by step 880 (small kept tensors scattered through the freed step
    buffers, as far as we can tell); allocated whole it holds at 2.35 GB."""

    def __init__(self, capacity):
        self.capacity, self.n, self.next = capacity, 0, 0
        self.feat = self.targets = self.change = None
        self.qs = [None] * capacity

    def __len__(self):
        return self.n

    def add(self, feat, qs, targets, change):
        if self.feat is None:
            self.feat = torch.empty((self.capacity, *feat.shape[1:]), dtype=feat.dtype)
            self.targets = np.empty((self.capacity, *targets.shape[1:]), targets.dtype)
            self.change = np.empty((self.capacity, *change.shape[1:]), change.dtype)
        for i in range(len(qs)):
            j = self.next
            self.feat[j], self.qs[j], self.targets[j], self.change[j] = feat[i], qs[i], targets[i], change[i]
            self.next, self.n = (j + 1) % self.capacity, min(self.n + 1, self.capacity)

    def sample(self, rng, n):
        """-> n distinct clips drawn uniformly: (features, questions, targets, change labels)."""
        pick = rng.choice(self.n, n, replace=False)
        return self.feat[torch.from_numpy(pick)], [self.qs[i] for i in pick], self.targets[pick], self.change[pick]


def clip_batch(model, a, rng, assets, replay):
    """-> a clip step's (features, questions, grounding targets, change labels):
    --clip-batch new clips through the tower, or with a replay buffer
    (--clip-reuse R > 1) about 1/R of them new and the rest drawn from the
    clips seen before, the new ones then added to it (while the buffer holds
    fewer than the rest, more are new)."""
    n_new = a.clip_batch
    if replay is not None:
        n_new = max(1, a.clip_batch - len(replay), round(a.clip_batch / a.clip_reuse))
    frames, qs, targets, change = make_clip_batch(rng, assets, n_new, a.clip_change > 0)
    feat = clip_features(model, frames)
    if replay is None:
        return feat, qs, targets, change
    old = replay.sample(rng, a.clip_batch - n_new) if n_new < a.clip_batch else None
    replay.add(feat, qs, targets, change)
    if old is None:
        return feat, qs, targets, change
    return (torch.cat([feat, old[0]]), qs + old[1], np.concatenate([targets, old[2]]),
            np.concatenate([change, old[3]]))


def clip_step(model, opt, trained, a, rng, assets, ids, step, log, t0, replay=None):
    """One stage-1 step on clips: the answer loss and grounding (--ground; their
    frames' tokens get the image steps' alignment), on a random subset of the
    pooled tokens in --clip-subset of them (default: --subset, as for images),
    the clips new or partly reused (clip_batch). Logged as "c<step>" rows."""
    feat, qs, targets, change = clip_batch(model, a, rng, assets, replay)
    n_tok = qd.CLIP_FRAMES * (_G // CLIP_POOL) ** 2
    keep = None
    if rng.random() < (a.subset if a.clip_subset is None else a.clip_subset):
        k = int(rng.integers(max(1, n_tok // 20), n_tok + 1))
        keep = torch.from_numpy(np.sort(rng.choice(n_tok, size=k, replace=False)))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, ans, ground, l_change = forward_clip(model, feat, qs, ids, keep, targets if a.ground > 0 else None,
                                                  change if a.clip_change > 0 else None)
    out = out.float()
    l_ans = F.cross_entropy(out.reshape(-1, out.shape[-1]), ans.reshape(-1))
    loss = l_ans + a.ground * ground if ground is not None else l_ans
    if l_change is not None:
        loss = loss + a.clip_change * l_change
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for _, p in trained], 1.0)
    opt.step()
    acc_b = (out.argmax(-1) == ans).float().mean().item()
    log.write("c%d\t%.2f\t%.4f\t%.4f\t%.3f\t\n" % (step + 1, (time.time() - t0) / 60, loss.item(), l_ans.item(), acc_b))
    log.flush()
    if (step + 1) % 10 == 0:
        print("clip step %d  %.1f min  loss %.3f  answer %.3f  grounding %.3f  change %.3f  batch acc %.2f" %
              (step + 1, (time.time() - t0) / 60, loss.item(), l_ans.item(), ground.item() if ground is not None
               else 0.0, l_change.item() if l_change is not None else 0.0, acc_b), flush=True)


def evaluate(model, a, assets, ids):
    """-> the held-out image accuracy (as a log cell) and a line of it per
    kind, with the clips' when stage 1 trains on clips."""
    acc, per = held_out_accuracy(model, assets, ids)
    line = "held-out acc %.4f (%s)" % (acc, " ".join("%s %.2f" % kv for kv in per.items()))
    if a.clips > 0:
        acc_c, per_c = held_out_clip_accuracy(model, assets, ids)
        line += ", clips %.4f (%s)" % (acc_c, " ".join("%s %.2f" % kv for kv in per_c.items()))
    return "%.4f" % acc, line


def item_range(text):
    """--vision-items LO-HI -> (LO, HI), 1 <= LO <= HI <= the layout's cells."""
    try:
        lo, hi = (int(x) for x in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError("want LO-HI, e.g. 1-5") from None
    if not 1 <= lo <= hi <= qd.GRID * qd.GRID:
        raise argparse.ArgumentTypeError("want 1 <= LO <= HI <= %d" % (qd.GRID * qd.GRID))
    return lo, hi


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=100.0, help="wall-clock training budget")
    ap.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: by --minutes)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--vision-minutes", type=float, default=30.0, help="stage 0 budget (vision tower alone)")
    ap.add_argument("--vision-steps", type=int, default=0,
                    help="stop stage 0 after this many steps (0: by --vision-minutes)")
    ap.add_argument("--vision-lr", type=float, default=2e-3)
    ap.add_argument("--vision-items", type=item_range, default=(1, 5),
                    metavar="LO-HI", help="stage 0: items per training scene (held-out scenes have 1-5)")
    ap.add_argument("--vision-pos", choices=("random", "sincos"), default="random",
                    help="stage 0: the vision tower's position rows start random (N(0, 0.02)) or as a 2D "
                    "sine-cosine table (learnt from there either way)")
    ap.add_argument("--what", type=int, default=2, help="\"what is at\" questions per training scene (of 9 cells)")
    ap.add_argument("--all-questions", action="store_true",
                    help="ask each training scene every question it supports (9 what, 6 is, 6 count, the wheres)")
    ap.add_argument("--subset", type=float, default=0.3,
                    help="share of stage-1 steps whose LM sees a random subset of the visual tokens, compacted")
    ap.add_argument("--cell-align", choices=("all", "items"), default="all",
                    help="stage 1's alignment of visual tokens with their cell's word: on every token "
                    "(default) or on the tokens of items only")
    ap.add_argument("--bg-collapse", type=float, default=0.0, metavar="W",
                    help="weight of the loss that draws each image's background tokens together (cosine)")
    ap.add_argument("--ground", type=float, default=0.0,
                    help="weight of the grounding loss (head 0 of layers 0 and 1 attends from the question to the "
                         "visual tokens it names; see forward)")
    ap.add_argument("--clips", type=float, default=0.0,
                    help="share of stage-1 steps on clips (quality_data.make_clip), their frames pooled")
    ap.add_argument("--clip-subset", type=float, default=None,
                    help="share of clip steps on a random subset of the pooled tokens, compacted (default: --subset)")
    ap.add_argument("--clip-batch", type=int, default=4, help="clips per clip step")
    ap.add_argument("--clip-reuse", type=float, default=1.0,
                    help="with --freeze-vision: each clip is used about this many times, kept in a "
                         "replay buffer of its tower features (1: every clip step's clips are new)")
    ap.add_argument("--clip-buffer", type=int, default=1024, help="clips the replay buffer holds")
    ap.add_argument("--clip-change", type=float, default=0.0,
                    help="weight of the clips' change loss (each token's change since the first frame, read off "
                         "the decoder after layers 0 and 1); when set, clip grounding looks at the changed tokens")
    ap.add_argument("--freeze-vision", action="store_true",
                    help="stage 1 trains the projector and language model only (LLaVA's recipe)")
    ap.add_argument("--init-vision", metavar="DIR", help="start from DIR/model.safetensors' vision tower")
    ap.add_argument("--init", metavar="DIR", help="start from every weight of an exported model in DIR")
    ap.add_argument("--vision-lr-scale", type=float, default=1.0,
                    help="stage 1: the vision tower's learning rate relative to --lr")
    a = ap.parse_args()
    if a.clip_reuse < 1 or a.clip_buffer < a.clip_batch:
        ap.error("--clip-reuse must be >= 1 and --clip-buffer >= --clip-batch")
    if a.clip_reuse > 1 and not a.freeze_vision:
        ap.error("--clip-reuse reuses the vision tower's features, so it needs --freeze-vision")
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    rng = np.random.Generator(np.random.PCG64(a.seed))
    pieces, scores, ids = vocab()
    train_assets, test_assets = qd.Assets("train"), qd.Assets("test")
    model = VLM(len(pieces))
    if a.init:
        load_all(model, a.init, len(pieces))
    elif a.init_vision:
        load_vision(model, a.init_vision)
    elif a.vision_pos == "sincos":
        with torch.no_grad():
            model.vision.pos.copy_(sincos_positions(VIS["hidden"], _G))
    trained = [(n, p) for n, p in model.named_parameters()
               if not (a.freeze_vision and n.startswith(("vision.", "patch_head.", "cls_head.")))]
    groups = []
    for is_vis in (False, True):
        part = [(n, p) for n, p in trained if n.startswith("vision.") == is_vis]
        scale = a.vision_lr_scale if is_vis else 1.0
        groups += [{"params": [p for _, p in part if p.dim() >= 2], "weight_decay": 0.05, "scale": scale},
                   {"params": [p for _, p in part if p.dim() < 2], "weight_decay": 0.0, "scale": scale}]
    opt = torch.optim.AdamW([g for g in groups if g["params"]], lr=a.lr, betas=(0.9, 0.98))
    n_tok = (VIS["image"] // VIS["patch"]) ** 2
    item_words = torch.tensor([ids[" " + n] for _, n in qd.CLASSES] + [ids[" nothing"]])
    cell_words = torch.tensor([ids[" " + c] for c in qd.CELLS])
    item_weight = torch.tensor([5.0] * len(qd.CLASSES) + [1.0])
    os.makedirs(a.out, exist_ok=True)
    log = open(os.path.join(a.out, "train_log.tsv"), "w")
    log.write("step\tminutes\tloss\tanswer_loss\tanswer_acc_batch\theld_out_acc\n")
    t0 = time.time()
    if a.vision_steps > 0 or a.vision_minutes > 0:
        vision_stage(model, a, rng, train_assets, test_assets, log, t0)
    t1 = time.time()  # stage 1's budget starts here; the log's minutes count from the start
    replay = ClipReplay(a.clip_buffer) if a.clips > 0 and a.clip_reuse > 1 else None
    step = 0
    while (frac := progress(step, a.steps, t1, a.minutes)) is not None:
        lr = a.lr * min(1.0, (step + 1) / 100) * (0.5 * (1 + math.cos(math.pi * frac)) * 0.95 + 0.05)
        for g in opt.param_groups:
            g["lr"] = lr * g["scale"]
        if a.clips > 0 and rng.random() < a.clips:
            clip_step(model, opt, trained, a, rng, train_assets, ids, step, log, t0, replay)
            step += 1
            if step % a.eval_every == 0:
                print("step %d  %.1f min  %s" % (step, (time.time() - t0) / 60, evaluate(model, a, test_assets, ids)[1]),
                      flush=True)
                export(model, a.out, pieces, scores)
            continue
        imgs, labels, present, qs = make_batch(rng, train_assets, a.batch, a.what, a.all_questions)
        keep = None
        if rng.random() < a.subset:
            k = int(rng.integers(max(1, n_tok // 20), n_tok + 1))
            keep = torch.from_numpy(np.sort(rng.choice(n_tok, size=k, replace=False)))
        with torch.autocast("cpu", dtype=torch.bfloat16):  # oneDNN bf16 matmuls (AMX where the CPU has it)
            out, ans, emb, cls_logits, patch_logits, ground = forward(model, imgs, qs, ids, keep, a.freeze_vision,
                                                                      labels if a.ground > 0 else None)
        out, emb, cls_logits, patch_logits = out.float(), emb.float(), cls_logits.float(), patch_logits.float()
        l_ans = F.cross_entropy(out.reshape(-1, out.shape[-1]), ans.reshape(-1))
        # alignment: each visual token's embedding scores highest against the
        # word of its item (or "nothing") and the word of its cell
        E = model.lm.tok.weight
        lab = torch.from_numpy(labels).reshape(-1)  # each token's item class, len(qd.CLASSES) for none
        # (item tokens are ~10% of a scene: weighted so they are not drowned by "nothing")
        l_item = F.cross_entropy((emb @ E[item_words].t()).reshape(-1, len(item_words)),
                                 lab, weight=item_weight)
        cell_logits = (emb @ E[cell_words].t()).reshape(-1, len(cell_words))
        cell_target = TOKEN_CELL[None].expand(emb.shape[0], -1).reshape(-1)
        if a.cell_align == "all":
            l_cell = F.cross_entropy(cell_logits, cell_target)
        else:  # "items": background tokens left free of their cell's word (every scene holds an item)
            on_item = lab < len(qd.CLASSES)
            l_cell = F.cross_entropy(cell_logits[on_item], cell_target[on_item])
        l_cls = F.binary_cross_entropy_with_logits(cls_logits, torch.from_numpy(present))
        l_patch = F.cross_entropy(patch_logits.reshape(-1, patch_logits.shape[-1]),
                                  lab, weight=item_weight)
        loss = l_ans + 0.5 * l_item + 0.2 * l_cell
        l_bg = torch.zeros(())
        if a.bg_collapse > 0:
            # 1 - |mean of the unit background embeddings|^2: their mean cosine distance over
            # all ordered pairs (each token with itself included)
            bg = (lab == len(qd.CLASSES)).float().reshape(*emb.shape[:2], 1)
            m = (F.normalize(emb, dim=-1) * bg).sum(1) / bg.sum(1).clamp(min=1)
            l_bg = (1 - (m * m).sum(-1)).mean()
            loss = loss + a.bg_collapse * l_bg
        if ground is not None:
            loss = loss + a.ground * ground
        if not a.freeze_vision:
            loss = loss + 0.3 * l_cls + 0.5 * l_patch
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in trained], 1.0)
        opt.step()
        step += 1
        acc_b = (out.argmax(-1) == ans).float().mean().item()
        held = ""
        kinds = ""
        if step % a.eval_every == 0:
            held, kinds = evaluate(model, a, test_assets, ids)
            export(model, a.out, pieces, scores)
        log.write("%d\t%.2f\t%.4f\t%.4f\t%.3f\t%s\n" % (step, (time.time() - t0) / 60, loss.item(), l_ans.item(),
                                                       acc_b, held))
        log.flush()
        if step % 10 == 0 or held:
            print("step %d  %.1f min  loss %.3f  answer %.3f  grounding %.3f  background %.3f  batch acc %.2f %s" %
                  (step, (time.time() - t0) / 60, loss.item(), l_ans.item(),
                   ground.item() if ground is not None else 0.0, l_bg.item(), acc_b,
                   kinds if held else ""), flush=True)
    held, per = held_out_accuracy(model, test_assets, ids, n=128)
    log.write("%d\t%.2f\t\t\t\t%.4f\n" % (step, (time.time() - t0) / 60, held))
    if a.clips > 0:
        held_c, per_c = held_out_clip_accuracy(model, test_assets, ids, n=64)
        log.write("c%d\t%.2f\t\t\t\t%.4f\n" % (step, (time.time() - t0) / 60, held_c))
        print("quality_train: held-out clip accuracy %.3f (%s)" % (held_c, " ".join("%s %.2f" % kv for kv in
                                                                                  per_c.items())))
    log.close()
    export(model, a.out, pieces, scores)
    print("quality_train: %d steps in %.1f min, held-out accuracy %.3f (%s); wrote %s" %
          (step, (time.time() - t0) / 60, held, " ".join("%s %.2f" % kv for kv in per.items()), a.out))


if __name__ == "__main__":
    main()
