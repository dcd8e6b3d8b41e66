// Encoder parity: vtc's whole vision path (decode -> preprocess -> ViT ->
// attention statistics -> projector) against the float64 PyTorch reference of
// tools/vtc_ref.py, on the models and images of tests/fixtures/expected/MANIFEST.txt
// (CLIP 224 F32, CLIP 336 F16, SigLIP 384 BF16, llava-hf sharded with projector,
// legacy llama.cpp mmproj GGUF F16; JPEG and RGBA PNG; crop, pad and resize).
//
// The preprocessed model input must be bit-identical (hash of its float32 bytes).
// Tolerance: max |vtc - ref| / max |ref| <= 1e-4 per tensor (vtc computes in
// float32 from the same stored weights; the reference in float64).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vision/model.h"
#include "base/safetensors.h"
#include "base/tensor.h"
#include "vtc.h"

#define TOL 1e-4

static double rel_err(const float *got, const float *ref, size_t n) {
    double md = 0, mr = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= md)) md = d; // NaN propagates as failure
        if (fabs(ref[i]) > mr) mr = fabs(ref[i]);
    }
    return mr > 0 ? md / mr : md;
}

static float *expected(const vtc_st *st, const char *name, size_t n) {
    const vtc_tensor_view *t = vtc_st_find(st, name);
    if (!t) return NULL;
    assert_int_equal(vtc_tensor_numel(t), (int64_t)n);
    float *buf = malloc(n * sizeof(float));
    assert_int_equal(vtc_tensor_to_f32(t, buf, n), 0);
    return buf;
}

static void check(const char *label, const vtc_st *st, const char *name, const float *got, size_t n, double *worst) {
    float *ref = expected(st, name, n);
    if (!ref) {
        assert_null(got); // the model has no such output (no CLS, no projector)
        return;
    }
    assert_non_null(got);
    double e = rel_err(got, ref, n);
    printf("    %-14s %-10s rel err %.2e\n", label, name, e);
    if (e > *worst) *worst = e;
    free(ref);
    assert_true(e <= TOL);
}

static void test_manifest(void **state) {
    (void)state;
    FILE *mf = fopen("tests/fixtures/expected/MANIFEST.txt", "r");
    assert_non_null(mf);
    char line[1024];
    int cases = 0;
    double worst = 0;
    while (fgets(line, sizeof line, mf)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char file[256], model_path[256], image[256], aspect[16];
        int layer;
        assert_int_equal(sscanf(line, "%255s %255s %255s %15s %d", file, model_path, image, aspect, &layer), 5);
        struct vtc_model_params mp = vtc_model_params_default();
        mp.feature_layer = layer;
        mp.aspect = !strcmp(aspect, "crop") ? VTC_ASPECT_CROP : !strcmp(aspect, "pad") ? VTC_ASPECT_PAD
                                                                                       : VTC_ASPECT_RESIZE;
        vtc_model *m = vtc_model_load(model_path, mp);
        if (!m) fprintf(stderr, "%s\n", vtc_last_error());
        assert_non_null(m);
        vtc_ctx *ctx = vtc_ctx_new(m, vtc_ctx_params_default());
        vtc_image *img = vtc_image_load(image, NULL);
        assert_non_null(ctx);
        assert_non_null(img);
        vtc_features *f = NULL;
        assert_int_equal(vtc_encode_image(ctx, img, &f), 0);
        char path[512];
        snprintf(path, sizeof path, "tests/fixtures/expected/%s", file);
        vtc_st *st = NULL;
        assert_int_equal(vtc_st_open(path, 1, &st), 0);
        printf("  %s\n", file);
        // the model input, bit for bit: FNV-1a 64 of the [3, S, S] float32 pixels
        struct vtc_model_info mi;
        vtc_model_get_info(m, &mi);
        size_t npx = (size_t)3 * mi.image_size * mi.image_size;
        float *px = malloc(npx * sizeof(float));
        assert_int_equal(vtc_preprocess(m, img, 0, px), 0);
        uint64_t h = 0xcbf29ce484222325ull;
        const unsigned char *bytes = (const unsigned char *)px;
        for (size_t b = 0; b < npx * sizeof(float); b++) h = (h ^ bytes[b]) * 0x100000001b3ull;
        char hex[32];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
        const char *want = vtc_st_meta(st, "pixels_fnv1a64");
        assert_non_null(want);
        if (strcmp(want, hex)) fail_msg("%s: model input differs from the reference's (hash %s, want %s)", file, hex, want);
        free(px);
        const size_t n = (size_t)f->n;
        check(file, st, "features", f->features, n * f->dim, &worst);
        check(file, st, "cls", f->cls, (size_t)f->dim, &worst);
        check(file, st, "cls_attn", f->cls_attn, n, &worst);
        check(file, st, "cls_attn_last", f->cls_attn_last, n, &worst);
        check(file, st, "keys", f->keys, n * f->head_dim, &worst);
        check(file, st, "embeds", f->embeds, n * (size_t)f->lm_dim, &worst);
        // FLOPs executed, counted independently by the reference
        const char *fl = vtc_st_meta(st, "flops_encoder");
        assert_non_null(fl);
        assert_true(fabs(f->flops_encoder - atof(fl)) <= 1e-9 * atof(fl));
        vtc_st_close(st);
        vtc_features_free(f);
        vtc_image_free(img);
        vtc_ctx_free(ctx);
        vtc_model_free(m);
        cases++;
    }
    fclose(mf);
    printf("  %d cases, worst relative error %.2e (tolerance %.0e)\n", cases, worst, TOL);
    assert_true(cases >= 10);
}

