// divprune, todre and pool against tools/ref_prune_div.py (PyTorch written to
// the official DivPrune loop, ToDRE's rule without a CLS token (docs/methods.md) and LLaVA-NeXT / OneVision's
// pooling) on exact inputs (int8 codes / 64): random, clustered-with-duplicates
// and exactly-tied sets at N = 64..576, D = 16..64, a 4-frame video and
// SigLIP's 27 x 27 grid. Kept index sets exactly equal (DivPrune at 64, 128,
// 192 and 10 %), pooled tokens within 1e-5, weights and positions equal; the
// same from 1 and 2 threads and through the public vtc_prune. Then the cost
// structure — BLAS multiply-adds counted by interposing cblas_sgemm/sgemv: the
// similarity pass is the upper triangle, and every later pick costs one row
// (O(k N D) in all, never O(k^2 N)) — on exactly representable palettes
// against a plain C reference, with and without the cached matrix; the
// fallbacks (no embeddings, no CLS, no attention, zero and non-finite rows)
// and the errors.
#include <dlfcn.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <cmocka.h>

#include "prune/prune.h"
#include "base/safetensors.h"
#include "base/tensor.h"
#include "vtc.h"
#include "budget.h"

// ---------------------------------------------------------------- BLAS accounting

static atomic_llong gemm_macs, gemv_macs;
// OpenBLAS's own entry points, looked up once in main before any test runs.
static void (*real_sgemm)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint, blasint, blasint,
                          float, const float *, blasint, const float *, blasint, float, float *, blasint);
static void (*real_sgemv)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, blasint, blasint, float, const float *, blasint,
                          const float *, blasint, float, float *, blasint);

void cblas_sgemm(OPENBLAS_CONST enum CBLAS_ORDER order, OPENBLAS_CONST enum CBLAS_TRANSPOSE ta,
                 OPENBLAS_CONST enum CBLAS_TRANSPOSE tb, OPENBLAS_CONST blasint m, OPENBLAS_CONST blasint n,
                 OPENBLAS_CONST blasint k, OPENBLAS_CONST float alpha, OPENBLAS_CONST float *a, OPENBLAS_CONST blasint lda,
                 OPENBLAS_CONST float *b, OPENBLAS_CONST blasint ldb, OPENBLAS_CONST float beta, float *c,
                 OPENBLAS_CONST blasint ldc) {
    atomic_fetch_add(&gemm_macs, (long long)m * n * k);
    real_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void cblas_sgemv(OPENBLAS_CONST enum CBLAS_ORDER order, OPENBLAS_CONST enum CBLAS_TRANSPOSE trans,
                 OPENBLAS_CONST blasint m, OPENBLAS_CONST blasint n, OPENBLAS_CONST float alpha, OPENBLAS_CONST float *a,
                 OPENBLAS_CONST blasint lda, OPENBLAS_CONST float *x, OPENBLAS_CONST blasint incx,
                 OPENBLAS_CONST float beta, float *y, OPENBLAS_CONST blasint incy) {
    atomic_fetch_add(&gemv_macs, (long long)m * n);
    real_sgemv(order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy);
}

static void reset_macs(void) {
    atomic_store(&gemm_macs, 0);
    atomic_store(&gemv_macs, 0);
}

// ---------------------------------------------------------------- running methods

static int run(const char *method, const vtc_features *f, double keep, uint64_t seed, const char *params,
               int n_threads, vtc_tokens **out) {
    const struct vtc_method *m = vtc_method_find(method);
    if (!m) return VTC_ERR_ARG;
    struct vtc_prune_params p = vtc_prune_params_default();
    p.method = method;
    set_keep(&p, keep);
    p.seed = seed;
    p.params = params;
    return vtc_prune_run(m, f, &p, n_threads, out);
}

static int equal_index(const vtc_tokens *a, const vtc_tokens *b) {
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++)
        if (a->index[i] != b->index[i]) return 0;
    return 1;
}

