// FLOPs accounting against tools/ref_flops.py (tests/fixtures/flops_ref.txt), the
// JSON writer, and the CLI's strict number parsers. Run from the repository root.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/common.h"
#include "base/flops.h"
#include "cli/json_out.h"
// The CLI helpers are not part of libvtc; compile them into this test.
#include "cli/cli.h"

#define FIXTURE "tests/fixtures/flops_ref.txt"

static double rel_diff(double got, double want) {
    if (want == 0) return got == 0 ? 0 : INFINITY;
    return fabs(got - want) / fabs(want);
}

// Tracks the largest relative difference of a group of comparisons.
struct maxdiff {
    const char *what;
    double tol, max;
    int n;
};

static void check(struct maxdiff *m, const char *ctx, double got, double want) {
    double r = rel_diff(got, want);
    if (r > m->max) m->max = r;
    m->n++;
    if (!(r <= m->tol)) {
        print_error("%s: %s: got %.17g want %.17g (rel %.3g > %.1g)\n", ctx, m->what, got, want, r, m->tol);
        fail();
    }
}

static void report_diff(const struct maxdiff *m) {
    print_message("  %-34s %4d values, max rel diff %.3g (tol %.0e)\n", m->what, m->n, m->max, m->tol);
}

static FILE *open_fixture(void) {
    FILE *fp = fopen(FIXTURE, "r");
    if (!fp) {
        print_error("cannot open %s (run the test from the repository root)\n", FIXTURE);
        fail();
    }
    return fp;
}

// ---------------------------------------------------------------- presets

static void test_presets(void **state) {
    (void)state;
    struct vtc_lm_shape s;
    assert_int_equal(vtc_lm_preset("llava-1.5-7b", &s), VTC_OK);
    assert_int_equal(s.layers, 32);
    assert_int_equal(s.hidden, 4096);
    assert_int_equal(s.ffn, 11008);
    assert_int_equal(s.heads, 32);
    assert_int_equal(s.kv_heads, 32);
    assert_int_equal(s.vocab, 32000);
    assert_int_equal(vtc_lm_preset("qwen2-0.5b", &s), VTC_OK);
    assert_int_equal(s.heads, 14);
    assert_int_equal(s.kv_heads, 2);
    // the Qwen VLMs' language models (their config.json): grouped-query, 2.5-VL-3B narrower and deeper
    assert_int_equal(vtc_lm_preset("qwen2.5-vl-3b", &s), VTC_OK);
    assert_int_equal(s.layers, 36);
    assert_int_equal(s.hidden, 2048);
    assert_int_equal(s.ffn, 11008);
    assert_int_equal(s.heads, 16);
    assert_int_equal(s.kv_heads, 2);
    assert_int_equal(s.vocab, 151936);
    struct vtc_lm_shape q2, q25;
    assert_int_equal(vtc_lm_preset("qwen2-vl-7b", &q2), VTC_OK);
    assert_int_equal(vtc_lm_preset("qwen2.5-vl-7b", &q25), VTC_OK);
    assert_int_equal(vtc_lm_preset("qwen2-7b", &s), VTC_OK);
    assert_memory_equal(&q2, &s, sizeof s); // Qwen2-7B inside both
    assert_memory_equal(&q25, &s, sizeof s);
    assert_int_equal(vtc_lm_preset("gpt-5", &s), VTC_ERR_ARG);
    assert_non_null(strstr(vtc_last_error(), "gpt-5"));
    assert_non_null(strstr(vtc_last_error(), "llava-onevision-7b"));
    assert_int_equal(vtc_lm_preset(NULL, &s), VTC_ERR_ARG);
    assert_int_equal(vtc_lm_preset("qwen2-7b", NULL), VTC_ERR_ARG);
    int n = 0;
    while (vtc_lm_preset_name(n)) {
        assert_int_equal(vtc_lm_preset(vtc_lm_preset_name(n), &s), VTC_OK);
        assert_int_equal(vtc_lm_shape_check(&s), VTC_OK);
        n++;
    }
    assert_int_equal(n, 8);
    assert_null(vtc_lm_preset_name(-1));
}

// ---------------------------------------------------------------- against the Python reference

