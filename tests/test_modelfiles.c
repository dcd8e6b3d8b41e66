// The model/token file layer: safetensors reader, model-directory set, writer,
// GGUF reader, tensor views and conversions, mapped files and atomic output.
// Fixtures come from tools/gen_file_fixtures.py (independent Python writer);
// expected values below restate the formulas that script uses. Run from the
// repository root.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/common.h"
#include "base/gguf.h"
#include "base/mapfile.h"
#include "base/safetensors.h"
#include "base/tensor.h"

#define DIR_FILES "tests/fixtures/files/"
#define DIR_HOSTILE DIR_FILES "hostile/"

// ---------------------------------------------------------------- helpers

static uint8_t *slurp(const char *path, size_t *size) {
    vtc_file f;
    if (vtc_file_open(path, 0, &f) != 0) {
        print_error("%s: %s\n", path, vtc_last_error());
        fail();
    }
    uint8_t *copy = malloc(f.size ? f.size : 1);
    assert_non_null(copy);
    memcpy(copy, f.data, f.size);
    *size = f.size;
    vtc_file_close(&f);
    return copy;
}

static void expect_shape(const vtc_tensor_view *t, int n_dims, ...) {
    assert_non_null(t);
    assert_int_equal(t->n_dims, n_dims);
    va_list ap;
    va_start(ap, n_dims);
    for (int i = 0; i < n_dims; i++) assert_int_equal(t->shape[i], va_arg(ap, int));
    va_end(ap);
}

static float *to_f32(const vtc_tensor_view *t) {
    int64_t n = vtc_tensor_numel(t);
    assert_true(n >= 0);
    float *out = malloc((size_t)n * sizeof(float) + 1);
    assert_non_null(out);
    assert_int_equal(vtc_tensor_to_f32(t, out, (size_t)n), 0);
    return out;
}

static uint64_t fnv1a64(const void *data, size_t n) {
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void assert_error_contains(const char *substring) {
    if (!strstr(vtc_last_error(), substring)) {
        print_error("error \"%s\" lacks \"%s\"\n", vtc_last_error(), substring);
        fail();
    }
}

// A fresh empty directory under /tmp; caller removes it with rm_dir.
static char *make_tmp_dir(void) {
    char *d = strdup("/tmp/vtc_test_mf_XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n;
}

static int has_tmp_entry(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int found = 0;
    struct dirent *de;
    while ((de = readdir(d))) found |= strstr(de->d_name, ".tmp.") != NULL;
    closedir(d);
    return found;
}

static void rm_dir(char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        char p[4096];
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            if (unlink(p) != 0) rmdir(p);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

// Touches every byte a caller could reach through a reader (for mutation tests:
// ASan/valgrind flag any view that points outside the buffer).
static void walk_view(const vtc_tensor_view *t) {
    int64_t n = vtc_tensor_numel(t);
    assert_true(n >= 0);
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < t->nbytes; i++) sink ^= t->data[i];
    (void)sink;
    if (vtc_dtype_size(t->dtype)) assert_int_equal((size_t)n * vtc_dtype_size(t->dtype), t->nbytes);
    float *f = malloc((size_t)n * sizeof(float) + 1);
    assert_non_null(f);
    int st = vtc_tensor_to_f32(t, f, (size_t)n);
    assert_true(st == 0 || st == VTC_ERR_UNSUPPORTED);
    free(f);
}

static void walk_st(const vtc_st *s) {
    for (int i = 0; i < vtc_st_count(s); i++) {
        const vtc_tensor_view *t = vtc_st_tensor(s, i);
        walk_view(t);
        assert_ptr_equal(vtc_st_find(s, t->name), t);
    }
    for (int i = 0; i < vtc_st_meta_count(s); i++) {
        const char *k, *v;
        assert_int_equal(vtc_st_meta_at(s, i, &k, &v), 0);
        assert_non_null(vtc_st_meta(s, k));
        (void)strlen(v);
    }
}

static void walk_gguf(const vtc_gguf *g) {
    char buf[256];
    for (int i = 0; i < vtc_gguf_count_kv(g); i++) {
        const char *key = vtc_gguf_key(g, i);
        assert_int_equal(vtc_gguf_find_key(g, key), i);
        assert_int_equal(vtc_gguf_kv_format(g, i, buf, sizeof buf), 0);
        assert_true(strlen(buf) < sizeof buf);
        int64_t iv;
        double dv;
        int bv, n;
        const char *sv;
        float fa[4];
        int32_t ia[4];
        vtc_gguf_get_int(g, key, &iv);
        vtc_gguf_get_float(g, key, &dv);
        vtc_gguf_get_bool(g, key, &bv);
        if (vtc_gguf_get_str(g, key, &sv) == 0) (void)strlen(sv);
        vtc_gguf_get_arr_f32(g, key, fa, 4, &n);
        vtc_gguf_get_arr_i32(g, key, ia, 4, &n);
        int64_t count = vtc_gguf_kv_arr_count(g, i);
        if (vtc_gguf_kv_arr_type(g, i) == VTC_GGUF_STRING)
            for (int64_t k = 0; k < count; k++) {
                assert_int_equal(vtc_gguf_get_arr_str(g, key, k, &sv), 0);
                (void)strlen(sv);
            }
    }
    for (int i = 0; i < vtc_gguf_count_tensors(g); i++) {
        const vtc_tensor_view *t = vtc_gguf_tensor(g, i);
        walk_view(t);
        assert_ptr_equal(vtc_gguf_find_tensor(g, t->name), t);
        (void)vtc_ggml_type_name(vtc_gguf_tensor_type(g, i));
    }
}

// ---------------------------------------------------------------- tensor views

static void test_dtype_table(void **state) {
    (void)state;
    for (int d = 0; d < VTC_DT_COUNT; d++) {
        const char *name = vtc_dtype_name(d);
        if (d == VTC_DT_GGML_QUANT) {
            assert_int_equal(vtc_dtype_size(d), 0);
            assert_int_equal(vtc_dtype_from_name(name, strlen(name)), -1);
        } else {
            assert_true(vtc_dtype_size(d) > 0);
            assert_int_equal(vtc_dtype_from_name(name, strlen(name)), d);
        }
    }
    assert_int_equal(vtc_dtype_size(VTC_DT_BF16), 2);
    assert_int_equal(vtc_dtype_size(VTC_DT_BOOL), 1);
    assert_int_equal(vtc_dtype_from_name("F3", 2), -1);
    assert_int_equal(vtc_dtype_from_name("F32x", 4), -1);
    assert_string_equal(vtc_dtype_name(-1), "?");
    assert_string_equal(vtc_dtype_name(VTC_DT_COUNT), "?");

    // numel: scalar, empty, overflow
    vtc_tensor_view t = { .name = "t", .dtype = VTC_DT_F32, .n_dims = 0 };
    assert_int_equal(vtc_tensor_numel(&t), 1);
    t.n_dims = 3, t.shape[0] = INT64_MAX, t.shape[1] = INT64_MAX, t.shape[2] = 0;
    assert_int_equal(vtc_tensor_numel(&t), 0);
    t.shape[2] = 2;
    assert_int_equal(vtc_tensor_numel(&t), -1);
    assert_int_equal(vtc_tensor_numel(NULL), -1);

    // to_f32 checks the count and the view; unaligned source data converts fine.
    uint8_t raw[1 + 3 * 4];
    float src[3] = { 1.5f, -2.0f, 3.25f }, dst[3];
    memcpy(raw + 1, src, sizeof src);
    vtc_tensor_view u = { .name = "u", .dtype = VTC_DT_F32, .n_dims = 1, .shape = { 3 }, .data = raw + 1, .nbytes = 12 };
    assert_int_equal(vtc_tensor_to_f32(&u, dst, 3), 0);
    assert_memory_equal(dst, src, sizeof src);
    assert_int_equal(vtc_tensor_to_f32(&u, dst, 2), VTC_ERR_ARG);
    assert_error_contains("u: holds 3 elements, caller expected 2");
    u.nbytes = 8;
    assert_int_equal(vtc_tensor_to_f32(&u, dst, 3), VTC_ERR_ARG);
    u.nbytes = 12, u.dtype = VTC_DT_I32;
    assert_int_equal(vtc_tensor_to_f32(&u, dst, 3), VTC_ERR_UNSUPPORTED);
    assert_error_contains("cannot convert dtype I32");
}

// All 65536 F16 and BF16 bit patterns against numpy's float32 conversion (conv.txt).
static void test_conversion_all_patterns(void **state) {
    (void)state;
    FILE *fp = fopen(DIR_FILES "conv.txt", "r");
    assert_non_null(fp);
    char line[256];
    unsigned long long want_f16 = 0, want_bf16 = 0;
    while (fgets(line, sizeof line, fp)) {
        sscanf(line, "f16 %llx", &want_f16);
        sscanf(line, "bf16 %llx", &want_bf16);
    }
    fclose(fp);
    assert_true(want_f16 && want_bf16);
    uint16_t *bits = malloc(65536 * 2);
    float *out = malloc(65536 * 4);
    assert_non_null(bits);
    assert_non_null(out);
    for (int i = 0; i < 65536; i++) bits[i] = (uint16_t)i;
    vtc_tensor_view t = { .name = "all", .dtype = VTC_DT_F16, .n_dims = 1, .shape = { 65536 },
                          .data = (const uint8_t *)bits, .nbytes = 65536 * 2 };
    assert_int_equal(vtc_tensor_to_f32(&t, out, 65536), 0);
    assert_int_equal(fnv1a64(out, 65536 * 4), want_f16);
    t.dtype = VTC_DT_BF16;
    assert_int_equal(vtc_tensor_to_f32(&t, out, 65536), 0);
    assert_int_equal(fnv1a64(out, 65536 * 4), want_bf16);
    free(bits);
    free(out);
}

static void test_name_index(void **state) {
    (void)state;
    enum { N = 5000 };
    static char names[N][24];
    vtc_name_index ix;
    assert_int_equal(vtc_name_index_init(&ix, N), 0);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "layer.%d.w", i);
        assert_int_equal(vtc_name_index_add(&ix, names[i], i), -1);
    }
    assert_int_equal(vtc_name_index_add(&ix, "layer.17.w", 99), 17); // duplicate
    char extra[] = "one.too.many";
    assert_int_equal(vtc_name_index_add(&ix, extra, N), -2);          // over capacity
    for (int i = 0; i < N; i++) assert_int_equal(vtc_name_index_find(&ix, names[i]), i);
    assert_int_equal(vtc_name_index_find(&ix, "layer.5000.w"), -1);
    assert_int_equal(vtc_name_index_find(&ix, ""), -1);
    vtc_name_index_free(&ix);
    assert_int_equal(vtc_name_index_find(&ix, "x"), -1);
}