// Every token's pos is its index's (t, y, x), and the output is a valid set.
static void check_positions(const vtc_features *f, const vtc_tokens *t) {
    for (int i = 0; i < t->n; i++) {
        int32_t p[3];
        assert_true(t->index[i] >= 0 && t->index[i] < f->n);
        vtc_grid_pos(f, t->index[i], p);
        assert_memory_equal(p, t->pos + 3 * i, sizeof p);
    }
}

// ---------------------------------------------------------------- the reference fixtures

static const vtc_tensor_view *need(const vtc_st *st, const char *name) {
    const vtc_tensor_view *t = vtc_st_find(st, name);
    if (!t) fail_msg("expected tensor %s missing", name);
    return t;
}

// int8 codes / 64 -> float rows (exact)
static void codes_to_f32(const vtc_tensor_view *t, float *dst, int64_t n) {
    assert_int_equal(t->dtype, VTC_DT_I8);
    assert_int_equal(vtc_tensor_numel(t), n);
    for (int64_t i = 0; i < n; i++) dst[i] = (float)(int8_t)t->data[i] / 64.0f;
}

// The set's inputs as vtc_features, with one variant applied.
static vtc_features *load_features(const vtc_st *st, const char *variant) {
    int T, H, W;
    assert_int_equal(sscanf(vtc_st_meta(st, "grid"), "%d,%d,%d", &T, &H, &W), 3);
    const vtc_tensor_view *feat = need(st, "features"), *emb = need(st, "embeds");
    const vtc_tensor_view *a = vtc_st_find(st, "cls_attn"), *al = vtc_st_find(st, "cls_attn_last");
    unsigned fields = VTC_F_FEATURES | VTC_F_EMBEDS | (a ? VTC_F_CLS_ATTN : 0) | (al ? VTC_F_CLS_ATTN_LAST : 0);
    vtc_features *f = vtc_features_new(T, H, W, (int32_t)feat->shape[1], 0, (int32_t)emb->shape[1], fields);
    assert_non_null(f);
    codes_to_f32(feat, f->features, (int64_t)f->n * f->dim);
    codes_to_f32(emb, f->embeds, (int64_t)f->n * f->lm_dim);
    if (a) assert_int_equal(vtc_tensor_to_f32(a, f->cls_attn, (size_t)f->n), 0);
    if (al) assert_int_equal(vtc_tensor_to_f32(al, f->cls_attn_last, (size_t)f->n), 0);
    if (!strcmp(variant, "noembeds")) {
        free(f->embeds);
        f->embeds = NULL;
    } else if (!strcmp(variant, "nolast")) {
        free(f->cls_attn_last);
        f->cls_attn_last = NULL;
    } else if (!strcmp(variant, "nocls")) {
        f->cls_is_received = 1;
    } else if (!strcmp(variant, "noattn")) {
        free(f->cls_attn);
        free(f->cls_attn_last);
        f->cls_attn = f->cls_attn_last = NULL;
    } else {
        assert_string_equal(variant, "full");
    }
    return f;
}

struct tally {
    int cases;
    double token_err, weight_err;
};

