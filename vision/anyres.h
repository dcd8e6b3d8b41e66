// LLaVA-NeXT / LLaVA-OneVision "anyres": the tile plan of one image, its token
// count, and the pixels of its base image and tiles, exactly as Hugging Face
// transformers' slow image processors and models give them:
//   image_processing_utils.py          select_best_resolution, get_patch_output_size
//   llava_next/image_processing_llava_next.py
//                                      _resize_for_patching, _pad_for_patching,
//                                      divide_to_patches, get_image_patches, _preprocess
//   llava_next/modeling_llava_next.py  get_anyres_image_grid_shape, unpad_image,
//                                      pack_image_features
//   llava_next/processing_llava_next.py, llava_onevision/processing_llava_onevision.py
//                                      _get_number_of_features, _get_unpadded_features
//   llava_onevision/modeling_llava_onevision.py
//                                      pack_image_features with anyres_max_N
// (the OneVision image processor's single-image path is LLaVA-NeXT's). The
// reference is tools/ref_anyres.py; tests/test_anyres.c holds the two together.
//
// Geometry, for an image w x h and a tower of tile size S, patch p, grid g = S / p
// (floored: SigLIP 384 / 14 -> 27):
//  1. best pinpoint: the first of the list with the largest effective resolution
//     min(int(w*s) * int(h*s), w*h), s = min(pw/w, ph/h), then the least waste
//     pw*ph - effective; pinpoints are (height, width), multiples of S;
//  2. the image resized (Pillow BICUBIC) to the aspect-preserving size inside the
//     pinpoint (the tighter side fills it, the other ceil()'d), centred on a black
//     canvas (margin // 2 before, the odd pixel after);
//  3. the canvas cut into tiles_h x tiles_w tiles of S x S, row-major; plus the
//     base image, the whole image resized to S x S ignoring aspect;
//  4. each tile's g x g features stitched into one (tiles_h*g) x (tiles_w*g) grid,
//     then unpad_image keeps the window of the original aspect: on the padded axis
//     n = int(round(orig * (grid_other / orig_other), 7)), pad = (grid - n) // 2,
//     the slice [pad, grid - pad) (which keeps n + 1 cells when grid - n is odd);
//  5. OneVision (anyres_max_N, max_tiles = N): ratio = sqrt(uh*uw / (N*g*g)); when
//     ratio > 1.1 the window is resized bilinearly (align_corners False, base/grid.h)
//     to int(uh // ratio) x int(uw // ratio) (Python's float floor division);
//  6. tokens: the base tile's g*g, then each output row followed by one
//     image_newline: g*g + out_h * (out_w + 1).
// All floating-point steps are the Python expressions' own double operations (no
// contraction), so every rounding edge lands where transformers' does.
// Thread-safe; nothing here prints; errors return a negative enum vtc_status with
// vtc_last_error() saying why.
#ifndef VTC_ANYRES_H
#define VTC_ANYRES_H

#include <stdint.h>

#define VTC_ANYRES_MAX_PINPOINTS 1024     // entries in one list
#define VTC_ANYRES_MAX_SIDE 32768         // pixels on a pinpoint's side
#define VTC_ANYRES_MAX_PIXELS (1 << 26)   // pixels in a pinpoint (its canvas: 192 MiB of RGB)
#define VTC_ANYRES_MAX_TILES 256          // tiles in a pinpoint (LLaVA-NeXT 3 or 4, OneVision 36)
#define VTC_ANYRES_MAX_IMAGE_SIDE (1 << 24)

// A candidate resolution in pixels, (height, width) as transformers'
// image_grid_pinpoints.
struct vtc_pinpoint {
    int32_t h, w;
};

// The order of each pair in a flat pinpoint array.
enum vtc_pinpoint_order {
    VTC_PINPOINTS_HW = 0, // config.json's image_grid_pinpoints flattened (transformers: (h, w))
    VTC_PINPOINTS_WH = 1, // GGUF clip.vision.image_grid_pinpoints: llama.cpp's clip.cpp reads pair i
                          // as clip_image_size {width, height} (image_res_candidates), as the
                          // original LLaVA code read its config ((w, h)); the legacy converter
                          // flattens the config's pairs unchanged
};

// flat [n] (n even, n / 2 <= cap) -> out[n / 2] pinpoints, *n_out set. Empty,
// odd-length or too long: VTC_ERR_FORMAT (longer than cap or
// VTC_ANYRES_MAX_PINPOINTS pairs: VTC_ERR_LIMIT). Values are checked by
// vtc_anyres_pinpoints_check, not here.
int vtc_anyres_pinpoints_parse(const int32_t *flat, int32_t n, enum vtc_pinpoint_order order, struct vtc_pinpoint *out,
                               int32_t cap, int32_t *n_out);

// A list usable with tile size S: non-empty, each side positive, a multiple of S
// and at most VTC_ANYRES_MAX_SIDE (else VTC_ERR_FORMAT naming the entry); at most
// VTC_ANYRES_MAX_PINPOINTS entries, VTC_ANYRES_MAX_PIXELS pixels and
// VTC_ANYRES_MAX_TILES tiles each (else VTC_ERR_LIMIT).
int vtc_anyres_pinpoints_check(const struct vtc_pinpoint *pp, int32_t n, int32_t tile);

