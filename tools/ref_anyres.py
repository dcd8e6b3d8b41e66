"""Reference for vision/anyres.c: LLaVA-NeXT / LLaVA-OneVision "anyres" planning,
token counts and tile pixels, and the bilinear grid shrink (base/grid.c).

Written to the semantics of Hugging Face transformers (nothing here reads vtc's C):
- image_processing_utils.py: select_best_resolution (largest effective
  resolution, then least waste; pinpoints are (height, width)), get_patch_output_size;
- models/llava_next/image_processing_llava_next.py: _resize_for_patching,
  _pad_for_patching (divmod of the margin: the odd pixel goes after),
  divide_to_patches (row-major tiles), get_image_patches (the base image is a
  plain resize to (S, S)), _preprocess (a tile is already S x S: resize and crop
  are identities; then rescale and normalize);
- models/llava_next/modeling_llava_next.py: get_anyres_image_grid_shape,
  unpad_image (int(round(x, 7)); the slice [pad : n - pad] keeps n - 2 * pad),
  pack_image_features (base tokens, then the unpadded grid with image_newline
  after every row);
- models/llava_next/processing_llava_next.py and
  models/llava_onevision/processing_llava_onevision.py: _get_number_of_features,
  _get_unpadded_features (the processor's token count);
- models/llava_onevision/modeling_llava_onevision.py: pack_image_features with
  vision_aspect_ratio anyres_max_N: ratio = sqrt(h * w / (N * g**2)), and when
  ratio > 1.1 nn.functional.interpolate(size=(int(h // ratio), int(w // ratio)),
  mode="bilinear") (align_corners False, no antialias).
The image processors' Pillow path is followed on the PIL image directly (uint8
BICUBIC resize, zero padding in numpy) rather than through transformers' numpy
round trip, which infers the channel axis and misreads images 1 or 3 rows high.

Run with Debian's /usr/bin/python3 (python3-torch, python3-pil, python3-numpy):
    /usr/bin/python3 tools/ref_anyres.py            # rewrites tests/fixtures/anyres/
    /usr/bin/python3 tools/ref_anyres.py --check    # only the self-checks
Deterministic: the files are byte-identical on every run.
"""
import argparse
import math
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtc_ref  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "anyres")

NEXT_336 = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]  # llava-hf/llava-v1.6-*
NEXT_384 = [[384, 768], [768, 384], [768, 768], [1152, 384], [384, 1152]]  # the same grid for a 384/14 tower
# llava-hf/llava-onevision-qwen2-7b-ov-hf config.json: every (h, w) in 384 .. 2304, h outer
OV_384 = [[h * 384, w * 384] for h in range(1, 7) for w in range(1, 7)]
# the 4 x 4 list of transformers' convert_llava_weights_to_hf-style anyres configs, at 336
GRID16_336 = [[a * 336, b * 336] for a, b in [(1, 1), (1, 2), (2, 1), (2, 2), (1, 3), (3, 1), (2, 3), (3, 2),
                                              (3, 3), (1, 4), (4, 1), (2, 4), (4, 2), (3, 4), (4, 3), (4, 4)]]
TINY_64 = [[64, 128], [128, 64], [128, 128]]  # a toy tower (64 / 8) whose tiles shrink the test photos

# name, tile S, patch p, max_tiles (0 = LLaVA-NeXT, 9 = OneVision anyres_max_9), pinpoints (h, w)
SETS = [
    ("next336", 336, 14, 0, NEXT_336),
    ("next384", 384, 14, 0, NEXT_384),
    ("ov384", 384, 14, 9, OV_384),
    ("grid16", 336, 14, 0, GRID16_336),
    ("tiny64", 64, 8, 0, TINY_64),
]

# ---------------------------------------------------------------- transformers' functions


def select_best_resolution(original_size, possible_resolutions):
    """original_size (h, w); the first pinpoint with the largest effective
    resolution, ties to the least waste (strict comparisons, so list order wins)."""
    original_height, original_width = original_size
    best_fit = None
    max_effective_resolution = 0
    min_wasted_resolution = float("inf")
    for height, width in possible_resolutions:
        scale = min(width / original_width, height / original_height)
        downscaled_width, downscaled_height = int(original_width * scale), int(original_height * scale)
        effective_resolution = min(downscaled_width * downscaled_height, original_width * original_height)
        wasted_resolution = (width * height) - effective_resolution
        if effective_resolution > max_effective_resolution or (
            effective_resolution == max_effective_resolution and wasted_resolution < min_wasted_resolution
        ):
            max_effective_resolution = effective_resolution
            min_wasted_resolution = wasted_resolution
            best_fit = (height, width)
    return best_fit


