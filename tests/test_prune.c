// The pruning stage (prune/): every spatial method against tools/ref_prune.py
// (PyTorch written to the official FasterVLM / VisionZip / DivPrune / ToDRE /
// ToMe / LLaVA-OneVision code) on random, clustered, exactly-tied, video and
// odd-grid pooling features, and hired against tools/ref_prune_hired.py (HiRED's
// code) on real anyres tiles and synthetic grids — kept index sets (and their order) exactly equal,
// merged or pooled tokens within 1e-5 of the largest value, weights equal —
// plus the invariants of every registered method (counts, positions, weights
// covering the input), thread-count independence, budgets, parameters and errors.
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

static const vtc_tensor_view *need(const vtc_st *st, const char *name) {
    const vtc_tensor_view *t = vtc_st_find(st, name);
    if (!t) fail_msg("expected tensor %s missing", name);
    return t;
}

// Runs a method through the stage's own entry point (no projection).
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

// One line of an expected file's "cases": name method keep seed params check.
static void check_case(const char *set, const vtc_features *f, const vtc_st *exp, const char *line, double *worst) {
    char name[64], method[32], params[128], check[16];
    double keep;
    unsigned long long seed;
    if (sscanf(line, "%63s %31s %lf %llu %127s %15s", name, method, &keep, &seed, params, check) != 6)
        fail_msg("%s: bad case line '%s'", set, line);
    vtc_tokens *t = NULL;
    if (run(method, f, keep, seed, strcmp(params, "-") ? params : NULL, 2, &t))
        fail_msg("%s %s: %s", set, name, vtc_last_error());
    const vtc_tensor_view *ti = need(exp, name);
    int64_t k = vtc_tensor_numel(ti);
    int32_t *want = malloc(sizeof(int32_t) * (size_t)k);
    memcpy(want, ti->data, sizeof(int32_t) * (size_t)k);
    if (t->n != k) fail_msg("%s %s: %d tokens, the reference keeps %lld", set, name, t->n, (long long)k);
    int same = 0;
    for (int64_t i = 0; i < k; i++) same += t->index[i] == want[i];
    double err = 0;
    if (!strcmp(check, "tokens")) {
        char key[96];
        snprintf(key, sizeof key, "%s.tokens", name);
        const vtc_tensor_view *tt = need(exp, key);
        assert_int_equal(vtc_tensor_numel(tt), k * t->dim);
        float *ref = malloc(sizeof(float) * (size_t)(k * t->dim));
        float *w = malloc(sizeof(float) * (size_t)k);
        assert_int_equal(vtc_tensor_to_f32(tt, ref, (size_t)(k * t->dim)), 0);
        snprintf(key, sizeof key, "%s.weight", name);
        assert_int_equal(vtc_tensor_to_f32(need(exp, key), w, (size_t)k), 0);
        double mx = 1e-30;
        for (int64_t i = 0; i < k * t->dim; i++) mx = fmax(mx, fabs(ref[i]));
        for (int64_t i = 0; i < k * t->dim; i++) err = fmax(err, fabs((double)t->data[i] - ref[i]) / mx);
        for (int64_t i = 0; i < k; i++)
            if (fabsf(w[i] - t->weight[i]) > 1e-6f * fmaxf(1.0f, w[i]))
                fail_msg("%s %s: weight %lld is %g, the reference says %g", set, name, (long long)i, t->weight[i],
                         w[i]);
        free(ref);
        free(w);
    }
    printf("  %-8s %-20s %-9s keep %5g: %lld/%lld indices equal", set, name, method, keep, (long long)same,
           (long long)k);
    if (!strcmp(check, "tokens")) printf(", tokens rel err %.1e", err);
    printf("%s%s\n", t->note[0] ? ": " : "", t->note);
    if (same != k) fail_msg("%s %s: %lld of %lld indices differ", set, name, (long long)(k - same), (long long)k);
    assert_true(err <= 1e-5);
    if (err > *worst) *worst = err;
    vtc_tokens_free(t);
    free(want);
}