// One line of a set's "cases": name method keep seed params variant check.
static void check_case(const char *set, const vtc_st *st, const char *line, struct tally *tl) {
    char name[64], method[32], params[64], variant[16], check[16];
    double keep;
    unsigned long long seed;
    if (sscanf(line, "%63s %31s %lf %llu %63s %15s %15s", name, method, &keep, &seed, params, variant, check) != 7)
        fail_msg("%s: bad case line '%s'", set, line);
    const char *pp = strcmp(params, "-") ? params : NULL;
    vtc_features *f = load_features(st, variant);
    vtc_tokens *t = NULL, *t1 = NULL;
    if (run(method, f, keep, seed, pp, 2, &t)) fail_msg("%s %s: %s", set, name, vtc_last_error());
    const vtc_tensor_view *want = need(st, name);
    const int64_t k = vtc_tensor_numel(want);
    if (t->n != k) fail_msg("%s %s: %d tokens, the reference keeps %lld", set, name, t->n, (long long)k);
    int same = 0;
    for (int64_t i = 0; i < k; i++) {
        int32_t w;
        memcpy(&w, want->data + 4 * i, 4);
        same += t->index[i] == w;
    }
    if (same != k) fail_msg("%s %s: %lld of %lld indices differ", set, name, (long long)(k - same), (long long)k);
    check_positions(f, t);
    assert_int_equal(t->space, f->embeds ? VTC_SPACE_EMBEDS : VTC_SPACE_FEATURES);
    assert_int_equal(t->dim, f->embeds ? f->lm_dim : f->dim);
    char key[96];
    if (strcmp(check, "index")) {
        float *w = malloc(sizeof(float) * (size_t)k);
        snprintf(key, sizeof key, "%s.weight", name);
        assert_int_equal(vtc_tensor_to_f32(need(st, key), w, (size_t)k), 0);
        for (int64_t i = 0; i < k; i++) {
            double e = fabs((double)w[i] - t->weight[i]) / fmax(1.0, w[i]);
            if (e > 1e-6) fail_msg("%s %s: weight %lld is %g, the reference says %g", set, name, (long long)i,
                                   t->weight[i], w[i]);
            tl->weight_err = fmax(tl->weight_err, e);
        }
        free(w);
    } else {
        for (int i = 0; i < t->n; i++) assert_true(t->weight[i] == 1.0f);
    }
    if (!strcmp(check, "tokens")) {
        snprintf(key, sizeof key, "%s.tokens", name);
        const vtc_tensor_view *tt = need(st, key);
        assert_int_equal(vtc_tensor_numel(tt), k * t->dim);
        float *ref = malloc(sizeof(float) * (size_t)(k * t->dim));
        assert_int_equal(vtc_tensor_to_f32(tt, ref, (size_t)(k * t->dim)), 0);
        double err = 0;
        for (int64_t i = 0; i < k * t->dim; i++) err = fmax(err, fabs((double)t->data[i] - ref[i]));
        if (err > 1e-5) fail_msg("%s %s: pooled tokens differ by %.2e", set, name, err);
        tl->token_err = fmax(tl->token_err, err);
        free(ref);
    } else if (strcmp(method, "pool")) { // a selection: each token is its source row
        const float *rows = f->embeds ? f->embeds : f->features;
        for (int i = 0; i < t->n; i++)
            assert_memory_equal(t->data + (size_t)i * t->dim, rows + (size_t)t->index[i] * t->dim,
                                sizeof(float) * t->dim);
    }
    // the same from one thread
    assert_int_equal(run(method, f, keep, seed, pp, 1, &t1), 0);
    if (!equal_index(t, t1)) fail_msg("%s %s: 1 and 2 threads disagree", set, name);
    printf("  %-9s %-22s %-8s keep %5g %-12s %-8s: %lld/%lld equal%s%s\n", set, name, method, keep,
           pp ? pp : "", variant, (long long)same, (long long)k, t->note[0] ? "; " : "", t->note);
    vtc_tokens_free(t1);
    vtc_tokens_free(t);
    vtc_features_free(f);
    tl->cases++;
}

static void test_against_reference(void **state) {
    (void)state;
    const char *sets[] = { "rand576", "clust576", "rand196", "ties64", "video4", "grid27" };
    struct tally tl = { 0, 0, 0 };
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
        char path[256];
        snprintf(path, sizeof path, "tests/fixtures/prune_div/%s.safetensors", sets[s]);
        vtc_st *st = NULL;
        if (vtc_st_open(path, 1, &st)) fail_msg("%s", vtc_last_error());
        const char *cases = vtc_st_meta(st, "cases");
        assert_non_null(cases);
        for (const char *line = cases; *line;) {
            const char *end = strchr(line, '\n');
            size_t len = end ? (size_t)(end - line) : strlen(line);
            char buf[256];
            assert_true(len < sizeof buf);
            memcpy(buf, line, len);
            buf[len] = '\0';
            check_case(sets[s], st, buf, &tl);
            line += len + (end != NULL);
        }
        vtc_st_close(st);
    }
    printf("  %d reference cases: indices equal; max pooled-token diff %.2e, max weight diff %.2e\n", tl.cases,
           tl.token_err, tl.weight_err);
    assert_true(tl.cases >= 43);
}