// ---------------------------------------------------------------- mapped files

static void test_file_open(void **state) {
    (void)state;
    vtc_file f;
    for (int mm = 0; mm < 2; mm++) {
        assert_int_equal(vtc_file_open(DIR_FILES "v2.gguf", mm, &f), 0);
        assert_true(f.size > 24);
        assert_memory_equal(f.data, "GGUF", 4);
        vtc_file_close(&f);
        assert_null(f.data);
        vtc_file_close(&f); // twice is harmless

        assert_int_equal(vtc_file_open(DIR_FILES, mm, &f), VTC_ERR_IO);
        assert_error_contains("Is a directory");
        assert_null(f.data);
        assert_int_equal(vtc_file_open(DIR_FILES "does-not-exist", mm, &f), VTC_ERR_IO);
        assert_error_contains("does-not-exist: No such file");
        assert_int_equal(vtc_file_open("/dev/null", mm, &f), VTC_ERR_IO);
        assert_error_contains("/dev/null: not a regular file");
        assert_int_equal(vtc_file_open(DIR_HOSTILE "st_empty.safetensors", mm, &f), 0);
        assert_int_equal(f.size, 0);
        assert_non_null(f.data);
        vtc_file_close(&f);
    }
    // A FIFO is refused without blocking on open.
    char *dir = make_tmp_dir();
    char fifo[512];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(vtc_file_open(fifo, 1, &f), VTC_ERR_IO);
    assert_error_contains("not a regular file");
    rm_dir(dir);
}

// ---------------------------------------------------------------- safetensors reader

