#!/usr/bin/python3
"""Independent reference for `vtc eval`: the exported VLM (samples/vlm) loaded
back into tools/quality_train.py's PyTorch model, in float64, answering a
questions TSV with every visual token (method none).

    /usr/bin/python3 tools/quality_ref.py --model samples/vlm --questions DIR/questions.tsv [--out FILE]

Preprocessing is the model's own CLIPImageProcessor (resize the shortest side
to 336 with Pillow's bicubic, centre crop, rescale, normalise); the held-out
scenes are 336 x 336 already, so it is the identity resize there. The sequence
is vtc's: [BOS, 576 visual, the question's tokens], consecutive positions, the
answer the argmax of the last row's logits. Writes one line per question:
media, question, predicted answer word, margin (top-1 minus top-2 logit),
after a header naming the accuracy and the questions' digest (sha256 of the
file's non-comment lines, as tests/cli_quality.sh checks it).
"""
import argparse
import hashlib
import os
import struct
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quality_train as qt  # noqa: E402
from vtc_ref import read_safetensors  # noqa: E402

torch.set_default_dtype(torch.float64)


def load(model_dir):
    pieces, scores, ids = qt.vocab()
    m = qt.VLM(len(pieces))
    t, _ = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    sd = {ours: t[hf] for ours, hf in qt.hf_names().items()}
    # lm.bin, llama2.c layout (shared classifier)
    with open(os.path.join(model_dir, "lm.bin"), "rb") as f:
        data = f.read()
    d, h, L, H, KV, vocab, S = struct.unpack("<7i", data[:28])
    w = np.frombuffer(data, np.float32, offset=28)
    at = 0

    def take(*shape):
        nonlocal at
        n = int(np.prod(shape))
        a = w[at:at + n].reshape(shape)
        at += n
        return a

    sd["lm.tok.weight"] = take(vocab, d)
    kinds = [("n1.w", (d,)), ("wq.weight", (d, d)), ("wk.weight", (d, d)), ("wv.weight", (d, d)),
             ("wo.weight", (d, d)), ("n2.w", (d,)), ("w1.weight", (h, d)), ("w2.weight", (d, h)), ("w3.weight", (h, d))]
    for kind, shape in kinds:
        for i in range(L):
            sd[f"lm.blocks.{i}.{kind}"] = take(*shape)
    sd["lm.norm.w"] = take(d)
    own = m.state_dict()
    for k in own:
        if k.startswith(("patch_head", "cls_head")):
            sd[k] = own[k].numpy()
    m.load_state_dict({k: torch.from_numpy(np.array(v, dtype=np.float64)) for k, v in sd.items()})
    m.double().eval()
    return m, ids, pieces


def preprocess(path):
    im = Image.open(path).convert("RGB")
    w, h = im.size
    s = 336 / min(w, h)
    nw, nh = max(336, round(w * s)), max(336, round(h * s))
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.BICUBIC)
    left, top = (nw - 336) // 2, (nh - 336) // 2
    return np.asarray(im.crop((left, top, left + 336, top + 336)))


@torch.no_grad()
def last_logits(m, vis, words, vis_pos=None):
    """Prefill [BOS, vis (1, K, dim), the question's tokens] -> the last row's
    logits. Positions are consecutive, or BOS at 0, vis at vis_pos and the
    question after the last of them."""
    x = torch.cat([m.lm.tok.weight[1][None, None], vis, m.lm.tok(words)[None]], 1)
    T = x.shape[1]
    if vis_pos is None:
        pos = torch.arange(T)
    else:
        pos = torch.cat([torch.zeros(1, dtype=torch.long), vis_pos, vis_pos[-1] + 1 + torch.arange(len(words))])
    mask = torch.full((T, T), float("-inf")).triu(1)
    return m.lm(x, pos, mask)[0, -1]


@torch.no_grad()
def answer(m, ids, pieces, img, question):
    feat, _ = m.vision(qt.pixels([img]).double())
    logits = last_logits(m, m.proj(feat[:, 1:]), torch.tensor(qt.encode(question, ids)))
    top = torch.topk(logits, 2)
    return pieces[top.indices[0]].strip(), float(top.values[0] - top.values[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="samples/vlm")
    ap.add_argument("--questions", required=True)
    ap.add_argument("--out", default="-")
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(2)
    m, ids, pieces = load(a.model)
    base = os.path.dirname(os.path.abspath(a.questions))
    rows, cache, right = [], {}, 0
    for line in open(a.questions):
        if not line.strip() or line.startswith("#"):
            continue
        media, kind, q, ans = line.rstrip("\n").split("\t")
        if media not in cache:
            cache.clear()
            cache[media] = preprocess(os.path.join(base, media))
        pred, margin = answer(m, ids, pieces, cache[media], q)
        right += pred == ans
        rows.append(f"{media}\t{q}\t{pred}\t{margin:.6f}")
        if a.limit and len(rows) >= a.limit:
            break
    out = sys.stdout if a.out == "-" else open(a.out, "w")
    with open(a.questions, "rb") as f:
        digest = hashlib.sha256(b"".join(l for l in f.read().splitlines(True) if not l.startswith(b"#"))).hexdigest()
    out.write(f"# tools/quality_ref.py --model {a.model}: {len(rows)} questions, accuracy {right / len(rows):.4f}, "
              f"questions {digest[:16]}\n")
    out.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
