// The temporal methods against references written from the official code
// (tools/ref_temporal.py -> tests/fixtures/temporal/*.safetensors):
// - dycoke: kept index sets and order exactly equal to vtc's rule; against the
//   official dycole_ttm, equal except in exactly the frames its off-by-one (and
//   odd-length frame drop) touches; weights; partial windows; T = 1..3; --keep.
// - vq: k-means objective (sum of 1 - cos to the assigned code) within 1% of the
//   official k-means' best over 10 seeds; determinism; the elbow finds the
//   planted K; codes (the hash map) consistent with weights, codebook and
//   positions; errors.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <cmocka.h>

#include "prune/prune.h"
#include "budget.h"

#define FIXTURES "tests/fixtures/temporal/"

// ---------------------------------------------------------------- fixtures

// A safetensors fixture read whole: header (JSON) and data.
struct fixture {
    cJSON *header;
    unsigned char *data;
    size_t size;
};

static void fixture_open(struct fixture *fx, const char *name) {
    char path[256];
    snprintf(path, sizeof path, FIXTURES "%s.safetensors", name);
    FILE *fp = fopen(path, "rb");
    if (!fp) fail_msg("cannot open %s (run from the repository root)", path);
    uint64_t header_len = 0;
    assert_int_equal(fread(&header_len, 8, 1, fp), 1);
    assert_true(header_len > 0 && header_len < (1u << 20));
    char *text = calloc(header_len + 1, 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, header_len, fp), header_len);
    long start = ftell(fp);
    fseek(fp, 0, SEEK_END);
    fx->size = (size_t)(ftell(fp) - start);
    fseek(fp, start, SEEK_SET);
    fx->data = malloc(fx->size + 1);
    assert_non_null(fx->data);
    assert_int_equal(fread(fx->data, 1, fx->size, fp), fx->size);
    fclose(fp);
    fx->header = cJSON_Parse(text);
    free(text);
    assert_non_null(fx->header);
}

static void fixture_close(struct fixture *fx) {
    cJSON_Delete(fx->header);
    free(fx->data);
}

// A copy of tensor `name` (F32, I32 or F64); *count gets its element count. NULL if absent.
static void *fixture_tensor(struct fixture *fx, const char *name, const char *dtype, int *count) {
    cJSON *t = cJSON_GetObjectItemCaseSensitive(fx->header, name);
    if (!t) return NULL;
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(t, "dtype")->valuestring, dtype);
    cJSON *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    size_t b = (size_t)cJSON_GetArrayItem(off, 0)->valuedouble, e = (size_t)cJSON_GetArrayItem(off, 1)->valuedouble;
    assert_true(b <= e && e <= fx->size);
    void *p = malloc(e - b + 1);
    assert_non_null(p);
    memcpy(p, fx->data + b, e - b);
    if (count) *count = (int)((e - b) / (strcmp(dtype, "F64") ? 4 : 8));
    return p;
}

static const char *fixture_meta(struct fixture *fx, const char *key) {
    cJSON *m = cJSON_GetObjectItemCaseSensitive(fx->header, "__metadata__");
    cJSON *v = m ? cJSON_GetObjectItemCaseSensitive(m, key) : NULL;
    return v ? v->valuestring : NULL;
}

// ---------------------------------------------------------------- features

// A features struct over x (T*H*W, d) built by hand (prune/ needs nothing else).
// as_embeds: x becomes the post-projector embeddings and `features` a different
// tensor, so a method that wrongly reads features gives different tokens.
static vtc_features *make_features(int T, int H, int W, int d, const float *x, int as_embeds) {
    vtc_features *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->T = T, f->H = H, f->W = W, f->n = T * H * W, f->dim = d;
    size_t bytes = (size_t)f->n * d * sizeof(float);
    f->features = malloc(bytes);
    assert_non_null(f->features);
    memcpy(f->features, x, bytes);
    if (as_embeds) {
        f->lm_dim = d;
        f->embeds = malloc(bytes);
        assert_non_null(f->embeds);
        memcpy(f->embeds, x, bytes);
        for (size_t i = 0; i < (size_t)f->n * d; i++) f->features[i] = (float)((i * 2654435761u) % 1000) - 500.0f;
    }
    return f;
}