static void check_basic(const vtc_st *s) {
    assert_int_equal(vtc_st_count(s), 9);
    static const char *order[] = { "empty", "f32", "f16", "bf16", "u8", "bool", "f64", "i32", "i64" };
    for (int i = 0; i < 9; i++) assert_string_equal(vtc_st_tensor(s, i)->name, order[i]);
    assert_null(vtc_st_tensor(s, 9));
    assert_null(vtc_st_tensor(s, -1));
    assert_null(vtc_st_find(s, "nope"));
    assert_null(vtc_st_find(s, "__metadata__"));

    const vtc_tensor_view *t = vtc_st_find(s, "empty");
    expect_shape(t, 2, 0, 4);
    assert_int_equal(vtc_tensor_numel(t), 0);
    assert_int_equal(t->nbytes, 0);
    assert_int_equal(vtc_tensor_to_f32(t, NULL, 0), 0);

    t = vtc_st_find(s, "f32"); // arange(6) * 0.25 - 0.5
    expect_shape(t, 2, 2, 3);
    assert_int_equal(t->dtype, VTC_DT_F32);
    float *v = to_f32(t);
    for (int i = 0; i < 6; i++) assert_true(v[i] == i * 0.25f - 0.5f);
    free(v);

    t = vtc_st_find(s, "f16"); // (arange(8) - 3) * 0.125
    expect_shape(t, 2, 4, 2);
    assert_int_equal(t->dtype, VTC_DT_F16);
    v = to_f32(t);
    for (int i = 0; i < 8; i++) assert_true(v[i] == (i - 3) * 0.125f);
    free(v);

    t = vtc_st_find(s, "bf16");
    expect_shape(t, 1, 3);
    assert_int_equal(t->dtype, VTC_DT_BF16);
    v = to_f32(t);
    assert_true(v[0] == 1.0f && v[1] == -2.5f && v[2] == 3.140625f);
    free(v);

    t = vtc_st_find(s, "u8");
    assert_int_equal(t->n_dims, 0);
    assert_int_equal(vtc_tensor_numel(t), 1);
    assert_int_equal(t->dtype, VTC_DT_U8);
    assert_int_equal(t->data[0], 200);
    float one;
    assert_int_equal(vtc_tensor_to_f32(t, &one, 1), VTC_ERR_UNSUPPORTED);

    t = vtc_st_find(s, "bool");
    assert_int_equal(t->dtype, VTC_DT_BOOL);
    assert_memory_equal(t->data, "\1\0\1", 3);

    t = vtc_st_find(s, "f64");
    assert_int_equal(t->dtype, VTC_DT_F64);
    double dv[2];
    memcpy(dv, t->data, 16);
    assert_true(dv[0] == 1e-3 && dv[1] == -2.5e10);
    v = to_f32(t);
    assert_true(v[0] == (float)1e-3 && v[1] == -2.5e10f);
    free(v);

    t = vtc_st_find(s, "i32"); // arange(5) * -7 + 3
    expect_shape(t, 1, 5);
    assert_int_equal(t->dtype, VTC_DT_I32);
    for (int i = 0; i < 5; i++) {
        int32_t x;
        memcpy(&x, t->data + 4 * i, 4);
        assert_int_equal(x, i * -7 + 3);
    }
    t = vtc_st_find(s, "i64");
    int64_t iv[2];
    memcpy(iv, t->data, 16);
    assert_true(iv[0] == -(INT64_C(1) << 40) && iv[1] == (INT64_C(1) << 40) + 1);

    assert_int_equal(vtc_st_meta_count(s), 3);
    assert_string_equal(vtc_st_meta(s, "format"), "test-basic");
    assert_string_equal(vtc_st_meta(s, "grid"), "1,2,3");
    assert_string_equal(vtc_st_meta(s, "note"), "quote \" backslash \\ tab \t \xc3\xa9");
    assert_null(vtc_st_meta(s, "missing"));
    const char *k, *val;
    assert_int_equal(vtc_st_meta_at(s, 0, &k, &val), 0);
    assert_string_equal(k, "format");
    assert_int_equal(vtc_st_meta_at(s, 3, &k, &val), VTC_ERR_ARG);
}

static void test_st_basic(void **state) {
    (void)state;
    for (int mm = 0; mm < 2; mm++) {
        vtc_st *s = NULL;
        assert_int_equal(vtc_st_open(DIR_FILES "st_basic.safetensors", mm, &s), 0);
        assert_string_equal(vtc_st_path(s), DIR_FILES "st_basic.safetensors");
        check_basic(s);
        walk_st(s);
        vtc_st_close(s);
    }
    size_t size;
    uint8_t *bytes = slurp(DIR_FILES "st_basic.safetensors", &size);
    vtc_st *s = NULL;
    assert_int_equal(vtc_st_open_memory(bytes, size, &s), 0);
    assert_string_equal(vtc_st_path(s), "<memory>");
    check_basic(s);
    vtc_st_close(s);
    free(bytes);

    // Null-safety of the accessors.
    assert_int_equal(vtc_st_count(NULL), 0);
    assert_null(vtc_st_find(NULL, "x"));
    assert_null(vtc_st_meta(NULL, "x"));
    vtc_st_close(NULL);
    assert_int_equal(vtc_st_open(NULL, 0, &s), VTC_ERR_ARG);
    assert_int_equal(vtc_st_open_memory(NULL, 8, &s), VTC_ERR_ARG);
}

// F16/BF16 patterns vs the float32 numpy wrote beside them, bit for bit (NaNs included).
static void test_st_values(void **state) {
    (void)state;
    vtc_st *s = NULL;
    assert_int_equal(vtc_st_open(DIR_FILES "st_values.safetensors", 1, &s), 0);
    static const char *pairs[][2] = { { "f16", "f16_f32" }, { "bf16", "bf16_f32" } };
    for (int p = 0; p < 2; p++) {
        const vtc_tensor_view *h = vtc_st_find(s, pairs[p][0]), *ref = vtc_st_find(s, pairs[p][1]);
        assert_non_null(h);
        assert_non_null(ref);
        assert_int_equal(vtc_tensor_numel(h), vtc_tensor_numel(ref));
        assert_true(vtc_tensor_numel(h) > 600);
        float *got = to_f32(h);
        assert_memory_equal(got, ref->data, ref->nbytes);
        free(got);
    }
    vtc_st_close(s);
}

// A header over the cap is a limit error before any JSON is parsed.
static void test_st_header_cap(void **state) {
    (void)state;
    size_t size = (size_t)VTC_ST_MAX_HEADER + 64;
    uint8_t *buf = calloc(size, 1);
    assert_non_null(buf);
    uint64_t hlen = (uint64_t)VTC_ST_MAX_HEADER + 1;
    memcpy(buf, &hlen, 8);
    vtc_st *s = (vtc_st *)1;
    assert_int_equal(vtc_st_open_memory(buf, size, &s), VTC_ERR_LIMIT);
    assert_null(s);
    assert_error_contains("exceeds the");
    free(buf);
}

// ---------------------------------------------------------------- model directories

static void test_stset(void **state) {
    (void)state;
    static const char *paths[] = { DIR_FILES "sharded", DIR_FILES "sharded/",
                                   DIR_FILES "sharded/model.safetensors.index.json" };
    for (int p = 0; p < 3; p++) {
        vtc_stset *set = NULL;
        assert_int_equal(vtc_stset_open(paths[p], p & 1, &set), 0);
        assert_int_equal(vtc_stset_count(set), 4);
        assert_int_equal(vtc_stset_shard_count(set), 2);
        assert_string_equal(vtc_st_meta(vtc_stset_shard(set, 0), "format"), "pt");
        assert_string_equal(vtc_stset_tensor(set, 0)->name, "vision_model.embeddings.class_embedding");
        assert_string_equal(vtc_stset_tensor(set, 3)->name, "multi_modal_projector.linear_1.bias");
        assert_null(vtc_stset_tensor(set, 4));
        const vtc_tensor_view *t = vtc_stset_find(set, "vision_model.embeddings.class_embedding");
        expect_shape(t, 1, 4);
        float *v = to_f32(t);
        for (int i = 0; i < 4; i++) assert_true(v[i] == (float)i);
        free(v);
        t = vtc_stset_find(set, "multi_modal_projector.linear_1.weight");
        expect_shape(t, 2, 2, 4);
        v = to_f32(t);
        for (int i = 0; i < 8; i++) assert_true(v[i] == (float)(i - 4));
        free(v);
        t = vtc_stset_find(set, "vision_model.post_layernorm.weight");
        v = to_f32(t);
        assert_true(v[0] == 1.0f && v[3] == 1.0f);
        free(v);
        assert_null(vtc_stset_find(set, "config"));
        vtc_stset_close(set);
    }
    // A directory without an index: every *.safetensors in name order.
    vtc_stset *set = NULL;
    assert_int_equal(vtc_stset_open(DIR_FILES "multi", 1, &set), 0);
    assert_int_equal(vtc_stset_count(set), 2);
    assert_string_equal(vtc_stset_tensor(set, 0)->name, "x");
    assert_string_equal(vtc_stset_tensor(set, 1)->name, "y");
    vtc_stset_close(set);
    // One file.
    assert_int_equal(vtc_stset_open(DIR_FILES "st_basic.safetensors", 0, &set), 0);
    assert_int_equal(vtc_stset_count(set), 9);
    assert_non_null(vtc_stset_find(set, "i64"));
    vtc_stset_close(set);
    assert_int_equal(vtc_stset_open(DIR_FILES "nothing-here", 0, &set), VTC_ERR_IO);
    assert_null(set);
    vtc_stset_close(NULL);
}

