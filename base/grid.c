// Bilinear resize of token grids, as torch's upsample_bilinear2d (align_corners=False).
#include "grid.h"

#include <stddef.h>

void vtc_grid_bilinear_tap(int32_t o, int32_t in_size, int32_t out_size, int32_t *lo, int32_t *hi, double *w_hi) {
    double src = (double)in_size / out_size * (o + 0.5) - 0.5;
    if (src < 0.0) src = 0.0; // only when enlarging: a shrink never samples left of 0
    *lo = (int32_t)src;
    *hi = *lo + (*lo < in_size - 1);
    *w_hi = src - *lo;
}

int32_t vtc_grid_bilinear_nearest(int32_t o, int32_t in_size, int32_t out_size) {
    int32_t lo, hi;
    double w;
    vtc_grid_bilinear_tap(o, in_size, out_size, &lo, &hi, &w);
    return w > 0.5 ? hi : lo;
}

void vtc_grid_bilinear(const float *in, int32_t H, int32_t W, int32_t d, int32_t Ho, int32_t Wo, float *out) {
    for (int32_t yo = 0; yo < Ho; yo++) {
        int32_t y0, y1;
        double wy;
        vtc_grid_bilinear_tap(yo, H, Ho, &y0, &y1, &wy);
        for (int32_t xo = 0; xo < Wo; xo++) {
            int32_t x0, x1;
            double wx;
            vtc_grid_bilinear_tap(xo, W, Wo, &x0, &x1, &wx);
            const float *r00 = in + ((size_t)y0 * W + x0) * d, *r01 = in + ((size_t)y0 * W + x1) * d;
            const float *r10 = in + ((size_t)y1 * W + x0) * d, *r11 = in + ((size_t)y1 * W + x1) * d;
            float *o = out + ((size_t)yo * Wo + xo) * d;
            for (int32_t e = 0; e < d; e++)
                o[e] = (float)((1 - wy) * ((1 - wx) * r00[e] + wx * r01[e]) + wy * ((1 - wx) * r10[e] + wx * r11[e]));
        }
    }
}
