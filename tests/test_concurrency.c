// One model shared by several threads (vtc.h: a loaded model is immutable and
// shareable; a ctx belongs to one thread): each worker has its own ctx, encodes
// its own image and prunes it with several methods, round after round, and every
// result must be byte-identical to the single-threaded run. Also: the ctx thread
// count (1, 2, 3) must not change a single bit of what comes out, nor for a
// video streamed from its file (decoding threads, the decode thread's queue).
// And bf16 contexts racing to pack one model's weights (test_bf16_shared_pack).
//
// Runs in `make test` like every tests/test_*.c, and under ThreadSanitizer (the
// point of this test) with `make tsan`, as CI does. OpenBLAS, libpng and
// libjpeg are not instrumented, so TSan sees only their intercepted calls
// (memset, malloc) on vtc's own buffers, where a report is a real race. FFmpeg's
// decoding threads hand frames over with atomics in uninstrumented code, so its
// own intercepted calls are suppressed (tools/tsan.supp); vtc's accesses are not. It found one: two threads sharing an attention scores
// buffer when the thread count does not divide the heads (vision/vit.c).
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vtc.h"
#include "budget.h"

#define N_WORKERS 4
#define N_IMAGES 4
#define ROUNDS 2

static const char *const IMAGES[N_IMAGES] = {
    "tests/fixtures/ref_images/photo.jpg",
    "tests/fixtures/ref_images/portrait_rgba.png",
    "samples/astronaut.jpg",
    "tests/fixtures/images/tall.jpg",
};

// ---------------------------------------------------------------- a byte record of results

// Everything deterministic an encode + prune produces, appended as raw bytes:
// equal records mean bit-identical features, embeddings and kept tokens.
// (Timings are left out: they are the one thing allowed to differ.)
#define MAX_MARKS 128

struct record {
    unsigned char *p;
    size_t n, cap;
    int oom;
    // where each array starts, to say what differs
    int n_marks;
    size_t mark_at[MAX_MARKS];
    char mark[MAX_MARKS][56];
    char what[40]; // the step being recorded ("image: cls k=64", ...)
};

static void put(struct record *r, const void *data, size_t size) {
    if (r->oom || !size) return;
    if (r->n + size > r->cap) {
        size_t cap = r->cap ? r->cap : 1 << 16;
        while (cap < r->n + size) cap *= 2;
        unsigned char *p = realloc(r->p, cap);
        if (!p) {
            r->oom = 1;
            return;
        }
        r->p = p, r->cap = cap;
    }
    memcpy(r->p + r->n, data, size);
    r->n += size;
}

// A tag before each array, so a missing array cannot line up with the next one.
static void put_array(struct record *r, char tag, const void *data, size_t size) {
    char present = data != NULL;
    if (r->n_marks < MAX_MARKS) {
        r->mark_at[r->n_marks] = r->n;
        snprintf(r->mark[r->n_marks++], sizeof r->mark[0], "%s, array '%c'", r->what, tag);
    }
    put(r, &tag, 1);
    put(r, &present, 1);
    if (data) put(r, data, size);
}

static void put_features(struct record *r, const vtc_features *f) {
    const int32_t geo[] = { f->T, f->H, f->W, f->n, f->dim, f->head_dim, f->lm_dim, f->cls_is_received };
    const size_t n = (size_t)f->n, T = (size_t)f->T;
    put(r, geo, sizeof geo);
    put_array(r, 'f', f->features, sizeof(float) * n * f->dim);
    put_array(r, 'c', f->cls, sizeof(float) * T * f->dim);
    put_array(r, 'a', f->cls_attn, sizeof(float) * n);
    put_array(r, 'l', f->cls_attn_last, sizeof(float) * n);
    put_array(r, 'k', f->keys, sizeof(float) * n * f->head_dim);
    put_array(r, 'e', f->embeds, sizeof(float) * n * f->lm_dim);
    put_array(r, 'E', f->cls_embed, sizeof(float) * T * f->lm_dim);
    put_array(r, 't', f->timestamps, sizeof(double) * T);
    put(r, &f->flops_encoder, sizeof f->flops_encoder);
    put(r, &f->flops_projector, sizeof f->flops_projector);
}