// Every case of every set (tests/fixtures/prune/<prefix><set>.*); returns the count.
static int check_sets(const char *prefix, const char *const *sets, size_t n_sets, double *worst) {
    int n_cases = 0;
    for (size_t s = 0; s < n_sets; s++) {
        char path[256];
        snprintf(path, sizeof path, "tests/fixtures/prune/%s%s.features.safetensors", prefix, sets[s]);
        vtc_features *f = NULL;
        if (vtc_features_load(path, &f)) fail_msg("%s", vtc_last_error());
        snprintf(path, sizeof path, "tests/fixtures/prune/%s%s.expected.safetensors", prefix, sets[s]);
        vtc_st *exp = NULL;
        if (vtc_st_open(path, 1, &exp)) fail_msg("%s", vtc_last_error());
        const char *cases = vtc_st_meta(exp, "cases");
        assert_non_null(cases);
        for (const char *line = cases; *line;) {
            const char *end = strchr(line, '\n');
            size_t len = end ? (size_t)(end - line) : strlen(line);
            char buf[256];
            assert_true(len < sizeof buf);
            memcpy(buf, line, len);
            buf[len] = '\0';
            check_case(sets[s], f, exp, buf, worst);
            n_cases++;
            line += len + (end != NULL);
        }
        vtc_st_close(exp);
        vtc_features_free(f);
    }
    return n_cases;
}

static void test_against_reference(void **state) {
    (void)state;
    const char *sets[] = { "random", "clusters", "ties", "video", "odd", "pool" };
    double worst = 0;
    int n_cases = check_sets("", sets, sizeof sets / sizeof sets[0], &worst);
    printf("  %d reference cases, worst token error %.1e (relative to the largest value)\n", n_cases, worst);
    assert_true(n_cases >= 69);
}

// hired against tools/ref_prune_hired.py (HiRED's official selection): real
// LLaVA-NeXT and OneVision tiles from `vtc encode`, synthetic grids of 2, 3 and
// 4 sub-images with P / N whole and not, float32 budget truncation, one image,
// exact ties. Kept index sets must be identical.
static void test_hired_reference(void **state) {
    (void)state;
    const char *sets[] = { "next_wide600x400", "next_cat451x300", "next_wide1000x250", "ov_cat451x300",
                           "syn1x2_p36",       "syn1x2_p25",      "syn3x1_p36",        "syn3x1_p25",
                           "syn2x2_p36",       "syn2x2_p25",      "syn3x1_f32",        "syn_single",
                           "syn_ties" };
    double worst = 0;
    int n_cases = check_sets("hired_", sets, sizeof sets / sizeof sets[0], &worst);
    printf("  %d hired reference cases over %zu sets: every kept index set identical\n", n_cases,
           sizeof sets / sizeof sets[0]);
    assert_true(n_cases >= 88);
}

// Methods that merge or pool: their weights account for every source token.
static int covers_input(const char *method, const char *params) {
    return !strcmp(method, "visionzip") || !strcmp(method, "tome") || !strcmp(method, "dycoke") ||
           !strcmp(method, "vq") || (!strcmp(method, "pool") && !(params && strstr(params, "mode=2")));
}