// The plan of one image. Grid coordinates are feature cells of the stitched grid.
struct vtc_anyres_plan {
    int32_t image_w, image_h;           // the original image
    int32_t tile, patch, grid;          // S, p, g = S / p
    int32_t max_tiles;                  // 0: LLaVA-NeXT (no shrink); N: OneVision anyres_max_N
    int32_t pinpoint;                   // index of the best pinpoint in the list
    int32_t best_h, best_w;             // its size in pixels
    int32_t tiles_h, tiles_w;           // best / S; tile k is row k / tiles_w, column k % tiles_w
    int32_t resized_h, resized_w;       // the image inside the pinpoint, aspect kept
    int32_t pad_top, pad_left;          // its place on the black best_w x best_h canvas
    int32_t grid_h, grid_w;             // stitched grid: tiles_h * g x tiles_w * g
    int32_t unpad_y0, unpad_x0;         // unpad_image's window in the stitched grid
    int32_t unpad_h, unpad_w;           // (either may be 0 for extreme aspect ratios)
    int32_t out_h, out_w;               // after OneVision's shrink; the window's size without it
    int32_t shrunk;                     // 1 when the shrink applies (ratio > 1.1)
    int64_t n_base;                     // g * g: the base image's tokens, first
    int64_t n_tokens;                   // n_base + out_h * (out_w + 1): every token, newlines included
};

// The plan of a w x h image for a tower of tile size S (1..8192) and patch size p
// (1..S), over the pinpoints pp[n] ((h, w), checked as vtc_anyres_pinpoints_check)
// and max_tiles (0 for LLaVA-NeXT; 9 for OneVision's anyres_max_9; at most
// VTC_ANYRES_MAX_TILES). Sides <= 0 or a bad tower: VTC_ERR_ARG; an image side
// over VTC_ANYRES_MAX_IMAGE_SIDE, or a shrink to an empty grid (which torch's
// interpolate refuses): VTC_ERR_LIMIT.
int vtc_anyres_plan_make(int32_t w, int32_t h, int32_t tile, int32_t patch, const struct vtc_pinpoint *pp, int32_t n,
                         int32_t max_tiles, struct vtc_anyres_plan *plan);

// The stitched-grid cell (*y, *x) that output cell (oy, ox) of the plan (0 <=
// oy < out_h, 0 <= ox < out_w) stands for, and its tile (row-major; may be
// NULL): the cell itself inside the unpadded window, or after a shrink the source
// cell nearest to where the bilinear resize samples (vtc_grid_bilinear_nearest).
// Out of range: VTC_ERR_ARG.
int vtc_anyres_source(const struct vtc_anyres_plan *plan, int32_t oy, int32_t ox, int32_t *y, int32_t *x,
                      int32_t *tile);

// The prepared canvas of one image: its resized pixels, from which any tile is
// cut on demand (the black margins are never stored), so a caller encoding tile
// by tile holds one resized image and one float tile.
struct vtc_anyres_canvas {
    struct vtc_anyres_plan plan;
    uint8_t *rgb; // resized_w x resized_h RGB8, stride 3 * resized_w, at (pad_left, pad_top)
};

// Resizes rgb (w x h RGB8, stride 3*w; the image the plan was made for, else
// VTC_ERR_ARG) for plan into *cv. On success the caller frees with
// vtc_anyres_canvas_free; on failure *cv holds nothing to free.
int vtc_anyres_canvas_init(struct vtc_anyres_canvas *cv, const struct vtc_anyres_plan *plan, const uint8_t *rgb,
                           int32_t w, int32_t h);
void vtc_anyres_canvas_free(struct vtc_anyres_canvas *cv);

// Tile k (0 <= k < tiles_h * tiles_w, else VTC_ERR_ARG) as S x S RGB8 (stride 3*S).
int vtc_anyres_tile_u8(const struct vtc_anyres_canvas *cv, int32_t k, uint8_t *out_rgb);
// Tile k as the model's input, CHW float [3, S, S]: x * (1/255) in double rounded
// to float, then (x - mean) / std in float (vtc_normalize_rgb8). mean, std finite,
// std nonzero, else VTC_ERR_ARG. Allocates one S x S RGB8 temporary.
int vtc_anyres_tile(const struct vtc_anyres_canvas *cv, int32_t k, const float mean[3], const float std[3],
                    float *out_chw);

// The base image: rgb (w x h RGB8) resized to S x S with Pillow BICUBIC, aspect
// ignored, normalised as the tiles: CHW float [3, S, S]
// (vtc_preprocess_rgb(..., VTC_ASPECT_RESIZE, ...)).
int vtc_anyres_base(const struct vtc_anyres_plan *plan, const uint8_t *rgb, int32_t w, int32_t h, const float mean[3],
                    const float std[3], float *out_chw);

#endif
