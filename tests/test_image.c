// Image decode and preprocessing against Pillow 9.4 (fixtures and their format:
// tools/gen_image_fixtures.py): decode byte-identical to
// Image.open(p).convert('RGB'), bicubic resize byte-identical to
// Image.resize(..., BICUBIC), the CLIP / LLaVA-pad / SigLIP processors within
// 1e-6 (max |diff| printed), every hostile file a specific error naming the
// file, every truncation and corruption of valid files a clean outcome.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vision/preprocess.h"
#include "vtc.h"

#define DIR "tests/fixtures/images/"

static const float CLIP_MEAN[3] = { 0.48145466f, 0.4578275f, 0.40821073f };
static const float CLIP_STD[3] = { 0.26862954f, 0.26130258f, 0.27577711f };

static void *slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc(n > 0 ? (size_t)n : 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void *slurp_fixture(const char *name, size_t expect) {
    char path[512];
    snprintf(path, sizeof path, DIR "%s", name);
    size_t size;
    void *data = slurp(path, &size);
    if (size != expect) fail_msg("%s: %zu bytes, expected %zu", name, size, expect);
    return data;
}

static vtc_image *load_fixture(const char *name) {
    char path[512];
    snprintf(path, sizeof path, DIR "%s", name);
    vtc_image *img = vtc_image_load(path, NULL);
    if (!img) fail_msg("%s: %s", name, vtc_last_error());
    return img;
}

static int status_of(const char *name) {
    if (!strcmp(name, "FORMAT")) return VTC_ERR_FORMAT;
    if (!strcmp(name, "UNSUPPORTED")) return VTC_ERR_UNSUPPORTED;
    if (!strcmp(name, "LIMIT")) return VTC_ERR_LIMIT;
    fail_msg("unknown status %s", name);
    return 0;
}

static int aspect_of(const char *mode) {
    if (!strcmp(mode, "crop")) return VTC_ASPECT_CROP;
    if (!strcmp(mode, "pad")) return VTC_ASPECT_PAD;
    if (!strcmp(mode, "resize")) return VTC_ASPECT_RESIZE;
    fail_msg("unknown mode %s", mode);
    return 0;
}

// The MANIFEST lines of one kind, split into words.
struct cases {
    int n;
    char words[128][10][64];
};

static void read_manifest(const char *kind, struct cases *c) {
    FILE *f = fopen(DIR "MANIFEST.txt", "r");
    assert_non_null(f);
    char line[1024];
    c->n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char *save = NULL, *w = strtok_r(line, " \n", &save);
        if (!w || strcmp(w, kind)) continue;
        assert_true(c->n < 128);
        int k = 0;
        for (; (w = strtok_r(NULL, " \n", &save)) && k < 10; k++) snprintf(c->words[c->n][k], 64, "%s", w);
        for (; k < 10; k++) c->words[c->n][k][0] = '\0';
        c->n++;
    }
    fclose(f);
    assert_true(c->n > 0);
}

static struct cases g_cases; // large: not on the stack

// ---------------------------------------------------------------- decode

static void test_decode(void **state) {
    (void)state;
    read_manifest("decode", &g_cases);
    for (int i = 0; i < g_cases.n; i++) {
        char(*w)[64] = g_cases.words[i]; // image W H expected
        vtc_image *img = load_fixture(w[0]);
        assert_int_equal(img->width, atoi(w[1]));
        assert_int_equal(img->height, atoi(w[2]));
        size_t n = (size_t)img->width * img->height * 3;
        uint8_t *ref = slurp_fixture(w[3], n);
        if (memcmp(ref, img->rgb, n)) {
            size_t at = 0;
            while (ref[at] == img->rgb[at]) at++;
            fail_msg("%s: differs from Pillow at byte %zu (pixel %zu): %u vs %u", w[0], at, at / 3, img->rgb[at],
                     ref[at]);
        }
        // the same from memory
        char path[512];
        snprintf(path, sizeof path, DIR "%s", w[0]);
        size_t size;
        uint8_t *data = slurp(path, &size);
        vtc_image *m = vtc_image_load_memory(data, size, NULL);
        if (!m) fail_msg("%s from memory: %s", w[0], vtc_last_error());
        assert_memory_equal(m->rgb, img->rgb, n);
        vtc_image_free(m);
        free(data);
        free(ref);
        vtc_image_free(img);
    }
    printf("  decode: %d images byte-identical to Pillow (file and memory)\n", g_cases.n);
}