static void free_features(vtc_features *f) {
    free(f->features);
    free(f->embeds);
    free(f);
}

static int run(const char *method, const vtc_features *f, double keep, const char *params, uint64_t seed,
               vtc_tokens **out) {
    const struct vtc_method *m = vtc_method_find(method);
    assert_non_null(m);
    struct vtc_prune_params p = vtc_prune_params_default();
    p.method = method;
    set_keep(&p, keep);
    p.params = params;
    p.seed = seed;
    return vtc_prune_run(m, f, &p, 1, out);
}

// ---------------------------------------------------------------- dycoke

struct dycoke_case {
    struct fixture fx;
    int T, H, W, d, hw, n_ref, n_official;
    double k;
    float *x, *weight;
    int32_t *index, *per_frame, *official; // official: NULL where the reference raises (T <= 4)
};

static void dycoke_load(struct dycoke_case *c, const char *name) {
    memset(c, 0, sizeof *c);
    char full[64];
    snprintf(full, sizeof full, "dycoke_%s", name);
    fixture_open(&c->fx, full);
    assert_int_equal(sscanf(fixture_meta(&c->fx, "grid"), "%d,%d,%d", &c->T, &c->H, &c->W), 3);
    c->k = atof(fixture_meta(&c->fx, "k"));
    c->hw = c->H * c->W;
    int nx;
    c->x = fixture_tensor(&c->fx, "features", "F32", &nx);
    c->d = nx / (c->T * c->hw);
    c->index = fixture_tensor(&c->fx, "index", "I32", &c->n_ref);
    c->weight = fixture_tensor(&c->fx, "weight", "F32", NULL);
    c->per_frame = fixture_tensor(&c->fx, "per_frame", "I32", NULL);
    c->official = fixture_tensor(&c->fx, "official_index", "I32", &c->n_official);
}

static void dycoke_free(struct dycoke_case *c) {
    free(c->x);
    free(c->weight);
    free(c->index);
    free(c->per_frame);
    free(c->official);
    fixture_close(&c->fx);
}

static const char *const DYCOKE_CASES[] = { "rand16", "video16", "video12_k5", "rand13_k5", "rand14_k4", "rand15",
                                            "rand8",  "rand32",  "t1",         "t2",        "t3" };
#define N_DYCOKE_CASES ((int)(sizeof DYCOKE_CASES / sizeof DYCOKE_CASES[0]))

// Every fixture, on embeds (features a decoy) and on features alone: the same
// tokens, in the same order, with the same weights as vtc's rule in Python.
static void test_dycoke_matches_reference(void **state) {
    (void)state;
    for (int ci = 0; ci < N_DYCOKE_CASES; ci++) {
        struct dycoke_case c;
        dycoke_load(&c, DYCOKE_CASES[ci]);
        for (int as_embeds = 0; as_embeds <= 1; as_embeds++) {
            vtc_features *f = make_features(c.T, c.H, c.W, c.d, c.x, as_embeds);
            char params[32];
            snprintf(params, sizeof params, "k=%.17g", c.k);
            vtc_tokens *t = NULL;
            int st = run("dycoke", f, 0, params, 0, &t);
            if (st) fail_msg("%s: %s", DYCOKE_CASES[ci], vtc_last_error());
            assert_int_equal(t->n, c.n_ref);
            assert_int_equal(t->space, as_embeds ? VTC_SPACE_EMBEDS : VTC_SPACE_FEATURES);
            assert_int_equal(t->dim, c.d);
            assert_int_equal(t->n_input, c.T * c.hw);
            assert_null(t->codes);
            double weight_sum = 0;
            for (int i = 0; i < t->n; i++) {
                if (t->index[i] != c.index[i])
                    fail_msg("%s: token %d is %d, reference %d", DYCOKE_CASES[ci], i, t->index[i], c.index[i]);
                assert_float_equal(t->weight[i], c.weight[i], 0);
                assert_memory_equal(t->data + (size_t)i * c.d, c.x + (size_t)c.index[i] * c.d, c.d * sizeof(float));
                int p = c.index[i];
                assert_int_equal(t->pos[3 * i], p / c.hw);
                assert_int_equal(t->pos[3 * i + 1], p % c.hw / c.W);
                assert_int_equal(t->pos[3 * i + 2], p % c.W);
                weight_sum += t->weight[i];
            }
            assert_float_equal(weight_sum, c.T * c.hw, 1e-6);
            // The note carries the per-frame counts.
            char want[64];
            snprintf(want, sizeof want, "[%d", c.per_frame[0]);
            if (!strstr(t->note, "kept per frame") || !strstr(t->note, want))
                fail_msg("%s: note '%s'", DYCOKE_CASES[ci], t->note);
            if (as_embeds && (ci == 0 || c.T % 4)) printf("dycoke %s note: %s\n", DYCOKE_CASES[ci], t->note);
            vtc_tokens_free(t);
            free_features(f);
        }
        dycoke_free(&c);
    }
}

