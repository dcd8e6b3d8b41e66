// The public API as a host uses it: budgets, method registry, parameters, the
// baseline methods' exact selections, token positions and weights, and errors.
// (The method-specific parity tests are test_prune_*.c and test_temporal.c.)
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vtc.h"
#include "base/matmul.h" // vtc_mm_bf16_native, vtc_mm_isa (internal)
#include "base/safetensors.h"
#include "budget.h"

static void test_keep_count(void **state) {
    (void)state;
    assert_int_equal(keep_count(64, 576), 64);
    assert_int_equal(keep_count(0, 576), 576);      // 0 = all
    assert_int_equal(keep_count(0.25, 576), 144);   // fraction
    assert_int_equal(keep_count(0.001, 576), 1);    // at least one
    assert_int_equal(keep_count(576, 576), 576);
    assert_int_equal(keep_count(577, 576), VTC_ERR_NEEDS); // more than there are
    assert_true(keep_count(-1, 576) < 0);
    assert_true(keep_count(NAN, 576) < 0);
    assert_true(keep_count(INFINITY, 576) < 0);
    assert_true(keep_count(2.5, 576) < 0);          // a count must be whole
    assert_int_equal(vtc_last_status(), VTC_ERR_ARG);
}

static void test_version(void **state) {
    (void)state;
    assert_string_equal(vtc_version(), VTC_VERSION); // what bindings read at run time
}

static void test_registry(void **state) {
    (void)state;
    const char *want[] = { "none", "random", "uniform", "pool", "cls", "visionzip", "hired", "divprune", "todre",
                           "tome", "dycoke", "vq" };
    assert_int_equal(vtc_method_count(), 12);
    for (int i = 0; i < 12; i++) {
        int found = 0;
        for (int j = 0; j < vtc_method_count(); j++) found |= !strcmp(vtc_method_name(j), want[i]);
        if (!found) fail_msg("method %s missing from the registry", want[i]);
    }
    for (int i = 0; i < vtc_method_count(); i++) {
        assert_non_null(vtc_method_summary(i));
        for (int j = 0; j < vtc_method_param_count(i); j++) {
            const char *name, *def, *help;
            assert_int_equal(vtc_method_param(i, j, &name, &def, &help), 0);
            // every default must itself be accepted
            char params[128];
            snprintf(params, sizeof params, "%s=%s", name, def);
            struct vtc_prune_params p = vtc_prune_params_default();
            p.method = vtc_method_name(i);
            p.params = params;
            if (vtc_prune_validate(p)) fail_msg("%s: default %s rejected: %s", p.method, params, vtc_last_error());
        }
    }
    struct vtc_prune_params p = vtc_prune_params_default();
    p.method = "nosuch";
    assert_int_equal(vtc_prune_validate(p), VTC_ERR_ARG);
    p.method = "random";
    p.params = "per_frame=2";
    assert_int_equal(vtc_prune_validate(p), VTC_ERR_ARG);
    p.params = "bogus=1";
    assert_int_equal(vtc_prune_validate(p), VTC_ERR_ARG);
    assert_non_null(strstr(vtc_last_error(), "per_frame")); // the message lists the valid ones
    p.params = "per_frame";
    assert_int_equal(vtc_prune_validate(p), VTC_ERR_ARG);
    p.params = "per_frame=1";
    assert_int_equal(vtc_prune_validate(p), 0);
}

// A 2-frame 4x6 grid with CLS attention equal to a known permutation.
static vtc_features *grid(void) {
    vtc_features *f = vtc_features_new(2, 4, 6, 8, 4, 0, VTC_F_FEATURES | VTC_F_CLS_ATTN | VTC_F_KEYS | VTC_F_CLS);
    assert_non_null(f);
    for (int i = 0; i < f->n; i++) {
        f->cls_attn[i] = (float)((i * 7) % f->n) / f->n; // distinct values
        for (int d = 0; d < f->dim; d++) f->features[i * f->dim + d] = (float)(i * 100 + d);
    }
    return f;
}

// --pool s on a grid that s does not divide: 4x6 by 4 leaves 1x2 windows of
// 4x4 and 4x2 tokens. Features are the window means; the attention a window
// receives is the sum of its tokens' (so the total is kept), whatever its size.
static void test_features_pool(void **state) {
    (void)state;
    vtc_features *f = grid();
    vtc_features *o = vtc_features_pool(f, 4, VTC_POOL_AVG);
    assert_non_null(o);
    assert_int_equal(o->T, 2), assert_int_equal(o->H, 1), assert_int_equal(o->W, 2), assert_int_equal(o->n, 4);
    for (int t = 0; t < 2; t++) {
        for (int wx = 0; wx < 2; wx++) {
            double sum_attn = 0, sum_feat = 0;
            int cnt = 0;
            for (int y = 0; y < 4; y++)
                for (int x = wx * 4; x < wx * 4 + 4 && x < 6; x++, cnt++) {
                    int i = (t * 4 + y) * 6 + x;
                    sum_attn += f->cls_attn[i];
                    sum_feat += f->features[i * f->dim];
                }
            assert_int_equal(cnt, wx ? 8 : 16);
            assert_float_equal(o->cls_attn[t * 2 + wx], sum_attn, 1e-6);
            assert_float_equal(o->features[(t * 2 + wx) * o->dim], sum_feat / cnt, 1e-3);
        }
    }
    assert_null(vtc_features_pool(f, 0, VTC_POOL_AVG));
    vtc_features_free(o);
    vtc_features_free(f);
}

static void test_cls_selection(void **state) {
    (void)state;
    vtc_features *f = grid();
    struct vtc_prune_params p = vtc_prune_params_default();
    p.method = "cls";
    set_keep(&p, 5);
    vtc_tokens *t = NULL;
    assert_int_equal(vtc_prune(NULL, f, p, &t), 0);
    assert_int_equal(t->n, 5);
    // the 5 largest of (7i mod 48)/48 are i with 7i mod 48 in {47..43}: i = 41, 34, 27, 20, 13
    const int32_t want[5] = { 13, 20, 27, 34, 41 }; // raster order
    assert_memory_equal(t->index, want, sizeof want);
    for (int k = 0; k < 5; k++) {
        int32_t i = want[k];
        assert_int_equal(t->pos[3 * k], i / 24);
        assert_int_equal(t->pos[3 * k + 1], (i % 24) / 6);
        assert_int_equal(t->pos[3 * k + 2], i % 6);
        assert_true(t->weight[k] == 1.0f);
        assert_true(t->data[k * t->dim] == (float)(i * 100)); // the token's own row
    }
    assert_int_equal(t->space, VTC_SPACE_FEATURES); // no model, no embeds
    vtc_tokens_free(t);
    vtc_features_free(f);
}