static void put_tokens(struct record *r, const vtc_tokens *t) {
    const int32_t head[] = { t->n, t->dim, t->n_input, t->space, t->grid[0], t->grid[1], t->grid[2] };
    const size_t n = (size_t)t->n;
    put(r, head, sizeof head);
    put(r, t->method, sizeof t->method);
    put_array(r, 'd', t->data, sizeof(float) * n * t->dim);
    put_array(r, 'i', t->index, sizeof(int32_t) * n);
    put_array(r, 'p', t->pos, sizeof(int32_t) * n * 3);
    put_array(r, 'w', t->weight, sizeof(float) * n);
    put_array(r, 'q', t->codes, sizeof(int32_t) * t->n_input);
    put(r, &t->flops_projector, sizeof t->flops_projector);
}

// ---------------------------------------------------------------- one job

struct prune_case {
    const char *method;
    double keep;
    const char *params;
    uint64_t seed;
};

// Methods run on the single image, then dycoke on a 2-frame clip.
static const struct prune_case IMAGE_CASES[] = {
    { "none", 0, NULL, 0 },
    { "cls", 64, NULL, 0 },
    { "cls", 0.25, NULL, 0 },
    { "random", 100, NULL, 42 },
    { "random", 0.1, NULL, 7 },
    { "uniform", 64, NULL, 0 },
};
static const struct prune_case CLIP_CASES[] = {
    { "dycoke", 0, NULL, 0 },
    { "dycoke", 0, "k=0.5", 0 },
    { "cls", 0.5, "per_frame=1", 0 },
    { "random", 200, "per_frame=1", 3 },
};

// Encodes image `a` and prunes it with IMAGE_CASES, appending everything to
// *r. 0, or a status with a message in err.
static int run_image_job(vtc_ctx *ctx, const vtc_image *a, struct record *r, char *err, size_t err_cap) {
    vtc_features *f = NULL;
    int st = vtc_encode_image(ctx, a, &f);
    if (st) {
        snprintf(err, err_cap, "encode: %s", vtc_ctx_error(ctx));
        return st;
    }
    snprintf(r->what, sizeof r->what, "image: encode");
    put_features(r, f);
    for (size_t i = 0; i < sizeof IMAGE_CASES / sizeof IMAGE_CASES[0] && !st; i++) {
        const struct prune_case *c = &IMAGE_CASES[i];
        struct vtc_prune_params pp = vtc_prune_params_default();
        pp.method = c->method, pp.params = c->params, pp.seed = c->seed;
        set_keep(&pp, c->keep);
        vtc_tokens *t = NULL;
        snprintf(r->what, sizeof r->what, "image: %s keep %g", c->method, c->keep);
        st = vtc_prune(ctx, f, pp, &t);
        if (st) snprintf(err, err_cap, "prune %s: %s", c->method, vtc_ctx_error(ctx));
        else put_tokens(r, t);
        vtc_tokens_free(t);
    }
    vtc_features_free(f);
    return st;
}

// run_image_job on image `a`, then encodes the clip (a, b) and prunes that with
// CLIP_CASES, appending everything to *r. 0, or a status with a message in err.
static int run_job(vtc_ctx *ctx, const vtc_model *model, const vtc_image *a, const vtc_image *b, struct record *r,
                   char *err, size_t err_cap) {
    int st = run_image_job(ctx, a, r, err, err_cap);
    if (st) return st;

    vtc_features *f = NULL;
    const vtc_image *frames[2] = { a, b };
    const double ts[2] = { 0.0, 0.5 };
    st = vtc_encode_frames(ctx, frames, 2, ts, &f);
    if (st) {
        snprintf(err, err_cap, "encode 2 frames: %s", vtc_ctx_error(ctx));
        return st;
    }
    snprintf(r->what, sizeof r->what, "2 frames: encode");
    put_features(r, f);
    for (size_t i = 0; i < sizeof CLIP_CASES / sizeof CLIP_CASES[0] && !st; i++) {
        const struct prune_case *c = &CLIP_CASES[i];
        struct vtc_prune_params pp = vtc_prune_params_default();
        pp.method = c->method, pp.params = c->params, pp.seed = c->seed;
        set_keep(&pp, c->keep);
        vtc_tokens *t = NULL;
        snprintf(r->what, sizeof r->what, "2 frames: %s %s", c->method, c->params ? c->params : "");
        st = vtc_prune(ctx, f, pp, &t);
        if (st) snprintf(err, err_cap, "prune %s (2 frames): %s", c->method, vtc_ctx_error(ctx));
        else put_tokens(r, t);
        vtc_tokens_free(t);
    }
    vtc_features_free(f);
    return st;
}