static void check_invariants(const char *what, const vtc_features *f, const char *method, double keep,
                             const char *params) {
    vtc_tokens *a = NULL, *b = NULL;
    if (run(method, f, keep, 3, params, 1, &a)) fail_msg("%s %s: %s", what, method, vtc_last_error());
    assert_int_equal(run(method, f, keep, 3, params, 2, &b), 0);
    // the thread count changes nothing, bit for bit
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->dim, b->dim);
    assert_memory_equal(a->index, b->index, sizeof(int32_t) * (size_t)a->n);
    assert_memory_equal(a->pos, b->pos, sizeof(int32_t) * 3 * (size_t)a->n);
    assert_memory_equal(a->weight, b->weight, sizeof(float) * (size_t)a->n);
    assert_memory_equal(a->data, b->data, sizeof(float) * (size_t)a->n * (size_t)a->dim);
    assert_true(a->n >= 1 && a->n <= f->n + f->T);
    assert_int_equal(a->n_input, f->n);
    assert_string_equal(a->method, method);
    const int hw = f->H * f->W;
    double wsum = 0;
    int n_cls = 0;
    unsigned char *seen = calloc((size_t)f->n, 1);
    for (int i = 0; i < a->n; i++) {
        const int32_t s = a->index[i], *p = a->pos + 3 * i;
        assert_true(a->weight[i] > 0);
        if (s < 0) { // a synthetic token: the CLS token (no grid cell) or a codebook entry
            assert_int_equal(s, -1);
            if (p[1] == -1) n_cls++;
            else wsum += a->weight[i];
            continue;
        }
        assert_true(s < f->n);
        assert_int_equal(p[0], s / hw);
        assert_int_equal(p[1], (s % hw) / f->W);
        assert_int_equal(p[2], s % f->W);
        if (seen[s]) fail_msg("%s %s: source token %d handed on twice", what, method, s);
        seen[s] = 1;
        wsum += a->weight[i];
    }
    if (covers_input(method, params)) {
        if (fabs(wsum - f->n) > 1e-3 * f->n)
            fail_msg("%s %s: weights sum to %g for %d source tokens", what, method, wsum, f->n);
    } else if (strcmp(method, "pool")) { // selections: every kept token is itself
        for (int i = 0; i < a->n; i++) assert_true(a->weight[i] == 1.0f);
        if (keep >= 1 && !strcmp(method, "hired")) assert_true(a->n <= (int)keep); // its splits truncate
        else if (keep >= 1) assert_int_equal(a->n, strcmp(method, "none") ? (int)keep : f->n);
    }
    printf("  %-6s %-10s %-12s kept %4d (CLS %d), weights sum %.0f%s%s\n", what, method, params ? params : "", a->n,
           n_cls, wsum, a->note[0] ? ": " : "", a->note);
    free(seen);
    vtc_tokens_free(a);
    vtc_tokens_free(b);
}

static void test_invariants(void **state) {
    (void)state;
    const char *files[] = { "tests/fixtures/prune/clusters.features.safetensors",
                            "tests/fixtures/prune/video.features.safetensors" };
    for (int s = 0; s < 2; s++) {
        vtc_features *f = NULL;
        assert_int_equal(vtc_features_load(files[s], &f), 0);
        const char *what = f->T > 1 ? "video" : "image";
        for (int m = 0; m < vtc_method_count(); m++) {
            const char *name = vtc_method_name(m);
            if (!strcmp(name, "hired")) continue; // needs cls_attn_first, tiles or one image: below
            // dycoke's budget is its k; with one frame it keeps everything
            check_invariants(what, f, name, strcmp(name, "dycoke") ? 100 : 0, NULL);
        }
        const char *per_frame[] = { "cls", "divprune", "random" };
        for (int i = 0; i < 3; i++) check_invariants(what, f, per_frame[i], 99, "per_frame=1");
        check_invariants(what, f, "pool", 0, "mode=1");
        check_invariants(what, f, "pool", 0, "mode=2,size=3");
        if (f->T == 1) check_invariants(what, f, "tome", 100, "cls=1");
        check_invariants(what, f, "tome", 100, "metric=1");
        vtc_features_free(f);
    }
    const char *hired_sets[] = { "tests/fixtures/prune/hired_next_wide600x400.features.safetensors",
                                 "tests/fixtures/prune/hired_ov_cat451x300.features.safetensors",
                                 "tests/fixtures/prune/hired_syn_single.features.safetensors" };
    for (int s = 0; s < 3; s++) {
        vtc_features *f = NULL;
        assert_int_equal(vtc_features_load(hired_sets[s], &f), 0);
        const char *what = f->T > 1 ? "tiles" : "image";
        check_invariants(what, f, "hired", f->n / 9, NULL);
        check_invariants(what, f, "hired", 0, NULL);
        check_invariants(what, f, "hired", 0, "rate=0.5,alpha=0.3");
        vtc_features_free(f);
    }
}

