// Out-of-memory fault injection over the API's main paths. Every allocation of
// libvtc goes through base/common.c's allocator, whose test hook
// vtc_fault_alloc_after(n, sticky) fails allocation number n (counting from 0)
// as a real out-of-memory does. For each path: one clean run counts its
// allocations and records a digest of its result; then, for every n below that
// count, the path runs again with allocation n failing, twice: failing only it
// (a caller that ignores a failure and carries on shows up), and failing it and
// every later one (cleanup code that itself allocates shows up). Each run must
//   - return VTC_ERR_NOMEM (constructors: NULL with vtc_last_status() ==
//     VTC_ERR_NOMEM), not another status that hides the cause, not a crash;
//     or succeed with the clean run's exact result (an optional buffer whose
//     failure only takes a slower path, e.g. a similarity cache);
//   - leave the heap as it found it: the bytes in use (ASan's allocator
//     statistics under ASan, glibc's mallinfo2 with the tcache off otherwise,
//     so that freed chunks count as free) are the same before and after, which
//     catches leaks of FFmpeg/libpng/cJSON objects on error paths as well; and
//     ASan's leak checker runs at exit.
// Paths making more than 2000 allocations are tested at every n up to 2000 and
// at a stride after (none does today). The paths run on one thread (contexts
// with n_threads = 1), so the order of allocations, and so n, is deterministic;
// the pruning methods that use threads run on two as well.
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/common.h" // vtc_fault_alloc_after, vtc_fault_alloc_count (internal)
#include "vision/model.h" // vtc_model_random (the benchmarks' models)
#include "vtc.h"
#include "budget.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OOM_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define OOM_ASAN 1
#endif

#ifdef OOM_ASAN
size_t __sanitizer_get_current_allocated_bytes(void); // <sanitizer/allocator_interface.h>, not always installed
static int g_live_check = 1;
static size_t live_bytes(void) { return __sanitizer_get_current_allocated_bytes(); }
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
#include <malloc.h>
#define OOM_MALLINFO 1
static int g_live_check; // set by main once the tcache is known to be off
static size_t live_bytes(void) {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}
#else
static int g_live_check; // no way to count the bytes in use: ASan's leak check only
static size_t live_bytes(void) { return 0; }
#endif

#define MODELS "tests/fixtures/models/"
#define LMFIX "tests/fixtures/lm/"
#define FULL_UP_TO 2000 // every n below this; a stride past it
#define STRIDE_RUNS 500

// ---------------------------------------------------------------- digests

static uint64_t hash(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}
#define H(h, p, n) ((p) ? hash((h), (p), (n)) : hash((h), "null", 4))
#define HV(h, v) hash((h), &(v), sizeof(v))

static uint64_t hash_image(uint64_t h, const vtc_image *img) {
    h = HV(h, img->width), h = HV(h, img->height);
    return H(h, img->rgb, (size_t)3 * img->width * img->height);
}

static uint64_t hash_features(uint64_t h, const vtc_features *f) {
    size_t n = (size_t)f->n, T = (size_t)f->T;
    h = HV(h, f->T), h = HV(h, f->H), h = HV(h, f->W), h = HV(h, f->n), h = HV(h, f->dim);
    h = HV(h, f->head_dim), h = HV(h, f->lm_dim), h = HV(h, f->cls_is_received);
    h = H(h, f->features, sizeof(float) * n * f->dim);
    h = H(h, f->cls, sizeof(float) * T * f->dim);
    h = H(h, f->cls_attn, sizeof(float) * n);
    h = H(h, f->cls_attn_last, sizeof(float) * n);
    h = H(h, f->keys, sizeof(float) * n * f->head_dim);
    h = H(h, f->embeds, sizeof(float) * n * f->lm_dim);
    h = H(h, f->cls_embed, sizeof(float) * T * f->lm_dim);
    return H(h, f->timestamps, sizeof(double) * T);
}

static uint64_t hash_tokens(uint64_t h, const vtc_tokens *t) {
    size_t n = (size_t)t->n;
    h = HV(h, t->n), h = HV(h, t->dim), h = HV(h, t->n_input), h = HV(h, t->space), h = HV(h, t->grid);
    h = H(h, t->data, sizeof(float) * n * t->dim);
    h = H(h, t->index, sizeof(int32_t) * n);
    h = H(h, t->pos, sizeof(int32_t) * 3 * n);
    h = H(h, t->weight, sizeof(float) * n);
    h = H(h, t->codes, sizeof(int32_t) * (size_t)t->n_input);
    return hash(h, t->method, strlen(t->method));
}

static uint64_t hash_file(uint64_t h, const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return hash(h, "nofile", 6);
    unsigned char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, fp)) > 0) h = hash(h, buf, got);
    fclose(fp);
    return h;
}

// ---------------------------------------------------------------- the driver

// One path: runs the calls under test on inputs prepared outside the fault
// window, frees what they made, and returns their status (0 = success, with
// *digest set from the result).
typedef int (*path_fn)(void *arg, uint64_t *digest);

static int64_t next_n(int64_t n, int64_t count) {
    if (n + 1 < FULL_UP_TO) return n + 1;
    int64_t stride = (count - FULL_UP_TO) / STRIDE_RUNS + 1;
    return n + stride;
}

static int64_t g_total_allocs, g_total_runs;