// ---------------------------------------------------------------- resize and preprocess

static void test_resize(void **state) {
    (void)state;
    read_manifest("resize", &g_cases);
    for (int i = 0; i < g_cases.n; i++) {
        char(*w)[64] = g_cases.words[i]; // image W H expected
        vtc_image *img = load_fixture(w[0]);
        int dw = atoi(w[1]), dh = atoi(w[2]);
        size_t n = (size_t)dw * dh * 3;
        uint8_t *ref = slurp_fixture(w[3], n), *out = malloc(n);
        assert_int_equal(vtc_resize_bicubic_u8(img->rgb, img->width, img->height, out, dw, dh), 0);
        if (memcmp(ref, out, n))
            fail_msg("%s %dx%d -> %dx%d: differs from Pillow", w[0], img->width, img->height, dw, dh);
        free(out);
        free(ref);
        vtc_image_free(img);
    }
    printf("  resize: %d cases byte-identical to Pillow\n", g_cases.n);
}

// Same size: the identity, as Pillow's copy.
static void test_resize_identity(void **state) {
    (void)state;
    vtc_image *img = load_fixture("photo.jpg");
    size_t n = (size_t)img->width * img->height * 3;
    uint8_t *out = malloc(n);
    assert_int_equal(vtc_resize_bicubic_u8(img->rgb, img->width, img->height, out, img->width, img->height), 0);
    assert_memory_equal(out, img->rgb, n);
    free(out);
    vtc_image_free(img);
}

struct norm {
    char name[64];
    float mean[3], std[3];
    float table[3][256];
};

static void test_preprocess(void **state) {
    (void)state;
    static struct norm norms[8];
    read_manifest("norm", &g_cases);
    int n_norms = g_cases.n;
    assert_true(n_norms <= 8);
    for (int i = 0; i < n_norms; i++) { // name mean0..2 std0..2 table
        char(*w)[64] = g_cases.words[i];
        snprintf(norms[i].name, sizeof norms[i].name, "%s", w[0]);
        for (int c = 0; c < 3; c++) {
            norms[i].mean[c] = strtof(w[1 + c], NULL);
            norms[i].std[c] = strtof(w[4 + c], NULL);
        }
        float *t = slurp_fixture(w[7], sizeof norms[i].table);
        memcpy(norms[i].table, t, sizeof norms[i].table);
        free(t);
    }
    read_manifest("preprocess", &g_cases);
    double worst = 0;
    for (int i = 0; i < g_cases.n; i++) {
        char(*w)[64] = g_cases.words[i]; // image mode S norm expected.u8
        const struct norm *nm = NULL;
        for (int k = 0; k < n_norms; k++)
            if (!strcmp(norms[k].name, w[3])) nm = &norms[k];
        assert_non_null(nm);
        int S = atoi(w[2]);
        vtc_image *img = load_fixture(w[0]);
        const size_t plane = (size_t)S * S;
        uint8_t *u8 = slurp_fixture(w[4], plane * 3); // HWC
        float *out = malloc(sizeof(float) * 3 * plane);
        int st = vtc_preprocess_rgb(img->rgb, img->width, img->height, S, aspect_of(w[1]), nm->mean, nm->std, out);
        if (st) fail_msg("%s %s %d: %s", w[0], w[1], S, vtc_last_error());
        double case_worst = 0;
        for (int c = 0; c < 3; c++)
            for (size_t p = 0; p < plane; p++) {
                double d = fabs((double)out[c * plane + p] - nm->table[c][u8[p * 3 + c]]);
                if (d > case_worst) case_worst = d;
            }
        if (case_worst > 1e-6) fail_msg("%s %s %d (%s): max |diff| %g", w[0], w[1], S, w[3], case_worst);
        if (case_worst > worst) worst = case_worst;
        free(out);
        free(u8);
        vtc_image_free(img);
    }
    printf("  preprocess: %d cases (crop / pad / resize), max |diff| %.3g vs transformers + Pillow\n", g_cases.n,
           worst);
}