// hired's rules where HiRED's code has none, its notes and its refusals.
static void test_hired_rules(void **state) {
    (void)state;
    vtc_features *f = NULL;
    vtc_tokens *t = NULL;
    assert_int_equal(vtc_features_load("tests/fixtures/prune/hired_next_wide600x400.features.safetensors", &f), 0);
    assert_int_equal(run("hired", f, 0, 0, NULL, 1, &t), 0); // the paper's 0.2 and 0.5 on 2x2 tiles: 576
    printf("  2x2 tiles, defaults: %d kept: %s\n", t->n, t->note);
    assert_non_null(strstr(t->note, "total 576 (rate 0.2), base 288, sub-images "));
    vtc_tokens_free(t);
    assert_int_equal(run("hired", f, 300, 0, NULL, 1, &t), 0); // --keep is the total
    assert_non_null(strstr(t->note, "total 300 (--keep), base 150"));
    assert_true(t->n <= 300);
    vtc_tokens_free(t);
    assert_int_equal(run("hired", f, 0, 0, "rate=0.6,alpha=1", 1, &t), 0); // nothing marked: 0 per sub-image
    printf("  alpha=1: %d kept: %s\n", t->n, t->note);
    assert_int_equal(t->n, 576);
    assert_non_null(strstr(t->note, "sub-images 0+0+0+0; alpha leaves no base token"));
    vtc_tokens_free(t);
    assert_int_equal(run("hired", f, 0, 0, "rate=1", 1, &t), 0); // HiRED prunes only when rate < 1
    assert_int_equal(t->n, f->n);
    vtc_tokens_free(t);
    assert_int_equal(run("hired", f, 64, 0, "rate=0.3", 1, &t), VTC_ERR_ARG); // one budget, not two
    assert_non_null(strstr(vtc_last_error(), "--keep or rate"));
    assert_int_equal(run("hired", f, 0, 0, "rate=0.0001", 1, &t), VTC_ERR_ARG); // int(2880 * 0.0001) = 0
    assert_int_equal(run("hired", f, 1, 0, "alpha=0", 1, &t), VTC_ERR_ARG); // 1 over 4 sub-images truncates to 0 each
    assert_non_null(strstr(vtc_last_error(), "splits into no token"));
    // the same tiles read as 5 video frames: HiRED defines no video selection
    f->tiling = (vtc_tiling){ 0 };
    assert_int_equal(run("hired", f, 0, 0, NULL, 1, &t), VTC_ERR_NEEDS);
    assert_non_null(strstr(vtc_last_error(), "video"));
    // a tiling that does not hold the tiles
    f->tiling = (vtc_tiling){ .kind = VTC_TILING_ANYRES, .tiles_h = 1, .tiles_w = 2 };
    assert_int_equal(run("hired", f, 0, 0, NULL, 1, &t), VTC_ERR_ARG);
    vtc_features_free(f);
    // SigLIP: no CLS token, 729 / 2 not whole: both said
    assert_int_equal(vtc_features_load("tests/fixtures/prune/hired_ov_cat451x300.features.safetensors", &f), 0);
    assert_int_equal(run("hired", f, 0, 0, NULL, 1, &t), 0);
    printf("  OneVision 1x2 tiles: %d kept: %s\n", t->n, t->note);
    assert_non_null(strstr(t->note, "floor(i*P/N)"));
    assert_non_null(strstr(t->note, "no CLS token"));
    vtc_tokens_free(t);
    // without the first block's attention it cannot split the budget
    free(f->cls_attn_first);
    f->cls_attn_first = NULL;
    assert_int_equal(run("hired", f, 0, 0, NULL, 1, &t), VTC_ERR_NEEDS);
    assert_non_null(strstr(vtc_last_error(), "cls_attn_first"));
    vtc_features_free(f);
    // one image: HiRED's LLaVA-1.5 variant, int(P * rate)
    assert_int_equal(vtc_features_load("tests/fixtures/prune/hired_syn_single.features.safetensors", &f), 0);
    assert_int_equal(run("hired", f, 0, 0, NULL, 1, &t), 0);
    assert_int_equal(t->n, 7); // int(36 * 0.2)
    assert_non_null(strstr(t->note, "one image"));
    vtc_tokens_free(t);
    vtc_features_free(f);
}