static void test_baselines(void **state) {
    (void)state;
    vtc_features *f = grid();
    struct vtc_prune_params p = vtc_prune_params_default();
    vtc_tokens *a = NULL, *b = NULL;
    // random: seeded, reproducible, distinct, sorted
    p.method = "random";
    set_keep(&p, 10);
    p.seed = 7;
    assert_int_equal(vtc_prune(NULL, f, p, &a), 0);
    assert_int_equal(vtc_prune(NULL, f, p, &b), 0);
    assert_memory_equal(a->index, b->index, sizeof(int32_t) * 10);
    for (int k = 1; k < 10; k++) assert_true(a->index[k] > a->index[k - 1]);
    vtc_tokens_free(b);
    p.seed = 8;
    assert_int_equal(vtc_prune(NULL, f, p, &b), 0);
    assert_true(memcmp(a->index, b->index, sizeof(int32_t) * 10) != 0);
    vtc_tokens_free(a);
    vtc_tokens_free(b);
    // uniform: 2 frames x 6 = a 2x3 lattice per frame: rows y = 1, 3; columns x = 1, 3, 5
    p.method = "uniform";
    set_keep(&p, 12);
    assert_int_equal(vtc_prune(NULL, f, p, &a), 0);
    const int32_t want[12] = { 7, 9, 11, 19, 21, 23, 31, 33, 35, 43, 45, 47 };
    assert_int_equal(a->n, 12);
    assert_memory_equal(a->index, want, sizeof want);
    vtc_tokens_free(a);
    // none keeps everything
    p.method = "none";
    set_keep(&p, 0);
    assert_int_equal(vtc_prune(NULL, f, p, &a), 0);
    assert_int_equal(a->n, f->n);
    vtc_tokens_free(a);
    // a budget the input cannot meet: more tokens than there are
    p.method = "cls";
    set_keep(&p, 49);
    assert_int_equal(vtc_prune(NULL, f, p, &a), VTC_ERR_NEEDS);
    assert_null(a);
    vtc_features_free(f);
}

static void test_missing_fields(void **state) {
    (void)state;
    vtc_features *f = vtc_features_new(1, 2, 2, 4, 0, 0, VTC_F_FEATURES);
    struct vtc_prune_params p = vtc_prune_params_default();
    p.method = "cls";
    set_keep(&p, 2);
    vtc_tokens *t = NULL;
    assert_int_equal(vtc_prune(NULL, f, p, &t), VTC_ERR_NEEDS); // the input lacks a tensor cls reads
    assert_non_null(strstr(vtc_last_error(), "cls_attn"));
    vtc_features_free(f);
    assert_null(vtc_features_new(0, 2, 2, 4, 0, 0, VTC_F_FEATURES));
    assert_null(vtc_features_new(1, 2, 2, 4, 0, 0, VTC_F_EMBEDS)); // embeds need lm_dim
    // T*H*W past INT32_MAX, also where the int64 product wraps to a small number (7*2^64 + 196)
    assert_null(vtc_features_new(65536, 65536, 1, 4, 0, 0, VTC_F_FEATURES));
    assert_null(vtc_features_new(1323003836, 30871, 3161593, 4, 0, 0, VTC_F_FEATURES));
}

// vtc_features_save -> vtc_features_load gives back every field, the frame timestamps included.
static void test_features_file_roundtrip(void **state) {
    (void)state;
    vtc_features *f = vtc_features_new(2, 2, 3, 4, 0, 0, VTC_F_FEATURES | VTC_F_CLS_ATTN | VTC_F_TIMESTAMPS);
    assert_non_null(f);
    for (int i = 0; i < 12 * 4; i++) f->features[i] = (float)i * 0.25f - 3.0f;
    for (int i = 0; i < 12; i++) f->cls_attn[i] = (float)(i + 1) / 78.0f;
    f->timestamps[0] = 0.0, f->timestamps[1] = 1.0 / 3.0; // not a float: must come back exactly
    char path[] = "/tmp/vtc_test_features_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(vtc_features_save(f, path, NULL), 0);
    vtc_features *g = NULL;
    assert_int_equal(vtc_features_load(path, &g), 0);
    unlink(path);
    assert_int_equal(g->T, 2), assert_int_equal(g->H, 2), assert_int_equal(g->W, 3), assert_int_equal(g->dim, 4);
    assert_memory_equal(g->features, f->features, 12 * 4 * sizeof(float));
    assert_memory_equal(g->cls_attn, f->cls_attn, 12 * sizeof(float));
    assert_non_null(g->timestamps);
    assert_memory_equal(g->timestamps, f->timestamps, 2 * sizeof(double));
    vtc_features_free(g);
    vtc_features_free(f);
}