// Tokens of frame t in an output index list: start and count (output is frame by frame).
static void frame_span(const int32_t *idx, int n, int hw, int t, int *start, int *count) {
    *start = 0;
    while (*start < n && idx[*start] / hw < t) (*start)++;
    *count = 0;
    while (*start + *count < n && idx[*start + *count] / hw == t) (*count)++;
}

// Against the official dycole_ttm: identical in every frame except those its
// range(0, T-4, 4) skips (third frame of the last window, whole there) and,
// for odd T, the last frame (which it drops). vtc does NOT match it there.
static void test_dycoke_official_off_by_one(void **state) {
    (void)state;
    int checked = 0;
    for (int ci = 0; ci < N_DYCOKE_CASES; ci++) {
        struct dycoke_case c;
        dycoke_load(&c, DYCOKE_CASES[ci]);
        if (!c.official) {
            assert_true(c.T <= 4); // the reference raises there
            assert_string_equal(fixture_meta(&c.fx, "official"), "raises");
            dycoke_free(&c);
            continue;
        }
        vtc_features *f = make_features(c.T, c.H, c.W, c.d, c.x, 1);
        char params[32];
        snprintf(params, sizeof params, "k=%.17g", c.k);
        vtc_tokens *t = NULL;
        assert_int_equal(run("dycoke", f, 0, params, 0, &t), VTC_OK);
        int m = (int)((1.0 - c.k) * c.hw), differing = 0;
        for (int fr = 0; fr < c.T; fr++) {
            int dropped_by_reference = c.T % 2 == 1 && fr == c.T - 1;
            int whole_in_reference = fr % 4 == 2 && fr - 2 >= c.T - 4;
            int vs, vn, os, on;
            frame_span(t->index, t->n, c.hw, fr, &vs, &vn);
            frame_span(c.official, c.n_official, c.hw, fr, &os, &on);
            if (dropped_by_reference) {
                assert_int_equal(on, 0);
                assert_int_equal(vn, fr % 4 == 0 ? c.hw : m);
                differing++;
            } else if (whole_in_reference) {
                assert_int_equal(on, c.hw);
                assert_int_equal(vn, m);
                for (int i = 0; i < on; i++) assert_int_equal(c.official[os + i], fr * c.hw + i);
                differing++;
            } else {
                assert_int_equal(vn, on);
                assert_memory_equal(t->index + vs, c.official + os, (size_t)vn * sizeof(int32_t));
            }
        }
        // T = 14 (T mod 4 == 2, even) is the one length where the two agree everywhere.
        assert_int_equal(differing == 0, c.T % 4 == 2 && c.T % 2 == 0);
        if (!differing) {
            assert_int_equal(t->n, c.n_official);
            assert_memory_equal(t->index, c.official, (size_t)t->n * sizeof(int32_t));
        }
        checked++;
        vtc_tokens_free(t);
        free_features(f);
        dycoke_free(&c);
    }
    assert_true(checked >= 7);
}