static void check_path(const char *name, path_fn fn, void *arg) {
    // clean runs: the first warms up what libraries set up once, the second
    // gives the count and the digest (and must agree with the first)
    uint64_t want = 0, again = 0;
    int64_t counts[2];
    for (int r = 0; r < 2; r++) {
        vtc_clear_error();
        vtc_fault_alloc_after(INT64_MAX, 0);
        int st = fn(arg, r ? &want : &again);
        counts[r] = vtc_fault_alloc_count();
        vtc_fault_alloc_after(-1, 0);
        if (st) fail_msg("%s: fails without a fault: %s (%s)", name, vtc_status_str(st), vtc_last_error());
    }
    if (counts[0] != counts[1] || want != again)
        fail_msg("%s: two clean runs differ (%lld and %lld allocations)", name, (long long)counts[0],
                 (long long)counts[1]);
    const int64_t count = counts[1];
    double t0 = vtc_now_ms();
    int64_t runs = 0, recovered[2] = { 0, 0 };
    for (int sticky = 0; sticky < 2; sticky++)
        for (int64_t n = 0; n < count; n = next_n(n, count)) {
            size_t before = live_bytes();
            uint64_t got = 0;
            vtc_clear_error();
            vtc_fault_alloc_after(n, sticky);
            int st = fn(arg, &got);
            int64_t made = vtc_fault_alloc_count();
            vtc_fault_alloc_after(-1, 0);
            size_t after = live_bytes();
            const char *mode = sticky ? "and every later one fail" : "fails";
            if (made <= n)
                fail_msg("%s: allocation %lld never came (%lld made; the clean run made %lld)", name, (long long)n,
                         (long long)made, (long long)count);
            if (st == VTC_OK) {
                if (got != want)
                    fail_msg("%s: allocation %lld %s: the call succeeds with a different result", name,
                             (long long)n, mode);
                recovered[sticky]++;
                if (getenv("VTC_OOM_VERBOSE"))
                    printf("  %s: allocation %lld %s, succeeded anyway (%s)\n", name, (long long)n, mode,
                           vtc_last_error());
            } else if (st != VTC_ERR_NOMEM) {
                fail_msg("%s: allocation %lld %s: status %d (%s) instead of VTC_ERR_NOMEM: %s", name, (long long)n,
                         mode, st, vtc_status_str(st), vtc_last_error());
            }
            if (g_live_check && after != before)
                fail_msg("%s: allocation %lld %s: %+lld bytes in use afterwards (%s)", name, (long long)n, mode,
                         (long long)after - (long long)before, st ? vtc_last_error() : "succeeded");
            runs++;
        }
    g_total_allocs += count;
    g_total_runs += runs;
    printf("  %-26s %5lld allocations, %5lld faulty runs, succeeded anyway: %lld once, %lld from then on (%.0f ms)\n",
           name, (long long)count, (long long)runs, (long long)recovered[0], (long long)recovered[1],
           vtc_now_ms() - t0);
}

// A constructor's status: NULL must come with a recorded one.
static int ctor_status(const void *p) {
    if (p) return VTC_OK;
    int st = vtc_last_status();
    return st ? st : VTC_ERR_INTERNAL;
}

// ---------------------------------------------------------------- vision paths

static struct vtc_ctx_params one_thread(void) {
    struct vtc_ctx_params p = vtc_ctx_params_default();
    p.n_threads = 1;
    return p;
}

static int path_model_load(void *arg, uint64_t *digest) {
    vtc_model *m = vtc_model_load(arg, vtc_model_params_default());
    if (!m) return ctor_status(m);
    struct vtc_model_info info;
    memset(&info, 0, sizeof info);
    int st = vtc_model_get_info(m, &info);
    *digest = HV(0, info);
    vtc_model_free(m);
    return st;
}

static int path_model_load_read(void *arg, uint64_t *digest) { // the file read into memory, not mapped
    struct vtc_model_params p = vtc_model_params_default();
    p.use_mmap = 0;
    vtc_model *m = vtc_model_load(arg, p);
    if (!m) return ctor_status(m);
    struct vtc_model_info info;
    memset(&info, 0, sizeof info);
    int st = vtc_model_get_info(m, &info);
    *digest = HV(0, info);
    vtc_model_free(m);
    return st;
}

static int path_model_default(void *arg, uint64_t *digest) {
    vtc_model *m = vtc_model_default(vtc_model_params_default());
    if (!m) return ctor_status(m);
    struct vtc_model_info info;
    memset(&info, 0, sizeof info);
    int st = vtc_model_get_info(m, &info);
    *digest = HV(0, info);
    vtc_model_free(m);
    return st;
}

static int path_model_random(void *arg, uint64_t *digest) {
    const struct vtc_random_spec spec = { "tiny", 56, 14, 32, 2, 64, 2, 24, 1 };
    vtc_model *m = vtc_model_random(&spec, vtc_model_params_default());
    if (!m) return ctor_status(m);
    struct vtc_model_info info;
    memset(&info, 0, sizeof info);
    int st = vtc_model_get_info(m, &info);
    *digest = HV(0, info);
    vtc_model_free(m);
    return st;
}

static int path_ctx_new(void *arg, uint64_t *digest) {
    vtc_ctx *c = vtc_ctx_new(arg, one_thread());
    if (!c) return ctor_status(c);
    vtc_ctx_free(c);
    *digest = 1;
    return VTC_OK;
}

static int path_image_load(void *arg, uint64_t *digest) {
    vtc_image *img = vtc_image_load(arg, NULL);
    if (!img) return ctor_status(img);
    *digest = hash_image(0, img);
    vtc_image_free(img);
    return VTC_OK;
}

// A file and how to sample it.
struct media_case {
    const char *path;
    int32_t n_frames;
    double fps;
};

// The small ones: an image from pixels and from a JPEG in memory, an empty
// features struct, a sampler, the top-k selection of the in-decoder policies.
static int path_small(void *arg, uint64_t *digest) {
    static uint8_t rgb[5 * 4 * 3];
    for (int i = 0; i < (int)sizeof rgb; i++) rgb[i] = (uint8_t)(i * 7);
    vtc_image *a = vtc_image_from_rgb(rgb, 5, 4);
    int st = ctor_status(a);
    vtc_image *b = NULL;
    vtc_features *f = NULL;
    vtc_sampler *smp = NULL;
    FILE *fp = fopen("tests/fixtures/images/baseline.jpg", "rb");
    unsigned char jpeg[4096];
    size_t size = fp ? fread(jpeg, 1, sizeof jpeg, fp) : 0;
    if (fp) fclose(fp);
    if (!st) st = ctor_status(b = vtc_image_load_memory(jpeg, size, NULL));
    if (!st) st = ctor_status(f = vtc_features_new(2, 3, 4, 8, 4, 6, 0xff));
    if (!st) st = ctor_status(smp = vtc_sampler_new(64, 0.5f, 0.9f, 7));
    float logits[64];
    uint8_t keep[64];
    for (int i = 0; i < 64; i++) logits[i] = (float)sin(i);
    if (!st) st = vtc_lm_select_top(logits, 64, 9, keep);
    if (!st) {
        int32_t tok = vtc_sampler_sample(smp, logits);
        *digest = hash(HV(hash_features(hash_image(hash_image(0, a), b), f), tok), keep, sizeof keep);
    }
    vtc_sampler_free(smp);
    vtc_features_free(f);
    vtc_image_free(b);
    vtc_image_free(a);
    return st;
}

