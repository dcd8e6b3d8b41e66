#!/usr/bin/python3
"""Where the kept tokens land: for each method, the share of its kept tokens
that sit on an item's patches in the held-out scenes of tools/quality_data.py,
next to the share of the image the items cover. A method that reads the image
keeps the items; random keeps them at the cover rate.

    /usr/bin/python3 tools/quality_items.py --data DIR [--vtc build/vtc] [--model M]
        [--methods cls,divprune,random] [--keep 64] [--n 20] [--min METHOD=PERCENT ...]

Runs `vtc compress IMAGE --method M --keep K -o FILE` (the embedded default
model unless --model) on the first N scenes of DIR (DIR/items.tsv lists the
patches each item covers) and reads the kept `index` tensor of the token file.
A kept token counts as on an item when the patch its index names is one (for
tome, the patch a merge landed in); a token with no patch (index -1, such as
visionzip's merged contextual tokens) counts as off. Prints one line
per method; with --min, exits 1 when a method's share is under its percentage.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vtc_ref import read_safetensors  # noqa: E402


def read_items(data):
    """-> [(media, set of patch indices an item covers)] from DATA/items.tsv
    (tools/quality_data.py's output), in file order."""
    scenes = []
    with open(os.path.join(data, "items.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            media, _, patches = line.rstrip("\n").partition("\t")
            scenes.append((media, {int(p) for p in patches.split()}))
    return scenes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="a tools/quality_data.py output folder")
    ap.add_argument("--vtc", default="build/vtc")
    ap.add_argument("--model", help="vision model (default: vtc's embedded one)")
    ap.add_argument("--methods", default="cls,visionzip,divprune,todre,tome,random,uniform")
    ap.add_argument("--keep", default="64")
    ap.add_argument("--n", type=int, default=20, help="scenes")
    ap.add_argument("--min", action="append", default=[], metavar="METHOD=PERCENT")
    a = ap.parse_args()
    scenes = read_items(a.data)[:a.n]
    cover = np.mean([len(p) / 576.0 for _, p in scenes]) * 100
    print("kept tokens on items, %d held-out scenes, keep %s (items cover %.1f%% of the patches)" %
          (len(scenes), a.keep, cover))
    share = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "t.safetensors")
        for m in a.methods.split(","):
            on = kept = 0
            for media, patches in scenes:
                cmd = [a.vtc, "compress", os.path.join(a.data, media), "--method", m, "--keep", a.keep, "-o", out,
                       "--threads", "1"] + (["--model", a.model] if a.model else [])
                r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                if r.returncode != 0:
                    raise SystemExit("quality_items: %s failed: %s" % (" ".join(cmd), r.stderr.strip()))
                idx = read_safetensors(out)[0]["index"].reshape(-1)
                on += sum(1 for i in idx if int(i) in patches)
                kept += idx.size
            share[m] = 100.0 * on / kept
            print("  %-10s %5.1f%% of %d kept tokens" % (m, share[m], kept))
    bad = 0
    for spec in a.min:
        m, _, pct = spec.partition("=")
        if m not in share:
            raise SystemExit("quality_items: --min names %s, which did not run" % m)
        if share[m] < float(pct):
            print("quality_items: %s keeps %.1f%% on items, under %s%%" % (m, share[m], pct))
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