// --keep (without k) sets the per-frame count: floor((keep - whole*HW) / compared),
// the same selection as the k giving that count; below the whole frames: error.
static void test_dycoke_keep(void **state) {
    (void)state;
    struct dycoke_case c;
    dycoke_load(&c, "rand15"); // 15 frames of 36: 4 whole (144), 11 compared
    vtc_features *f = make_features(c.T, c.H, c.W, c.d, c.x, 1);
    vtc_tokens *a = NULL, *b = NULL;
    assert_int_equal(run("dycoke", f, 200, NULL, 0, &a), VTC_OK); // (200-144)/11 = 5 per frame
    assert_int_equal(a->n, 144 + 11 * 5);
    assert_non_null(strstr(a->note, "5 per compared frame from --keep"));
    assert_int_equal(run("dycoke", f, 0, "k=0.86", 0, &b), VTC_OK); // int(0.14*36) = 5
    assert_int_equal(b->n, a->n);
    assert_memory_equal(a->index, b->index, (size_t)a->n * sizeof(int32_t));
    vtc_tokens_free(a);
    vtc_tokens_free(b);
    // An explicit k wins over --keep.
    assert_int_equal(run("dycoke", f, 200, "k=0.7", 0, &a), VTC_OK);
    assert_int_equal(a->n, 144 + 11 * 10);
    vtc_tokens_free(a);
    // A fraction: 0.5 of 540 = 270 -> (270-144)/11 = 11.
    assert_int_equal(run("dycoke", f, 0.5, NULL, 0, &a), VTC_OK);
    assert_int_equal(a->n, 144 + 11 * 11);
    vtc_tokens_free(a);
    // All tokens: every frame whole.
    assert_int_equal(run("dycoke", f, 540, NULL, 0, &a), VTC_OK);
    assert_int_equal(a->n, 540);
    vtc_tokens_free(a);
    a = NULL;
    assert_int_equal(run("dycoke", f, 143, NULL, 0, &a), VTC_ERR_NEEDS); // below the frames kept whole
    assert_null(a);
    assert_non_null(strstr(vtc_last_error(), "dycoke"));
    free_features(f);
    dycoke_free(&c);
}

static void test_dycoke_errors(void **state) {
    (void)state;
    float x[2 * 4 * 3] = { 0 };
    for (int i = 0; i < 24; i++) x[i] = (float)(i % 7) - 3.0f;
    vtc_features *f = make_features(2, 2, 2, 3, x, 0);
    const char *bad[] = { "k=0", "k=1", "k=-0.1", "k=1.5", "k=abc", "q=0.5" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vtc_tokens *t = NULL;
        assert_int_equal(run("dycoke", f, 0, bad[i], 0, &t), VTC_ERR_ARG);
        assert_null(t);
        assert_true(strlen(vtc_last_error()) > 0);
    }
    vtc_tokens *t = NULL;
    assert_int_equal(run("dycoke", f, 0, "k=0.5", 0, &t), VTC_OK); // 2x2 grid: frame 2 keeps 2 of 4
    assert_int_equal(t->n, 4 + 2);
    vtc_tokens_free(t);
    t = NULL;
    f->H = 65536, f->W = 65536; // a grid that does not hold n tokens (and overflows int)
    assert_int_equal(run("dycoke", f, 0, NULL, 0, &t), VTC_ERR_ARG);
    assert_null(t);
    free_features(f);
}

// ---------------------------------------------------------------- vq

// sum_i 1 - cos(x_i, data[codes[i]]) in double.
static double vq_objective(const float *x, int n, int d, const vtc_tokens *t) {
    double total = 0;
    for (int i = 0; i < n; i++) {
        const float *a = x + (size_t)i * d, *c = t->data + (size_t)t->codes[i] * d;
        double ac = 0, aa = 0, cc = 0;
        for (int j = 0; j < d; j++) {
            ac += (double)a[j] * c[j];
            aa += (double)a[j] * a[j];
            cc += (double)c[j] * c[j];
        }
        total += 1 - ac / sqrt(aa * cc);
    }
    return total;
}

