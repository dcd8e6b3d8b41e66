"""Independent reference for vtc's model families beyond one square tile: LLaVA-NeXT
anyres tiling, LLaVA-OneVision anyres_max_9 and its video path, in PyTorch (float64)
and Pillow. The encoder itself is tools/vtc_ref.py's `vit_forward`.

Written to the semantics of Hugging Face transformers (main, 2025-2026) and read from
its source, not imported (it is not installed here):
- models/llava_next/image_processing_pil_llava_next.py (LlavaNextImageProcessorPil:
  get_image_patches, _resize_for_patching, _pad_for_patching, divide_to_patches, the
  base image as a plain resize) and image_processing_utils.py (select_best_resolution,
  get_patch_output_size); the per-patch resize / centre crop are identities for tiles
  of the crop size (Pillow returns a copy for a same-size resize);
- models/llava_next/modeling_llava_next.py (get_anyres_image_grid_shape, unpad_image,
  get_image_features: hidden_states[vision_feature_layer], or for a list of layers
  their concatenation on the feature axis in list order; strategy "default" drops the
  CLS row, "full" keeps all; pack_image_features);
- models/llava_next/processing_llava_next.py (_get_number_of_features,
  _get_unpadded_features; num_additional_image_tokens = 1 on llava-hf checkpoints);
- models/llava_onevision/{image_processing_pil,modeling,processing}_llava_onevision.py
  (anyres_max_9: bilinear shrink when sqrt(h*w / (9 * g^2)) > 1.1; a single-tile
  image in a multi-image batch is padded to a square with int(mean*255), resized and
  gets one newline at the end; get_video_features + apply_pooling: bilinear,
  align_corners False, to ceil(g/2) x ceil(g/2), one newline per video).

Pinpoints are (height, width) everywhere here, as transformers reads them (llama.cpp
reads the same flattened pairs as (width, height), see tools/README.md).

`/usr/bin/python3 tools/ref_families.py --selftest` checks the pieces that have an
independent formulation: the packing (view/permute/unpad/interpolate on an
index-encoded tensor) against the closed-form token layout, the processor's token
count against the packed length for a sweep of sizes on every pinpoint list,
unpad against a pixel mask of the padded canvas, torch's bilinear against a hand
implementation, and best-pinpoint selection against a brute-force ordering.
"""
import math
import sys

import numpy as np
import torch
from PIL import Image

F = torch.nn.functional

LLAVA_NEXT_PINPOINTS = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]
ONEVISION_PINPOINTS = [[h, w] for h in range(384, 2305, 384) for w in range(384, 2305, 384)]


# ---------------------------------------------------------------- image processor

def select_best_resolution(original_hw, pinpoints):
    """image_processing_utils.select_best_resolution: the pinpoint (h, w) with the
    largest effective resolution min(downscaled area, original area), then the least
    waste; the first one wins a tie (strict comparisons, list order)."""
    oh, ow = original_hw
    best, max_eff, min_waste = None, 0, float("inf")
    for h, w in pinpoints:
        scale = min(w / ow, h / oh)
        dw, dh = int(ow * scale), int(oh * scale)
        eff = min(dw * dh, ow * oh)
        waste = w * h - eff
        if eff > max_eff or (eff == max_eff and waste < min_waste):
            max_eff, min_waste, best = eff, waste, (h, w)
    return best


def patch_output_size(original_hw, target_hw):
    """image_processing_utils.get_patch_output_size: the aspect-preserving size that
    fits target (h, w), the long side exact, the other ceil'd and capped."""
    oh, ow = original_hw
    th, tw = target_hw
    scale_w, scale_h = tw / ow, th / oh
    if scale_w < scale_h:
        return min(math.ceil(oh * scale_w), th), tw
    return th, min(math.ceil(ow * scale_h), tw)


def pil_resize(u8, hw):
    """transformers' image_transforms.resize on uint8: Pillow BICUBIC, reducing_gap None."""
    return np.asarray(Image.fromarray(u8).resize((hw[1], hw[0]), Image.BICUBIC))