// Thousands of tensors: written by the writer, found by name (hash lookup).
static void test_many_tensors(void **state) {
    (void)state;
    enum { N = 3000 };
    char *dir = make_tmp_dir(), path[512], name[64];
    snprintf(path, sizeof path, "%s/many.safetensors", dir);
    vtc_st_writer *w = vtc_st_writer_new();
    assert_non_null(w);
    static int32_t vals[N];
    for (int i = 0; i < N; i++) {
        vals[i] = i * 3;
        snprintf(name, sizeof name, "encoder.layers.%d.weight", i);
        int64_t shape[1] = { 1 };
        assert_int_equal(vtc_st_writer_add(w, name, VTC_DT_I32, 1, shape, &vals[i]), 0);
    }
    assert_int_equal(vtc_st_writer_write(w, path), 0);
    vtc_st_writer_free(w);
    vtc_stset *set = NULL;
    assert_int_equal(vtc_stset_open(path, 1, &set), 0);
    assert_int_equal(vtc_stset_count(set), N);
    for (int i = N - 1; i >= 0; i--) {
        snprintf(name, sizeof name, "encoder.layers.%d.weight", i);
        const vtc_tensor_view *t = vtc_stset_find(set, name);
        assert_non_null(t);
        int32_t x;
        memcpy(&x, t->data, 4);
        assert_int_equal(x, i * 3);
    }
    vtc_stset_close(set);
    rm_dir(dir);
}

// ---------------------------------------------------------------- writer

static void test_writer_roundtrip(void **state) {
    (void)state;
    char *dir = make_tmp_dir(), path[512];
    snprintf(path, sizeof path, "%s/tokens.safetensors", dir);
    float tokens[6] = { 1, 2, 3, -4, 5.5f, 1e-30f };
    int32_t index[4] = { 0, 7, -1, 2147483647 };
    uint16_t half[2] = { 0x3c00, 0xc000 };
    double scalar = 3.5;
    uint16_t bf[3] = { 0x3f80, 0x4049, 0x7f80 };
    vtc_st_writer *w = vtc_st_writer_new();
    assert_non_null(w);
    int64_t s23[2] = { 2, 3 }, s4[1] = { 4 }, s2[1] = { 2 }, s0[2] = { 0, 5 }, s31[2] = { 3, 1 };
    assert_int_equal(vtc_st_writer_add(w, "tokens", VTC_DT_F32, 2, s23, tokens), 0);
    assert_int_equal(vtc_st_writer_add(w, "index", VTC_DT_I32, 1, s4, index), 0);
    assert_int_equal(vtc_st_writer_add(w, "half \"q\" \xc3\xa9", VTC_DT_F16, 1, s2, half), 0);
    assert_int_equal(vtc_st_writer_add(w, "scalar", VTC_DT_F64, 0, NULL, &scalar), 0);
    assert_int_equal(vtc_st_writer_add(w, "empty", VTC_DT_U8, 2, s0, NULL), 0);
    assert_int_equal(vtc_st_writer_add(w, "bf", VTC_DT_BF16, 2, s31, bf), 0);
    assert_int_equal(vtc_st_writer_meta(w, "grid", "1,2,3"), 0);
    assert_int_equal(vtc_st_writer_meta(w, "method", "first"), 0);
    assert_int_equal(vtc_st_writer_meta(w, "method", "divprune"), 0); // replaces
    assert_int_equal(vtc_st_writer_meta(w, "ctl", "a\nb\x01\"\\"), 0);

    // Refused arguments.
    assert_int_equal(vtc_st_writer_add(w, "tokens", VTC_DT_F32, 2, s23, tokens), VTC_ERR_ARG);
    assert_int_equal(vtc_st_writer_add(w, "__metadata__", VTC_DT_F32, 2, s23, tokens), VTC_ERR_ARG);
    assert_int_equal(vtc_st_writer_add(w, "bad\xff", VTC_DT_F32, 2, s23, tokens), VTC_ERR_ARG);
    assert_int_equal(vtc_st_writer_add(w, "q", VTC_DT_GGML_QUANT, 2, s23, tokens), VTC_ERR_ARG);
    assert_int_equal(vtc_st_writer_add(w, "q", VTC_DT_COUNT, 2, s23, tokens), VTC_ERR_ARG);
    assert_int_equal(vtc_st_writer_add(w, "q", VTC_DT_F32, 9, s23, tokens), VTC_ERR_ARG);
    { // no data: only a vtc_st_stream fills it; a plain write refuses it
        vtc_st_writer *nodata = vtc_st_writer_new();
        assert_int_equal(vtc_st_writer_add(nodata, "q", VTC_DT_F32, 2, s23, NULL), 0);
        assert_int_equal(vtc_st_writer_write(nodata, "/tmp/vtc-never-written.safetensors"), VTC_ERR_ARG);
        assert_int_equal(access("/tmp/vtc-never-written.safetensors", F_OK), -1);
        vtc_st_writer_free(nodata);
    }
    int64_t neg[1] = { -1 }, huge[3] = { INT64_C(1) << 40, INT64_C(1) << 40, INT64_C(1) << 40 };
    assert_int_equal(vtc_st_writer_add(w, "q", VTC_DT_F32, 1, neg, tokens), VTC_ERR_ARG);
    assert_int_equal(vtc_st_writer_add(w, "q", VTC_DT_F32, 3, huge, tokens), VTC_ERR_ARG);
    assert_int_equal(vtc_st_writer_meta(w, "k\xc0\x80", "v"), VTC_ERR_ARG); // overlong NUL
    assert_int_equal(vtc_st_writer_meta(w, "k", "\xed\xa0\x80"), VTC_ERR_ARG); // surrogate

    assert_int_equal(vtc_st_writer_write(w, path), 0);
    assert_int_equal(vtc_st_writer_write(w, path), 0); // overwrites
    vtc_st_writer_free(w);
    assert_int_equal(count_entries(dir), 1);

    // The data area starts 8-byte aligned; header is JSON padded with spaces.
    size_t size;
    uint8_t *bytes = slurp(path, &size);
    uint64_t hlen;
    memcpy(&hlen, bytes, 8);
    assert_int_equal((8 + hlen) % 8, 0);
    assert_int_equal(bytes[8], '{');
    assert_int_equal(size, 8 + hlen + sizeof tokens + sizeof index + sizeof half + 8 + 0 + sizeof bf);
    free(bytes);

    vtc_st *s = NULL;
    assert_int_equal(vtc_st_open(path, 1, &s), 0);
    assert_int_equal(vtc_st_count(s), 6);
    static const char *order[] = { "tokens", "index", "half \"q\" \xc3\xa9", "scalar", "empty", "bf" };
    for (int i = 0; i < 6; i++) assert_string_equal(vtc_st_tensor(s, i)->name, order[i]);
    const vtc_tensor_view *t = vtc_st_find(s, "tokens");
    expect_shape(t, 2, 2, 3);
    assert_memory_equal(t->data, tokens, sizeof tokens);
    t = vtc_st_find(s, "index");
    assert_int_equal(t->dtype, VTC_DT_I32);
    assert_memory_equal(t->data, index, sizeof index);
    t = vtc_st_find(s, order[2]);
    assert_int_equal(t->dtype, VTC_DT_F16);
    assert_memory_equal(t->data, half, sizeof half);
    t = vtc_st_find(s, "scalar");
    assert_int_equal(t->n_dims, 0);
    assert_memory_equal(t->data, &scalar, 8);
    expect_shape(vtc_st_find(s, "empty"), 2, 0, 5);
    t = vtc_st_find(s, "bf");
    expect_shape(t, 2, 3, 1);
    assert_memory_equal(t->data, bf, sizeof bf);
    assert_string_equal(vtc_st_meta(s, "grid"), "1,2,3");
    assert_string_equal(vtc_st_meta(s, "method"), "divprune");
    assert_string_equal(vtc_st_meta(s, "ctl"), "a\nb\x01\"\\");
    assert_int_equal(vtc_st_meta_count(s), 3);
    vtc_st_close(s);

    // An empty writer writes a valid empty file.
    w = vtc_st_writer_new();
    assert_int_equal(vtc_st_writer_write(w, path), 0);
    vtc_st_writer_free(w);
    assert_int_equal(vtc_st_open(path, 0, &s), 0);
    assert_int_equal(vtc_st_count(s), 0);
    vtc_st_close(s);
    assert_false(has_tmp_entry(dir));
    rm_dir(dir);
}