def get_patch_output_size(original_size, target_resolution):
    """The aspect-preserving size (h, w) inside the pinpoint: the tighter side fills
    it, the other is ceil()'d and capped."""
    original_height, original_width = original_size
    target_height, target_width = target_resolution
    scale_w = target_width / original_width
    scale_h = target_height / original_height
    if scale_w < scale_h:
        new_width = target_width
        new_height = min(math.ceil(original_height * scale_w), target_height)
    else:
        new_height = target_height
        new_width = min(math.ceil(original_width * scale_h), target_width)
    return new_height, new_width


def padding_for_patching(new_size, target_resolution):
    """_pad_for_patching: ((top, bottom), (left, right)); the odd pixel goes after."""
    paste_y, r_y = divmod(target_resolution[0] - new_size[0], 2)
    paste_x, r_x = divmod(target_resolution[1] - new_size[1], 2)
    return (paste_y, paste_y + r_y), (paste_x, paste_x + r_x)


def unpad_image(tensor, original_size):
    """modeling_llava_next.unpad_image on a [C, H, W] tensor; original_size (h, w)."""
    original_height, original_width = original_size
    current_height, current_width = tensor.shape[1:]
    original_aspect_ratio = original_width / original_height
    current_aspect_ratio = current_width / current_height
    if original_aspect_ratio > current_aspect_ratio:
        scale_factor = current_width / original_width
        new_height = int(round(original_height * scale_factor, 7))
        padding = (current_height - new_height) // 2
        return tensor[:, padding:current_height - padding, :]
    scale_factor = current_height / original_height
    new_width = int(round(original_width * scale_factor, 7))
    padding = (current_width - new_width) // 2
    return tensor[:, :, padding:current_width - padding]


