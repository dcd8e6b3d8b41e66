// The two merging methods, visionzip and tome, against tools/ref_prune_merge.py
// (PyTorch written to dvlab-research/VisionZip's CLIP forward and
// facebookresearch/ToMe's bipartite_soft_matching + merge_wavg), on random,
// clustered, SigLIP-style (no CLS) and video features: token counts, index
// sets and order exactly equal, positions and weights equal, merged tokens
// within 1e-5 (absolute; values are O(1)). Then what the fixtures do not pin
// down: the CLS token, the no-CLS fallbacks, the per-frame video split, keep
// edge cases, parameter errors, and the same result on 1 and 2 threads.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "prune/prune.h"
#include "base/safetensors.h"
#include "base/tensor.h"
#include "vtc.h"
#include "budget.h"

#define FIX "tests/fixtures/prune_merge/"

static const vtc_tensor_view *need(const vtc_st *st, const char *name) {
    const vtc_tensor_view *t = vtc_st_find(st, name);
    if (!t) fail_msg("fixture tensor %s missing", name);
    return t;
}

static void read_f32(const vtc_st *st, const char *name, float *dst, size_t n) {
    assert_int_equal(vtc_tensor_to_f32(need(st, name), dst, n), 0);
}

static void read_i32(const vtc_st *st, const char *name, int32_t *dst, size_t n) {
    const vtc_tensor_view *t = need(st, name);
    assert_int_equal(t->dtype, VTC_DT_I32);
    assert_int_equal((size_t)vtc_tensor_numel(t), n);
    memcpy(dst, t->data, n * sizeof(int32_t));
}

// Features of fixture set `set` (grid and CLS flag from the metadata).
static vtc_features *load_set(const vtc_st *in, const char *set) {
    char key[64];
    snprintf(key, sizeof key, "%s.grid", set);
    const char *grid = vtc_st_meta(in, key);
    snprintf(key, sizeof key, "%s.cls_is_received", set);
    const char *recv = vtc_st_meta(in, key);
    int T, H, W;
    if (!grid || !recv || sscanf(grid, "%d,%d,%d", &T, &H, &W) != 3) fail_msg("set %s: no grid metadata", set);
    snprintf(key, sizeof key, "%s/features", set);
    const int D = (int)need(in, key)->shape[1];
    snprintf(key, sizeof key, "%s/keys", set);
    const int hd = (int)need(in, key)->shape[1];
    snprintf(key, sizeof key, "%s/cls", set);
    const int has_cls = vtc_st_find(in, key) != NULL;
    vtc_features *f =
        vtc_features_new(T, H, W, D, hd, 0, VTC_F_FEATURES | VTC_F_KEYS | VTC_F_CLS_ATTN | (has_cls ? VTC_F_CLS : 0));
    assert_non_null(f);
    f->cls_is_received = atoi(recv);
    snprintf(key, sizeof key, "%s/features", set);
    read_f32(in, key, f->features, (size_t)f->n * D);
    snprintf(key, sizeof key, "%s/keys", set);
    read_f32(in, key, f->keys, (size_t)f->n * hd);
    snprintf(key, sizeof key, "%s/cls_attn", set);
    read_f32(in, key, f->cls_attn, (size_t)f->n);
    if (has_cls) {
        snprintf(key, sizeof key, "%s/cls", set);
        read_f32(in, key, f->cls, (size_t)T * D);
    }
    return f;
}

static vtc_tokens *run(const vtc_features *f, const char *method, double keep, const char *params) {
    struct vtc_prune_params p = vtc_prune_params_default();
    p.method = method;
    set_keep(&p, keep);
    p.params = params;
    vtc_tokens *t = NULL;
    int st = vtc_prune(NULL, f, p, &t);
    if (st) fail_msg("%s keep %g %s: %s", method, keep, params ? params : "", vtc_last_error());
    assert_int_equal(t->space, VTC_SPACE_FEATURES);
    assert_int_equal(t->dim, f->dim);
    return t;
}

