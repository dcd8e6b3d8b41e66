// Encoder parity: vtc's whole vision path (decode -> preprocess -> ViT ->
// attention statistics -> projector) against the float64 PyTorch reference of
// tools/vtc_ref.py, on the models and images of tests/fixtures/expected/MANIFEST.txt
// (CLIP 224 F32, CLIP 336 F16, SigLIP 384 BF16, llava-hf sharded with projector,
// legacy llama.cpp mmproj GGUF F16; JPEG and RGBA PNG; crop, pad and resize).
//
// The preprocessed model input must be bit-identical (hash of its float32 bytes).
// Tolerance: max |vtc - ref| / max |ref| <= 1e-4 per tensor (vtc computes in
// float32 from the same stored weights; the reference in float64).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vision/anyres.h"
#include "vision/family.h"
#include "vision/model.h"
#include "vision/preprocess.h"
#include "base/gguf.h"
#include "base/safetensors.h"
#include "base/tensor.h"
#include "vtc.h"

#define TOL 1e-4

static uint64_t fnv1a64(const void *data, size_t n) {
    const unsigned char *b = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static double rel_err(const float *got, const float *ref, size_t n) {
    double md = 0, mr = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= md)) md = d; // NaN propagates as failure
        if (fabs(ref[i]) > mr) mr = fabs(ref[i]);
    }
    return mr > 0 ? md / mr : md;
}

static float *expected(const vtc_st *st, const char *name, size_t n) {
    const vtc_tensor_view *t = vtc_st_find(st, name);
    if (!t) return NULL;
    assert_int_equal(vtc_tensor_numel(t), (int64_t)n);
    float *buf = malloc(n * sizeof(float));
    assert_int_equal(vtc_tensor_to_f32(t, buf, n), 0);
    return buf;
}

// got[n] against the reference tensor name: relative error <= tol.
static void check_tol(const char *label, const vtc_st *st, const char *name, const float *got, size_t n, double tol,
                      double *worst) {
    float *ref = expected(st, name, n);
    if (!ref) {
        assert_null(got); // the model has no such output (no CLS, no projector)
        return;
    }
    assert_non_null(got);
    double e = rel_err(got, ref, n);
    printf("    %-14s %-10s rel err %.2e\n", label, name, e);
    if (e > *worst) *worst = e;
    free(ref);
    if (!(e <= tol)) fail_msg("%s: %s relative error %.2e > %.0e", label, name, e, tol);
}

static void check(const char *label, const vtc_st *st, const char *name, const float *got, size_t n, double *worst) {
    check_tol(label, st, name, got, n, TOL, worst);
}

// A tensor of the reference file compared when the file holds it (the tiled
// cases store per-tile tensors for a few images only).
static void check_opt(const char *label, const vtc_st *st, const char *name, const float *got, size_t n,
                      double *worst) {
    if (vtc_st_find(st, name)) check(label, st, name, got, n, worst);
}

// An I32 reference tensor equal to got[n].
static void check_i32(const char *label, const vtc_st *st, const char *name, const int32_t *got, size_t n) {
    const vtc_tensor_view *t = vtc_st_find(st, name);
    assert_non_null(t);
    assert_int_equal(vtc_tensor_numel(t), (int64_t)n);
    assert_non_null(got);
    const int32_t *ref = (const int32_t *)t->data;
    for (size_t i = 0; i < n; i++)
        if (got[i] != ref[i]) fail_msg("%s: %s[%zu] is %d, the reference's %d", label, name, i, got[i], ref[i]);
    printf("    %-14s %-10s identical (%zu)\n", label, name, n);
}

// The kept-everything tokens of f (method none) against the model's packed
// sequence: embeddings, tile (or frame) of every row, positions, count.
static void check_packed(const char *file, const vtc_st *st, vtc_ctx *ctx, const vtc_features *f, const char *ids,
                         double *worst) {
    vtc_tokens *t = NULL;
    assert_int_equal(vtc_prune(ctx, f, vtc_prune_params_default(), &t), 0);
    const vtc_tensor_view *pk = vtc_st_find(st, "packed");
    assert_non_null(pk);
    assert_int_equal(pk->shape[0], t->n);
    assert_int_equal(t->n_input, t->n);
    check(file, st, "packed", t->data, (size_t)t->n * t->dim, worst);
    int32_t *got = malloc(sizeof(int32_t) * (size_t)t->n);
    for (int32_t i = 0; i < t->n; i++) // video rows name their frame; newline rows -1
        got[i] = !strcmp(ids, "packed_tile") ? t->tile[i] : t->tile[i] < 0 ? -1 : t->pos[3 * i];
    check_i32(file, st, ids, got, (size_t)t->n);
    check_i32(file, st, "packed_pos", t->pos, (size_t)t->n * 3);
    free(got);
    vtc_tokens_free(t);
}

// An anyres image (LLaVA-NeXT, OneVision) or a OneVision clip: the per-tile
// (per-frame) outputs where the file stores them, and the packed sequence.
static void tiled_case(const char *file, const vtc_st *st, vtc_model *m, const char *input, int video,
                       double *worst) {
    // the reference counts each tile's blocks up to the feature layer (no last-block statistic)
    struct vtc_ctx_params cp = vtc_ctx_params_default();
    cp.want_last_attn = 0;
    vtc_ctx *ctx = vtc_ctx_new(m, cp);
    assert_non_null(ctx);
    vtc_features *f = NULL;
    vtc_media *media = NULL;
    if (video) {
        struct vtc_sample_params sp = vtc_sample_params_default();
        sp.n_frames = atoi(vtc_st_meta(st, "frames"));
        media = vtc_media_load(input, sp, NULL);
        assert_non_null(media);
        assert_int_equal(media->n_frames, sp.n_frames);
        assert_int_equal(vtc_encode_frames(ctx, (const vtc_image *const *)media->frames, media->n_frames,
                                           media->timestamps, &f), 0);
        // apply_pooling: bilinear to ceil(27 / 2) per side, after the projector
        vtc_features *pooled = vtc_features_pool(f, 2, VTC_POOL_BILINEAR);
        assert_non_null(pooled);
        check_opt(file, st, "frame_cls_attn", f->cls_attn, (size_t)f->n, worst);
        check_opt(file, st, "frame_embeds", f->embeds, (size_t)f->n * f->lm_dim, worst);
        vtc_features_free(f);
        f = pooled;
        check_packed(file, st, ctx, f, "packed_frame", worst);
    } else {
        vtc_image *img = vtc_image_load(input, NULL);
        assert_non_null(img);
        assert_int_equal(vtc_encode_image(ctx, img, &f), 0);
        // the model input of every tile, bit for bit: FNV-1a 64 of its float32 [3, S, S]
        struct vtc_anyres_plan plan;
        assert_int_equal(vtc_anyres_plan_make(img->width, img->height, m->image_size, m->patch_size, m->pinpoints,
                                              m->n_pinpoints, m->max_tiles, &plan), 0);
        struct vtc_anyres_canvas cv;
        assert_int_equal(vtc_anyres_canvas_init(&cv, &plan, img->rgb, img->width, img->height), 0);
        const size_t npx = (size_t)3 * m->image_size * m->image_size;
        float *px = malloc(npx * sizeof(float));
        char hashes[4096] = "";
        for (int k = 0; k <= plan.tiles_h * plan.tiles_w; k++) {
            assert_int_equal(k ? vtc_anyres_tile(&cv, k - 1, m->image_mean, m->image_std, px)
                               : vtc_anyres_base(&plan, img->rgb, img->width, img->height, m->image_mean,
                                                 m->image_std, px), 0);
            snprintf(hashes + strlen(hashes), sizeof hashes - strlen(hashes), "%s%016llx", k ? "," : "",
                     (unsigned long long)fnv1a64(px, npx * sizeof(float)));
        }
        vtc_anyres_canvas_free(&cv);
        free(px);
        const char *want_px = vtc_st_meta(st, "tile_pixels_fnv1a64");
        assert_non_null(want_px);
        if (strcmp(want_px, hashes)) fail_msg("%s: tile pixels %s, the reference's %s", file, hashes, want_px);
        vtc_image_free(img);
        const size_t n = (size_t)f->n;
        check_opt(file, st, "tile_cls_attn", f->cls_attn, n, worst);
        check_opt(file, st, "tile_features", f->features, n * f->dim, worst);
        check_opt(file, st, "tile_embeds", f->embeds, n * f->lm_dim, worst);
        char tiles[32];
        snprintf(tiles, sizeof tiles, "%d,%d", f->tiling.tiles_h, f->tiling.tiles_w);
        const char *want = vtc_st_meta(st, "tiles");
        assert_non_null(want);
        if (strcmp(want, tiles)) fail_msg("%s: tiles %s, the reference's %s", file, tiles, want);
        check_packed(file, st, ctx, f, "packed_tile", worst);
    }
    const char *fl = vtc_st_meta(st, "flops_encoder_tile");
    assert_non_null(fl);
    const double want_fl = (video ? atoi(vtc_st_meta(st, "frames")) : f->T) * atof(fl);
    if (fabs(f->flops_encoder - want_fl) > 1e-9 * want_fl)
        fail_msg("%s: encoder FLOPs %.0f, the reference's %.0f", file, f->flops_encoder, want_fl);
    vtc_features_free(f);
    vtc_media_free(media);
    vtc_ctx_free(ctx);
}