// The token files' metadata is the library's (docs/formats.md): the model, the
// method, its parameters, the budget, counts, space, timestamps; a host's keys
// are added but may not reuse one of the format's.
static void test_token_file_metadata(void **state) {
    (void)state;
    vtc_model *m = vtc_model_default(vtc_model_params_default());
    vtc_ctx *ctx = vtc_ctx_new(m, vtc_ctx_params_default());
    vtc_image *img = vtc_image_load("samples/scene.png", NULL);
    assert_non_null(img);
    const vtc_image *frames[2] = { img, img };
    const double ts[2] = { 0.0, 0.5 };
    vtc_features *f = NULL, *g = NULL;
    assert_int_equal(vtc_encode_frames(ctx, frames, 2, ts, &f), 0);
    struct vtc_model_info mi;
    vtc_model_get_info(m, &mi);
    assert_string_equal(f->model, mi.name);
    assert_string_equal(f->model_format, "builtin");
    assert_int_equal(f->feature_layer, mi.feature_layer);
    char path[] = "/tmp/vtc_test_meta_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    const char *reused[] = { "grid", "1,1,1", NULL };
    assert_int_equal(vtc_features_save(f, path, reused), VTC_ERR_ARG);
    const char *mine[] = { "source", "clip.mp4", NULL };
    assert_int_equal(vtc_features_save(f, path, mine), 0);
    assert_int_equal(vtc_features_load(path, &g), 0); // the model comes back with the features
    assert_string_equal(g->model, f->model);
    assert_string_equal(g->model_format, f->model_format);
    assert_int_equal(g->feature_layer, f->feature_layer);
    // pruned without a ctx (as `vtc prune` of a features file), the tokens still name the model
    struct vtc_prune_params p = vtc_prune_params_default();
    p.method = "dycoke";
    p.params = "k=0.5";
    vtc_tokens *t = NULL;
    assert_int_equal(vtc_prune(NULL, g, p, &t), 0);
    assert_string_equal(t->model, f->model);
    assert_string_equal(t->params, "k=0.5");
    assert_non_null(t->timestamps);
    assert_true(t->timestamps[1] == 0.5);
    assert_int_equal(vtc_tokens_save(t, path, reused), VTC_ERR_ARG);
    assert_int_equal(vtc_tokens_save(t, path, mine), 0);
    vtc_st *st = NULL;
    assert_int_equal(vtc_st_open(path, 1, &st), 0);
    char n_kept[32];
    snprintf(n_kept, sizeof n_kept, "%d", t->n);
    const char *want[][2] = {
        { "format", "vtc-tokens-1" }, { "grid", "2,24,24" },  { "model", f->model }, { "model_format", "builtin" },
        { "method", "dycoke" },       { "parameters", "k=0.5" }, { "keep", "all" },  { "n_input", "1152" },
        { "n_kept", n_kept },         { "space", "embeds" },   { "source", "clip.mp4" },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *v = vtc_st_meta(st, want[i][0]);
        if (!v || strcmp(v, want[i][1])) fail_msg("metadata %s: '%s', want '%s'", want[i][0], v ? v : "(none)", want[i][1]);
    }
    assert_non_null(vtc_st_find(st, "timestamps"));
    vtc_st_close(st);
    unlink(path);
    vtc_tokens_free(t);
    vtc_features_free(g);
    vtc_features_free(f);
    vtc_image_free(img);
    vtc_ctx_free(ctx);
    vtc_model_free(m);
}

// End to end on the demo model: tokens come out in the LM's space.
static void test_encode_prune_project(void **state) {
    (void)state;
    vtc_model *m = vtc_model_default(vtc_model_params_default());
    vtc_ctx *ctx = vtc_ctx_new(m, vtc_ctx_params_default());
    vtc_image *img = vtc_image_load("samples/astronaut.jpg", NULL);
    assert_non_null(img);
    vtc_features *f = NULL;
    assert_int_equal(vtc_encode_image(ctx, img, &f), 0);
    assert_int_equal(f->n, 576);
    struct vtc_prune_params p = vtc_prune_params_default();
    p.method = "cls";
    set_keep(&p, 64);
    vtc_tokens *t = NULL;
    assert_int_equal(vtc_prune(ctx, f, p, &t), 0);
    assert_int_equal(t->space, VTC_SPACE_EMBEDS);
    assert_int_equal(t->dim, f->lm_dim);
    // a selected token projected after selection equals its precomputed embedding
    for (int k = 0; k < t->n; k++)
        for (int d = 0; d < t->dim; d++)
            assert_true(fabsf(t->data[k * t->dim + d] - f->embeds[(size_t)t->index[k] * f->lm_dim + d]) <= 1e-4f);
    vtc_tokens_free(t);
    set_keep(&p, 1e9);
    assert_int_equal(vtc_prune(ctx, f, p, &t), VTC_ERR_NEEDS);
    assert_true(strlen(vtc_ctx_error(ctx)) > 0);
    vtc_features_free(f);
    vtc_image_free(img);
    vtc_ctx_free(ctx);
    vtc_model_free(m);
}

// The layout of kept anyres tokens (api/pack.c), on LLaVA-NeXT features of a
// 600x400 image (1 + 2x2 tiles of 24x24, window 32x48 from row 8): base tokens
// first, stitched rows in raster order inside the window, a newline after each
// row that keeps a token, cell-less CLS tokens of the sub-images after the grid.
static void test_anyres_packing(void **state) {
    (void)state;
    vtc_model *m = vtc_model_load("tests/fixtures/models/llava-next", vtc_model_params_default());
    assert_non_null(m);
    vtc_ctx *ctx = vtc_ctx_new(m, vtc_ctx_params_default());
    vtc_image *img = vtc_image_load("tests/fixtures/ref_images/wide600x400.jpg", NULL);
    vtc_features *f = NULL;
    assert_int_equal(vtc_encode_image(ctx, img, &f), 0);
    assert_int_equal(f->T, 5);
    assert_int_equal(f->tiling.unpad_y0, 8);
    assert_int_equal(f->tiling.unpad_h, 32);
    const char *methods[] = { "none", "cls", "visionzip", "random", "tome" };
    for (int k = 0; k < 5; k++)
        for (int pack = VTC_PACK_NATIVE; pack <= VTC_PACK_SPATIAL; pack++) {
            struct vtc_prune_params p = vtc_prune_params_default();
            p.method = methods[k];
            if (k) p.n_keep = 300;
            p.pack = pack;
            vtc_tokens *t = NULL;
            assert_int_equal(vtc_prune(ctx, f, p, &t), 0);
            assert_non_null(t->tile);
            int phase = 0, last_y = -1, last_x = -1, newlines = 0, rows_with_tokens = 0, row_open = 0;
            for (int32_t i = 0; i < t->n; i++) {
                const int32_t tile = t->tile[i], y = t->pos[3 * i + 1], x = t->pos[3 * i + 2];
                if (tile == 0 && y >= 0) { // base: first, raster order
                    assert_int_equal(phase, 0);
                    assert_true(y * 24 + x > last_y * 24 + last_x);
                    last_y = y, last_x = x;
                } else if (tile == -1) { // a newline ends the row just seen
                    assert_int_equal(pack, VTC_PACK_NATIVE);
                    assert_int_equal(phase, 1);
                    assert_true(row_open && y == last_y);
                    assert_int_equal(t->index[i], -1);
                    newlines++, row_open = 0;
                } else if (y >= 0) { // stitched: raster order, inside the window unless spatial
                    if (phase == 0) phase = 1, last_y = -1, last_x = -1;
                    assert_int_equal(phase, 1);
                    assert_true(y > last_y || (y == last_y && x > last_x));
                    if (pack != VTC_PACK_SPATIAL) assert_true(y < 32 && x < 48);
                    if (y != last_y) rows_with_tokens++;
                    last_y = y, last_x = x, row_open = 1;
                } else if (tile > 0) { // a sub-image's CLS token: after the grid
                    phase = 2;
                }
            }
            if (pack == VTC_PACK_NATIVE) assert_int_equal(newlines, rows_with_tokens);
            if (k == 0 && pack == VTC_PACK_NATIVE) assert_int_equal(t->n, 2144);
            if (k == 0 && pack == VTC_PACK_SPATIAL) assert_int_equal(t->n, 5 * 576);
            vtc_tokens_free(t);
        }
    vtc_features_free(f);
    vtc_image_free(img);
    vtc_ctx_free(ctx);
    vtc_model_free(m);
}

