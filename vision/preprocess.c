// Pillow-exact bicubic resampling and the CLIP / SigLIP / LLaVA image processors.
//
// The resampler is Pillow 9.x's Resample.c for 8-bit images: for output sample
// i the input window is centred at (i + 0.5) * scale with support 2 * max(scale, 1)
// (antialiasing when shrinking), weights bicubic(a = -0.5) of the distance scaled
// by 1 / max(scale, 1), normalised to sum 1 in double, rounded half away from zero
// to 22-bit fixed point; each pass accumulates from 1 << 21 in int32, shifts right
// by 22 and clips to [0, 255]. Horizontal pass first, then vertical; a pass whose
// dimension does not change is the identity (Pillow skips it: same result).
//
// Pillow materialises whatever it resizes; we do not need to. Both processors
// that would make large intermediates are computed exactly without them:
// - centre crop (CLIP): only the output window that survives the crop is
//   evaluated (a 1 x 100000 strip resized to 336 x 33600000 is cheap);
// - pad to square (LLaVA): the image sits on a constant-colour canvas; canvas
//   samples are never built, the weights falling on the background are summed
//   once (bg * sum(k) is exactly what Pillow's loop adds up).
// The vertical pass streams through a ring of intermediate rows, in blocks of
// columns, so memory is O(taps x block) rather than O(width x height).
#include "preprocess.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"

#define PRECISION_BITS (32 - 8 - 2)
#define HALF (1 << (PRECISION_BITS - 1))
#define ONE (1 << PRECISION_BITS)
#define BLOCK_COLS 256                    // columns per vertical sweep
#define MAX_STATE_BYTES ((size_t)1 << 30) // filter tables + ring; beyond it only absurd shapes

static double bicubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