static void test_manifest(void **state) {
    (void)state;
    FILE *mf = fopen("tests/fixtures/expected/MANIFEST.txt", "r");
    assert_non_null(mf);
    char line[1024];
    int cases = 0;
    double worst = 0;
    while (fgets(line, sizeof line, mf)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char file[256], model_path[256], image[256], aspect[16], layers[64] = "";
        int layer;
        int got = sscanf(line, "%255s %255s %255s %15s %d %63s", file, model_path, image, aspect, &layer, layers);
        assert_true(got == 5 || got == 6);
        struct vtc_model_params mp = vtc_model_params_default();
        // layers=A,B: the model's own list of feature layers (its config), not a caller's layer
        mp.feature_layer = strncmp(layers, "layers=", 7) ? layer : 0;
        const int tiled = !strncmp(aspect, "anyres", 6), video = !strcmp(aspect, "video");
        if (!strcmp(aspect, "pad") && strstr(model_path, "onevision")) {
            // OneVision's multi-image path (one padded tile per image): vtc has no multi-image input yet
            printf("  %s: skipped, OneVision's multi-image path is not implemented\n", file);
            continue;
        }
        if (!tiled && !video)
            mp.aspect = !strcmp(aspect, "crop") ? VTC_ASPECT_CROP : !strcmp(aspect, "pad") ? VTC_ASPECT_PAD
                                                                                          : VTC_ASPECT_RESIZE;
        vtc_model *m = vtc_model_load(model_path, mp);
        if (!m) fprintf(stderr, "%s\n", vtc_last_error());
        assert_non_null(m);
        if (tiled || video) {
            char path[512];
            snprintf(path, sizeof path, "tests/fixtures/expected/%s", file);
            vtc_st *st = NULL;
            assert_int_equal(vtc_st_open(path, 1, &st), 0);
            printf("  %s (%s)\n", file, model_path);
            tiled_case(file, st, m, image, video, &worst);
            vtc_st_close(st);
            vtc_model_free(m);
            cases++;
            continue;
        }
        vtc_ctx *ctx = vtc_ctx_new(m, vtc_ctx_params_default());
        vtc_image *img = vtc_image_load(image, NULL);
        assert_non_null(ctx);
        assert_non_null(img);
        vtc_features *f = NULL;
        assert_int_equal(vtc_encode_image(ctx, img, &f), 0);
        char path[512];
        snprintf(path, sizeof path, "tests/fixtures/expected/%s", file);
        vtc_st *st = NULL;
        assert_int_equal(vtc_st_open(path, 1, &st), 0);
        printf("  %s\n", file);
        // the model input, bit for bit: FNV-1a 64 of the [3, S, S] float32 pixels
        struct vtc_model_info mi;
        vtc_model_get_info(m, &mi);
        size_t npx = (size_t)3 * mi.image_size * mi.image_size;
        float *px = malloc(npx * sizeof(float));
        assert_int_equal(vtc_preprocess(m, img, 0, px), 0);
        uint64_t h = 0xcbf29ce484222325ull;
        const unsigned char *bytes = (const unsigned char *)px;
        for (size_t b = 0; b < npx * sizeof(float); b++) h = (h ^ bytes[b]) * 0x100000001b3ull;
        char hex[32];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
        const char *want = vtc_st_meta(st, "pixels_fnv1a64");
        assert_non_null(want);
        if (strcmp(want, hex)) fail_msg("%s: model input differs from the reference's (hash %s, want %s)", file, hex, want);
        free(px);
        const size_t n = (size_t)f->n;
        check(file, st, "features", f->features, n * f->dim, &worst);
        check(file, st, "cls", f->cls, (size_t)f->dim, &worst);
        check(file, st, "cls_attn", f->cls_attn, n, &worst);
        check(file, st, "cls_attn_last", f->cls_attn_last, n, &worst);
        check(file, st, "keys", f->keys, n * f->head_dim, &worst);
        check(file, st, "embeds", f->embeds, n * (size_t)f->lm_dim, &worst);
        // FLOPs executed, counted independently by the reference
        const char *fl = vtc_st_meta(st, "flops_encoder");
        assert_non_null(fl);
        assert_true(fabs(f->flops_encoder - atof(fl)) <= 1e-9 * atof(fl));
        vtc_st_close(st);
        vtc_features_free(f);
        vtc_image_free(img);
        vtc_ctx_free(ctx);
        vtc_model_free(m);
        cases++;
    }
    fclose(mf);
    printf("  %d cases, worst relative error %.2e (tolerance %.0e)\n", cases, worst, TOL);
    assert_true(cases >= 10);
}

// Same image, 1 thread and 2 threads: bit-identical features (determinism).
static void test_threads_identical(void **state) {
    (void)state;
    vtc_model *m = vtc_model_load("tests/fixtures/models/llava", vtc_model_params_default());
    assert_non_null(m);
    vtc_image *img = vtc_image_load("tests/fixtures/ref_images/photo.jpg", NULL);
    vtc_features *f[2] = { 0 };
    for (int t = 0; t < 2; t++) {
        struct vtc_ctx_params cp = vtc_ctx_params_default();
        cp.n_threads = t + 1;
        vtc_ctx *ctx = vtc_ctx_new(m, cp);
        assert_int_equal(vtc_encode_image(ctx, img, &f[t]), 0);
        vtc_ctx_free(ctx);
    }
    assert_memory_equal(f[0]->features, f[1]->features, sizeof(float) * f[0]->n * f[0]->dim);
    assert_memory_equal(f[0]->embeds, f[1]->embeds, sizeof(float) * f[0]->n * f[0]->lm_dim);
    vtc_features_free(f[0]);
    vtc_features_free(f[1]);
    vtc_image_free(img);
    vtc_model_free(m);
}

// bf16 (include/vtc.h enum vtc_precision, base/matmul.h): every matrix product
// of the tower and the projector rounds both inputs to bfloat16 (8-bit
// significand, unit roundoff 2^-9 ~ 2e-3) and accumulates in float32, so each
// product's output carries ~0.3% noise of its scale, and 3-4 blocks of 6
// products each (qkv, QK^T, AV, out, fc1, fc2), with residual adds and layer
// norms, compound it. Measured on all 22 single-tile cases of MANIFEST.txt
// (oneDNN emulating bf16 on a CPU without bf16 units: the same input rounding,
// float32 accumulation): features <= 2.5e-2, cls <= 1.8e-2, keys <= 2.7e-2,
// embeds <= 2.0e-2 (rms ~1e-2); rounding only the weights to bf16 and computing
// in f32 already gives about half of that, so it is the format, not the engine.
// The attention statistics are more sensitive: softmax turns an absolute score
// error d into a relative probability error ~d, largest on peaked heads;
// cls_attn <= 3.9e-2, and cls_attn_last <= 8.6e-2 (clip336 portrait crop -2: one
// block deeper, one token holding a quarter of the CLS attention; bf16-rounded
// weights alone give 5.3e-2 there). The tolerances leave 3.5-5.6x over the
// worst measured case (max |bf16 - ref| / max |ref|, float64 reference); a
// feature layer one block off gives 0.44 on features and 1.1 on cls_attn, the
// wrong aspect >= 0.88, so these checks still fail on a real mistake.
static const struct { const char *name; double tol; } bf16_tol[] = {
    { "features", 1e-1 }, { "cls", 1e-1 }, { "cls_attn", 1.5e-1 },
    { "cls_attn_last", 3e-1 }, { "keys", 1e-1 }, { "embeds", 1e-1 },
};
enum { N_BF16_QTY = sizeof bf16_tol / sizeof bf16_tol[0] };

