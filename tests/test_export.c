// The GGUF writer (base/gguf_write.c) and `vtc export-lm`'s conversion
// (lm/export.c): the writer read back by vtc's GGUF reader; tiny.bin exported
// as F16 against tiny.gguf, which tools/ref_llama.py wrote independently the
// way llama.cpp's converter writes the same weights (byte-identical tensors,
// the same vocabulary); the trained model's decoder (samples/vlm) giving the
// same logits from the exported file as from its llama2.c checkpoint; and the
// inputs the exporter refuses. Run from the repository root.
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
#include "base/gguf.h"
#include "base/mapfile.h"
#include "lm/lm.h"

#define FIX "tests/fixtures/lm/"
#define VLM "samples/vlm/"

// ---------------------------------------------------------------- helpers

// A file's bytes, malloc'ed (through base/mapfile's reader).
static char *read_all(const char *path, size_t *len) {
    vtc_file f;
    if (vtc_file_open(path, 0, &f)) print_error("%s (run the test from the repository root)\n", vtc_last_error());
    assert_non_null(f.data);
    char *buf = malloc(f.size + 1);
    assert_non_null(buf);
    memcpy(buf, f.data, f.size);
    *len = f.size;
    vtc_file_close(&f);
    return buf;
}

// A fresh temporary path (the file itself removed) in slot 0..3.
static const char *tmp_path(int slot) {
    static char paths[4][256];
    const char *dir = getenv("TMPDIR");
    snprintf(paths[slot], sizeof paths[slot], "%s/vtc_export_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(paths[slot]);
    assert_true(fd >= 0);
    close(fd);
    unlink(paths[slot]);
    return paths[slot];
}

static const char *write_tmp(int slot, const void *data, size_t n) {
    const char *path = tmp_path(slot);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
    return path;
}

static vtc_lm *load(const char *path) {
    vtc_lm *lm = vtc_lm_load(path, vtc_lm_params_default());
    if (!lm) print_error("%s: %s\n", path, vtc_last_error());
    assert_non_null(lm);
    return lm;
}

// Logits of every row of [BOS, n_embed rows, tokens...] (positions 0..), vocab
// floats a row, malloc'ed.
static float *logits_of(const vtc_lm *lm, const float *embeds, int32_t n_embed, const int32_t *tokens, int32_t n_tok) {
    const struct vtc_lm_config *c = vtc_lm_get_config(lm);
    int32_t n = 1 + n_embed + n_tok, rows[64];
    assert_true(n <= 64);
    rows[0] = 1;
    for (int32_t i = 0; i < n_embed; i++) rows[1 + i] = VTC_LM_EMBED;
    for (int32_t i = 0; i < n_tok; i++) rows[1 + n_embed + i] = tokens[i];
    vtc_lm_ctx *ctx = vtc_lm_ctx_new(lm, vtc_lm_ctx_params_default());
    assert_non_null(ctx);
    struct vtc_lm_batch b = { n, rows, embeds, NULL, VTC_LM_LOGITS_ALL };
    assert_int_equal(vtc_lm_prefill(ctx, &b), 0);
    float *out = malloc(sizeof *out * (size_t)n * (size_t)c->vocab_size);
    assert_non_null(out);
    for (int32_t i = 0; i < n; i++)
        memcpy(out + (size_t)i * c->vocab_size, vtc_lm_logits(ctx, i), sizeof *out * (size_t)c->vocab_size);
    vtc_lm_ctx_free(ctx);
    return out;
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

// Exports model + tokenizer files; the status.
static int export_files(const char *model, const char *tok, const char *out, int f16) {
    vtc_lm *lm = load(model);
    vtc_tokenizer *t = vtc_tokenizer_load(tok, vtc_lm_get_config(lm)->vocab_size);
    if (!t) print_error("%s: %s\n", tok, vtc_last_error());
    assert_non_null(t);
    int st = vtc_lm_export_gguf(lm, t, out, f16, "test");
    vtc_tokenizer_free(t);
    vtc_lm_free(lm);
    return st;
}

// ---------------------------------------------------------------- the writer

static void test_writer_roundtrip(void **state) {
    (void)state;
    float m[6] = { 1, -2, 0.5f, 3e-5f, 65504, -0.1f }, v[3] = { 7, 8, 9 };
    int32_t ints[3] = { -1, 0, 1 << 30 };
    const char *strs[2] = { "a\xe2\x96\x81" "b", "" };
    vtc_gguf_writer *w = vtc_gguf_writer_new();
    assert_non_null(w);
    assert_int_equal(vtc_gguf_writer_str(w, "general.architecture", "llama"), 0);
    assert_int_equal(vtc_gguf_writer_u32(w, "k.u32", 4096), 0);
    assert_int_equal(vtc_gguf_writer_f32(w, "k.f32", 1e-5f), 0);
    assert_int_equal(vtc_gguf_writer_bool(w, "k.bool", 1), 0);
    assert_int_equal(vtc_gguf_writer_arr_str(w, "k.strs", strs, 2), 0);
    assert_int_equal(vtc_gguf_writer_arr_f32(w, "k.f32s", v, 3), 0);
    assert_int_equal(vtc_gguf_writer_arr_i32(w, "k.i32s", ints, 3), 0);
    assert_int_equal(vtc_gguf_writer_u32(w, "k.u32", 1), VTC_ERR_ARG); // set twice
    assert_int_equal(vtc_gguf_writer_str(w, "", "x"), VTC_ERR_ARG);
    int64_t shape2[2] = { 2, 3 }, shape1[1] = { 3 }, bad[2] = { 2, 0 };
    assert_int_equal(vtc_gguf_writer_tensor(w, "m16", 1, 2, shape2, m), 0);
    assert_int_equal(vtc_gguf_writer_tensor(w, "v32", 0, 1, shape1, v), 0);
    assert_int_equal(vtc_gguf_writer_tensor(w, "v32", 0, 1, shape1, v), VTC_ERR_ARG);
    assert_int_equal(vtc_gguf_writer_tensor(w, "q", 8, 1, shape1, v), VTC_ERR_ARG);
    assert_int_equal(vtc_gguf_writer_tensor(w, "z", 0, 2, bad, v), VTC_ERR_ARG);
    const char *path = tmp_path(0);
    assert_int_equal(vtc_gguf_writer_write(w, path), 0);
    vtc_gguf_writer_free(w);

    vtc_gguf *g = NULL;
    if (vtc_gguf_open(path, 0, &g)) print_error("%s\n", vtc_last_error());
    assert_non_null(g);
    assert_int_equal(vtc_gguf_version(g), 3);
    assert_int_equal(vtc_gguf_count_kv(g), 7);
    const char *s;
    int64_t iv;
    double dv;
    int bv, n;
    assert_int_equal(vtc_gguf_get_str(g, "general.architecture", &s), 0);
    assert_string_equal(s, "llama");
    assert_int_equal(vtc_gguf_kv_type(g, vtc_gguf_find_key(g, "k.u32")), VTC_GGUF_U32);
    assert_int_equal(vtc_gguf_get_int(g, "k.u32", &iv), 0);
    assert_int_equal(iv, 4096);
    assert_int_equal(vtc_gguf_get_float(g, "k.f32", &dv), 0);
    assert_true(dv == (double)1e-5f);
    assert_int_equal(vtc_gguf_get_bool(g, "k.bool", &bv), 0);
    assert_int_equal(bv, 1);
    assert_int_equal(vtc_gguf_get_arr_str(g, "k.strs", 0, &s), 0);
    assert_string_equal(s, strs[0]);
    assert_int_equal(vtc_gguf_get_arr_str(g, "k.strs", 1, &s), 0);
    assert_string_equal(s, "");
    float fv[3];
    int32_t iv3[3];
    assert_int_equal(vtc_gguf_get_arr_f32(g, "k.f32s", fv, 3, &n), 0);
    assert_memory_equal(fv, v, sizeof v);
    assert_int_equal(vtc_gguf_get_arr_i32(g, "k.i32s", iv3, 3, &n), 0);
    assert_memory_equal(iv3, ints, sizeof ints);
    assert_int_equal(vtc_gguf_count_tensors(g), 2);
    const vtc_tensor_view *t = vtc_gguf_find_tensor(g, "m16");
    assert_non_null(t);
    assert_int_equal(vtc_gguf_tensor_type(g, 0), 1);
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->shape[0], 2);
    assert_int_equal(t->shape[1], 3);
    float back[6];
    assert_int_equal(vtc_tensor_to_f32(t, back, 6), 0);
    for (int i = 0; i < 6; i++) assert_true(back[i] == vtc_f16_to_f32(vtc_f32_to_f16(m[i])));
    t = vtc_gguf_find_tensor(g, "v32");
    assert_int_equal(vtc_tensor_to_f32(t, back, 3), 0);
    assert_memory_equal(back, v, sizeof v);
    vtc_gguf_close(g);
    unlink(path);

    // a finite value F16 cannot hold: an error, and no file
    float big[2] = { 1, 70000 };
    int64_t two[1] = { 2 };
    w = vtc_gguf_writer_new();
    assert_int_equal(vtc_gguf_writer_tensor(w, "big", 1, 1, two, big), 0);
    path = tmp_path(0);
    assert_int_equal(vtc_gguf_writer_write(w, path), VTC_ERR_FORMAT);
    assert_non_null(strstr(vtc_last_error(), "F16"));
    assert_int_equal(access(path, F_OK), -1);
    vtc_gguf_writer_free(w);
}

// ---------------------------------------------------------------- the conversion

// tiny.bin as F16 against tiny.gguf (tools/ref_llama.py, written as llama.cpp's
// converter writes it): every tensor byte-identical, the vocabulary the same,
// and the decoder's logits the same from both.
static void test_export_matches_converter(void **state) {
    (void)state;
    const char *out = tmp_path(1);
    int st = export_files(FIX "tiny.bin", FIX "tiny_tok.bin", out, 1);
    if (st) print_error("%s\n", vtc_last_error());
    assert_int_equal(st, 0);
    vtc_gguf *a = NULL, *b = NULL;
    assert_int_equal(vtc_gguf_open(out, 0, &a), 0);
    assert_int_equal(vtc_gguf_open(FIX "tiny.gguf", 0, &b), 0);
    assert_int_equal(vtc_gguf_count_tensors(a), vtc_gguf_count_tensors(b));
    for (int i = 0; i < vtc_gguf_count_tensors(b); i++) {
        const vtc_tensor_view *want = vtc_gguf_tensor(b, i), *got = vtc_gguf_find_tensor(a, want->name);
        if (!got) print_error("%s missing\n", want->name);
        assert_non_null(got);
        assert_int_equal(vtc_gguf_tensor_type(a, vtc_gguf_find_tensor_index(a, want->name)), vtc_gguf_tensor_type(b, i));
        assert_int_equal(got->n_dims, want->n_dims);
        assert_memory_equal(got->shape, want->shape, sizeof(int64_t) * (size_t)want->n_dims);
        assert_int_equal(got->nbytes, want->nbytes);
        if (memcmp(got->data, want->data, want->nbytes)) print_error("%s: bytes differ\n", want->name);
        assert_memory_equal(got->data, want->data, want->nbytes);
    }
    const char *keys[] = { "general.architecture", "llama.context_length", "llama.embedding_length",
                           "llama.block_count", "llama.feed_forward_length", "llama.rope.dimension_count",
                           "llama.attention.head_count", "llama.attention.head_count_kv", "tokenizer.ggml.model",
                           "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id" };
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        char x[256], y[256];
        assert_int_equal(vtc_gguf_kv_format(a, vtc_gguf_find_key(a, keys[k]), x, sizeof x), 0);
        assert_int_equal(vtc_gguf_kv_format(b, vtc_gguf_find_key(b, keys[k]), y, sizeof y), 0);
        assert_string_equal(x, y);
    }
    double ea, eb;
    assert_int_equal(vtc_gguf_get_float(a, "llama.attention.layer_norm_rms_epsilon", &ea), 0);
    assert_int_equal(vtc_gguf_get_float(b, "llama.attention.layer_norm_rms_epsilon", &eb), 0);
    assert_true(ea == eb);
    float sa[64], sb[64];
    int na, nb;
    assert_int_equal(vtc_gguf_get_arr_f32(a, "tokenizer.ggml.scores", sa, 64, &na), 0);
    assert_int_equal(vtc_gguf_get_arr_f32(b, "tokenizer.ggml.scores", sb, 64, &nb), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(sa, sb, sizeof(float) * (size_t)na);
    for (int i = 0; i < na; i++) {
        const char *x, *y;
        assert_int_equal(vtc_gguf_get_arr_str(a, "tokenizer.ggml.tokens", i, &x), 0);
        assert_int_equal(vtc_gguf_get_arr_str(b, "tokenizer.ggml.tokens", i, &y), 0);
        assert_string_equal(x, y);
    }
    int32_t types[64];
    assert_int_equal(vtc_gguf_get_arr_i32(a, "tokenizer.ggml.token_type", types, 64, &na), 0);
    assert_int_equal(types[0], 2); // unknown
    assert_int_equal(types[1], 3); // control
    assert_int_equal(types[2], 3);
    assert_int_equal(types[3], 1); // normal
    vtc_gguf_close(a);
    vtc_gguf_close(b);

    vtc_lm *from_bin = load(FIX "tiny.bin"), *from_gguf = load(out);
    int32_t toks[5] = { 40, 17, 9, 33, 60 };
    float emb[2 * 32];
    for (int i = 0; i < 64; i++) emb[i] = (float)sin(0.37 * i);
    float *x = logits_of(from_bin, emb, 2, toks, 5), *y = logits_of(from_gguf, emb, 2, toks, 5);
    assert_memory_equal(x, y, sizeof(float) * 8 * 64); // the weights are F16-representable: exact
    free(x);
    free(y);
    vtc_lm_free(from_bin);
    vtc_lm_free(from_gguf);
    unlink(out);
}

// The trained model's decoder: F32 export gives the very same logits and
// tokens as the llama2.c files; F16 within F16's rounding of the weights.
static void test_export_vlm(void **state) {
    (void)state;
    vtc_lm *bin = load(VLM "lm.bin");
    const struct vtc_lm_config *c = vtc_lm_get_config(bin);
    int32_t V = c->vocab_size, D = c->dim;
    vtc_tokenizer *tok = vtc_tokenizer_load(VLM "tokenizer.bin", V);
    assert_non_null(tok);
    const char *q = "how many boots are at the top-left ?";
    int32_t ids[64], n_ids;
    assert_int_equal(vtc_tokenizer_encode(tok, q, 0, 0, ids, 64, &n_ids), 0);
    float *emb = malloc(sizeof *emb * 8 * (size_t)D);
    for (int r = 0; r < 8; r++) assert_int_equal(vtc_lm_token_embedding(bin, 3 + 17 * r, emb + (size_t)r * D), 0);
    for (int i = 0; i < 8 * D; i++) emb[i] += 0.01f * (float)cos(0.11 * i); // rows off the vocabulary
    float *want = logits_of(bin, emb, 8, ids, n_ids);
    size_t n_logits = (size_t)(1 + 8 + n_ids) * (size_t)V;
    for (int f16 = 0; f16 < 2; f16++) {
        const char *out = tmp_path(2);
        assert_int_equal(vtc_lm_export_gguf(bin, tok, out, f16, "vlm"), 0);
        vtc_lm *g = load(out);
        float *got = logits_of(g, emb, 8, ids, n_ids);
        double d = max_abs_diff(got, want, n_logits);
        print_message("  samples/vlm exported as %s: largest logit difference %.3g\n", f16 ? "F16" : "F32", d);
        if (!f16) assert_true(d == 0);
        else assert_true(d < 0.05);
        vtc_tokenizer *gt = vtc_tokenizer_load_gguf(out);
        assert_non_null(gt);
        int32_t gids[64], n_g;
        assert_int_equal(vtc_tokenizer_encode(gt, q, 1, 0, gids, 64, &n_g), 0);
        assert_int_equal(n_g, 1 + n_ids);
        assert_memory_equal(gids + 1, ids, sizeof(int32_t) * (size_t)n_ids);
        vtc_tokenizer_free(gt);
        free(got);
        vtc_lm_free(g);
        unlink(out);
    }
    free(want);
    free(emb);
    vtc_tokenizer_free(tok);
    vtc_lm_free(bin);
}

// ---------------------------------------------------------------- refused

static void expect_refused(const char *model, const char *tok, int f16, int status, const char *needle) {
    const char *out = tmp_path(3);
    int st = export_files(model, tok, out, f16);
    if (st != status || !strstr(vtc_last_error(), needle))
        print_error("got %s (%s), want %s mentioning \"%s\"\n", vtc_status_str(st), vtc_last_error(),
                    vtc_status_str(status), needle);
    assert_int_equal(st, status);
    assert_non_null(strstr(vtc_last_error(), needle));
    assert_int_equal(access(out, F_OK), -1); // nothing written
}

// The same with a model or tokenizer file of these bytes (written, then removed).
static void refused_bytes(const void *model, size_t nm, const void *tok, size_t nt, int f16, int status,
                          const char *needle) {
    const char *m = model ? write_tmp(0, model, nm) : FIX "tiny.bin";
    const char *t = tok ? write_tmp(1, tok, nt) : FIX "tiny_tok.bin";
    expect_refused(m, t, f16, status, needle);
    if (model) unlink(m);
    if (tok) unlink(t);
}

static void test_export_refuses(void **state) {
    (void)state;
    size_t nm, nt;
    char *model = read_all(FIX "tiny.bin", &nm), *tok = read_all(FIX "tiny_tok.bin", &nt);
    // two entries that become one token ("ba" -> "ab"): llama.cpp aborts on them
    char *dup = malloc(nt);
    memcpy(dup, tok, nt);
    char *at = memmem(dup, nt, "\x02\0\0\0ba", 6);
    assert_non_null(at);
    memcpy(at + 4, "ab", 2);
    refused_bytes(NULL, 0, dup, nt, 0, VTC_ERR_UNSUPPORTED, "both \"ab\"");
    // an entry that is not UTF-8
    memcpy(at + 4, "\xff" "b", 2);
    refused_bytes(NULL, 0, dup, nt, 0, VTC_ERR_UNSUPPORTED, "not UTF-8");
    // a non-finite score
    memcpy(at + 4, "ba", 2);
    float inf = INFINITY;
    memcpy(at - 4, &inf, 4);
    refused_bytes(NULL, 0, dup, nt, 0, VTC_ERR_FORMAT, "score");
    // a NaN weight; a weight F16 cannot hold (F32 takes it)
    char *bad = malloc(nm);
    memcpy(bad, model, nm);
    float nan = NAN, huge = 1e6f;
    memcpy(bad + 28 + 4 * 100, &nan, 4);
    refused_bytes(bad, nm, NULL, 0, 0, VTC_ERR_FORMAT, "token_embd.weight: element 100");
    memcpy(bad + 28 + 4 * 100, &huge, 4);
    refused_bytes(bad, nm, NULL, 0, 1, VTC_ERR_FORMAT, "F16");
    const char *in = write_tmp(0, bad, nm), *out = tmp_path(3);
    assert_int_equal(export_files(in, FIX "tiny_tok.bin", out, 0), 0);
    unlink(in);
    unlink(out);
    // a vocabulary of another size
    vtc_lm *lm = load(FIX "tiny.bin");
    vtc_tokenizer *t = vtc_tokenizer_load(FIX "tiny_tok.bin", 63);
    assert_non_null(t);
    assert_int_equal(vtc_lm_export_gguf(lm, t, out, 0, NULL), VTC_ERR_FORMAT);
    vtc_tokenizer_free(t);
    vtc_lm_free(lm);
    assert_int_equal(access(out, F_OK), -1);
    free(bad);
    free(dup);
    free(model);
    free(tok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_roundtrip),
        cmocka_unit_test(test_export_matches_converter),
        cmocka_unit_test(test_export_vlm),
        cmocka_unit_test(test_export_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