static inline uint8_t clip8(int32_t v) {
    v >>= PRECISION_BITS; // arithmetic shift, as in Pillow
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

// ---------------------------------------------------------------- one axis

// Resizing `in` samples to `out` along one axis.
typedef struct {
    int64_t in, out;
    double scale, support, ss;
    int identity;
} axis;

static axis axis_make(int64_t in, int64_t out) {
    axis a;
    a.in = in;
    a.out = out;
    a.identity = in == out;
    a.scale = (double)in / (double)out;
    double filterscale = a.scale < 1.0 ? 1.0 : a.scale;
    a.support = 2.0 * filterscale; // bicubic support 2, stretched when shrinking
    a.ss = 1.0 / filterscale;
    return a;
}

// The input window [*first, *first + *n) of output sample i (Pillow's precompute_coeffs).
static void axis_window(const axis *a, int64_t i, int *first, int *n) {
    if (a->identity) {
        *first = (int)i;
        *n = 1;
        return;
    }
    double center = (i + 0.5) * a->scale;
    int64_t lo = (int64_t)(center - a->support + 0.5);
    int64_t hi = (int64_t)(center + a->support + 0.5);
    if (lo < 0) lo = 0;
    if (hi > a->in) hi = a->in;
    *first = (int)lo;
    *n = hi > lo ? (int)(hi - lo) : 0;
}

// Fixed-point weights of output sample i: those of the inputs in [lo, hi) go to
// k in input order; returns the sum of all the window's weights.
static int64_t axis_weights(const axis *a, int64_t i, int64_t lo, int64_t hi, int32_t *k) {
    int first, n;
    axis_window(a, i, &first, &n);
    if (a->identity) {
        if (first >= lo && first < hi) k[0] = ONE;
        return ONE;
    }
    double center = (i + 0.5) * a->scale, ww = 0.0;
    for (int x = 0; x < n; x++) ww += bicubic((x + first - center + 0.5) * a->ss);
    int64_t sum = 0;
    for (int x = 0, o = 0; x < n; x++) {
        double w = bicubic((x + first - center + 0.5) * a->ss); // the same value as above
        if (ww != 0.0) w /= ww;
        int32_t q = w < 0 ? (int32_t)(-0.5 + w * ONE) : (int32_t)(0.5 + w * ONE);
        sum += q;
        if (x + first >= lo && x + first < hi) k[o++] = q;
    }
    return sum;
}

// The part [a, b) of the window of output i that falls in [lo, hi); returns its length.
static int window_part(const axis *ax, int64_t i, int64_t lo, int64_t hi, int *a) {
    int first, n;
    axis_window(ax, i, &first, &n);
    int64_t s = first > lo ? first : lo, e = (int64_t)first + n < hi ? (int64_t)first + n : hi;
    *a = (int)s;
    return e > s ? (int)(e - s) : 0;
}

// ---------------------------------------------------------------- the canvas resampler

// An RGB image placed at (ox, oy) on a canvas of a constant colour.
struct canvas {
    const uint8_t *rgb; // stride 3 * w
    int w, h;
    int width, height;  // canvas, >= the image
    int ox, oy;
    uint8_t bg[3];
};

// dst (wh rows of ww pixels, stride 3 * ww) = the window at (x0, y0) of Pillow's
// BICUBIC resize of the canvas to out_w x out_h. The window must lie inside.
static int resample(const struct canvas *cv, int64_t out_w, int64_t out_h, int64_t x0, int64_t y0, int ww, int wh,
                    uint8_t *dst) {
    const axis ax = axis_make(cv->width, out_w), ay = axis_make(cv->height, out_h);
    const int64_t ix0 = cv->ox, ix1 = (int64_t)cv->ox + cv->w, iy0 = cv->oy, iy1 = (int64_t)cv->oy + cv->h;
    int st = 0;

    // Geometry first, to size everything before allocating it.
    int tx0 = ww, tx1 = 0, maxband = 0, a;
    size_t htaps = 0, vtaps = 0;
    for (int j = 0; j < ww; j++)
        if (window_part(&ax, x0 + j, ix0, ix1, &a) > 0) {
            if (j < tx0) tx0 = j;
            tx1 = j + 1;
        }
    for (int j = tx0; j < tx1; j++) htaps += (size_t)window_part(&ax, x0 + j, ix0, ix1, &a);
    for (int i = 0; i < wh; i++) {
        int n = window_part(&ay, y0 + i, iy0, iy1, &a);
        vtaps += (size_t)n;
        if (n > maxband) maxband = n;
    }
    const int tw = tx1 > tx0 ? tx1 - tx0 : 0, bw_max = tw < BLOCK_COLS ? tw : BLOCK_COLS;
    const size_t state = (htaps + vtaps) * sizeof(int32_t) + (size_t)(maxband + 1) * bw_max * 3 +
                         (size_t)ww * (3 + 4 * sizeof(int64_t)) + (size_t)wh * 4 * sizeof(int64_t) +
                         (size_t)bw_max * 3 * sizeof(int32_t);
    if (state > MAX_STATE_BYTES)
        return vtc_set_error(VTC_ERR_LIMIT,
                             "resize: %dx%d -> %lldx%lld needs %zu MiB of filter state (an image this elongated is "
                             "not supported)",
                             cv->width, cv->height, (long long)out_w, (long long)out_h, state >> 20);

    uint8_t *hb = vtc_alloc((size_t)ww, 3);        // [ww][3] a background canvas row, resampled
    int64_t *hcol = vtc_alloc((size_t)tw + 1, 3 * sizeof(int64_t)); // per touching column: x, n, offset
    int64_t *hbgk = vtc_alloc((size_t)tw + 1, sizeof(int64_t));     // weight on the background
    int32_t *hk = vtc_alloc(htaps + 1, sizeof(int32_t));
    int64_t *vrow = vtc_alloc((size_t)wh, 4 * sizeof(int64_t));     // per row: first, n, offset, sum
    int64_t *vbgk = vtc_alloc((size_t)wh, sizeof(int64_t));
    int32_t *vk = vtc_alloc(vtaps + 1, sizeof(int32_t));
    uint8_t *ring = vtc_alloc((size_t)(maxband + 1) * (bw_max + 1), 3);
    int32_t *acc = vtc_alloc((size_t)bw_max + 1, 3 * sizeof(int32_t));
    if (!hb || !hcol || !hbgk || !hk || !vrow || !vbgk || !vk || !ring || !acc) {
        st = VTC_ERR_NOMEM;
        goto done;
    }

    // Columns: the image-covering weights of the touching ones, and what a pure
    // background row becomes (also the value of every row at a column that
    // does not touch the image).
    size_t off = 0;
    for (int j = 0; j < ww; j++) {
        int n = j >= tx0 && j < tx1 ? window_part(&ax, x0 + j, ix0, ix1, &a) : 0;
        int64_t sum = axis_weights(&ax, x0 + j, ix0, ix0 + (n ? ix1 - ix0 : 0), hk + off);
        for (int c = 0; c < 3; c++) hb[j * 3 + c] = clip8((int32_t)(HALF + cv->bg[c] * sum));
        if (j >= tx0 && j < tx1) {
            int64_t *col = hcol + (size_t)(j - tx0) * 3, inside = 0;
            for (int t = 0; t < n; t++) inside += hk[off + t];
            col[0] = a - cv->ox;
            col[1] = n;
            col[2] = (int64_t)off;
            hbgk[j - tx0] = sum - inside;
            off += (size_t)n;
        }
    }
    // Rows: the image-covering weights, the weight on the background, the total.
    off = 0;
    for (int i = 0; i < wh; i++) {
        int n = window_part(&ay, y0 + i, iy0, iy1, &a);
        int64_t sum = axis_weights(&ay, y0 + i, iy0, iy0 + (n ? iy1 - iy0 : 0), vk + off), inside = 0;
        for (int t = 0; t < n; t++) inside += vk[off + t];
        int64_t *r = vrow + (size_t)i * 4;
        r[0] = a;
        r[1] = n;
        r[2] = (int64_t)off;
        r[3] = sum;
        vbgk[i] = sum - inside;
        off += (size_t)n;
    }

    // Columns that never see the image: every intermediate row holds hb there.
    for (int i = 0; i < wh; i++) {
        uint8_t *out = dst + (size_t)i * ww * 3;
        for (int j = 0; j < ww; j++) {
            if (j == tx0) j = tx1;
            if (j >= ww) break;
            for (int c = 0; c < 3; c++) out[j * 3 + c] = clip8((int32_t)(HALF + hb[j * 3 + c] * vrow[(size_t)i * 4 + 3]));
        }
    }

    // Touching columns, a block at a time: horizontal pass into the ring, vertical out of it.
    const int cap = maxband > 0 ? maxband : 1;
    for (int jb = tx0; jb < tx1; jb += BLOCK_COLS) {
        const int bw = tx1 - jb < BLOCK_COLS ? tx1 - jb : BLOCK_COLS;
        const size_t rstride = (size_t)bw * 3;
        int64_t hi = INT64_MIN; // rows [.., hi) of the image band are in the ring
        for (int i = 0; i < wh; i++) {
            const int64_t *r = vrow + (size_t)i * 4;
            const int64_t first = r[0], n = r[1];
            const int32_t *k = vk + r[2];
            if (hi < first) hi = first;
            for (; hi < first + n; hi++) { // horizontal pass for canvas row hi
                const uint8_t *src = cv->rgb + (size_t)(hi - cv->oy) * cv->w * 3;
                uint8_t *o = ring + (size_t)(hi % cap) * rstride;
                for (int jj = 0; jj < bw; jj++) {
                    const int64_t *col = hcol + (size_t)(jb - tx0 + jj) * 3;
                    const uint8_t *p = src + (size_t)col[0] * 3;
                    const int32_t *kk = hk + col[2];
                    const int32_t kbg = (int32_t)hbgk[jb - tx0 + jj];
                    int32_t s0 = HALF + cv->bg[0] * kbg, s1 = HALF + cv->bg[1] * kbg, s2 = HALF + cv->bg[2] * kbg;
                    for (int64_t t = 0; t < col[1]; t++, p += 3) {
                        s0 += p[0] * kk[t];
                        s1 += p[1] * kk[t];
                        s2 += p[2] * kk[t];
                    }
                    o[jj * 3] = clip8(s0);
                    o[jj * 3 + 1] = clip8(s1);
                    o[jj * 3 + 2] = clip8(s2);
                }
            }
            const int32_t kbg = (int32_t)vbgk[i];
            const uint8_t *bgrow = hb + (size_t)jb * 3;
            for (size_t q = 0; q < rstride; q++) acc[q] = HALF + bgrow[q] * kbg;
            for (int64_t t = 0; t < n; t++) {
                const uint8_t *row = ring + (size_t)((first + t) % cap) * rstride;
                const int32_t kt = k[t];
                for (size_t q = 0; q < rstride; q++) acc[q] += row[q] * kt;
            }
            uint8_t *out = dst + ((size_t)i * ww + jb) * 3;
            for (size_t q = 0; q < rstride; q++) out[q] = clip8(acc[q]);
        }
    }
done:
    free(hb);
    free(hcol);
    free(hbgk);
    free(hk);
    free(vrow);
    free(vbgk);
    free(vk);
    free(ring);
    free(acc);
    return st;
}

// ---------------------------------------------------------------- public entry points

#define MAX_SIDE (1 << 24)

int vtc_resize_bicubic_u8(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh) {
    if (!src || !dst || sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0 || dw > MAX_SIDE || dh > MAX_SIDE)
        return vtc_set_error(VTC_ERR_ARG, "resize: bad size %dx%d -> %dx%d", sw, sh, dw, dh);
    struct canvas cv = { src, sw, sh, sw, sh, 0, 0, { 0, 0, 0 } };
    return resample(&cv, dw, dh, 0, 0, dw, dh, dst);
}

// LLaVA fills the square with tuple(int(x * 255) for x in image_mean), x the
// Python float (a double) of the config's decimal; we hold a float32. A config
// writes few digits, so the shortest decimal of up to 7 significant digits that
// rounds to our float is taken as that decimal; failing one, the float itself.
// Pillow clips the colour to [0, 255].
static uint8_t mean_to_background(float m) {
    double d = m;
    char buf[32];
    for (int digits = 1; digits <= 7; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)m);
        if (strtof(buf, NULL) == m) {
            d = strtod(buf, NULL);
            break;
        }
    }
    double v = d * 255.0;
    if (!(v > 0.0)) return 0;
    if (v >= 255.0) return 255;
    return (uint8_t)(int)v; // int() truncates
}

