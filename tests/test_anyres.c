// Anyres (vision/anyres.c) and the bilinear grid resize (base/grid.c) against
// tools/ref_anyres.py (transformers' LLaVA-NeXT / LLaVA-OneVision processors and
// models, fixtures in tests/fixtures/anyres/):
// - every plan of every pinpoint set over the image-size sweep, field by field,
//   token counts included (the reference asserts its model-side count, from real
//   tensors through unpad_image and interpolate, equals the processors' formula);
// - base and tile pixels of real images: uint8 identical to Pillow's, floats
//   bit-identical to the rescale/normalize recipe applied to them;
// - the bilinear resize against torch's interpolate in float64 (relative 1e-6)
//   and float32 (3e-5: torch's float kernel rounds the scale to float), max printed;
// - hostile sizes, pinpoint lists and arguments: each a specific error, and
//   allocation failures that free everything.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/common.h"
#include "base/grid.h"
#include "base/rng.h"
#include "base/safetensors.h"
#include "vision/anyres.h"
#include "vision/preprocess.h"
#include "vtc.h"

#define DIR "tests/fixtures/anyres/"

static const float CLIP_MEAN[3] = { 0.48145466f, 0.4578275f, 0.40821073f };
static const float CLIP_STD[3] = { 0.26862954f, 0.26130258f, 0.27577711f };
static const float HALF[3] = { 0.5f, 0.5f, 0.5f };

// ---------------------------------------------------------------- the pinpoint sets

struct pset {
    char name[32];
    int32_t S, p, max_tiles, n;
    struct vtc_pinpoint pp[64];
};

static int read_sets(struct pset *sets, int cap) {
    FILE *f = fopen(DIR "sets.tsv", "r");
    if (!f) fail_msg("cannot open " DIR "sets.tsv");
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        if (n == cap) fail_msg("sets.tsv: more than %d sets", cap);
        struct pset *s = &sets[n++];
        char list[4000];
        if (sscanf(line, "%31s %d %d %d %3999s", s->name, &s->S, &s->p, &s->max_tiles, list) != 5)
            fail_msg("sets.tsv: bad line '%s'", line);
        int32_t flat[128], k = 0;
        for (char *t = strtok(list, ","); t; t = strtok(NULL, ",")) {
            if (k == 128) fail_msg("sets.tsv: %s: too many numbers", s->name);
            flat[k++] = (int32_t)atoi(t);
        }
        if (vtc_anyres_pinpoints_parse(flat, k, VTC_PINPOINTS_HW, s->pp, 64, &s->n))
            fail_msg("sets.tsv: %s: %s", s->name, vtc_last_error());
    }
    fclose(f);
    return n;
}

static const struct pset *find_set(const struct pset *sets, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(sets[i].name, name)) return &sets[i];
    fail_msg("no pinpoint set %s", name);
    return NULL;
}

// ---------------------------------------------------------------- plans

