#!/usr/bin/python3
"""Scenes and questions for vtc's quality benchmark (issue: a small VLM trained
here on real images, and accuracy versus kept tokens for every method).

A scene is a 336 x 336 crop of a real photo (scikit-image's sample photos,
dimmed) with 1-5 Fashion-MNIST items (Debian dataset-fashion-mnist, MIT)
composited into the cells of a 3 x 3 layout, each item tinted, 56-84 px, at a
random place inside its cell. Questions have one-word answers and depend on
specific regions:

  what   "what is at the top-left ?"     -> an item name or "nothing"
  is     "is there a bag ?"              -> "yes" / "no"
  count  "how many bags ?"               -> "0" .. "4"
  where  "where is the bag ?"            -> a cell name (asked when exactly one)

Training scenes draw items from Fashion-MNIST's training split and seeds from
the trainer's stream; held-out scenes use the t10k split and seeds >= 10**9, so
no held-out scene or item image was seen in training.

    /usr/bin/python3 tools/quality_data.py --out DIR [--n 300] [--seed 1000000000]

writes DIR/img/NNNNN.png, DIR/questions.tsv (media, kind, question, answer),
the format `vtc eval --questions` reads, and DIR/items.tsv (media, then the
raster indices of the 24 x 24 patches an item covers, which
tools/quality_items.py reads). Deterministic: the same seed gives the same
bytes (numpy's PCG64 stream and Pillow's resampling).
"""
import argparse
import gzip
import os

import numpy as np
from PIL import Image

SIZE = 336
GRID = 3
CELL = SIZE // GRID  # 112
PATCH = 14
TOKENS = SIZE // PATCH  # 24


def token_cells(g=TOKENS):
    """-> the layout cell (0 to GRID^2 - 1) under each token of a g x g token
    grid over the scene, in raster order."""
    r = np.arange(g * g)
    return (r // g * GRID // g) * GRID + r % g * GRID // g

# Fashion-MNIST labels used (the visually distinct ones) and their names
CLASSES = [(0, "shirt"), (1, "trousers"), (3, "dress"), (7, "sneaker"), (8, "bag"), (9, "boot")]
PLURAL = {"shirt": "shirts", "trousers": "trousers", "dress": "dresses", "sneaker": "sneakers", "bag": "bags",
          "boot": "boots"}
CELLS = ["top-left", "top", "top-right", "left", "center", "right", "bottom-left", "bottom", "bottom-right"]
BACKGROUNDS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg",
               "retina.jpg", "brick.png", "grass.png", "gravel.png", "camera.png", "page.png"]
SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"
FMNIST = "/usr/share/datasets/fashion-mnist"
HELD_OUT_SEED = 10**9

# The words of every question and answer; each is one token of the tokenizer
# that tools/quality_train.py writes (a space-led word, as SentencePiece does).
# The clips' words come last, so the image vocabulary keeps its token ids.
WORDS = (["what", "is", "at", "the", "there", "a", "how", "many", "where", "?", "nothing", "yes", "no"] +
         [n for _, n in CLASSES] + sorted(set(PLURAL.values()) - {n for _, n in CLASSES}) + CELLS +
         ["0", "1", "2", "3", "4"] + ["changed", "first", "last", "appeared", "vanished", "moved"])
CLIP_FRAMES = 8
CLIP_FPS = 2
CLIP_SEEDS = 5 * 10**8  # clip i of a run starting at seed S uses S + CLIP_SEEDS + i


def _idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


class Assets:
    """Item images per class (one Fashion-MNIST split) and background photos."""

    def __init__(self, split):
        pre = "train" if split == "train" else "t10k"
        images = _idx(os.path.join(FMNIST, pre + "-images-idx3-ubyte.gz"))
        labels = _idx(os.path.join(FMNIST, pre + "-labels-idx1-ubyte.gz"))
        self.items = [images[labels == lab] for lab, _ in CLASSES]
        self.backgrounds = []
        for name in BACKGROUNDS:
            path = os.path.join(SKIMAGE_DATA, name)
            if os.path.exists(path):
                self.backgrounds.append(Image.open(path).convert("RGB"))
        if not self.backgrounds:
            raise SystemExit("quality_data: no background photos (install python3-skimage)")