// Codes consistent with the codebook: weights = member counts summing to N,
// index -1, data = mean of the L2-normalised members, pos = a member's (t, y, x)
// and the one closest to its code; with `fixed_point`, every token's code is its
// most cosine-similar one.
static void vq_check_consistent(const vtc_features *f, const float *x, const vtc_tokens *t, int fixed_point) {
    int n = f->n, d = f->dim, K = t->n;
    assert_non_null(t->codes);
    assert_int_equal(t->n_input, n);
    double *mean = calloc((size_t)K * d, sizeof(double));
    int *count = calloc((size_t)K, sizeof(int));
    double *best = malloc((size_t)K * sizeof(double));
    assert_true(mean && count && best);
    for (int i = 0; i < n; i++) {
        int c = t->codes[i];
        assert_true(c >= 0 && c < K);
        count[c]++;
        double s = 0;
        for (int j = 0; j < d; j++) s += (double)x[(size_t)i * d + j] * x[(size_t)i * d + j];
        for (int j = 0; j < d; j++) mean[(size_t)c * d + j] += x[(size_t)i * d + j] / sqrt(s);
    }
    double weight_sum = 0;
    for (int c = 0; c < K; c++) {
        assert_true(count[c] > 0);
        assert_float_equal(t->weight[c], count[c], 0);
        assert_int_equal(t->index[c], -1);
        weight_sum += t->weight[c];
        for (int j = 0; j < d; j++)
            assert_float_equal(t->data[(size_t)c * d + j], mean[(size_t)c * d + j] / count[c], 1e-5);
        best[c] = -2;
    }
    assert_float_equal(weight_sum, n, 0);
    // cosine of every token to every code
    for (int i = 0; i < n; i++) {
        const float *a = x + (size_t)i * d;
        int arg = 0;
        double arg_cos = -2, own = 0;
        for (int c = 0; c < K; c++) {
            const float *cc = t->data + (size_t)c * d;
            double ac = 0, aa = 0, c2 = 0;
            for (int j = 0; j < d; j++) ac += (double)a[j] * cc[j], aa += (double)a[j] * a[j], c2 += (double)cc[j] * cc[j];
            double cs = ac / sqrt(aa * c2);
            if (cs > arg_cos) arg_cos = cs, arg = c;
            if (c == t->codes[i]) own = cs;
        }
        if (fixed_point && arg != t->codes[i]) assert_true(arg_cos - own < 1e-6);
        if (own > best[t->codes[i]]) best[t->codes[i]] = own;
    }
    // pos: a member of its code, as close as any member (to rounding)
    for (int c = 0; c < K; c++) {
        int p = (t->pos[3 * c] * f->H + t->pos[3 * c + 1]) * f->W + t->pos[3 * c + 2];
        assert_true(p >= 0 && p < n);
        assert_int_equal(t->codes[p], c);
        const float *a = x + (size_t)p * d, *cc = t->data + (size_t)c * d;
        double ac = 0, aa = 0, c2 = 0;
        for (int j = 0; j < d; j++) ac += (double)a[j] * cc[j], aa += (double)a[j] * a[j], c2 += (double)cc[j] * cc[j];
        assert_true(ac / sqrt(aa * c2) > best[c] - 1e-5);
    }
    free(mean);
    free(count);
    free(best);
}

struct vq_case {
    struct fixture fx;
    int T, H, W, d, n, k, n_obj;
    float *x;
    double *objectives;
    int32_t *truth;
};

static void vq_load(struct vq_case *c, const char *name) {
    memset(c, 0, sizeof *c);
    char full[64];
    snprintf(full, sizeof full, "vq_%s", name);
    fixture_open(&c->fx, full);
    assert_int_equal(sscanf(fixture_meta(&c->fx, "grid"), "%d,%d,%d", &c->T, &c->H, &c->W), 3);
    c->n = c->T * c->H * c->W;
    int nx;
    c->x = fixture_tensor(&c->fx, "features", "F32", &nx);
    c->d = nx / c->n;
    const char *k = fixture_meta(&c->fx, "k");
    c->k = k ? atoi(k) : 0;
    c->objectives = fixture_tensor(&c->fx, "objectives", "F64", &c->n_obj);
    c->truth = fixture_tensor(&c->fx, "truth", "I32", NULL);
}

static void vq_free(struct vq_case *c) {
    free(c->x);
    free(c->objectives);
    free(c->truth);
    fixture_close(&c->fx);
}