static void test_plans(void **state) {
    (void)state;
    struct pset sets[16];
    const int n_sets = read_sets(sets, 16);
    FILE *f = fopen(DIR "plans.tsv", "r");
    if (!f) fail_msg("cannot open " DIR "plans.tsv");
    char line[512];
    int rows = 0, shrunk = 0, per_set[16] = { 0 };
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char name[32];
        int v[19];
        if (sscanf(line, "%31s %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d", name, &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13], &v[14], &v[15],
                   &v[16], &v[17], &v[18]) != 20)
            fail_msg("plans.tsv: bad line '%s'", line);
        const struct pset *s = find_set(sets, n_sets, name);
        per_set[s - sets]++;
        struct vtc_anyres_plan p;
        if (vtc_anyres_plan_make(v[0], v[1], s->S, s->p, s->pp, s->n, s->max_tiles, &p))
            fail_msg("%s %dx%d: %s", name, v[0], v[1], vtc_last_error());
        const int got[19] = { p.image_w,   p.image_h,   p.best_h,  p.best_w,    p.tiles_h,  p.tiles_w, p.resized_h,
                              p.resized_w, p.pad_top,   p.pad_left, p.grid_h,   p.grid_w,   p.unpad_y0, p.unpad_x0,
                              p.unpad_h,   p.unpad_w,   p.out_h,   p.out_w,     (int)p.n_tokens };
        static const char *const cols[19] = { "w",      "h",      "best_h", "best_w", "tiles_h", "tiles_w", "resized_h",
                                              "resized_w", "pad_top", "pad_left", "grid_h", "grid_w", "y0", "x0",
                                              "uh",     "uw",     "oh",     "ow",     "tokens" };
        for (int c = 0; c < 19; c++)
            if (got[c] != v[c])
                fail_msg("%s %dx%d: %s = %d, the reference has %d", name, v[0], v[1], cols[c], got[c], v[c]);
        assert_int_equal(p.n_base, (int64_t)p.grid * p.grid);
        assert_int_equal(p.shrunk, p.out_h != p.unpad_h || p.out_w != p.unpad_w);
        shrunk += p.shrunk;
        // every output cell maps into the window, and onto a tile of the pinpoint
        for (int32_t oy = 0; oy < p.out_h; oy += p.out_h > 8 ? p.out_h / 8 : 1)
            for (int32_t ox = 0; ox < p.out_w; ox += p.out_w > 8 ? p.out_w / 8 : 1) {
                int32_t y, x, t;
                assert_int_equal(vtc_anyres_source(&p, oy, ox, &y, &x, &t), 0);
                assert_true(y >= p.unpad_y0 && y < p.unpad_y0 + p.unpad_h);
                assert_true(x >= p.unpad_x0 && x < p.unpad_x0 + p.unpad_w);
                assert_true(t >= 0 && t < p.tiles_h * p.tiles_w);
                if (!p.shrunk) assert_true(y == p.unpad_y0 + oy && x == p.unpad_x0 + ox);
            }
        rows++;
    }
    fclose(f);
    for (int i = 0; i < n_sets; i++)
        if (!per_set[i]) fail_msg("plans.tsv has no row for set %s", sets[i].name);
    printf("anyres: %d plans over %d pinpoint sets equal the reference (%d shrunk by anyres_max_9)\n", rows, n_sets,
           shrunk);
    assert_true(rows > 500 && shrunk > 10);

    // the figures, independent of the fixture: LLaVA-NeXT at CLIP 336/14
    const struct pset *next = find_set(sets, n_sets, "next336");
    struct vtc_anyres_plan p;
    assert_int_equal(vtc_anyres_plan_make(600, 400, 336, 14, next->pp, next->n, 0, &p), 0);
    assert_int_equal(p.n_tokens, 2144);
    assert_int_equal(p.out_h, 32);
    assert_int_equal(p.out_w, 48);
    assert_int_equal(vtc_anyres_plan_make(512, 512, 336, 14, next->pp, next->n, 0, &p), 0);
    assert_int_equal(p.n_tokens, 2928);
}

// ---------------------------------------------------------------- pixels

static vtc_image *load(const char *path) {
    vtc_image *img = vtc_image_load(path, NULL);
    if (!img) fail_msg("%s: %s", path, vtc_last_error());
    return img;
}

// The recipe written out: float32(v * (1/255) in double), then (x - mean) / std in float.
static float recipe(uint8_t v, float mean, float std) {
    float x = (float)(v * (1.0 / 255.0));
    return (x - mean) / std;
}

