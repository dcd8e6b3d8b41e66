#!/usr/bin/python3
"""How a model's visual tokens sit apart: cosine distances between the
post-projector embeddings (what DivPrune and ToDRE compare) of the held-out
scenes of tools/quality_data.py, background against items. It says whether a
diversity-based selection will find the items: when the background tokens are
near one another and far from the items, the items are the diverse ones.

    /usr/bin/python3 tools/quality_features.py --data DIR [--vtc build/vtc] [--model M ...] [--n 20]

Runs `vtc encode SCENE [--model M]` on the first N scenes of DIR (DIR/items.tsv
lists the patches each item covers) and reads the `embeds` tensor of the
features file. Prints per model, averaged over the scenes: the mean cosine
distance (1 - cosine) between background tokens, between item tokens and
background tokens, and each kind's mean distance to its nearest other token.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quality_items import read_items  # noqa: E402
from vtc_ref import read_safetensors  # noqa: E402


def distances(emb, on_item):
    """-> (bg-bg mean, item-bg mean, item nearest, bg nearest) for one scene's
    embeddings (N, D) and a boolean mask of the tokens on items."""
    e = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    d = 1.0 - e @ e.T
    bg = ~on_item
    bb = d[np.ix_(bg, bg)]
    bb_mean = (bb.sum() - np.trace(bb)) / max(1, bg.sum() * (bg.sum() - 1))
    ib_mean = d[np.ix_(on_item, bg)].mean()
    np.fill_diagonal(d, np.inf)
    nearest = d.min(1)
    return bb_mean, ib_mean, nearest[on_item].mean(), nearest[bg].mean()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="a tools/quality_data.py output folder")
    ap.add_argument("--vtc", default="build/vtc")
    ap.add_argument("--model", action="append", default=[],
                    help="vision model directory (repeatable; default: vtc's embedded one)")
    ap.add_argument("--n", type=int, default=20, help="scenes")
    a = ap.parse_args()
    scenes = [s for s in read_items(a.data)[:a.n] if s[1]]
    print("cosine distances between post-projector tokens, %d held-out scenes" % len(scenes))
    print("  %-28s %8s %8s %13s %11s" % ("model", "bg-bg", "item-bg", "nearest item", "nearest bg"))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "f.safetensors")
        for model in a.model or [None]:
            rows = []
            for media, patches in scenes:
                cmd = [a.vtc, "encode", os.path.join(a.data, media), "-o", out, "--threads", "1"] + \
                    (["--model", model] if model else [])
                r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                if r.returncode != 0:
                    raise SystemExit("quality_features: %s failed: %s" % (" ".join(cmd), r.stderr.strip()))
                emb = read_safetensors(out)[0]["embeds"].astype(np.float64)
                on_item = np.zeros(emb.shape[0], bool)
                on_item[sorted(patches)] = True
                rows.append(distances(emb, on_item))
            m = np.mean(rows, 0)
            print("  %-28s %8.3f %8.3f %13.4f %11.4f" % (model or "(embedded)", *m))
    return 0


if __name__ == "__main__":
    sys.exit(main())