// ---------------------------------------------------------------- fixtures

struct shared {
    vtc_model *model;
    vtc_image *images[N_IMAGES];
    struct record ref[N_IMAGES]; // single-threaded results, job i = images (i, i+1)
    int ctx_threads;             // what each worker's ctx uses
};

static void shared_load(struct shared *s, vtc_model *model) {
    memset(s, 0, sizeof *s);
    s->model = model;
    if (!model) fail_msg("loading model: %s", vtc_last_error());
    for (int i = 0; i < N_IMAGES; i++) {
        s->images[i] = vtc_image_load(IMAGES[i], NULL);
        if (!s->images[i]) fail_msg("%s: %s", IMAGES[i], vtc_last_error());
    }
}

static void shared_free(struct shared *s) {
    for (int i = 0; i < N_IMAGES; i++) {
        vtc_image_free(s->images[i]);
        free(s->ref[i].p);
    }
    vtc_model_free(s->model);
}

// The reference: every job on this thread, one at a time, one ctx.
static void shared_reference(struct shared *s) {
    struct vtc_ctx_params cp = vtc_ctx_params_default();
    cp.n_threads = s->ctx_threads;
    vtc_ctx *ctx = vtc_ctx_new(s->model, cp);
    assert_non_null(ctx);
    for (int i = 0; i < N_IMAGES; i++) {
        char err[512] = "";
        int st = run_job(ctx, s->model, s->images[i], s->images[(i + 1) % N_IMAGES], &s->ref[i], err, sizeof err);
        if (st) fail_msg("reference job %d (%s): %s", i, IMAGES[i], err);
        assert_false(s->ref[i].oom);
        assert_true(s->ref[i].n > 0);
    }
    vtc_ctx_free(ctx);
}

// What the record holds at byte `at`.
static const char *record_where(const struct record *r, long at) {
    const char *w = "header";
    for (int i = 0; i < r->n_marks && r->mark_at[i] <= (size_t)at; i++) w = r->mark[i];
    return w;
}

// Index of the first differing byte, or -1.
static long first_diff(const struct record *a, const struct record *b) {
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++)
        if (a->p[i] != b->p[i]) return (long)i;
    return a->n == b->n ? -1 : (long)n;
}

// ---------------------------------------------------------------- workers

struct worker {
    struct shared *s;
    pthread_t tid;
    int id;
    int jobs, mismatches, errors;
    char msg[1024];
    pthread_barrier_t *start;
};

static void *worker_main(void *p) {
    struct worker *w = p;
    struct shared *s = w->s;
    struct vtc_ctx_params cp = vtc_ctx_params_default();
    cp.n_threads = s->ctx_threads;
    vtc_ctx *ctx = vtc_ctx_new(s->model, cp); // no cmocka asserts off the main thread
    pthread_barrier_wait(w->start);           // all workers hit the shared model together
    if (!ctx) {
        w->errors++;
        snprintf(w->msg, sizeof w->msg, "worker %d: vtc_ctx_new: %s", w->id, vtc_last_error());
        return NULL;
    }
    for (int round = 0; round < ROUNDS; round++) {
        // At any moment the workers are on distinct images.
        const int i = (w->id + round) % N_IMAGES;
        struct record r = { 0 };
        char err[512] = "";
        int st = run_job(ctx, s->model, s->images[i], s->images[(i + 1) % N_IMAGES], &r, err, sizeof err);
        w->jobs++;
        if (st || r.oom) {
            if (!w->errors++)
                snprintf(w->msg, sizeof w->msg, "worker %d, round %d, %s: %s", w->id, round, IMAGES[i],
                         st ? err : "out of memory");
        } else {
            long d = first_diff(&r, &s->ref[i]);
            if (d >= 0 && !w->mismatches++)
                snprintf(w->msg, sizeof w->msg,
                         "worker %d, round %d, %s: differs from the single-threaded run at byte %ld of %zu (%s)",
                         w->id, round, IMAGES[i], d, s->ref[i].n, record_where(&s->ref[i], d));
        }
        free(r.p);
    }
    // The thread's errors are its own: a failure here must not show in another thread.
    struct vtc_prune_params pp = vtc_prune_params_default();
    pp.method = "cls";
    set_keep(&pp, 1e6); // more tokens than there are
    vtc_features *f = NULL;
    vtc_tokens *t = NULL;
    if (vtc_encode_image(ctx, s->images[w->id % N_IMAGES], &f) == 0) {
        if (vtc_prune(ctx, f, pp, &t) != VTC_ERR_NEEDS || t || !vtc_ctx_error(ctx)[0] ||
            vtc_last_status() != VTC_ERR_NEEDS) {
            if (!w->errors++) snprintf(w->msg, sizeof w->msg, "worker %d: keep 1e6 was not refused with its own error", w->id);
        }
    }
    vtc_tokens_free(t);
    vtc_features_free(f);
    vtc_ctx_free(ctx);
    return NULL;
}