// ---------------------------------------------------------------- frame sources

// A host's frame source over frames in memory, counting its calls; fail_at >= 0
// makes that call return fail_status; extra gives frames beyond n.
struct host_source {
    const vtc_image *const *frames;
    const double *ts; // NULL: none
    int n, next, calls, fail_at, fail_status, extra;
};

static int host_next(void *user, vtc_image *frame, double *timestamp) {
    struct host_source *h = user;
    if (h->calls++ == h->fail_at) return h->fail_status;
    if (h->next >= h->n + h->extra) return 0;
    const int i = h->next % h->n;
    *frame = *h->frames[i];
    if (h->ts) *timestamp = h->ts[i];
    h->next++;
    return 1;
}

static vtc_image *gradient(int w, int h, int seed) {
    uint8_t *rgb = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h * 3; i++) rgb[i] = (uint8_t)(i * (seed + 3) + seed * 17);
    vtc_image *img = vtc_image_from_rgb(rgb, w, h);
    free(rgb);
    return img;
}

static void assert_same_features(const vtc_features *a, const vtc_features *b) {
    assert_int_equal(a->T, b->T), assert_int_equal(a->n, b->n);
    assert_memory_equal(a->features, b->features, sizeof(float) * (size_t)a->n * a->dim);
    assert_memory_equal(a->cls_attn, b->cls_attn, sizeof(float) * (size_t)a->n);
    assert_memory_equal(a->keys, b->keys, sizeof(float) * (size_t)a->n * a->head_dim);
    assert_memory_equal(a->embeds, b->embeds, sizeof(float) * (size_t)a->n * a->lm_dim);
    assert_memory_equal(a->cls, b->cls, sizeof(float) * (size_t)a->T * a->dim);
    assert_true((a->timestamps == NULL) == (b->timestamps == NULL));
    if (a->timestamps) assert_memory_equal(a->timestamps, b->timestamps, sizeof(double) * (size_t)a->T);
}

// vtc_encode_source gives what vtc_encode_frames gives for the same frames, on
// one thread and with the decode thread, with and without a count (the features
// then grow: 21 frames pass 16); a source's failures and contract breaches are
// errors that name the frame; the memory limit is checked before any frame.
static void test_frame_source(void **state) {
    (void)state;
    vtc_model *m = vtc_model_default(vtc_model_params_default());
    enum { N = 21 };
    vtc_image *imgs[N];
    double ts[N];
    for (int i = 0; i < N; i++) imgs[i] = gradient(40 + i, 30, i), ts[i] = 0.25 * i;
    const vtc_image *const *frames = (const vtc_image *const *)imgs;
    struct vtc_ctx_params cp = vtc_ctx_params_default();
    cp.n_threads = 1;
    vtc_ctx *one = vtc_ctx_new(m, cp);
    cp.n_threads = 3;
    vtc_ctx *three = vtc_ctx_new(m, cp);
    vtc_features *ref = NULL, *f = NULL;
    assert_int_equal(vtc_encode_frames(one, frames, N, ts, &ref), 0);
    vtc_ctx *ctxs[2] = { one, three };
    for (int c = 0; c < 2; c++)
        for (int known = 0; known < 2; known++) {
            struct host_source h = { frames, ts, N, 0, 0, -1, 0, 0 };
            struct vtc_frame_source src = { host_next, &h, known ? N : 0, 0 };
            assert_int_equal(vtc_encode_source(ctxs[c], &src, &f), 0);
            assert_same_features(ref, f);
            assert_int_equal(h.calls, N + 1); // the last call said: no more
            vtc_features_free(f);
        }
    vtc_features_free(ref);
    // no timestamps: none in the features
    assert_int_equal(vtc_encode_frames(one, frames, 3, NULL, &ref), 0);
    struct host_source h = { frames, NULL, 3, 0, 0, -1, 0, 0 };
    struct vtc_frame_source src = { host_next, &h, 0, 0 };
    assert_int_equal(vtc_encode_source(three, &src, &f), 0);
    assert_null(f->timestamps);
    assert_same_features(ref, f);
    vtc_features_free(f);
    vtc_features_free(ref);
    for (int c = 0; c < 2; c++) {
        // a failure: its status, the frame named
        h = (struct host_source){ frames, ts, N, 0, 0, 5, VTC_ERR_IO, 0 };
        src = (struct vtc_frame_source){ host_next, &h, 0, 0 };
        f = (vtc_features *)&h;
        assert_int_equal(vtc_encode_source(ctxs[c], &src, &f), VTC_ERR_IO);
        assert_null(f);
        assert_non_null(strstr(vtc_last_error(), "frame 5"));
        assert_non_null(strstr(vtc_ctx_error(ctxs[c]), "frame 5"));
        // more frames than it said, fewer, none, a return value outside the contract
        h = (struct host_source){ frames, ts, N, 0, 0, -1, 0, 2 };
        src.n_frames = N;
        assert_int_equal(vtc_encode_source(ctxs[c], &src, &f), VTC_ERR_ARG);
        h = (struct host_source){ frames, ts, N, 0, 0, -1, 0, 0 };
        src.n_frames = N + 1;
        assert_int_equal(vtc_encode_source(ctxs[c], &src, &f), VTC_ERR_ARG);
        h = (struct host_source){ frames, ts, N, 0, 0, 0, 0, 0 }; // 0 at once: no frames
        src.n_frames = 0;
        assert_int_equal(vtc_encode_source(ctxs[c], &src, &f), VTC_ERR_ARG);
        h = (struct host_source){ frames, ts, N, 0, 0, 2, 7, 0 };
        assert_int_equal(vtc_encode_source(ctxs[c], &src, &f), VTC_ERR_ARG);
        // timestamps on some frames only
        double some[N];
        for (int i = 0; i < N; i++) some[i] = i == 4 ? NAN : i;
        h = (struct host_source){ frames, some, N, 0, 0, -1, 0, 0 };
        assert_int_equal(vtc_encode_source(ctxs[c], &src, &f), VTC_ERR_ARG);
    }
    vtc_ctx_free(one);
    vtc_ctx_free(three);
    vtc_model_free(m);
    // the memory limit (24 MiB): 8 frames (12.7 MB with the encoder's buffers) fit, not with 12 MiB
    // more for the source; checked before any frame is asked for
    struct vtc_model_params mp = vtc_model_params_default();
    mp.limits.max_memory = 24 << 20;
    m = vtc_model_default(mp);
    cp.n_threads = 1;
    one = vtc_ctx_new(m, cp);
    h = (struct host_source){ frames, ts, 8, 0, 0, -1, 0, 0 };
    src = (struct vtc_frame_source){ host_next, &h, 8, 0 };
    assert_int_equal(vtc_encode_source(one, &src, &f), 0);
    vtc_features_free(f);
    h = (struct host_source){ frames, ts, 8, 0, 0, -1, 0, 0 };
    src.bytes = 12 << 20;
    assert_int_equal(vtc_encode_source(one, &src, &f), VTC_ERR_LIMIT);
    assert_int_equal(h.calls, 0);
    assert_non_null(strstr(vtc_last_error(), "frames in flight"));
    // without a count, when the features grow: room for 16 frames fits, for 32 not
    h = (struct host_source){ frames, ts, N, 0, 0, -1, 0, 0 };
    src = (struct vtc_frame_source){ host_next, &h, 0, 0 };
    assert_int_equal(vtc_encode_source(one, &src, &f), VTC_ERR_LIMIT);
    assert_int_equal(h.calls, 17);
    vtc_ctx_free(one);
    vtc_model_free(m);
    for (int i = 0; i < N; i++) vtc_image_free(imgs[i]);
}

