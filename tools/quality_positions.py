#!/usr/bin/python3
"""Does the trained VLM read a token's place from its features or from where it
sits in the decoder's sequence? Answers held-out questions (PyTorch, float64,
the exported weights as tools/quality_ref.py loads them) three ways:

  all       every visual token, positions 1..576 (what `vtc eval` runs for none)
  compact   K random tokens (seeded, raster order) at positions 1..K, the way
            pruned tokens reach the decoder in vtc and in the methods' papers
  original  the same K tokens at their unpruned positions 1 + index

If `original` recovers what `compact` loses, the decoder leans on RoPE
positions rather than on the position embeddings the ViT put into the tokens.

    /usr/bin/python3 tools/quality_positions.py --questions DIR/questions.tsv [--model samples/vlm]
        [--keep 192] [--kind what] [--seed 7]
"""
import argparse
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quality_ref as qr  # noqa: E402  (sets float64 as the default dtype)
import quality_train as qt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="samples/vlm")
    ap.add_argument("--questions", required=True)
    ap.add_argument("--keep", type=int, default=192)
    ap.add_argument("--kind", default="what", help="question kind to ask (\"\" for all)")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    torch.set_num_threads(2)
    m, ids, pieces = qr.load(a.model)
    rng = np.random.Generator(np.random.PCG64(a.seed))
    base = os.path.dirname(os.path.abspath(a.questions))
    right, n, media_done = {"all": 0, "compact": 0, "original": 0}, 0, None
    for line in open(a.questions):
        if not line.strip() or line.startswith("#"):
            continue
        media, kind, q, ans = line.rstrip("\n").split("\t")
        if a.kind and kind != a.kind:
            continue
        with torch.no_grad():
            if media != media_done:
                feat, _ = m.vision(qt.pixels([qr.preprocess(Image.open(os.path.join(base, media)))]).double())
                vis = m.proj(feat[:, 1:])
                keep = torch.from_numpy(np.sort(rng.choice(vis.shape[1], a.keep, replace=False)))
                media_done = media
            words = torch.tensor(qt.encode(q, ids))
            runs = (("all", vis, None), ("compact", vis[:, keep], None), ("original", vis[:, keep], 1 + keep))
            for name, v, pos in runs:
                right[name] += pieces[int(qr.last_logits(m, v, words, pos).argmax())].strip() == ans
        n += 1
    if not n:
        raise SystemExit("quality_positions: no questions of kind %r" % a.kind)
    print("quality_positions: %d %s questions, %d random tokens kept (seed %d)" % (n, a.kind or "all", a.keep, a.seed))
    for name in right:
        print("  %-9s %5.1f%%" % (name, 100.0 * right[name] / n))


if __name__ == "__main__":
    main()