static void run_shared(struct shared *s) {
    shared_reference(s);
    struct worker w[N_WORKERS];
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, N_WORKERS), 0);
    memset(w, 0, sizeof w);
    for (int i = 0; i < N_WORKERS; i++) {
        w[i].s = s, w[i].id = i, w[i].start = &start;
        assert_int_equal(pthread_create(&w[i].tid, NULL, worker_main, &w[i]), 0);
    }
    int jobs = 0, bad = 0;
    for (int i = 0; i < N_WORKERS; i++) {
        pthread_join(w[i].tid, NULL);
        jobs += w[i].jobs;
        if (w[i].errors || w[i].mismatches) {
            bad++;
            print_error("%s\n", w[i].msg);
        }
    }
    pthread_barrier_destroy(&start);
    print_message("%d workers x %d rounds, ctx n_threads %d: %d jobs, %d workers failed\n", N_WORKERS, ROUNDS,
                  s->ctx_threads, jobs, bad);
    assert_int_equal(jobs, N_WORKERS * ROUNDS);
    assert_int_equal(bad, 0);
}

// ---------------------------------------------------------------- tests

static vtc_model *load_llava(void) {
    return vtc_model_load("tests/fixtures/models/llava", vtc_model_params_default());
}
static vtc_model *load_default(void) { return vtc_model_default(vtc_model_params_default()); }

static void shared_model_test(vtc_model *(*load)(void), int ctx_threads) {
    struct shared s;
    shared_load(&s, load());
    s.ctx_threads = ctx_threads;
    run_shared(&s);
    shared_free(&s);
}

// One thread per ctx, so the only concurrency is between the workers.
static void test_llava_shared(void **state) { (void)state; shared_model_test(load_llava, 1); }
static void test_default_shared(void **state) { (void)state; shared_model_test(load_default, 1); }
// Each worker's ctx runs its own helper threads too (vtc_parallel_for inside each
// call); 3 does not divide the 4 heads, the uneven split that once shared a buffer.
static void test_llava_shared_nested(void **state) { (void)state; shared_model_test(load_llava, 3); }

// The same job on ctx thread counts 1, 2 and 3: bit-identical records.
static void thread_count_test(vtc_model *(*load)(void)) {
    struct shared s;
    shared_load(&s, load());
    for (int i = 0; i < N_IMAGES; i++) {
        struct record r[3] = { { 0 } };
        for (int k = 0; k < 3; k++) {
            struct vtc_ctx_params cp = vtc_ctx_params_default();
            cp.n_threads = k + 1;
            vtc_ctx *ctx = vtc_ctx_new(s.model, cp);
            assert_non_null(ctx);
            char err[512] = "";
            int st = run_job(ctx, s.model, s.images[i], s.images[(i + 1) % N_IMAGES], &r[k], err, sizeof err);
            vtc_ctx_free(ctx);
            if (st) fail_msg("%s, n_threads %d: %s", IMAGES[i], k + 1, err);
            assert_false(r[k].oom);
        }
        for (int k = 1; k < 3; k++) {
            long d = first_diff(&r[0], &r[k]);
            if (d >= 0)
                fail_msg("%s: n_threads %d differs from n_threads 1 at byte %ld of %zu (%s)", IMAGES[i], k + 1, d,
                         r[0].n, record_where(&r[0], d));
        }
        for (int k = 0; k < 3; k++) free(r[k].p);
    }
    shared_free(&s);
}