static void test_lm_against_reference(void **state) {
    (void)state;
    FILE *fp = open_fixture();
    struct maxdiff full = { "as-executed (prefill, decode)", 1e-9, 0, 0 };
    struct maxdiff paper = { "paper convention prefill", 1e-12, 0, 0 };
    struct maxdiff equiv = { "equivalent tokens", 1e-12, 0, 0 };
    char line[1024];
    int cases = 0;
    while (fgets(line, sizeof line, fp)) {
        char name[64];
        struct vtc_lm_shape s;
        long long N, K, T, G;
        int PL;
        double v[11];
        if (strncmp(line, "lm ", 3) != 0) continue;
        int got = sscanf(line, "lm %63s %d %d %d %d %d %d %lld %lld %lld %lld %d %lf %lf %lf %lf %lf %lf %lf %lf %lf",
                         name, &s.layers, &s.hidden, &s.ffn, &s.heads, &s.kv_heads, &s.vocab, &N, &K, &T, &G,
                         &PL, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]);
        assert_int_equal(got, 21);
        if (strcmp(name, "custom") != 0) { // the preset table agrees with the spec's figures
            struct vtc_lm_shape p;
            assert_int_equal(vtc_lm_preset(name, &p), VTC_OK);
            assert_memory_equal(&p, &s, sizeof s);
        }
        char ctx[160];
        snprintf(ctx, sizeof ctx, "%s N=%lld K=%lld T=%lld G=%lld PL=%d", name, N, K, T, G, PL);
        struct vtc_flops b, a;
        assert_int_equal(vtc_lm_flops(&s, N, T, G, &b), VTC_OK);
        assert_int_equal(vtc_lm_flops_split(&s, N, K, PL, T, G, &a), VTC_OK);
        check(&full, ctx, b.prefill, v[0]);
        check(&full, ctx, a.prefill, v[1]);
        check(&full, ctx, b.decode, v[2]);
        check(&full, ctx, a.decode, v[3]);
        check(&full, ctx, b.decode_per_token, v[4]);
        check(&full, ctx, a.decode_per_token, v[5]);
        check(&paper, ctx, b.paper_prefill, v[6]);
        check(&paper, ctx, a.paper_prefill, v[7]);
        check(&paper, ctx, vtc_flops_paper_prefill(&s, N + T), v[6]);
        check(&paper, ctx, vtc_flops_paper_prefill_split(&s, N + T, K + T, PL), v[7]);
        check(&equiv, ctx, vtc_flops_equiv_tokens(N, K, PL, s.layers), v[8]);
        cases++;
    }
    fclose(fp);
    assert_true(cases >= 30);
    report_diff(&full);
    report_diff(&paper);
    report_diff(&equiv);
}

static void test_vit_projector_against_reference(void **state) {
    (void)state;
    FILE *fp = open_fixture();
    struct maxdiff vit = { "vision encoder", 1e-12, 0, 0 };
    struct maxdiff proj = { "projector", 1e-12, 0, 0 };
    char line[512];
    int seen_clip = 0;
    while (fgets(line, sizeof line, fp)) {
        char name[64];
        if (!strncmp(line, "vit ", 4)) {
            struct vtc_vit_dims d;
            long long P, n;
            int heads, blocks;
            double want;
            assert_int_equal(sscanf(line, "vit %63s %d %d %d %lld %lld %d %d %lf", name, &d.hidden, &d.ffn,
                                    &d.patch_size, &P, &n, &heads, &blocks, &want), 9);
            check(&vit, name, vtc_flops_vit(&d, P, n, blocks), want);
            // the pieces add up
            check(&vit, name, vtc_flops_vit_patch_embed(&d, P) + blocks * vtc_flops_vit_block(&d, n), want);
            if (!strcmp(name, "clip-vit-l-14-336")) {
                seen_clip = 1;
                assert_int_equal(d.hidden, 1024);
                assert_int_equal(n, 577);
                assert_int_equal(blocks, 24);
            }
        } else if (!strncmp(line, "proj ", 5)) {
            long long n;
            int a, b, c;
            double want;
            assert_int_equal(sscanf(line, "proj %lld %d %d %d %lf", &n, &a, &b, &c, &want), 5);
            check(&proj, "projector", vtc_flops_projector(n, a, b, c), want);
        }
    }
    fclose(fp);
    assert_true(seen_clip);
    report_diff(&vit);
    report_diff(&proj);
}