static void test_keep_count(void **state) {
    (void)state;
    assert_int_equal(keep_count(0, 576), 576);      // 0 = all
    assert_int_equal(keep_count(64, 576), 64);
    assert_int_equal(keep_count(1, 576), 1);
    assert_int_equal(keep_count(576, 576), 576);
    assert_int_equal(keep_count(0.1, 576), 58);     // DivPrune: int(round(0.1 * 576)) = 58
    assert_int_equal(keep_count(0.25, 578), 144);   // 144.5: halves to even, as Python's round()
    assert_int_equal(keep_count(0.375, 580), 218);  // 217.5 -> 218
    assert_int_equal(keep_count(0.001, 576), 1);    // at least one
    assert_int_equal(keep_count(0.999, 576), 575);
    const double bad[] = { -1, -0.5, 2.5, 1e300, NAN, INFINITY, -INFINITY };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vtc_clear_error();
        assert_int_equal(keep_count(bad[i], 576), VTC_ERR_ARG);
        assert_true(strstr(vtc_last_error(), "--keep") != NULL);
    }
    // a count above n is a property of the input, not a malformed budget
    assert_int_equal(keep_count(577, 576), VTC_ERR_NEEDS);
    assert_true(strstr(vtc_last_error(), "--keep 577") != NULL);
    assert_int_equal(keep_count(1, 0), VTC_ERR_NEEDS); // nothing to keep
    // the budget is one field or the other, never both
    struct vtc_prune_params both = vtc_prune_params_default();
    both.n_keep = 64;
    both.keep_ratio = 0.25;
    assert_int_equal(vtc_prune_keep_count(both, 576), VTC_ERR_ARG);
    assert_int_equal(vtc_prune_validate(both), VTC_ERR_ARG);
    both.n_keep = 0;
    both.keep_ratio = 1; // the whole of it
    assert_int_equal(vtc_prune_keep_count(both, 576), 576);
    // through a method: keep 0 keeps all, more than n is an error and leaves no tokens
    vtc_features *f = vtc_features_new(1, 4, 4, 8, 4, 0, VTC_F_FEATURES | VTC_F_CLS_ATTN);
    for (int i = 0; i < f->n; i++) f->cls_attn[i] = (float)i;
    vtc_tokens *t = NULL;
    assert_int_equal(run("cls", f, 0, 0, NULL, 1, &t), 0);
    assert_int_equal(t->n, 16);
    vtc_tokens_free(t);
    t = (vtc_tokens *)1;
    assert_int_equal(run("cls", f, 17, 0, NULL, 1, &t), VTC_ERR_NEEDS); // more than the 16 tokens
    assert_null(t);
    assert_true(strstr(vtc_last_error(), "16 tokens") != NULL);
    assert_int_equal(run("cls", f, NAN, 0, NULL, 1, &t), VTC_ERR_ARG);
    assert_int_equal(run("cls", f, -3, 0, NULL, 1, &t), VTC_ERR_ARG);
    vtc_features_free(f);
}

static void expect_param_error(const char *method, const char *params, const char *mention) {
    struct vtc_prune_params p = vtc_prune_params_default();
    p.method = method;
    p.params = params;
    vtc_clear_error();
    if (vtc_prune_validate(p) != VTC_ERR_ARG) fail_msg("%s '%s' accepted", method, params);
    if (!strstr(vtc_last_error(), mention))
        fail_msg("%s '%s': message '%s' does not mention '%s'", method, params, vtc_last_error(), mention);
}