static int expect_error(const vtc_features *f, const char *method, double keep, const char *params) {
    struct vtc_prune_params p = vtc_prune_params_default();
    p.method = method;
    set_keep(&p, keep);
    p.params = params;
    vtc_tokens *t = NULL;
    int st = vtc_prune(NULL, f, p, &t);
    assert_null(t);
    printf("  expected error (%s keep %g %s): %s\n", method, keep, params ? params : "", vtc_last_error());
    return st;
}

static void test_against_reference(void **state) {
    (void)state;
    vtc_st *in = NULL, *exp = NULL;
    assert_int_equal(vtc_st_open(FIX "inputs.safetensors", 1, &in), 0);
    assert_int_equal(vtc_st_open(FIX "expected.safetensors", 1, &exp), 0);
    const char *cases = vtc_st_meta(exp, "cases");
    assert_non_null(cases);
    int n_cases = 0, n_vz = 0, n_tome = 0;
    double worst = 0;
    for (const char *line = cases; *line;) {
        char name[64], method[32], set[32], params[128];
        int keep;
        if (sscanf(line, "%63s %31s %31s %d %127s", name, method, set, &keep, params) != 5)
            fail_msg("bad case line: %.60s", line);
        vtc_features *f = load_set(in, set);
        vtc_tokens *t = run(f, method, keep, strcmp(params, "-") ? params : NULL);
        char key[96];
        snprintf(key, sizeof key, "%s/index", name);
        const int k = (int)vtc_tensor_numel(need(exp, key));
        int32_t *index = malloc(sizeof(int32_t) * k), *pos = malloc(sizeof(int32_t) * 3 * k);
        float *weight = malloc(sizeof(float) * k), *tokens = malloc(sizeof(float) * (size_t)k * f->dim);
        read_i32(exp, key, index, (size_t)k);
        snprintf(key, sizeof key, "%s/pos", name);
        read_i32(exp, key, pos, (size_t)k * 3);
        snprintf(key, sizeof key, "%s/weight", name);
        read_f32(exp, key, weight, (size_t)k);
        snprintf(key, sizeof key, "%s/tokens", name);
        read_f32(exp, key, tokens, (size_t)k * f->dim);
        int same_index = 0, same_pos = 0, same_weight = 0;
        double diff = 0;
        if (t->n == k) {
            for (int i = 0; i < k; i++) {
                same_index += t->index[i] == index[i];
                same_pos += !memcmp(t->pos + 3 * i, pos + 3 * i, sizeof(int32_t) * 3);
                same_weight += t->weight[i] == weight[i];
            }
            for (size_t i = 0; i < (size_t)k * f->dim; i++) {
                double d = fabs((double)t->data[i] - tokens[i]);
                if (d > diff) diff = d;
            }
        }
        printf("  %-16s %-9s %-9s keep %3d: %3d tokens (ref %3d), index %3d/%d, pos %3d/%d, weight %3d/%d, "
               "max |diff| %.1e\n",
               name, method, set, keep, t->n, k, same_index, k, same_pos, k, same_weight, k, diff);
        assert_int_equal(t->n, k);
        assert_int_equal(same_index, k);
        assert_int_equal(same_pos, k);
        assert_int_equal(same_weight, k);
        assert_true(diff <= 1e-5);
        if (diff > worst) worst = diff;
        n_vz += !strcmp(method, "visionzip");
        n_tome += !strcmp(method, "tome");
        n_cases++;
        free(index); free(pos); free(weight); free(tokens);
        vtc_tokens_free(t);
        vtc_features_free(f);
        line = strchr(line, '\n');
        line = line ? line + 1 : "";
    }
    printf("  %d cases (%d visionzip, %d tome), max |diff| over all %.1e\n", n_cases, n_vz, n_tome, worst);
    assert_true(n_vz >= 20 && n_tome >= 13);
    vtc_st_close(exp);
    vtc_st_close(in);
}