// Objective within 1% of the official k-means' best over 10 seeds: on planted
// clusters with the default seed; on random tokens and a noisier image, the
// best of as many seeds (both are local searches).
static void test_vq_objective(void **state) {
    (void)state;
    const char *cases[] = { "clusters", "random", "image" };
    for (int ci = 0; ci < 3; ci++) {
        struct vq_case c;
        vq_load(&c, cases[ci]);
        double ref_best = INFINITY, ref_mean = 0;
        for (int i = 0; i < c.n_obj; i++) {
            ref_best = fmin(ref_best, c.objectives[i]);
            ref_mean += c.objectives[i] / c.n_obj;
        }
        vtc_features *f = make_features(c.T, c.H, c.W, c.d, c.x, 1);
        char params[32];
        snprintf(params, sizeof params, "k=%d", c.k);
        double best = INFINITY, mean = 0;
        for (int seed = 0; seed < c.n_obj; seed++) {
            vtc_tokens *t = NULL;
            if (run("vq", f, 0, params, (uint64_t)seed, &t)) fail_msg("%s: %s", cases[ci], vtc_last_error());
            assert_int_equal(t->space, VTC_SPACE_EMBEDS);
            assert_true(t->n <= c.k);
            double obj = vq_objective(c.x, c.n, c.d, t);
            if (seed == 0 && ci == 0) {
                printf("vq %s seed 0: objective %.6f, reference best %.6f (%+.3f%%)\n", cases[ci], obj, ref_best,
                       100 * (obj / ref_best - 1));
                assert_true(obj <= ref_best * 1.01);
                vq_check_consistent(f, c.x, t, 1);
            }
            best = fmin(best, obj);
            mean += obj / c.n_obj;
            vtc_tokens_free(t);
        }
        printf("vq %-8s K=%2d best of %d seeds %.6f vs reference %.6f (%+.3f%%); mean %.4f vs %.4f\n", cases[ci], c.k,
               c.n_obj, best, ref_best, 100 * (best / ref_best - 1), mean, ref_mean);
        assert_true(best <= ref_best * 1.01);
        assert_true(mean <= ref_mean * 1.02);
        free_features(f);
        vq_free(&c);
    }
}

// The same seed gives the same tokens and codes; the fit for K does not depend
// on how K was chosen (k=K, --keep K).
static void test_vq_deterministic(void **state) {
    (void)state;
    struct vq_case c;
    vq_load(&c, "image");
    vtc_features *f = make_features(c.T, c.H, c.W, c.d, c.x, 0);
    vtc_tokens *a = NULL, *b = NULL, *k = NULL;
    assert_int_equal(run("vq", f, 0, "k=9", 42, &a), VTC_OK);
    assert_int_equal(run("vq", f, 0, "k=9", 42, &b), VTC_OK);
    assert_int_equal(run("vq", f, 9, NULL, 42, &k), VTC_OK);
    assert_int_equal(a->space, VTC_SPACE_FEATURES);
    const vtc_tokens *same[] = { b, k };
    for (int s = 0; s < 2; s++) {
        assert_int_equal(a->n, same[s]->n);
        assert_memory_equal(a->data, same[s]->data, (size_t)a->n * a->dim * sizeof(float));
        assert_memory_equal(a->pos, same[s]->pos, (size_t)a->n * 3 * sizeof(int32_t));
        assert_memory_equal(a->weight, same[s]->weight, (size_t)a->n * sizeof(float));
        assert_memory_equal(a->codes, same[s]->codes, (size_t)f->n * sizeof(int32_t));
    }
    assert_non_null(strstr(k->note, "--keep"));
    vq_check_consistent(f, c.x, a, 0);
    vtc_tokens_free(a);
    vtc_tokens_free(b);
    vtc_tokens_free(k);
    free_features(f);
    vq_free(&c);
}

// Adaptive K on tokens with a planted number of clusters (a 4-frame clip and a
// single image): the elbow finds it for several seeds, and the codes recover
// the planted partition exactly.
static void test_vq_elbow(void **state) {
    (void)state;
    const char *cases[] = { "elbow7", "elbow5_image" };
    for (int ci = 0; ci < 2; ci++) {
        struct vq_case c;
        vq_load(&c, cases[ci]);
        int kmin = atoi(fixture_meta(&c.fx, "kmin")), kmax = atoi(fixture_meta(&c.fx, "kmax"));
        int want = atoi(fixture_meta(&c.fx, "elbow"));
        vtc_features *f = make_features(c.T, c.H, c.W, c.d, c.x, 1);
        char params[64];
        snprintf(params, sizeof params, "kmin=%d,kmax=%d", kmin, kmax);
        for (int seed = 0; seed < 3; seed++) {
            vtc_tokens *t = NULL;
            assert_int_equal(run("vq", f, 0, params, (uint64_t)seed, &t), VTC_OK);
            if (t->n != want) fail_msg("%s seed %d: elbow at %d, planted %d (%s)", cases[ci], seed, t->n, want, t->note);
            assert_non_null(strstr(t->note, "elbow"));
            // planted cluster <-> code, one to one
            int map[64];
            for (int i = 0; i < 64; i++) map[i] = -1;
            for (int i = 0; i < f->n; i++) {
                int p = c.truth[i];
                assert_true(p >= 0 && p < 64);
                if (map[p] < 0) map[p] = t->codes[i];
                assert_int_equal(map[p], t->codes[i]);
            }
            vq_check_consistent(f, c.x, t, 1);
            vtc_tokens_free(t);
        }
        free_features(f);
        vq_free(&c);
    }
}