def anyres_tiles(u8, pinpoints, tile):
    """LlavaNextImageProcessorPil.get_image_patches (also LLaVA-OneVision's) on an
    RGB uint8 [H, W, 3] image: the uint8 base image (plain resize to tile x tile) and
    tiles (row-major over the padded canvas), plus the geometry."""
    h, w = u8.shape[:2]
    best = select_best_resolution((h, w), pinpoints)
    nh, nw = patch_output_size((h, w), best)
    resized = pil_resize(u8, (nh, nw))
    top, left = (best[0] - nh) // 2, (best[1] - nw) // 2  # _get_padding_size: divmod(...)[0]
    canvas = np.zeros((best[0], best[1], 3), np.uint8)
    canvas[top:top + nh, left:left + nw] = resized
    tiles = [canvas[i:i + tile, j:j + tile].copy() for i in range(0, best[0], tile) for j in range(0, best[1], tile)]
    base = pil_resize(u8, (tile, tile))
    geo = dict(best=best, resized=(nh, nw), paste=(top, left), tiles_hw=(best[0] // tile, best[1] // tile))
    return [base] + tiles, geo


def pad_to_square(u8, mean):
    """LlavaOnevisionImageProcessorPil.pad_to_square with int(m*255) per channel, the
    image at (long - short) // 2 on the short axis (the multi-image path)."""
    h, w = u8.shape[:2]
    if h == w:
        return u8
    s = max(h, w)
    out = np.empty((s, s, 3), np.uint8)
    out[:] = [int(m * 255) for m in mean]
    if w > h:
        out[(s - h) // 2:(s - h) // 2 + h] = u8
    else:
        out[:, (s - w) // 2:(s - w) // 2 + w] = u8
    return out


# ---------------------------------------------------------------- model side

def unpad_image(t, original_hw):
    """modeling_llava_next.unpad_image, literally: t [C, H, W] (the stitched grid),
    original (h, w); new size int(round(x, 7)), the same padding cut on both sides."""
    oh, ow = original_hw
    ch, cw = t.shape[1:]
    if ow / oh > cw / ch:
        scale = cw / ow
        new_h = int(round(oh * scale, 7))
        pad = (ch - new_h) // 2
        return t[:, pad:ch - pad, :]
    scale = ch / oh
    new_w = int(round(ow * scale, 7))
    pad = (cw - new_w) // 2
    return t[:, :, pad:cw - pad]


def shrink_size(h, w, g, max_tiles):
    """anyres_max_N: (h', w') or None; ratio = sqrt(h*w / (N * g^2)) > 1.1 shrinks to
    int(h // ratio) x int(w // ratio) (float floor division, as the modeling code)."""
    ratio = math.sqrt(h * w / (max_tiles * g ** 2))
    if ratio > 1.1:
        return int(h // ratio), int(w // ratio)
    return None


def pack_image_features(x, original_hw, tiles_hw, g, newline, max_tiles=None):
    """pack_image_features for one image, as LlavaNextModel / LlavaOnevisionModel do it:
    x [1 + N, g*g, C] (base first, then tiles row-major) -> [L, C]. With one entry
    only (OneVision's multi-image path) the base rows and one newline.
    max_tiles: None for LLaVA-NeXT, 9 for OneVision's anyres_max_9."""
    if x.shape[0] == 1:
        return torch.cat([x[0], newline[None]])
    base, t = x[0], x[1:]
    nh, nw = tiles_hw
    t = t.view(nh, nw, g, g, -1).permute(4, 0, 2, 1, 3).contiguous().flatten(1, 2).flatten(2, 3)
    t = unpad_image(t, original_hw)
    if max_tiles is not None:
        s = shrink_size(t.shape[1], t.shape[2], g, max_tiles)
        if s is not None:
            t = F.interpolate(t[None], list(s), mode="bilinear")[0]
    t = torch.cat([t, newline[:, None, None].expand(*t.shape[:-1], 1)], dim=-1)
    t = t.flatten(1, 2).transpose(0, 1)
    return torch.cat([base, t])


def apply_pooling(x, g):
    """LlavaOnevisionModel.apply_pooling: x [T, g*g, C] -> [T, ceil(g/2)^2, C], bilinear,
    align_corners False (interpolate's default), the scale in/out."""
    T, _, C = x.shape
    x = x.view(T, g, g, C).permute(0, 3, 1, 2).contiguous()
    x = F.interpolate(x, size=[math.ceil(g / 2), math.ceil(g / 2)], mode="bilinear")
    return x.permute(0, 2, 3, 1).reshape(T, -1, C)


def select_image_features(hidden, vision_feature_layer, strategy):
    """LlavaNextModel.get_image_features on one tile's hidden_states (a list of [n, D]):
    an int picks hidden_states[layer]; a list concatenates
    torch.cat([hidden_states[i] for i in layers], dim=-1) in the config's order (width
    D * len(list), what LlavaNextMultiModalProjector's linear_1 takes); then "default"
    drops row 0 (the CLS token) of the concatenation, "full" keeps every row."""
    if isinstance(vision_feature_layer, int):
        feat = hidden[vision_feature_layer]
    else:
        feat = torch.cat([hidden[i] for i in vision_feature_layer], dim=-1)
    return feat[1:] if strategy == "default" else feat


def clipcpp_feature_stack(hidden, feature_layers, post_ln=None):
    """llama.cpp's clip_graph_llava::build (tools/mtmd/models/llava.cpp) for a file with
    clip.vision.feature_layer (non-negative hidden_states indices, kept in a
    std::unordered_set): blocks 0 .. max-1 run; before block il, its input
    (hidden_states[il]) is pushed when il is in the set; after the loop, post_ln (if the
    file has v.post_ln) and the output is pushed when max is in the set; the pushes are
    ggml_concat'ed on the feature axis. So the order is ascending whatever the list's,
    a repeated index counts once, and the deepest layer is post-LN'd when the file has
    v.post_ln (the legacy LLaVA converters drop it). CLS row kept (clip.cpp drops it
    later, with the patches' get_rows)."""
    top = max(feature_layers)
    stack = [hidden[il] for il in range(top) if il in set(feature_layers)]
    last = hidden[top] if post_ln is None else post_ln(hidden[top])
    if top in set(feature_layers):
        stack.append(last)
    return torch.cat(stack, dim=-1)


# ---------------------------------------------------------------- closed forms

def unpadded_window(original_hw, tiles_hw, g):
    """The stitched grid's crop, written from the processor's _get_unpadded_features
    (not from unpad_image): (top, left, rows, cols) in the padded (nh*g) x (nw*g) grid."""
    oh, ow = original_hw
    ch, cw = tiles_hw[0] * g, tiles_hw[1] * g
    top = left = 0
    if ow / oh > cw / ch:
        top = (ch - int(round(oh * (cw / ow), 7))) // 2
    else:
        left = (cw - int(round(ow * (ch / oh), 7))) // 2
    return top, left, ch - 2 * top, cw - 2 * left


def nearest_source(i, n_out, n_in):
    """The source row (or column) of shrunk row i: s = (i + 0.5) * n_in / n_out - 0.5,
    clamped to [0, n_in - 1], rounded half up. This is where bilinear interpolation
    (align_corners False) centres output i; it names the tile a shrunk token mostly
    comes from."""
    s = (i + 0.5) * n_in / n_out - 0.5
    s = min(max(s, 0.0), n_in - 1.0)
    return int(math.floor(s + 0.5))


def pack_layout(original_hw, tiles_hw, g, max_tiles=None, multi=False):
    """The token layout of pack_image_features without running it:
    tile [L] int32: 0 base, 1 + r*nw + c for tile (r, c), -1 newline;
    pos [L, 3] int32: (0, y, x): base rows in the g x g base grid, stitched rows in the
    final grid (after unpad and any shrink), newline rows (0, y, -1) with y the row
    they end; src [L, 2] int32: stitched rows' (row, col) in the padded canvas grid
    (for shrunk grids the nearest source), -1 elsewhere. Also returns the geometry."""
    tiles, pos, src = [], [], []
    for i in range(g * g):
        tiles.append(0)
        pos.append((0, i // g, i % g))
        src.append((-1, -1))
    if multi:
        tiles.append(-1)
        pos.append((0, g - 1, -1))
        src.append((-1, -1))
        return np.array(tiles, np.int32), np.array(pos, np.int32), np.array(src, np.int32), {}
    top, left, rows, cols = unpadded_window(original_hw, tiles_hw, g)
    out_rows, out_cols = rows, cols
    shrunk = shrink_size(rows, cols, g, max_tiles) if max_tiles is not None else None
    if shrunk:
        out_rows, out_cols = shrunk
    for y in range(out_rows):
        sy = nearest_source(y, out_rows, rows) if shrunk else y
        for x in range(out_cols):
            sx = nearest_source(x, out_cols, cols) if shrunk else x
            py, px = sy + top, sx + left
            tiles.append(1 + (py // g) * tiles_hw[1] + px // g)
            pos.append((0, y, x))
            src.append((py, px))
        tiles.append(-1)
        pos.append((0, y, -1))
        src.append((-1, -1))
    geo = dict(window=(top, left, rows, cols), grid=(out_rows, out_cols), shrunk=shrunk)
    return np.array(tiles, np.int32), np.array(pos, np.int32), np.array(src, np.int32), geo


def video_layout(T, g):
    """packed_pos / packed_frame of the video path: (t, y, x) in the pooled
    ceil(g/2) x ceil(g/2) grid, then one newline (T-1, last row, -1), frame -1."""
    p = math.ceil(g / 2)
    pos = [(t, y, x) for t in range(T) for y in range(p) for x in range(p)] + [(T - 1, p - 1, -1)]
    frame = [t for t in range(T) for _ in range(p * p)] + [-1]
    return np.array(frame, np.int32), np.array(pos, np.int32)


def next_num_tokens(original_hw, pinpoints, tile, patch, num_additional=1, strategy="default"):
    """LlavaNextProcessor._get_number_of_features (current: int(round(x, 7))), minus
    num_additional_image_tokens for the "default" strategy."""
    oh, ow = original_hw
    bh, bw = select_best_resolution((oh, ow), pinpoints)
    sh, sw = bh // tile, bw // tile
    ph = pw = tile // patch
    ch, cw = ph * sh, pw * sw
    if ow / oh > cw / ch:
        ch -= ((ch - int(round(oh * (cw / ow), 7))) // 2) * 2
    else:
        cw -= ((cw - int(round(ow * (ch / oh), 7))) // 2) * 2
    n = ch * cw + ch + ph * pw + num_additional
    return n - num_additional if strategy == "default" else n


def onevision_num_tokens(original_hw, pinpoints, tile, num_image_tokens, max_tiles=9, multi=False):
    """LlavaOnevisionProcessor: _get_number_of_features (base = num_image_tokens, the
    unpadded grid shrunk as the model does), or num_image_tokens + 1 in a multi-image
    batch; strategy "full" subtracts nothing."""
    if multi:
        return num_image_tokens + 1
    oh, ow = original_hw
    bh, bw = select_best_resolution((oh, ow), pinpoints)
    sh, sw = bh // tile, bw // tile
    p = int(math.sqrt(num_image_tokens))
    ch, cw = p * sh, p * sw
    if ow / oh > cw / ch:
        ch -= ((ch - int(round(oh * (cw / ow), 7))) // 2) * 2
    else:
        cw -= ((cw - int(round(ow * (ch / oh), 7))) // 2) * 2
    unpadded, newline = ch * cw, ch
    ratio = math.sqrt(ch * cw / (max_tiles * p ** 2))
    if ratio > 1.1:
        unpadded, newline = int(ch // ratio) * int(cw // ratio), int(ch // ratio)
    return unpadded + newline + num_image_tokens


def video_num_tokens(T, num_image_tokens):
    """LlavaOnevisionProcessor.replace_video_token: T * ceil(sqrt(n)/2)^2 + 1."""
    p = math.ceil(int(math.sqrt(num_image_tokens)) / 2)
    return T * p * p + 1


# ---------------------------------------------------------------- self-test

def bilinear_by_hand(x, out_h, out_w):
    """x [C, H, W] numpy float64 -> [C, out_h, out_w]: half-pixel centres, source
    clamped at 0, the upper neighbour clamped to the last row (align_corners False)."""
    C, H, W = x.shape

    def taps(n_out, n_in):
        res = []
        for i in range(n_out):
            s = max((i + 0.5) * n_in / n_out - 0.5, 0.0)
            i0 = min(int(s), n_in - 1)
            i1 = min(i0 + 1, n_in - 1)
            res.append((i0, i1, s - i0))
        return res

    out = np.empty((C, out_h, out_w))
    for i, (y0, y1, ly) in enumerate(taps(out_h, H)):
        row = x[:, y0] * (1 - ly) + x[:, y1] * ly
        for j, (x0, x1, lx) in enumerate(taps(out_w, W)):
            out[:, i, j] = row[:, x0] * (1 - lx) + row[:, x1] * lx
    return out


def _selftest():
    rng = np.random.default_rng(0)
    # best pinpoint against a brute-force ordering: key (-effective, waste, list index)
    for pins in (LLAVA_NEXT_PINPOINTS, ONEVISION_PINPOINTS):
        for _ in range(400):
            oh, ow = int(rng.integers(8, 4000)), int(rng.integers(8, 4000))

            def key(i):
                h, w = pins[i]
                s = min(w / ow, h / oh)
                eff = min(int(ow * s) * int(oh * s), ow * oh)
                return (-eff, w * h - eff, i)
            assert tuple(pins[min(range(len(pins)), key=key)]) == select_best_resolution((oh, ow), pins)
    print("best pinpoint: ok (800 sizes vs brute force)")

    # bilinear: torch vs hand, on the shapes the models use
    for (h, w, oh, ow) in ((27, 27, 14, 14), (81, 108, 70, 93), (54, 162, 46, 140), (24, 24, 12, 12), (5, 7, 3, 2)):
        x = rng.normal(0, 1, (3, h, w))
        a = F.interpolate(torch.from_numpy(x)[None], [oh, ow], mode="bilinear")[0].numpy()
        assert abs(a - bilinear_by_hand(x, oh, ow)).max() < 1e-12, (h, w, oh, ow)
    print("bilinear (align_corners False): torch == by hand")

    # packing against the closed-form layout, on a tensor that carries each token's
    # padded-canvas (row, col) and tile; interpolation of a linear ramp gives the
    # clamped source coordinate, so rounding it half up must give the layout's source
    cases = 0
    for pins, tile, g, max_tiles in ((LLAVA_NEXT_PINPOINTS, 336, 24, None), (ONEVISION_PINPOINTS, 384, 27, 9)):
        sizes = [(150, 200), (180, 121), (400, 600), (512, 512), (250, 1000), (1000, 250), (1058, 1411), (1, 1),
                 (337, 1), (1, 2000), (3000, 2999)] + [tuple(int(v) for v in rng.integers(1, 3000, 2))
                                                      for _ in range(60)]
        for oh, ow in sizes:
            bh, bw = select_best_resolution((oh, ow), pins)
            nh, nw = bh // tile, bw // tile
            yy, xx = np.mgrid[0:nh * g, 0:nw * g].astype(np.float64)
            canvas = np.stack([yy, xx, (yy // g) * nw + xx // g + 1])  # [3, nh*g, nw*g]
            x = torch.from_numpy(canvas.reshape(3, nh, g, nw, g).transpose(1, 3, 2, 4, 0).reshape(nh * nw, g * g, 3))
            base = torch.zeros(1, g * g, 3)
            base[0, :, 0] = -1.0
            newline = torch.tensor([-7.0, -7.0, -7.0], dtype=torch.float64)
            packed = pack_image_features(torch.cat([base.double(), x]), (oh, ow), (nh, nw), g, newline, max_tiles)
            tiles_ref, pos, src, geo = pack_layout((oh, ow), (nh, nw), g, max_tiles)
            assert packed.shape[0] == len(tiles_ref), (oh, ow)
            nl = tiles_ref == -1
            assert (packed[torch.from_numpy(nl)] == -7).all()
            assert (tiles_ref[:g * g] == 0).all() and (packed[:g * g, 0] == -1).all()
            body = (~nl) & (np.arange(len(tiles_ref)) >= g * g)
            got = packed.numpy()[body]
            if geo["shrunk"]:
                got_src = np.floor(got[:, :2] + 0.5).astype(np.int32)  # round half up
            else:
                got_src = got[:, :2].astype(np.int32)
                assert (got[:, 2] == tiles_ref[body]).all()
            assert (got_src == src[body]).all(), (oh, ow)
            assert (((got_src[:, 0] // g) * nw + got_src[:, 1] // g + 1) == tiles_ref[body]).all()
            # newline rows close rows 0, 1, ... in order, after that row's tokens
            assert (pos[nl][:, 2] == -1).all() and (pos[nl][:, 1] == np.arange(nl.sum())).all()
            rows_of_body = pos[body][:, 1]
            assert (np.searchsorted(np.flatnonzero(nl), np.flatnonzero(body)) == rows_of_body).all()
            # the processor's count equals the model's length
            if max_tiles is None:
                n = next_num_tokens((oh, ow), pins, tile, 14)
            else:
                n = onevision_num_tokens((oh, ow), pins, tile, g * g, max_tiles)
            assert n == packed.shape[0], (oh, ow, n, packed.shape[0])
            cases += 1
    print(f"packing: view/permute/unpad/interpolate == closed-form layout, processor count == length ({cases} sizes)")

    # unpad against the pixel mask of the padded canvas (cells = the tower's patches;
    # SigLIP 384/14 leaves 6 px of each tile unseen): unpad never keeps a row or column
    # of pure padding and never drops a cell that is all image; it may drop the thin
    # edge of the image where a cell is partly image (reported)
    worst_drop, n_sizes = 0.0, 0
    for pins, tile, g in ((LLAVA_NEXT_PINPOINTS, 336, 24), (ONEVISION_PINPOINTS, 384, 27)):
        for _ in range(300):
            oh, ow = int(rng.integers(1, 3000)), int(rng.integers(1, 3000))
            bh, bw = select_best_resolution((oh, ow), pins)
            nh, nw = patch_output_size((oh, ow), (bh, bw))
            top, left = (bh - nh) // 2, (bw - nw) // 2
            mask = np.zeros((bh, bw))
            mask[top:top + nh, left:left + nw] = 1
            p, th, tw = tile // g, bh // tile, bw // tile
            cell = mask.reshape(th, tile, tw, tile)[:, :g * p, :, :g * p].reshape(th, g, p, tw, g, p).mean((2, 5))
            cell = cell.reshape(th * g, tw * g)
            t0, l0, rows, cols = unpadded_window((oh, ow), (th, tw), g)
            if rows == 0 or cols == 0:  # a sliver thinner than half a cell: nothing kept
                continue
            kept = cell[t0:t0 + rows, l0:l0 + cols]
            assert (kept.max(1) > 0).all() and (kept.max(0) > 0).all(), (oh, ow)
            dropped = cell.copy()
            dropped[t0:t0 + rows, l0:l0 + cols] = 0
            assert dropped.max() < 1, (oh, ow)
            worst_drop = max(worst_drop, dropped.max())
            n_sizes += 1
    print(f"unpad vs pixel mask ({n_sizes} sizes): no padding-only row/col kept, no all-image cell dropped; "
          f"largest image share of a dropped cell {worst_drop:.2f}")

    # pooling: 27 -> 14 by hand, and the video layout
    x = rng.normal(0, 1, (2, 27 * 27, 5))
    a = apply_pooling(torch.from_numpy(x), 27).numpy()
    for t in range(2):
        ref = bilinear_by_hand(x[t].reshape(27, 27, 5).transpose(2, 0, 1), 14, 14)
        assert abs(a[t] - ref.transpose(1, 2, 0).reshape(196, 5)).max() < 1e-12
    frame, pos = video_layout(4, 27)
    assert len(frame) == video_num_tokens(4, 729) == 785 and pos[-1].tolist() == [3, 13, -1]
    print("apply_pooling == by hand; video layout 4*196+1")

    # multi-layer features: transformers concatenates in the config's order, clip.cpp in
    # ascending block order (a set): the same for an ascending list without repeats only
    L = 4
    hidden = [torch.from_numpy(rng.normal(0, 1, (5, 3))) for _ in range(L + 1)]

    def gguf(layers):  # the converter: n + 1 + layer for a negative one
        return [x if x >= 0 else L + 1 + x for x in layers]
    agree = {(-3, -1): True, (-2,): True, (0, 2, 4): True, (-1, -3): False, (4, 2): False, (-1, -1): False,
             (1, -1): True, (-1, 1): False}
    for layers, same in agree.items():
        hf = select_image_features(hidden, list(layers), "full")
        cc = clipcpp_feature_stack(hidden, gguf(layers))
        assert (hf.shape == cc.shape and torch.equal(hf, cc)) == same, layers
    assert torch.equal(select_image_features(hidden, [-3, -1], "default"),
                       torch.cat([hidden[2], hidden[4]], dim=-1)[1:])
    print("feature layer lists: transformers (list order) == clip.cpp (ascending set) exactly for ascending "
          "lists without repeats")


if __name__ == "__main__":
    if sys.argv[1:] == ["--selftest"]:
        _selftest()
    else:
        print(__doc__)