// f's outputs in bf16_tol's order, and their element counts.
static void bf16_outputs(const vtc_features *f, const float *got[N_BF16_QTY], size_t cnt[N_BF16_QTY]) {
    const size_t n = (size_t)f->n;
    const float *g[N_BF16_QTY] = { f->features, f->cls, f->cls_attn, f->cls_attn_last, f->keys, f->embeds };
    const size_t c[N_BF16_QTY] = { n * f->dim, (size_t)f->dim, n, n, n * f->head_dim, n * (size_t)f->lm_dim };
    memcpy(got, g, sizeof g);
    memcpy(cnt, c, sizeof c);
}

// A bf16 context on m: its precision and engine line as asked.
static vtc_ctx *bf16_ctx(const vtc_model *m, int n_threads) {
    struct vtc_ctx_params cp = vtc_ctx_params_default();
    cp.precision = VTC_PRECISION_BF16; // explicit: VTC_PRECISION (f32 under tests/run_all.sh) is not read
    cp.n_threads = n_threads;
    vtc_ctx *ctx = vtc_ctx_new(m, cp);
    if (!ctx) fprintf(stderr, "%s\n", vtc_last_error());
    assert_non_null(ctx);
    const char *engine = NULL;
    assert_int_equal(vtc_ctx_precision(ctx, &engine), VTC_PRECISION_BF16);
    assert_non_null(engine);
    if (strncmp(engine, "bf16 on oneDNN", 14)) fail_msg("bf16 context's engine line is \"%s\"", engine);
    return ctx;
}

// Single-tile CLIP and SigLIP cases of test_manifest in bf16, against the same
// float64 references, within bf16_tol: each model of MANIFEST.txt once, HF
// directories and GGUF files, with and without a projector, and among them the
// case of the worst measured error of every quantity. (The other cases, tiled
// and video included, run the same tower and projector; left to the f32 test to
// keep this one short: bf16 is emulated, slow, on a CPU without bf16 units.)
static const char *const bf16_cases[] = {
    "clip224__portrait_rgba__pad__-2.safetensors",  // worst features, cls_attn; RGBA
    "clip336__portrait_rgba__crop__-2.safetensors", // worst cls_attn_last (CLS row past the feature layer)
    "llava__photo__pad__-2.safetensors",            // projector: worst embeds
    "mmproj__portrait_rgba__pad__-1.safetensors",   // GGUF CLIP with projector: worst cls
    "siglip384__photo__resize__-2.safetensors",     // BF16-stored weights; received attention past the features
    "siglip384p14__portrait_rgba__resize__0.safetensors", // post_layernorm; linears split over threads
    "siglip224p16__portrait_rgba__resize__0.safetensors",
    "siglip384p14-gguf__portrait_rgba__resize__0.safetensors", // GGUF SigLIP: worst keys
};
enum { N_BF16_CASES = sizeof bf16_cases / sizeof bf16_cases[0] };

static void test_bf16_parity(void **state) {
    (void)state;
    FILE *mf = fopen("tests/fixtures/expected/MANIFEST.txt", "r");
    assert_non_null(mf);
    char line[1024];
    int cases = 0, gguf = 0, siglip = 0;
    double worst[N_BF16_QTY] = { 0 };
    char engine[160] = ""; // the line, copied: the context is freed per case
    while (fgets(line, sizeof line, mf)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char file[256], model_path[256], image[256], aspect[16], layers[64] = "";
        int layer;
        int got = sscanf(line, "%255s %255s %255s %15s %d %63s", file, model_path, image, aspect, &layer, layers);
        assert_true(got == 5 || got == 6);
        int listed = 0;
        for (int c = 0; c < N_BF16_CASES; c++) listed |= !strcmp(file, bf16_cases[c]);
        if (!listed) continue;
        assert_true(got == 5 && strncmp(aspect, "anyres", 6) && strcmp(aspect, "video"));
        struct vtc_model_params mp = vtc_model_params_default();
        mp.feature_layer = layer;
        mp.aspect = !strcmp(aspect, "crop") ? VTC_ASPECT_CROP : !strcmp(aspect, "pad") ? VTC_ASPECT_PAD
                                                                                       : VTC_ASPECT_RESIZE;
        vtc_model *m = vtc_model_load(model_path, mp);
        if (!m) fprintf(stderr, "%s\n", vtc_last_error());
        assert_non_null(m);
        vtc_ctx *ctx = bf16_ctx(m, 0);
        const char *eline = NULL;
        vtc_ctx_precision(ctx, &eline);
        snprintf(engine, sizeof engine, "%s", eline);
        vtc_image *img = vtc_image_load(image, NULL);
        assert_non_null(img);
        vtc_features *f = NULL;
        assert_int_equal(vtc_encode_image(ctx, img, &f), 0);
        char path[512];
        snprintf(path, sizeof path, "tests/fixtures/expected/%s", file);
        vtc_st *st = NULL;
        assert_int_equal(vtc_st_open(path, 1, &st), 0);
        printf("  %s\n", file);
        const float *out[N_BF16_QTY];
        size_t cnt[N_BF16_QTY];
        bf16_outputs(f, out, cnt);
        for (int q = 0; q < N_BF16_QTY; q++)
            check_tol(file, st, bf16_tol[q].name, out[q], cnt[q], bf16_tol[q].tol, &worst[q]);
        struct vtc_model_info mi;
        vtc_model_get_info(m, &mi);
        gguf += !strcmp(mi.format, "gguf");
        siglip += !strcmp(mi.arch, "siglip");
        vtc_st_close(st);
        vtc_features_free(f);
        vtc_image_free(img);
        vtc_ctx_free(ctx);
        vtc_model_free(m);
        cases++;
    }
    fclose(mf);
    printf("  %d bf16 cases (%d GGUF, %d SigLIP) on %s; worst relative error (tolerance):\n", cases, gguf, siglip,
           engine);
    for (int q = 0; q < N_BF16_QTY; q++)
        printf("    %-14s %.2e (%.1e)\n", bf16_tol[q].name, worst[q], bf16_tol[q].tol);
    // every listed case found: both formats, both architectures
    assert_int_equal(cases, N_BF16_CASES);
    assert_true(gguf == 2 && siglip == 4);
}

// bf16 is deterministic on one context (base/matmul.h: the same shapes on the
// same CPU give the same bits): two encodes of one image, bit for bit. Across
// thread counts the rows of a product are split differently (other shapes,
// possibly other kernels), so 1 and 2 threads need only agree within bf16_tol.
// llava: CLS, cls_attn_last past the feature layer, projector; siglip384p14: a
// width whose linears are split over threads.
static void test_bf16_deterministic(void **state) {
    (void)state;
    static const char *models[] = { "tests/fixtures/models/llava", "tests/fixtures/models/siglip384p14" };
    vtc_image *img = vtc_image_load("tests/fixtures/ref_images/photo.jpg", NULL);
    assert_non_null(img);
    for (size_t k = 0; k < sizeof models / sizeof models[0]; k++) {
        vtc_model *m = vtc_model_load(models[k], vtc_model_params_default());
        assert_non_null(m);
        vtc_features *f[3] = { NULL, NULL, NULL }; // 2 threads, 2 threads again, 1 thread
        vtc_ctx *ctx = bf16_ctx(m, 2);
        assert_int_equal(vtc_encode_image(ctx, img, &f[0]), 0);
        assert_int_equal(vtc_encode_image(ctx, img, &f[1]), 0);
        vtc_ctx_free(ctx);
        ctx = bf16_ctx(m, 1);
        assert_int_equal(vtc_encode_image(ctx, img, &f[2]), 0);
        vtc_ctx_free(ctx);
        const float *a[N_BF16_QTY], *b[N_BF16_QTY], *c[N_BF16_QTY];
        size_t cnt[N_BF16_QTY];
        bf16_outputs(f[0], a, cnt);
        bf16_outputs(f[1], b, cnt);
        bf16_outputs(f[2], c, cnt);
        int identical = 1;
        for (int q = 0; q < N_BF16_QTY; q++) {
            if (!a[q]) continue; // no CLS or no projector
            assert_memory_equal(a[q], b[q], sizeof(float) * cnt[q]);
            const double e = rel_err(c[q], a[q], cnt[q]);
            printf("  %-36s %-14s twice: identical; 1 vs 2 threads: rel diff %.2e\n", models[k], bf16_tol[q].name, e);
            if (!(e <= bf16_tol[q].tol))
                fail_msg("%s: %s differs between 1 and 2 threads by %.2e", models[k], bf16_tol[q].name, e);
            identical &= !memcmp(a[q], c[q], sizeof(float) * cnt[q]);
        }
        printf("  %-36s 1 vs 2 threads: %s\n", models[k], identical ? "bit-identical" : "close, not bit-identical");
        for (int i = 0; i < 3; i++) vtc_features_free(f[i]);
        vtc_model_free(m);
    }
    vtc_image_free(img);
}