void vtc_normalize_rgb8(const uint8_t *rgb, size_t n, const float mean[3], const float std[3], float *out) {
    // transformers' rescale (float64 x * (1/255), then float32) and normalize
    // ((x - mean) / std in float32), tabulated per channel and value.
    float table[3][256];
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) {
            float x = (float)(v * (1.0 / 255.0));
            table[c][v] = (x - mean[c]) / std[c];
        }
    for (size_t p = 0; p < n; p++)
        for (int c = 0; c < 3; c++) out[c * n + p] = table[c][rgb[p * 3 + c]];
}

int vtc_preprocess_rgb(const uint8_t *rgb, int w, int h, int size, int aspect, const float mean[3],
                       const float std[3], float *out) {
    if (!rgb || !out || !mean || !std || w <= 0 || h <= 0 || size < 1 || size > 8192)
        return vtc_set_error(VTC_ERR_ARG, "preprocess: bad image %dx%d or size %d (1..8192)", w, h, size);
    if (aspect != VTC_ASPECT_CROP && aspect != VTC_ASPECT_PAD && aspect != VTC_ASPECT_RESIZE)
        return vtc_set_error(VTC_ERR_ARG, "preprocess: bad aspect mode %d", aspect);
    for (int c = 0; c < 3; c++)
        if (!isfinite(mean[c]) || !isfinite(std[c]) || std[c] == 0.0f)
            return vtc_set_error(VTC_ERR_ARG, "preprocess: bad mean/std (%g, %g) for channel %d", mean[c], std[c], c);

    struct canvas cv = { rgb, w, h, w, h, 0, 0, { 0, 0, 0 } };
    if (aspect == VTC_ASPECT_PAD && w != h) { // LLaVA's expand2square
        int s = w > h ? w : h;
        cv.width = cv.height = s;
        cv.ox = (s - w) / 2;
        cv.oy = (s - h) / 2;
        for (int c = 0; c < 3; c++) cv.bg[c] = mean_to_background(mean[c]);
    }
    int64_t rw = size, rh = size;
    if (aspect != VTC_ASPECT_RESIZE) {
        // transformers' get_resize_output_image_size: shortest edge to size,
        // the other int(size * long / short); then the centre crop.
        if (cv.width <= cv.height)
            rh = (int64_t)((double)size * cv.height / cv.width);
        else
            rw = (int64_t)((double)size * cv.width / cv.height);
    }
    uint8_t *crop = vtc_alloc((size_t)size * size, 3);
    if (!crop) return VTC_ERR_NOMEM;
    int st = resample(&cv, rw, rh, (rw - size) / 2, (rh - size) / 2, size, size, crop);
    if (st) vtc_wrap_error(st, "preprocess: %dx%d image to %d", w, h, size);
    if (!st) vtc_normalize_rgb8(crop, (size_t)size * size, mean, std, out);
    free(crop);
    return st;
}

