// The reference decoder (lm/): text generation and tokenization against
// llama2.c's run.c (tests/fixtures/lm/, see run_c_fixtures.sh), logits against
// the PyTorch float64 reference tools/ref_llama.py, the batched and hooked
// paths against the plain one, FLOPs against base/flops.h, and hostile model
// files. Run from the repository root. The stories260K tests read
// ../shared/models/ (or $VTC_SHARED_MODELS) and skip when it is absent.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/common.h"
#include "base/flops.h"
#include "lm/lm.h"

#define FIX "tests/fixtures/lm/"

// ---------------------------------------------------------------- helpers

static char g_models[4096];

// The shared model folder, or NULL (and a message) when it is absent.
static const char *models_dir(void) {
    const char *env = getenv("VTC_SHARED_MODELS");
    snprintf(g_models, sizeof g_models, "%s", env && *env ? env : "../shared/models");
    char path[4200];
    snprintf(path, sizeof path, "%s/stories260K.bin", g_models);
    if (access(path, R_OK) != 0) {
        print_message("  skipped: %s not found (set VTC_SHARED_MODELS)\n", path);
        return NULL;
    }
    return g_models;
}

static char *read_all(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        print_error("cannot open %s (run the test from the repository root)\n", path);
        fail();
    }
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    if (len) *len = (size_t)n;
    return buf;
}

struct text {
    char *buf;
    size_t len, cap;
};

static int append_piece(void *user, const char *piece, size_t len) {
    struct text *t = user;
    if (t->len + len + 2 > t->cap) {
        t->cap = (t->len + len + 2) * 2;
        t->buf = realloc(t->buf, t->cap);
        if (!t->buf) return VTC_ERR_NOMEM;
    }
    memcpy(t->buf + t->len, piece, len);
    t->len += len;
    t->buf[t->len] = '\0';
    return 0;
}

struct stories {
    vtc_lm *lm;
    vtc_tokenizer *tok;
};

static int load_stories(struct stories *s) {
    const char *dir = models_dir();
    if (!dir) return 0;
    char path[4200];
    snprintf(path, sizeof path, "%s/stories260K.bin", dir);
    s->lm = vtc_lm_load(path, vtc_lm_params_default());
    if (!s->lm) print_error("%s\n", vtc_last_error());
    assert_non_null(s->lm);
    snprintf(path, sizeof path, "%s/tok512.bin", dir);
    s->tok = vtc_tokenizer_load(path, vtc_lm_get_config(s->lm)->vocab_size);
    if (!s->tok) print_error("%s\n", vtc_last_error());
    assert_non_null(s->tok);
    return 1;
}

static void free_stories(struct stories *s) {
    vtc_tokenizer_free(s->tok);
    vtc_lm_free(s->lm);
}

static vtc_lm *load_tiny(const char *file);

// ---------------------------------------------------------------- run.c parity

// Every case of cases.txt generates exactly run.c's stdout (which ends in "\n").
static void test_generate_matches_run_c(void **state) {
    (void)state;
    struct stories s;
    if (!load_stories(&s)) {
        skip();
        return;
    }
    const struct vtc_lm_config *cfg = vtc_lm_get_config(s.lm);
    assert_int_equal(cfg->dim, 64);
    assert_int_equal(cfg->n_kv_heads, 4);
    vtc_lm_ctx *ctx = vtc_lm_ctx_new(s.lm, vtc_lm_ctx_params_default());
    assert_non_null(ctx);
    FILE *fp = fopen(FIX "cases.txt", "r");
    assert_non_null(fp);
    char line[256];
    int n_cases = 0;
    while (fgets(line, sizeof line, fp)) {
        int id, steps;
        float temp, topp;
        unsigned long long seed;
        if (line[0] == '#' || sscanf(line, "%d %f %f %llu %d", &id, &temp, &topp, &seed, &steps) != 5) continue;
        char path[256];
        snprintf(path, sizeof path, FIX "gen_%d.prompt", id);
        char *prompt = read_all(path, NULL);
        snprintf(path, sizeof path, FIX "gen_%d.expected", id);
        size_t want_len;
        char *want = read_all(path, &want_len);
        struct vtc_lm_gen_params gp = { steps, temp, topp, seed };
        struct text out = { 0 };
        int32_t n_gen = 0;
        int st = vtc_lm_generate(ctx, s.tok, prompt, gp, append_piece, &out, &n_gen);
        if (st != 0) print_error("case %d: %s\n", id, vtc_last_error());
        assert_int_equal(st, 0);
        append_piece(&out, "\n", 1); // run.c ends with printf("\n")
        size_t at = 0;
        while (at < out.len && at < want_len && out.buf[at] == want[at]) at++;
        if (out.len != want_len || at != want_len) {
            print_error("case %d (t %g, p %g, seed %llu, -n %d): differs from run.c at byte %zu\n  got:  %s\n  want: %s\n",
                        id, temp, topp, seed, steps, at, out.buf, want);
            fail();
        }
        print_message("  case %d: t %.1f p %.1f seed %llu -n %3d: %3d tokens sampled, %4zu bytes identical to run.c\n",
                      id, temp, topp, seed, steps, (int)n_gen, want_len);
        free(out.buf);
        free(prompt);
        free(want);
        n_cases++;
    }
    fclose(fp);
    assert_true(n_cases >= 8);
    vtc_lm_ctx_free(ctx);
    free_stories(&s);
}

// Token ids of encode_prompts.txt equal run.c's encode() (encode.txt).
static void test_encode_matches_run_c(void **state) {
    (void)state;
    struct stories s;
    if (!load_stories(&s)) {
        skip();
        return;
    }
    char *all = read_all(FIX "encode.txt", NULL);
    int n_lines = 0;
    for (char *line = strtok(all, "\n"); line; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = '\0';
        char text[1024];
        size_t j = 0;
        for (size_t i = 0; line[i]; i++) {
            if (line[i] == '\\' && line[i + 1]) {
                i++;
                text[j++] = line[i] == 'n' ? '\n' : line[i] == 't' ? '\t' : line[i];
            } else {
                text[j++] = line[i];
            }
        }
        text[j] = '\0';
        int32_t got[1100], n = 0;
        assert_int_equal(vtc_tokenizer_encode(s.tok, text, 1, 0, got, (int32_t)(j + 3), &n), 0);
        int32_t want[1100], nw = 0;
        for (char *p = tab + 1; *p;) {
            char *e;
            long v = strtol(p, &e, 10);
            if (e == p) break;
            want[nw++] = (int32_t)v;
            p = e;
        }
        if (n != nw || memcmp(got, want, (size_t)n * sizeof *got) != 0) {
            print_error("encode(\"%s\"): %d tokens, run.c has %d\n", line, (int)n, (int)nw);
            fail();
        }
        n_lines++;
    }
    print_message("  %d prompts tokenized exactly as run.c\n", n_lines);
    // Decoding: BOS strips the leading space; raw bytes come back as bytes.
    size_t len;
    const char *p = vtc_tokenizer_decode(s.tok, 1, 403, &len); // " Once" after BOS
    assert_non_null(p);
    assert_int_equal(len, 4);
    assert_memory_equal(p, "Once", 4);
    p = vtc_tokenizer_decode(s.tok, 5, 13, &len); // <0x0A>
    assert_int_equal(len, 1);
    assert_int_equal(p[0], '\n');
    assert_null(vtc_tokenizer_decode(s.tok, 1, 512, &len));
    // A short output buffer is an error, not an overflow.
    int32_t small[3], n;
    assert_int_equal(vtc_tokenizer_encode(s.tok, "hello there", 1, 0, small, 3, &n), VTC_ERR_LIMIT);
    assert_int_equal(vtc_tokenizer_encode(s.tok, "Once", 1, 0, small, 3, &n), 0); // the result fits
    assert_int_equal(n, 2);
    free(all);
    free_stories(&s);
}

