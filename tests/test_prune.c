// The spatial methods against tools/ref_prune.py (PyTorch written to the
// official FasterVLM / VisionZip / DivPrune / ToDRE / ToMe behaviour) on random
// and clustered features: kept index sets exactly equal, merged tokens and
// weights within 1e-5 (relative to the largest value).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "safetensors.h"
#include "tensor.h"
#include "vtc.h"

static const vtc_tensor_view *need(const vtc_st *st, const char *name) {
    const vtc_tensor_view *t = vtc_st_find(st, name);
    if (!t) fail_msg("expected tensor %s missing", name);
    return t;
}

static void check_case(const char *set, const vtc_features *f, const vtc_st *exp, const char *method, int keep,
                       int merged) {
    char name[64];
    snprintf(name, sizeof name, "%s_%d", method, keep);
    const vtc_tensor_view *ti = need(exp, name);
    int64_t k = vtc_tensor_numel(ti);
    int32_t *want = malloc(sizeof(int32_t) * k);
    memcpy(want, ti->data, sizeof(int32_t) * k);
    struct vtc_prune_params p = vtc_prune_params_default();
    p.method = method;
    p.keep = keep;
    vtc_tokens *t = NULL;
    if (vtc_prune(NULL, NULL, f, p, &t)) fail_msg("%s %s: %s", set, name, vtc_last_error());
    assert_int_equal(t->n, k);
    int same = 0;
    for (int i = 0; i < k; i++) same += t->index[i] == want[i];
    double err = 0;
    if (merged) {
        snprintf(name, sizeof name, "%s_%d.tokens", method, keep);
        const vtc_tensor_view *tt = need(exp, name);
        float *ref = malloc(sizeof(float) * k * f->dim);
        vtc_tensor_to_f32(tt, ref, (size_t)k * f->dim);
        double mx = 0;
        for (int64_t i = 0; i < k * f->dim; i++) {
            if (fabs(ref[i]) > mx) mx = fabs(ref[i]);
            double d = fabs((double)t->data[i] - ref[i]);
            if (d > err) err = d;
        }
        err /= mx;
        snprintf(name, sizeof name, "%s_%d.weight", method, keep);
        float *w = malloc(sizeof(float) * k);
        vtc_tensor_to_f32(need(exp, name), w, (size_t)k);
        for (int i = 0; i < k; i++) assert_true(fabsf(w[i] - t->weight[i]) < 1e-6f);
        free(w);
        free(ref);
    }
    printf("  %-9s %-10s keep %3d: %d/%lld indices equal%s", set, method, keep, same, (long long)k,
           merged ? "" : "\n");
    if (merged) printf(", tokens rel err %.1e\n", err);
    assert_int_equal(same, k);
    assert_true(err <= 1e-5);
    vtc_tokens_free(t);
    free(want);
}

static void test_against_reference(void **state) {
    (void)state;
    const char *sets[] = { "random", "clusters" };
    for (int s = 0; s < 2; s++) {
        char path[256];
        snprintf(path, sizeof path, "tests/fixtures/prune/%s.features.safetensors", sets[s]);
        vtc_features *f = NULL;
        assert_int_equal(vtc_features_load(path, &f), 0);
        snprintf(path, sizeof path, "tests/fixtures/prune/%s.expected.safetensors", sets[s]);
        vtc_st *exp = NULL;
        assert_int_equal(vtc_st_open(path, 1, &exp), 0);
        const int keeps[] = { 64, 128, 192, 58 };
        for (int i = 0; i < 4; i++) {
            check_case(sets[s], f, exp, "cls", keeps[i], 0);
            check_case(sets[s], f, exp, "divprune", keeps[i], 0);
            check_case(sets[s], f, exp, "todre", keeps[i], 0);
        }
        for (int i = 0; i < 3; i++) check_case(sets[s], f, exp, "visionzip", keeps[i], 1);
        check_case(sets[s], f, exp, "tome", 64, 1);
        check_case(sets[s], f, exp, "tome", 200, 1);
        vtc_st_close(exp);
        vtc_features_free(f);
    }
}

// Invariants of every method: count, weights covering the
// input for merging methods, positions matching indices.
static void test_invariants(void **state) {
    (void)state;
    vtc_features *f = NULL;
    assert_int_equal(vtc_features_load("tests/fixtures/prune/clusters.features.safetensors", &f), 0);
    for (int m = 0; m < vtc_method_count(); m++) {
        struct vtc_prune_params p = vtc_prune_params_default();
        p.method = vtc_method_name(m);
        p.keep = strcmp(p.method, "dycoke") ? 100 : 0; // dycoke's budget comes from k (one frame: all kept)
        vtc_tokens *t = NULL;
        if (vtc_prune(NULL, NULL, f, p, &t)) fail_msg("%s: %s", p.method, vtc_last_error());
        assert_true(t->n >= 1 && t->n <= f->n);
        double wsum = 0;
        for (int i = 0; i < t->n; i++) {
            wsum += t->weight[i];
            if (t->index[i] >= 0) {
                int32_t i0 = t->index[i];
                assert_int_equal(t->pos[3 * i], i0 / (f->H * f->W));
                assert_int_equal(t->pos[3 * i + 1], (i0 % (f->H * f->W)) / f->W);
                assert_int_equal(t->pos[3 * i + 2], i0 % f->W);
            }
        }
        printf("  %-10s kept %3d, weights sum %.0f\n", p.method, t->n, wsum);
        assert_true(wsum <= f->n + 1.5); // + the CLS token (visionzip)
        vtc_tokens_free(t);
    }
    vtc_features_free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_invariants),
    };
    return cmocka_run_group_tests_name("prune", tests, NULL, NULL);
}