// Sets VTC_PRECISION to value (NULL: unset).
static void set_precision_env(const char *value) {
    if (value) assert_int_equal(setenv("VTC_PRECISION", value, 1), 0);
    else assert_int_equal(unsetenv("VTC_PRECISION"), 0);
}

// f32 is untouched by the bf16 path: a context asking for F32 and one left at
// auto with VTC_PRECISION=f32 (tests/run_all.sh's setting) run the same
// OpenBLAS path, bit for bit; the variable is read only at auto (api/api.c), so
// VTC_PRECISION=bf16 does not turn an explicit F32 context into bf16.
static void test_f32_explicit_equals_env(void **state) {
    (void)state;
    const char *env = getenv("VTC_PRECISION");
    char *saved = env ? strdup(env) : NULL;
    vtc_model *m = vtc_model_load("tests/fixtures/models/llava", vtc_model_params_default());
    assert_non_null(m);
    vtc_image *img = vtc_image_load("tests/fixtures/ref_images/photo.jpg", NULL);
    assert_non_null(img);
    static const char *envs[] = { "f32", "bf16" }; // ctx 0: auto under f32; ctx 1, 2: F32 under f32, bf16
    vtc_features *f[3] = { NULL, NULL, NULL };
    for (int k = 0; k < 3; k++) {
        set_precision_env(envs[k / 2]);
        struct vtc_ctx_params cp = vtc_ctx_params_default();
        if (k) cp.precision = VTC_PRECISION_F32;
        vtc_ctx *ctx = vtc_ctx_new(m, cp);
        assert_non_null(ctx);
        const char *engine = NULL;
        assert_int_equal(vtc_ctx_precision(ctx, &engine), VTC_PRECISION_F32);
        printf("  %s, VTC_PRECISION=%s: %s\n", k ? "F32" : "auto", envs[k / 2], engine);
        if (strncmp(engine, "f32 on OpenBLAS", 15)) fail_msg("f32 context's engine line is \"%s\"", engine);
        assert_int_equal(vtc_encode_image(ctx, img, &f[k]), 0);
        vtc_ctx_free(ctx);
    }
    set_precision_env(saved);
    free(saved);
    for (int k = 1; k < 3; k++) {
        const float *a[N_BF16_QTY], *b[N_BF16_QTY];
        size_t cnt[N_BF16_QTY];
        bf16_outputs(f[0], a, cnt);
        bf16_outputs(f[k], b, cnt);
        for (int q = 0; q < N_BF16_QTY; q++) {
            assert_true(!a[q] == !b[q]);
            if (a[q]) assert_memory_equal(a[q], b[q], sizeof(float) * cnt[q]);
        }
    }
    printf("  auto under VTC_PRECISION=f32 and explicit F32: bit-identical outputs\n");
    for (int k = 0; k < 3; k++) vtc_features_free(f[k]);
    vtc_image_free(img);
    vtc_model_free(m);
}

// What the loader reads from each file.
static void test_model_info(void **state) {
    (void)state;
    struct vtc_model_info mi;
    vtc_model *m = vtc_model_load("tests/fixtures/models/mmproj-legacy.gguf", vtc_model_params_default());
    assert_non_null(m);
    vtc_model_get_info(m, &mi);
    assert_string_equal(mi.format, "gguf");
    assert_int_equal(mi.n_layers, 3);      // the converter dropped the 4th block
    assert_int_equal(mi.feature_layer, 3); // features: the last block present
    assert_int_equal(mi.lm_dim, 48);
    assert_int_equal(mi.aspect, VTC_ASPECT_PAD);
    vtc_model_free(m);
    m = vtc_model_load("tests/fixtures/models/llava", vtc_model_params_default());
    vtc_model_get_info(m, &mi);
    assert_int_equal(mi.n_layers, 4);
    assert_int_equal(mi.feature_layer, 3); // vision_feature_layer -2
    assert_int_equal(mi.aspect, VTC_ASPECT_PAD);
    assert_int_equal(mi.grid, 24);
    vtc_model_free(m);
    m = vtc_model_load("tests/fixtures/models/siglip384", vtc_model_params_default());
    vtc_model_get_info(m, &mi);
    assert_string_equal(mi.arch, "siglip");
    assert_int_equal(mi.has_cls, 0);
    assert_int_equal(mi.aspect, VTC_ASPECT_RESIZE);
    assert_true(fabsf(mi.image_mean[0] - 0.5f) < 1e-7f);
    vtc_model_free(m);
    m = vtc_model_default(vtc_model_params_default());
    vtc_model_get_info(m, &mi);
    assert_int_equal(mi.random_weights, 0);
    assert_int_equal(mi.grid * mi.grid, 576);
    // the embedded default is samples/vlm byte for byte: the same features as loading the directory
    vtc_model *disk = vtc_model_load("samples/vlm", vtc_model_params_default());
    assert_non_null(disk);
    vtc_ctx *c1 = vtc_ctx_new(m, vtc_ctx_params_default()), *c2 = vtc_ctx_new(disk, vtc_ctx_params_default());
    vtc_features *f1 = NULL, *f2 = NULL;
    vtc_image *img = vtc_image_load("tests/fixtures/ref_images/photo.jpg", NULL);
    assert_non_null(img);
    assert_int_equal(vtc_encode_image(c1, img, &f1), 0);
    assert_int_equal(vtc_encode_image(c2, img, &f2), 0);
    vtc_image_free(img);
    assert_int_equal(f1->n * f1->dim, f2->n * f2->dim);
    assert_memory_equal(f1->features, f2->features, sizeof(float) * f1->n * f1->dim);
    assert_memory_equal(f1->embeds, f2->embeds, sizeof(float) * f1->n * f1->lm_dim);
    vtc_features_free(f1), vtc_features_free(f2);
    vtc_ctx_free(c1), vtc_ctx_free(c2);
    vtc_model_free(disk);
    vtc_model_free(m);
}

// Hostile and broken model files: an error with a reason, never a crash.
// One change to a copy of a GGUF: key `key` replaced (or added) by an int32 array
// (vals[n], n >= 0), a string (str) or, with is_u32, the u32 value u32; the
// tensor `drop` left out; the tensor `reverse` written with its dimensions in
// reverse order (the same numbers in another shape); tensor names holding
// swap[0] written with swap[1] in its place, and the reverse.
struct gguf_edit {
    const char *key;
    const int32_t *vals;
    int n;
    const char *str;
    int is_u32;
    uint32_t u32;
    const char *drop, *reverse;
    const char *swap[2];
};

// name with e's swap applied, in buf.
static const char *swapped_name(const struct gguf_edit *e, const char *name, char *buf, size_t cap) {
    for (int i = 0; e->swap[0] && i < 2; i++) {
        const char *at = strstr(name, e->swap[i]);
        if (at) {
            snprintf(buf, cap, "%.*s%s%s", (int)(at - name), name, e->swap[1 - i], at + strlen(e->swap[i]));
            return buf;
        }
    }
    return name;
}

static int put_edited_key(vtc_gguf_writer *w, const struct gguf_edit *e) {
    return e->str ? vtc_gguf_writer_str(w, e->key, e->str)
           : e->is_u32 ? vtc_gguf_writer_u32(w, e->key, e->u32)
                       : vtc_gguf_writer_arr_i32(w, e->key, e->vals, e->n);
}