// ---------------------------------------------------------------- batched paths

static double max_abs_diff(const float *a, const float *b, int n, double *scale) {
    double m = 0, s = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m) m = d;
        if (fabs(b[i]) > s) s = fabs(b[i]);
    }
    if (scale) *scale = s;
    return m;
}

// A prefill whose rows are embedding rows (with position gaps) equals feeding
// the same rows one decode step at a time; and token rows equal their
// embedding rows. Logits of every row, compared to 1e-5 relative.
static void embed_prefill_case(vtc_lm *lm, const char *name) {
    const struct vtc_lm_config *cfg = vtc_lm_get_config(lm);
    int dim = cfg->dim, V = cfg->vocab_size;
    enum { N = 40 };
    int32_t toks[N], pos[N], mixed[N];
    float *emb = malloc(sizeof(float) * N * dim);
    int32_t n_emb = 0;
    for (int i = 0; i < N; i++) {
        toks[i] = (int32_t)((i * 37 + 11) % V);
        pos[i] = i < 10 ? i : i < 30 ? 20 + 2 * i : 100 + i; // gaps, as pruned visual tokens keep positions
        mixed[i] = toks[i];
        if (i >= 5 && i < 30) { // "visual" rows: embedding rows (here: perturbed token embeddings)
            mixed[i] = VTC_LM_EMBED;
            vtc_lm_token_embedding(lm, toks[i], emb + (size_t)n_emb * dim);
            for (int k = 0; k < dim; k++) emb[(size_t)n_emb * dim + k] *= 1.0f + 0.01f * (float)((k + i) % 7);
            n_emb++;
        }
    }
    struct vtc_lm_ctx_params cp = vtc_lm_ctx_params_default();
    cp.n_ctx = 64;
    vtc_lm_ctx *a = vtc_lm_ctx_new(lm, cp), *b = vtc_lm_ctx_new(lm, cp);
    assert_non_null(a);
    assert_non_null(b);
    struct vtc_lm_batch batch = { N, mixed, emb, pos, VTC_LM_LOGITS_ALL };
    assert_int_equal(vtc_lm_prefill(a, &batch), 0);
    double worst = 0;
    for (int i = 0, e = 0; i < N; i++) {
        struct vtc_lm_batch one = { 1, &mixed[i], mixed[i] == VTC_LM_EMBED ? emb + (size_t)e * dim : NULL, &pos[i],
                                    VTC_LM_LOGITS_LAST };
        if (mixed[i] == VTC_LM_EMBED) e++;
        int st = mixed[i] == VTC_LM_EMBED ? vtc_lm_prefill(b, &one) : vtc_lm_decode(b, mixed[i], pos[i]);
        assert_int_equal(st, 0);
        double scale, d = max_abs_diff(vtc_lm_logits(a, i), vtc_lm_logits(b, -1), V, &scale);
        if (d / scale > worst) worst = d / scale;
    }
    print_message("  %s: %d rows (25 embeddings, position gaps): batched vs one at a time, max rel diff %.2e (tol 1e-5)\n",
                  name, N, worst);
    assert_true(worst <= 1e-5);
    assert_int_equal(vtc_lm_ctx_n_cache(a), N);
    assert_int_equal(vtc_lm_ctx_next_pos(a), pos[N - 1] + 1);

    // A token row and its own embedding row give the same logits.
    vtc_lm_ctx_reset(a);
    vtc_lm_ctx_reset(b);
    float row[512];
    vtc_lm_token_embedding(lm, toks[3], row);
    struct vtc_lm_batch tb = { 4, toks, NULL, NULL, VTC_LM_LOGITS_LAST };
    int32_t et[4] = { toks[0], toks[1], toks[2], VTC_LM_EMBED };
    struct vtc_lm_batch eb = { 4, et, row, NULL, VTC_LM_LOGITS_LAST };
    assert_int_equal(vtc_lm_prefill(a, &tb), 0);
    assert_int_equal(vtc_lm_prefill(b, &eb), 0);
    assert_memory_equal(vtc_lm_logits(a, -1), vtc_lm_logits(b, -1), sizeof(float) * V);
    assert_null(vtc_lm_logits(a, 0)); // only the last row's logits were asked for

    // Bad batches fail cleanly and leave the cache as it was.
    int32_t bad_tok[2] = { 5, 512 }, bad_pos[2] = { 0, -3 };
    struct vtc_lm_batch bb = { 2, bad_tok, NULL, NULL, VTC_LM_LOGITS_LAST };
    assert_int_equal(vtc_lm_prefill(a, &bb), VTC_ERR_ARG);
    bb.tokens = toks;
    bb.pos = bad_pos;
    assert_int_equal(vtc_lm_prefill(a, &bb), VTC_ERR_ARG);
    bb.pos = NULL;
    bb.tokens = et + 2; // an embedding row without embeds
    assert_int_equal(vtc_lm_prefill(a, &bb), VTC_ERR_ARG);
    struct vtc_lm_batch big = { 61, toks, NULL, NULL, VTC_LM_LOGITS_LAST };
    assert_int_equal(vtc_lm_prefill(a, &big), VTC_ERR_LIMIT); // 4 used + 61 > 64 slots
    assert_int_equal(vtc_lm_ctx_n_cache(a), 4);
    vtc_lm_ctx_free(a);
    vtc_lm_ctx_free(b);
    free(emb);
}

static void test_embed_prefill_equals_stepwise(void **state) {
    (void)state;
    vtc_lm *tiny = load_tiny(FIX "tiny.bin");
    embed_prefill_case(tiny, "tiny.bin");
    vtc_lm_free(tiny);
    struct stories s;
    if (!load_stories(&s)) return;
    embed_prefill_case(s.lm, "stories260K");
    free_stories(&s);
}