// Shapes whose intermediates Pillow would make huge: exact, with no such buffer.
static void test_preprocess_elongated(void **state) {
    (void)state;
    const int S = 336;
    uint8_t *strip = malloc((size_t)3 * 200000);
    for (int i = 0; i < 3 * 200000; i++) strip[i] = (uint8_t)(i * 2654435761u >> 24);
    float *out = malloc(sizeof(float) * 3 * S * S);
    // 200000 x 1 under CLIP: resized to 67200000 x 336, of which the centre is kept
    assert_int_equal(vtc_preprocess_rgb(strip, 200000, 1, S, VTC_ASPECT_CROP, CLIP_MEAN, CLIP_STD, out), 0);
    // 1 x 200000 under LLaVA: a 200000 x 200000 padded square
    assert_int_equal(vtc_preprocess_rgb(strip, 1, 200000, S, VTC_ASPECT_PAD, CLIP_MEAN, CLIP_STD, out), 0);
    // the padded square of a 1-pixel-wide image is almost all background: the
    // centre column is image, the corners the mean colour, normalised to ~0
    assert_true(fabsf(out[0]) < 0.02f && fabsf(out[S * S - 1]) < 0.02f);
    free(strip);
    free(out);
}

// ---------------------------------------------------------------- hostile input

static void test_hostile(void **state) {
    (void)state;
    read_manifest("bad", &g_cases);
    for (int i = 0; i < g_cases.n; i++) {
        char(*w)[64] = g_cases.words[i]; // file STATUS
        char path[512];
        snprintf(path, sizeof path, DIR "%s", w[0]);
        vtc_image *img = vtc_image_load(path, NULL);
        if (img) fail_msg("%s decoded, expected %s", w[0], w[1]);
        if (vtc_last_status() != status_of(w[1]))
            fail_msg("%s: status %d (%s), expected %s", w[0], vtc_last_status(), vtc_last_error(), w[1]);
        if (!strstr(vtc_last_error(), path)) fail_msg("%s: message does not name the file: %s", w[0], vtc_last_error());
        size_t size;
        uint8_t *data = slurp(path, &size);
        assert_null(vtc_image_load_memory(data, size, NULL));
        assert_int_equal(vtc_last_status(), status_of(w[1]));
        free(data);
    }
    printf("  hostile: %d files, each its expected status\n", g_cases.n);
}

// Every prefix of a valid file fails cleanly or, once all pixel rows are in
// (a PNG missing only its tail; Pillow accepts those too), decodes to the image.
static void test_truncations(void **state) {
    (void)state;
    const char *files[] = { "rgb8.png", "interlaced.png", "palette4_short.png", "rgba16.png", "progressive.jpg",
                            "baseline.jpg", "cmyk.jpg" };
    int early = 0;
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        vtc_image *full = load_fixture(files[f]);
        size_t size, n = (size_t)full->width * full->height * 3;
        char path[512];
        snprintf(path, sizeof path, DIR "%s", files[f]);
        uint8_t *data = slurp(path, &size);
        for (size_t cut = 0; cut < size; cut++) {
            vtc_image *img = vtc_image_load_memory(data, cut, NULL);
            if (img) {
                if (img->width != full->width || img->height != full->height || memcmp(img->rgb, full->rgb, n))
                    fail_msg("%s cut to %zu bytes decoded to something else", files[f], cut);
                early++;
                vtc_image_free(img);
                continue;
            }
            int st = vtc_last_status();
            if (st != VTC_ERR_FORMAT && st != VTC_ERR_UNSUPPORTED)
                fail_msg("%s cut to %zu bytes: status %d (%s)", files[f], cut, st, vtc_last_error());
        }
        free(data);
        vtc_image_free(full);
    }
    printf("  truncations: every prefix of %zu files clean (%d complete before their end)\n",
           sizeof files / sizeof *files, early);
}

// Bit flips: any outcome but a crash, a leak or a failure without a reason.
static void test_corruptions(void **state) {
    (void)state;
    const char *files[] = { "rgb8.png", "interlaced.png", "palette.png", "gray16.png", "baseline.jpg",
                            "progressive.jpg", "cmyk.jpg", "gray.jpg" };
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    int decoded = 0, refused = 0;
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        char path[512];
        snprintf(path, sizeof path, DIR "%s", files[f]);
        size_t size;
        uint8_t *data = slurp(path, &size), *bad = malloc(size);
        for (int trial = 0; trial < 150; trial++) {
            memcpy(bad, data, size);
            for (int k = 0; k < 1 + trial % 3; k++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                size_t at = 8 + (size_t)(rng >> 33) % (size - 8); // keep the signature
                bad[at] ^= (uint8_t)(1u << (rng >> 29 & 7));
            }
            struct vtc_limits lim = vtc_limits_default();
            lim.max_pixels = 1 << 20; // a flipped size stays cheap
            vtc_image *img = vtc_image_load_memory(bad, size, &lim);
            if (img) {
                decoded++;
                vtc_image_free(img);
            } else {
                int st = vtc_last_status();
                if (st != VTC_ERR_FORMAT && st != VTC_ERR_UNSUPPORTED && st != VTC_ERR_LIMIT)
                    fail_msg("%s trial %d: status %d (%s)", files[f], trial, st, vtc_last_error());
                if (!vtc_last_error()[0]) fail_msg("%s trial %d: no message", files[f], trial);
                refused++;
            }
        }
        free(bad);
        free(data);
    }
    printf("  corruptions: %d decoded, %d refused cleanly\n", decoded, refused);
}

