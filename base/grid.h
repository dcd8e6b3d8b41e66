// Resampling of token grids: the bilinear resize that LLaVA-OneVision applies to
// feature grids (the anyres_max_N shrink of the stitched tiles, and the video
// frames' pooling), shared by vision/ and prune/. Pure functions: no allocation,
// no errors; the caller checks the sizes.
#ifndef VTC_GRID_H
#define VTC_GRID_H

#include <stdint.h>

// torch's area_pixel_compute_source_index for align_corners=False: output cell o
// of out_size samples the source coordinate in_size / out_size * (o + 0.5) - 0.5
// (in double), clamped at 0, split into the cells on either side, lo and
// hi = lo + 1 (hi = lo on the last cell), and the weight of hi. in_size, out_size >= 1.
void vtc_grid_bilinear_tap(int32_t o, int32_t in_size, int32_t out_size, int32_t *lo, int32_t *hi, double *w_hi);

// The source cell nearest to what output cell o samples: hi when its weight is
// above one half, else lo (so ties go to the lower cell). For reporting which
// source token (and so which tile) a resized token stands for.
int32_t vtc_grid_bilinear_nearest(int32_t o, int32_t in_size, int32_t out_size);

// in (H, W, d) -> out (Ho, Wo, d): torch.nn.functional.interpolate(x, (Ho, Wo),
// mode="bilinear", align_corners=False), no antialiasing, on channels-last rows.
// Each output is (1-wy)((1-wx) x00 + wx x01) + wy((1-wx) x10 + wx x11) in double,
// rounded once to float: torch's float64 kernel to the last rounding. torch's
// float32 kernel (1.13) first rounds the scale in_size / out_size to float, which
// moves every sample a little: up to ~1e-5 relative from this on wide shrinks
// (6e-6 measured on 81 x 108 -> 70 x 93, tests/test_anyres.c).
// All sizes >= 1; in and out must not overlap.
void vtc_grid_bilinear(const float *in, int32_t H, int32_t W, int32_t d, int32_t Ho, int32_t Wo, float *out);

#endif
