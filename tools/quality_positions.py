#!/usr/bin/python3
"""Does the trained VLM read a token's place from its features or from where it
sits in the decoder's sequence? Answers held-out questions (PyTorch, float64,
the exported weights as tools/quality_ref.py loads them) three ways:

  all       every visual token, positions 1..576 (what `vtc eval` runs for none)
  compact   K kept tokens at positions 1..K, the question after them: how
            pruned tokens reach the decoder in `vtc eval` by default and in
            the pre-LLM methods' papers
  original  the same K tokens at their unpruned positions 1 + index, the
            question at 577.. as unpruned (`vtc eval --positions original`)

The kept tokens are K random ones (seeded, raster order), or with --method
those `vtc compress --model MODEL --method M --keep K` keeps (its token file's
`index`). If `original` recovers what `compact`
loses, the decoder leans on RoPE positions rather than on the position
embeddings the ViT put into the tokens. --out writes the `original` answers
per question in tools/quality_ref.py's format: the reference that
tests/cli_quality.sh holds `vtc eval --positions original` to.

    /usr/bin/python3 tools/quality_positions.py --questions DIR/questions.tsv [--model samples/vlm]
        [--keep 192] [--kind what] [--seed 7] [--method M [--vtc build/vtc]] [--out FILE]
"""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quality_ref as qr  # noqa: E402  (sets float64 as the default dtype)
import quality_train as qt  # noqa: E402
from vtc_ref import read_safetensors  # noqa: E402


def vtc_kept(vtc, model, path, method, keep, tmp):
    """The source indices `vtc compress` keeps, in its output order."""
    out = os.path.join(tmp, "t.safetensors")
    cmd = [vtc, "compress", path, "--model", model, "--method", method, "--keep", str(keep), "-o", out,
           "--threads", "1"]
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit("quality_positions: %s failed: %s" % (" ".join(cmd), r.stderr.strip()))
    idx = read_safetensors(out)[0]["index"].reshape(-1).astype(np.int64)
    if (idx < 0).any():
        raise SystemExit("quality_positions: %s keeps tokens with no source index" % method)
    return torch.from_numpy(idx)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="samples/vlm")
    ap.add_argument("--questions", required=True)
    ap.add_argument("--keep", type=int, default=192)
    ap.add_argument("--kind", default="what", help="question kind to ask (\"\" for all)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--method", help="keep what `vtc compress --method M` keeps instead of random tokens")
    ap.add_argument("--vtc", default="build/vtc")
    ap.add_argument("--out", help="write the `original` answers per question here")
    a = ap.parse_args()
    torch.set_num_threads(2)
    m, ids, pieces = qr.load(a.model)
    rng = np.random.Generator(np.random.PCG64(a.seed))
    base = os.path.dirname(os.path.abspath(a.questions))
    right, n, media_done, rows = {"all": 0, "compact": 0, "original": 0}, 0, None, []
    tmp = tempfile.TemporaryDirectory()
    for line in open(a.questions):
        if not line.strip() or line.startswith("#"):
            continue
        media, kind, q, ans = line.rstrip("\n").split("\t")
        if a.kind and kind != a.kind:
            continue
        with torch.no_grad():
            if media != media_done:
                path = os.path.join(base, media)
                feat, _ = m.vision(qt.pixels([qr.preprocess(Image.open(path))]).double())
                vis = m.proj(feat[:, 1:])
                if a.method:
                    keep = vtc_kept(a.vtc, a.model, path, a.method, a.keep, tmp.name)
                else:
                    keep = torch.from_numpy(np.sort(rng.choice(vis.shape[1], a.keep, replace=False)))
                media_done = media
            words = torch.tensor(qt.encode(q, ids))
            text_at = 1 + vis.shape[1]
            runs = (("all", vis, None), ("compact", vis[:, keep], None), ("original", vis[:, keep], 1 + keep))
            for name, v, pos in runs:
                logits = qr.last_logits(m, v, words, pos, text_at if pos is not None else None)
                top = torch.topk(logits, 2)
                pred = pieces[int(top.indices[0])].strip()
                right[name] += pred == ans
                if name == "original":
                    rows.append(f"{media}\t{q}\t{pred}\t{float(top.values[0] - top.values[1]):.6f}")
        n += 1
    if not n:
        raise SystemExit("quality_positions: no questions of kind %r" % a.kind)
    kept = "%s@%d" % (a.method, a.keep) if a.method else "%d random tokens (seed %d)" % (a.keep, a.seed)
    print("quality_positions: %d %s questions, %s kept" % (n, a.kind or "all", kept))
    for name in right:
        print("  %-9s %5.1f%%" % (name, 100.0 * right[name] / n))
    if a.out:
        with open(a.questions, "rb") as f:
            digest = hashlib.sha256(b"".join(l for l in f.read().splitlines(True) if not l.startswith(b"#"))).hexdigest()
        with open(a.out, "w") as out:
            out.write(f"# tools/quality_positions.py --model {a.model}: {kept}, original positions: {n} questions, "
                      f"accuracy {right['original'] / n:.4f}, questions {digest[:16]}\n")
            out.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