// A prefix prefilled once and truncated back to serves continuations exactly
// as a fresh prefill of prefix + continuation does.
static void test_truncate_shared_prefix(void **state) {
    (void)state;
    vtc_lm *lm = load_tiny(FIX "tiny.bin");
    int32_t V = vtc_lm_get_config(lm)->vocab_size;
    vtc_lm_ctx *shared = vtc_lm_ctx_new(lm, vtc_lm_ctx_params_default());
    vtc_lm_ctx *fresh = vtc_lm_ctx_new(lm, vtc_lm_ctx_params_default());
    int32_t prefix[6] = { 1, 5, 9, 13, 17, 21 };
    struct vtc_lm_batch pb = { 6, prefix, NULL, NULL, VTC_LM_LOGITS_LAST };
    assert_int_equal(vtc_lm_prefill(shared, &pb), 0);
    for (int q = 0; q < 3; q++) {
        int32_t cont[3] = { (3 + q) % V, (7 + 2 * q) % V, (11 + q) % V }, all[9];
        memcpy(all, prefix, sizeof prefix);
        memcpy(all + 6, cont, sizeof cont);
        assert_int_equal(vtc_lm_ctx_truncate(shared, 6), 0);
        assert_int_equal(vtc_lm_ctx_next_pos(shared), 6);
        struct vtc_lm_batch cb = { 3, cont, NULL, NULL, VTC_LM_LOGITS_LAST };
        assert_int_equal(vtc_lm_prefill(shared, &cb), 0);
        vtc_lm_ctx_reset(fresh);
        struct vtc_lm_batch fb = { 9, all, NULL, NULL, VTC_LM_LOGITS_LAST };
        assert_int_equal(vtc_lm_prefill(fresh, &fb), 0);
        const float *a = vtc_lm_logits(shared, -1), *b = vtc_lm_logits(fresh, -1);
        for (int32_t i = 0; i < V; i++) assert_true(fabsf(a[i] - b[i]) <= 1e-5f * (1 + fabsf(b[i])));
    }
    assert_int_equal(vtc_lm_ctx_truncate(shared, 100), VTC_ERR_ARG);
    assert_int_equal(vtc_lm_ctx_truncate(shared, -1), VTC_ERR_ARG);
    vtc_lm_ctx_free(shared);
    vtc_lm_ctx_free(fresh);
    vtc_lm_free(lm);
}

// The counters agree with base/flops.h's accounting of the same run: a prefill
// of n tokens (LM head on the last) and decode steps at growing context.
static void flops_case(vtc_lm *lm, const char *name) {
    struct vtc_lm_shape shape;
    vtc_lm_get_shape(lm, &shape);
    vtc_lm_ctx *c = vtc_lm_ctx_new(lm, vtc_lm_ctx_params_default());
    int32_t toks[20];
    for (int i = 0; i < 20; i++) toks[i] = (100 + i) % shape.vocab;
    struct vtc_lm_batch b = { 20, toks, NULL, NULL, VTC_LM_LOGITS_LAST };
    assert_int_equal(vtc_lm_prefill(c, &b), 0);
    for (int g = 0; g < 5; g++) assert_int_equal(vtc_lm_decode(c, 7, -1), 0);
    struct vtc_lm_stats st;
    vtc_lm_get_stats(c, &st);
    double want_prefill = vtc_flops_lm_prefill(&shape, 20);
    double want_decode = vtc_flops_lm_decode(&shape, 20, 6); // 6 generated = prefill's + 5 steps
    print_message("  %s: prefill %.6g FLOPs (flops.h %.6g), decode %.6g (flops.h %.6g)\n", name, st.flops_prefill,
                  want_prefill, st.flops_decode, want_decode);
    assert_true(fabs(st.flops_prefill - want_prefill) <= 1e-9 * want_prefill);
    assert_true(fabs(st.flops_decode - want_decode) <= 1e-9 * want_decode);
    assert_int_equal(st.n_prefill_rows, 20);
    assert_int_equal(st.n_decode_steps, 5);
    assert_int_equal(st.n_cache, 25);
    size_t entry = 2 * (size_t)vtc_lm_get_config(lm)->kv_dim * sizeof(float), L = (size_t)shape.layers;
    assert_int_equal(st.kv_bytes, 25 * L * entry);
    assert_int_equal(st.kv_bytes_full, st.kv_bytes);
    assert_int_equal(st.kv_bytes_alloc, (size_t)vtc_lm_ctx_capacity(c) * L * entry);
    vtc_lm_ctx_free(c);
}

static void test_flops_and_kv_bytes(void **state) {
    (void)state;
    vtc_lm *tiny = load_tiny(FIX "tiny.bin");
    flops_case(tiny, "tiny.bin");
    vtc_lm_free(tiny);
    struct stories s;
    if (!load_stories(&s)) return;
    flops_case(s.lm, "stories260K");
    free_stories(&s);
}

// ---------------------------------------------------------------- PyTorch parity (tiny model)

// tools/ref_llama.py's values "name count\nv v v ...\n"; NULL when absent.
static double *fixture_values(const char *all, const char *name, int *n) {
    size_t len = strlen(name);
    for (const char *p = all; (p = strstr(p, name)) != NULL; p += len) {
        if ((p != all && p[-1] != '\n') || p[len] != ' ') continue;
        char *e;
        long count = strtol(p + len, &e, 10);
        double *v = malloc(sizeof(double) * (size_t)(count > 0 ? count : 1));
        assert_non_null(v);
        for (long i = 0; i < count; i++) v[i] = strtod(e, &e);
        *n = (int)count;
        return v;
    }
    print_error("fixture value %s missing\n", name);
    fail();
    return NULL;
}

static char *g_expected;

// max |got - want| / max(1, max |want|), printed; fails above tol.
static double check_close(const char *what, const float *got, const double *want, int n, double tol) {
    double m = 0, s = 1;
    for (int i = 0; i < n; i++) {
        double d = fabs(got[i] - want[i]);
        if (d > m) m = d;
        if (fabs(want[i]) > s) s = fabs(want[i]);
    }
    print_message("  %-34s %4d values, max |diff| %.2e, relative %.2e (tol %.0e)\n", what, n, m, m / s, tol);
    if (!(m / s <= tol)) fail();
    return m / s;
}

static vtc_lm *load_tiny(const char *file) {
    vtc_lm *lm = vtc_lm_load(file, vtc_lm_params_default());
    if (!lm) print_error("%s: %s\n", file, vtc_last_error());
    assert_non_null(lm);
    return lm;
}

struct mixed_case {
    int32_t tokens[12], pos[12];
    float embeds[6 * 64];
};

static void load_mixed(struct mixed_case *m, int dim) {
    int n;
    double *t = fixture_values(g_expected, "mixed_tokens", &n), *p = fixture_values(g_expected, "mixed_pos", &n);
    assert_int_equal(n, 12);
    for (int i = 0; i < 12; i++) {
        m->tokens[i] = t[i] < 0 ? VTC_LM_EMBED : (int32_t)t[i];
        m->pos[i] = (int32_t)p[i];
    }
    double *e = fixture_values(g_expected, "mixed_embeds", &n);
    assert_int_equal(n, 6 * dim);
    for (int i = 0; i < n; i++) m->embeds[i] = (float)e[i];
    free(t);
    free(p);
    free(e);
}