// The public API gives the same tokens (no model: they stay in the method's space).
static void test_public_api(void **state) {
    (void)state;
    vtc_st *st = NULL;
    assert_int_equal(vtc_st_open("tests/fixtures/prune_div/rand576.safetensors", 1, &st), 0);
    vtc_features *f = load_features(st, "full");
    const char *methods[] = { "divprune", "todre", "pool" };
    for (int m = 0; m < 3; m++) {
        vtc_tokens *a = NULL, *b = NULL;
        struct vtc_prune_params p = vtc_prune_params_default();
        p.method = methods[m];
        set_keep(&p, 64);
        assert_int_equal(vtc_prune(NULL, f, p, &a), 0);
        assert_int_equal(run(methods[m], f, 64, 0, NULL, 2, &b), 0);
        assert_true(equal_index(a, b));
        assert_int_equal(a->space, VTC_SPACE_EMBEDS);
        assert_memory_equal(a->data, b->data, sizeof(float) * (size_t)a->n * a->dim);
        assert_string_equal(a->method, methods[m]);
        assert_int_equal(a->n_input, 576);
        vtc_tokens_free(a);
        vtc_tokens_free(b);
    }
    vtc_features_free(f);
    vtc_st_close(st);
}

// ---------------------------------------------------------------- exact palettes, plain references

static uint64_t rng_state;
static uint32_t draw(uint32_t n) { return (uint32_t)(vtc_splitmix64(&rng_state) % n); }

// Rows of norm 1 whose dot products are exact in float: one-hots (+-1) and
// rows of four +-1/2, drawn with many duplicates. Width d >= 4.
static vtc_features *palette_features(int32_t T, int32_t H, int32_t W, int32_t d, uint64_t seed) {
    vtc_features *f = vtc_features_new(T, H, W, d, 0, 0, VTC_F_FEATURES);
    assert_non_null(f);
    rng_state = seed;
    for (int32_t i = 0; i < f->n; i++) {
        float *r = f->features + (size_t)i * d;
        if (draw(4) == 0) {
            r[draw((uint32_t)d)] = draw(2) ? 1.0f : -1.0f;
        } else {
            for (int placed = 0; placed < 4;) {
                uint32_t c = draw((uint32_t)d);
                if (r[c] == 0) r[c] = draw(2) ? 0.5f : -0.5f, placed++;
            }
        }
    }
    return f;
}

// DivPrune as its definition reads, in double: nearest neighbour first, then
// the largest minimum distance to the chosen set (first on ties).
static void naive_divprune(const float *x, int32_t n, int32_t d, int32_t k, int32_t *idx) {
    double *mind = malloc(sizeof(double) * (size_t)n);
    char *taken = calloc((size_t)n, 1);
    int32_t pick = 0;
    double best = -1;
    for (int32_t i = 0; i < n; i++) {
        double nn = INFINITY;
        for (int32_t j = 0; j < n; j++) {
            if (j == i) continue;
            double s = 0;
            for (int32_t e = 0; e < d; e++) s += (double)x[(size_t)i * d + e] * x[(size_t)j * d + e];
            nn = fmin(nn, 1 - s);
        }
        if (nn > best) best = nn, pick = i;
        mind[i] = INFINITY;
    }
    for (int32_t c = 0; c < k; c++) {
        idx[c] = pick;
        taken[pick] = 1;
        int32_t next = -1;
        for (int32_t j = 0; j < n; j++) {
            double s = 0;
            for (int32_t e = 0; e < d; e++) s += (double)x[(size_t)pick * d + e] * x[(size_t)j * d + e];
            mind[j] = fmin(mind[j], 1 - s);
            if (!taken[j] && (next < 0 || mind[j] > mind[next])) next = j;
        }
        pick = next;
    }
    vtc_sort_i32(idx, k);
    free(mind);
    free(taken);
}