// Compares floats out_chw [3, S, S] with the recipe on ref (S x S RGB8, stride
// 3 * stride_px): returns the differing values, *max_abs the largest difference.
static int64_t compare_floats(const float *out, const uint8_t *ref, int S, int stride_px, const float mean[3],
                              const float std[3], double *max_abs) {
    int64_t bad = 0;
    const size_t plane = (size_t)S * S;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            for (int c = 0; c < 3; c++) {
                float want = recipe(ref[((size_t)y * stride_px + x) * 3 + c], mean[c], std[c]);
                float got = out[c * plane + (size_t)y * S + x];
                if (memcmp(&want, &got, sizeof got)) bad++;
                double d = fabs((double)want - got);
                if (d > *max_abs) *max_abs = d;
            }
    return bad;
}

static void test_pixels(void **state) {
    (void)state;
    struct pset sets[16];
    const int n_sets = read_sets(sets, 16);
    FILE *f = fopen(DIR "pixels.tsv", "r");
    if (!f) fail_msg("cannot open " DIR "pixels.tsv");
    char line[512];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char image[64], set[32], canvas_png[200], base_png[200], path[512];
        if (sscanf(line, "%63s %31s %199s %199s", image, set, canvas_png, base_png) != 4)
            fail_msg("pixels.tsv: bad line '%s'", line);
        const struct pset *s = find_set(sets, n_sets, set);
        const float *mean = s->S == 384 ? HALF : CLIP_MEAN, *std = s->S == 384 ? HALF : CLIP_STD;
        snprintf(path, sizeof path, "tests/fixtures/ref_images/%s.%s", image, strcmp(image, "photo") ? "png" : "jpg");
        vtc_image *img = load(path);
        snprintf(path, sizeof path, DIR "%s", canvas_png);
        vtc_image *want_canvas = load(path);
        snprintf(path, sizeof path, DIR "%s", base_png);
        vtc_image *want_base = load(path);

        struct vtc_anyres_plan p;
        assert_int_equal(vtc_anyres_plan_make(img->width, img->height, s->S, s->p, s->pp, s->n, s->max_tiles, &p), 0);
        assert_int_equal(want_canvas->width, p.best_w);
        assert_int_equal(want_canvas->height, p.best_h);
        struct vtc_anyres_canvas cv;
        if (vtc_anyres_canvas_init(&cv, &p, img->rgb, img->width, img->height)) fail_msg("%s", vtc_last_error());

        const int S = s->S;
        uint8_t *u8 = malloc((size_t)S * S * 3);
        float *fl = malloc(sizeof(float) * 3 * S * S);
        assert_non_null(u8);
        assert_non_null(fl);
        int u8_max = 0;
        int64_t float_bad = 0;
        double float_max = 0;
        for (int k = 0; k < p.tiles_h * p.tiles_w; k++) {
            const int ty = k / p.tiles_w * S, tx = k % p.tiles_w * S;
            const uint8_t *ref = want_canvas->rgb + ((size_t)ty * p.best_w + tx) * 3;
            assert_int_equal(vtc_anyres_tile_u8(&cv, k, u8), 0);
            for (int y = 0; y < S; y++)
                for (int i = 0; i < S * 3; i++) {
                    int d = abs((int)u8[(size_t)y * S * 3 + i] - ref[(size_t)y * p.best_w * 3 + i]);
                    if (d > u8_max) u8_max = d;
                }
            assert_int_equal(vtc_anyres_tile(&cv, k, mean, std, fl), 0);
            float_bad += compare_floats(fl, ref, S, p.best_w, mean, std, &float_max);
        }
        // the base: Pillow's resize to S x S, then the same recipe
        int base_u8_max = 0;
        assert_int_equal(vtc_resize_bicubic_u8(img->rgb, img->width, img->height, u8, S, S), 0);
        for (size_t i = 0; i < (size_t)S * S * 3; i++) {
            int d = abs((int)u8[i] - want_base->rgb[i]);
            if (d > base_u8_max) base_u8_max = d;
        }
        double base_float_max = 0;
        assert_int_equal(vtc_anyres_base(&p, img->rgb, img->width, img->height, mean, std, fl), 0);
        int64_t base_bad = compare_floats(fl, want_base->rgb, S, S, mean, std, &base_float_max);
        printf("anyres pixels: %s %s (%dx%d -> %dx%d in %dx%d, %d tiles): tiles max |u8 diff| %d, floats differing "
               "%lld (max %g); base max |u8 diff| %d, floats differing %lld (max %g)\n",
               image, set, img->width, img->height, p.resized_w, p.resized_h, p.best_w, p.best_h,
               p.tiles_h * p.tiles_w, u8_max, (long long)float_bad, float_max, base_u8_max, (long long)base_bad,
               base_float_max);
        assert_int_equal(u8_max, 0);
        assert_int_equal(float_bad, 0);
        assert_int_equal(base_u8_max, 0);
        assert_int_equal(base_bad, 0);
        free(u8);
        free(fl);
        vtc_anyres_canvas_free(&cv);
        vtc_image_free(img);
        vtc_image_free(want_canvas);
        vtc_image_free(want_base);
        cases++;
    }
    fclose(f);
    assert_true(cases >= 3);
}