// The GGUF at src with the change e, written to dst: hostile keys and tensors.
static void gguf_edited(const char *src, const char *dst, const struct gguf_edit *e) {
    vtc_gguf *g = NULL;
    assert_int_equal(vtc_gguf_open(src, 0, &g), 0);
    vtc_gguf_writer *w = vtc_gguf_writer_new();
    assert_non_null(w);
    int replaced = 0;
    for (int i = 0; i < vtc_gguf_count_kv(g); i++) {
        const char *k = vtc_gguf_key(g, i);
        int64_t iv;
        double dv;
        int bv;
        const char *sv;
        if (e->key && !strcmp(k, e->key)) {
            replaced = 1;
            assert_int_equal(put_edited_key(w, e), 0);
        } else if (vtc_gguf_kv_type(g, i) == VTC_GGUF_STRING && !vtc_gguf_get_str(g, k, &sv)) {
            assert_int_equal(vtc_gguf_writer_str(w, k, sv), 0);
        } else if (vtc_gguf_kv_type(g, i) == VTC_GGUF_BOOL && !vtc_gguf_get_bool(g, k, &bv)) {
            assert_int_equal(vtc_gguf_writer_bool(w, k, bv), 0);
        } else if (vtc_gguf_kv_type(g, i) == VTC_GGUF_F32 && !vtc_gguf_get_float(g, k, &dv)) {
            assert_int_equal(vtc_gguf_writer_f32(w, k, (float)dv), 0);
        } else if (vtc_gguf_kv_type(g, i) != VTC_GGUF_ARRAY && !vtc_gguf_get_int(g, k, &iv)) {
            assert_int_equal(vtc_gguf_writer_u32(w, k, (uint32_t)iv), 0);
        } else if (vtc_gguf_kv_type(g, i) == VTC_GGUF_ARRAY && vtc_gguf_kv_arr_type(g, i) == VTC_GGUF_F32) {
            float a[16];
            int m = 0;
            assert_int_equal(vtc_gguf_get_arr_f32(g, k, a, 16, &m), 0);
            assert_int_equal(vtc_gguf_writer_arr_f32(w, k, a, m), 0);
        } else if (vtc_gguf_kv_type(g, i) == VTC_GGUF_ARRAY) {
            int32_t a[64];
            int m = 0;
            assert_int_equal(vtc_gguf_get_arr_i32(g, k, a, 64, &m), 0);
            assert_int_equal(vtc_gguf_writer_arr_i32(w, k, a, m), 0);
        }
    }
    if (e->key && !replaced) assert_int_equal(put_edited_key(w, e), 0);
    float *bufs[128] = { 0 };
    int nt = vtc_gguf_count_tensors(g);
    assert_true(nt <= 128);
    for (int i = 0; i < nt; i++) {
        const vtc_tensor_view *t = vtc_gguf_tensor(g, i);
        if (e->drop && !strcmp(t->name, e->drop)) continue;
        const size_t count = (size_t)vtc_tensor_numel(t);
        bufs[i] = malloc(count * sizeof(float));
        assert_int_equal(vtc_tensor_to_f32(t, bufs[i], count), 0);
        int64_t shape[4];
        const int rev = e->reverse && !strcmp(t->name, e->reverse);
        for (int d = 0; d < t->n_dims; d++) shape[d] = t->shape[rev ? t->n_dims - 1 - d : d];
        char name[256];
        assert_int_equal(vtc_gguf_writer_tensor(w, swapped_name(e, t->name, name, sizeof name), 0, t->n_dims, shape,
                                                bufs[i]), 0);
    }
    assert_int_equal(vtc_gguf_writer_write(w, dst), 0);
    for (int i = 0; i < nt; i++) free(bufs[i]);
    vtc_gguf_writer_free(w);
    vtc_gguf_close(g);
}

// Hostile LLaVA-1.6 keys: each refused with a message, never read past an array.
static void test_bad_mmproj_keys(void **state) {
    (void)state;
    const char *src = "tests/fixtures/models/mmproj-llava16.gguf";
    char dst[] = "/tmp/vtc-test-mmproj-XXXXXX";
    int fd = mkstemp(dst);
    assert_true(fd >= 0);
    close(fd);
    int32_t many[200], layers[9] = { 1, 2, 3, 1, 2, 3, 1, 2, 3 }, zero = 0, odd[3] = { 336, 672, 672 };
    for (int i = 0; i < 200; i++) many[i] = 336;
    const struct { const char *key; const int32_t *vals; int n; const char *str; int status; } cases[] = {
        { "clip.vision.image_grid_pinpoints", many, 200, NULL, VTC_ERR_LIMIT },
        { "clip.vision.image_grid_pinpoints", odd, 3, NULL, VTC_ERR_FORMAT },
        { "clip.vision.image_grid_pinpoints", NULL, 0, NULL, VTC_ERR_FORMAT },
        { "clip.vision.feature_layer", NULL, 0, NULL, VTC_ERR_FORMAT },
        { "clip.vision.feature_layer", &zero, 1, NULL, VTC_ERR_FORMAT },
        { "clip.vision.feature_layer", layers, 9, NULL, VTC_ERR_FORMAT },
        { "clip.vision.feature_layer", layers, 4, NULL, VTC_ERR_UNSUPPORTED }, // block 1 twice
        { "clip.vision.mm_patch_merge_type", NULL, 0, "spatial_hires", VTC_ERR_UNSUPPORTED },
        { "clip.projector_type", NULL, 0, "ldp", VTC_ERR_UNSUPPORTED },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gguf_edited(src, dst, &(struct gguf_edit){ .key = cases[i].key, .vals = cases[i].vals, .n = cases[i].n,
                                                   .str = cases[i].str });
        vtc_model *m = vtc_model_load(dst, vtc_model_params_default());
        printf("  %s (%d values): %s\n", cases[i].key, cases[i].n, vtc_last_error());
        assert_null(m);
        assert_int_equal(vtc_last_status(), cases[i].status);
    }
    unlink(dst);
}

// An I64 reference tensor, as int64 values (NULL when absent).
static int64_t *ref_i64(const vtc_st *st, const char *name, size_t n) {
    const vtc_tensor_view *t = vtc_st_find(st, name);
    if (!t) return NULL;
    assert_int_equal(t->dtype, VTC_DT_I64);
    assert_int_equal(vtc_tensor_numel(t), (int64_t)n);
    int64_t *v = malloc(n * sizeof *v);
    memcpy(v, t->data, n * sizeof *v);
    return v;
}

