// Model-exact preprocessing: Pillow's bicubic resampling on uint8 RGB, and the
// image processors of CLIP (resize shortest edge + centre crop), SigLIP (resize
// to square) and LLaVA-1.5 (pad to square with the mean colour, then CLIP).
// The functions are thread-safe, allocate only temporaries, and return 0 or a
// negative enum vtc_status with vtc_last_error() saying why.
#ifndef VTC_PREPROCESS_H
#define VTC_PREPROCESS_H

#include <stdint.h>

#include "vtc.h"

// src (sw x sh RGB8, stride 3*sw) -> dst (dw x dh, stride 3*dw), bit-identical
// to Pillow 9.4's img.resize((dw, dh), Image.BICUBIC): separable, horizontal
// pass first, antialiased (support 2 * max(scale, 1), a = -0.5), 22-bit fixed-point
// weights, each pass rounded and clipped to uint8; a dimension that does not
// change is copied. Sides 1 .. 1 << 24, else VTC_ERR_ARG.
int vtc_resize_bicubic_u8(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh);

// The model input of one RGB8 image (w x h, stride 3*w): out_chw is CHW float
// [3, size, size], as transformers' processor gives pixel_values:
//   VTC_ASPECT_CROP   CLIPImageProcessor: shortest edge to size (the other side
//                     int(size * long / short)), Pillow BICUBIC, centre crop at
//                     ((h' - size) // 2, (w' - size) // 2);
//   VTC_ASPECT_PAD    LLaVA-1.5: expand2square with the colour int(mean * 255)
//                     (image pasted centred on the short axis), then as CROP;
//   VTC_ASPECT_RESIZE SiglipImageProcessor: BICUBIC straight to size x size;
// then x * (1/255) (in double, rounded to float) and (x - mean) / std in float.
// Elongated images cost no large intermediate (only the kept window is resampled,
// the padding is never built); VTC_ERR_LIMIT only when the filter state alone
// would pass 1 GiB (e.g. 1 x 64M pixels). size in 1..8192, mean and std finite,
// std nonzero, else VTC_ERR_ARG.
int vtc_preprocess_rgb(const uint8_t *rgb, int w, int h, int size, int aspect, const float mean[3],
                       const float std[3], float *out_chw);

// n packed RGB8 pixels -> out_chw [3, n]: x * (1/255) in double rounded to
// float, then (x - mean) / std in float, as transformers' rescale + normalize
// (the last step of vtc_preprocess_rgb). mean, std finite and std nonzero.
void vtc_normalize_rgb8(const uint8_t *rgb, size_t n, const float mean[3], const float std[3], float *out_chw);

// Qwen2-VL's smart_resize (transformers' image_processing_qwen2_vl.py): both
// sides rounded (half to even) to multiples of `factor`, then, when the pixel
// count passes max_pixels, scaled down by sqrt(h*w / max_pixels) with floor (at
// least one factor a side), or, under min_pixels, up by sqrt(min_pixels / (h*w))
// with ceil. *rh, *rw receive the sides. An aspect ratio over 200, or sides,
// factor or bounds out of range: VTC_ERR_ARG (min_pixels > max_pixels is
// computed as the processor does).
int vtc_smart_resize(int h, int w, int factor, int64_t min_pixels, int64_t max_pixels, int *rh, int *rw);

// Qwen2-VL's pixel_values of n_frames RGB8 frames (each w x h, stride 3*w):
// each resized with Pillow BICUBIC to rw x rh (multiples of patch*merge),
// rescaled and normalised as vtc_normalize_rgb8, the frames grouped in time by
// tp (a count that is not a multiple of tp repeats the last frame, as the
// processor does; an image is one frame, so it is repeated), and cut into
// patches: out [grid_t * gh * gw, 3 * tp * patch * patch], grid_t =
// ceil(n_frames / tp), gh = rh / patch, gw = rw / patch, rows in the processor's
// (t, gh/m, gw/m, m, m) order, columns (c, t', y, x) like the Conv3d weight.
int vtc_preprocess_native(const uint8_t *const *frames, int n_frames, int w, int h, int rw, int rh, int patch,
                          int merge, int tp, const float mean[3], const float std[3], float *out);

#endif