// vtc_encode_file: an image as vtc_encode_image encodes it, a video's sampled
// frames as vtc_media_load + vtc_encode_frames give them, streamed.
static void test_encode_file(void **state) {
    (void)state;
    vtc_model *m = vtc_model_default(vtc_model_params_default());
    vtc_ctx *ctx = vtc_ctx_new(m, vtc_ctx_params_default());
    struct vtc_sample_params sp = vtc_sample_params_default();
    sp.n_frames = 5;
    vtc_features *f = NULL, *ref = NULL;
    vtc_media *media = vtc_media_load("samples/vtest.mp4", sp, NULL);
    assert_non_null(media);
    assert_int_equal(vtc_encode_frames(ctx, (const vtc_image *const *)media->frames, media->n_frames,
                                       media->timestamps, &ref), 0);
    assert_int_equal(vtc_encode_file(ctx, "samples/vtest.mp4", sp, &f), 0);
    assert_same_features(ref, f);
    vtc_features_free(f);
    vtc_features_free(ref);
    vtc_media_free(media);
    vtc_image *img = vtc_image_load("samples/scene.png", NULL);
    assert_int_equal(vtc_encode_image(ctx, img, &ref), 0);
    assert_int_equal(vtc_encode_file(ctx, "samples/scene.png", sp, &f), 0);
    assert_same_features(ref, f);
    vtc_features_free(f);
    vtc_features_free(ref);
    vtc_image_free(img);
    assert_int_equal(vtc_encode_file(ctx, "no/such/file.mp4", sp, &f), VTC_ERR_IO);
    sp.n_frames = 0;
    assert_int_equal(vtc_encode_file(ctx, "samples/vtest.mp4", sp, &f), VTC_ERR_ARG);
    assert_null(f);
    vtc_ctx_free(ctx);
    vtc_model_free(m);
}

// Bytes of a whole file (caller frees), *n its size; NULL when unreadable.
static unsigned char *file_bytes(const char *path, long *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    unsigned char *b = NULL;
    if (fseek(fp, 0, SEEK_END) == 0 && (*n = ftell(fp)) > 0 && fseek(fp, 0, SEEK_SET) == 0 &&
        (b = malloc((size_t)*n)) && fread(b, 1, (size_t)*n, fp) != (size_t)*n) {
        free(b);
        b = NULL;
    }
    fclose(fp);
    return b;
}