// ---------------------------------------------------------------- properties and errors

static void test_lm_properties(void **state) {
    (void)state;
    struct vtc_lm_shape s;
    assert_int_equal(vtc_lm_preset("qwen2-7b", &s), VTC_OK);
    struct vtc_flops a, b;
    // no pruning three ways
    assert_int_equal(vtc_lm_flops(&s, 576, 40, 10, &a), VTC_OK);
    assert_int_equal(vtc_lm_flops_split(&s, 576, 576, 5, 40, 10, &b), VTC_OK);
    assert_true(rel_diff(a.prefill, b.prefill) < 1e-15 && rel_diff(a.decode, b.decode) < 1e-15);
    assert_int_equal(vtc_lm_flops_split(&s, 576, 64, s.layers, 40, 10, &b), VTC_OK);
    assert_true(rel_diff(a.prefill, b.prefill) < 1e-15 && rel_diff(a.paper_prefill, b.paper_prefill) < 1e-15);
    // the building blocks
    assert_true(rel_diff(a.prefill, vtc_flops_lm_prefill(&s, 616)) < 1e-15);
    assert_true(rel_diff(a.decode, vtc_flops_lm_decode(&s, 616, 10)) < 1e-15);
    double steps = 0;
    for (int g = 1; g < 10; g++) steps += vtc_flops_lm_decode_step(&s, 616 + g);
    assert_true(rel_diff(a.decode, steps) < 1e-14);
    assert_true(rel_diff(a.decode_per_token, steps / 9) < 1e-14);
    // one generated token: no decode step; per-token is the step that would come next
    assert_int_equal(vtc_lm_flops(&s, 576, 40, 1, &a), VTC_OK);
    assert_true(a.decode == 0);
    assert_true(rel_diff(a.decode_per_token, vtc_flops_lm_decode_step(&s, 617)) < 1e-15);
    // the LM head appears once in prefill
    assert_true(rel_diff(vtc_flops_lm_prefill(&s, 1),
                         s.layers * vtc_flops_lm_layer_decode(&s, 1) + vtc_flops_lm_head(&s, 1)) < 1e-15);
    assert_true(vtc_flops_lm_prefill(&s, 0) == 0);
    // a known small figure by hand: d=8, heads 2, kv 1, m=16, V=10, 1 layer, n=3
    struct vtc_lm_shape t = { 1, 8, 16, 2, 1, 10 };
    // linear per token 2*(2*64 + 2*8*4 + 3*8*16) = 1152; attention 4*8*(1+2+3) = 192; head 160
    assert_true(vtc_flops_lm_prefill(&t, 3) == 3 * 1152 + 192 + 160);
    // paper: 4*3*64 + 2*9*8 + 2*3*8*16 = 768 + 144 + 768
    assert_true(vtc_flops_paper_prefill(&t, 3) == 1680);
    // pruning reduces
    assert_int_equal(vtc_lm_flops(&s, 576, 40, 64, &a), VTC_OK);
    assert_int_equal(vtc_lm_flops_split(&s, 576, 144, 0, 40, 64, &b), VTC_OK);
    assert_true(b.prefill < a.prefill && b.decode < a.decode && b.paper_prefill < a.paper_prefill);
    // equivalent tokens
    assert_true(vtc_flops_equiv_tokens(576, 288, 2, 32) == (2.0 * 576 + 30.0 * 288) / 32);
    assert_true(vtc_flops_equiv_tokens(576, 64, 0, 32) == 64);
    assert_true(vtc_flops_equiv_tokens(576, 64, 99, 32) == 576);
    assert_true(vtc_flops_equiv_tokens(576, 64, 2, 0) == 0);
}