// ToDRE stage 1 from a given pivot, in double.
static void naive_todre(const float *x, int32_t n, int32_t d, int32_t k, int32_t pivot, int32_t *idx) {
    double *s = calloc((size_t)n, sizeof(double));
    char *taken = calloc((size_t)n, 1);
    for (int32_t c = 0, pick = pivot; c < k; c++) {
        idx[c] = pick;
        taken[pick] = 1;
        int32_t next = -1;
        for (int32_t j = 0; j < n; j++) {
            double dot = 0;
            for (int32_t e = 0; e < d; e++) dot += (double)x[(size_t)pick * d + e] * x[(size_t)j * d + e];
            s[j] += dot;
            if (!taken[j] && (next < 0 || s[j] < s[next])) next = j;
        }
        pick = next;
    }
    vtc_sort_i32(idx, k);
    free(s);
    free(taken);
}

// Upper bound on the multiply-adds of the tiled upper triangle (256-wide tiles).
static long long triangle_macs(long long n, long long d) { return (n * n + n * 256) / 2 * d; }

static void expect_same(const vtc_tokens *t, const int32_t *ref, int32_t k, const char *what) {
    assert_int_equal(t->n, k);
    for (int32_t i = 0; i < k; i++)
        if (t->index[i] != ref[i]) fail_msg("%s: kept index %d is %d, the plain reference says %d", what, i,
                                            t->index[i], ref[i]);
}

// DivPrune's cost: the similarity pass reads the upper triangle once; a later
// pick reads a cached row (no BLAS) or computes exactly one row, N D.
static void test_divprune_cost(void **state) {
    (void)state;
    struct { int32_t T, H, W, d, k; int cached; } cases[] = {
        { 1, 30, 40, 8, 150, 1 },  // N = 1200: the matrix is kept
        { 2, 60, 60, 8, 64, 0 },   // N = 7200: 207 MB > the 192 MB cache, one sgemv row per pick
    };
    for (int c = 0; c < 2; c++) {
        vtc_features *f = palette_features(cases[c].T, cases[c].H, cases[c].W, cases[c].d, 42 + c);
        const long long n = f->n, d = f->dim, k = cases[c].k;
        int32_t *ref = malloc(sizeof(int32_t) * (size_t)k);
        naive_divprune(f->features, f->n, f->dim, (int32_t)k, ref);
        vtc_tokens *t = NULL;
        reset_macs();
        assert_int_equal(run("divprune", f, (double)k, 0, NULL, 2, &t), 0);
        long long mm = atomic_load(&gemm_macs), mv = atomic_load(&gemv_macs);
        printf("  divprune N=%lld D=%lld k=%lld: sgemm %lld MACs (N^2 D = %lld), sgemv %lld MACs ((k-1) N D = %lld)\n",
               n, d, k, mm, n * n * d, mv, (k - 1) * n * d);
        expect_same(t, ref, (int32_t)k, "divprune");
        assert_true(mm <= triangle_macs(n, d));
        assert_true(mv == (cases[c].cached ? 0 : (k - 1) * n * d));
        vtc_tokens_free(t);
        free(ref);
        vtc_features_free(f);
    }
}