// Logits of every row for token-only and mixed (embedding rows, gapped
// positions) prompts, from the llama2.c file and the GGUF file of one model.
static void test_logits_match_pytorch(void **state) {
    (void)state;
    const char *files[] = { FIX "tiny.bin", FIX "tiny.gguf" };
    for (int f = 0; f < 2; f++) {
        vtc_lm *lm = load_tiny(files[f]);
        const struct vtc_lm_config *cfg = vtc_lm_get_config(lm);
        assert_int_equal(cfg->n_kv_heads, 2);
        assert_int_equal(cfg->shared_classifier, 0);
        vtc_lm_ctx *c = vtc_lm_ctx_new(lm, vtc_lm_ctx_params_default());
        assert_non_null(c);
        int n, nl;
        double *t = fixture_values(g_expected, "plain_tokens", &n);
        int32_t toks[12];
        for (int i = 0; i < n; i++) toks[i] = (int32_t)t[i];
        double *want = fixture_values(g_expected, "plain_logits", &nl);
        assert_int_equal(nl, n * cfg->vocab_size);
        struct vtc_lm_batch b = { n, toks, NULL, NULL, VTC_LM_LOGITS_ALL };
        assert_int_equal(vtc_lm_prefill(c, &b), 0);
        char what[64];
        for (int i = 0; i < n; i++) {
            snprintf(what, sizeof what, "%s plain row %d", f ? "gguf" : "llama2c", i);
            if (i == 0 || i == n - 1) check_close(what, vtc_lm_logits(c, i), want + (size_t)i * cfg->vocab_size,
                                                  cfg->vocab_size, 1e-4);
            else {
                double m = 0;
                for (int k = 0; k < cfg->vocab_size; k++) {
                    double d = fabs(vtc_lm_logits(c, i)[k] - want[(size_t)i * cfg->vocab_size + k]);
                    if (d > m) m = d;
                }
                assert_true(m <= 1e-4 * 4);
            }
        }
        free(t);
        free(want);

        struct mixed_case m;
        load_mixed(&m, cfg->dim);
        vtc_lm_ctx_reset(c);
        struct vtc_lm_batch mb = { 12, m.tokens, m.embeds, m.pos, VTC_LM_LOGITS_ALL };
        assert_int_equal(vtc_lm_prefill(c, &mb), 0);
        want = fixture_values(g_expected, "mixed_logits", &nl);
        float *got = malloc(sizeof(float) * (size_t)nl);
        for (int i = 0; i < 12; i++)
            memcpy(got + (size_t)i * cfg->vocab_size, vtc_lm_logits(c, i), sizeof(float) * (size_t)cfg->vocab_size);
        snprintf(what, sizeof what, "%s mixed, all 12 rows", f ? "gguf" : "llama2c");
        check_close(what, got, want, nl, 1e-4);
        free(got);
        free(want);
        vtc_lm_ctx_free(c);
        vtc_lm_free(lm);
    }
}

// FastV through the hook: layer 0's attention row of the last prompt row over
// the visual span, top 3 kept, the rest dropped from layer 1 on.
struct fastv_state {
    int32_t vis0, vis1, keep;
    float row[6];
    int32_t kept[6];
    int called;
};

static int fastv_hook(void *user, vtc_lm_ctx *ctx, const struct vtc_lm_hook_info *info) {
    struct fastv_state *s = user;
    if (info->is_decode || info->layer != 0) return 0;
    int st = vtc_lm_attn_row(ctx, info->first_slot + info->n_rows - 1, s->vis0, s->vis1, s->row);
    if (st != 0) return st;
    int32_t n = s->vis1 - s->vis0;
    uint8_t keep[6] = { 0 };
    for (int32_t k = 0; k < s->keep; k++) { // top-k, ties to the lower slot
        int32_t best = -1;
        for (int32_t i = 0; i < n; i++)
            if (!keep[i] && (best < 0 || s->row[i] > s->row[best])) best = i;
        keep[best] = 1;
    }
    for (int32_t i = 0, j = 0; i < n; i++)
        if (keep[i]) s->kept[j++] = s->vis0 + i;
    s->called++;
    return vtc_lm_drop(ctx, info->layer + 1, s->vis0, s->vis1, keep);
}

struct share_state {
    double t2v, v2t;
};

static int share_hook(void *user, vtc_lm_ctx *ctx, const struct vtc_lm_hook_info *info) {
    struct share_state *s = user;
    if (info->layer != 1) return 0;
    double a = 0, b = 0;
    int32_t nq;
    int st = vtc_lm_attn_share(ctx, 9, 12, 3, 9, &s->t2v, &nq);
    if (st == 0 && nq != 3) st = VTC_ERR_INTERNAL;
    // Text keys are [0, 3) and [9, 12): shares over disjoint spans add up.
    if (st == 0) st = vtc_lm_attn_share(ctx, 3, 9, 0, 3, &a, NULL);
    if (st == 0) st = vtc_lm_attn_share(ctx, 3, 9, 9, 12, &b, NULL);
    s->v2t = a + b;
    return st;
}

