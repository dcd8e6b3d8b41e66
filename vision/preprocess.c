// Pillow-exact bicubic resampling and the CLIP / SigLIP / LLaVA image processors.
//
// The resampler follows Pillow's Resample.c behaviour (Pillow 9.x): for each
// output pixel a window of input pixels centred at (x + 0.5) * scale, weights
// from the bicubic kernel (a = -0.5) stretched by max(scale, 1) (antialiasing),
// normalised to sum 1, then converted to 22-bit fixed point with rounding; each
// pass accumulates from 1 << 21 (rounding) and clips to [0, 255]. Horizontal
// pass first (only over the rows the vertical pass will read), then vertical.
#include "preprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define PRECISION_BITS (32 - 8 - 2)

static double bicubic(double x) {
    const double a = -0.5;
    x = fabs(x);
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

// Per output index: first input index, count, and ksize fixed-point weights.
struct coeffs {
    int ksize;
    int *bounds;  // [out, 2]: xmin, xcount
    int32_t *k;   // [out, ksize]
};

static int precompute(int in_size, double in0, double in1, int out_size, struct coeffs *c) {
    const double support_base = 2.0;
    double scale = (in1 - in0) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = support_base * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    c->ksize = ksize;
    c->bounds = vtc_alloc((size_t)out_size * 2, sizeof(int));
    c->k = vtc_alloc((size_t)out_size * ksize, sizeof(int32_t));
    double *pre = vtc_alloc((size_t)ksize, sizeof(double));
    if (!c->bounds || !c->k || !pre) {
        free(pre);
        return VTC_ERR_NOMEM;
    }
    double ss = 1.0 / filterscale;
    for (int xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale;
        double ww = 0.0;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            double w = bicubic((x + xmin - center + 0.5) * ss);
            pre[x] = w;
            ww += w;
        }
        for (int x = 0; x < xmax; x++)
            if (ww != 0.0) pre[x] /= ww;
        int32_t *k = c->k + (size_t)xx * ksize;
        for (int x = 0; x < ksize; x++) {
            double v = x < xmax ? pre[x] : 0.0;
            // Pillow's normalize_coeffs_8bpc: round half away from zero
            k[x] = (int32_t)(v < 0 ? (int)(-0.5 + v * (1 << PRECISION_BITS)) : (int)(0.5 + v * (1 << PRECISION_BITS)));
        }
        c->bounds[xx * 2] = xmin;
        c->bounds[xx * 2 + 1] = xmax;
    }
    free(pre);
    return 0;
}

static void coeffs_free(struct coeffs *c) {
    free(c->bounds);
    free(c->k);
}