static void test_writer_failures(void **state) {
    (void)state;
    char *dir = make_tmp_dir(), path[512];
    float x[2] = { 1, 2 };
    int64_t s2[1] = { 2 };
    vtc_st_writer *w = vtc_st_writer_new();
    assert_int_equal(vtc_st_writer_add(w, "x", VTC_DT_F32, 1, s2, x), 0);

    // Into a directory that does not exist: I/O error, nothing created anywhere.
    snprintf(path, sizeof path, "%s/no/such/dir/out.safetensors", dir);
    assert_int_equal(vtc_st_writer_write(w, path), VTC_ERR_IO);
    assert_error_contains("out.safetensors: cannot create: No such file or directory");
    assert_int_equal(count_entries(dir), 0);

    // Onto an existing directory: the rename fails, the temporary file is removed.
    snprintf(path, sizeof path, "%s/adir", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(vtc_st_writer_write(w, path), VTC_ERR_IO);
    assert_int_equal(count_entries(dir), 1);
    assert_false(has_tmp_entry(dir));

    // An empty path and NULLs.
    assert_int_equal(vtc_st_writer_write(w, ""), VTC_ERR_ARG);
    assert_int_equal(vtc_st_writer_write(NULL, path), VTC_ERR_ARG);
    vtc_st_writer_free(w);
    vtc_st_writer_free(NULL);

    // The plain atomic helper, and that a failed write keeps the old file.
    snprintf(path, sizeof path, "%s/keep.txt", dir);
    assert_int_equal(vtc_write_file_atomic(path, "old", 3), 0);
    vtc_atomic_file af;
    assert_int_equal(vtc_atomic_open(path, &af), 0);
    assert_int_equal(vtc_atomic_write(&af, "new!", 4), 0);
    assert_true(has_tmp_entry(dir));
    vtc_atomic_abort(&af);
    vtc_atomic_abort(&af); // repeat is harmless
    assert_false(has_tmp_entry(dir));
    size_t size;
    uint8_t *bytes = slurp(path, &size);
    assert_int_equal(size, 3);
    assert_memory_equal(bytes, "old", 3);
    free(bytes);
    rm_dir(dir);
}

// The registered temporary file is what a SIGINT handler removes.
static void test_tmpfile_cleanup(void **state) {
    (void)state;
    char *dir = make_tmp_dir(), path[512];
    snprintf(path, sizeof path, "%s/out.safetensors", dir);
    vtc_atomic_file af;
    assert_int_equal(vtc_atomic_open(path, &af), 0);
    assert_true(has_tmp_entry(dir));
    vtc_tmpfile_cleanup_signal_safe();
    assert_false(has_tmp_entry(dir));
    vtc_atomic_abort(&af);
    assert_int_equal(count_entries(dir), 0);
    rm_dir(dir);
}

static void on_sigint(int sig) {
    vtc_tmpfile_cleanup_signal_safe();
    signal(sig, SIG_DFL);
    raise(sig);
}

// A process interrupted mid-write leaves neither the output nor a temporary file.
static void test_tmpfile_sigint(void **state) {
    (void)state;
    char *dir = make_tmp_dir(), path[512];
    snprintf(path, sizeof path, "%s/out.safetensors", dir);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        free(dir); // the child's copy; it dies by the signal
        signal(SIGINT, on_sigint);
        vtc_atomic_file af;
        if (vtc_atomic_open(path, &af) != 0) _exit(3);
        if (vtc_atomic_write(&af, "partial", 7) != 0) _exit(4);
        raise(SIGINT);
        _exit(5); // not reached
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT);
    assert_int_equal(count_entries(dir), 0);
    rm_dir(dir);
}

// ---------------------------------------------------------------- GGUF

