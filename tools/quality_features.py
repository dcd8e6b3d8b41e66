#!/usr/bin/python3
"""How a model's visual tokens sit apart: cosine distances between the
post-projector embeddings (what DivPrune and ToDRE compare; with --tensor
features, the vision tower's output before the projector) of the held-out
scenes of tools/quality_data.py, background against items. It says whether a
diversity-based selection will find the items: when the background tokens are
near one another and far from the items, the items are the diverse ones.

    /usr/bin/python3 tools/quality_features.py --data DIR [--vtc build/vtc] [--model M ...] [--n 20]
        [--tensor embeds|features] [--divprune K]

Runs `vtc encode SCENE [--model M]` on the first N scenes of DIR (DIR/items.tsv
lists the patches each item covers) and reads the `embeds` (or `features`)
tensor of the features file. Prints per model, averaged over the scenes: the
mean cosine distance (1 - cosine) between background tokens, split into pairs
in the same cell of the 3x3 layout the questions name and pairs in different
cells, between item tokens and background tokens, and each kind's mean
distance to its nearest other token; with --divprune K also the share of the
K tokens DivPrune picks on that tensor (tools/ref_prune.py's PyTorch loop)
that lie on items.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quality_data import token_cells  # noqa: E402
from quality_items import read_items  # noqa: E402
from vtc_ref import read_safetensors  # noqa: E402


def distances(emb, on_item):
    """-> (bg-bg mean, bg-bg in one cell, bg-bg across cells, item-bg mean,
    item nearest, bg nearest) for one scene's embeddings (N, D), N a square
    grid, and a boolean mask of the tokens on items."""
    e = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    d = 1.0 - e @ e.T
    g = int(round(np.sqrt(emb.shape[0])))
    assert g * g == emb.shape[0], "tokens are not a square grid"
    cell = token_cells(g)
    bg = ~on_item
    pair = bg[:, None] & bg[None, :] & ~np.eye(g * g, dtype=bool)
    same = cell[:, None] == cell[None, :]
    ib_mean = d[np.ix_(on_item, bg)].mean()
    np.fill_diagonal(d, np.inf)
    nearest = d.min(1)
    return (d[pair].mean(), d[pair & same].mean(), d[pair & ~same].mean(), ib_mean,
            nearest[on_item].mean(), nearest[bg].mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="a tools/quality_data.py output folder")
    ap.add_argument("--vtc", default="build/vtc")
    ap.add_argument("--model", action="append", default=[],
                    help="vision model directory (repeatable; default: vtc's embedded one)")
    ap.add_argument("--n", type=int, default=20, help="scenes")
    ap.add_argument("--divprune", type=int, default=0, metavar="K",
                    help="also the share of DivPrune's K picks that lie on items")
    ap.add_argument("--tensor", choices=("embeds", "features"), default="embeds",
                    help="post-projector embeddings (default) or the tower's output")
    a = ap.parse_args()
    scenes = [s for s in read_items(a.data)[:a.n] if s[1]]
    print("cosine distances between %s tokens, %d held-out scenes" %
          ("post-projector" if a.tensor == "embeds" else "vision-tower (pre-projector)", len(scenes)))
    if a.divprune:
        import torch  # noqa: E402 (only for --divprune)
        from ref_prune import divprune  # noqa: E402
    print("  %-28s %8s %9s %10s %8s %13s %11s%s" % ("model", "bg-bg", "same cell", "other cell", "item-bg",
                                                    "nearest item", "nearest bg",
                                                    "  divprune@%d on items" % a.divprune if a.divprune else ""))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "f.safetensors")
        for model in a.model or [None]:
            rows, on, kept = [], 0, 0
            for media, patches in scenes:
                cmd = [a.vtc, "encode", os.path.join(a.data, media), "-o", out, "--threads", "1"] + \
                    (["--model", model] if model else [])
                r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                if r.returncode != 0:
                    raise SystemExit("quality_features: %s failed: %s" % (" ".join(cmd), r.stderr.strip()))
                emb = read_safetensors(out)[0][a.tensor].astype(np.float64)
                on_item = np.zeros(emb.shape[0], bool)
                on_item[sorted(patches)] = True
                rows.append(distances(emb, on_item))
                if a.divprune:
                    picks = divprune(torch.from_numpy(emb), a.divprune).numpy()
                    on += int(on_item[picks].sum())
                    kept += len(picks)
            m = np.mean(rows, 0)
            print("  %-28s %8.3f %9.3f %10.3f %8.3f %13.4f %11.4f%s" %
                  (model or "(embedded)", *m, "  %5.1f%% of %d" % (100.0 * on / kept, kept) if a.divprune else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