// vtc_encode_file_save writes a video's features frame by frame: the file is
// byte for byte vtc_features_save's of the whole encode, on one thread and on
// two (decoding overlapped), with the host's metadata; *info is the summary;
// a failure leaves no file.
static void test_encode_file_save(void **state) {
    (void)state;
    vtc_model *m = vtc_model_default(vtc_model_params_default());
    struct vtc_sample_params sp = vtc_sample_params_default();
    sp.n_frames = 5;
    const char *meta[] = { "origin", "test_api", NULL };
    char ref_path[64], out_path[64];
    snprintf(ref_path, sizeof ref_path, "/tmp/vtc_test_ref_%d.safetensors", (int)getpid());
    snprintf(out_path, sizeof out_path, "/tmp/vtc_test_out_%d.safetensors", (int)getpid());
    const char *inputs[] = { "samples/vtest.mp4", "samples/scene.png" };
    for (int threads = 1; threads <= 2; threads++)
        for (int k = 0; k < 2; k++) {
            struct vtc_ctx_params cp = vtc_ctx_params_default();
            cp.n_threads = threads;
            vtc_ctx *ctx = vtc_ctx_new(m, cp);
            vtc_features *ref = NULL, *info = NULL;
            assert_int_equal(vtc_encode_file(ctx, inputs[k], sp, &ref), 0);
            assert_int_equal(vtc_features_save(ref, ref_path, meta), 0);
            assert_int_equal(vtc_encode_file_save(ctx, inputs[k], sp, out_path, meta, &info), 0);
            long na = 0, nb = 0;
            unsigned char *a = file_bytes(ref_path, &na), *b = file_bytes(out_path, &nb);
            assert_non_null(a);
            assert_non_null(b);
            assert_int_equal(na, nb);
            assert_memory_equal(a, b, (size_t)na);
            free(a);
            free(b);
            assert_int_equal(info->T, ref->T);
            assert_int_equal(info->n, ref->n);
            assert_int_equal(info->H, ref->H);
            if (k == 0) { // a video's summary: no arrays, its timestamps
                assert_null(info->features);
                assert_null(info->embeds);
                assert_non_null(info->timestamps);
                assert_memory_equal(info->timestamps, ref->timestamps, sizeof(double) * (size_t)ref->T);
            }
            vtc_features_free(info);
            vtc_features_free(ref);
            unlink(ref_path);
            unlink(out_path);
            assert_int_equal(vtc_encode_file_save(ctx, inputs[k], sp, "/nonexistent-dir/x.safetensors", NULL, NULL),
                             VTC_ERR_IO);
            const char *bad_meta[] = { "format", "mine", NULL }; // a key of the format: refused, nothing written
            assert_int_equal(vtc_encode_file_save(ctx, inputs[k], sp, out_path, bad_meta, &info), VTC_ERR_ARG);
            assert_null(info);
            assert_int_equal(access(out_path, F_OK), -1);
            vtc_ctx_free(ctx);
        }
    vtc_model_free(m);
}

// ---------------------------------------------------------------- precision

// The precision knob (include/vtc.h, enum vtc_precision): params.precision,
// else VTC_PRECISION from the environment (f32, bf16 or auto), else auto, which
// is bf16 only where oneDNN's ISA has bf16 units (base/matmul.h). The suite
// runs with VTC_PRECISION=f32 (tests/run_all.sh); each case sets what it needs
// and puts back what it found.
static char g_env_saved[64];
static int g_env_was_set;

static void env_save(void) {
    const char *v = getenv("VTC_PRECISION");
    g_env_was_set = v != NULL;
    snprintf(g_env_saved, sizeof g_env_saved, "%s", v ? v : "");
}

static void env_restore(void) {
    if (g_env_was_set) setenv("VTC_PRECISION", g_env_saved, 1);
    else unsetenv("VTC_PRECISION");
}

// A context at `precision` with VTC_PRECISION set to env (NULL: unset), the
// environment put back after; *engine gets its engine line.
static vtc_ctx *precision_ctx(const vtc_model *m, int32_t precision, const char *env, int32_t *got,
                              const char **engine) {
    struct vtc_ctx_params cp = vtc_ctx_params_default();
    cp.n_threads = 1;
    cp.precision = precision;
    env_save();
    if (env) setenv("VTC_PRECISION", env, 1);
    else unsetenv("VTC_PRECISION");
    vtc_ctx *ctx = vtc_ctx_new(m, cp);
    env_restore();
    if (ctx) *got = vtc_ctx_precision(ctx, engine);
    return ctx;
}

// A CPU whose oneDNN has no bf16 kernels at all (below AVX-512, e.g. AVX2 only)
// refuses a bf16 context with VTC_ERR_UNSUPPORTED naming its ISA: the bf16 cases
// are skipped there (after freeing what they made: ASan's leak check runs at exit).
static int bf16_unavailable(const vtc_ctx *ctx) {
    if (ctx || vtc_last_status() != VTC_ERR_UNSUPPORTED) return 0;
    printf("  bf16 unavailable on oneDNN's ISA %s (%s): skipped\n", vtc_mm_isa(), vtc_last_error());
    return 1;
}

static void assert_starts_with(const char *s, const char *prefix) {
    if (strncmp(s, prefix, strlen(prefix))) fail_msg("'%s' does not begin with '%s'", s, prefix);
}

static void assert_contains(const char *s, const char *part) {
    if (!strstr(s, part)) fail_msg("'%s' does not contain '%s'", s, part);
}