static void test_gguf_v3(void **state) {
    (void)state;
    for (int mode = 0; mode < 3; mode++) {
        vtc_gguf *g = NULL;
        size_t size = 0;
        uint8_t *bytes = NULL;
        if (mode < 2) {
            assert_int_equal(vtc_gguf_open(DIR_FILES "v3.gguf", mode, &g), 0);
        } else {
            bytes = slurp(DIR_FILES "v3.gguf", &size);
            assert_int_equal(vtc_gguf_open_memory(bytes, size, &g), 0);
        }
        assert_int_equal(vtc_gguf_version(g), 3);
        assert_int_equal(vtc_gguf_alignment(g), 64);
        assert_int_equal(vtc_gguf_count_kv(g), 25);
        assert_string_equal(vtc_gguf_key(g, 0), "general.architecture");
        assert_null(vtc_gguf_key(g, 25));
        assert_int_equal(vtc_gguf_find_key(g, "nope"), -1);

        const char *s;
        size_t len;
        assert_int_equal(vtc_gguf_get_str(g, "general.architecture", &s), 0);
        assert_string_equal(s, "clip");
        assert_int_equal(vtc_gguf_get_str_len(g, "t.str", &s, &len), 0);
        assert_string_equal(s, "h\xc3\xa9llo \"world\"");
        assert_int_equal(len, 14);

        int64_t iv;
        static const struct { const char *key; int64_t v; } ints[] = {
            { "t.u8", 250 }, { "t.i8", -100 }, { "t.u16", 65000 }, { "t.i16", -30000 }, { "t.u32", 4000000000 },
            { "t.i32", -2000000000 }, { "t.u64small", 12345 }, { "t.i64", -(INT64_C(1) << 62) },
            { "general.alignment", 64 },
        };
        for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
            assert_int_equal(vtc_gguf_get_int(g, ints[i].key, &iv), 0);
            assert_true(iv == ints[i].v);
            double dv;
            assert_int_equal(vtc_gguf_get_float(g, ints[i].key, &dv), 0);
            assert_true(dv == (double)ints[i].v);
        }
        assert_int_equal(vtc_gguf_get_int(g, "t.u64", &iv), VTC_ERR_FORMAT);
        assert_error_contains("t.u64: value exceeds int64");
        assert_int_equal(vtc_gguf_get_int(g, "t.f32", &iv), VTC_ERR_FORMAT);
        assert_error_contains("t.f32: is f32, expected an integer");
        assert_int_equal(vtc_gguf_get_int(g, "missing.key", &iv), VTC_ERR_FORMAT);
        assert_error_contains("key missing.key not found");
        assert_int_equal(vtc_gguf_get_int(g, "t.arr_i32", &iv), VTC_ERR_FORMAT);
        assert_error_contains("is an array of i32");

        double dv;
        assert_int_equal(vtc_gguf_get_float(g, "t.f32", &dv), 0);
        assert_true(dv == 0.15625);
        assert_int_equal(vtc_gguf_get_float(g, "t.f64", &dv), 0);
        assert_true(dv == -1.0e-300);
        assert_int_equal(vtc_gguf_get_float(g, "t.u64", &dv), 0);
        assert_true(dv == 9223372036854775813.0);
        assert_int_equal(vtc_gguf_get_float(g, "t.str", &dv), VTC_ERR_FORMAT);
        assert_int_equal(vtc_gguf_get_float(g, "t.bool", &dv), VTC_ERR_FORMAT);

        int b = -1;
        assert_int_equal(vtc_gguf_get_bool(g, "t.bool", &b), 0);
        assert_int_equal(b, 1);
        assert_int_equal(vtc_gguf_get_bool(g, "t.u8", &b), 0);
        assert_int_equal(b, 1);
        assert_int_equal(vtc_gguf_get_bool(g, "t.f32", &b), VTC_ERR_FORMAT);
        assert_int_equal(vtc_gguf_get_str(g, "t.u8", &s), VTC_ERR_FORMAT);
        assert_error_contains("t.u8: is u8, expected a string");

        float fa[8];
        int n = -1;
        assert_int_equal(vtc_gguf_get_arr_f32(g, "t.arr_f32", fa, 8, &n), 0);
        assert_int_equal(n, 3);
        assert_true(fa[0] == 0.5f && fa[1] == -1.25f && fa[2] == 3.0f);
        assert_int_equal(vtc_gguf_get_arr_f32(g, "clip.vision.image_mean", fa, 3, &n), 0);
        assert_int_equal(n, 3);
        assert_true(fa[0] == 0.48145466f && fa[2] == 0.40821073f);
        fa[1] = 99;
        assert_int_equal(vtc_gguf_get_arr_f32(g, "t.arr_i32", fa, 1, &n), 0); // short buffer
        assert_int_equal(n, 4);
        assert_true(fa[0] == 1.0f && fa[1] == 99);
        assert_int_equal(vtc_gguf_get_arr_f32(g, "t.arr_f64", fa, 8, &n), 0);
        assert_true(fa[0] == 0.1f && fa[1] == 2.0f);
        assert_int_equal(vtc_gguf_get_arr_f32(g, "t.arr_empty", fa, 8, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(vtc_gguf_get_arr_f32(g, "t.arr_str", fa, 8, &n), VTC_ERR_FORMAT);
        assert_error_contains("is an array of string, expected an array of numbers");
        assert_int_equal(vtc_gguf_get_arr_f32(g, "t.arr_bool", fa, 8, &n), VTC_ERR_FORMAT);
        assert_int_equal(vtc_gguf_get_arr_f32(g, "t.f32", fa, 8, &n), VTC_ERR_FORMAT);

        int32_t ia[8];
        assert_int_equal(vtc_gguf_get_arr_i32(g, "t.arr_i32", ia, 8, &n), 0);
        assert_int_equal(n, 4);
        assert_true(ia[0] == 1 && ia[1] == -2 && ia[2] == 3 && ia[3] == 2147483647);
        assert_int_equal(vtc_gguf_get_arr_i32(g, "t.arr_u8", ia, 8, &n), 0);
        assert_true(n == 3 && ia[2] == 3);
        assert_int_equal(vtc_gguf_get_arr_i32(g, "t.arr_i64_big", ia, 1, &n), 0); // 2^40 not copied
        assert_int_equal(vtc_gguf_get_arr_i32(g, "t.arr_i64_big", ia, 8, &n), VTC_ERR_FORMAT);
        assert_error_contains("element 1 does not fit in int32");
        assert_int_equal(vtc_gguf_get_arr_i32(g, "t.arr_f32", ia, 8, &n), VTC_ERR_FORMAT);

        int k = vtc_gguf_find_key(g, "t.arr_str");
        assert_int_equal(vtc_gguf_kv_type(g, k), VTC_GGUF_ARRAY);
        assert_int_equal(vtc_gguf_kv_arr_type(g, k), VTC_GGUF_STRING);
        assert_int_equal(vtc_gguf_kv_arr_count(g, k), 4);
        static const char *strs[] = { "a", "", ("\xc3\xbcn\xc3\xaf" "code"), "with" };
        for (int i = 0; i < 4; i++) {
            assert_int_equal(vtc_gguf_get_arr_str(g, "t.arr_str", i, &s), 0);
            assert_string_equal(s, strs[i]);
        }
        assert_int_equal(vtc_gguf_get_arr_str(g, "t.arr_str", 4, &s), VTC_ERR_ARG);
        assert_int_equal(vtc_gguf_get_arr_str(g, "t.arr_f32", 0, &s), VTC_ERR_FORMAT);
        k = vtc_gguf_find_key(g, "t.arr_nested");
        assert_int_equal(vtc_gguf_kv_arr_type(g, k), VTC_GGUF_ARRAY);
        assert_int_equal(vtc_gguf_kv_arr_count(g, k), 3);
        assert_int_equal(vtc_gguf_kv_arr_count(g, vtc_gguf_find_key(g, "t.u8")), -1);
        assert_int_equal(vtc_gguf_kv_arr_type(g, vtc_gguf_find_key(g, "t.u8")), -1);

        char buf[256];
        static const struct { const char *key, *text; } shown[] = {
            { "t.u8", "250" }, { "t.i8", "-100" }, { "t.bool", "true" }, { "t.f32", "0.15625" },
            { "t.u64", "9223372036854775813" }, { "t.str", "\"h\xc3\xa9llo \\\"world\\\"\"" },
            { "t.arr_f32", "[3 x f32] {0.5, -1.25, 3}" },
            { "t.arr_str", "[4 x string] {\"a\", \"\", \"\xc3\xbcn\xc3\xaf" "code\", \"with\"}" },
            { "t.arr_nested", "[3 x array]" }, { "t.arr_empty", "[0 x f32]" },
        };
        for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++) {
            assert_int_equal(vtc_gguf_kv_format(g, vtc_gguf_find_key(g, shown[i].key), buf, sizeof buf), 0);
            assert_string_equal(buf, shown[i].text);
        }
        char tiny[8];
        assert_int_equal(vtc_gguf_kv_format(g, vtc_gguf_find_key(g, "t.arr_str"), tiny, sizeof tiny), 0);
        assert_string_equal(tiny, "[4 x...");
        assert_int_equal(vtc_gguf_kv_format(g, 99, buf, sizeof buf), VTC_ERR_ARG);
        assert_string_equal(vtc_gguf_type_name(VTC_GGUF_F64), "f64");

        // Tensors: ggml ne reversed into row-major shapes.
        assert_int_equal(vtc_gguf_count_tensors(g), 5);
        const vtc_tensor_view *t = vtc_gguf_find_tensor(g, "v.f32"); // ne {3, 2}: arange(6) * 0.5 - 1
        expect_shape(t, 2, 2, 3);
        assert_int_equal(((uintptr_t)t->data - (uintptr_t)vtc_gguf_tensor(g, 0)->data) % 64, 0);
        float *v = to_f32(t);
        for (int i = 0; i < 6; i++) assert_true(v[i] == i * 0.5f - 1);
        free(v);
        t = vtc_gguf_find_tensor(g, "v.f16"); // (arange(4) - 1.5) * 0.25
        expect_shape(t, 1, 4);
        v = to_f32(t);
        for (int i = 0; i < 4; i++) assert_true(v[i] == (i - 1.5f) * 0.25f);
        free(v);
        t = vtc_gguf_find_tensor(g, "v.bf16");
        expect_shape(t, 3, 2, 2, 2);
        assert_int_equal(t->dtype, VTC_DT_BF16);
        v = to_f32(t);
        static const float bfv[8] = { 1, -1, 0.5f, 2, -3, 4.5f, 0.0078125f, 256 };
        assert_memory_equal(v, bfv, sizeof bfv);
        free(v);
        int qi = vtc_gguf_find_tensor_index(g, "v.q8");
        assert_int_equal(qi, 3);
        t = vtc_gguf_tensor(g, qi);
        expect_shape(t, 2, 2, 32);
        assert_int_equal(t->dtype, VTC_DT_GGML_QUANT);
        assert_int_equal(t->nbytes, 68);
        assert_int_equal(t->data[67], 67);
        assert_int_equal(vtc_gguf_tensor_type(g, qi), 8);
        assert_string_equal(vtc_ggml_type_name(8), "q8_0");
        float q[64];
        assert_int_equal(vtc_tensor_to_f32(t, q, 64), VTC_ERR_UNSUPPORTED);
        assert_error_contains("v.q8: cannot convert dtype QUANT");
        t = vtc_gguf_find_tensor(g, "v.i32");
        assert_int_equal(t->dtype, VTC_DT_I32);
        int32_t i3[3];
        memcpy(i3, t->data, 12);
        assert_true(i3[0] == 7 && i3[1] == -8 && i3[2] == 9);
        assert_int_equal(vtc_gguf_tensor_type(g, 4), 26);
        assert_int_equal(vtc_gguf_tensor_type(g, 5), -1);
        assert_null(vtc_gguf_find_tensor(g, "v.nope"));
        assert_null(vtc_gguf_tensor(g, 5));
        walk_gguf(g);
        vtc_gguf_close(g);
        free(bytes);
    }
    assert_string_equal(vtc_ggml_type_name(4), "?");
    assert_string_equal(vtc_ggml_type_name(-1), "?");
    assert_string_equal(vtc_ggml_type_name(30), "bf16");
}

