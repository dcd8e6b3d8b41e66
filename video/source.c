// A video's sampled frames as a frame source (source.h).
//
// Reading in parallel: the sampled frames fall into runs, a new run wherever
// the next frame lies beyond a keyframe that comes after the frame before it
// (vtc_video_independent: reading it costs a seek, and nothing decoded for the
// run before helps). Runs share nothing, so where the frames are sparse (a few
// per run, as `--frames 32` of a long clip gives) and there are threads, each
// of up to n_threads workers reads every n-th run on a handle of its own
// (vtc_video_open_again, a one-thread decoder) while the others read theirs:
// GOPs decode side by side, which FFmpeg's frame threading (one stream, each
// frame waiting on its references) does not give a seek-heavy read. A worker
// holds at most the frame it hands over and the one it decodes next, and the
// frames are handed out in order. Dense sampling (many frames a run) reads in
// order on the one handle, with FFmpeg's frame threading: there a worker would
// have to hold a GOP's frames to get ahead. The bytes are the same either way.
#include "source.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"

#define SPARSE 4 // at most this many frames a run on average: read by workers

struct vtc_video_source;

// A worker: its handle, the positions (in the sampled list) it reads, ascending,
// and the frame it hands over (under the source's mutex).
struct worker {
    struct vtc_video_source *s;
    vtc_video *v;
    int32_t *pos, n_pos;
    pthread_t tid;
    vtc_image *frame; // decoded, not yet taken
    double ts;
    int32_t at;       // the position frame (or status) is for; -1: nothing to take
    int status;       // a read that failed, at `at`
    char error[1024];
};

struct vtc_video_source {
    vtc_video *v;
    int64_t *idx; // the sampled indices, ascending
    double *ts;   // [n] the timestamps of the frames handed out so far
    int32_t n, next;
    vtc_image *frame; // the frame handed out last
    double ms;        // opening and decoding (waiting for the workers)
    int failed;       // the status of a read that failed
    int n_threads;
    int started;      // the workers were considered (on the first frame asked for)
    struct worker *w; // n_workers of them, or none: reading on v
    int n_workers, n_running;
    int32_t *owner;   // [n] the worker reading each position
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

// vtc_image_free's work (vision/ holds it, and video/ does not use vision/).
static void frame_free(vtc_image *img) {
    if (img) free(img->rgb);
    free(img);
}

int vtc_video_source_open(const char *path, struct vtc_sample_params sample, const struct vtc_limits *limits,
                          int n_threads, vtc_video_source **out) {
    *out = NULL;
    double t0 = vtc_now_ms();
    vtc_video_source *s = vtc_zalloc(1, sizeof *s);
    if (!s) return VTC_ERR_NOMEM;
    s->n_threads = n_threads;
    int st = vtc_video_open(path, limits, n_threads, &s->v);
    if (!st) st = vtc_video_sample(s->v, sample.n_frames, sample.fps, sample.rule, &s->idx, &s->n);
    if (!st && s->n > 0 && s->idx[s->n - 1] > INT32_MAX)
        st = vtc_set_error(VTC_ERR_LIMIT, "%s: frame index beyond 2^31", path);
    if (!st && !(s->ts = vtc_alloc(s->n > 0 ? (size_t)s->n : 1, sizeof *s->ts))) st = VTC_ERR_NOMEM;
    if (!st) st = vtc_video_plan(s->v, s->idx, s->n); // the decoder may skip what no sampled frame needs
    if (st) {
        vtc_video_source_close(s);
        return st;
    }
    s->ms = vtc_now_ms() - t0;
    *out = s;
    return VTC_OK;
}

// ---------------------------------------------------------------- workers

static void *work(void *arg) {
    struct worker *w = arg;
    struct vtc_video_source *s = w->s;
    for (int32_t j = 0; j < w->n_pos; j++) {
        const int32_t p = w->pos[j];
        vtc_image *img = NULL;
        double ts = 0;
        int st = vtc_video_read(w->v, s->idx[p], &img, &ts);
        pthread_mutex_lock(&s->mu);
        while (w->at >= 0 && !s->stop) pthread_cond_wait(&s->cv, &s->mu); // the frame before is not taken yet
        const int stop = s->stop;
        if (!stop) {
            w->frame = img, w->ts = ts, w->at = p, w->status = st;
            if (st) snprintf(w->error, sizeof w->error, "%s", vtc_last_error());
            pthread_cond_broadcast(&s->cv);
        }
        pthread_mutex_unlock(&s->mu);
        if (stop) frame_free(img);
        if (stop || st) break;
    }
    return NULL;
}

static void stop_workers(vtc_video_source *s) {
    if (!s->n_workers) return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n_running; i++) pthread_join(s->w[i].tid, NULL);
    s->n_running = 0;
}

static void free_workers(vtc_video_source *s) {
    stop_workers(s);
    for (int i = 0; s->w && i < s->n_workers; i++) {
        frame_free(s->w[i].frame);
        vtc_video_close(s->w[i].v);
        free(s->w[i].pos);
    }
    if (s->n_workers) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
    }
    free(s->w);
    free(s->owner);
    s->w = NULL, s->owner = NULL, s->n_workers = 0;
}