static void test_precision_resolution(void **state) {
    (void)state;
    vtc_model *m = vtc_model_default(vtc_model_params_default());
    assert_non_null(m);
    const int native = vtc_mm_bf16_native();
    const char *isa = vtc_mm_isa(), *engine = NULL;
    int32_t got = -1;
    vtc_ctx *ctx;
    // explicit f32: OpenBLAS, whatever VTC_PRECISION says (it is not even read)
    const char *envs[] = { NULL, "bf16", "nonsense" };
    for (int i = 0; i < 3; i++) {
        ctx = precision_ctx(m, VTC_PRECISION_F32, envs[i], &got, &engine);
        if (!ctx) fail_msg("f32 with VTC_PRECISION=%s: %s", envs[i] ? envs[i] : "(unset)", vtc_last_error());
        assert_int_equal(got, VTC_PRECISION_F32);
        assert_string_equal(engine, "f32 on OpenBLAS");
        vtc_ctx_free(ctx);
    }
    // auto, VTC_PRECISION unset, empty or "auto": bf16 exactly where there are bf16 units
    const char *autos[] = { NULL, "", "auto" };
    for (int i = 0; i < 3; i++) {
        ctx = precision_ctx(m, VTC_PRECISION_AUTO, autos[i], &got, &engine);
        if (!ctx) fail_msg("auto with VTC_PRECISION=%s: %s", autos[i] ? autos[i] : "(unset)", vtc_last_error());
        assert_int_equal(got, native ? VTC_PRECISION_BF16 : VTC_PRECISION_F32);
        assert_starts_with(engine, native ? "bf16 on oneDNN " : "f32 on OpenBLAS (auto: ");
        assert_contains(engine, "auto");
        assert_contains(engine, isa);
        vtc_ctx_free(ctx);
    }
    // auto with VTC_PRECISION=f32: f32, the line says why
    ctx = precision_ctx(m, VTC_PRECISION_AUTO, "f32", &got, &engine);
    assert_non_null(ctx);
    assert_int_equal(got, VTC_PRECISION_F32);
    assert_starts_with(engine, "f32 on OpenBLAS");
    assert_contains(engine, "VTC_PRECISION");
    vtc_ctx_free(ctx);
    // VTC_PRECISION neither f32, bf16 nor auto: refused, the variable named
    const char *bad[] = { "fp16", "BF16", "f32 " };
    for (int i = 0; i < 3; i++) {
        ctx = precision_ctx(m, VTC_PRECISION_AUTO, bad[i], &got, &engine);
        if (ctx) fail_msg("VTC_PRECISION=%s accepted (%s)", bad[i], engine);
        assert_int_equal(vtc_last_status(), VTC_ERR_ARG);
        assert_contains(vtc_last_error(), "VTC_PRECISION");
    }
    // a precision outside the enum: refused, whatever the environment
    const int32_t out_of_range[] = { 3, -1, 1000 };
    for (int i = 0; i < 3; i++) {
        ctx = precision_ctx(m, out_of_range[i], "bf16", &got, &engine);
        if (ctx) fail_msg("precision %d accepted", out_of_range[i]);
        assert_int_equal(vtc_last_status(), VTC_ERR_ARG);
        assert_contains(vtc_last_error(), "precision");
    }
    // no context: f32 and an empty line
    assert_int_equal(vtc_ctx_precision(NULL, &engine), VTC_PRECISION_F32);
    assert_string_equal(engine, "");
    assert_int_equal(vtc_ctx_precision(NULL, NULL), VTC_PRECISION_F32);
    // explicit bf16, and auto with VTC_PRECISION=bf16: oneDNN on this CPU's ISA
    for (int i = 0; i < 2; i++) {
        ctx = precision_ctx(m, i ? VTC_PRECISION_AUTO : VTC_PRECISION_BF16, i ? "bf16" : NULL, &got, &engine);
        if (bf16_unavailable(ctx)) {
            vtc_model_free(m);
            skip();
        }
        if (!ctx) fail_msg("bf16 (%s): %s", i ? "VTC_PRECISION" : "explicit", vtc_last_error());
        assert_int_equal(got, VTC_PRECISION_BF16);
        assert_starts_with(engine, "bf16 on oneDNN ");
        assert_contains(engine, isa);
        if (!native) assert_contains(engine, "emulated");
        if (i) assert_contains(engine, "VTC_PRECISION");
        else assert_null(strstr(engine, "VTC_PRECISION"));
        vtc_ctx_free(ctx);
    }
    vtc_model_free(m);
}

// Auto on a CPU without bf16 units: f32, and the line names oneDNN's ISA. Shown
// by capping oneDNN at AVX2 (ONEDNN_MAX_CPU_ISA, which oneDNN reads once, at its
// first call: https://oneapi-src.github.io/oneDNN/dev_guide_cpu_dispatcher_control.html),
// so in a process of its own: this binary again, run with AVX2_CHILD (main).
#define AVX2_CHILD "--precision-avx2-child"

static int child_fail(const char *what, const char *detail) {
    fprintf(stderr, "avx2 child: %s: %s\n", what, detail);
    return 1;
}

static int avx2_child(void) {
    const char *isa = vtc_mm_isa(); // oneDNN's first call in this process
    if (vtc_mm_bf16_native()) return child_fail("bf16 units at ISA", isa);
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && strcmp(isa, "avx2")) return child_fail("ONEDNN_MAX_CPU_ISA=AVX2 ignored", isa);
    if (getenv("VTC_PRECISION")) return child_fail("VTC_PRECISION is set", getenv("VTC_PRECISION"));
    vtc_model *m = vtc_model_default(vtc_model_params_default());
    vtc_image *img = vtc_image_load("samples/astronaut.jpg", NULL);
    if (!m || !img) return child_fail("setup", vtc_last_error());
    struct vtc_ctx_params cp = vtc_ctx_params_default();
    cp.n_threads = 1;
    vtc_ctx *ctx = vtc_ctx_new(m, cp); // auto
    cp.precision = VTC_PRECISION_F32;
    vtc_ctx *f32 = vtc_ctx_new(m, cp);
    if (!ctx || !f32) return child_fail("vtc_ctx_new", vtc_last_error());
    const char *engine = NULL;
    char want[128];
    snprintf(want, sizeof want, "f32 on OpenBLAS (auto: oneDNN's ISA %s has no bf16 units)", isa);
    if (vtc_ctx_precision(ctx, &engine) != VTC_PRECISION_F32) return child_fail("auto did not resolve to f32", engine);
    if (strcmp(engine, want)) return child_fail("engine line", engine);
    vtc_features *a = NULL, *b = NULL;
    if (vtc_encode_image(ctx, img, &a) || vtc_encode_image(f32, img, &b)) return child_fail("encode", vtc_last_error());
    if (a->n != 576 || memcmp(a->features, b->features, sizeof(float) * (size_t)a->n * a->dim) ||
        memcmp(a->embeds, b->embeds, sizeof(float) * (size_t)a->n * a->lm_dim))
        return child_fail("encode", "auto's features differ from f32's");
    // bf16 forced at this ISA: oneDNN 2.x has bf16 matmuls from AVX-512 on, so
    // it may be refused, but only as unsupported, with the ISA named
    cp.precision = VTC_PRECISION_BF16;
    vtc_ctx *bf = vtc_ctx_new(m, cp);
    if (!bf && (vtc_last_status() != VTC_ERR_UNSUPPORTED || !strstr(vtc_last_error(), isa)))
        return child_fail("forced bf16 at this ISA", vtc_last_error());
    printf("  ISA %s: auto is '%s'; forced bf16: %s\n", isa, engine, bf ? "runs" : vtc_last_error());
    vtc_ctx_free(bf);
    vtc_features_free(a);
    vtc_features_free(b);
    vtc_ctx_free(ctx);
    vtc_ctx_free(f32);
    vtc_image_free(img);
    vtc_model_free(m);
    return 0;
}