static vtc_features *fixture_set(const char *set) {
    vtc_st *in = NULL;
    assert_int_equal(vtc_st_open(FIX "inputs.safetensors", 1, &in), 0);
    vtc_features *f = load_set(in, set);
    vtc_st_close(in);
    return f;
}

static double weight_sum(const vtc_tokens *t, int frame) {
    double s = 0;
    for (int i = 0; i < t->n; i++)
        if (frame < 0 || t->pos[3 * i] == frame) s += t->weight[i];
    return s;
}

// The CLS token: first, index -1, pos (t, -1, -1), f->cls unchanged, weight 1;
// the d-1 dominant patches are the top of cls_attn in raster order.
static void test_cls_token(void **state) {
    (void)state;
    vtc_features *f = fixture_set("img_rand");
    vtc_tokens *t = run(f, "visionzip", 64, NULL);
    printf("  note: %s\n", t->note);
    assert_int_equal(t->n, 64);
    assert_int_equal(t->index[0], -1);
    assert_int_equal(t->pos[0], 0);
    assert_int_equal(t->pos[1], -1);
    assert_int_equal(t->pos[2], -1);
    assert_true(t->weight[0] == 1.0f);
    assert_memory_equal(t->data, f->cls, sizeof(float) * f->dim);
    int32_t top[53];
    vtc_topk_indices(f->cls_attn, f->n, 53, top);
    for (int i = 0; i < 53; i++) {
        assert_int_equal(t->index[1 + i], top[i]);
        assert_memory_equal(t->data + (size_t)(1 + i) * f->dim, f->features + (size_t)top[i] * f->dim,
                            sizeof(float) * f->dim);
    }
    for (int i = 54; i < 64; i++) assert_true(t->index[i] >= 0 && t->weight[i] >= 1.0f);
    assert_non_null(strstr(t->note, "CLS + 53 dominant + 10 contextual"));
    // every patch is counted once, plus the CLS token
    assert_true(weight_sum(t, -1) == f->n + 1);
    vtc_tokens_free(t);
    // keep 1: the CLS token alone; keep 2: CLS + everything merged into the first patch
    t = run(f, "visionzip", 1, NULL);
    assert_int_equal(t->n, 1);
    assert_int_equal(t->index[0], -1);
    vtc_tokens_free(t);
    t = run(f, "visionzip", 2, NULL);
    assert_int_equal(t->n, 2);
    assert_int_equal(t->index[0], -1);
    assert_int_equal(t->index[1], 0);
    assert_true(t->weight[1] == (float)f->n);
    vtc_tokens_free(t);
    vtc_features_free(f);
}

// No CLS token: SigLIP (cls_attn = received attention) and CLIP features a host
// handed without the CLS row. d patches are dominant, nothing has index -1.
static void test_no_cls(void **state) {
    (void)state;
    vtc_features *f = fixture_set("sig");
    vtc_tokens *t = run(f, "visionzip", 64, NULL);
    printf("  SigLIP note: %s\n", t->note);
    assert_int_equal(t->n, 64);
    for (int i = 0; i < t->n; i++) assert_true(t->index[i] >= 0);
    assert_non_null(strstr(t->note, "54 dominant + 10 contextual"));
    assert_non_null(strstr(t->note, "attention each patch receives"));
    assert_true(weight_sum(t, -1) == f->n);
    vtc_tokens_free(t);
    vtc_features_free(f);

    f = fixture_set("img_rand");
    free(f->cls);
    f->cls = NULL;
    t = run(f, "visionzip", 64, NULL);
    printf("  no-CLS-row note: %s\n", t->note);
    assert_int_equal(t->n, 64);
    int32_t top[54];
    vtc_topk_indices(f->cls_attn, f->n, 54, top);
    for (int i = 0; i < 54; i++) assert_int_equal(t->index[i], top[i]);
    assert_non_null(strstr(t->note, "no CLS features"));
    vtc_tokens_free(t);
    vtc_features_free(f);
}