static void test_gguf_v2(void **state) {
    (void)state;
    vtc_gguf *g = NULL;
    assert_int_equal(vtc_gguf_open(DIR_FILES "v2.gguf", 1, &g), 0);
    assert_int_equal(vtc_gguf_version(g), 2);
    assert_int_equal(vtc_gguf_alignment(g), 32);
    int64_t iv;
    assert_int_equal(vtc_gguf_get_int(g, "t.i32", &iv), 0);
    assert_int_equal(iv, 42);
    const char *s;
    assert_int_equal(vtc_gguf_get_arr_str(g, "t.arr_str", 1, &s), 0);
    assert_string_equal(s, "q");
    const vtc_tensor_view *t = vtc_gguf_find_tensor(g, "a");
    expect_shape(t, 1, 5);
    float *v = to_f32(t);
    for (int i = 0; i < 5; i++) assert_true(v[i] == (float)i);
    free(v);
    t = vtc_gguf_find_tensor(g, "b"); // ne {2, 3}: arange(6) * 0.5
    expect_shape(t, 2, 3, 2);
    assert_int_equal(((uintptr_t)t->data - (uintptr_t)vtc_gguf_tensor(g, 0)->data) % 32, 0);
    v = to_f32(t);
    for (int i = 0; i < 6; i++) assert_true(v[i] == i * 0.5f);
    free(v);
    walk_gguf(g);
    vtc_gguf_close(g);

    assert_int_equal(vtc_gguf_open(DIR_FILES "kv_only.gguf", 0, &g), 0);
    assert_int_equal(vtc_gguf_count_tensors(g), 0);
    assert_int_equal(vtc_gguf_count_kv(g), 1);
    vtc_gguf_close(g);

    assert_int_equal(vtc_gguf_open(DIR_FILES "missing.gguf", 0, &g), VTC_ERR_IO);
    assert_null(g);
    vtc_gguf_close(NULL);
    assert_int_equal(vtc_gguf_count_kv(NULL), 0);
    assert_int_equal(vtc_gguf_find_key(NULL, "x"), -1);
    assert_null(vtc_gguf_find_tensor(NULL, "x"));
}