static void test_llava_thread_counts(void **state) { (void)state; thread_count_test(load_llava); }
static void test_default_thread_counts(void **state) { (void)state; thread_count_test(load_default); }

// A video streamed through vtc_encode_file (FFmpeg's decoding threads, vtc's
// decode thread and its queue, the decoder's log counter) on ctx thread counts
// 1, 2 and 3, and two such encodes at once on one model: bit-identical features.
struct video_job {
    vtc_model *model;
    int threads;
    vtc_features *f;
    int st;
};

static void *video_job(void *arg) {
    struct video_job *j = arg;
    struct vtc_ctx_params cp = vtc_ctx_params_default();
    cp.n_threads = j->threads;
    vtc_ctx *ctx = vtc_ctx_new(j->model, cp);
    struct vtc_sample_params sp = vtc_sample_params_default();
    sp.n_frames = 6;
    j->st = ctx ? vtc_encode_file(ctx, "samples/vtest.mp4", sp, &j->f) : -1;
    vtc_ctx_free(ctx);
    return NULL;
}

static void same_features(const vtc_features *a, const vtc_features *b) {
    assert_int_equal(a->n, b->n);
    assert_memory_equal(a->features, b->features, sizeof(float) * (size_t)a->n * a->dim);
    assert_memory_equal(a->embeds, b->embeds, sizeof(float) * (size_t)a->n * a->lm_dim);
    assert_memory_equal(a->keys, b->keys, sizeof(float) * (size_t)a->n * a->head_dim);
    assert_memory_equal(a->cls_attn, b->cls_attn, sizeof(float) * (size_t)a->n);
    assert_memory_equal(a->timestamps, b->timestamps, sizeof(double) * (size_t)a->T);
}

static void test_video_thread_counts(void **state) {
    (void)state;
    vtc_model *m = load_default();
    struct video_job jobs[5] = { { m, 1, NULL, 0 }, { m, 2, NULL, 0 }, { m, 3, NULL, 0 }, { m, 2, NULL, 0 },
                                 { m, 3, NULL, 0 } };
    for (int k = 0; k < 3; k++) video_job(&jobs[k]);
    pthread_t tid[2];
    for (int k = 0; k < 2; k++) assert_int_equal(pthread_create(&tid[k], NULL, video_job, &jobs[3 + k]), 0);
    for (int k = 0; k < 2; k++) pthread_join(tid[k], NULL);
    for (int k = 0; k < 5; k++) {
        if (jobs[k].st) fail_msg("encode_file with %d threads: %s", jobs[k].threads, vtc_last_error());
        if (k) same_features(jobs[0].f, jobs[k].f);
    }
    for (int k = 0; k < 5; k++) vtc_features_free(jobs[k].f);
    vtc_model_free(m);
}

// ---------------------------------------------------------------- bf16

// bf16 contexts (include/vtc.h, VTC_PRECISION_BF16) on one model that no bf16
// context has used yet: two workers create theirs at the same moment, so the
// model's once-only weight packing (vtc_model_pack_bf16, vision/vit.c) races,
// then encode the same image and prune it (the projector in bf16 after the
// selection). Both records must be bit-identical to one made afterwards on
// this thread by a bf16 context with the same n_threads (base/matmul.h: the same
// shapes on the same CPU give the same bits). With n_threads 2 each context's
// helper threads also share its primitive cache and buffers (the demo model's
// linear layers are large enough to be split), and the bits must be those of
// n_threads 1. oneDNN emulates bf16 on a CPU without bf16 units: one image
// on the demo model (336 px, 4 blocks of width 128) keeps this short.
// Under `make tsan`: oneDNN is not instrumented either, and the memory it
// allocates and hands between threads in its own code (primitive descriptors)
// shows as a race in vtc's reads of it unless the calls libdnnl makes are
// ignored as FFmpeg's are (called_from_lib:libdnnl.so in tools/tsan.supp).
struct bf16_worker {
    const vtc_model *model;
    const vtc_image *image;
    int threads;
    pthread_barrier_t *start;
    pthread_t tid;
    struct record r;
    int st;
    char msg[512];
};

static struct vtc_ctx_params bf16_params(int threads) {
    struct vtc_ctx_params cp = vtc_ctx_params_default();
    cp.n_threads = threads;
    cp.precision = VTC_PRECISION_BF16;
    return cp;
}