static int path_media_load(void *arg, uint64_t *digest) {
    const struct media_case *c = arg;
    struct vtc_sample_params sp = vtc_sample_params_default();
    sp.n_frames = c->n_frames;
    sp.fps = c->fps;
    vtc_media *m = vtc_media_load(c->path, sp, NULL);
    if (!m) return ctor_status(m);
    uint64_t h = HV(0, m->n_frames);
    h = HV(h, m->is_video), h = HV(h, m->total_frames), h = HV(h, m->fps), h = hash(h, m->codec, strlen(m->codec));
    for (int i = 0; i < m->n_frames; i++) h = hash_image(h, m->frames[i]);
    h = H(h, m->timestamps, sizeof(double) * m->n_frames);
    *digest = H(h, m->frame_index, sizeof(int32_t) * m->n_frames);
    vtc_media_free(m);
    return VTC_OK;
}

// Inputs shared by the encoding and pruning paths, made once, outside the fault window.
struct world {
    vtc_model *model;      // tests/fixtures/models/llava (CLIP with projector)
    vtc_ctx *ctx;          // one thread
    vtc_image *image;      // samples/scene.png
    vtc_media *clip;       // 2 frames of samples/vtest.mp4
    vtc_features *frames;  // the clip encoded: T = 2, 24 x 24
    vtc_features *pooled;  // frames pooled 2 x 2: 2 x 12 x 12 tokens, for the pruning paths (vq is slow on more)
    vtc_tokens *tokens;    // a pruning of frames
    char dir[64];          // a temporary folder for the file paths
    char features_file[128];
};
static struct world W;

static int path_encode_image(void *arg, uint64_t *digest) {
    vtc_features *f = NULL;
    int st = vtc_encode_image(W.ctx, W.image, &f);
    if (!st) *digest = hash_features(0, f);
    vtc_features_free(f);
    return st;
}

static int path_encode_frames(void *arg, uint64_t *digest) {
    vtc_features *f = NULL;
    int st = vtc_encode_frames(W.ctx, (const vtc_image *const *)W.clip->frames, W.clip->n_frames, W.clip->timestamps,
                               &f);
    if (!st) *digest = hash_features(0, f);
    vtc_features_free(f);
    return st;
}

// 17 small frames through a source that gives no count, on a tiny tower
// (clip224): the features grow (16, 32 frames) and shrink to 17.
struct repeat_source {
    vtc_ctx *ctx;
    uint8_t rgb[12 * 9 * 3];
    int next;
};

static int repeat_next(void *user, vtc_image *frame, double *timestamp) {
    struct repeat_source *r = user;
    if (r->next == 17) return 0;
    for (size_t i = 0; i < sizeof r->rgb; i++) r->rgb[i] = (uint8_t)(i * 7 + r->next * 13);
    *frame = (vtc_image){ 12, 9, r->rgb };
    *timestamp = r->next++;
    return 1;
}

static int path_encode_source(void *arg, uint64_t *digest) {
    struct repeat_source *r = arg;
    r->next = 0;
    struct vtc_frame_source src = { repeat_next, r, 0, 0 };
    vtc_features *f = NULL;
    int st = vtc_encode_source(r->ctx, &src, &f);
    if (!st) *digest = hash_features(0, f);
    vtc_features_free(f);
    return st;
}

// A video streamed from its file (arg: a path): the frame index, decoding, the encode.
static int path_encode_file(void *arg, uint64_t *digest) {
    struct vtc_sample_params sp = vtc_sample_params_default();
    sp.n_frames = 3;
    vtc_features *f = NULL;
    int st = vtc_encode_file(W.ctx, arg, sp, &f);
    if (!st) *digest = hash_features(0, f);
    vtc_features_free(f);
    return st;
}

static int path_features_pool(void *arg, uint64_t *digest) {
    vtc_features *o = vtc_features_pool(W.frames, 2, VTC_POOL_AVG);
    if (!o) return ctor_status(o);
    *digest = hash_features(0, o);
    vtc_features_free(o);
    return VTC_OK;
}

// A pruning: method on f, through ctx (NULL: no model, the method's space),
// keeping `keep` (a count, a fraction, 0 = the method's own budget: set_keep).
struct prune_case {
    vtc_ctx *ctx;
    const vtc_features *f;
    const char *method;
    double keep;
    const char *params;
};

// A budget each method accepts: dycoke keeps frame 1 of every 4 whole (half
// the tokens of 2 frames), and on one frame only its own budget.
static double budget(const char *method, const vtc_features *f) {
    return strcmp(method, "dycoke") ? 0.25 : f->T > 1 ? 0.75 : 0;
}

// One pruning; kept small so that a change of vtc_prune's signature is one place.
static int prune_once(const struct prune_case *c, vtc_tokens **out) {
    struct vtc_prune_params p = vtc_prune_params_default();
    p.method = c->method;
    set_keep(&p, c->keep);
    p.params = c->params;
    p.seed = 3;
    return vtc_prune(c->ctx, c->f, p, out);
}

static int path_prune(void *arg, uint64_t *digest) {
    vtc_tokens *t = NULL;
    int st = prune_once(arg, &t);
    if (!st) *digest = hash_tokens(0, t);
    vtc_tokens_free(t);
    return st;
}