// ---------------------------------------------------------------- the bilinear grid resize

// Largest |out - want| over the largest |want|, want being n doubles or floats.
static double rel_diff(const float *out, const vtc_tensor_view *t, int n, int is_f64, double *max_abs) {
    double max_diff = 0, max_ref = 0;
    for (int i = 0; i < n; i++) {
        double w;
        if (is_f64) memcpy(&w, t->data + (size_t)i * 8, 8);
        else {
            float f;
            memcpy(&f, t->data + (size_t)i * 4, 4);
            w = f;
        }
        if (fabs((double)out[i] - w) > max_diff) max_diff = fabs((double)out[i] - w);
        if (fabs(w) > max_ref) max_ref = fabs(w);
    }
    *max_abs = max_diff;
    return max_diff / max_ref;
}

// Against torch's interpolate in float64 (the exact bilinear) within 1e-6, and in
// float32, whose kernel rounds the scale H / Ho to float first (a looser 3e-5).
static void test_bilinear(void **state) {
    (void)state;
    vtc_st *st = NULL;
    if (vtc_st_open(DIR "bilinear.safetensors", 1, &st)) fail_msg("%s", vtc_last_error());
    const int n = atoi(vtc_st_meta(st, "cases"));
    assert_true(n > 0);
    double worst = 0, worst32 = 0;
    for (int c = 0; c < n; c++) {
        char key[16], key32[24];
        snprintf(key, sizeof key, "case%d", c);
        snprintf(key32, sizeof key32, "case%d.f32", c);
        int H, W, d, Ho, Wo;
        unsigned long long seed;
        if (sscanf(vtc_st_meta(st, key), "%d,%d,%d,%d,%d,%llu", &H, &W, &d, &Ho, &Wo, &seed) != 6)
            fail_msg("bad case %s", key);
        const vtc_tensor_view *t = vtc_st_find(st, key), *t32 = vtc_st_find(st, key32);
        assert_non_null(t);
        assert_non_null(t32);
        const int n_out = Ho * Wo * d;
        assert_int_equal(t->nbytes, sizeof(double) * n_out);
        assert_int_equal(t32->nbytes, sizeof(float) * n_out);
        // the reference's input: splitmix64's top 24 bits, (u - 2^23) / 2^23
        float *in = malloc(sizeof(float) * H * W * d), *out = malloc(sizeof(float) * n_out);
        assert_non_null(in);
        assert_non_null(out);
        uint64_t s = seed;
        for (int i = 0; i < H * W * d; i++)
            in[i] = (float)((int32_t)(vtc_splitmix64(&s) >> 40) - (1 << 23)) / (float)(1 << 23);
        vtc_grid_bilinear(in, H, W, d, Ho, Wo, out);
        double abs64, abs32;
        const double rel = rel_diff(out, t, n_out, 1, &abs64), rel32 = rel_diff(out, t32, n_out, 0, &abs32);
        printf("anyres bilinear: [%d,%d,%d] -> [%d,%d,%d]: max |diff| %.3g (relative %.3g) to torch float64, %.3g "
               "(relative %.3g) to torch float32\n",
               H, W, d, Ho, Wo, d, abs64, rel, abs32, rel32);
        assert_true(rel <= 1e-6);
        assert_true(rel32 <= 3e-5);
        if (rel > worst) worst = rel;
        if (rel32 > worst32) worst32 = rel32;
        for (int o = 0; o < Ho; o++) {
            int32_t src = vtc_grid_bilinear_nearest(o, H, Ho);
            assert_true(src >= 0 && src < H);
        }
        free(in);
        free(out);
    }
    vtc_st_close(st);
    printf("anyres bilinear: %d grids, worst relative difference %.3g to torch float64 (tolerance 1e-6), %.3g to "
           "torch float32\n",
           n, worst, worst32);
}