// ToDRE's cost: one row per pick — by sgemv for small k, read from the stored
// upper triangle (made once) otherwise.
static void test_todre_cost(void **state) {
    (void)state;
    vtc_features *f = palette_features(1, 40, 40, 8, 7);
    f->cls_attn = calloc((size_t)f->n, sizeof(float));
    f->cls_attn[777] = 1.0f; // the pivot
    const long long n = f->n, d = f->dim;
    const int32_t ks[] = { 40, 400 };
    for (int c = 0; c < 2; c++) {
        int32_t k = ks[c], *ref = malloc(sizeof(int32_t) * (size_t)k);
        naive_todre(f->features, f->n, f->dim, k, 777, ref);
        vtc_tokens *t = NULL;
        reset_macs();
        assert_int_equal(run("todre", f, k, 0, NULL, 2, &t), 0);
        long long mm = atomic_load(&gemm_macs), mv = atomic_load(&gemv_macs);
        printf("  todre N=%lld D=%lld k=%d: sgemm %lld MACs, sgemv %lld MACs ((k-1) N D = %lld)\n", n, d, k, mm, mv,
               (k - 1) * n * d);
        expect_same(t, ref, k, "todre");
        if (mm) assert_true(mv == 0 && mm <= triangle_macs(n, d)); // the triangle, then rows read from it
        else assert_true(mv == (k - 1) * n * d);                    // one sgemv row per pick
        vtc_tokens_free(t);
        free(ref);
    }
    vtc_features_free(f);
}

// ---------------------------------------------------------------- edges, fallbacks, errors

static void test_edges(void **state) {
    (void)state;
    vtc_tokens *t = NULL;
    vtc_features *f = palette_features(4, 5, 6, 8, 3); // 4 frames of 5 x 6
    // keep everything, keep one
    assert_int_equal(run("divprune", f, 120, 0, NULL, 2, &t), 0);
    for (int i = 0; i < 120; i++) assert_int_equal(t->index[i], i);
    vtc_tokens_free(t);
    int32_t one;
    naive_divprune(f->features, f->n, f->dim, 1, &one);
    assert_int_equal(run("divprune", f, 1, 0, NULL, 2, &t), 0);
    assert_int_equal(t->n, 1);
    assert_int_equal(t->index[0], one);
    vtc_tokens_free(t);
    assert_int_equal(run("todre", f, 120, 0, NULL, 2, &t), 0);
    for (int i = 0; i < 120; i++) assert_int_equal(t->index[i], i);
    vtc_tokens_free(t);
    // per frame: k / T each, the first k mod T frames one more; k < T leaves frames empty
    assert_int_equal(run("divprune", f, 10, 0, "per_frame=1", 2, &t), 0);
    int per[4] = { 0 };
    for (int i = 0; i < t->n; i++) per[t->index[i] / 30]++;
    assert_true(per[0] == 3 && per[1] == 3 && per[2] == 2 && per[3] == 2);
    for (int fr = 0; fr < 4; fr++) { // each frame's choice is DivPrune within the frame
        int32_t ref[3];
        naive_divprune(f->features + (size_t)fr * 30 * 8, 30, 8, per[fr], ref);
        for (int i = 0; i < per[fr]; i++) assert_int_equal(t->index[(fr < 2 ? fr * 3 : 6 + (fr - 2) * 2) + i],
                                                           ref[i] + fr * 30);
    }
    assert_non_null(strstr(t->note, "first 2 frames"));
    vtc_tokens_free(t);
    assert_int_equal(run("divprune", f, 2, 0, "per_frame=1", 2, &t), 0);
    assert_true(t->n == 2 && t->index[0] < 30 && t->index[1] >= 30 && t->index[1] < 60);
    vtc_tokens_free(t);
    // a zero row counts as orthogonal to everything: on unit rows it is the most isolated
    memset(f->features + 17 * 8, 0, sizeof(float) * 8);
    assert_int_equal(run("divprune", f, 1, 0, NULL, 2, &t), 0);
    assert_int_equal(t->index[0], 17);
    vtc_tokens_free(t);
    // non-finite rows: k distinct indices, no crash
    f->features[5] = NAN;
    f->features[40 * 8] = INFINITY;
    const char *methods[] = { "divprune", "todre", "pool" };
    for (int m = 0; m < 3; m++) {
        assert_int_equal(run(methods[m], f, 16, 1, NULL, 2, &t), 0);
        for (int i = 1; i < t->n; i++) assert_true(t->index[i] > t->index[i - 1]);
        check_positions(f, t);
        vtc_tokens_free(t);
    }
    vtc_features_free(f);
    // a single token
    f = palette_features(1, 1, 1, 4, 9);
    for (int m = 0; m < 3; m++) {
        assert_int_equal(run(methods[m], f, 1, 0, NULL, 2, &t), 0);
        assert_true(t->n == 1 && t->index[0] == 0 && t->weight[0] == 1.0f);
        vtc_tokens_free(t);
    }
    vtc_features_free(f);
}