static void test_lm_errors(void **state) {
    (void)state;
    struct vtc_lm_shape s;
    struct vtc_flops f;
    assert_int_equal(vtc_lm_preset("llava-1.5-7b", &s), VTC_OK);
    assert_int_equal(vtc_lm_flops(&s, -1, 0, 0, &f), VTC_ERR_ARG);
    assert_int_equal(vtc_lm_flops(&s, 5, -1, 0, &f), VTC_ERR_ARG);
    assert_int_equal(vtc_lm_flops(&s, 5, 0, -3, &f), VTC_ERR_ARG);
    assert_int_equal(vtc_lm_flops(&s, VTC_FLOPS_MAX_TOKENS + 1, 0, 0, &f), VTC_ERR_ARG);
    assert_int_equal(vtc_lm_flops(&s, 0, 0, 0, &f), VTC_ERR_ARG);
    assert_non_null(strstr(vtc_last_error(), "empty prompt"));
    assert_int_equal(vtc_lm_flops(&s, 5, 0, 0, NULL), VTC_ERR_ARG);
    assert_int_equal(vtc_lm_flops(NULL, 5, 0, 0, &f), VTC_ERR_ARG);
    assert_int_equal(vtc_lm_flops_split(&s, 5, 6, 0, 0, 0, &f), VTC_ERR_ARG);
    assert_non_null(strstr(vtc_last_error(), "kept 6 > visual 5"));
    assert_int_equal(vtc_lm_flops_split(&s, 5, 0, 0, 0, 0, &f), VTC_ERR_ARG);  // nothing left
    assert_int_equal(vtc_lm_flops_split(&s, 5, 0, 0, 1, 0, &f), VTC_OK);       // the text remains
    assert_int_equal(vtc_lm_flops_split(&s, 5, 0, 32, 0, 0, &f), VTC_OK);      // no layer pruned
    assert_int_equal(vtc_lm_flops_split(&s, 5, 2, 33, 0, 0, &f), VTC_ERR_ARG);
    assert_int_equal(vtc_lm_flops_split(&s, 5, 2, -1, 0, 0, &f), VTC_ERR_ARG);
    struct vtc_lm_shape bad = s;
    bad.kv_heads = 5;
    assert_int_equal(vtc_lm_flops(&bad, 5, 0, 0, &f), VTC_ERR_ARG);
    assert_non_null(strstr(vtc_last_error(), "kv_heads 5"));
    bad = s;
    bad.heads = 3;
    bad.kv_heads = 3;
    assert_int_equal(vtc_lm_shape_check(&bad), VTC_ERR_ARG);
    bad = s;
    bad.vocab = 0;
    assert_int_equal(vtc_lm_shape_check(&bad), VTC_ERR_ARG);
    assert_non_null(strstr(vtc_last_error(), "vocab"));
    bad = s;
    bad.kv_heads = 64;
    assert_int_equal(vtc_lm_shape_check(&bad), VTC_ERR_ARG);
}

// ---------------------------------------------------------------- JSON writer

static char *json_build(int pretty, void (*fn)(struct vtc_json *), int *status) {
    struct vtc_json j;
    vtc_json_init_buffer(&j, pretty);
    fn(&j);
    *status = vtc_json_finish(&j);
    char *s = vtc_json_take_buffer(&j, NULL);
    vtc_json_free(&j);
    return s;
}

static void doc_report(struct vtc_json *j) {
    vtc_json_begin_object(j);
    vtc_json_kv_string(j, "name", "a\"b\\c\n\t\x01/é");
    vtc_json_kv_int(j, "n", -42);
    vtc_json_kv_double(j, "x", 0.1);
    vtc_json_kv_double(j, "big", 8343943905280.0);
    vtc_json_kv_double(j, "huge", 1e300);
    vtc_json_kv_double(j, "third", 1.0 / 3.0);
    vtc_json_kv_double(j, "nan", NAN);
    vtc_json_kv_double(j, "negzero", -0.0);
    vtc_json_kv_bool(j, "t", 1);
    vtc_json_kv_null(j, "z");
    vtc_json_key(j, "arr");
    vtc_json_begin_array(j);
    vtc_json_int(j, 1);
    vtc_json_begin_object(j);
    vtc_json_end_object(j);
    vtc_json_begin_array(j);
    vtc_json_end_array(j);
    vtc_json_string(j, NULL);
    vtc_json_end_array(j);
    vtc_json_end_object(j);
}