// ---------------------------------------------------------------- hostile input

static const struct vtc_pinpoint NEXT[5] = { { 336, 672 }, { 672, 336 }, { 672, 672 }, { 1008, 336 }, { 336, 1008 } };

static void expect_error(int got, int want, const char *what) {
    if (got != want) fail_msg("%s: status %d, expected %d (%s)", what, got, want, vtc_last_error());
    if (!strstr(vtc_last_error(), "anyres")) fail_msg("%s: message '%s' does not say anyres", what, vtc_last_error());
}

// The whole pipeline on one image: plan, canvas, every tile, the base.
static void run_all(const uint8_t *rgb, int w, int h, const struct vtc_pinpoint *pp, int n, int S, int max_tiles,
                    int64_t expect_tokens) {
    struct vtc_anyres_plan p;
    if (vtc_anyres_plan_make(w, h, S, 14, pp, n, max_tiles, &p)) fail_msg("%dx%d: %s", w, h, vtc_last_error());
    if (expect_tokens) assert_int_equal(p.n_tokens, expect_tokens);
    struct vtc_anyres_canvas cv;
    if (vtc_anyres_canvas_init(&cv, &p, rgb, w, h)) fail_msg("%dx%d: %s", w, h, vtc_last_error());
    float *fl = malloc(sizeof(float) * 3 * S * S);
    assert_non_null(fl);
    for (int k = 0; k < p.tiles_h * p.tiles_w; k++)
        assert_int_equal(vtc_anyres_tile(&cv, k, CLIP_MEAN, CLIP_STD, fl), 0);
    assert_int_equal(vtc_anyres_base(&p, rgb, w, h, CLIP_MEAN, CLIP_STD, fl), 0);
    free(fl);
    vtc_anyres_canvas_free(&cv);
}