static void test_fallbacks(void **state) {
    (void)state;
    vtc_tokens *t = NULL;
    vtc_features *f = palette_features(1, 12, 12, 8, 5);
    // no embeddings: the features, in feature space
    assert_int_equal(run("divprune", f, 10, 0, NULL, 1, &t), 0);
    assert_int_equal(t->space, VTC_SPACE_FEATURES);
    assert_int_equal(t->dim, 8);
    vtc_tokens_free(t);
    // no attention at all: todre's seeded pivot, named in the note and kept
    uint64_t s = 99;
    int32_t pivot = (int32_t)(vtc_splitmix64(&s) % 144);
    int32_t ref[10];
    naive_todre(f->features, 144, 8, 10, pivot, ref);
    assert_int_equal(run("todre", f, 10, 99, NULL, 1, &t), 0);
    expect_same(t, ref, 10, "todre seeded pivot");
    assert_non_null(strstr(t->note, "random pivot"));
    char want[32];
    snprintf(want, sizeof want, "token %d of 144", pivot);
    assert_non_null(strstr(t->note, want));
    vtc_tokens_free(t);
    // SigLIP (received attention, no CLS): the seeded pivot too, not the attention's argmax
    f->cls_attn = calloc(144, sizeof(float));
    f->cls_attn[(pivot + 1) % 144] = 1.0f;
    f->cls_is_received = 1;
    assert_int_equal(run("todre", f, 10, 99, NULL, 1, &t), 0);
    expect_same(t, ref, 10, "todre without CLS");
    assert_non_null(strstr(t->note, "no CLS token"));
    vtc_tokens_free(t);
    // with a CLS token: the attention's argmax is kept, and there is no note
    f->cls_is_received = 0;
    assert_int_equal(run("todre", f, 10, 99, NULL, 1, &t), 0);
    naive_todre(f->features, 144, 8, 10, (pivot + 1) % 144, ref);
    expect_same(t, ref, 10, "todre with CLS");
    assert_string_equal(t->note, "");
    vtc_tokens_free(t);
    vtc_features_free(f);
}