static void test_json_compact(void **state) {
    (void)state;
    int st;
    char *s = json_build(0, doc_report, &st);
    assert_int_equal(st, VTC_OK);
    assert_non_null(s);
    assert_string_equal(s, "{\"name\":\"a\\\"b\\\\c\\n\\t\\u0001/é\",\"n\":-42,\"x\":0.1,\"big\":8343943905280,"
                           "\"huge\":1e+300,\"third\":0.3333333333333333,\"nan\":null,\"negzero\":0,"
                           "\"t\":true,\"z\":null,\"arr\":[1,{},[],null]}");
    free(s);
}

static void doc_small(struct vtc_json *j) {
    vtc_json_begin_object(j);
    vtc_json_kv_int(j, "a", 1);
    vtc_json_key(j, "b");
    vtc_json_begin_array(j);
    vtc_json_double(j, 2.5);
    vtc_json_bool(j, 0);
    vtc_json_end_array(j);
    vtc_json_key(j, "c");
    vtc_json_begin_object(j);
    vtc_json_end_object(j);
    vtc_json_end_object(j);
}

static void test_json_pretty_and_file(void **state) {
    (void)state;
    int st;
    char *s = json_build(1, doc_small, &st);
    assert_int_equal(st, VTC_OK);
    const char *want = "{\n  \"a\": 1,\n  \"b\": [\n    2.5,\n    false\n  ],\n  \"c\": {}\n}\n";
    assert_string_equal(s, want);
    free(s);

    FILE *fp = tmpfile();
    assert_non_null(fp);
    struct vtc_json j;
    vtc_json_init_file(&j, fp, 1);
    doc_small(&j);
    assert_int_equal(vtc_json_finish(&j), VTC_OK);
    rewind(fp);
    char buf[256] = { 0 };
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    assert_int_equal(n, strlen(want));
    assert_string_equal(buf, want);
}

static void test_json_numbers(void **state) {
    (void)state;
    const double vals[] = { 0.1, 1.0 / 3.0, 1e-300, 123456.789, -2.5e-8, 9007199254740993.0,
                            1.7976931348623157e308, 4.9e-324, 3.0e15 + 0.5 };
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char t[40];
        vtc_json_format_double(vals[i], t, sizeof t);
        assert_true(strtod(t, NULL) == vals[i]); // round-trips
        assert_true(strlen(t) <= 24);
    }
    char t[40];
    vtc_json_format_double(0.1, t, sizeof t);
    assert_string_equal(t, "0.1"); // shortest, not 0.10000000000000001
    vtc_json_format_double(4096.0, t, sizeof t);
    assert_string_equal(t, "4096");
    vtc_json_format_double(-9007199254740991.0, t, sizeof t);
    assert_string_equal(t, "-9007199254740991");
    vtc_json_format_double(INFINITY, t, sizeof t);
    assert_string_equal(t, "null");
}

static void doc_bad_utf8(struct vtc_json *j) {
    vtc_json_string(j, "ok\xff\xc3(\xe2\x82\xac\xed\xa0\x80!");
}

static void test_json_utf8(void **state) {
    (void)state;
    int st;
    char *s = json_build(0, doc_bad_utf8, &st);
    assert_int_equal(st, VTC_OK);
    // 0xff and a lone lead byte are replaced, the euro sign kept, a surrogate's 3 bytes replaced
    assert_string_equal(s, "\"ok\\ufffd\\ufffd(\xe2\x82\xac\\ufffd\\ufffd\\ufffd!\"");
    free(s);
}

static void misuse_value_without_key(struct vtc_json *j) {
    vtc_json_begin_object(j);
    vtc_json_int(j, 1);
    vtc_json_end_object(j);
}
static void misuse_unbalanced(struct vtc_json *j) {
    vtc_json_begin_array(j);
    vtc_json_end_object(j);
}
static void misuse_unclosed(struct vtc_json *j) { vtc_json_begin_array(j); }
static void misuse_two_values(struct vtc_json *j) {
    vtc_json_int(j, 1);
    vtc_json_int(j, 2);
}
static void misuse_key_in_array(struct vtc_json *j) {
    vtc_json_begin_array(j);
    vtc_json_key(j, "k");
}
static void misuse_dangling_key(struct vtc_json *j) {
    vtc_json_begin_object(j);
    vtc_json_key(j, "k");
    vtc_json_end_object(j);
}
static void misuse_deep(struct vtc_json *j) {
    for (int i = 0; i < VTC_JSON_MAX_DEPTH + 1; i++) vtc_json_begin_array(j);
}
static void misuse_nothing(struct vtc_json *j) { (void)j; }