// Same image, 1 thread and 2 threads: bit-identical features (determinism).
static void test_threads_identical(void **state) {
    (void)state;
    vtc_model *m = vtc_model_load("tests/fixtures/models/llava", vtc_model_params_default());
    assert_non_null(m);
    vtc_image *img = vtc_image_load("tests/fixtures/ref_images/photo.jpg", NULL);
    vtc_features *f[2] = { 0 };
    for (int t = 0; t < 2; t++) {
        struct vtc_ctx_params cp = vtc_ctx_params_default();
        cp.n_threads = t + 1;
        vtc_ctx *ctx = vtc_ctx_new(m, cp);
        assert_int_equal(vtc_encode_image(ctx, img, &f[t]), 0);
        vtc_ctx_free(ctx);
    }
    assert_memory_equal(f[0]->features, f[1]->features, sizeof(float) * f[0]->n * f[0]->dim);
    assert_memory_equal(f[0]->embeds, f[1]->embeds, sizeof(float) * f[0]->n * f[0]->lm_dim);
    vtc_features_free(f[0]);
    vtc_features_free(f[1]);
    vtc_image_free(img);
    vtc_model_free(m);
}

// What the loader reads from each file.
static void test_model_info(void **state) {
    (void)state;
    struct vtc_model_info mi;
    vtc_model *m = vtc_model_load("tests/fixtures/models/mmproj-legacy.gguf", vtc_model_params_default());
    assert_non_null(m);
    vtc_model_get_info(m, &mi);
    assert_string_equal(mi.format, "gguf");
    assert_int_equal(mi.n_layers, 3);      // the converter dropped the 4th block
    assert_int_equal(mi.feature_layer, 3); // features: the last block present
    assert_int_equal(mi.lm_dim, 48);
    assert_int_equal(mi.aspect, VTC_ASPECT_PAD);
    vtc_model_free(m);
    m = vtc_model_load("tests/fixtures/models/llava", vtc_model_params_default());
    vtc_model_get_info(m, &mi);
    assert_int_equal(mi.n_layers, 4);
    assert_int_equal(mi.feature_layer, 3); // vision_feature_layer -2
    assert_int_equal(mi.aspect, VTC_ASPECT_PAD);
    assert_int_equal(mi.grid, 24);
    vtc_model_free(m);
    m = vtc_model_load("tests/fixtures/models/siglip384", vtc_model_params_default());
    vtc_model_get_info(m, &mi);
    assert_string_equal(mi.arch, "siglip");
    assert_int_equal(mi.has_cls, 0);
    assert_int_equal(mi.aspect, VTC_ASPECT_RESIZE);
    assert_true(fabsf(mi.image_mean[0] - 0.5f) < 1e-7f);
    vtc_model_free(m);
    m = vtc_model_default(vtc_model_params_default());
    vtc_model_get_info(m, &mi);
    assert_int_equal(mi.random_weights, 0);
    assert_int_equal(mi.grid * mi.grid, 576);
    // the embedded default is samples/vlm byte for byte: the same features as loading the directory
    vtc_model *disk = vtc_model_load("samples/vlm", vtc_model_params_default());
    assert_non_null(disk);
    vtc_ctx *c1 = vtc_ctx_new(m, vtc_ctx_params_default()), *c2 = vtc_ctx_new(disk, vtc_ctx_params_default());
    vtc_features *f1 = NULL, *f2 = NULL;
    vtc_image *img = vtc_image_load("tests/fixtures/ref_images/photo.jpg", NULL);
    assert_non_null(img);
    assert_int_equal(vtc_encode_image(c1, img, &f1), 0);
    assert_int_equal(vtc_encode_image(c2, img, &f2), 0);
    vtc_image_free(img);
    assert_int_equal(f1->n * f1->dim, f2->n * f2->dim);
    assert_memory_equal(f1->features, f2->features, sizeof(float) * f1->n * f1->dim);
    assert_memory_equal(f1->embeds, f2->embeds, sizeof(float) * f1->n * f1->lm_dim);
    vtc_features_free(f1), vtc_features_free(f2);
    vtc_ctx_free(c1), vtc_ctx_free(c2);
    vtc_model_free(disk);
    vtc_model_free(m);
}

// Hostile and broken model files: an error with a reason, never a crash.
static void test_bad_models(void **state) {
    (void)state;
    const char *bad[] = { "tests/fixtures/models/does-not-exist", "tests/fixtures/ref_images/photo.jpg",
                          "tests/fixtures/ref_images" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vtc_model *m = vtc_model_load(bad[i], vtc_model_params_default());
        assert_null(m);
        assert_true(vtc_last_status() < 0);
        assert_true(strlen(vtc_last_error()) > 0);
    }
    // every truncation of the GGUF file fails cleanly
    FILE *f = fopen("tests/fixtures/models/mmproj-legacy.gguf", "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    char tmp[] = "/tmp/vtc-test-trunc-XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    for (long cut = 0; cut < size; cut += size / 97 + 1) {
        FILE *o = fopen(tmp, "wb");
        fwrite(buf, 1, (size_t)cut, o);
        fclose(o);
        vtc_model *m = vtc_model_load(tmp, vtc_model_params_default());
        assert_null(m);
    }
    // a bad feature layer is a usage error
    struct vtc_model_params mp = vtc_model_params_default();
    mp.feature_layer = 9;
    assert_null(vtc_model_load("tests/fixtures/models/clip224", mp));
    assert_int_equal(vtc_last_status(), VTC_ERR_ARG);
    unlink(tmp);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest),
        cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_model_info),
        cmocka_unit_test(test_bad_models),
    };
    return cmocka_run_group_tests_name("encoder", tests, NULL, NULL);
}