static void test_params(void **state) {
    (void)state;
    expect_param_error("nosuch", NULL, "divprune");                     // the message lists the methods
    expect_param_error("cls", "bogus=1", "per_frame");                  // ... and a method's parameters
    expect_param_error("cls", "per_frame=2", "[0, 1]");                 // out of range
    expect_param_error("cls", "per_frame=0.5", "integer");
    expect_param_error("cls", "per_frame=x", "per_frame");
    expect_param_error("cls", "per_frame=nan", "per_frame");
    expect_param_error("cls", "per_frame=", "per_frame");
    expect_param_error("cls", "per_frame", "NAME=VALUE");
    expect_param_error("cls", "=1", "NAME=VALUE");
    expect_param_error("cls", "per_frame=1,per_frame=0", "twice");
    expect_param_error("cls", "per_frame=1,,", "NAME=VALUE");
    expect_param_error("cls", " per_frame=1", "no parameter");
    expect_param_error("none", "x=1", "parameters: none");
    expect_param_error("pool", "mode=3", "mode");
    expect_param_error("tome", "cls=1,metric=2", "metric");
    struct vtc_prune_params p = vtc_prune_params_default();
    p.method = "pool";
    p.params = "size=3,mode=1";
    assert_int_equal(vtc_prune_validate(p), 0);
    p.params = "";
    assert_int_equal(vtc_prune_validate(p), 0);
    p.method = "cls";
    set_keep(&p, 2.5); // a count must be whole
    assert_int_equal(vtc_prune_validate(p), VTC_ERR_ARG);
    // parsed values and the given-mask
    struct vtc_param_values v;
    assert_int_equal(vtc_params_parse(vtc_method_find("pool"), "mode=2", &v), 0);
    assert_true(v.v[0] == 2 && v.v[1] == 2 && v.given == 2u);
    // every method: name, summary, a valid space, defaults inside their ranges
    for (int i = 0; i < vtc_method_count(); i++) {
        const struct vtc_method *m = vtc_method_find(vtc_method_name(i));
        assert_non_null(m);
        assert_true(strlen(m->summary) > 10);
        assert_true(m->space == VTC_SPACE_FEATURES || m->space == VTC_SPACE_EMBEDS);
        assert_true(m->n_params <= VTC_PARAM_MAX);
        assert_int_equal(vtc_params_parse(m, NULL, &v), 0);
        for (int j = 0; j < m->n_params; j++) assert_true(v.v[j] >= m->params[j].lo && v.v[j] <= m->params[j].hi);
        unsigned needs;
        assert_int_equal(vtc_method_needs(m->name, &needs), 0);
        assert_true(needs & VTC_F_FEATURES);
    }
}

static vtc_features *small(unsigned fields, int T) {
    vtc_features *f = vtc_features_new(T, 4, 6, 8, 4, 6, fields);
    assert_non_null(f);
    for (int i = 0; i < f->n; i++) {
        for (int d = 0; d < f->dim; d++) f->features[i * f->dim + d] = sinf((float)(i * 8 + d));
        if (f->keys)
            for (int d = 0; d < f->head_dim; d++) f->keys[i * f->head_dim + d] = cosf((float)(i * 3 + d));
        if (f->embeds)
            for (int d = 0; d < f->lm_dim; d++) f->embeds[i * f->lm_dim + d] = sinf((float)(i * 5 + d) * 0.7f);
        if (f->cls_attn) f->cls_attn[i] = (float)((i * 7) % f->n) / f->n;
    }
    if (f->cls)
        for (int d = 0; d < T * f->dim; d++) f->cls[d] = 0.5f;
    return f;
}