// Files left in the temporary folder (an atomic write that failed must remove its temporary).
static int dir_entries(void) {
    DIR *d = opendir(W.dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n;
}

static const char *const g_meta[] = { "source", "test_oom", "purpose", "fault injection", NULL };

static int after_save(int st, const char *path, uint64_t *digest) {
    if (!st) *digest = hash_file(0, path);
    unlink(path);
    if (dir_entries() != 0) return vtc_set_error(VTC_ERR_INTERNAL, "a temporary file was left in %s", W.dir);
    return st;
}

// The same written to its features file frame by frame (vtc_encode_file_save),
// in a folder of its own: a failure leaves no file there, temporary or not.
static int path_encode_file_save(void *arg, uint64_t *digest) {
    struct vtc_sample_params sp = vtc_sample_params_default();
    sp.n_frames = 3;
    char dir[] = "/tmp/vtc_oom_stream_XXXXXX", path[64];
    if (!mkdtemp(dir)) return vtc_set_error(VTC_ERR_IO, "mkdtemp failed");
    snprintf(path, sizeof path, "%s/stream.safetensors", dir);
    vtc_features *info = NULL;
    int st = vtc_encode_file_save(W.ctx, arg, sp, path, NULL, &info);
    if (!st) *digest = hash_file(hash_features(0, info), path);
    vtc_features_free(info);
    unlink(path);
    if (rmdir(dir) != 0) return vtc_set_error(VTC_ERR_INTERNAL, "a temporary file was left in %s", dir);
    return st;
}

static int path_features_save(void *arg, uint64_t *digest) {
    char path[128];
    snprintf(path, sizeof path, "%s/f.safetensors", W.dir);
    return after_save(vtc_features_save(W.frames, path, g_meta), path, digest);
}

static int path_tokens_save(void *arg, uint64_t *digest) {
    char path[128];
    snprintf(path, sizeof path, "%s/t.safetensors", W.dir);
    return after_save(vtc_tokens_save(W.tokens, path, g_meta), path, digest);
}

static int path_features_load(void *arg, uint64_t *digest) {
    vtc_features *f = NULL;
    int st = vtc_features_load(W.features_file, &f);
    if (!st) *digest = hash_features(0, f);
    vtc_features_free(f);
    return st;
}

static void test_vision_paths(void **state) {
    (void)state;
    const char *models[] = { MODELS "clip336", MODELS "llava", MODELS "siglip384", MODELS "mmproj-legacy.gguf",
                             MODELS "llava/model.safetensors.index.json", MODELS "clip336/model.safetensors" };
    const char *names[] = { "model_load clip336", "model_load llava", "model_load siglip384", "model_load mmproj",
                            "model_load index.json", "model_load file" };
    for (int i = 0; i < 6; i++) check_path(names[i], path_model_load, (void *)models[i]);
    check_path("model_load llava read", path_model_load_read, MODELS "llava");
    check_path("model_load mmproj read", path_model_load_read, MODELS "mmproj-legacy.gguf");
    check_path("model_default", path_model_default, NULL);
    check_path("model_random", path_model_random, NULL);
    check_path("small calls", path_small, NULL);
    W.model = vtc_model_load(MODELS "llava", vtc_model_params_default());
    assert_non_null(W.model);
    check_path("ctx_new", path_ctx_new, W.model);
    check_path("image_load png", path_image_load, "samples/scene.png");
    check_path("image_load jpeg", path_image_load, "tests/fixtures/images/baseline.jpg");
    const struct media_case media[] = {
        { "tests/fixtures/images/rgb8.png", 2, 0 },
        { "samples/vtest.mp4", 2, 0 },
        { "samples/vtest.mp4", 0, 0.5 },                  // by frame rate: 4 frames
        { "tests/fixtures/video/rot90.mp4", 2, 0 },       // rotated
        { "tests/fixtures/video/vfr.mp4", 0, 2 },         // variable frame rate: a table of timestamps
        { "tests/fixtures/video/cam40.mp4", 0, 100 },     // all 40 frames by frame rate: the index list grows
    };
    const char *media_names[] = { "media_load png", "media_load mp4", "media_load mp4 fps", "media_load rot90",
                                  "media_load vfr fps", "media_load cam40 fps" };
    for (int i = 0; i < 6; i++) check_path(media_names[i], path_media_load, (void *)&media[i]);

    W.ctx = vtc_ctx_new(W.model, one_thread());
    W.image = vtc_image_load("samples/scene.png", NULL);
    struct vtc_sample_params sp = vtc_sample_params_default();
    sp.n_frames = 2;
    W.clip = vtc_media_load("samples/vtest.mp4", sp, NULL);
    assert_non_null(W.ctx), assert_non_null(W.image), assert_non_null(W.clip);
    check_path("encode_image", path_encode_image, NULL);
    check_path("encode_frames", path_encode_frames, NULL);
    vtc_model *tiny = vtc_model_load(MODELS "clip224", vtc_model_params_default());
    static struct repeat_source repeat;
    repeat.ctx = vtc_ctx_new(tiny, one_thread());
    assert_non_null(repeat.ctx);
    check_path("encode_source (no count)", path_encode_source, &repeat);
    vtc_ctx_free(repeat.ctx);
    vtc_model_free(tiny);
    check_path("encode_file mp4", path_encode_file, "samples/vtest.mp4");
    check_path("encode_file_save mp4", path_encode_file_save, "samples/vtest.mp4");
    assert_int_equal(vtc_encode_frames(W.ctx, (const vtc_image *const *)W.clip->frames, W.clip->n_frames,
                                       W.clip->timestamps, &W.frames), 0);
    check_path("features_pool", path_features_pool, NULL);
    W.pooled = vtc_features_pool(W.frames, 2, VTC_POOL_AVG);
    assert_non_null(W.pooled);
    // every method on: the clip's features, pooled, with the model (CLIP + projector: tokens
    // projected); the same without the model (merged tokens stay in encoder
    // space); one SigLIP image (no CLS token, no projector)
    vtc_model *siglip = vtc_model_load(MODELS "siglip384", vtc_model_params_default());
    assert_non_null(siglip);
    vtc_ctx *sctx = vtc_ctx_new(siglip, one_thread());
    vtc_features *sf = NULL;
    assert_int_equal(vtc_encode_image(sctx, W.image, &sf), 0);
    // hired defines no video selection: it runs on an anyres image's tiles (LLaVA-NeXT) instead of the clip
    vtc_model *next = vtc_model_load(MODELS "llava-next", vtc_model_params_default());
    assert_non_null(next);
    vtc_ctx *nctx = vtc_ctx_new(next, one_thread());
    vtc_features *tiles = NULL;
    assert_int_equal(vtc_encode_image(nctx, W.image, &tiles), 0);
    for (int i = 0; i < vtc_method_count(); i++) {
        const char *m = vtc_method_name(i);
        const int tiled = !strcmp(m, "hired");
        const vtc_features *clip = tiled ? tiles : W.pooled;
        const double k = budget(m, clip);
        const struct prune_case cases[3] = { { tiled ? nctx : W.ctx, clip, m, k, NULL },
                                             { NULL, clip, m, k, NULL },
                                             { sctx, sf, m, budget(m, sf), NULL } };
        const char *what[3] = { "", " no model", " siglip" };
        for (int c = 0; c < 3; c++) {
            char name[64];
            snprintf(name, sizeof name, "prune %s%s", m, what[c]);
            check_path(name, path_prune, (void *)&cases[c]);
        }
    }
    const struct prune_case elbow = { W.ctx, W.pooled, "vq", 0, "kmin=2,kmax=6" }; // K from the elbow
    check_path("prune vq elbow", path_prune, (void *)&elbow);
    vtc_features_free(tiles);
    vtc_ctx_free(nctx);
    vtc_model_free(next);
    vtc_features_free(sf);
    vtc_ctx_free(sctx);
    vtc_model_free(siglip);
    // the methods that split work over threads allocate in them too (in an
    // order that varies from run to run; the count does not)
    struct vtc_ctx_params two = one_thread();
    two.n_threads = 2;
    vtc_ctx *ctx2 = vtc_ctx_new(W.model, two);
    assert_non_null(ctx2);
    const char *threaded[] = { "divprune", "todre", "tome", "visionzip", "vq" };
    for (int i = 0; i < 5; i++) {
        char name[64];
        snprintf(name, sizeof name, "prune %s 2 threads", threaded[i]);
        const struct prune_case c = { ctx2, W.pooled, threaded[i], budget(threaded[i], W.pooled), NULL };
        check_path(name, path_prune, (void *)&c);
    }
    vtc_ctx_free(ctx2);

    snprintf(W.dir, sizeof W.dir, "/tmp/vtc_test_oom_XXXXXX");
    assert_non_null(mkdtemp(W.dir));
    const struct prune_case keep = { W.ctx, W.pooled, "divprune", 0.25, NULL };
    assert_int_equal(prune_once(&keep, &W.tokens), 0);
    check_path("features_save", path_features_save, NULL);
    check_path("tokens_save", path_tokens_save, NULL);
    snprintf(W.features_file, sizeof W.features_file, "%s.features.safetensors", W.dir); // beside the folder
    assert_int_equal(vtc_features_save(W.frames, W.features_file, g_meta), 0);
    check_path("features_load", path_features_load, NULL);
    unlink(W.features_file);
    rmdir(W.dir);

    vtc_tokens_free(W.tokens);
    vtc_features_free(W.frames);
    vtc_features_free(W.pooled);
    vtc_media_free(W.clip);
    vtc_image_free(W.image);
    vtc_ctx_free(W.ctx);
    vtc_model_free(W.model);
    memset(&W, 0, sizeof W);
}

// ---------------------------------------------------------------- model families and tiled images

// An image or clip encoded by a model of its own (arg: struct encode_case).
struct encode_case {
    vtc_ctx *ctx;
    const vtc_image *image; // or
    const vtc_media *clip;
};

static int path_encode_case(void *arg, uint64_t *digest) {
    const struct encode_case *c = arg;
    vtc_features *f = NULL;
    int st = c->image ? vtc_encode_image(c->ctx, c->image, &f)
                      : vtc_encode_frames(c->ctx, (const vtc_image *const *)c->clip->frames, c->clip->n_frames,
                                          c->clip->timestamps, &f);
    if (!st) *digest = hash_features(0, f);
    vtc_features_free(f);
    return st;
}

// A native-resolution model (Qwen2-VL): its scratch grows to each grid, so the
// context is made and freed inside the path (each run allocates the same).
struct native_case {
    const vtc_model *model;
    const vtc_image *image; // or
    const vtc_media *clip;
};

static int path_encode_native(void *arg, uint64_t *digest) {
    const struct native_case *c = arg;
    vtc_ctx *ctx = vtc_ctx_new(c->model, one_thread());
    if (!ctx) return ctor_status(ctx);
    struct encode_case e = { ctx, c->image, c->clip };
    int st = path_encode_case(&e, digest);
    vtc_ctx_free(ctx);
    return st;
}

static int path_pool_bilinear(void *arg, uint64_t *digest) {
    vtc_features *o = vtc_features_pool(arg, 2, VTC_POOL_BILINEAR);
    if (!o) return ctor_status(o);
    *digest = hash_features(0, o);
    vtc_features_free(o);
    return VTC_OK;
}

static int path_prune_packed(void *arg, uint64_t *digest) {
    const struct prune_case *c = arg;
    struct vtc_prune_params p = vtc_prune_params_default();
    p.method = c->method;
    set_keep(&p, c->keep);
    p.pack = c->params ? atoi(c->params) : VTC_PACK_NATIVE;
    vtc_tokens *t = NULL;
    int st = vtc_prune(c->ctx, c->f, p, &t);
    if (!st) *digest = hash_tokens(hash(0, t->tile, sizeof(int32_t) * (size_t)t->n), t);
    vtc_tokens_free(t);
    return st;
}

static void test_family_paths(void **state) {
    (void)state;
    const char *models[] = { MODELS "siglip384p14", MODELS "llava-next", MODELS "onevision", MODELS "mmproj-llava16.gguf" };
    for (int i = 0; i < 4; i++) {
        char name[96];
        snprintf(name, sizeof name, "model_load %s", models[i] + strlen(MODELS));
        check_path(name, path_model_load, (void *)models[i]);
    }
    vtc_model *next = vtc_model_load(MODELS "llava-next", vtc_model_params_default());
    vtc_model *ov = vtc_model_load(MODELS "onevision", vtc_model_params_default());
    vtc_image *wide = vtc_image_load("tests/fixtures/ref_images/wide600x400.jpg", NULL);
    vtc_image *large = vtc_image_load("tests/fixtures/ref_images/large1411x1058.jpg", NULL);
    struct vtc_sample_params sp = vtc_sample_params_default();
    sp.n_frames = 2;
    vtc_media *clip = vtc_media_load("samples/vtest.mp4", sp, NULL);
    assert_non_null(next), assert_non_null(ov), assert_non_null(wide), assert_non_null(large), assert_non_null(clip);
    vtc_ctx *nctx = vtc_ctx_new(next, one_thread()), *octx = vtc_ctx_new(ov, one_thread());
    assert_non_null(nctx), assert_non_null(octx);
    const struct encode_case enc[3] = { { nctx, wide, NULL }, { octx, large, NULL }, { octx, NULL, clip } };
    check_path("encode anyres (llava-next 2x2)", path_encode_case, (void *)&enc[0]);
    check_path("encode anyres_max (onevision, shrunk)", path_encode_case, (void *)&enc[1]);
    check_path("encode onevision video", path_encode_case, (void *)&enc[2]);
    vtc_features *nf = NULL, *of = NULL, *vf = NULL;
    assert_int_equal(vtc_encode_image(nctx, wide, &nf), 0);
    assert_int_equal(vtc_encode_image(octx, large, &of), 0);
    assert_int_equal(vtc_encode_frames(octx, (const vtc_image *const *)clip->frames, clip->n_frames, clip->timestamps,
                                       &vf), 0);
    check_path("pool bilinear", path_pool_bilinear, vf);
    // Qwen2-VL / Qwen2.5-VL: load, an image, a clip (windowed attention in 2.5)
    check_path("model_load qwen2vl", path_model_load, (void *)(MODELS "qwen2vl"));
    check_path("model_load qwen25vl", path_model_load, (void *)(MODELS "qwen25vl"));
    // ... and their llama.cpp mmproj GGUFs (the Conv3d slices and split qkv put back together)
    check_path("model_load qwen2vl.gguf", path_model_load, (void *)(MODELS "qwen2vl.gguf"));
    check_path("model_load qwen25vl.gguf", path_model_load, (void *)(MODELS "qwen25vl.gguf"));
    vtc_model *q2 = vtc_model_load(MODELS "qwen2vl", vtc_model_params_default());
    vtc_model *q25 = vtc_model_load(MODELS "qwen25vl", vtc_model_params_default());
    struct vtc_model_params qp = vtc_model_params_default();
    qp.max_pixels = 12544; // the HF directory's budget (a GGUF's default is llama.cpp's 4096 tokens)
    vtc_model *q25g = vtc_model_load(MODELS "qwen25vl.gguf", qp);
    vtc_media *clip4 = vtc_media_load("tests/fixtures/ref_images/clip4.mkv", sp, NULL);
    assert_non_null(q2), assert_non_null(q25), assert_non_null(q25g), assert_non_null(clip4);
    const struct native_case qc[4] = { { q2, wide, NULL }, { q25, large, NULL }, { q25, NULL, clip4 },
                                       { q25g, large, NULL } };
    check_path("encode qwen2vl image", path_encode_native, (void *)&qc[0]);
    check_path("encode qwen25vl image", path_encode_native, (void *)&qc[1]);
    check_path("encode qwen25vl clip", path_encode_native, (void *)&qc[2]);
    check_path("encode qwen25vl.gguf image", path_encode_native, (void *)&qc[3]);
    vtc_media_free(clip4);
    vtc_model_free(q2);
    vtc_model_free(q25);
    vtc_model_free(q25g);
    const struct prune_case cases[] = {
        { nctx, nf, "none", 0, NULL }, { nctx, nf, "cls", 0.25, NULL }, { nctx, nf, "visionzip", 0.25, "1" },
        { nctx, nf, "random", 0.25, "2" }, { octx, of, "none", 0, NULL }, { octx, of, "uniform", 0.1, NULL },
        { octx, vf, "divprune", 0.25, NULL },
    };
    const char *names[] = { "pack none native", "pack cls native", "pack visionzip unpad", "pack random spatial",
                            "pack onevision shrink", "pack onevision selection", "pack onevision video" };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_path(names[i], path_prune_packed, (void *)&cases[i]);
    vtc_features_free(nf);
    vtc_features_free(of);
    vtc_features_free(vf);
    vtc_ctx_free(nctx);
    vtc_ctx_free(octx);
    vtc_media_free(clip);
    vtc_image_free(wide);
    vtc_image_free(large);
    vtc_model_free(next);
    vtc_model_free(ov);
}

// ---------------------------------------------------------------- bf16

// A bf16 context (include/vtc.h, VTC_PRECISION_BF16), an image encoded and
// pruned through it (the projector in bf16 after the selection), on a model of
// its own: the model's packed weights are made once, by its first bf16
// context (vtc_model_pack_bf16 in vision/vit.c), so only a fresh model makes
// every allocation of the bf16 path: the packing, the context's oneDNN
// primitive cache and buffers (base/matmul.c), the scratch. A tiny tower
// (56 px, patch 14: 16 patches, 2 blocks, projector to 24): oneDNN emulates
// bf16 on a CPU without bf16 units, slowly. arg: the image.
static const struct vtc_random_spec g_bf16_spec = { "tiny", 56, 14, 32, 2, 64, 2, 24, 1 };

static struct vtc_ctx_params bf16_one_thread(void) {
    struct vtc_ctx_params p = one_thread();
    p.precision = VTC_PRECISION_BF16;
    return p;
}

static int path_bf16_encode(void *arg, uint64_t *digest) {
    vtc_model *m = vtc_model_random(&g_bf16_spec, vtc_model_params_default());
    if (!m) return ctor_status(m);
    vtc_ctx *ctx = vtc_ctx_new(m, bf16_one_thread());
    int st = ctor_status(ctx);
    if (!st && vtc_ctx_precision(ctx, NULL) != VTC_PRECISION_BF16)
        st = vtc_set_error(VTC_ERR_INTERNAL, "the context is not bf16");
    vtc_features *f = NULL;
    vtc_tokens *t = NULL;
    if (!st) st = vtc_encode_image(ctx, arg, &f);
    if (!st) {
        const struct prune_case c = { ctx, f, "cls", 4, NULL };
        st = prune_once(&c, &t);
    }
    if (!st) *digest = hash_tokens(hash_features(0, f), t);
    vtc_tokens_free(t);
    vtc_features_free(f);
    vtc_ctx_free(ctx);
    vtc_model_free(m);
    return st;
}

static void test_bf16_paths(void **state) {
    (void)state;
    vtc_image *img = vtc_image_load("samples/scene.png", NULL);
    vtc_model *m = vtc_model_random(&g_bf16_spec, vtc_model_params_default());
    assert_non_null(img), assert_non_null(m);
    vtc_ctx *probe = vtc_ctx_new(m, bf16_one_thread());
    if (!probe && vtc_last_status() == VTC_ERR_UNSUPPORTED) { // oneDNN below AVX-512: no bf16 kernels
        printf("  bf16 paths skipped: %s\n", vtc_last_error());
        vtc_model_free(m);
        vtc_image_free(img);
        skip();
    }
    assert_non_null(probe);
    vtc_ctx_free(probe);
    vtc_model_free(m);
    check_path("bf16 ctx+encode+prune", path_bf16_encode, img);
    // A bf16 context that fails leaves its model unpacked, not half packed: the
    // next bf16 context on that model packs it and encodes as a model that never
    // failed. Allocation n of vtc_ctx_new failing, and every later one.
    uint64_t want = 0, got = 0;
    assert_int_equal(path_bf16_encode(img, &want), 0);
    m = vtc_model_random(&g_bf16_spec, vtc_model_params_default());
    assert_non_null(m);
    vtc_fault_alloc_after(INT64_MAX, 0);
    vtc_ctx *ctx = vtc_ctx_new(m, bf16_one_thread());
    const int64_t count = vtc_fault_alloc_count();
    vtc_fault_alloc_after(-1, 0);
    assert_non_null(ctx);
    vtc_ctx_free(ctx);
    vtc_model_free(m);
    for (int64_t n = 0; n < count; n++) {
        m = vtc_model_random(&g_bf16_spec, vtc_model_params_default());
        assert_non_null(m);
        vtc_fault_alloc_after(n, 1);
        ctx = vtc_ctx_new(m, bf16_one_thread());
        vtc_fault_alloc_after(-1, 0);
        if (ctx) fail_msg("bf16 vtc_ctx_new: allocation %lld and all later failing, a context came", (long long)n);
        assert_int_equal(vtc_last_status(), VTC_ERR_NOMEM);
        ctx = vtc_ctx_new(m, bf16_one_thread());
        if (!ctx) fail_msg("bf16 vtc_ctx_new after allocation %lld failed: %s", (long long)n, vtc_last_error());
        vtc_features *f = NULL;
        vtc_tokens *t = NULL;
        assert_int_equal(vtc_encode_image(ctx, img, &f), 0);
        const struct prune_case c = { ctx, f, "cls", 4, NULL };
        assert_int_equal(prune_once(&c, &t), 0);
        got = hash_tokens(hash_features(0, f), t);
        if (got != want) fail_msg("bf16 after allocation %lld of vtc_ctx_new failed: another result", (long long)n);
        vtc_tokens_free(t);
        vtc_features_free(f);
        vtc_ctx_free(ctx);
        vtc_model_free(m);
    }
    printf("  %-26s %5lld allocations in vtc_ctx_new, each failing once: the model packs again\n", "bf16 pack retry",
           (long long)count);
    vtc_image_free(img);
}

// ---------------------------------------------------------------- language-model paths

struct lm_world {
    vtc_lm *lm;           // tests/fixtures/lm/tiny.bin: 2 layers, dim 32, vocab 64, seq 32
    vtc_tokenizer *tok;   // tests/fixtures/lm/tiny_tok.bin
};
static struct lm_world L;

static struct vtc_lm_ctx_params lm_one_thread(void) {
    struct vtc_lm_ctx_params p = vtc_lm_ctx_params_default();
    p.n_threads = 1;
    return p;
}

static uint64_t hash_lm(uint64_t h, const vtc_lm *lm) {
    const struct vtc_lm_config *c = vtc_lm_get_config(lm);
    h = HV(h, *c);
    float row[1024];
    for (int32_t tok = 0; tok < c->vocab_size && c->dim <= 1024; tok += 7)
        if (vtc_lm_token_embedding(lm, tok, row) == 0) h = hash(h, row, sizeof(float) * c->dim);
    return h;
}

static int path_lm_load(void *arg, uint64_t *digest) {
    vtc_lm *lm = vtc_lm_load(arg, vtc_lm_params_default());
    if (!lm) return ctor_status(lm);
    *digest = hash_lm(0, lm);
    vtc_lm_free(lm);
    return VTC_OK;
}

static int path_lm_ctx_new(void *arg, uint64_t *digest) {
    vtc_lm_ctx *c = vtc_lm_ctx_new(L.lm, lm_one_thread());
    if (!c) return ctor_status(c);
    *digest = (uint64_t)vtc_lm_ctx_capacity(c);
    vtc_lm_ctx_free(c);
    return VTC_OK;
}

// Parameters that make each policy act on a 2-layer model (NULL: the defaults).
static const char *policy_params(const char *name) {
    if (!strcmp(name, "fastv")) return "k=1,r=0.5";
    if (!strcmp(name, "todre2")) return "layer=0,tau=0.99";
    if (!strcmp(name, "dycoke-kv")) return "l=1,p=0.5";
    return NULL;
}

// BOS, 6 visual rows (embeddings) at gapped positions, 3 text tokens; then 3 decode steps.
// arg: a policy name, or NULL for none.
static int path_lm_decode(void *arg, uint64_t *digest) {
    const char *name = arg;
    const struct vtc_lm_config *cfg = vtc_lm_get_config(L.lm);
    int32_t tokens[10] = { 1, VTC_LM_EMBED, VTC_LM_EMBED, VTC_LM_EMBED, VTC_LM_EMBED, VTC_LM_EMBED, VTC_LM_EMBED,
                           9, 17, 33 };
    int32_t pos[10] = { 0, 1, 2, 4, 5, 7, 8, 9, 10, 11 };
    float embeds[6 * 64];
    for (int i = 0; i < 6 * cfg->dim; i++) embeds[i] = (float)sin(0.37 * i);
    struct vtc_lm_batch b = { 10, tokens, embeds, pos, VTC_LM_LOGITS_LAST };
    vtc_lm_policy *p = NULL;
    vtc_lm_ctx *c = vtc_lm_ctx_new(L.lm, lm_one_thread());
    int st = ctor_status(c);
    if (!st && name) st = ctor_status(p = vtc_lm_policy_new(name, policy_params(name)));
    if (!st && p) st = vtc_lm_policy_begin(p, c, 1, 7);
    if (!st) st = vtc_lm_prefill(c, &b);
    uint64_t h = 0;
    if (!st) h = hash(h, vtc_lm_logits(c, -1), sizeof(float) * cfg->vocab_size);
    for (int i = 0; i < 3 && !st; i++) {
        st = vtc_lm_decode(c, 5 + i, -1);
        if (!st) h = hash(h, vtc_lm_logits(c, -1), sizeof(float) * cfg->vocab_size);
    }
    if (!st && p) {
        struct vtc_lm_policy_report r;
        memset(&r, 0, sizeof r);
        st = vtc_lm_policy_get_report(p, &r);
        h = HV(h, r.n_kept), h = HV(h, r.fired), h = HV(h, r.n_reselect);
    }
    *digest = h;
    vtc_lm_ctx_free(c);
    vtc_lm_policy_free(p);
    return st;
}

static int path_tokenizer_load(void *arg, uint64_t *digest) {
    vtc_tokenizer *t = strstr(arg, ".gguf") ? vtc_tokenizer_load_gguf(arg) : vtc_tokenizer_load(arg, 64);
    if (!t) return ctor_status(t);
    int32_t ids[64], n = 0;
    int st = vtc_tokenizer_encode(t, "once upon a time", 1, 0, ids, 64, &n);
    *digest = hash(HV(0, n), ids, sizeof(int32_t) * (size_t)(n > 0 ? n : 0));
    vtc_tokenizer_free(t);
    return st;
}

static int collect(void *user, const char *piece, size_t len) {
    *(uint64_t *)user = hash(*(uint64_t *)user, piece, len);
    return 0;
}

static int path_lm_generate(void *arg, uint64_t *digest) {
    vtc_lm_ctx *c = vtc_lm_ctx_new(L.lm, lm_one_thread());
    if (!c) return ctor_status(c);
    struct vtc_lm_gen_params gp = vtc_lm_gen_params_default();
    gp.steps = 12;
    gp.temperature = 0.8f;
    uint64_t h = 0;
    int32_t n = 0;
    int st = vtc_lm_generate(c, L.tok, "once upon", gp, collect, &h, &n);
    *digest = HV(h, n);
    vtc_lm_ctx_free(c);
    return st;
}

static void test_lm_paths(void **state) {
    (void)state;
    check_path("lm_load llama2c", path_lm_load, LMFIX "tiny.bin");
    check_path("lm_load gguf", path_lm_load, LMFIX "tiny.gguf");
    check_path("tokenizer_load", path_tokenizer_load, LMFIX "tiny_tok.bin");
    check_path("tokenizer_load gguf", path_tokenizer_load, LMFIX "tiny.gguf");
    L.lm = vtc_lm_load(LMFIX "tiny.bin", vtc_lm_params_default());
    L.tok = vtc_tokenizer_load(LMFIX "tiny_tok.bin", 64);
    assert_non_null(L.lm), assert_non_null(L.tok);
    assert_true(vtc_lm_get_config(L.lm)->dim <= 64);
    check_path("lm_ctx_new", path_lm_ctx_new, NULL);
    check_path("lm prefill+decode", path_lm_decode, NULL);
    for (int i = 0; i < vtc_lm_policy_count(); i++) {
        char name[64];
        snprintf(name, sizeof name, "lm %s", vtc_lm_policy_name(i));
        check_path(name, path_lm_decode, (void *)vtc_lm_policy_name(i));
    }
    check_path("lm_generate", path_lm_generate, NULL);
    vtc_tokenizer_free(L.tok);
    vtc_lm_free(L.lm);
    memset(&L, 0, sizeof L);
}

// The hook itself: counting, one-shot and sticky failures, the status, off.
static void test_hook(void **state) {
    (void)state;
    vtc_fault_alloc_after(INT64_MAX, 0);
    void *a = vtc_alloc(1, 8), *b = vtc_zalloc(2, 8);
    assert_non_null(a), assert_non_null(b);
    assert_int_equal(vtc_fault_alloc_count(), 2);
    vtc_fault_alloc_after(1, 0);
    void *c = vtc_strdup("x");
    assert_non_null(c);
    vtc_clear_error();
    assert_null(vtc_realloc(a, 4, 8)); // a untouched
    assert_int_equal(vtc_last_status(), VTC_ERR_NOMEM);
    void *d = vtc_alloc(1, 1); // one-shot: the next succeeds
    assert_non_null(d);
    vtc_fault_alloc_after(0, 1);
    assert_null(vtc_alloc(1, 1));
    assert_null(vtc_zalloc(1, 1));
    assert_null(vtc_strdup("y"));
    assert_int_equal(vtc_fault_alloc_count(), 3);
    vtc_fault_alloc_after(-1, 0);
    assert_int_equal(vtc_fault_alloc_count(), 3); // kept
    a = vtc_realloc(a, 4, 8);
    assert_non_null(a);
    assert_int_equal(vtc_fault_alloc_count(), 3); // off: not counted
    assert_null(vtc_alloc(SIZE_MAX, 2));          // overflow is still an error
    free(a), free(b), free(c), free(d);
}

int main(int argc, char **argv) {
#ifdef OOM_MALLINFO
    // glibc's tcache holds freed chunks that mallinfo2 counts as in use: run
    // again with it off, so that the bytes in use are exact.
    const char *tun = getenv("GLIBC_TUNABLES");
    if (tun && strstr(tun, "glibc.malloc.tcache_count=0")) {
        g_live_check = 1;
    } else if (argc > 0 && !getenv("VTC_OOM_REEXEC")) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s%sglibc.malloc.tcache_count=0", tun ? tun : "", tun ? ":" : "");
        setenv("GLIBC_TUNABLES", buf, 1);
        setenv("VTC_OOM_REEXEC", "1", 1);
        execv("/proc/self/exe", argv);
        printf("  (could not run again with the tcache off: no heap balance check)\n");
    }
#else
    (void)argc, (void)argv;
#endif
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hook),
        cmocka_unit_test(test_vision_paths),
        cmocka_unit_test(test_family_paths),
        cmocka_unit_test(test_bf16_paths),
        cmocka_unit_test(test_lm_paths),
    };
    int rc = cmocka_run_group_tests_name("oom", tests, NULL, NULL);
    printf("  %lld allocations on %s paths, %lld runs with a fault%s\n", (long long)g_total_allocs, "all",
           (long long)g_total_runs, g_live_check ? ", heap balance checked" : "");
    return rc;
}