static void test_hostile(void **state) {
    (void)state;
    struct vtc_anyres_plan p;
    // image sizes and the tower
    expect_error(vtc_anyres_plan_make(0, 10, 336, 14, NEXT, 5, 0, &p), VTC_ERR_ARG, "zero width");
    expect_error(vtc_anyres_plan_make(10, -3, 336, 14, NEXT, 5, 0, &p), VTC_ERR_ARG, "negative height");
    expect_error(vtc_anyres_plan_make(1 << 25, 10, 336, 14, NEXT, 5, 0, &p), VTC_ERR_LIMIT, "huge width");
    expect_error(vtc_anyres_plan_make(10, 10, 0, 14, NEXT, 5, 0, &p), VTC_ERR_ARG, "tile 0");
    expect_error(vtc_anyres_plan_make(10, 10, 336, 400, NEXT, 5, 0, &p), VTC_ERR_ARG, "patch > tile");
    expect_error(vtc_anyres_plan_make(10, 10, 336, 0, NEXT, 5, 0, &p), VTC_ERR_ARG, "patch 0");
    expect_error(vtc_anyres_plan_make(10, 10, 336, 14, NEXT, 5, -1, &p), VTC_ERR_ARG, "max_tiles -1");
    expect_error(vtc_anyres_plan_make(10, 10, 336, 14, NEXT, 5, 0, NULL), VTC_ERR_ARG, "no plan");

    // pinpoint lists
    const struct vtc_pinpoint zero[2] = { { 336, 672 }, { 0, 336 } }, neg[1] = { { -336, 336 } },
                              odd[2] = { { 336, 672 }, { 336, 500 } }, side[1] = { { 336, 40320 } },
                              area[1] = { { 32760, 32760 } }, many[1] = { { 14 * 17, 14 * 17 } };
    expect_error(vtc_anyres_plan_make(600, 400, 336, 14, zero, 2, 0, &p), VTC_ERR_FORMAT, "zero pinpoint");
    expect_error(vtc_anyres_plan_make(600, 400, 336, 14, neg, 1, 0, &p), VTC_ERR_FORMAT, "negative pinpoint");
    expect_error(vtc_anyres_plan_make(600, 400, 336, 14, odd, 2, 0, &p), VTC_ERR_FORMAT, "non-multiple pinpoint");
    expect_error(vtc_anyres_plan_make(600, 400, 336, 14, side, 1, 0, &p), VTC_ERR_FORMAT, "absurd pinpoint");
    expect_error(vtc_anyres_plan_make(600, 400, 8190, 14, area, 1, 0, &p), VTC_ERR_LIMIT, "pinpoint area");
    expect_error(vtc_anyres_plan_make(600, 400, 14, 14, many, 1, 0, &p), VTC_ERR_LIMIT, "289 tiles");
    expect_error(vtc_anyres_plan_make(600, 400, 336, 14, NEXT, 0, 0, &p), VTC_ERR_FORMAT, "empty list");
    expect_error(vtc_anyres_plan_make(600, 400, 336, 14, NULL, 5, 0, &p), VTC_ERR_FORMAT, "no list");
    expect_error(vtc_anyres_pinpoints_check(odd, 2, 336), VTC_ERR_FORMAT, "check");
    assert_non_null(strstr(vtc_last_error(), "pinpoint 1 (336 x 500, h x w) is not a multiple of the tile size 336"));
    // a shrink to nothing: a 1 x 200 grid of one-cell tiles, anyres_max_1 (ratio 14.1: 1 // 14.1 = 0 rows)
    const struct vtc_pinpoint strip[1] = { { 14, 14 * 200 } };
    expect_error(vtc_anyres_plan_make(200, 1, 14, 14, strip, 1, 1, &p), VTC_ERR_LIMIT, "empty shrink");

    // flat lists
    struct vtc_pinpoint pp[4];
    int32_t n = -1;
    const int32_t flat[6] = { 336, 672, 672, 336, 1008, 336 };
    assert_int_equal(vtc_anyres_pinpoints_parse(flat, 6, VTC_PINPOINTS_WH, pp, 4, &n), 0);
    assert_int_equal(n, 3);
    assert_true(pp[0].w == 336 && pp[0].h == 672 && pp[2].w == 1008 && pp[2].h == 336);
    assert_int_equal(vtc_anyres_pinpoints_parse(flat, 6, VTC_PINPOINTS_HW, pp, 4, &n), 0);
    assert_true(pp[0].h == 336 && pp[0].w == 672);
    expect_error(vtc_anyres_pinpoints_parse(flat, 5, VTC_PINPOINTS_HW, pp, 4, &n), VTC_ERR_FORMAT, "odd length");
    expect_error(vtc_anyres_pinpoints_parse(flat, 0, VTC_PINPOINTS_HW, pp, 4, &n), VTC_ERR_FORMAT, "no numbers");
    expect_error(vtc_anyres_pinpoints_parse(flat, 6, VTC_PINPOINTS_HW, pp, 2, &n), VTC_ERR_LIMIT, "over cap");
    expect_error(vtc_anyres_pinpoints_parse(flat, 6, (enum vtc_pinpoint_order)7, pp, 4, &n), VTC_ERR_ARG, "order");
    assert_int_equal(n, 0);

    // tiny and extreme images run through everything (transformers handles them, so do we)
    uint8_t *strip_px = malloc(100000 * 3);
    assert_non_null(strip_px);
    for (int i = 0; i < 100000 * 3; i++) strip_px[i] = (uint8_t)(i * 7);
    run_all(strip_px, 1, 1, NEXT, 5, 336, 0, 1176);
    run_all(strip_px, 1, 100000, NEXT, 5, 336, 0, 600); // nothing kept but the newlines of 24 empty rows
    run_all(strip_px, 100000, 1, NEXT, 5, 336, 0, 576); // no rows at all: the base image only
    const struct vtc_pinpoint ov[2] = { { 384, 384 }, { 768, 1152 } };
    run_all(strip_px, 1, 100000, ov, 2, 384, 9, 0);

    // pixels: mismatched image, bad tile index, bad normalisation, bad output cell
    assert_int_equal(vtc_anyres_plan_make(600, 400, 336, 14, NEXT, 5, 0, &p), 0);
    struct vtc_anyres_canvas cv;
    expect_error(vtc_anyres_canvas_init(&cv, &p, strip_px, 400, 600), VTC_ERR_ARG, "other image");
    assert_null(cv.rgb);
    uint8_t *img = calloc(600 * 400, 3);
    assert_non_null(img);
    assert_int_equal(vtc_anyres_canvas_init(&cv, &p, img, 600, 400), 0);
    float *fl = malloc(sizeof(float) * 3 * 336 * 336);
    assert_non_null(fl);
    expect_error(vtc_anyres_tile(&cv, 4, CLIP_MEAN, CLIP_STD, fl), VTC_ERR_ARG, "tile 4 of 4");
    expect_error(vtc_anyres_tile(&cv, -1, CLIP_MEAN, CLIP_STD, fl), VTC_ERR_ARG, "tile -1");
    const float zero_std[3] = { 0.5f, 0.0f, 0.5f };
    expect_error(vtc_anyres_tile(&cv, 0, CLIP_MEAN, zero_std, fl), VTC_ERR_ARG, "std 0");
    int32_t y, x;
    expect_error(vtc_anyres_source(&p, p.out_h, 0, &y, &x, NULL), VTC_ERR_ARG, "row out of range");
    expect_error(vtc_anyres_base(&p, img, 400, 600, CLIP_MEAN, CLIP_STD, fl), VTC_ERR_ARG, "base of another image");

    // allocation failures: an error, nothing leaked (the ASan build checks), the canvas empty
    vtc_fault_alloc_after(0, 1);
    assert_int_equal(vtc_anyres_tile(&cv, 0, CLIP_MEAN, CLIP_STD, fl), VTC_ERR_NOMEM);
    struct vtc_anyres_canvas cv2;
    assert_int_equal(vtc_anyres_canvas_init(&cv2, &p, img, 600, 400), VTC_ERR_NOMEM);
    assert_null(cv2.rgb);
    for (int64_t k = 1; k < 12; k++) { // failing later, inside the resampler
        vtc_fault_alloc_after(k, 1);
        int st = vtc_anyres_canvas_init(&cv2, &p, img, 600, 400);
        vtc_fault_alloc_after(-1, 0);
        if (st == 0) {
            vtc_anyres_canvas_free(&cv2);
            break;
        }
        assert_int_equal(st, VTC_ERR_NOMEM);
        assert_null(cv2.rgb);
    }
    vtc_fault_alloc_after(-1, 0);
    vtc_anyres_canvas_free(&cv);
    vtc_anyres_canvas_free(&cv); // twice is harmless
    free(fl);
    free(img);
    free(strip_px);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plans),
        cmocka_unit_test(test_pixels),
        cmocka_unit_test(test_bilinear),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests_name("anyres", tests, NULL, NULL);
}