static void test_precision_auto_fallback(void **state) {
    (void)state;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { // before oneDNN's first call in the new process: set at exec
        setenv("ONEDNN_MAX_CPU_ISA", "AVX2", 1);
        unsetenv("VTC_PRECISION");
        char *argv[] = { "test_api", AVX2_CHILD, NULL };
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status))
        fail_msg("the ONEDNN_MAX_CPU_ISA=AVX2 child failed (%s %d)", WIFEXITED(status) ? "exit" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

// End to end in bf16 on the demo model: the features and embeddings are
// finite and within bf16's error of f32's; the pruned tokens are the kept rows
// of the bf16 embeddings (projected after selection, as in f32).
static void test_bf16_encode_prune(void **state) {
    (void)state;
    vtc_model *m = vtc_model_default(vtc_model_params_default());
    vtc_image *img = vtc_image_load("samples/astronaut.jpg", NULL);
    assert_non_null(m);
    assert_non_null(img);
    int32_t got = 0;
    const char *engine = NULL;
    vtc_ctx *bf = precision_ctx(m, VTC_PRECISION_BF16, NULL, &got, &engine);
    if (bf16_unavailable(bf)) {
        vtc_image_free(img);
        vtc_model_free(m);
        skip();
    }
    assert_non_null(bf);
    vtc_ctx *f32 = precision_ctx(m, VTC_PRECISION_F32, NULL, &got, &engine);
    assert_non_null(f32);
    vtc_features *a = NULL, *b = NULL; // f32, bf16
    assert_int_equal(vtc_encode_image(f32, img, &a), 0);
    assert_int_equal(vtc_encode_image(bf, img, &b), 0);
    assert_int_equal(b->n, 576);
    assert_int_equal(b->lm_dim, a->lm_dim);
    // Relative max error: max |bf16 - f32| over max |f32|, per array. bf16 keeps
    // 8 significant bits (unit roundoff 2^-9 ~ 2e-3) of every matrix product's
    // inputs, accumulated in f32; over 4 blocks and the projector that grows to
    // 6.8e-3 (embeddings), 1.1e-2 (features), 7.5e-3 (CLS attention) on this
    // image. 3e-2 leaves about 3x; a wrong weight or row is O(1).
    struct { const char *name; const float *x, *y; size_t n; } arrays[] = {
        { "features", a->features, b->features, (size_t)a->n * a->dim },
        { "embeds", a->embeds, b->embeds, (size_t)a->n * a->lm_dim },
        { "cls_attn", a->cls_attn, b->cls_attn, (size_t)a->n },
        { "keys", a->keys, b->keys, (size_t)a->n * a->head_dim },
    };
    for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++) {
        double err = 0, mag = 0;
        for (size_t i = 0; i < arrays[k].n; i++) {
            if (!isfinite(arrays[k].y[i])) fail_msg("bf16 %s[%zu] = %g", arrays[k].name, i, arrays[k].y[i]);
            err = fmax(err, fabs((double)arrays[k].y[i] - arrays[k].x[i]));
            mag = fmax(mag, fabs((double)arrays[k].x[i]));
        }
        print_message("  bf16 vs f32 %-8s relative max error %.2e\n", arrays[k].name, err / mag);
        if (!(err <= 3e-2 * mag)) fail_msg("bf16 %s: relative max error %g > 3e-2", arrays[k].name, err / mag);
    }
    struct vtc_prune_params p = vtc_prune_params_default();
    p.method = "cls";
    set_keep(&p, 64);
    vtc_tokens *ta = NULL, *tb = NULL;
    assert_int_equal(vtc_prune(f32, a, p, &ta), 0);
    assert_int_equal(vtc_prune(bf, b, p, &tb), 0);
    assert_int_equal(tb->n, 64);
    assert_int_equal(tb->space, VTC_SPACE_EMBEDS);
    assert_int_equal(tb->dim, b->lm_dim);
    // each kept token is its bf16 embedding (the projector at 64 rows, not 576:
    // equal here; another kernel may sum in another order, so 1e-3 of the scale)
    double scale = 0, worst = 0;
    for (size_t i = 0; i < (size_t)b->n * b->lm_dim; i++) scale = fmax(scale, fabs(b->embeds[i]));
    for (int k = 0; k < tb->n; k++)
        for (int d = 0; d < tb->dim; d++) {
            const float v = tb->data[k * tb->dim + d];
            assert_true(isfinite(v));
            worst = fmax(worst, fabs(v - b->embeds[(size_t)tb->index[k] * b->lm_dim + d]));
        }
    if (worst > 1e-3 * scale) fail_msg("kept tokens differ from their bf16 embeddings by %g (scale %g)", worst, scale);
    // the same tokens as f32 keeps, but for near ties in the CLS attention (64 of 64 here)
    int same = 0;
    for (int i = 0, j = 0; i < ta->n && j < tb->n;) {
        if (ta->index[i] == tb->index[j]) same++, i++, j++;
        else if (ta->index[i] < tb->index[j]) i++;
        else j++;
    }
    print_message("  cls keep 64: %d of the tokens f32 keeps; kept rows within %.1e of their embeddings\n", same,
                  worst);
    assert_true(same >= 56);
    vtc_tokens_free(ta);
    vtc_tokens_free(tb);
    vtc_features_free(a);
    vtc_features_free(b);
    vtc_ctx_free(bf);
    vtc_ctx_free(f32);
    vtc_image_free(img);
    vtc_model_free(m);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], AVX2_CHILD)) return avx2_child();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_count),   cmocka_unit_test(test_version), cmocka_unit_test(test_registry),
        cmocka_unit_test(test_anyres_packing),
        cmocka_unit_test(test_cls_selection), cmocka_unit_test(test_features_pool), cmocka_unit_test(test_baselines),
        cmocka_unit_test(test_missing_fields), cmocka_unit_test(test_features_file_roundtrip), cmocka_unit_test(test_encode_prune_project),
        cmocka_unit_test(test_token_file_metadata), cmocka_unit_test(test_frame_source),
        cmocka_unit_test(test_encode_file), cmocka_unit_test(test_encode_file_save),
        cmocka_unit_test(test_precision_resolution), cmocka_unit_test(test_precision_auto_fallback),
        cmocka_unit_test(test_bf16_encode_prune),
    };
    return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