// Qwen2-VL / Qwen2.5-VL (tests/fixtures/expected/qwen/MANIFEST.txt, written by
// tools/gen_qwen_fixtures.py from tools/ref_qwen2vl.py): the processor's
// pixel_values and grid_thw, the merger's input (features), its output
// (embeds), the received attention per merged token, and the M-RoPE (t, h, w)
// position of every token.
static void test_qwen_manifest(void **state) {
    (void)state;
    FILE *mf = fopen("tests/fixtures/expected/qwen/MANIFEST.txt", "r");
    if (!mf) {
        printf("  no tests/fixtures/expected/qwen/MANIFEST.txt: skipped\n");
        skip();
    }
    char line[1024];
    int cases = 0;
    double worst = 0;
    while (fgets(line, sizeof line, mf)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char file[256], model_path[256], input[256], kind[16], extra[64] = "";
        int min_px, max_px;
        int got = sscanf(line, "%255s %255s %255s %15s %d %d %63s", file, model_path, input, kind, &min_px, &max_px,
                         extra);
        assert_true(got == 6 || got == 7);
        const int video = !strcmp(kind, "video");
        struct vtc_model_params mp = vtc_model_params_default();
        mp.min_pixels = min_px, mp.max_pixels = max_px;
        vtc_model *m = vtc_model_load(model_path, mp);
        if (!m) fprintf(stderr, "%s\n", vtc_last_error());
        assert_non_null(m);
        char path[512];
        snprintf(path, sizeof path, "tests/fixtures/expected/qwen/%s", file);
        vtc_st *st = NULL;
        assert_int_equal(vtc_st_open(path, 1, &st), 0);
        printf("  %s (%s)\n", file, model_path);
        vtc_ctx *ctx = vtc_ctx_new(m, vtc_ctx_params_default());
        assert_non_null(ctx);
        vtc_media *media = NULL;
        vtc_image *img = NULL;
        const vtc_image *const *frames;
        int n_frames = 1;
        if (video) {
            struct vtc_sample_params sp = vtc_sample_params_default();
            assert_true(!strncmp(extra, "frames=", 7));
            sp.n_frames = atoi(extra + 7);
            media = vtc_media_load(input, sp, NULL);
            assert_non_null(media);
            assert_int_equal(media->n_frames, sp.n_frames);
            frames = (const vtc_image *const *)media->frames;
            n_frames = media->n_frames;
        } else {
            img = vtc_image_load(input, NULL);
            assert_non_null(img);
            frames = (const vtc_image *const *)&img;
        }
        // the processor: grid_thw exact, pixel_values within 1e-6 (vtc rescales and
        // normalises in float32 as transformers does; the reference may in float64)
        struct vtc_model_info mi;
        vtc_model_get_info(m, &mi);
        const int fac = mi.patch_size * mi.merge_size;
        int rh, rw;
        assert_int_equal(vtc_smart_resize(frames[0]->height, frames[0]->width, fac, mi.min_pixels, mi.max_pixels,
                                          &rh, &rw), 0);
        const int64_t grid[3] = { (n_frames + mi.temporal_patch - 1) / mi.temporal_patch, rh / mi.patch_size,
                                  rw / mi.patch_size };
        int64_t *gthw = ref_i64(st, "grid_thw", 3);
        assert_non_null(gthw);
        for (int k = 0; k < 3; k++)
            if (gthw[k] != grid[k])
                fail_msg("%s: grid_thw (%lld, %lld, %lld), the reference's (%lld, %lld, %lld)", file,
                         (long long)grid[0], (long long)grid[1], (long long)grid[2], (long long)gthw[0],
                         (long long)gthw[1], (long long)gthw[2]);
        free(gthw);
        const size_t n_patches = (size_t)(grid[0] * grid[1] * grid[2]);
        const size_t row = (size_t)3 * mi.temporal_patch * mi.patch_size * mi.patch_size;
        float *px = malloc(n_patches * row * sizeof(float));
        const uint8_t **rgb = malloc(sizeof *rgb * (size_t)n_frames);
        for (int i = 0; i < n_frames; i++) rgb[i] = frames[i]->rgb;
        assert_int_equal(vtc_preprocess_native(rgb, n_frames, frames[0]->width, frames[0]->height, rw, rh,
                                               mi.patch_size, mi.merge_size, mi.temporal_patch, mi.image_mean,
                                               mi.image_std, px), 0);
        float *ref_px = expected(st, "pixel_values", n_patches * row);
        assert_non_null(ref_px);
        double dmax = 0;
        size_t n_same = 0;
        for (size_t i = 0; i < n_patches * row; i++) {
            double d = fabs((double)px[i] - ref_px[i]);
            if (d > dmax) dmax = d;
            n_same += px[i] == ref_px[i];
        }
        printf("    %-14s max abs diff %.2e (%zu of %zu identical)\n", "pixel_values", dmax, n_same,
               n_patches * row);
        assert_true(dmax <= 1e-6);
        free(ref_px), free(px), free(rgb);

        vtc_features *f = NULL;
        if (video)
            assert_int_equal(vtc_encode_frames(ctx, frames, n_frames, media->timestamps, &f), 0);
        else
            assert_int_equal(vtc_encode_image(ctx, img, &f), 0);
        assert_int_equal(f->T, grid[0]);
        assert_int_equal(f->H, grid[1] / mi.merge_size);
        assert_int_equal(f->W, grid[2] / mi.merge_size);
        const size_t n = (size_t)f->n;
        check(file, st, "features", f->features, n * f->dim, &worst);
        check(file, st, "embeds", f->embeds, n * (size_t)f->lm_dim, &worst);
        check(file, st, "recv_attn", f->cls_attn_last, n, &worst);
        check(file, st, "recv_attn", f->cls_attn, n, &worst);
        // every token kept (method none): the M-RoPE (t, h, w) ids of the vision tokens
        vtc_tokens *t = NULL;
        assert_int_equal(vtc_prune(ctx, f, vtc_prune_params_default(), &t), 0);
        assert_int_equal(t->n, (int32_t)n);
        int64_t *pos = ref_i64(st, "positions", n * 3);
        assert_non_null(pos);
        // vtc's t is the temporal slice; Qwen2.5-VL's M-RoPE t id of slice k is
        // int(k * second_per_grid_t * tokens_per_second) (get_rope_index), which a
        // host takes from the slices' timestamps (docs/library.md)
        const char *spg = vtc_st_meta(st, "second_per_grid_t"), *tps = vtc_st_meta(st, "tokens_per_second");
        for (size_t i = 0; spg && tps && i < n * 3; i += 3)
            t->pos[i] = (int32_t)(t->pos[i] * atof(spg) * atof(tps));
        for (size_t i = 0; i < n * 3; i++)
            if (pos[i] != t->pos[i])
                fail_msg("%s: token %zu position %c is %d, the reference's %lld", file, i / 3, "thw"[i % 3], t->pos[i],
                         (long long)pos[i]);
        printf("    %-14s identical (%zu tokens)\n", "positions", n);
        free(pos);
        vtc_tokens_free(t);
        vtc_features_free(f);
        vtc_media_free(media);
        vtc_image_free(img);
        vtc_ctx_free(ctx);
        vtc_st_close(st);
        vtc_model_free(m);
        cases++;
    }
    fclose(mf);
    printf("  %d Qwen cases, worst relative error %.2e (tolerance %.0e)\n", cases, worst, TOL);
    assert_true(cases >= 1);
}

// Qwen2-VL / Qwen2.5-VL in bf16: their linear layers and merger on oneDNN, the
// windowed attention in float32 (docs/library.md#precision), against the same
// float64 references, within the CLIP / SigLIP bf16 tolerances (bf16_tol; the
// received-attention statistic as cls_attn). Two images, HF and GGUF: Qwen2-VL,
// and Qwen2.5-VL with windows cut at the edges, RMSNorm and the gated MLP.
static void test_qwen_bf16(void **state) {
    (void)state;
    static const struct { const char *file, *model, *image; int min_px, max_px; } cases[] = {
        { "qwen2vl__photo__image__0__0.safetensors", "tests/fixtures/models/qwen2vl",
          "tests/fixtures/ref_images/photo.jpg", 0, 0 },
        { "qwen25vl__wide1000x250__image__0__9408.safetensors", "tests/fixtures/models/qwen25vl",
          "tests/fixtures/ref_images/wide1000x250.jpg", 0, 9408 },
        { "qwen25vl__tall213x427__image__0__0.safetensors", "tests/fixtures/models/qwen25vl.gguf",
          "tests/fixtures/ref_images/tall213x427.jpg", 3136, 12544 },
    };
    double worst[3] = { 0 };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char path[512];
        snprintf(path, sizeof path, "tests/fixtures/expected/qwen/%s", cases[c].file);
        vtc_st *st = NULL;
        if (vtc_st_open(path, 1, &st)) {
            printf("  no %s: skipped\n", path);
            skip();
        }
        struct vtc_model_params mp = vtc_model_params_default();
        mp.min_pixels = cases[c].min_px, mp.max_pixels = cases[c].max_px;
        vtc_model *m = vtc_model_load(cases[c].model, mp);
        if (!m) fprintf(stderr, "%s\n", vtc_last_error());
        assert_non_null(m);
        vtc_ctx *ctx = bf16_ctx(m, 0);
        vtc_image *img = vtc_image_load(cases[c].image, NULL);
        assert_non_null(img);
        vtc_features *f = NULL;
        assert_int_equal(vtc_encode_image(ctx, img, &f), 0);
        printf("  %s (%s)\n", cases[c].file, cases[c].model);
        const size_t n = (size_t)f->n;
        check_tol(cases[c].file, st, "features", f->features, n * f->dim, bf16_tol[0].tol, &worst[0]);
        check_tol(cases[c].file, st, "embeds", f->embeds, n * (size_t)f->lm_dim, bf16_tol[5].tol, &worst[1]);
        check_tol(cases[c].file, st, "recv_attn", f->cls_attn, n, bf16_tol[2].tol, &worst[2]);
        vtc_features_free(f);
        vtc_image_free(img);
        vtc_ctx_free(ctx);
        vtc_model_free(m);
        vtc_st_close(st);
    }
    printf("  Qwen bf16: worst relative error features %.2e, embeds %.2e, recv_attn %.2e\n", worst[0], worst[1],
           worst[2]);
}

// smart_resize against the reference's sweep (tools/ref_qwen2vl.py): the resized
// sides and grid of a few hundred sizes, extremes and refusals included.
static void test_qwen_smart_resize(void **state) {
    (void)state;
    FILE *f = fopen("tests/fixtures/expected/qwen/grid_sweep.txt", "r");
    if (!f) {
        printf("  no tests/fixtures/expected/qwen/grid_sweep.txt: skipped\n");
        skip();
    }
    char line[256];
    int n = 0, refused = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        int h, w, rh = 0, rw = 0, gt = 0, gh = 0, gw = 0, got_h = 0, got_w = 0;
        long long lo, hi;
        char word[16] = "";
        int k = sscanf(line, "%d %d %lld %lld %d %d %d %d %d", &h, &w, &lo, &hi, &rh, &rw, &gt, &gh, &gw);
        int st = vtc_smart_resize(h, w, 28, lo, hi, &got_h, &got_w);
        if (k == 4 && sscanf(line, "%*d %*d %*d %*d %15s", word) == 1 && !strcmp(word, "error")) {
            if (st != VTC_ERR_ARG)
                fail_msg("%dx%d [%lld, %lld]: refused by the processor, vtc gives %dx%d", w, h, lo, hi, got_w, got_h);
            refused++;
        } else {
            assert_int_equal(k, 9);
            if (st || got_h != rh || got_w != rw || gh != rh / 14 || gw != rw / 14 || gt != 1)
                fail_msg("%dx%d [%lld, %lld]: vtc %dx%d (status %d), the processor's %dx%d", w, h, lo, hi, got_w,
                         got_h, st, rw, rh);
        }
        n++;
    }
    fclose(f);
    printf("  smart_resize: %d sizes as the processor's (%d refused)\n", n, refused);
    assert_true(n >= 100);
}