// Workers for sparse runs when there are threads; otherwise (or when they
// cannot start) the frames are read on s->v.
static void start_workers(vtc_video_source *s) {
    s->started = 1;
    if (s->n_threads <= 1 || s->n < 2) return;
    int32_t runs = 1;
    for (int32_t i = 1; i < s->n; i++) runs += vtc_video_independent(s->v, s->idx[i - 1], s->idx[i]);
    if (runs < 2 || s->n > SPARSE * runs) return;
    const int n_workers = s->n_threads < runs ? s->n_threads : runs;
    s->w = vtc_zalloc((size_t)n_workers, sizeof *s->w);
    s->owner = vtc_alloc((size_t)s->n, sizeof *s->owner);
    if (!s->w || !s->owner) goto fallback;
    for (int32_t i = 0, run = 0; i < s->n; i++) { // every n_workers-th run to the same worker
        run += i > 0 && vtc_video_independent(s->v, s->idx[i - 1], s->idx[i]);
        s->owner[i] = run % n_workers;
    }
    s->n_workers = n_workers;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    for (int k = 0; k < n_workers; k++) {
        struct worker *w = &s->w[k];
        w->s = s, w->at = -1;
        if (vtc_video_open_again(s->v, 1, &w->v) || !(w->pos = vtc_alloc((size_t)s->n, sizeof *w->pos))) goto fallback;
        int64_t *plan = vtc_alloc((size_t)s->n, sizeof *plan);
        if (!plan) goto fallback;
        for (int32_t i = 0; i < s->n; i++)
            if (s->owner[i] == k) plan[w->n_pos] = s->idx[i], w->pos[w->n_pos++] = i;
        int st = vtc_video_plan(w->v, plan, w->n_pos);
        free(plan);
        if (st) goto fallback;
    }
    for (int k = 0; k < n_workers; k++) {
        if (pthread_create(&s->w[k].tid, NULL, work, &s->w[k])) goto fallback;
        s->n_running++;
    }
    return;
fallback: // reading on s->v is slower, never wrong
    free_workers(s);
    vtc_clear_error();
}

// ---------------------------------------------------------------- the source

void vtc_video_source_close(vtc_video_source *s) {
    if (!s) return;
    free_workers(s);
    frame_free(s->frame);
    vtc_video_close(s->v);
    free(s->idx);
    free(s->ts);
    free(s);
}

int vtc_video_source_next(vtc_video_source *s, const vtc_image **frame, double *timestamp, int64_t *index) {
    *frame = NULL;
    frame_free(s->frame); // released before the next one is decoded
    s->frame = NULL;
    if (s->failed) return s->failed;
    if (s->next == s->n) return 0;
    double t0 = vtc_now_ms(), ts = 0;
    if (!s->started) start_workers(s);
    const int64_t k = s->idx[s->next];
    int st;
    if (s->n_workers) { // the worker of this position hands it over
        struct worker *w = &s->w[s->owner[s->next]];
        pthread_mutex_lock(&s->mu);
        while (w->at != s->next) pthread_cond_wait(&s->cv, &s->mu);
        s->frame = w->frame, ts = w->ts, st = w->status;
        if (st) vtc_set_error(st, "%s", w->error);
        w->frame = NULL, w->at = -1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    } else {
        // a frame sampled twice (more samples than frames) is read again: the video keeps it
        st = vtc_video_read(s->v, k, &s->frame, &ts);
    }
    s->ms += vtc_now_ms() - t0;
    if (st) return s->failed = st;
    s->ts[s->next++] = ts;
    *frame = s->frame;
    if (timestamp) *timestamp = ts;
    if (index) *index = k;
    return 1;
}

static int source_next(void *user, vtc_image *frame, double *timestamp) {
    const vtc_image *img = NULL;
    int got = vtc_video_source_next(user, &img, timestamp, NULL);
    if (got == 1) *frame = *img;
    return got;
}

struct vtc_frame_source vtc_video_source_frames(vtc_video_source *s) {
    struct vtc_frame_source src = { 0 };
    src.next = source_next;
    src.user = s;
    src.n_frames = s->n;
    src.bytes = vtc_video_source_bytes(s);
    return src;
}

uint64_t vtc_video_source_bytes(const vtc_video_source *s) {
    // v, and with threads as many workers (counted whether or not the sampling
    // turns out sparse): each a handle like v's and a second RGB frame, the one
    // it holds for the taking while it decodes the next
    struct vtc_video_info info;
    vtc_video_get_info(s->v, &info);
    const uint64_t workers = s->n_threads > 1 ? (uint64_t)s->n_threads : 0;
    const uint64_t rgb = (uint64_t)info.width * (uint64_t)info.height * 3;
    return vtc_video_memory(s->v) * (1 + workers) + workers * rgb + (uint64_t)s->n * sizeof *s->idx;
}

int64_t vtc_video_source_decoded(vtc_video_source *s) {
    stop_workers(s);
    int64_t n = vtc_video_decoded_count(s->v);
    for (int i = 0; i < s->n_workers; i++) n += vtc_video_decoded_count(s->w[i].v);
    return n;
}

const double *vtc_video_source_timestamps(const vtc_video_source *s, int32_t *n) {
    *n = s->next;
    return s->ts;
}

const int64_t *vtc_video_source_indices(const vtc_video_source *s, int32_t *n) {
    *n = s->n;
    return s->idx;
}

void vtc_video_source_info(const vtc_video_source *s, struct vtc_video_info *info) { vtc_video_get_info(s->v, info); }

int vtc_video_source_failed(const vtc_video_source *s) { return s->failed; }

double vtc_video_source_ms(const vtc_video_source *s) { return s->ms; }

vtc_video *vtc_video_source_video(vtc_video_source *s) { return s->v; }