// Video: each frame zipped alone, K/T tokens each (the first K mod T one more),
// each frame starting with its own CLS token; tome merges over the whole clip.
static void test_video(void **state) {
    (void)state;
    vtc_features *f = fixture_set("vid");
    const int hw = f->H * f->W;
    vtc_tokens *t = run(f, "visionzip", 66, NULL);
    printf("  note: %s\n", t->note);
    assert_int_equal(t->n, 66);
    const int want[4] = { 17, 17, 16, 16 };
    int row = 0;
    for (int fr = 0; fr < 4; fr++) {
        assert_int_equal(t->index[row], -1);
        assert_int_equal(t->pos[3 * row], fr);
        assert_memory_equal(t->data + (size_t)row * f->dim, f->cls + (size_t)fr * f->dim, sizeof(float) * f->dim);
        for (int i = 1; i < want[fr]; i++) {
            int32_t g = t->index[row + i];
            assert_true(g >= fr * hw && g < (fr + 1) * hw);
            assert_int_equal(t->pos[3 * (row + i)], fr);
        }
        assert_true(weight_sum(t, fr) == hw + 1);
        row += want[fr];
    }
    vtc_tokens_free(t);
    // params are per frame; keep not given: T * (d + c)
    t = run(f, "visionzip", 0, "dominant=6,contextual=2");
    assert_int_equal(t->n, 32);
    vtc_tokens_free(t);
    // tome: one sequence across frames; the weighted token sum is conserved
    t = run(f, "tome", 40, NULL);
    assert_int_equal(t->n, 40);
    assert_true(weight_sum(t, -1) == f->n);
    for (int e = 0; e < f->dim; e++) {
        double a = 0, b = 0;
        for (int i = 0; i < f->n; i++) a += f->features[(size_t)i * f->dim + e];
        for (int i = 0; i < t->n; i++) b += (double)t->weight[i] * t->data[(size_t)i * f->dim + e];
        assert_true(fabs(a - b) < 1e-3);
    }
    vtc_tokens_free(t);
    vtc_features_free(f);
}

// keep = n, 1, 2 for both methods; the parameter and input errors.
static void test_edges_and_errors(void **state) {
    (void)state;
    vtc_features *f = fixture_set("img_clust");
    vtc_tokens *t = run(f, "tome", f->n, NULL); // nothing to merge: the input, in raster order
    assert_int_equal(t->n, f->n);
    for (int i = 0; i < f->n; i++) assert_true(t->index[i] == i && t->weight[i] == 1.0f);
    assert_memory_equal(t->data, f->features, sizeof(float) * f->n * f->dim);
    vtc_tokens_free(t);
    t = run(f, "tome", 0, NULL); // no budget given: same
    assert_int_equal(t->n, f->n);
    vtc_tokens_free(t);
    t = run(f, "tome", 1, NULL); // one token: the mean of everything
    assert_int_equal(t->n, 1);
    assert_true(t->weight[0] == (float)f->n);
    for (int e = 0; e < f->dim; e++) {
        double m = 0;
        for (int i = 0; i < f->n; i++) m += f->features[(size_t)i * f->dim + e];
        assert_true(fabs(m / f->n - t->data[e]) < 1e-5);
    }
    vtc_tokens_free(t);
    t = run(f, "tome", 2, NULL);
    assert_int_equal(t->n, 2);
    assert_true(t->weight[0] + t->weight[1] == (float)f->n);
    vtc_tokens_free(t);
    t = run(f, "visionzip", f->n, NULL); // keep = n: CLS + 485 + 90, one token merged
    assert_int_equal(t->n, f->n);
    assert_true(weight_sum(t, -1) == f->n + 1);
    vtc_tokens_free(t);
    t = run(f, "visionzip", 0.25, NULL); // a fraction: 144 = 121 + 23
    assert_int_equal(t->n, 144);
    assert_non_null(strstr(t->note, "CLS + 120 dominant + 23 contextual"));
    vtc_tokens_free(t);

    assert_int_equal(expect_error(f, "visionzip", 64, "dominant=60,contextual=10"), VTC_ERR_ARG);
    assert_int_equal(expect_error(f, "visionzip", 64, "dominant=65"), VTC_ERR_ARG);
    assert_int_equal(expect_error(f, "visionzip", 64, "contextual=64"), VTC_ERR_ARG); // no room for the CLS token
    assert_int_equal(expect_error(f, "visionzip", 0, "dominant=500,contextual=100"), VTC_ERR_ARG);
    assert_int_equal(expect_error(f, "visionzip", 64, "contextual=-1"), VTC_ERR_ARG);
    assert_int_equal(expect_error(f, "tome", 64, "metric=2"), VTC_ERR_ARG);
    assert_int_equal(expect_error(f, "tome", f->n + 1, NULL), VTC_ERR_NEEDS);
    // no keys: visionzip cannot run, tome matches on the features
    free(f->keys);
    f->keys = NULL;
    assert_int_equal(expect_error(f, "visionzip", 64, NULL), VTC_ERR_NEEDS);
    t = run(f, "tome", 64, NULL);
    printf("  tome without keys: %s\n", t->note);
    assert_non_null(strstr(t->note, "features (no keys)"));
    vtc_tokens *u = run(f, "tome", 64, "metric=1");
    assert_memory_equal(t->index, u->index, sizeof(int32_t) * 64);
    vtc_tokens_free(u);
    vtc_tokens_free(t);
    vtc_features_free(f);
}