static void test_hooks_match_pytorch(void **state) {
    (void)state;
    vtc_lm *lm = load_tiny(FIX "tiny.bin");
    const struct vtc_lm_config *cfg = vtc_lm_get_config(lm);
    struct mixed_case m;
    load_mixed(&m, cfg->dim);
    vtc_lm_ctx *c = vtc_lm_ctx_new(lm, vtc_lm_ctx_params_default());
    struct vtc_lm_batch mb = { 12, m.tokens, m.embeds, m.pos, VTC_LM_LOGITS_LAST };
    int n;

    // ToDRE stage 2's shares at layer 1.
    struct share_state sh = { 0, 0 };
    vtc_lm_set_hook(c, share_hook, &sh);
    assert_int_equal(vtc_lm_prefill(c, &mb), 0);
    double *t2v = fixture_values(g_expected, "share_t2v_layer1", &n), *v2t = fixture_values(g_expected, "share_v2t_layer1", &n);
    print_message("  share t2v %.6f (ref %.6f), v2t %.6f (ref %.6f)\n", sh.t2v, t2v[0], sh.v2t, v2t[0]);
    assert_true(fabs(sh.t2v - t2v[0]) <= 1e-5 && fabs(sh.v2t - v2t[0]) <= 1e-5);
    free(t2v);
    free(v2t);

    // FastV at K = 1, then one decode step.
    vtc_lm_ctx_reset(c);
    struct fastv_state fv = { 3, 9, 3, { 0 }, { 0 }, 0 };
    vtc_lm_set_hook(c, fastv_hook, &fv);
    assert_int_equal(vtc_lm_prefill(c, &mb), 0);
    assert_int_equal(fv.called, 1);
    double *row = fixture_values(g_expected, "fastv_row_layer0", &n);
    check_close("fastv attention row, layer 0", fv.row, row, 6, 1e-5);
    double *kept = fixture_values(g_expected, "fastv_kept", &n);
    for (int i = 0; i < 3; i++) assert_int_equal(fv.kept[i], (int32_t)kept[i]);
    double *want = fixture_values(g_expected, "fastv_logits", &n);
    check_close("fastv last-row logits", vtc_lm_logits(c, -1), want, n, 1e-4);
    free(want);
    assert_int_equal(vtc_lm_decode(c, 25, 23), 0);
    want = fixture_values(g_expected, "fastv_decode_logits", &n);
    check_close("fastv decode-step logits", vtc_lm_logits(c, -1), want, n, 1e-4);
    free(want);
    // Executed work equals base/flops.h's account of FastV (K = 1, 6 -> 3 visual).
    struct vtc_lm_shape shape;
    vtc_lm_get_shape(lm, &shape);
    struct vtc_flops fl;
    assert_int_equal(vtc_lm_flops_split(&shape, 6, 3, 1, 6, 2, &fl), 0);
    struct vtc_lm_stats st;
    vtc_lm_get_stats(c, &st);
    print_message("  fastv prefill %.0f FLOPs (flops.h %.0f), decode %.0f (flops.h %.0f), kv %zu of %zu bytes\n",
                  st.flops_prefill, fl.prefill, st.flops_decode, fl.decode, st.kv_bytes, st.kv_bytes_full);
    assert_true(fabs(st.flops_prefill - fl.prefill) <= 1e-9 * fl.prefill);
    assert_true(fabs(st.flops_decode - fl.decode) <= 1e-9 * fl.decode);
    assert_int_equal(st.layer_rows, 12 + 9 + 2);
    size_t entry = 2 * (size_t)cfg->kv_dim * sizeof(float);
    assert_int_equal(st.kv_bytes, (size_t)(13 * 2 - 3) * entry);
    assert_int_equal(st.kv_bytes_full, (size_t)13 * 2 * entry);
    free(row);
    free(kept);

    // DyCoke-KV: the whole prompt cached, then a decode step whose layers >= 1
    // see the visual slots {3, 6, 8} only.
    vtc_lm_set_hook(c, NULL, NULL);
    vtc_lm_ctx_reset(c);
    mb.logits = VTC_LM_LOGITS_NONE;
    assert_int_equal(vtc_lm_prefill(c, &mb), 0);
    double *dk = fixture_values(g_expected, "dycoke_keep", &n);
    uint8_t keep[6] = { 0 };
    for (int i = 0; i < n; i++) keep[(int)dk[i] - 3] = 1;
    assert_int_equal(vtc_lm_mask(c, 1, 3, 9, keep), 0);
    assert_int_equal(vtc_lm_decode(c, 25, 23), 0);
    want = fixture_values(g_expected, "dycoke_decode_logits", &n);
    check_close("dycoke-kv decode-step logits", vtc_lm_logits(c, -1), want, n, 1e-4);
    vtc_lm_get_stats(c, &st);
    assert_int_equal(st.kv_bytes, st.kv_bytes_full); // the cache stays whole
    free(want);
    free(dk);

    // Misuse: hook-only calls outside a hook, bad spans and layers.
    float out[4];
    double share;
    assert_int_equal(vtc_lm_attn_row(c, 12, 0, 4, out), VTC_ERR_ARG);
    assert_int_equal(vtc_lm_attn_share(c, 0, 4, 0, 4, &share, NULL), VTC_ERR_ARG);
    assert_int_equal(vtc_lm_drop(c, 1, 5, 99, NULL), VTC_ERR_ARG);
    assert_int_equal(vtc_lm_drop(c, 3, 0, 1, NULL), VTC_ERR_ARG);
    assert_int_equal(vtc_lm_mask(c, -1, 0, 1, NULL), VTC_ERR_ARG);
    vtc_lm_ctx_free(c);
    vtc_lm_free(lm);
}

// The three policies end to end (tools/ref_llama.py's policy_* cases): the
// prefill's last-row logits, then the logits of each decode step.
static void run_policy_case(vtc_lm *lm, const char *name, const char *params, const char *key, int n_decode,
                            vtc_lm_policy **out_policy) {
    const struct vtc_lm_config *cfg = vtc_lm_get_config(lm);
    static const int32_t decode[6] = { 25, 30, 7, 7, 7, 12 };
    struct mixed_case m;
    load_mixed(&m, cfg->dim);
    vtc_lm_ctx *c = vtc_lm_ctx_new(lm, vtc_lm_ctx_params_default());
    vtc_lm_policy *p = vtc_lm_policy_new(name, params);
    if (!p) print_error("%s\n", vtc_last_error());
    assert_non_null(p);
    assert_int_equal(vtc_lm_policy_begin(p, c, 3, 9), 0);
    int n;
    char k[64];
    snprintf(k, sizeof k, "policy_%s_logits", key);
    double *want = fixture_values(g_expected, k, &n);
    int has_prefill = strcmp(name, "dycoke-kv") != 0; // dycoke's fixture has decode steps only
    assert_int_equal(n, (n_decode + has_prefill) * cfg->vocab_size);
    struct vtc_lm_batch mb = { 12, m.tokens, m.embeds, m.pos, VTC_LM_LOGITS_LAST };
    assert_int_equal(vtc_lm_prefill(c, &mb), 0);
    float *got = malloc(sizeof(float) * (size_t)n);
    int row = 0;
    if (has_prefill) memcpy(got, vtc_lm_logits(c, -1), sizeof(float) * (size_t)cfg->vocab_size), row++;
    for (int i = 0; i < n_decode; i++, row++) {
        assert_int_equal(vtc_lm_decode(c, decode[i], 23 + i), 0);
        memcpy(got + (size_t)row * cfg->vocab_size, vtc_lm_logits(c, -1), sizeof(float) * (size_t)cfg->vocab_size);
    }
    char what[80];
    snprintf(what, sizeof what, "policy %s %s", name, params);
    check_close(what, got, want, n, 1e-4);
    free(got);
    free(want);
    vtc_lm_set_hook(c, NULL, NULL);
    vtc_lm_ctx_free(c);
    *out_policy = p;
}