// ---------------------------------------------------------------- Qwen2-VL

int vtc_smart_resize(int h, int w, int factor, int64_t min_pixels, int64_t max_pixels, int *rh, int *rw) {
    // min_pixels > max_pixels is computed as the processor computes it (the
    // loader refuses such a config)
    if (h <= 0 || w <= 0 || h > MAX_SIDE || w > MAX_SIDE || factor <= 0 || factor > 4096 || min_pixels < 0 ||
        max_pixels <= 0 || min_pixels > ((int64_t)1 << 40) || max_pixels > ((int64_t)1 << 40))
        return vtc_set_error(VTC_ERR_ARG, "smart_resize: bad size %dx%d, factor %d or pixel bounds [%lld, %lld]", w,
                             h, factor, (long long)min_pixels, (long long)max_pixels);
    const int lo = h < w ? h : w, hi = h < w ? w : h;
    if ((double)hi / lo > 200)
        return vtc_set_error(VTC_ERR_ARG, "a %dx%d image: its aspect ratio %.1f is over 200, which the Qwen2-VL "
                             "processor refuses", w, h, (double)hi / lo);
    // Python's round() (half to even) is nearbyint() in the default rounding mode.
    double hb = nearbyint((double)h / factor) * factor, wb = nearbyint((double)w / factor) * factor;
    if (hb * wb > (double)max_pixels) {
        double beta = sqrt((double)h * w / (double)max_pixels);
        hb = floor(h / beta / factor) * factor;
        wb = floor(w / beta / factor) * factor;
        if (hb < factor) hb = factor;
        if (wb < factor) wb = factor;
    } else if (hb * wb < (double)min_pixels) {
        double beta = sqrt((double)min_pixels / ((double)h * w));
        hb = ceil(h * beta / factor) * factor;
        wb = ceil(w * beta / factor) * factor;
    }
    if (hb < factor || wb < factor || hb > MAX_SIDE || wb > MAX_SIDE)
        return vtc_set_error(VTC_ERR_ARG, "smart_resize: a %dx%d image resizes to %.0fx%.0f", w, h, wb, hb);
    *rh = (int)hb, *rw = (int)wb;
    return VTC_OK;
}