// Defaults on a clip: K in [12, 32]; a range wider than the token count is clipped.
static void test_vq_defaults_and_small(void **state) {
    (void)state;
    struct vq_case c;
    vq_load(&c, "random");
    vtc_features *f = make_features(c.T, c.H, c.W, c.d, c.x, 1);
    vtc_tokens *t = NULL;
    assert_int_equal(run("vq", f, 0, NULL, 0, &t), VTC_OK);
    assert_true(t->n >= 12 && t->n <= 32);
    vq_check_consistent(f, c.x, t, 0);
    vtc_tokens_free(t);
    free_features(f);
    vq_free(&c);

    float x[3 * 2] = { 1, 0, 0, 1, 1, 0.01f }; // 3 tokens on a 1x1x3 grid
    f = make_features(1, 1, 3, 2, x, 0);
    assert_int_equal(run("vq", f, 0, NULL, 0, &t), VTC_OK); // range 12..32 clipped to 3..3
    assert_int_equal(t->n, 3);
    vq_check_consistent(f, x, t, 1);
    vtc_tokens_free(t);
    assert_int_equal(run("vq", f, 0, "k=1", 0, &t), VTC_OK);
    assert_int_equal(t->n, 1);
    assert_float_equal(t->weight[0], 3, 0);
    vtc_tokens_free(t);
    free_features(f);
}

static void test_vq_errors(void **state) {
    (void)state;
    float x[12];
    for (int i = 0; i < 12; i++) x[i] = (float)(i * 7 % 5) - 2.0f;
    vtc_features *f = make_features(1, 2, 3, 2, x, 0); // 6 tokens
    vtc_tokens *t = NULL;
    assert_int_equal(run("vq", f, 0, "k=7", 0, &t), VTC_ERR_NEEDS); // 7 codes for 6 tokens
    assert_null(t);
    const char *bad[] = { "kmin=20,kmax=10", "k=-1", "k=2.5", "iters=0", "tol=-1", "trials=65", "x=1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = NULL;
        if (run("vq", f, 0, bad[i], 0, &t) != VTC_ERR_ARG) fail_msg("vq %s: not an argument error", bad[i]);
        assert_null(t);
        assert_true(strlen(vtc_last_error()) > 0);
    }
    t = NULL;
    assert_int_equal(run("vq", f, 7, NULL, 0, &t), VTC_ERR_NEEDS); // --keep above n
    assert_null(t);
    assert_int_equal(run("vq", f, 6, NULL, 0, &t), VTC_OK);
    assert_true(t->n <= 6);
    vtc_tokens_free(t);
    t = NULL;
    f->T = 2; // grid 2x2x3 for 6 tokens
    assert_int_equal(run("vq", f, 0, NULL, 0, &t), VTC_ERR_ARG);
    assert_null(t);
    free_features(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dycoke_matches_reference),
        cmocka_unit_test(test_dycoke_official_off_by_one),
        cmocka_unit_test(test_dycoke_keep),
        cmocka_unit_test(test_dycoke_errors),
        cmocka_unit_test(test_vq_objective),
        cmocka_unit_test(test_vq_deterministic),
        cmocka_unit_test(test_vq_elbow),
        cmocka_unit_test(test_vq_defaults_and_small),
        cmocka_unit_test(test_vq_errors),
    };
    return cmocka_run_group_tests_name("temporal", tests, NULL, NULL);
}