static void test_policies_match_pytorch(void **state) {
    (void)state;
    vtc_lm *lm = load_tiny(FIX "tiny.bin");
    vtc_lm_policy *p;
    struct vtc_lm_policy_report r;
    int n;

    run_policy_case(lm, "fastv", "k=1,r=0.5", "fastv", 6, &p);
    vtc_lm_policy_get_report(p, &r);
    double *kept = fixture_values(g_expected, "policy_fastv_kept", &n);
    assert_int_equal(r.n_kept, n);
    for (int i = 0; i < n; i++) assert_true(vtc_lm_policy_keep(p)[(int)kept[i] - 3]);
    free(kept);
    vtc_lm_policy_free(p);

    const char *todre[2][3] = { { "layer=0,tau=0.1", "todre2_keep", "policy_todre2_keep_alphas" },
                                { "layer=0,tau=0.99", "todre2_drop", "policy_todre2_drop_alphas" } };
    for (int t = 0; t < 2; t++) {
        run_policy_case(lm, "todre2", todre[t][0], todre[t][1], 2, &p);
        vtc_lm_policy_get_report(p, &r);
        double *a = fixture_values(g_expected, todre[t][2], &n);
        print_message("  todre2 alpha_tv %.6f (ref %.6f), alpha_vt %.6f (ref %.6f), dropped %d\n", r.alpha_tv, a[0],
                      r.alpha_vt, a[1], r.dropped_all);
        assert_true(fabs(r.alpha_tv - a[0]) <= 1e-5 && fabs(r.alpha_vt - a[1]) <= 1e-5);
        assert_int_equal(r.dropped_all, (int)a[2]);
        assert_int_equal(r.n_kept, a[2] ? 0 : 6);
        free(a);
        vtc_lm_policy_free(p);
    }

    run_policy_case(lm, "dycoke-kv", "l=1,p=0.5,sim=0.9", "dycoke", 6, &p);
    vtc_lm_policy_get_report(p, &r);
    double *sims = fixture_values(g_expected, "policy_dycoke_similarity", &n);
    int reselect = 0;
    for (int i = 0; i < n; i++) reselect += i == 0 || sims[i] < 0.9;
    print_message("  dycoke-kv %d steps, %d selections (ref %d), last similarity %.6f (ref %.6f)\n", r.n_steps,
                  r.n_reselect, reselect, r.similarity, sims[n - 1]);
    assert_int_equal(r.n_steps, 6);
    assert_int_equal(r.n_reselect, reselect);
    assert_true(fabs(r.similarity - sims[n - 1]) <= 1e-5);
    double *dk = fixture_values(g_expected, "policy_dycoke_kept", &n); // 3 kept per step
    for (int i = n - 3; i < n; i++) assert_true(vtc_lm_policy_keep(p)[(int)dk[i] - 3]);
    assert_int_equal(r.n_kept, 3);
    free(dk);
    free(sims);
    vtc_lm_policy_free(p);

    // The decisions on their own (what a host with its own decoder calls).
    assert_int_equal(vtc_lm_fastv_n_keep(576, 0.5), 288);
    assert_int_equal(vtc_lm_fastv_n_keep(5, 0.5), 3); // round half up
    assert_int_equal(vtc_lm_dycoke_n_keep(576, 0.7), 172);
    assert_true(vtc_lm_todre2_drop(0.05, 0.09, 0.1) && !vtc_lm_todre2_drop(0.05, 0.1, 0.1));
    float sc[5] = { 0.1f, 0.3f, 0.3f, 0.2f, 0.3f };
    uint8_t kp[5];
    assert_int_equal(vtc_lm_select_top(sc, 5, 2, kp), 0);
    uint8_t want_kp[5] = { 0, 1, 1, 0, 0 }; // ties go to the lower index
    assert_memory_equal(kp, want_kp, 5);
    assert_true(fabs(vtc_lm_cosine(sc, sc, 5) - 1.0) < 1e-12);

    // Parameters are checked; the registry lists them.
    assert_null(vtc_lm_policy_new("fastv", "k=0"));
    assert_null(vtc_lm_policy_new("fastv", "r=1"));
    assert_null(vtc_lm_policy_new("fastv", "k=1.5"));
    assert_null(vtc_lm_policy_new("fastv", "q=1"));
    assert_null(vtc_lm_policy_new("dycoke-kv", "p="));
    assert_null(vtc_lm_policy_new("nope", NULL));
    assert_int_equal(vtc_lm_policy_count(), 3);
    const char *pn, *pd;
    assert_int_equal(vtc_lm_policy_param(2, 2, &pn, &pd, NULL), 0);
    assert_string_equal(pn, "sim");
    assert_string_equal(pd, "0.9");
    // todre2's default layer is floor(7L/8): 1 of 2 here.
    p = vtc_lm_policy_new("todre2", NULL);
    vtc_lm_ctx *c = vtc_lm_ctx_new(lm, vtc_lm_ctx_params_default());
    assert_int_equal(vtc_lm_policy_begin(p, c, 3, 9), 0);
    vtc_lm_policy_get_report(p, &r);
    assert_int_equal(r.layer, 1);
    assert_int_equal(vtc_lm_policy_begin(p, c, 9, 3), VTC_ERR_ARG);
    vtc_lm_ctx_free(c);
    vtc_lm_policy_free(p);
    vtc_lm_free(lm);
}

// A hook's failure aborts the call and releases the batch's slots.
static int failing_hook(void *user, vtc_lm_ctx *ctx, const struct vtc_lm_hook_info *info) {
    (void)user;
    (void)ctx;
    return info->layer == 1 ? vtc_set_error(VTC_ERR_LIMIT, "test: stop") : 0;
}

static void test_hook_failure_rolls_back(void **state) {
    (void)state;
    vtc_lm *lm = load_tiny(FIX "tiny.bin");
    vtc_lm_ctx *c = vtc_lm_ctx_new(lm, vtc_lm_ctx_params_default());
    int32_t toks[3] = { 1, 2, 3 };
    struct vtc_lm_batch b = { 3, toks, NULL, NULL, VTC_LM_LOGITS_LAST };
    assert_int_equal(vtc_lm_prefill(c, &b), 0);
    vtc_lm_set_hook(c, failing_hook, NULL);
    assert_int_equal(vtc_lm_prefill(c, &b), VTC_ERR_LIMIT);
    assert_int_equal(vtc_lm_ctx_n_cache(c), 3);
    assert_null(vtc_lm_logits(c, -1));
    vtc_lm_set_hook(c, NULL, NULL);
    assert_int_equal(vtc_lm_decode(c, 4, -1), 0);
    assert_int_equal(vtc_lm_ctx_next_pos(c), 4);
    vtc_lm_ctx_free(c);
    vtc_lm_free(lm);
}

// The GGUF vocabulary reads as its tokenizer.bin twin (U+2581 -> ' ').
static void test_gguf_tokenizer(void **state) {
    (void)state;
    vtc_tokenizer *g = vtc_tokenizer_load_gguf(FIX "tiny.gguf");
    if (!g) print_error("%s\n", vtc_last_error());
    assert_non_null(g);
    vtc_tokenizer *b = vtc_tokenizer_load(FIX "tiny_tok.bin", 64);
    assert_non_null(b);
    assert_int_equal(vtc_tokenizer_vocab_size(g), 64);
    const char *texts[] = { "hello world", "the cat, the dog.", "abc abba", "", "zzz" };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int32_t a[64], c[64], na, nc;
        assert_int_equal(vtc_tokenizer_encode(g, texts[i], 1, 1, a, 64, &na), 0);
        assert_int_equal(vtc_tokenizer_encode(b, texts[i], 1, 1, c, 64, &nc), 0);
        assert_int_equal(na, nc);
        assert_memory_equal(a, c, sizeof(int32_t) * (size_t)na);
        char text[128] = "";
        for (int32_t k = 1; k + 1 < na; k++) {
            size_t len;
            const char *p = vtc_tokenizer_decode(g, a[k - 1], a[k], &len);
            strncat(text, p, len);
        }
        assert_string_equal(text, texts[i]);
    }
    int32_t ids[8], n;
    assert_int_equal(vtc_tokenizer_encode(g, "hello hello", 1, 0, ids, 8, &n), 0);
    assert_int_equal(n, 3); // BOS, " hello", " hello" (merged from 13 pieces)
    assert_int_equal(ids[1], ids[2]);
    vtc_tokenizer_free(g);
    vtc_tokenizer_free(b);
}

