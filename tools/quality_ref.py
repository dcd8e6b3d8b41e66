#!/usr/bin/python3
"""Independent reference for `vtc eval`: the exported VLM (samples/vlm) loaded
back into tools/quality_train.py's PyTorch model, in float64, answering a
questions TSV with every visual token (method none).

    /usr/bin/python3 tools/quality_ref.py --model samples/vlm --questions DIR/questions.tsv [--out FILE]
        [--frames 8] [--pool 3]

Preprocessing is the model's own CLIPImageProcessor (resize the shortest side
to 336 with Pillow's bicubic, centre crop, rescale, normalise); the held-out
scenes are 336 x 336 already, so it is the identity resize there. The sequence
is vtc's: [BOS, 576 visual, the question's tokens], consecutive positions, the
answer the argmax of the last row's logits. Video media (anything but PNG and
JPEG) is decoded by the ffmpeg command-line tool to RGB frames, --frames of
them taken at floor(linspace(0, count - 1, n)) as vtc samples, each frame
encoded and projected, its tokens pooled --pool x --pool (average, as
LLaVA-OneVision's video path and `vtc eval --pool`), the frames' tokens in
order. Writes one line per question:
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
        if k.startswith(("patch_head", "cls_head", "change_heads")):  # training-only heads
            sd[k] = own[k].numpy()
    m.load_state_dict({k: torch.from_numpy(np.array(v, dtype=np.float64)) for k, v in sd.items()})
    m.double().eval()
    return m, ids, pieces


def video_frames(path, n):
    """-> n frames (uint8 RGB) of a video, decoded by the ffmpeg tool."""
    import json
    import subprocess
    info = json.loads(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                                      "stream=width,height", "-of", "json", path],
                                     check=True, capture_output=True).stdout)["streams"][0]
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         check=True, capture_output=True).stdout
    w, h = info["width"], info["height"]
    frames = np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)
    at = np.floor(np.linspace(0, len(frames) - 1, n)).astype(np.int64)
    return [preprocess(Image.fromarray(frames[i])) for i in at]


def preprocess(im):
    im = im.convert("RGB")
    w, h = im.size
    s = 336 / min(w, h)
    nw, nh = max(336, round(w * s)), max(336, round(h * s))
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.BICUBIC)
    left, top = (nw - 336) // 2, (nh - 336) // 2
    return np.asarray(im.crop((left, top, left + 336, top + 336)))


@torch.no_grad()
def last_logits(m, vis, words, vis_pos=None, text_at=None):
    """Prefill [BOS, vis (1, K, dim), the question's tokens] -> the last row's
    logits. Positions are consecutive, or BOS at 0, vis at vis_pos and the
    question from text_at (default: after the last of them)."""
    x = torch.cat([m.lm.tok.weight[1][None, None], vis, m.lm.tok(words)[None]], 1)
    T = x.shape[1]
    if vis_pos is None:
        pos = torch.arange(T)
    else:
        at = int(vis_pos.max()) + 1 if text_at is None else text_at
        pos = torch.cat([torch.zeros(1, dtype=torch.long), vis_pos, at + torch.arange(len(words))])
    mask = torch.full((T, T), float("-inf")).triu(1)
    return m.lm(x, pos, mask)[0, -1]


@torch.no_grad()
def visual(m, frames, pool):
    """The visual tokens (1, K, dim) of an image (one frame) or a clip (pooled)."""
    feat, _ = m.vision(qt.pixels(frames).double())
    vis = m.proj(feat[:, 1:])
    if len(frames) > 1 and pool > 1:
        vis = qt.pool_frames(vis, len(frames), pool)
    return vis.reshape(1, -1, vis.shape[-1])


@torch.no_grad()
def answer(m, ids, pieces, vis, question):
    logits = last_logits(m, vis, torch.tensor(qt.encode(question, ids)))
    top = torch.topk(logits, 2)
    return pieces[top.indices[0]].strip(), float(top.values[0] - top.values[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="samples/vlm")
    ap.add_argument("--questions", required=True)
    ap.add_argument("--out", default="-")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--frames", type=int, default=8, help="video: frames sampled")
    ap.add_argument("--pool", type=int, default=1, help="video: pooling of each frame's token grid")
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
            path = os.path.join(base, media)
            if path.lower().endswith((".png", ".jpg", ".jpeg")):
                frames = [preprocess(Image.open(path))]
            else:
                frames = video_frames(path, a.frames)
            cache[media] = visual(m, frames, a.pool)
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