static inline uint8_t clip8(int32_t v) {
    v >>= PRECISION_BITS;
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

// rows [0, h) of src (w wide) -> dst (dw wide)
static void pass_horizontal(const uint8_t *src, int w, int h, uint8_t *dst, int dw, const struct coeffs *c) {
    for (int y = 0; y < h; y++) {
        const uint8_t *row = src + (size_t)y * w * 3;
        uint8_t *out = dst + (size_t)y * dw * 3;
        for (int xx = 0; xx < dw; xx++) {
            int xmin = c->bounds[xx * 2], xmax = c->bounds[xx * 2 + 1];
            const int32_t *k = c->k + (size_t)xx * c->ksize;
            int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
            for (int x = 0; x < xmax; x++) {
                const uint8_t *p = row + (size_t)(x + xmin) * 3;
                s0 += p[0] * k[x];
                s1 += p[1] * k[x];
                s2 += p[2] * k[x];
            }
            out[xx * 3] = clip8(s0);
            out[xx * 3 + 1] = clip8(s1);
            out[xx * 3 + 2] = clip8(s2);
        }
    }
}

// src rows offset so that bounds index rows of src directly
static void pass_vertical(const uint8_t *src, int w, uint8_t *dst, int dh, const struct coeffs *c, int row0) {
    for (int yy = 0; yy < dh; yy++) {
        int ymin = c->bounds[yy * 2] - row0, ymax = c->bounds[yy * 2 + 1];
        const int32_t *k = c->k + (size_t)yy * c->ksize;
        uint8_t *out = dst + (size_t)yy * w * 3;
        for (int x = 0; x < w * 3; x++) {
            int32_t s = 1 << (PRECISION_BITS - 1);
            for (int y = 0; y < ymax; y++) s += src[(size_t)(y + ymin) * w * 3 + x] * k[y];
            out[x] = clip8(s);
        }
    }
}

int vtc_resize_bicubic_u8(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh) {
    if (!src || !dst || sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0 || dw > 65536 || dh > 65536)
        return vtc_set_error(VTC_ERR_ARG, "resize: bad size %dx%d -> %dx%d", sw, sh, dw, dh);
    int need_h = dw != sw, need_v = dh != sh;
    if (!need_h && !need_v) {
        memcpy(dst, src, (size_t)sw * sh * 3);
        return 0;
    }
    struct coeffs ch = { 0 }, cv = { 0 };
    int st = 0;
    if (need_h) st = precompute(sw, 0, sw, dw, &ch);
    if (!st && need_v) st = precompute(sh, 0, sh, dh, &cv);
    uint8_t *tmp = NULL;
    if (!st && need_h && need_v) {
        // only the rows the vertical pass reads
        int ybox_first = cv.bounds[0];
        int ybox_last = cv.bounds[(dh - 1) * 2] + cv.bounds[(dh - 1) * 2 + 1];
        int rows = ybox_last - ybox_first;
        tmp = vtc_alloc((size_t)dw * rows, 3);
        if (!tmp) st = VTC_ERR_NOMEM;
        if (!st) {
            pass_horizontal(src + (size_t)ybox_first * sw * 3, sw, rows, tmp, dw, &ch);
            pass_vertical(tmp, dw, dst, dh, &cv, ybox_first);
        }
    } else if (!st && need_h) {
        pass_horizontal(src, sw, sh, dst, dw, &ch);
    } else if (!st) {
        pass_vertical(src, sw, dst, dh, &cv, 0);
    }
    free(tmp);
    coeffs_free(&ch);
    coeffs_free(&cv);
    return st;
}

// transformers' rescale + normalize of a size x size RGB8 crop at (left, top) of img
static void to_chw(const uint8_t *rgb, int w, int left, int top, int size, const float mean[3], const float std[3],
                   float *out) {
    for (int c = 0; c < 3; c++) {
        float *plane = out + (size_t)c * size * size;
        for (int y = 0; y < size; y++) {
            const uint8_t *row = rgb + ((size_t)(y + top) * w + left) * 3;
            for (int x = 0; x < size; x++) {
                // rescale in double then to float (transformers: astype(float64) * 1/255 -> float32)
                float v = (float)(row[x * 3 + c] * (1.0 / 255.0));
                plane[(size_t)y * size + x] = (v - mean[c]) / std[c];
            }
        }
    }
}

int vtc_preprocess_rgb(const uint8_t *rgb, int w, int h, int size, int aspect, const float mean[3],
                       const float std[3], float *out) {
    if (!rgb || !out || w <= 0 || h <= 0 || size <= 0 || size > 8192)
        return vtc_set_error(VTC_ERR_ARG, "preprocess: bad image %dx%d or size %d", w, h, size);
    if (aspect != VTC_ASPECT_CROP && aspect != VTC_ASPECT_PAD && aspect != VTC_ASPECT_RESIZE)
        return vtc_set_error(VTC_ERR_ARG, "preprocess: bad aspect mode %d", aspect);
    // The processors build a full-size intermediate (the padded square, or the
    // image resized on its shortest side) as Pillow does; bound it, since an
    // extreme aspect ratio (1 x 100000) would otherwise need gigapixels.
    const uint64_t max_intermediate = (uint64_t)1 << 26;
    uint64_t side = (uint64_t)(w > h ? w : h), shortest = (uint64_t)(w < h ? w : h);
    uint64_t padded_px = aspect == VTC_ASPECT_PAD ? side * side : 0;
    uint64_t long_px = aspect == VTC_ASPECT_RESIZE ? 0
                       : aspect == VTC_ASPECT_PAD ? (uint64_t)size * size
                                                  : (uint64_t)size * (uint64_t)((double)size * side / shortest + 1);
    if (padded_px > max_intermediate || long_px > max_intermediate)
        return vtc_set_error(VTC_ERR_LIMIT,
                             "preprocess: a %dx%d image is too elongated for this model's processor (intermediate of "
                             "%llu pixels, limit %llu)",
                             w, h, (unsigned long long)(padded_px > long_px ? padded_px : long_px),
                             (unsigned long long)max_intermediate);
    int st = 0;
    uint8_t *padded = NULL, *resized = NULL;
    if (aspect == VTC_ASPECT_PAD && w != h) {
        // LLaVA's expand2square: background int(mean * 255), image pasted centred
        int s = w > h ? w : h;
        padded = vtc_alloc((size_t)s * s, 3);
        if (!padded) return VTC_ERR_NOMEM;
        uint8_t bg[3];
        for (int c = 0; c < 3; c++) bg[c] = (uint8_t)(int)(mean[c] * 255);
        for (size_t i = 0; i < (size_t)s * s; i++) memcpy(padded + i * 3, bg, 3);
        int ox = (s - w) / 2, oy = (s - h) / 2;
        for (int y = 0; y < h; y++) memcpy(padded + ((size_t)(y + oy) * s + ox) * 3, rgb + (size_t)y * w * 3, (size_t)w * 3);
        rgb = padded;
        w = h = s;
    }
    int rw, rh;
    if (aspect == VTC_ASPECT_RESIZE) {
        rw = rh = size;
    } else { // shortest edge to size, the long one int(size * long / short)
        if (w <= h) {
            rw = size;
            rh = (int)((double)size * h / w);
        } else {
            rh = size;
            rw = (int)((double)size * w / h);
        }
        if (rw < size) rw = size;
        if (rh < size) rh = size;
    }
    resized = vtc_alloc((size_t)rw * rh, 3);
    if (!resized) st = VTC_ERR_NOMEM;
    if (!st) st = vtc_resize_bicubic_u8(rgb, w, h, resized, rw, rh);
    if (!st) to_chw(resized, rw, (rw - size) / 2, (rh - size) / 2, size, mean, std, out);
    free(padded);
    free(resized);
    return st;
}