// ---------------------------------------------------------------- hostile inputs

static int status_of(const char *name) {
    static const struct { const char *name; int status; } map[] = {
        { "format", VTC_ERR_FORMAT }, { "unsupported", VTC_ERR_UNSUPPORTED }, { "limit", VTC_ERR_LIMIT },
        { "io", VTC_ERR_IO },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i].name, name)) return map[i].status;
    print_error("manifest: unknown status %s\n", name);
    fail();
    return 0;
}

static void expect_failure(int got, void *handle, int want, const char *what, const char *file, const char *sub) {
    if (got != want || handle || !strstr(vtc_last_error(), sub)) {
        print_error("%s %s: got %d \"%s\", want %d containing \"%s\"\n", what, file, got, vtc_last_error(), want, sub);
        fail();
    }
}

// Every file in hostile/MANIFEST.txt fails with its status and message, through
// every entry point (path mapped and read, memory buffer, model-directory set).
static void test_hostile_manifest(void **state) {
    (void)state;
    FILE *fp = fopen(DIR_HOSTILE "MANIFEST.txt", "r");
    assert_non_null(fp);
    char line[1024];
    int cases = 0;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char name[256], stname[32], path[512];
        int used = 0;
        assert_int_equal(sscanf(line, "%255s %31s %n", name, stname, &used), 2);
        char *sub = line + used;
        sub[strcspn(sub, "\n")] = '\0';
        int want = status_of(stname);
        snprintf(path, sizeof path, DIR_HOSTILE "%s", name);
        size_t len = strlen(name);
        if (name[len - 1] == '/') {
            vtc_stset *set = (vtc_stset *)1;
            for (int mm = 0; mm < 2; mm++) {
                int st = vtc_stset_open(path, mm, &set);
                expect_failure(st, set, want, "stset", name, sub);
            }
        } else {
            size_t size;
            uint8_t *bytes = slurp(path, &size);
            if (strstr(name, ".safetensors")) {
                vtc_st *s = (vtc_st *)1;
                vtc_stset *set = (vtc_stset *)1;
                for (int mm = 0; mm < 2; mm++) {
                    int st = vtc_st_open(path, mm, &s);
                    expect_failure(st, s, want, "st", name, sub);
                    st = vtc_stset_open(path, mm, &set);
                    expect_failure(st, set, want, "stset", name, sub);
                }
                int st = vtc_st_open_memory(bytes, size, &s);
                expect_failure(st, s, want, "st memory", name, sub);
            } else {
                vtc_gguf *g = (vtc_gguf *)1;
                for (int mm = 0; mm < 2; mm++) {
                    int st = vtc_gguf_open(path, mm, &g);
                    expect_failure(st, g, want, "gguf", name, sub);
                }
                int st = vtc_gguf_open_memory(bytes, size, &g);
                expect_failure(st, g, want, "gguf memory", name, sub);
            }
            free(bytes);
        }
        cases++;
    }
    fclose(fp);
    assert_true(cases >= 100);
}

// Every strict prefix of a valid file fails cleanly as malformed.
static void test_every_truncation(void **state) {
    (void)state;
    static const char *files[] = { "st_basic.safetensors", "st_values.safetensors", "v3.gguf", "v2.gguf",
                                   "kv_only.gguf" };
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[512];
        snprintf(path, sizeof path, DIR_FILES "%s", files[f]);
        size_t size;
        uint8_t *bytes = slurp(path, &size);
        int is_st = strstr(files[f], ".safetensors") != NULL;
        for (size_t cut = 0; cut < size; cut++) {
            // A fresh allocation of exactly `cut` bytes, so ASan sees any over-read.
            uint8_t *prefix = malloc(cut ? cut : 1);
            memcpy(prefix, bytes, cut);
            int st;
            void *h = (void *)1;
            if (is_st) {
                st = vtc_st_open_memory(prefix, cut, (vtc_st **)&h);
            } else {
                st = vtc_gguf_open_memory(prefix, cut, (vtc_gguf **)&h);
            }
            if (st != VTC_ERR_FORMAT || h) {
                print_error("%s cut at %zu: status %d (%s)\n", files[f], cut, st, vtc_last_error());
                fail();
            }
            free(prefix);
        }
        free(bytes);
    }
}

// Deterministic byte mutations of the valid files: any status is fine, a
// crash, a leak or an out-of-bounds view is not (run under ASan/valgrind).
static void test_mutations(void **state) {
    (void)state;
    static const char *files[] = { "st_basic.safetensors", "v3.gguf", "v2.gguf" };
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    int opened = 0, total = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[512];
        snprintf(path, sizeof path, DIR_FILES "%s", files[f]);
        size_t size;
        uint8_t *bytes = slurp(path, &size);
        int is_st = strstr(files[f], ".safetensors") != NULL;
        for (int round = 0; round < 3000; round++) {
            uint8_t *m = malloc(size);
            memcpy(m, bytes, size);
            int edits = 1 + round % 4;
            for (int e = 0; e < edits; e++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                size_t at = (size_t)(rng >> 33) % size;
                uint8_t val = (uint8_t)(rng >> 13);
                switch (round % 3) {
                case 0: m[at] = val; break;
                case 1: m[at] ^= (uint8_t)(1u << (val & 7)); break;
                default: m[at] = (val & 1) ? 0xff : 0x00; break;
                }
            }
            if (is_st) {
                vtc_st *s = NULL;
                if (vtc_st_open_memory(m, size, &s) == 0) {
                    walk_st(s);
                    vtc_st_close(s);
                    opened++;
                }
            } else {
                vtc_gguf *g = NULL;
                if (vtc_gguf_open_memory(m, size, &g) == 0) {
                    walk_gguf(g);
                    vtc_gguf_close(g);
                    opened++;
                }
            }
            total++;
            free(m);
        }
        free(bytes);
    }
    print_message("mutations: %d of %d mutated files still opened\n", opened, total);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtype_table),
        cmocka_unit_test(test_conversion_all_patterns),
        cmocka_unit_test(test_name_index),
        cmocka_unit_test(test_file_open),
        cmocka_unit_test(test_st_basic),
        cmocka_unit_test(test_st_values),
        cmocka_unit_test(test_st_header_cap),
        cmocka_unit_test(test_stset),
        cmocka_unit_test(test_many_tensors),
        cmocka_unit_test(test_writer_roundtrip),
        cmocka_unit_test(test_writer_failures),
        cmocka_unit_test(test_tmpfile_cleanup),
        cmocka_unit_test(test_tmpfile_sigint),
        cmocka_unit_test(test_gguf_v3),
        cmocka_unit_test(test_gguf_v2),
        cmocka_unit_test(test_hostile_manifest),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests_name("modelfiles", tests, NULL, NULL);
}