static void *bf16_worker_main(void *p) {
    struct bf16_worker *w = p;
    pthread_barrier_wait(w->start);                          // both pack the model's weights at once
    vtc_ctx *ctx = vtc_ctx_new(w->model, bf16_params(w->threads)); // no cmocka asserts off the main thread
    if (!ctx) {
        w->st = vtc_last_status() ? vtc_last_status() : VTC_ERR_INTERNAL;
        snprintf(w->msg, sizeof w->msg, "vtc_ctx_new: %s", vtc_last_error());
        return NULL;
    }
    const char *engine = "";
    if (vtc_ctx_precision(ctx, &engine) != VTC_PRECISION_BF16) {
        w->st = VTC_ERR_INTERNAL;
        snprintf(w->msg, sizeof w->msg, "not a bf16 context: %s", engine);
    } else {
        w->st = run_image_job(ctx, w->image, &w->r, w->msg, sizeof w->msg);
    }
    vtc_ctx_free(ctx);
    return NULL;
}

// The racing pair and the reference at `threads`; *ref receives the reference.
static void bf16_shared_pack(const vtc_image *img, int threads, struct record *ref) {
    vtc_model *m = load_default(); // fresh: its weights not packed yet
    assert_non_null(m);
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
    struct bf16_worker w[2];
    memset(w, 0, sizeof w);
    for (int k = 0; k < 2; k++) {
        w[k].model = m, w[k].image = img, w[k].threads = threads, w[k].start = &start;
        assert_int_equal(pthread_create(&w[k].tid, NULL, bf16_worker_main, &w[k]), 0);
    }
    for (int k = 0; k < 2; k++) pthread_join(w[k].tid, NULL);
    pthread_barrier_destroy(&start);
    vtc_ctx *ctx = vtc_ctx_new(m, bf16_params(threads));
    assert_non_null(ctx);
    char err[512] = "";
    int st = run_image_job(ctx, img, ref, err, sizeof err);
    vtc_ctx_free(ctx);
    if (st) fail_msg("bf16 reference, n_threads %d: %s", threads, err);
    assert_false(ref->oom);
    for (int k = 0; k < 2; k++) {
        if (w[k].st) fail_msg("bf16 worker %d, n_threads %d: %s", k, threads, w[k].msg);
        assert_false(w[k].r.oom);
        long d = first_diff(&w[k].r, ref);
        if (d >= 0)
            fail_msg("bf16 worker %d, n_threads %d: differs from the reference at byte %ld of %zu (%s)", k, threads, d,
                     ref->n, record_where(ref, d));
        free(w[k].r.p);
    }
    vtc_model_free(m);
}

static void test_bf16_shared_pack(void **state) {
    (void)state;
    vtc_image *img = vtc_image_load(IMAGES[2], NULL);
    assert_non_null(img);
    vtc_model *probe = load_default(); // a model of its own: the tested ones stay unpacked
    vtc_ctx *ctx = vtc_ctx_new(probe, bf16_params(1));
    if (!ctx && vtc_last_status() == VTC_ERR_UNSUPPORTED) { // oneDNN below AVX-512: no bf16 kernels
        print_message("bf16 skipped: %s\n", vtc_last_error());
        vtc_model_free(probe);
        vtc_image_free(img);
        skip();
    }
    assert_non_null(ctx);
    vtc_ctx_free(ctx);
    vtc_model_free(probe);
    struct record one = { 0 }, two = { 0 };
    bf16_shared_pack(img, 1, &one);
    bf16_shared_pack(img, 2, &two);
    long d = first_diff(&one, &two);
    if (d >= 0)
        fail_msg("bf16: n_threads 2 differs from n_threads 1 at byte %ld of %zu (%s)", d, one.n, record_where(&one, d));
    print_message("bf16: 2 contexts packing one model at once, n_threads 1 and 2: bit-identical (%zu bytes)\n", one.n);
    free(one.p);
    free(two.p);
    vtc_image_free(img);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llava_shared),          cmocka_unit_test(test_default_shared),
        cmocka_unit_test(test_llava_shared_nested),   cmocka_unit_test(test_llava_thread_counts),
        cmocka_unit_test(test_default_thread_counts), cmocka_unit_test(test_video_thread_counts),
        cmocka_unit_test(test_bf16_shared_pack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
