// Image decode and preprocessing against Pillow (tools/gen_image_fixtures.py):
// decode byte-identical to Image.open(p).convert('RGB'), bicubic resize
// byte-identical to Image.resize(..., BICUBIC), the CLIP / LLaVA-pad / SigLIP
// processors within 1e-6, and every hostile file a specific error.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vision/preprocess.h"
#include "vtc.h"

#define DIR "tests/fixtures/images/"

static const float MEAN[3] = { 0.48145466f, 0.4578275f, 0.40821073f };
static const float STD[3] = { 0.26862954f, 0.26130258f, 0.27577711f };

static void *slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc(n > 0 ? (size_t)n : 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void stem(const char *name, char *out, size_t cap) {
    snprintf(out, cap, "%s", name);
    char *dot = strrchr(out, '.');
    if (dot) *dot = '\0';
}

static int status_of(const char *name) {
    if (!strcmp(name, "FORMAT")) return VTC_ERR_FORMAT;
    if (!strcmp(name, "UNSUPPORTED")) return VTC_ERR_UNSUPPORTED;
    if (!strcmp(name, "LIMIT")) return VTC_ERR_LIMIT;
    if (!strcmp(name, "IO")) return VTC_ERR_IO;
    fail_msg("unknown status %s", name);
    return 0;
}

static void test_manifest(void **state) {
    (void)state;
    FILE *mf = fopen(DIR "MANIFEST.txt", "r");
    assert_non_null(mf);
    char line[512], kind[32], name[128], a[32], b[32];
    int n_decode = 0, n_resize = 0, n_pre = 0, n_bad = 0;
    double worst_pre = 0;
    while (fgets(line, sizeof line, mf)) {
        if (line[0] == '#') continue;
        int got = sscanf(line, "%31s %127s %31s %31s", kind, name, a, b);
        char path[256], ref_path[256], st[128];
        snprintf(path, sizeof path, DIR "%s", name);
        stem(name, st, sizeof st);
        if (!strcmp(kind, "bad")) {
            assert_int_equal(got, 3);
            vtc_image *img = vtc_image_load(path, NULL);
            if (img) fail_msg("%s decoded, expected %s", name, a);
            if (vtc_last_status() != status_of(a)) fail_msg("%s: status %d (%s), expected %s", name, vtc_last_status(),
                                                            vtc_last_error(), a);
            assert_true(strstr(vtc_last_error(), name) != NULL); // the message names the file
            n_bad++;
            continue;
        }
        vtc_image *img = vtc_image_load(path, NULL);
        if (!img) fail_msg("%s: %s", name, vtc_last_error());
        size_t size;
        if (!strcmp(kind, "decode")) {
            snprintf(ref_path, sizeof ref_path, DIR "%s.rgb", st);
            uint8_t *ref = slurp(ref_path, &size);
            assert_int_equal(img->width, atoi(a));
            assert_int_equal(img->height, atoi(b));
            assert_int_equal(size, (size_t)img->width * img->height * 3);
            if (memcmp(ref, img->rgb, size)) fail_msg("%s: decode differs from Pillow", name);
            free(ref);
            // the same from memory
            uint8_t *data = slurp(path, &size);
            vtc_image *m = vtc_image_load_memory(data, size, NULL);
            assert_non_null(m);
            assert_memory_equal(m->rgb, img->rgb, (size_t)img->width * img->height * 3);
            vtc_image_free(m);
            free(data);
            n_decode++;
        } else if (!strcmp(kind, "resize")) {
            int w = atoi(a), h = atoi(b);
            snprintf(ref_path, sizeof ref_path, DIR "%s.%dx%d.rgb", st, w, h);
            uint8_t *ref = slurp(ref_path, &size);
            uint8_t *out = malloc((size_t)w * h * 3);
            assert_int_equal(vtc_resize_bicubic_u8(img->rgb, img->width, img->height, out, w, h), 0);
            if (memcmp(ref, out, size)) fail_msg("%s -> %dx%d: resize differs from Pillow", name, w, h);
            free(out);
            free(ref);
            n_resize++;
        } else if (!strcmp(kind, "preprocess")) {
            int S = atoi(b);
            int mode = !strcmp(a, "crop") ? VTC_ASPECT_CROP : !strcmp(a, "pad") ? VTC_ASPECT_PAD : VTC_ASPECT_RESIZE;
            snprintf(ref_path, sizeof ref_path, DIR "%s.%s%d.f32", st, a, S);
            float *ref = slurp(ref_path, &size);
            assert_int_equal(size, (size_t)3 * S * S * sizeof(float));
            float *out = malloc(size);
            assert_int_equal(vtc_preprocess_rgb(img->rgb, img->width, img->height, S, mode, MEAN, STD, out), 0);
            for (int i = 0; i < 3 * S * S; i++) {
                double d = fabs((double)out[i] - ref[i]);
                if (d > worst_pre) worst_pre = d;
            }
            free(out);
            free(ref);
            n_pre++;
        }
        vtc_image_free(img);
    }
    fclose(mf);
    printf("  decode %d, resize %d (byte-exact), preprocess %d (max |diff| %.2e), hostile %d\n", n_decode, n_resize,
           n_pre, worst_pre, n_bad);
    assert_true(worst_pre <= 1e-6);
    assert_true(n_decode >= 10 && n_resize >= 8 && n_pre >= 12 && n_bad >= 8);
}

// Every prefix of a valid PNG and JPEG fails cleanly (or decodes, for the full file).
static void test_truncations(void **state) {
    (void)state;
    const char *files[] = { DIR "rgb8.png", DIR "progressive.jpg", DIR "interlaced.png" };
    for (size_t f = 0; f < 3; f++) {
        size_t size;
        uint8_t *data = slurp(files[f], &size);
        for (size_t cut = 0; cut < size; cut += 7) {
            vtc_image *img = vtc_image_load_memory(data, cut, NULL);
            if (img) fail_msg("%s truncated to %zu bytes decoded", files[f], cut);
            assert_true(vtc_last_status() == VTC_ERR_FORMAT || vtc_last_status() == VTC_ERR_UNSUPPORTED);
        }
        free(data);
    }
}

static void test_limits_and_args(void **state) {
    (void)state;
    struct vtc_limits lim = vtc_limits_default();
    lim.max_pixels = 100; // rgb8.png has 37 x 23
    assert_null(vtc_image_load(DIR "rgb8.png", &lim));
    assert_int_equal(vtc_last_status(), VTC_ERR_LIMIT);
    assert_null(vtc_image_load(DIR "no-such-file.png", NULL));
    assert_int_equal(vtc_last_status(), VTC_ERR_IO);
    assert_null(vtc_image_load(DIR, NULL)); // a directory
    assert_null(vtc_image_load(NULL, NULL));
    assert_int_equal(vtc_last_status(), VTC_ERR_ARG);
    uint8_t px[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    vtc_image *img = vtc_image_from_rgb(px, 2, 2);
    assert_non_null(img);
    assert_memory_equal(img->rgb, px, 12);
    vtc_image_free(img);
    assert_null(vtc_image_from_rgb(px, 0, 2));
    float out[3 * 4 * 4];
    assert_int_equal(vtc_preprocess_rgb(px, 2, 2, 0, VTC_ASPECT_CROP, MEAN, STD, out), VTC_ERR_ARG);
    assert_int_equal(vtc_preprocess_rgb(px, 2, 2, 4, 99, MEAN, STD, out), VTC_ERR_ARG);
    assert_int_equal(vtc_preprocess_rgb(px, 2, 2, 4, VTC_ASPECT_PAD, MEAN, STD, out), 0);
    // an absurdly elongated image (found by fuzzing): a clear limit error, not gigapixels
    uint8_t *strip = calloc((size_t)3 * 200000, 1);
    float *big = malloc(sizeof(float) * 3 * 336 * 336);
    assert_int_equal(vtc_preprocess_rgb(strip, 200000, 1, 336, VTC_ASPECT_CROP, MEAN, STD, big), VTC_ERR_LIMIT);
    assert_int_equal(vtc_preprocess_rgb(strip, 1, 200000, 336, VTC_ASPECT_PAD, MEAN, STD, big), VTC_ERR_LIMIT);
    assert_int_equal(vtc_preprocess_rgb(strip, 200000, 1, 336, VTC_ASPECT_RESIZE, MEAN, STD, big), 0);
    free(strip);
    free(big);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_limits_and_args),
    };
    return cmocka_run_group_tests_name("image", tests, NULL, NULL);
}