// A larger clip (blocks of BLAS rows split across threads): the same tokens on 1 and 2 threads.
static void test_threads(void **state) {
    (void)state;
    vtc_features *f = vtc_features_new(6, 24, 24, 48, 16, 0, VTC_F_FEATURES | VTC_F_KEYS | VTC_F_CLS_ATTN | VTC_F_CLS);
    assert_non_null(f);
    uint64_t s = 7;
    for (size_t i = 0; i < (size_t)f->n * f->dim; i++) f->features[i] = (float)(vtc_splitmix64(&s) >> 40) / 16777216.0f - 0.5f;
    for (size_t i = 0; i < (size_t)f->n * f->head_dim; i++) f->keys[i] = (float)(vtc_splitmix64(&s) >> 40) / 16777216.0f - 0.5f;
    for (int i = 0; i < f->n; i++) f->cls_attn[i] = (float)(vtc_splitmix64(&s) >> 40) / 16777216.0f;
    for (size_t i = 0; i < (size_t)f->T * f->dim; i++) f->cls[i] = (float)(vtc_splitmix64(&s) >> 40) / 16777216.0f;
    const char *methods[] = { "visionzip", "tome" };
    for (int m = 0; m < 2; m++) {
        const struct vtc_method *meth = vtc_method_find(methods[m]);
        struct vtc_prune_params p = vtc_prune_params_default();
        p.method = methods[m];
        set_keep(&p, 300);
        vtc_tokens *a = NULL, *b = NULL;
        assert_int_equal(vtc_prune_run(meth, f, &p, 1, &a), 0);
        assert_int_equal(vtc_prune_run(meth, f, &p, 2, &b), 0);
        assert_int_equal(a->n, 300);
        assert_int_equal(b->n, 300);
        assert_memory_equal(a->index, b->index, sizeof(int32_t) * 300);
        assert_memory_equal(a->data, b->data, sizeof(float) * 300 * f->dim);
        assert_memory_equal(a->weight, b->weight, sizeof(float) * 300);
        printf("  %-9s %d tokens -> 300 on 1 and 2 threads: identical (%s)\n", methods[m], f->n, a->note);
        vtc_tokens_free(a);
        vtc_tokens_free(b);
    }
    vtc_features_free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_cls_token),
        cmocka_unit_test(test_no_cls),
        cmocka_unit_test(test_video),
        cmocka_unit_test(test_edges_and_errors),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests_name("prune_merge", tests, NULL, NULL);
}