static void test_pool_layout(void **state) {
    (void)state;
    vtc_tokens *t = NULL;
    vtc_features *f = palette_features(3, 7, 9, 4, 11);
    for (int mode = 0; mode < 3; mode++)
        for (int s = 1; s <= 4; s++) {
            char p[32];
            snprintf(p, sizeof p, "size=%d,mode=%d", s, mode);
            assert_int_equal(run("pool", f, 0, 0, p, 1, &t), 0);
            int32_t Ho = mode == 2 ? 7 / s : (7 + s - 1) / s, Wo = mode == 2 ? 9 / s : (9 + s - 1) / s;
            assert_int_equal(t->n, 3 * Ho * Wo);
            double wsum = 0;
            for (int i = 0; i < t->n; i++) wsum += t->weight[i];
            if (mode != 2) assert_true(fabs(wsum - 3 * 7 * 9) < 1e-3);
            else assert_true(fabs(wsum - 3 * Ho * s * Wo * s) < 1e-3);
            check_positions(f, t);
            if (mode != 1) // the window's top-left token
                for (int i = 0; i < t->n; i++) {
                    int32_t q = i % (Ho * Wo);
                    assert_int_equal(t->pos[3 * i + 1], q / Wo * s);
                    assert_int_equal(t->pos[3 * i + 2], q % Wo * s);
                }
            vtc_tokens_free(t);
        }
    // --keep picks the factor: the smallest s with T ceil(7/s) ceil(9/s) <= keep
    const struct { double keep; int n; } budget[] = { { 189, 189 }, { 60, 60 }, { 59, 27 }, { 27, 27 }, { 26, 18 },
                                                      { 12, 12 }, { 11, 6 }, { 3, 3 }, { 2, 3 } };
    for (int b = 0; b < 9; b++) {
        assert_int_equal(run("pool", f, budget[b].keep, 0, NULL, 1, &t), 0);
        assert_int_equal(t->n, budget[b].n);
        assert_true((t->n > budget[b].keep) == (strstr(t->note, "no coarser grid") != NULL));
        vtc_tokens_free(t);
    }
    // without --keep: size 2; an explicit size wins over --keep
    assert_int_equal(run("pool", f, 0, 0, NULL, 1, &t), 0);
    assert_int_equal(t->n, 3 * 4 * 5);
    vtc_tokens_free(t);
    assert_int_equal(run("pool", f, 5, 0, "size=1", 1, &t), 0);
    assert_int_equal(t->n, 189);
    assert_null(strstr(t->note, "no coarser grid")); // the caller's size, not a budget missed
    vtc_tokens_free(t);
    vtc_features_free(f);
}

static void test_errors(void **state) {
    (void)state;
    vtc_tokens *t = (vtc_tokens *)&t; // must come back NULL
    vtc_features *f = palette_features(1, 6, 6, 4, 1);
    // bad arguments (VTC_ERR_ARG), and budgets these 36 tokens cannot meet (VTC_ERR_NEEDS)
    const int A = VTC_ERR_ARG, N = VTC_ERR_NEEDS;
    const struct { const char *method, *params; double keep; int status; } bad[] = {
        { "divprune", "per_frame=2", 4, A }, { "divprune", "per_frame=0.5", 4, A }, { "divprune", "frames=1", 4, A },
        { "divprune", NULL, 37, N },         { "divprune", NULL, 1.5, A },          { "divprune", NULL, -1, A },
        { "todre", "per_frame=1", 4, A },    { "todre", NULL, 40, N },              { "pool", "size=65", 0, A },
        { "pool", "size=7,mode=2", 0, N },   { "pool", "mode=3", 0, A },            { "pool", "size=2,size=3", 0, A },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = run(bad[i].method, f, bad[i].keep, 0, bad[i].params, 1, &t);
        if (st != bad[i].status)
            fail_msg("%s %s keep %g: status %d, want %d", bad[i].method, bad[i].params, bad[i].keep, st, bad[i].status);
        assert_null(t);
        assert_true(strlen(vtc_last_error()) > 0);
    }
    struct vtc_prune_params p = vtc_prune_params_default();
    p.method = "divprune";
    assert_int_equal(vtc_prune(NULL, NULL, p, &t), VTC_ERR_ARG);
    vtc_features_free(f);
}

int main(void) {
    *(void **)&real_sgemm = dlsym(RTLD_NEXT, "cblas_sgemm");
    *(void **)&real_sgemv = dlsym(RTLD_NEXT, "cblas_sgemv");
    if (!real_sgemm || !real_sgemv) {
        fprintf(stderr, "test_prune_div: cannot find OpenBLAS's cblas_sgemm/sgemv: %s\n", dlerror());
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference), cmocka_unit_test(test_public_api),
        cmocka_unit_test(test_divprune_cost),     cmocka_unit_test(test_todre_cost),
        cmocka_unit_test(test_edges),             cmocka_unit_test(test_fallbacks),
        cmocka_unit_test(test_pool_layout),       cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests_name("prune_div", tests, NULL, NULL);
}