int vtc_preprocess_native(const uint8_t *const *frames, int n_frames, int w, int h, int rw, int rh, int patch,
                          int merge, int tp, const float mean[3], const float std[3], float *out) {
    if (!frames || !out || !mean || !std || n_frames < 1 || w <= 0 || h <= 0 || patch <= 0 || merge <= 0 ||
        tp <= 0 || rw <= 0 || rh <= 0 || rw % (patch * merge) || rh % (patch * merge) || rw > MAX_SIDE ||
        rh > MAX_SIDE)
        return vtc_set_error(VTC_ERR_ARG, "preprocess_native: bad input (%d frames %dx%d to %dx%d, patch %d, "
                             "merge %d, temporal patch %d)", n_frames, w, h, rw, rh, patch, merge, tp);
    for (int c = 0; c < 3; c++)
        if (!isfinite(mean[c]) || !isfinite(std[c]) || std[c] == 0.0f)
            return vtc_set_error(VTC_ERR_ARG, "preprocess: bad mean/std (%g, %g) for channel %d", mean[c], std[c], c);
    const size_t n = (size_t)rw * rh, gh = (size_t)(rh / patch), gw = (size_t)(rw / patch), pp = (size_t)patch * patch;
    const size_t row = 3 * (size_t)tp * pp;
    const int grid_t = (n_frames + tp - 1) / tp;
    uint8_t *rgb = vtc_alloc(n, 3);
    float *chw = vtc_alloc(n * 3, sizeof(float));
    if (!rgb || !chw) {
        free(rgb), free(chw);
        return VTC_ERR_NOMEM;
    }
    int st = VTC_OK;
    for (int f = 0; f < grid_t * tp && !st; f++) {
        if (f < n_frames) { // past the last frame, its pixels are repeated
            if (!frames[f]) {
                st = vtc_set_error(VTC_ERR_ARG, "preprocess_native: frame %d is NULL", f);
                break;
            }
            st = vtc_resize_bicubic_u8(frames[f], w, h, rgb, rw, rh);
            if (st) break;
            vtc_normalize_rgb8(rgb, n, mean, std, chw);
        }
        const size_t t = (size_t)(f / tp), tt = (size_t)(f % tp);
        for (size_t gy = 0; gy < gh; gy++)
            for (size_t gx = 0; gx < gw; gx++) {
                const size_t unit = (gy / merge) * (gw / merge) + gx / merge;
                const size_t r = t * gh * gw + unit * merge * merge + (gy % merge) * merge + gx % merge;
                for (int c = 0; c < 3; c++) {
                    float *dst = out + r * row + ((size_t)c * tp + tt) * pp;
                    for (int ky = 0; ky < patch; ky++)
                        memcpy(dst + (size_t)ky * patch, chw + (size_t)c * n + (gy * patch + ky) * (size_t)rw + gx * patch,
                               sizeof(float) * patch);
                }
            }
    }
    free(rgb);
    free(chw);
    return st;
}