static void test_fields(void **state) {
    (void)state;
    vtc_tokens *t = NULL;
    // a method's required fields are checked before it runs
    vtc_features *f = small(VTC_F_FEATURES, 1);
    assert_int_equal(run("cls", f, 4, 0, NULL, 1, &t), VTC_ERR_NEEDS);
    assert_non_null(strstr(vtc_last_error(), "method cls needs cls_attn"));
    assert_int_equal(run("visionzip", f, 4, 0, NULL, 1, &t), VTC_ERR_NEEDS);
    assert_non_null(strstr(vtc_last_error(), "visionzip"));
    assert_int_equal(run("tome", f, 4, 0, "cls=1", 1, &t), VTC_ERR_NEEDS);
    assert_non_null(strstr(vtc_last_error(), "CLS"));
    // without embeds, methods defined on them fall back to the features
    assert_int_equal(run("divprune", f, 4, 0, NULL, 1, &t), 0);
    assert_int_equal(t->space, VTC_SPACE_FEATURES);
    assert_int_equal(t->dim, f->dim);
    vtc_tokens_free(t);
    // no attention at all: todre's pivot is seeded and said so
    assert_int_equal(run("todre", f, 4, 5, NULL, 1, &t), 0);
    assert_non_null(strstr(t->note, "random pivot"));
    vtc_tokens_free(t);
    // no keys: tome matches on the features
    assert_int_equal(run("tome", f, 4, 0, NULL, 1, &t), 0);
    assert_non_null(strstr(t->note, "no keys"));
    vtc_tokens_free(t);
    vtc_features_free(f);
    // with embeds, the output spaces are the methods' own
    f = small(VTC_F_FEATURES | VTC_F_CLS_ATTN | VTC_F_CLS_ATTN_FIRST | VTC_F_KEYS | VTC_F_EMBEDS | VTC_F_CLS, 1);
    for (int i = 0; i < vtc_method_count(); i++) {
        const struct vtc_method *m = vtc_method_find(vtc_method_name(i));
        if (!strcmp(m->name, "dycoke") || !strcmp(m->name, "vq")) continue; // temporal methods: test_temporal
        assert_int_equal(run(m->name, f, 6, 0, NULL, 1, &t), 0);
        assert_int_equal(t->space, m->space);
        assert_int_equal(t->dim, m->space == VTC_SPACE_EMBEDS ? f->lm_dim : f->dim);
        vtc_tokens_free(t);
    }
    // tome with cls=1: the CLS token leads, counts in k, and is never merged
    assert_int_equal(run("tome", f, 5, 0, "cls=1", 1, &t), 0);
    assert_int_equal(t->n, 5);
    assert_int_equal(t->index[0], -1);
    assert_int_equal(t->pos[1], -1);
    assert_true(t->weight[0] == 1.0f && t->data[0] == 0.5f);
    vtc_tokens_free(t);
    assert_int_equal(run("tome", f, 1, 0, "cls=1", 1, &t), VTC_ERR_ARG);
    // no CLS token (SigLIP): the ranking is by received attention and the note says so
    f->cls_is_received = 1;
    assert_int_equal(run("cls", f, 4, 0, NULL, 1, &t), 0);
    assert_non_null(strstr(t->note, "no CLS token"));
    vtc_tokens_free(t);
    assert_int_equal(run("visionzip", f, 6, 0, NULL, 1, &t), 0);
    for (int i = 0; i < t->n; i++) assert_true(t->index[i] >= 0); // no CLS token emitted
    vtc_tokens_free(t);
    vtc_features_free(f);
    // video: tome cls=1 refuses more than one frame
    f = small(VTC_F_FEATURES | VTC_F_KEYS | VTC_F_CLS, 2);
    assert_int_equal(run("tome", f, 6, 0, "cls=1", 1, &t), VTC_ERR_NEEDS);
    vtc_features_free(f);
}

// pool: the factor follows --keep when no size is given; 1-frame budgets below T.
static void test_pool_budget(void **state) {
    (void)state;
    vtc_features *f = small(VTC_F_FEATURES, 2); // 2 frames of 4 x 6
    vtc_tokens *t = NULL;
    assert_int_equal(run("pool", f, 0, 0, NULL, 1, &t), 0); // default size 2: 2 x 3 per frame
    assert_int_equal(t->n, 12);
    vtc_tokens_free(t);
    assert_int_equal(run("pool", f, 20, 0, NULL, 1, &t), 0); // s = 2 fits 20
    assert_int_equal(t->n, 12);
    vtc_tokens_free(t);
    assert_int_equal(run("pool", f, 8, 0, NULL, 1, &t), 0); // s = 3: 2 x 2 per frame
    assert_int_equal(t->n, 8);
    vtc_tokens_free(t);
    assert_int_equal(run("pool", f, 1, 0, "mode=2", 1, &t), 0); // at least one token per frame
    assert_int_equal(t->n, 2);
    vtc_tokens_free(t);
    assert_int_equal(run("pool", f, 0, 0, "size=5,mode=2", 1, &t), VTC_ERR_NEEDS); // no whole 5 x 5 window
    vtc_features_free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference), cmocka_unit_test(test_hired_reference),
        cmocka_unit_test(test_invariants),        cmocka_unit_test(test_hired_rules),
        cmocka_unit_test(test_keep_count),        cmocka_unit_test(test_params),
        cmocka_unit_test(test_fields),            cmocka_unit_test(test_pool_budget),
    };
    return cmocka_run_group_tests_name("prune", tests, NULL, NULL);
}