// ---------------------------------------------------------------- limits and arguments

// A progressive JPEG with its last scan repeated 1200 times: libjpeg only warns
// about the bogus progression and would go on decoding every scan; vtc stops
// at 1000 scans (Pillow would not: a deliberate difference).
static void test_jpeg_scan_limit(void **state) {
    (void)state;
    size_t size;
    uint8_t *jpg = slurp(DIR "progressive.jpg", &size);
    size_t last_sos = 0;
    for (size_t i = 2; i + 1 < size; i++)
        if (jpg[i] == 0xff && jpg[i + 1] == 0xda) last_sos = i;
    assert_true(last_sos > 0 && jpg[size - 2] == 0xff && jpg[size - 1] == 0xd9);
    const size_t scan = size - 2 - last_sos, reps = 1200, n = size + scan * reps;
    uint8_t *many = malloc(n);
    memcpy(many, jpg, size - 2);
    for (size_t r = 0; r < reps; r++) memcpy(many + size - 2 + r * scan, jpg + last_sos, scan);
    memcpy(many + n - 2, "\xff\xd9", 2);
    assert_null(vtc_image_load_memory(many, n, NULL));
    assert_int_equal(vtc_last_status(), VTC_ERR_LIMIT);
    assert_non_null(strstr(vtc_last_error(), "scans"));
    // the same with 100 repeats decodes
    memcpy(many + size - 2 + 100 * scan, "\xff\xd9", 2);
    vtc_image *img = vtc_image_load_memory(many, size + 100 * scan, NULL);
    if (!img) fail_msg("100 repeated scans: %s", vtc_last_error());
    vtc_image_free(img);
    free(many);
    free(jpg);
}

static void test_limits(void **state) {
    (void)state;
    struct vtc_limits d = vtc_limits_default();
    assert_int_equal(d.max_pixels, 64ull << 20);
    assert_int_equal(d.max_frames, 4096);
    assert_int_equal(d.max_tokens, 1 << 20);
    assert_int_equal(d.max_memory, 8ull << 30);
    const char *files[] = { "rgb8.png", "interlaced.png", "tall.jpg", "tall_progressive.jpg" };
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        vtc_image *img = load_fixture(files[f]);
        const uint64_t px = (uint64_t)img->width * img->height;
        vtc_image_free(img);
        char path[512];
        snprintf(path, sizeof path, DIR "%s", files[f]);
        struct vtc_limits lim = vtc_limits_default();
        lim.max_pixels = px; // exactly enough
        img = vtc_image_load(path, &lim);
        assert_non_null(img);
        vtc_image_free(img);
        lim.max_pixels = px - 1;
        assert_null(vtc_image_load(path, &lim));
        assert_int_equal(vtc_last_status(), VTC_ERR_LIMIT);
        assert_non_null(strstr(vtc_last_error(), "decompression bomb"));
        lim = vtc_limits_default();
        lim.max_memory = px * 3 - 1; // the RGB buffer would not fit
        assert_null(vtc_image_load(path, &lim));
        assert_int_equal(vtc_last_status(), VTC_ERR_LIMIT);
        // room for the RGB buffer only: enough but for a progressive JPEG,
        // whose coefficients count too (2 bytes a sample: 6 a pixel in 4:4:4)
        lim.max_memory = px * 3;
        img = vtc_image_load(path, &lim);
        if (strstr(files[f], "progressive")) {
            assert_null(img);
            assert_int_equal(vtc_last_status(), VTC_ERR_LIMIT);
        } else if (!img) {
            fail_msg("%s with max_memory %llu: %s", files[f], (unsigned long long)lim.max_memory, vtc_last_error());
        }
        vtc_image_free(img);
    }
}