// Writes a llama2.c checkpoint with seeded random weights (shared classifier).
static char *write_random_llama2c(int32_t dim, int32_t hidden, int32_t layers, int32_t heads, int32_t kv_heads,
                                  int32_t vocab, int32_t seq) {
    int32_t hs = dim / heads, kv = hs * kv_heads;
    size_t floats = (size_t)vocab * dim + (size_t)layers * (2 * dim + 2 * (size_t)dim * dim + 2 * (size_t)kv * dim +
                                                             3 * (size_t)dim * hidden) + dim + (size_t)seq * hs;
    float *w = malloc(floats * sizeof(float));
    assert_non_null(w);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < floats; i++) { // xorshift, uniform in [-a, a] with a ~ sqrt(3 / dim)
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        w[i] = ((float)((x * 0x2545F4914F6CDD1Dull) >> 40) / 16777216.0f - 0.5f) * 2.0f * sqrtf(3.0f / (float)dim);
    }
    int32_t h[7] = { dim, hidden, layers, heads, kv_heads, vocab, seq };
    const char *dir = getenv("TMPDIR");
    char *path = malloc(256);
    snprintf(path, 256, "%s/vtc_lm_rand_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, h, sizeof h), (ssize_t)sizeof h);
    assert_int_equal(write(fd, w, floats * sizeof(float)), (ssize_t)(floats * sizeof(float)));
    close(fd);
    free(w);
    return path;
}

// Worker threads change nothing but the speed: a 200-row prefill and decode
// steps on 1 and 4 threads (both past the size where work is split).
static void test_threads_agree(void **state) {
    (void)state;
    char *path = write_random_llama2c(128, 352, 2, 8, 2, 300, 256);
    vtc_lm *lm = vtc_lm_load(path, vtc_lm_params_default());
    if (!lm) print_error("%s\n", vtc_last_error());
    assert_non_null(lm);
    unlink(path);
    free(path);
    struct vtc_lm_ctx_params cp = vtc_lm_ctx_params_default();
    cp.n_threads = 1;
    vtc_lm_ctx *one = vtc_lm_ctx_new(lm, cp);
    cp.n_threads = 4;
    vtc_lm_ctx *four = vtc_lm_ctx_new(lm, cp);
    enum { N = 200 };
    int32_t toks[N];
    for (int i = 0; i < N; i++) toks[i] = (i * 7919) % 300;
    struct vtc_lm_batch b = { N, toks, NULL, NULL, VTC_LM_LOGITS_ALL };
    double t0 = vtc_now_ms();
    assert_int_equal(vtc_lm_prefill(one, &b), 0);
    double t1 = vtc_now_ms();
    assert_int_equal(vtc_lm_prefill(four, &b), 0);
    double t2 = vtc_now_ms();
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double scale, d = max_abs_diff(vtc_lm_logits(four, i), vtc_lm_logits(one, i), 300, &scale);
        if (d / scale > worst) worst = d / scale;
    }
    for (int g = 0; g < 3; g++) {
        assert_int_equal(vtc_lm_decode(one, 11 + g, -1), 0);
        assert_int_equal(vtc_lm_decode(four, 11 + g, -1), 0);
        double scale, d = max_abs_diff(vtc_lm_logits(four, -1), vtc_lm_logits(one, -1), 300, &scale);
        if (d / scale > worst) worst = d / scale;
    }
    print_message("  200-row prefill: 1 thread %.1f ms, 4 threads %.1f ms; max rel diff %.2e (tol 1e-5)\n", t1 - t0,
                  t2 - t1, worst);
    assert_true(worst <= 1e-5);
    vtc_lm_ctx_free(one);
    vtc_lm_ctx_free(four);
    vtc_lm_free(lm);
}

// ---------------------------------------------------------------- hostile files

static char g_tmp[256];