static void test_json_misuse(void **state) {
    (void)state;
    void (*docs[])(struct vtc_json *) = { misuse_value_without_key, misuse_unbalanced, misuse_unclosed,
                                          misuse_two_values, misuse_key_in_array, misuse_dangling_key,
                                          misuse_nothing };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        int st;
        char *s = json_build(0, docs[i], &st);
        assert_int_equal(st, VTC_ERR_INTERNAL);
        assert_null(s); // a failed writer hands nothing over
        assert_non_null(strstr(vtc_last_error(), "json writer"));
    }
    int st;
    char *s = json_build(0, misuse_deep, &st);
    assert_int_equal(st, VTC_ERR_LIMIT);
    assert_null(s);
}

// ---------------------------------------------------------------- CLI number parsing

static void test_cli_parse_int(void **state) {
    (void)state;
    long long v = 7;
    assert_int_equal(cli_parse_int("576", 0, 1000, &v), 0);
    assert_int_equal(v, 576);
    assert_int_equal(cli_parse_int("+3", 0, 10, &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(cli_parse_int("-0", 0, 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(cli_parse_int("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
    v = 7;
    const char *bad[] = { "", " 5", "5 ", "5x", "0x10", "1e3", "3.0", "+", "-", "--1", "five", NULL };
    for (int i = 0; bad[i]; i++) assert_int_equal(cli_parse_int(bad[i], -100, 100, &v), -1);
    assert_int_equal(cli_parse_int(NULL, 0, 1, &v), -1);
    assert_int_equal(cli_parse_int("1001", 0, 1000, &v), -2);
    assert_int_equal(cli_parse_int("-1", 0, 1000, &v), -2);
    assert_int_equal(cli_parse_int("99999999999999999999", 0, INT64_MAX, &v), -2);
    assert_int_equal(v, 7); // untouched on failure
}

static void test_cli_parse_double(void **state) {
    (void)state;
    double v = 7;
    assert_int_equal(cli_parse_double("0.5", 0, 1, &v), 0);
    assert_true(v == 0.5);
    assert_int_equal(cli_parse_double(".5", 0, 1, &v), 0);
    assert_true(v == 0.5);
    assert_int_equal(cli_parse_double("5.", 0, 10, &v), 0);
    assert_true(v == 5);
    assert_int_equal(cli_parse_double("-1.5e2", -1000, 0, &v), 0);
    assert_true(v == -150);
    assert_int_equal(cli_parse_double("1e-400", -1, 1, &v), 0); // underflow to 0 is a number
    v = 7;
    const char *bad[] = { "", " 1", "1 ", "nan", "NaN", "inf", "-infinity", "0x1p3", "1e", "1e+", ".", "e5",
                          "1,5", "1.2.3", "--1", NULL };
    for (int i = 0; bad[i]; i++) assert_int_equal(cli_parse_double(bad[i], -1e9, 1e9, &v), -1);
    assert_int_equal(cli_parse_double("1e999", -INFINITY, INFINITY, &v), -2);
    assert_int_equal(cli_parse_double("1.5", 0, 1, &v), -2);
    assert_int_equal(cli_parse_double("-0.1", 0, 1, &v), -2);
    assert_true(v == 7);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_lm_against_reference),
        cmocka_unit_test(test_vit_projector_against_reference),
        cmocka_unit_test(test_lm_properties),
        cmocka_unit_test(test_lm_errors),
        cmocka_unit_test(test_json_compact),
        cmocka_unit_test(test_json_pretty_and_file),
        cmocka_unit_test(test_json_numbers),
        cmocka_unit_test(test_json_utf8),
        cmocka_unit_test(test_json_misuse),
        cmocka_unit_test(test_cli_parse_int),
        cmocka_unit_test(test_cli_parse_double),
    };
    return cmocka_run_group_tests_name("flops", tests, NULL, NULL);
}