def _tint(rng):
    h = rng.uniform(0, 6)
    s, v = rng.uniform(0.5, 1.0), rng.uniform(0.8, 1.0)
    i, f = int(h) % 6, h - int(h)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]) * 255.0


def _background(rng, assets):
    bg = assets.backgrounds[rng.integers(len(assets.backgrounds))]
    w, h = bg.size
    side = int(rng.integers(min(h, w) // 2, min(h, w) + 1))
    y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = bg.crop((x0, y0, x0 + side, y0 + side)).resize((SIZE, SIZE), Image.BILINEAR)
    return np.asarray(crop, dtype=np.float64) * rng.uniform(0.45, 0.7)


def _item(rng, assets, cell, k=None):
    """-> one placed item: (class index, cell, y, x, alpha (s, s), colour (s, s, 3))."""
    if k is None:
        k = int(rng.integers(len(CLASSES)))
    pool = assets.items[k]
    item = pool[rng.integers(len(pool))]
    s = int(rng.integers(56, 85))
    v = np.asarray(Image.fromarray(item).resize((s, s), Image.BILINEAR), dtype=np.float64) / 255.0
    oy, ox = _place(rng, cell, s)
    color = _tint(rng)[None, None, :] * (0.35 + 0.65 * v[:, :, None])
    return k, cell, oy, ox, np.clip(v * 2.0, 0, 1), color


def _place(rng, cell, s):
    """-> the top-left corner (y, x) of an s x s item at a random place inside cell."""
    cy, cx = divmod(cell, GRID)
    return cy * CELL + int(rng.integers(0, CELL - s + 1)), cx * CELL + int(rng.integers(0, CELL - s + 1))


def _composite(img, items):
    """Draws items (in order) over a float copy of img -> uint8 image, owner map."""
    img = img.copy()
    owner = np.full((SIZE, SIZE), -1, np.int64)
    for k, _, oy, ox, a, color in items:
        s = a.shape[0]
        region = img[oy:oy + s, ox:ox + s]
        img[oy:oy + s, ox:ox + s] = region * (1 - a[:, :, None]) + color * a[:, :, None]
        owner[oy:oy + s, ox:ox + s][a > 0.3] = k
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), owner


def make_scene(rng, assets, n_items=(1, 5)):
    """-> image uint8 (336, 336, 3), objects [(class index, cell)], patch labels
    (24, 24) int (class index, or len(CLASSES) for background); between
    n_items[0] and n_items[1] items (held-out scenes: 1-5)."""
    img = _background(rng, assets)
    n = int(rng.integers(n_items[0], n_items[1] + 1))
    cells = rng.choice(GRID * GRID, size=n, replace=False)
    items = [_item(rng, assets, cell) for cell in sorted(int(c) for c in cells)]
    objects = [(it[0], it[1]) for it in items]
    img, owner = _composite(img, items)
    # a patch belongs to an item when over a fifth of its pixels are item
    # (the most frequent item among them; the lowest class index on a tie)
    blocks = owner.reshape(TOKENS, PATCH, TOKENS, PATCH)
    hits = np.stack([(blocks == k).sum(axis=(1, 3)) for k in range(len(CLASSES))], -1)
    labels = np.where(hits.sum(-1) > PATCH * PATCH // 5, hits.argmax(-1), len(CLASSES))
    return img, objects, labels.astype(np.int64)


def _what(at, c):
    return ("what", f"what is at the {CELLS[c]} ?", CLASSES[at[c]][1] if c in at else "nothing")


def _is(counts, k):
    return ("is", f"is there a {CLASSES[k][1]} ?", "yes" if counts[k] else "no")


def _count(counts, k):
    return ("count", f"how many {PLURAL[CLASSES[k][1]]} ?", str(min(int(counts[k]), 4)))


def _where(objects, k):
    return ("where", f"where is the {CLASSES[k][1]} ?", CELLS[next(c for kk, c in objects if kk == k)])


def make_questions(rng, objects, n_what=2):
    """-> [(kind, question, answer)] for one scene: n_what cells (at least one
    occupied), one presence question (yes half the time), one count, and one
    where when some class appears exactly once."""
    at = {cell: k for k, cell in objects}
    counts = np.bincount([k for k, _ in objects], minlength=len(CLASSES))
    occupied = sorted(at)
    cells = [occupied[rng.integers(len(occupied))]]
    while len(cells) < n_what:
        c = int(rng.integers(GRID * GRID))
        if c not in cells:
            cells.append(c)
    qs = [_what(at, c) for c in cells]
    present = [k for k in range(len(CLASSES)) if counts[k]]
    absent = [k for k in range(len(CLASSES)) if not counts[k]]
    if absent and (not present or rng.random() < 0.5):
        k = absent[rng.integers(len(absent))]
    else:
        k = present[rng.integers(len(present))]
    qs.append(_is(counts, k))
    k = int(rng.integers(len(CLASSES))) if rng.random() < 0.3 else present[rng.integers(len(present))]
    qs.append(_count(counts, k))
    once = [k for k in range(len(CLASSES)) if counts[k] == 1]
    if once:
        qs.append(_where(objects, once[rng.integers(len(once))]))
    return qs


# every question a scene supports: 9 what, 6 is, 6 count, up to 5 where
ALL_QUESTIONS = GRID * GRID + 2 * len(CLASSES) + 5


def all_questions(objects):
    """-> every question of make_questions' templates that the scene supports
    (training asks them all: the presence, count and place of each class, not
    one drawn at random)."""
    at = {cell: k for k, cell in objects}
    counts = np.bincount([k for k, _ in objects], minlength=len(CLASSES))
    return ([_what(at, c) for c in range(GRID * GRID)] + [_is(counts, k) for k in range(len(CLASSES))] +
            [_count(counts, k) for k in range(len(CLASSES))] +
            [_where(objects, k) for k in range(len(CLASSES)) if counts[k] == 1])


def _patches(it):
    """-> (24, 24) bool: the patches an item covers (over a fifth of their pixels)."""
    _, _, oy, ox, a, _ = it
    m = np.zeros((SIZE, SIZE), bool)
    m[oy:oy + a.shape[0], ox:ox + a.shape[1]] = a > 0.3
    return m.reshape(TOKENS, PATCH, TOKENS, PATCH).sum((1, 3)) > PATCH * PATCH // 5


def _moved(rng, it, cell):
    """-> item it (the same picture, size and colour) at a random place in cell."""
    k, _, _, _, a, color = it
    return (k, cell) + _place(rng, cell, a.shape[0]) + (a, color)


CHANGES = ("appeared", "vanished", "moved")


def make_clip(rng, assets, n_frames=CLIP_FRAMES):
    """-> frames uint8 (n_frames, 336, 336, 3), events [(frame, "appeared",
    "vanished" or "moved", class index)] and, per event, the patches its item
    covers in each frame (n_frames, 24, 24) bool (empty where it is not shown;
    a moved item's before and after): a scene's photo with 1-3 items that
    stay, and two changes at distinct frames after the first, each an item
    that appears in an empty cell, vanishes, or moves to an empty cell (one
    of a class neither other change has; an item that stays until then, else
    an appearance)."""
    img = _background(rng, assets)
    n = int(rng.integers(1, 4))
    cells = [int(c) for c in rng.choice(GRID * GRID, size=n, replace=False)]
    items = [_item(rng, assets, c) for c in sorted(cells)]
    at = sorted(int(f) for f in rng.choice(np.arange(1, n_frames), size=2, replace=False))
    events, shown, which = [], [(0, n_frames, it) for it in items], []  # shown: (from, until, item)
    used = set()
    for f in at:
        kind = CHANGES[int(rng.integers(len(CHANGES)))]
        can = [i for i, (a, b, it) in enumerate(shown) if b == n_frames and a < f and it[0] not in used]
        free = [c for c in range(GRID * GRID) if all(it[1] != c for _, _, it in shown)]
        if kind != "appeared" and can:
            i = can[rng.integers(len(can))]
            a, _, it = shown[i]
            shown[i] = (a, f, it)
            which.append([i])
            if kind == "moved":
                shown.append((f, n_frames, _moved(rng, it, int(free[rng.integers(len(free))]))))
                which[-1].append(len(shown) - 1)
            events.append((f, kind, it[0]))
        else:
            k = int(rng.choice([k for k in range(len(CLASSES)) if k not in used]))
            it = _item(rng, assets, int(free[rng.integers(len(free))]), k)
            shown.append((f, n_frames, it))
            events.append((f, "appeared", k))
            which.append([len(shown) - 1])
        used.add(events[-1][2])
    frames = np.stack([_composite(img, [it for a, b, it in shown if a <= t < b])[0] for t in range(n_frames)])
    masks = []
    for idx in which:
        m = np.zeros((n_frames, TOKENS, TOKENS), bool)
        for i in idx:
            a, b, it = shown[i]
            m[a:b] |= _patches(it)
        masks.append(m)
    return frames, events, masks


CLIP_QUESTIONS = 2 + len(CHANGES)  # the most a clip supports


def clip_questions(events):
    """-> every question a clip supports: which item changed first and last
    (kind "order"), and what appeared, what vanished and what moved (kinds
    "appeared", "vanished", "moved"; "nothing" when no item did, not asked
    when two did)."""
    name = lambda k: CLASSES[k][1]
    qs = [("order", "what changed first ?", name(events[0][2])), ("order", "what changed last ?", name(events[1][2]))]
    for kind in CHANGES:
        hit = [k for _, e, k in events if e == kind]
        if len(hit) < 2:
            qs.append((kind, f"what {kind} ?", name(hit[0]) if hit else "nothing"))
    return qs


def write_clip(path, frames, fps=CLIP_FPS):
    """Writes frames losslessly (FFV1, RGB) with the ffmpeg command-line tool."""
    import subprocess
    n, h, w, _ = frames.shape
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-r", str(fps), "-i", "-", "-c:v", "ffv1", "-pix_fmt", "bgr0", "-fflags", "+bitexact",
           "-flags:v", "+bitexact", path]
    subprocess.run(cmd, input=frames.tobytes(), check=True)


def scene_rng(seed):
    return np.random.Generator(np.random.PCG64(seed))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=300, help="scenes")
    ap.add_argument("--seed", type=int, default=HELD_OUT_SEED, help="first scene's seed (scene i uses seed + i)")
    ap.add_argument("--split", choices=["test", "train"], default="test", help="Fashion-MNIST split of the items")
    ap.add_argument("--clips", type=int, default=0, help="clips (clip i uses seed + %d + i)" % CLIP_SEEDS)
    a = ap.parse_args()
    if a.split == "test" and a.seed < HELD_OUT_SEED:
        raise SystemExit(f"quality_data: held-out seeds start at {HELD_OUT_SEED}")
    assets = Assets(a.split)
    os.makedirs(os.path.join(a.out, "img"), exist_ok=True)
    lines = ["# media\tkind\tquestion\tanswer  (tools/quality_data.py --n %d --seed %d --split %s)" %
             (a.n, a.seed, a.split)]
    items = ["# media\tpatches covered by an item (raster index y * 24 + x)"]
    for i in range(a.n):
        rng = scene_rng(a.seed + i)
        img, objects, labels = make_scene(rng, assets)
        name = f"img/{i:05d}.png"
        Image.fromarray(img).save(os.path.join(a.out, name), compress_level=1)
        for kind, q, ans in make_questions(rng, objects):
            lines.append(f"{name}\t{kind}\t{q}\t{ans}")
        items.append(name + "\t" + " ".join(str(j) for j in np.flatnonzero(labels.reshape(-1) < len(CLASSES))))
    with open(os.path.join(a.out, "questions.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(a.out, "items.tsv"), "w") as f:
        f.write("\n".join(items) + "\n")
    print(f"quality_data: {a.n} scenes, {len(lines) - 1} questions in {a.out}")
    if a.clips:
        os.makedirs(os.path.join(a.out, "clip"), exist_ok=True)
        lines = ["# media\tkind\tquestion\tanswer  (tools/quality_data.py --clips %d --seed %d --split %s; "
                 "%d frames at %d fps)" % (a.clips, a.seed, a.split, CLIP_FRAMES, CLIP_FPS)]
        for i in range(a.clips):
            frames, events, _ = make_clip(scene_rng(a.seed + CLIP_SEEDS + i), assets)
            name = f"clip/{i:05d}.mkv"
            write_clip(os.path.join(a.out, name), frames)
            lines += [f"{name}\t{kind}\t{q}\t{ans}" for kind, q, ans in clip_questions(events)]
        with open(os.path.join(a.out, "clips.tsv"), "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"quality_data: {a.clips} clips, {len(lines) - 1} questions in {a.out}/clips.tsv")


if __name__ == "__main__":
    main()