static const char *write_tmp(const void *data, size_t n) {
    const char *dir = getenv("TMPDIR");
    snprintf(g_tmp, sizeof g_tmp, "%s/vtc_lm_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(g_tmp);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    return g_tmp;
}

// Expects vtc_lm_load to fail with `status` on this file.
static void expect_load_fail(const void *data, size_t n, int status, const char *what) {
    const char *path = write_tmp(data, n);
    vtc_lm *lm = vtc_lm_load(path, vtc_lm_params_default());
    if (lm || vtc_last_status() != status) {
        print_error("%s: got %s (%s), want %s\n", what, lm ? "a model" : vtc_status_str(vtc_last_status()),
                    vtc_last_error(), vtc_status_str(status));
        vtc_lm_free(lm);
        unlink(path);
        fail();
    }
    unlink(path);
}

static void test_hostile_checkpoints(void **state) {
    (void)state;
    // A valid header of a tiny model with its exact size, then variations.
    int32_t good[7] = { 8, 16, 1, 2, 1, 10, 4 };
    size_t floats = 10 * 8 + 2 * 8 + 8 * 8 + 2 * 4 * 8 + 8 * 8 + 3 * 16 * 8 + 8 + 4 * 4;
    size_t bytes = sizeof good + floats * 4;
    uint8_t *file = calloc(1, bytes + 64);
    memcpy(file, good, sizeof good);
    {
        const char *path = write_tmp(file, bytes);
        vtc_lm *lm = vtc_lm_load(path, vtc_lm_params_default());
        if (!lm) print_error("%s\n", vtc_last_error());
        assert_non_null(lm);
        assert_int_equal(vtc_lm_get_config(lm)->kv_dim, 4);
        vtc_lm_free(lm);
        unlink(path);
    }
    struct {
        int field;
        int32_t value;
        const char *what;
    } bad[] = {
        { 0, -8, "negative dim" },          { 0, 0, "zero dim" },
        { 1, -1, "negative hidden_dim" },   { 2, 0, "no layers" },
        { 3, 3, "dim % n_heads" },          { 4, 3, "n_heads % n_kv_heads" },
        { 4, 0, "zero kv heads" },          { 5, INT32_MIN, "vocab INT32_MIN" },
        { 6, -4, "negative seq_len" },      { 0, 1 << 30, "huge dim" },
        { 1, INT32_MAX, "huge hidden_dim" }, { 2, 1 << 20, "huge layer count" },
        { 6, INT32_MAX, "huge seq_len" },   { 3, 8, "odd head dimension" },
        { 5, 1 << 23, "vocab past the file" }, { 5, -10, "unshared classifier missing" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t h[7];
        memcpy(h, good, sizeof h);
        h[bad[i].field] = bad[i].value;
        memcpy(file, h, sizeof h);
        expect_load_fail(file, bytes, VTC_ERR_FORMAT, bad[i].what);
    }
    memcpy(file, good, sizeof good);
    expect_load_fail(file, bytes - 4, VTC_ERR_FORMAT, "truncated weights");
    expect_load_fail(file, bytes + 4, VTC_ERR_FORMAT, "trailing bytes");
    expect_load_fail(file, 20, VTC_ERR_FORMAT, "truncated header");
    expect_load_fail(file, 0, VTC_ERR_FORMAT, "empty file");
    expect_load_fail("ak42\1\0\0\0", 8, VTC_ERR_UNSUPPORTED, "llama2.c v1 magic");
    expect_load_fail("GGUF\3\0\0\0\0\0\0\0", 12, VTC_ERR_FORMAT, "truncated GGUF");
    // The memory limit is consulted before allocating.
    const char *path = write_tmp(file, bytes);
    struct vtc_lm_params p = vtc_lm_params_default();
    p.max_memory = 1000;
    assert_null(vtc_lm_load(path, p));
    assert_int_equal(vtc_last_status(), VTC_ERR_LIMIT);
    unlink(path);
    assert_null(vtc_lm_load("/nonexistent/model.bin", vtc_lm_params_default()));
    assert_int_equal(vtc_last_status(), VTC_ERR_IO);
    assert_null(vtc_lm_load(".", vtc_lm_params_default()));
    assert_int_equal(vtc_last_status(), VTC_ERR_IO);
    free(file);
}

static void test_hostile_tokenizers(void **state) {
    (void)state;
    // max_token_length, then (score, len, bytes) records.
    uint8_t buf[64] = { 0 };
    int32_t v = 4;
    memcpy(buf, &v, 4);
    float score = 0;
    size_t off = 4;
    const char *pieces[3] = { "<unk>", "a", "b" };
    for (int i = 0; i < 3; i++) {
        int32_t len = (int32_t)strlen(pieces[i]);
        memcpy(buf + off, &score, 4);
        memcpy(buf + off + 4, &len, 4);
        memcpy(buf + off + 8, pieces[i], (size_t)len);
        off += 8 + (size_t)len;
    }
    const char *path = write_tmp(buf, off);
    vtc_tokenizer *t = vtc_tokenizer_load(path, 3);
    assert_non_null(t);
    int32_t ids[16], n;
    // No " " entry for the dummy prefix, and byte fallback past the vocabulary: errors.
    assert_int_equal(vtc_tokenizer_encode(t, "ab", 1, 0, ids, 16, &n), VTC_ERR_UNSUPPORTED);
    assert_int_equal(vtc_tokenizer_encode(t, "", 1, 1, ids, 16, &n), 0);
    assert_int_equal(n, 2);
    vtc_tokenizer_free(t);
    assert_null(vtc_tokenizer_load(path, 4)); // one record short
    assert_int_equal(vtc_last_status(), VTC_ERR_FORMAT);
    assert_null(vtc_tokenizer_load(path, 0));
    assert_int_equal(vtc_last_status(), VTC_ERR_ARG);
    // fewer than <unk>, BOS and EOS: encoding with BOS would name an id past the vocabulary
    assert_null(vtc_tokenizer_load(path, 2));
    assert_int_equal(vtc_last_status(), VTC_ERR_ARG);
    unlink(path);
    int32_t neg = -5;
    memcpy(buf + 4 + 4, &neg, 4); // first record's length
    path = write_tmp(buf, off);
    assert_null(vtc_tokenizer_load(path, 3));
    assert_int_equal(vtc_last_status(), VTC_ERR_FORMAT);
    unlink(path);
    int32_t huge = INT32_MAX;
    memcpy(buf + 4 + 4, &huge, 4);
    path = write_tmp(buf, off);
    assert_null(vtc_tokenizer_load(path, 3));
    unlink(path);
}

static int group_setup(void **state) {
    (void)state;
    FILE *fp = fopen(FIX "tiny_expected.txt", "rb");
    if (!fp) {
        fprintf(stderr, "cannot open %stiny_expected.txt (run the test from the repository root)\n", FIX);
        return -1;
    }
    fclose(fp);
    g_expected = read_all(FIX "tiny_expected.txt", NULL);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    free(g_expected);
    return 0;
}

// Copies of tiny.gguf with one field changed: each is refused with the right status.
static void gguf_patched(const uint8_t *file, size_t size, const char *find, size_t skip, const void *bytes,
                         size_t n_bytes, int status, const char *what) {
    uint8_t *copy = malloc(size);
    memcpy(copy, file, size);
    uint8_t *at = memmem(copy, size, find, strlen(find));
    assert_non_null(at);
    memcpy(at + skip, bytes, n_bytes);
    expect_load_fail(copy, size, status, what);
    free(copy);
}

static void test_hostile_gguf(void **state) {
    (void)state;
    size_t size;
    uint8_t *file = (uint8_t *)read_all(FIX "tiny.gguf", &size);
    uint32_t v;
    // A u32 key-value: the key's bytes, then u32 type, then the value.
#define U32_AFTER(key) key, strlen(key) + 4
    gguf_patched(file, size, "llama", 0, "llamb", 5, VTC_ERR_UNSUPPORTED, "architecture llamb");
    v = 33;
    gguf_patched(file, size, U32_AFTER("llama.embedding_length"), &v, 4, VTC_ERR_FORMAT, "dim % heads");
    v = 3;
    gguf_patched(file, size, U32_AFTER("llama.attention.head_count_kv"), &v, 4, VTC_ERR_FORMAT, "heads % kv heads");
    gguf_patched(file, size, U32_AFTER("llama.block_count"), &v, 4, VTC_ERR_FORMAT, "a missing block");
    v = 0;
    gguf_patched(file, size, U32_AFTER("llama.block_count"), &v, 4, VTC_ERR_FORMAT, "no blocks");
    v = 0x7fffffff;
    gguf_patched(file, size, U32_AFTER("llama.feed_forward_length"), &v, 4, VTC_ERR_FORMAT, "huge ffn");
    v = 81;
    gguf_patched(file, size, U32_AFTER("llama.feed_forward_length"), &v, 4, VTC_ERR_FORMAT, "ffn shape mismatch");
    v = 4;
    gguf_patched(file, size, U32_AFTER("llama.rope.dimension_count"), &v, 4, VTC_ERR_UNSUPPORTED, "partial rope");
    gguf_patched(file, size, "blk.1.ffn_up.weight", 10, "uq", 2, VTC_ERR_FORMAT, "a missing tensor");
#undef U32_AFTER
    expect_load_fail(file, size - 100, VTC_ERR_FORMAT, "truncated GGUF data");
    expect_load_fail(file, 200, VTC_ERR_FORMAT, "truncated GGUF header");
    // The tied-classifier variant (no output.weight) loads: rename the tensor away.
    uint8_t *copy = malloc(size);
    memcpy(copy, file, size);
    uint8_t *at = memmem(copy, size, "output.weight", 13);
    memcpy(at, "outpux", 6);
    const char *path = write_tmp(copy, size);
    vtc_lm *lm = vtc_lm_load(path, vtc_lm_params_default());
    if (!lm) print_error("%s\n", vtc_last_error());
    assert_non_null(lm);
    assert_int_equal(vtc_lm_get_config(lm)->shared_classifier, 1);
    vtc_lm_free(lm);
    unlink(path);
    free(copy);
    free(file);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logits_match_pytorch),
        cmocka_unit_test(test_hooks_match_pytorch),
        cmocka_unit_test(test_policies_match_pytorch),
        cmocka_unit_test(test_hook_failure_rolls_back),
        cmocka_unit_test(test_gguf_tokenizer),
        cmocka_unit_test(test_generate_matches_run_c),
        cmocka_unit_test(test_encode_matches_run_c),
        cmocka_unit_test(test_embed_prefill_equals_stepwise),
        cmocka_unit_test(test_flops_and_kv_bytes),
        cmocka_unit_test(test_truncate_shared_prefix),
        cmocka_unit_test(test_threads_agree),
        cmocka_unit_test(test_hostile_checkpoints),
        cmocka_unit_test(test_hostile_tokenizers),
        cmocka_unit_test(test_hostile_gguf),
    };
    return cmocka_run_group_tests_name("lm", tests, group_setup, group_teardown);
}