static void test_args(void **state) {
    (void)state;
    assert_null(vtc_image_load(DIR "no-such-file.png", NULL));
    assert_int_equal(vtc_last_status(), VTC_ERR_IO);
    assert_non_null(strstr(vtc_last_error(), "no-such-file.png"));
    assert_null(vtc_image_load(DIR, NULL)); // a directory
    assert_int_equal(vtc_last_status(), VTC_ERR_IO);
    assert_null(vtc_image_load(NULL, NULL));
    assert_int_equal(vtc_last_status(), VTC_ERR_ARG);
    assert_null(vtc_image_load_memory(NULL, 10, NULL));
    assert_int_equal(vtc_last_status(), VTC_ERR_ARG);
    assert_null(vtc_image_load_memory(NULL, 0, NULL));
    assert_int_equal(vtc_last_status(), VTC_ERR_FORMAT); // empty
    vtc_image_free(NULL);

    uint8_t px[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    vtc_image *img = vtc_image_from_rgb(px, 2, 2);
    assert_non_null(img);
    assert_int_equal(img->width, 2);
    assert_int_equal(img->height, 2);
    assert_ptr_not_equal(img->rgb, px); // a copy
    assert_memory_equal(img->rgb, px, 12);
    vtc_image_free(img);
    assert_null(vtc_image_from_rgb(px, 0, 2));
    assert_int_equal(vtc_last_status(), VTC_ERR_ARG);
    assert_null(vtc_image_from_rgb(px, 2, -1));
    assert_null(vtc_image_from_rgb(NULL, 2, 2));
    assert_int_equal(vtc_last_status(), VTC_ERR_ARG);

    float out[3 * 4 * 4];
    uint8_t small[3 * 4 * 4];
    const float zero_std[3] = { 0.5f, 0.0f, 0.5f }, nan_mean[3] = { NAN, 0.5f, 0.5f };
    assert_int_equal(vtc_preprocess_rgb(px, 2, 2, 0, VTC_ASPECT_CROP, CLIP_MEAN, CLIP_STD, out), VTC_ERR_ARG);
    assert_int_equal(vtc_preprocess_rgb(px, 2, 2, 8193, VTC_ASPECT_CROP, CLIP_MEAN, CLIP_STD, out), VTC_ERR_ARG);
    assert_int_equal(vtc_preprocess_rgb(px, 2, 2, 4, VTC_ASPECT_DEFAULT, CLIP_MEAN, CLIP_STD, out), VTC_ERR_ARG);
    assert_int_equal(vtc_preprocess_rgb(px, 2, 2, 4, 99, CLIP_MEAN, CLIP_STD, out), VTC_ERR_ARG);
    assert_int_equal(vtc_preprocess_rgb(px, 0, 2, 4, VTC_ASPECT_CROP, CLIP_MEAN, CLIP_STD, out), VTC_ERR_ARG);
    assert_int_equal(vtc_preprocess_rgb(NULL, 2, 2, 4, VTC_ASPECT_CROP, CLIP_MEAN, CLIP_STD, out), VTC_ERR_ARG);
    assert_int_equal(vtc_preprocess_rgb(px, 2, 2, 4, VTC_ASPECT_CROP, CLIP_MEAN, CLIP_STD, NULL), VTC_ERR_ARG);
    assert_int_equal(vtc_preprocess_rgb(px, 2, 2, 4, VTC_ASPECT_CROP, CLIP_MEAN, zero_std, out), VTC_ERR_ARG);
    assert_int_equal(vtc_preprocess_rgb(px, 2, 2, 4, VTC_ASPECT_CROP, nan_mean, CLIP_STD, out), VTC_ERR_ARG);
    assert_int_equal(vtc_preprocess_rgb(px, 2, 2, 4, VTC_ASPECT_PAD, CLIP_MEAN, CLIP_STD, out), 0);
    assert_int_equal(vtc_resize_bicubic_u8(px, 2, 2, small, 0, 4), VTC_ERR_ARG);
    assert_int_equal(vtc_resize_bicubic_u8(px, -2, 2, small, 4, 4), VTC_ERR_ARG);
    assert_int_equal(vtc_resize_bicubic_u8(NULL, 2, 2, small, 4, 4), VTC_ERR_ARG);
    assert_int_equal(vtc_resize_bicubic_u8(px, 2, 2, small, 4, 4), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_resize_identity), cmocka_unit_test(test_preprocess),
        cmocka_unit_test(test_preprocess_elongated), cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_truncations),   cmocka_unit_test(test_corruptions),
        cmocka_unit_test(test_jpeg_scan_limit), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_args),
    };
    return cmocka_run_group_tests_name("image", tests, NULL, NULL);
}