def model_path(h, w, S, p, pinpoints, max_tiles):
    """pack_image_features on a real feature tensor (one channel holding each
    stitched cell's flat index): returns the unpadded window (y0, x0, uh, uw),
    the output grid (oh, ow) and the token count (base, then rows + newlines)."""
    g = S // p
    best_h, best_w = select_best_resolution((h, w), pinpoints)
    tiles_h, tiles_w = best_h // S, best_w // S  # get_anyres_image_grid_shape
    # [tiles, g*g, C] tile features -> view(th, tw, g, g, C).permute(4, 0, 2, 1, 3) -> [C, th*g, tw*g]
    n = tiles_h * tiles_w
    feats = torch.arange(n * g * g, dtype=torch.float64).reshape(n, g * g, 1)
    grid = feats.view(tiles_h, tiles_w, g, g, -1).permute(4, 0, 2, 1, 3).contiguous()
    grid = grid.flatten(1, 2).flatten(2, 3)
    gh, gw = grid.shape[1:]
    un = unpad_image(grid, (h, w))
    uh, uw = un.shape[1:]
    # the window's corner, read back from the cells it kept (the stitched cell (y, x)
    # holds tile (y // g, x // g)'s feature (y % g, x % g))
    if uh and uw:
        v = int(un[0, 0, 0])
        t, r = divmod(v, g * g)
        y0, x0 = (t // tiles_w) * g + r // g, (t % tiles_w) * g + r % g
    else:  # nothing kept on one axis: the slice start
        y0 = (gh - uh) // 2
        x0 = (gw - uw) // 2
    assert (y0, x0) == ((gh - uh) // 2, (gw - uw) // 2)
    feat = un
    if max_tiles:
        ratio = math.sqrt(uh * uw / (max_tiles * g**2))
        if ratio > 1.1:
            feat = torch.nn.functional.interpolate(feat[None].float(), [int(uh // ratio), int(uw // ratio)],
                                                   mode="bilinear", align_corners=False)[0]
    newline = torch.zeros(feat.shape[0], dtype=feat.dtype)
    feat = torch.cat((feat, newline[:, None, None].expand(*feat.shape[:-1], 1)), dim=-1)
    rows = feat.flatten(1, 2).transpose(0, 1)
    oh, ow = feat.shape[1], feat.shape[2] - 1
    tokens = g * g + rows.shape[0]
    return dict(best_h=best_h, best_w=best_w, tiles_h=tiles_h, tiles_w=tiles_w, grid_h=gh, grid_w=gw,
                y0=y0, x0=x0, uh=uh, uw=uw, oh=oh, ow=ow, tokens=tokens)


def processor_tokens(h, w, S, p, pinpoints, max_tiles):
    """The processors' count: _get_number_of_features / _get_unpadded_features
    (LlavaNextProcessor; LlavaOnevisionProcessor's anyres_max_N shrink); the base
    tile's CLS and the 'default' strategy's drop cancel out, so base = g * g."""
    height = width = S  # pixel_values' tile size
    height_best, width_best = select_best_resolution([h, w], pinpoints)
    scale_height, scale_width = height_best // height, width_best // width
    patches_height, patches_width = height // p, width // p
    current_height = patches_height * scale_height
    current_width = patches_width * scale_width
    if w / h > current_width / current_height:
        new_height = int(round(h * (current_width / w), 7))
        padding = (current_height - new_height) // 2
        current_height -= padding * 2
    else:
        new_width = int(round(w * (current_height / h), 7))
        padding = (current_width - new_width) // 2
        current_width -= padding * 2
    unpadded, newlines = current_height * current_width, current_height
    if max_tiles:
        ratio = math.sqrt(current_height * current_width / (max_tiles * patches_height**2))
        if ratio > 1.1:
            unpadded = int(current_height // ratio) * int(current_width // ratio)
            newlines = int(current_height // ratio)
    return unpadded + newlines + patches_height * patches_width


def plan(w, h, S, p, pinpoints, max_tiles):
    """One row of plans.tsv; the two token counts must agree."""
    m = model_path(h, w, S, p, pinpoints, max_tiles)
    n = processor_tokens(h, w, S, p, pinpoints, max_tiles)
    assert m["tokens"] == n, (w, h, S, max_tiles, m, n)
    assert (m["uh"], m["uw"]) == unpadded_size(h, w, m["grid_h"], m["grid_w"])
    rh, rw = get_patch_output_size((h, w), (m["best_h"], m["best_w"]))
    (top, _), (left, _) = padding_for_patching((rh, rw), (m["best_h"], m["best_w"]))
    m.update(resized_h=rh, resized_w=rw, pad_top=top, pad_left=left)
    return m


# ---------------------------------------------------------------- the image sweep


def exact_ceil_differs(h, w, th, tw):
    """get_patch_output_size where float rounding moves a ceil() off the exact
    rational one (e.g. 200 x 150 into 672 x 336: 200 * (336/150) = 448.00000000000006 -> 449)."""
    scale_w, scale_h = tw / w, th / h
    if scale_w < scale_h:
        return math.ceil(h * scale_w) != -(-h * tw // w)
    return math.ceil(w * scale_h) != -(-w * th // h)


def round7_matters(h, w, gh, gw):
    """unpad_image where int(round(x, 7)) differs from int(x)."""
    if w / h > gw / gh:
        x = h * (gw / w)
    else:
        x = w * (gh / h)
    return int(round(x, 7)) != int(x)


def unpadded_size(h, w, gh, gw):
    """The (rows, columns) unpad_image keeps of a gh x gw grid, without a tensor."""
    if w / h > gw / gh:
        return gh - 2 * ((gh - int(round(h * (gw / w), 7))) // 2), gw
    return gh, gw - 2 * ((gw - int(round(w * (gh / h), 7))) // 2)


def image_sizes(S, p, pinpoints, max_tiles):
    """(w, h) pairs: aspect ratios 1:8 .. 8:1 at several scales, tiny and extreme
    images, the issue's known cases, and sizes found on rounding edges."""
    sizes = [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (1, 3), (3, 3), (7, 5), (5, 7), (13, 9), (1, 100000),
             (100000, 1), (1, 4000), (4000, 1), (600, 400), (512, 512), (4000, 3000), (3000, 4000), (640, 480),
             (1920, 1080), (1080, 1920), (336, 336), (672, 336), (336, 672), (384, 384), (768, 384),
             (2304, 2304), (8000, 1000), (1000, 8000), (200, 150), (121, 180), (S, S), (S + 1, S), (S, S - 1)]
    # OneVision's shrink edges (found by scanning every size to 2400 against OV_384):
    # 944 x 1153 just below ratio 1.1 (1.09994), 769 x 1733 just above (1.00181);
    # 1923 x 582 and 1930 x 584: a 50-row window, ratio 1.1111111111111112 (above
    # 10/9), where 50 / ratio rounds to 45.0 but Python's 50 // ratio is 44.0
    sizes += [(944, 1153), (769, 1733), (1923, 582), (1930, 584)]
    for num, den in [(1, 8), (1, 6), (1, 5), (1, 4), (1, 3), (1, 2), (2, 3), (3, 4), (1, 1), (4, 3), (3, 2), (2, 1),
                     (3, 1), (4, 1), (5, 1), (6, 1), (8, 1)]:
        for long in (64, 337, 500, 1000, 2000, 4000):
            if num >= den:
                w, h = long, max(1, round(long * den / num))
            else:
                w, h = max(1, round(long * num / den)), long
            sizes.append((w, h))
    g = S // p
    # rounding edges, scanned in a fixed order; a few of each kind
    ceil_edges, round_edges, ratio_edges = [], [], []  # ratio: within 2e-3 of 1.1
    for h in range(1, 1400, 7):
        for w in range(1, 1400, 3):
            bh, bw = select_best_resolution((h, w), pinpoints)
            if len(ceil_edges) < 8 and exact_ceil_differs(h, w, bh, bw):
                ceil_edges.append((w, h))
            gh, gw = bh // S * g, bw // S * g
            if len(round_edges) < 8 and round7_matters(h, w, gh, gw):
                round_edges.append((w, h))
            if max_tiles and len(ratio_edges) < 8:
                uh, uw = unpadded_size(h, w, gh, gw)
                if abs(math.sqrt(uh * uw / (max_tiles * g**2)) - 1.1) < 2e-3:
                    ratio_edges.append((w, h))
    sizes += ceil_edges + round_edges + ratio_edges
    seen, out = set(), []
    for s in sizes:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


# ---------------------------------------------------------------- pixels


def tile_pixels(img, S, pinpoints):
    """get_image_patches on a PIL RGB image: the padded canvas (uint8 [best_h,
    best_w, 3]: Pillow BICUBIC to the aspect-preserving size, zero padding as
    _pad_for_patching), its tiles (row-major) and the base image (BICUBIC to S x S)."""
    w, h = img.size
    best = select_best_resolution((h, w), pinpoints)
    rh, rw = get_patch_output_size((h, w), best)
    resized = np.asarray(img.resize((rw, rh), Image.BICUBIC))
    canvas = np.pad(resized, padding_for_patching((rh, rw), best) + ((0, 0),), mode="constant", constant_values=0)
    tiles = [canvas[i:i + S, j:j + S] for i in range(0, best[0], S) for j in range(0, best[1], S)]
    base = np.asarray(img.resize((S, S), Image.BICUBIC))
    return canvas, tiles, base


# ---------------------------------------------------------------- bilinear grids


def splitmix64_grid(seed, n):
    """n floats in [-1, 1), each exactly a float32: splitmix64's top 24 bits
    (base/rng.h's generator), (u - 2^23) / 2^23. The C test makes the same."""
    mask = (1 << 64) - 1
    state = seed & mask
    out = np.empty(n, np.float32)
    for i in range(n):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
        out[i] = np.float32(((z >> 40) - (1 << 23)) / float(1 << 23))
    return out


# H, W, d, Ho, Wo, seed: OneVision shrinks (3 x 4 tiles of 27: ratio 1.155), the
# video pooling (27 -> 14), odd shapes, a one-column grid, and an enlargement
BILINEAR_CASES = [(81, 108, 1, 70, 93, 1), (27, 27, 4, 14, 14, 2), (54, 81, 2, 40, 60, 3), (7, 1, 3, 3, 1, 4),
                  (13, 29, 4, 11, 5, 5), (5, 6, 2, 9, 13, 6)]


def bilinear_expected(H, W, d, Ho, Wo, seed):
    """torch's interpolate of the [H, W, d] grid, laid out as transformers does
    ([1, d, H, W] contiguous), in float64 (the exact bilinear: sampling positions
    in double, as vtc computes them) and in float32 (torch 1.13's float kernel
    rounds the scale H / Ho to float32 first, then places the samples in double
    and keeps float weights: up to ~1e-5 relative off on wide shrinks)."""
    x = torch.from_numpy(splitmix64_grid(seed, H * W * d).reshape(H, W, d)).permute(2, 0, 1).contiguous()[None]
    out = []
    for t in (x.double(), x):
        y = torch.nn.functional.interpolate(t, size=(Ho, Wo), mode="bilinear", align_corners=False)[0]
        out.append(y.permute(1, 2, 0).contiguous().float().numpy() if t.dtype == torch.float32 else
                   y.permute(1, 2, 0).contiguous().numpy())
    return out


# ---------------------------------------------------------------- fixtures

PLAN_COLUMNS = ["set", "w", "h", "best_h", "best_w", "tiles_h", "tiles_w", "resized_h", "resized_w", "pad_top",
                "pad_left", "grid_h", "grid_w", "y0", "x0", "uh", "uw", "oh", "ow", "tokens"]
# photo (200 x 150) into 672 x 336: 449 x 336 (the ceil edge), two tiles, padded left and right;
# portrait (121 x 180) into one 384 tile, padded; both into tiny64's tiles, shrinking (antialiased)
PIXEL_CASES = [("photo", "next336"), ("portrait_rgba", "ov384"), ("photo", "tiny64"), ("portrait_rgba", "tiny64")]
IMAGES = {"photo": "photo.jpg", "portrait_rgba": "portrait_rgba.png"}


def self_check():
    # the known counts (LLaVA-NeXT, CLIP 336/14)
    assert processor_tokens(400, 600, 336, 14, NEXT_336, 0) == 2144
    assert processor_tokens(512, 512, 336, 14, NEXT_336, 0) == 2928
    assert model_path(400, 600, 336, 14, NEXT_336, 0)["tokens"] == 2144
    # model-side shrink: the interpolate'd tensor has the shape the processor counts
    m = model_path(3000, 4000, 384, 14, OV_384, 9)
    assert (m["oh"], m["ow"]) != (m["uh"], m["uw"])
    # the floor-division edge above: float division rounds up to an integer, // does not
    m = model_path(582, 1923, 384, 14, OV_384, 9)
    assert m["uh"] == 50 and 50 / math.sqrt(m["uh"] * m["uw"] / (9 * 27**2)) == 45.0 and m["oh"] == 44, m
    # splitmix64 matches base/rng.h's first value for seed 0 (0xe220a8397b1dcdaf)
    assert splitmix64_grid(0, 1)[0] == np.float32(((0xE220A8397B1DCDAF >> 40) - (1 << 23)) / float(1 << 23))


def write_fixtures():
    os.makedirs(os.path.join(OUT, "pixels"), exist_ok=True)
    with open(os.path.join(OUT, "sets.tsv"), "w") as f:
        f.write("# name\tS\tpatch\tmax_tiles\tpinpoints (h,w pairs, flat)\n")
        for name, S, p, mt, pins in SETS:
            f.write(f"{name}\t{S}\t{p}\t{mt}\t{','.join(str(v) for hw in pins for v in hw)}\n")
    rows = 0
    with open(os.path.join(OUT, "plans.tsv"), "w") as f:
        f.write("# " + "\t".join(PLAN_COLUMNS) + "\n")
        for name, S, p, mt, pins in SETS:
            for w, h in image_sizes(S, p, pins, mt):
                m = plan(w, h, S, p, pins, mt)
                f.write("\t".join([name, str(w), str(h)] + [str(m[k]) for k in PLAN_COLUMNS[3:]]) + "\n")
                rows += 1
    sets = {s[0]: s for s in SETS}
    with open(os.path.join(OUT, "pixels.tsv"), "w") as f:
        f.write("# image\tset\tcanvas_png\tbase_png (uint8 RGB; tiles are the canvas cut row-major)\n")
        for image, set_name in PIXEL_CASES:
            _, S, _, _, pins = sets[set_name]
            img = vtc_ref.load_rgb(os.path.join(ROOT, "tests", "fixtures", "ref_images", IMAGES[image]))
            canvas, tiles, base = tile_pixels(img, S, pins)
            stem = f"pixels/{image}__{set_name}"
            Image.fromarray(canvas).save(os.path.join(OUT, stem + "__canvas.png"), optimize=True)
            Image.fromarray(base).save(os.path.join(OUT, stem + "__base.png"), optimize=True)
            f.write(f"{image}\t{set_name}\t{stem}__canvas.png\t{stem}__base.png\n")
    tensors, meta = {}, {}
    for i, (H, W, d, Ho, Wo, seed) in enumerate(BILINEAR_CASES):
        tensors[f"case{i}"], tensors[f"case{i}.f32"] = bilinear_expected(H, W, d, Ho, Wo, seed)
        meta[f"case{i}"] = f"{H},{W},{d},{Ho},{Wo},{seed}"
    meta["cases"] = str(len(BILINEAR_CASES))
    vtc_ref.write_safetensors(os.path.join(OUT, "bilinear.safetensors"), tensors, meta)
    print(f"ref_anyres: {rows} plans, {len(PIXEL_CASES)} pixel cases, {len(BILINEAR_CASES)} bilinear grids -> {OUT}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="run the self-checks only")
    a = ap.parse_args()
    self_check()
    if not a.check:
        write_fixtures()


if __name__ == "__main__":
    main()