// Hostile Qwen vision configs: each refused with a message naming the problem.
static void test_qwen_bad_configs(void **state) {
    (void)state;
    static const struct { const char *from, *to, *says; } cases[] = {
        { "\"window_size\": 112", "\"window_size\": 100", "not a positive multiple of patch x merge" },
        { "\"window_size\": 112", "\"window_size\": 0", "not a positive multiple of patch x merge" },
        { "\"num_heads\": 2", "\"num_heads\": 3", "does not split into 3 heads" },
        { "\"num_heads\": 2", "\"num_heads\": 0", "\"num_heads\" is 0" },
        { "\"depth\": 4", "\"depth\": 0", "\"depth\" is 0 but the weights have 4" },
        { "\"fullatt_block_indexes\": [", "\"fullatt_block_indexes\": [40, ", "lists block 40 of a 4-block tower" },
        { "\"spatial_merge_size\": 2", "\"spatial_merge_size\": 3", "patch x merge = 42" },
    };
    char dir[] = "/tmp/vtc-test-qwen-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1024], cfg[600];
    snprintf(cmd, sizeof cmd, "cp tests/fixtures/models/qwen25vl/model.safetensors "
             "tests/fixtures/models/qwen25vl/preprocessor_config.json %s/", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(cmd, sizeof cmd, "python3 -c 'import sys; s = open(sys.argv[1]).read(); assert sys.argv[2] in s; "
                 "open(sys.argv[3], \"w\").write(s.replace(sys.argv[2], sys.argv[4], 1))' "
                 "tests/fixtures/models/qwen25vl/config.json '%s' %s '%s'", cases[i].from, cfg, cases[i].to);
        assert_int_equal(system(cmd), 0);
        vtc_model *m = vtc_model_load(dir, vtc_model_params_default());
        printf("  %s: %s\n", cases[i].to, vtc_last_error());
        assert_null(m);
        if (!strstr(vtc_last_error(), cases[i].says)) fail_msg("want \"%s\"", cases[i].says);
    }
    // the caller's pixel bounds
    struct vtc_model_params mp = vtc_model_params_default();
    mp.min_pixels = 90000, mp.max_pixels = 3136;
    assert_null(vtc_model_load("tests/fixtures/models/qwen25vl", mp));
    assert_int_equal(vtc_last_status(), VTC_ERR_ARG);
    mp = vtc_model_params_default();
    mp.max_pixels = 40000; // not a native-resolution model
    assert_null(vtc_model_load("tests/fixtures/models/clip224", mp));
    assert_int_equal(vtc_last_status(), VTC_ERR_ARG);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

// Hostile Qwen mmproj GGUFs (llama.cpp's qwen2vl_merger / qwen2.5vl_merger):
// each refused with a message naming the problem.
static void test_qwen_bad_gguf(void **state) {
    (void)state;
    const char *q2 = "tests/fixtures/models/qwen2vl.gguf", *q25 = "tests/fixtures/models/qwen25vl.gguf";
    static const struct { int qwen25; struct gguf_edit e; int status; const char *says; } cases[] = {
        { 1, { .drop = "v.patch_embd.weight.1" }, VTC_ERR_FORMAT, "missing tensor v.patch_embd.weight.1" },
        { 0, { .drop = "v.patch_embd.weight" }, VTC_ERR_FORMAT, "missing tensor v.patch_embd.weight (" },
        { 1, { .reverse = "v.patch_embd.weight.1" }, VTC_ERR_FORMAT, "v.patch_embd.weight.1 has shape [14,14,3,16]" },
        { 1, { .reverse = "v.blk.2.ffn_up.weight" }, VTC_ERR_FORMAT, "v.blk.2.ffn_up.weight has shape [16,40]" },
        { 0, { .reverse = "mm.2.weight" }, VTC_ERR_FORMAT, "the merger MLP is [64, 64] then [64, 96]" },
        { 0, { .drop = "v.post_ln.bias" }, VTC_ERR_FORMAT, "missing tensor v.post_ln.bias" },
        { 1, { .drop = "v.blk.3.attn_k.bias" }, VTC_ERR_FORMAT, "missing tensor v.blk.3.attn_k.bias" },
        { 1, { .key = "clip.vision.n_wa_pattern", .is_u32 = 1, .u32 = 0 }, VTC_ERR_FORMAT, "n_wa_pattern is 0" },
        { 1, { .key = "clip.vision.n_wa_pattern", .is_u32 = 1, .u32 = 4000000000u }, VTC_ERR_FORMAT,
          "n_wa_pattern out of range" },
        { 1, { .key = "clip.vision.n_wa_pattern", .is_u32 = 1, .u32 = 5 }, VTC_ERR_FORMAT, "n_wa_pattern is 5" },
        { 0, { .key = "clip.vision.n_wa_pattern", .is_u32 = 1, .u32 = 2 }, VTC_ERR_FORMAT, "Qwen2-VL has none" },
        { 1, { .key = "clip.vision.window_size", .is_u32 = 1, .u32 = 100 }, VTC_ERR_FORMAT,
          "window_size 100 is not a positive multiple" },
        { 1, { .key = "clip.vision.attention.head_count", .is_u32 = 1, .u32 = 3 }, VTC_ERR_FORMAT,
          "width 16 does not split into 3 heads" },
        { 0, { .key = "clip.vision.attention.head_count", .is_u32 = 1, .u32 = 0 }, VTC_ERR_FORMAT,
          "does not split into 0 heads" },
        { 0, { .key = "clip.vision.embedding_length", .is_u32 = 1, .u32 = 32 }, VTC_ERR_FORMAT,
          "a 2x2 merge of width 32 takes 128 inputs" },
        { 1, { .key = "clip.vision.block_count", .is_u32 = 1, .u32 = 6 }, VTC_ERR_FORMAT, "missing tensor v.blk.4." },
        { 1, { .key = "clip.vision.feed_forward_length", .is_u32 = 1, .u32 = 96 }, VTC_ERR_FORMAT,
          "feed_forward_length is 96 but the weights have 40" },
        { 0, { .key = "clip.vision.projection_dim", .is_u32 = 1, .u32 = 64 }, VTC_ERR_FORMAT,
          "projection_dim is 64 but the weights have 96" },
        { 1, { .key = "clip.vision.spatial_merge_size", .is_u32 = 1, .u32 = 0 }, VTC_ERR_FORMAT,
          "bad spatial merge size 0" },
        { 1, { .key = "clip.vision.patch_size", .is_u32 = 1, .u32 = 1000 }, VTC_ERR_FORMAT, "bad patch 1000" },
    };
    char dst[] = "/tmp/vtc-test-qwen-gguf-XXXXXX";
    int fd = mkstemp(dst);
    assert_true(fd >= 0);
    close(fd);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gguf_edited(cases[i].qwen25 ? q25 : q2, dst, &cases[i].e);
        vtc_model *m = vtc_model_load(dst, vtc_model_params_default());
        printf("  %s: %s\n", cases[i].e.key ? cases[i].e.key : cases[i].e.drop ? cases[i].e.drop : cases[i].e.reverse,
               vtc_last_error());
        assert_null(m);
        assert_int_equal(vtc_last_status(), cases[i].status);
        if (!strstr(vtc_last_error(), cases[i].says)) fail_msg("want \"%s\"", cases[i].says);
    }
    // an unedited copy loads (the editor itself changes nothing else), and the
    // caller's pixel bounds replace the GGUF's defaults (clip.cpp's 8..4096 tokens)
    gguf_edited(q25, dst, &(struct gguf_edit){ 0 });
    struct vtc_model_params mp = vtc_model_params_default();
    vtc_model *m = vtc_model_load(dst, mp);
    assert_non_null(m);
    struct vtc_model_info mi;
    vtc_model_get_info(m, &mi);
    assert_int_equal(mi.min_pixels, 8 * 28 * 28);
    assert_int_equal(mi.max_pixels, 4096 * 28 * 28);
    vtc_model_free(m);
    mp.min_pixels = 3136, mp.max_pixels = 9408;
    m = vtc_model_load(dst, mp);
    assert_non_null(m);
    vtc_model_get_info(m, &mi);
    assert_int_equal(mi.min_pixels, 3136);
    assert_int_equal(mi.max_pixels, 9408);
    vtc_model_free(m);
    mp.min_pixels = 90000;
    assert_null(vtc_model_load(dst, mp));
    assert_int_equal(vtc_last_status(), VTC_ERR_ARG);
    // ffn_up / ffn_down named the other way round (the old Qwen surgery script's
    // files; clip.cpp swaps them back by shape): the same features
    vtc_image *img = vtc_image_load("tests/fixtures/ref_images/photo.jpg", NULL);
    assert_non_null(img);
    vtc_features *f[2] = { NULL, NULL };
    for (int k = 0; k < 2; k++) {
        const struct gguf_edit swap = { .swap = { "ffn_up", "ffn_down" } };
        gguf_edited(q2, dst, k ? &swap : &(struct gguf_edit){ 0 });
        m = vtc_model_load(dst, vtc_model_params_default());
        assert_non_null(m);
        vtc_ctx *ctx = vtc_ctx_new(m, vtc_ctx_params_default());
        assert_non_null(ctx);
        assert_int_equal(vtc_encode_image(ctx, img, &f[k]), 0);
        vtc_ctx_free(ctx);
        vtc_model_free(m);
    }
    assert_int_equal(f[0]->n, f[1]->n);
    assert_memory_equal(f[0]->features, f[1]->features, sizeof(float) * (size_t)f[0]->n * (size_t)f[0]->dim);
    printf("  ffn_up / ffn_down swapped: the same %d tokens\n", f[0]->n);
    vtc_features_free(f[0]), vtc_features_free(f[1]);
    vtc_image_free(img);
    unlink(dst);
}

// The FLOPs a Qwen tower reports (as executed: windowed attention over each
// window's own patches, full attention over a slice) against tools/ref_flops.py's
// count (tests/fixtures/flops_ref.txt `qwen` lines), on the fixture towers at
// grids whose windows are whole, cut at the edges, or span several slices; and
// bench/encoder's random Qwen2.5-VL tower (vtc_model_random_qwen25vl) of the same
// geometry, which must run the same work.
static void test_qwen_flops(void **state) {
    (void)state;
    FILE *fp = fopen("tests/fixtures/flops_ref.txt", "r");
    assert_non_null(fp);
    char line[512];
    int cases = 0;
    while (fgets(line, sizeof line, fp)) {
        char name[64], full[64], path[160];
        int D, F, p, tp, merge, window, heads, blocks, gated, grid[3];
        double want;
        if (strncmp(line, "qwen ", 5)) continue;
        assert_int_equal(sscanf(line, "qwen %63s %d %d %d %d %d %d %d %d %d %63s %d %d %d %lf", name, &D, &F, &p, &tp,
                                &merge, &window, &heads, &blocks, &gated, full, &grid[0], &grid[1], &grid[2], &want),
                         15);
        snprintf(path, sizeof path, "tests/fixtures/models/%s", name);
        vtc_model *m = vtc_model_load(path, vtc_model_params_default());
        assert_non_null(m);
        // the reference counted the tower that was loaded
        assert_non_null(m->family->forward_grid);
        assert_int_equal(m->hidden, D);
        assert_int_equal(m->ffn, F);
        assert_int_equal(m->patch_size, p);
        assert_int_equal(m->native.temporal_patch, tp);
        assert_int_equal(m->native.merge, merge);
        assert_int_equal(m->native.window, window);
        assert_int_equal(m->heads, heads);
        assert_int_equal(m->n_layers, blocks);
        assert_int_equal(m->native.gated_mlp, gated);
        char have[64] = "";
        for (int l = 0; l < m->n_layers && window; l++)
            if (m->blocks[l].full_attn)
                snprintf(have + strlen(have), sizeof have - strlen(have), "%s%d", have[0] ? "," : "", l);
        assert_string_equal(have[0] ? have : "-", full);

        const size_t n = (size_t)grid[0] * grid[1] * grid[2], row = (size_t)3 * tp * p * p;
        float *px = malloc(n * row * sizeof(float));
        assert_non_null(px);
        for (size_t i = 0; i < n * row; i++) px[i] = sinf(0.01f * (float)i);
        vtc_vit_scratch *s = m->family->scratch_new(m, 2, NULL);
        assert_non_null(s);
        struct vtc_vit_out out = { 0 };
        assert_int_equal(m->family->forward_grid(m, s, px, grid, 2, &out), 0);
        if (out.flops != want)
            fail_msg("%s grid %dx%dx%d: the forward reports %.0f FLOPs, tools/ref_flops.py %.0f", name, grid[0],
                     grid[1], grid[2], out.flops, want);
        m->family->scratch_free(s);
        if (gated) { // bench/encoder's random Qwen2.5-VL tower of the same geometry runs the same work
            struct vtc_random_qwen_spec spec = { "random", p, tp, merge, window, D, heads, F, blocks, m->lm_dim, 0,
                                                 { 0 }, 7 };
            for (int l = 0; l < blocks; l++)
                if (m->blocks[l].full_attn) spec.full_blocks[spec.n_full++] = l;
            vtc_model *r = vtc_model_random_qwen25vl(&spec, vtc_model_params_default());
            assert_non_null(r);
            vtc_vit_scratch *rs = r->family->scratch_new(r, 2, NULL);
            float *feat = malloc(n / (merge * merge) * (size_t)r->feature_dim * sizeof(float));
            struct vtc_vit_out ro = { .features = feat };
            assert_int_equal(r->family->forward_grid(r, rs, px, grid, 2, &ro), 0);
            assert_true(ro.flops == want);
            for (size_t i = 0; i < n / (merge * merge) * (size_t)r->feature_dim; i++) assert_true(isfinite(feat[i]));
            free(feat);
            r->family->scratch_free(rs);
            vtc_model_free(r);
        }
        free(px);
        vtc_model_free(m);
        cases++;
    }
    fclose(fp);
    printf("  %d Qwen towers x grids: the reported FLOPs equal tools/ref_flops.py's\n", cases);
    assert_true(cases >= 4);
}

static void test_bad_models(void **state) {
    (void)state;
    const char *bad[] = { "tests/fixtures/models/does-not-exist", "tests/fixtures/ref_images/photo.jpg",
                          "tests/fixtures/ref_images" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vtc_model *m = vtc_model_load(bad[i], vtc_model_params_default());
        assert_null(m);
        assert_true(vtc_last_status() < 0);
        assert_true(strlen(vtc_last_error()) > 0);
    }
    // every truncation of the GGUF file fails cleanly
    FILE *f = fopen("tests/fixtures/models/mmproj-legacy.gguf", "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    char tmp[] = "/tmp/vtc-test-trunc-XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    for (long cut = 0; cut < size; cut += size / 97 + 1) {
        FILE *o = fopen(tmp, "wb");
        fwrite(buf, 1, (size_t)cut, o);
        fclose(o);
        vtc_model *m = vtc_model_load(tmp, vtc_model_params_default());
        assert_null(m);
    }
    // a bad feature layer is a usage error
    struct vtc_model_params mp = vtc_model_params_default();
    mp.feature_layer = 9;
    assert_null(vtc_model_load("tests/fixtures/models/clip224", mp));
    assert_int_equal(vtc_last_status(), VTC_ERR_ARG);
    unlink(tmp);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest),
        cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_bf16_parity),
        cmocka_unit_test(test_bf16_deterministic),
        cmocka_unit_test(test_f32_explicit_equals_env),
        cmocka_unit_test(test_model_info),
        cmocka_unit_test(test_bad_models),
        cmocka_unit_test(test_bad_mmproj_keys),
        cmocka_unit_test(test_qwen_smart_resize),
        cmocka_unit_test(test_qwen_manifest),
        cmocka_unit_test(test_qwen_bf16),
        cmocka_unit_test(test_qwen_bad_configs),
        cmocka_unit_test(test_qwen_bad_gguf),
        cmocka_unit_test(test_qwen_flops),
    };
    return cmocka_run_group_tests_name("encoder", tests, NULL, NULL);
}
