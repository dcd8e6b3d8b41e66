// Frames from a source, encoded as they come (docs/library.md#streaming):
// vtc_encode_source, and on it vtc_encode_frames (an array) and vtc_encode_file
// (a video's sampled frames, video/source.h).
//
// Each frame the source gives is preprocessed into the model's input at once
// and is not needed after that, so an encode holds the source's current frame,
// a few model inputs and the tokens, however many frames there are. With one
// thread the source, the preprocessing and the encoder take turns on the
// calling thread. With more, a producer thread runs the source and the
// preprocessing into a ring of RING model inputs while the encoder works on the
// one before (decoding overlapped with encoding); the ring bounds what is in
// flight. The producer's errors (thread-local, as every vtc error) travel
// through the ring to the calling thread.
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/encode.h"
#include "api/tokenfile.h"
#include "base/common.h"
#include "vision/family.h"
#include "video/source.h"

enum { RING = 3 }; // model inputs: one being encoded, one ready, one being made

// The producer side of an encode: source -> model inputs.
struct producer {
    const vtc_model *model;
    const struct vtc_frame_source *src;
    int64_t given;          // frames the source gave
    double ms_source, ms_preprocess;
    float *slot[RING];      // model inputs [3, S, S]
    double ts[RING];        // their timestamps (NaN: none)
    // the ring, under mu when threaded
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int head, len;          // ready inputs: slot[head], ... (mod RING)
    int ended;              // the source has no more frames (status: 0) or failed
    int status;
    char error[1024];       // the producer's error message
    int stop;               // the encoder gave up: make no more
};

// The source's next frame, checked: 1 (a frame in *img, its time in *ts), 0 at
// the end, or a status (error set).
static int next_frame(struct producer *p, vtc_image *img, double *ts) {
    *ts = NAN;
    vtc_clear_error();
    double t0 = vtc_now_ms();
    int got = p->src->next(p->src->user, img, ts);
    p->ms_source += vtc_now_ms() - t0;
    if (got < 0) {
        if (vtc_last_status() == VTC_OK) // a host's source: no message of its own
            vtc_set_error(got, "frame source: frame %lld: %s", (long long)p->given, vtc_status_str(got));
        return vtc_last_status();
    }
    if (got == 0) return 0;
    if (got != 1)
        return vtc_set_error(VTC_ERR_ARG, "frame source: next returned %d for frame %lld (want 1, 0 or a status)", got,
                             (long long)p->given);
    if (p->src->n_frames > 0 && p->given >= p->src->n_frames)
        return vtc_set_error(VTC_ERR_ARG, "frame source: more frames than its n_frames %d", p->src->n_frames);
    if (!img->rgb || img->width <= 0 || img->height <= 0)
        return vtc_set_error(VTC_ERR_ARG, "frame source: frame %lld has no pixels", (long long)p->given);
    if ((uint64_t)img->width * (uint64_t)img->height > p->model->limits.max_pixels)
        return vtc_set_error(VTC_ERR_LIMIT, "frame source: frame %lld is %dx%d, over the pixel limit %llu",
                             (long long)p->given, img->width, img->height,
                             (unsigned long long)p->model->limits.max_pixels);
    p->given++;
    return 1;
}

// One frame from the source into pixels: 1, 0 at the end, or a status (error set).
static int produce_one(struct producer *p, float *pixels, double *ts) {
    vtc_image img = { 0 };
    int got = next_frame(p, &img, ts);
    if (got != 1) return got;
    double t0 = vtc_now_ms();
    int st = vtc_preprocess(p->model, &img, 0, pixels);
    p->ms_preprocess += vtc_now_ms() - t0;
    return st ? st : 1;
}

static void *produce(void *arg) {
    struct producer *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->len == RING && !p->stop) pthread_cond_wait(&p->cv, &p->mu);
        const int stop = p->stop, i = (p->head + p->len) % RING;
        pthread_mutex_unlock(&p->mu);
        if (stop) break;
        double ts;
        int got = produce_one(p, p->slot[i], &ts); // slot i is the producer's until len counts it
        pthread_mutex_lock(&p->mu);
        if (got == 1) {
            p->ts[i] = ts;
            p->len++;
        } else {
            p->ended = 1;
            p->status = got;
            if (got) snprintf(p->error, sizeof p->error, "%s", vtc_last_error());
        }
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (got != 1) break;
    }
    return NULL;
}

// Grows (or shrinks) the per-frame arrays of f to T frames; f stays whole on failure.
static int features_resize(vtc_features *f, int T) {
    const size_t P = (size_t)f->H * f->W;
    struct {
        void **p;
        size_t per_frame, size;
    } a[] = {
        { (void **)&f->features, P * f->dim, sizeof(float) },   { (void **)&f->cls, (size_t)f->dim, sizeof(float) },
        { (void **)&f->cls_attn, P, sizeof(float) },             { (void **)&f->cls_attn_last, P, sizeof(float) },
        { (void **)&f->keys, P * f->head_dim, sizeof(float) },   { (void **)&f->embeds, P * f->lm_dim, sizeof(float) },
        { (void **)&f->cls_embed, (size_t)f->lm_dim, sizeof(float) }, { (void **)&f->timestamps, 1, sizeof(double) },
        { (void **)&f->cls_attn_first, P, sizeof(float) },
    };
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
        if (!*a[i].p) continue;
        void *grown = vtc_realloc(*a[i].p, (size_t)T * a[i].per_frame, a[i].size);
        if (!grown) return VTC_ERR_NOMEM;
        *a[i].p = grown;
    }
    f->T = T;
    f->n = (int32_t)((size_t)T * P);
    return VTC_OK;
}

// Where each encoded frame goes when the clip's features are not kept whole: put
// gets f holding frame t alone (in f's frame 0) and may keep nothing of it.
struct frame_sink {
    int (*put)(void *user, vtc_features *f, int t);
    void *user;
};

// Room for frame t: with a known count the features were made for all of them;
// otherwise they double, within the frame, token and memory limits. With a
// sink, one frame is all there is (the token limit still counts them all).
static int make_room(vtc_ctx *ctx, const struct vtc_frame_source *src, const struct frame_sink *sink, vtc_features **f,
                     int t, int *cap) {
    const vtc_model *m = ctx->model;
    if (*f && (t < *cap || sink)) return VTC_OK;
    if (t >= m->limits.max_frames)
        return vtc_set_error(VTC_ERR_LIMIT, "frame source: more than %d frames (frame limit)", m->limits.max_frames);
    int want = src->n_frames > 0 ? src->n_frames : *cap ? 2 * *cap : 16;
    if (want > m->limits.max_frames) want = m->limits.max_frames;
    const uint64_t in_flight = src->bytes + (ctx->n_threads > 1 ? RING : 0) * 3 * (uint64_t)m->image_size *
                                                                     m->image_size * sizeof(float);
    int st = vtc_check_memory(ctx, sink ? 1 : want, in_flight);
    if (st) return st;
    if (sink) { // src->n_frames > 0
        if (!(st = vtc_check_tokens(ctx, src->n_frames))) *f = vtc_features_for(ctx, 1, 1, &st);
        if (!st && m->layout == VTC_LAYOUT_ANYRES_MAX)
            (*f)->tiling.newline = m->newline ? VTC_NEWLINE_END : VTC_NEWLINE_NONE;
        *cap = 1;
        return st;
    }
    if (!*f) {
        *f = vtc_features_for(ctx, want, 1, &st);
        if (!*f) return st;
        if (m->layout == VTC_LAYOUT_ANYRES_MAX) (*f)->tiling.newline = m->newline ? VTC_NEWLINE_END : VTC_NEWLINE_NONE;
    } else if ((st = vtc_check_tokens(ctx, want)) || (st = features_resize(*f, want))) {
        return st;
    }
    *cap = want;
    return VTC_OK;
}

// A native-resolution model (Qwen2-VL) pairs frames along time and cuts each
// pair into one patch grid whose size comes from the frames': the frames are
// copied as they come (a source's pixels live only until its next call) and
// encoded together at the end. What they hold is counted against max_memory.
static int encode_source_native(vtc_ctx *ctx, const struct vtc_frame_source *src, vtc_features **out) {
    const vtc_model *m = ctx->model;
    struct producer p = { .model = m, .src = src };
    vtc_image **frames = NULL;
    double *ts = NULL;
    int n = 0, cap = 0, n_timed = 0, st = VTC_OK;
    uint64_t held = src->bytes;
    for (;;) {
        vtc_image img = { 0 };
        double t;
        int got = next_frame(&p, &img, &t);
        if (got <= 0) {
            st = got;
            break;
        }
        if (n >= m->limits.max_frames) {
            st = vtc_set_error(VTC_ERR_LIMIT, "frame source: more than %d frames (frame limit)", m->limits.max_frames);
            break;
        }
        held += 3 * (uint64_t)img.width * (uint64_t)img.height;
        if (held > m->limits.max_memory) {
            st = vtc_set_error(VTC_ERR_LIMIT, "frame source: %d frames held for a native-resolution model take %llu "
                               "bytes, over the memory limit of %llu", n + 1, (unsigned long long)held,
                               (unsigned long long)m->limits.max_memory);
            break;
        }
        if (n == cap) {
            const int grown = cap ? 2 * cap : 16;
            vtc_image **fr = vtc_realloc(frames, (size_t)grown, sizeof *fr);
            if (fr) frames = fr;
            double *tg = fr ? vtc_realloc(ts, (size_t)grown, sizeof *tg) : NULL;
            if (tg) ts = tg;
            if (!fr || !tg) {
                st = VTC_ERR_NOMEM;
                break;
            }
            cap = grown;
        }
        if (!(frames[n] = vtc_image_from_rgb(img.rgb, img.width, img.height))) {
            st = vtc_last_status();
            break;
        }
        ts[n] = t;
        n_timed += !isnan(t);
        n++;
    }
    if (!st && n == 0) st = vtc_set_error(VTC_ERR_ARG, "frame source: no frames");
    if (!st && src->n_frames > 0 && n < src->n_frames)
        st = vtc_set_error(VTC_ERR_ARG, "frame source: %d frames, fewer than its n_frames %d", n, src->n_frames);
    if (!st && n_timed > 0 && n_timed < n)
        st = vtc_set_error(VTC_ERR_ARG, "frame source: %d of %d frames have a timestamp (all or none)", n_timed, n);
    if (!st) st = vtc_encode_native(ctx, (const vtc_image *const *)frames, n, n_timed ? ts : NULL, out);
    for (int i = 0; i < n; i++) vtc_image_free(frames[i]);
    free(frames);
    free(ts);
    return st;
}

// Frame t (from pixels, at time ts) into f: its frame t, or with a sink its
// frame 0, then to the sink.
static int encode_one(vtc_ctx *ctx, vtc_features *f, const struct frame_sink *sink, int t, const float *pixels,
                      double ts, float *tmp) {
    const int slot = sink ? 0 : t;
    int st = vtc_encode_tile(ctx, f, slot, pixels, tmp);
    if (f->timestamps) f->timestamps[slot] = ts;
    return st ? st : sink ? sink->put(sink->user, f, t) : VTC_OK;
}

// vtc_encode_source; with a sink (and a source that knows its count), each
// frame goes to the sink once encoded and *out holds the last one.
static int encode_source(vtc_ctx *ctx, const struct vtc_frame_source *src, const struct frame_sink *sink,
                         vtc_features **out) {
    *out = NULL;
    const vtc_model *m = ctx->model;
    // LLaVA-NeXT defines no video input (LLaVA-NeXT-Video is another model);
    // LLaVA-OneVision encodes each frame as one tile, resized to the tower's size.
    if (m->layout == VTC_LAYOUT_ANYRES)
        return vtc_ctx_fail(ctx, vtc_set_error(VTC_ERR_UNSUPPORTED, "LLaVA-NeXT defines no video or frame input "
                                               "(its images are tiled: vtc_encode_image)"));
    if (src->n_frames < 0)
        return vtc_ctx_fail(ctx, vtc_set_error(VTC_ERR_ARG, "frame source: n_frames %d", src->n_frames));
    if (m->layout == VTC_LAYOUT_NATIVE) { // the clip whole (a sink gets it as one piece: vtc_encode_video_save)
        if (src->n_frames > m->limits.max_frames)
            return vtc_ctx_fail(ctx, vtc_set_error(VTC_ERR_LIMIT, "%d frames: must be between 1 and %d (frame limit)",
                                                   src->n_frames, m->limits.max_frames));
        return vtc_ctx_fail(ctx, encode_source_native(ctx, src, out));
    }
    if (src->n_frames > m->limits.max_frames)
        return vtc_ctx_fail(ctx, vtc_set_error(VTC_ERR_LIMIT, "%d frames: must be between 1 and %d (frame limit)",
                                               src->n_frames, m->limits.max_frames));
    struct producer p = { .model = m, .src = src };
    const int threaded = ctx->n_threads > 1;
    vtc_features *f = NULL;
    float *tmp = NULL;
    int st = VTC_OK, cap = 0, t = 0, n_timed = 0, started = 0;
    if (src->n_frames > 0) st = make_room(ctx, src, sink, &f, 0, &cap); // the limits before any frame
    for (int i = 0; i < (threaded ? RING : 0) && !st; i++)
        if (!(p.slot[i] = vtc_alloc((size_t)3 * m->image_size * m->image_size, sizeof(float)))) st = VTC_ERR_NOMEM;
    if (!st && m->lm_dim > 0 && ctx->params.want_embeds &&
        !(tmp = vtc_alloc((size_t)m->grid_h * m->grid_w * vtc_project_hidden(m), sizeof(float))))
        st = VTC_ERR_NOMEM;
    if (!st && threaded) {
        pthread_mutex_init(&p.mu, NULL);
        pthread_cond_init(&p.cv, NULL);
        pthread_t tid;
        if (pthread_create(&tid, NULL, produce, &p) == 0) {
            started = 1;
            for (;;) {
                pthread_mutex_lock(&p.mu);
                while (p.len == 0 && !p.ended) pthread_cond_wait(&p.cv, &p.mu);
                const int ready = p.len > 0, i = p.head;
                pthread_mutex_unlock(&p.mu);
                if (!ready) break; // the source ended or failed (p.status after the join)
                const double ts = p.ts[i];
                if (!(st = make_room(ctx, src, sink, &f, t, &cap))) st = encode_one(ctx, f, sink, t, p.slot[i], ts, tmp);
                pthread_mutex_lock(&p.mu);
                p.head = (p.head + 1) % RING;
                p.len--;
                if (st) p.stop = 1;
                pthread_cond_broadcast(&p.cv);
                pthread_mutex_unlock(&p.mu);
                if (st) break;
                n_timed += !isnan(ts);
                t++;
                if (ctx->params.progress) ctx->params.progress(ctx->params.progress_user, t, src->n_frames);
            }
            pthread_join(tid, NULL);
            if (!st && p.status) st = vtc_set_error(p.status, "%s", p.error);
        }
        pthread_cond_destroy(&p.cv);
        pthread_mutex_destroy(&p.mu);
    }
    if (!st && !started) { // one thread (or no thread could start): take turns
        for (;;) {
            double ts;
            int got = produce_one(&p, ctx->pixels, &ts);
            if (got <= 0) {
                st = got;
                break;
            }
            if ((st = make_room(ctx, src, sink, &f, t, &cap))) break;
            if ((st = encode_one(ctx, f, sink, t, ctx->pixels, ts, tmp))) break;
            n_timed += !isnan(ts);
            t++;
            if (ctx->params.progress) ctx->params.progress(ctx->params.progress_user, t, src->n_frames);
        }
    }
    for (int i = 0; i < RING; i++) free(p.slot[i]);
    free(tmp);
    if (!st && t == 0) st = vtc_set_error(VTC_ERR_ARG, "frame source: no frames");
    if (!st && src->n_frames > 0 && t < src->n_frames)
        st = vtc_set_error(VTC_ERR_ARG, "frame source: %d frames, fewer than its n_frames %d", t, src->n_frames);
    if (!st && n_timed > 0 && n_timed < t)
        st = vtc_set_error(VTC_ERR_ARG, "frame source: %d of %d frames have a timestamp (all or none)", n_timed, t);
    if (!st && t < cap && src->n_frames == 0) st = features_resize(f, t); // room no longer needed
    if (st) {
        vtc_features_free(f);
        return vtc_ctx_fail(ctx, st);
    }
    if (n_timed == 0 && f->timestamps) {
        free(f->timestamps);
        f->timestamps = NULL;
    }
    f->ms_preprocess += p.ms_preprocess;
    *out = f;
    return VTC_OK;
}

int vtc_encode_source(vtc_ctx *ctx, const struct vtc_frame_source *src, vtc_features **out) {
    if (!ctx || !src || !src->next || !out)
        return vtc_ctx_fail(ctx, vtc_set_error(VTC_ERR_ARG, "vtc_encode_source: NULL argument"));
    return encode_source(ctx, src, NULL, out);
}

// ---------------------------------------------------------------- frames in memory

struct array_source {
    const vtc_image *const *frames;
    const double *timestamps;
    int32_t n, next;
};

static int array_next(void *user, vtc_image *frame, double *timestamp) {
    struct array_source *a = user;
    if (a->next == a->n) return 0;
    const vtc_image *img = a->frames[a->next];
    if (!img) return vtc_set_error(VTC_ERR_ARG, "vtc_encode_frames: frame %d is NULL", a->next);
    *frame = *img;
    if (a->timestamps) *timestamp = a->timestamps[a->next];
    a->next++;
    return 1;
}

int vtc_encode_array(vtc_ctx *ctx, const vtc_image *const *frames, int32_t n_frames, const double *timestamps,
                     uint64_t in_flight, vtc_features **out) {
    if (!ctx || !frames || !out) return vtc_ctx_fail(ctx, vtc_set_error(VTC_ERR_ARG, "vtc_encode_frames: NULL argument"));
    *out = NULL;
    if (n_frames <= 0 || n_frames > ctx->model->limits.max_frames)
        return vtc_ctx_fail(ctx, vtc_set_error(VTC_ERR_LIMIT, "%d frames: must be between 1 and %d (frame limit)",
                                               n_frames, ctx->model->limits.max_frames));
    if (ctx->model->layout == VTC_LAYOUT_NATIVE) // the frames are already whole: no copies
        return vtc_ctx_fail(ctx, vtc_encode_native(ctx, frames, n_frames, timestamps, out));
    struct array_source a = { frames, timestamps, n_frames, 0 };
    struct vtc_frame_source src = { array_next, &a, n_frames, in_flight };
    return vtc_encode_source(ctx, &src, out);
}

int vtc_encode_frames(vtc_ctx *ctx, const vtc_image *const *frames, int32_t n_frames, const double *timestamps,
                      vtc_features **out) {
    return vtc_encode_array(ctx, frames, n_frames, timestamps, 0, out);
}

// ---------------------------------------------------------------- files

int vtc_encode_file(vtc_ctx *ctx, const char *path, struct vtc_sample_params sample, vtc_features **out) {
    if (!ctx || !path || !out) return vtc_ctx_fail(ctx, vtc_set_error(VTC_ERR_ARG, "vtc_encode_file: NULL argument"));
    *out = NULL;
    const vtc_model *m = ctx->model;
    int kind = vtc_sniff_image(path);
    if (kind < 0) return vtc_ctx_fail(ctx, vtc_set_error(VTC_ERR_IO, "%s: %s", path, strerror(errno)));
    if (kind > 0) {
        vtc_image *img = vtc_image_load(path, &m->limits);
        if (!img) return vtc_ctx_fail(ctx, vtc_last_status());
        int st = vtc_encode_image(ctx, img, out);
        vtc_image_free(img);
        return st;
    }
    int st = vtc_check_sample(path, sample);
    vtc_video_source *vs = NULL;
    sample = vtc_sample_for_model(m, sample);
    if (!st) st = vtc_video_source_open(path, sample, &m->limits, ctx->n_threads, &vs);
    if (!st) {
        struct vtc_frame_source src = vtc_video_source_frames(vs);
        st = vtc_encode_source(ctx, &src, out);
    }
    vtc_video_source_close(vs);
    return vtc_ctx_fail(ctx, st);
}

// ---------------------------------------------------------------- straight to a file

// Frames into a features file as they are encoded (vtc_features_stream).
struct file_sink {
    const char *path;
    const char *const *metadata;
    int T;
    vtc_features_stream *s; // opened at frame 0, when its arrays are settled
    double *ts;             // [T] the frames' timestamps, for the caller's summary
};

static int file_put(void *user, vtc_features *f, int t) {
    struct file_sink *fs = user;
    if (t == 0) {
        if (f->timestamps && isnan(f->timestamps[0])) { // a source without timestamps: none in the file
            free(f->timestamps);
            f->timestamps = NULL;
        }
        int st = vtc_features_stream_open(f, fs->T, fs->path, fs->metadata, &fs->s);
        if (st) return st;
    }
    fs->ts[t] = f->timestamps ? f->timestamps[0] : NAN;
    return vtc_features_stream_put(fs->s, f, t);
}

// f as a summary: no token arrays (they are in the file), the rest kept.
static void drop_arrays(vtc_features *f) {
    float **arrays[] = { &f->features, &f->cls,       &f->cls_attn, &f->cls_attn_last, &f->keys,
                         &f->embeds,   &f->cls_embed, &f->newline,  &f->cls_attn_first };
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        free(*arrays[i]);
        *arrays[i] = NULL;
    }
}

int vtc_encode_video_save(vtc_ctx *ctx, vtc_video_source *vs, const char *out_path, const char *const *metadata,
                          vtc_features **info) {
    struct vtc_frame_source src = vtc_video_source_frames(vs);
    if (ctx->model->layout == VTC_LAYOUT_NATIVE) { // encoded as one piece (encode_source_native), then written
        vtc_features *f = NULL;
        int st = encode_source(ctx, &src, NULL, &f);
        if (!st) st = vtc_features_save(f, out_path, metadata);
        if (st || !info) {
            vtc_features_free(f);
        } else {
            drop_arrays(f);
            *info = f;
        }
        return vtc_ctx_fail(ctx, st);
    }
    struct file_sink fs = { out_path, metadata, src.n_frames, NULL, NULL };
    vtc_features *f = NULL;
    int st = VTC_OK;
    if (src.n_frames < 1) st = vtc_set_error(VTC_ERR_ARG, "%s: no frames to sample", out_path);
    else if (!(fs.ts = vtc_alloc((size_t)src.n_frames, sizeof(double)))) st = VTC_ERR_NOMEM;
    struct frame_sink sink = { file_put, &fs };
    if (!st) st = encode_source(ctx, &src, &sink, &f);
    if (!st) st = vtc_features_stream_commit(fs.s);
    else vtc_features_stream_abort(fs.s);
    if (!st) { // the summary: the clip's grid, costs and timestamps
        drop_arrays(f);
        free(f->timestamps);
        f->timestamps = isnan(fs.ts[0]) ? NULL : fs.ts;
        if (f->timestamps) fs.ts = NULL;
        f->T = fs.T;
        f->n = (int32_t)((int64_t)fs.T * f->H * f->W);
    }
    free(fs.ts);
    if (st || !info) {
        vtc_features_free(f);
        return vtc_ctx_fail(ctx, st);
    }
    *info = f;
    return VTC_OK;
}

int vtc_encode_file_save(vtc_ctx *ctx, const char *path, struct vtc_sample_params sample, const char *out_path,
                         const char *const *metadata, vtc_features **info) {
    if (info) *info = NULL;
    if (!ctx || !path || !out_path)
        return vtc_ctx_fail(ctx, vtc_set_error(VTC_ERR_ARG, "vtc_encode_file_save: NULL argument"));
    int kind = vtc_sniff_image(path);
    if (kind < 0) return vtc_ctx_fail(ctx, vtc_set_error(VTC_ERR_IO, "%s: %s", path, strerror(errno)));
    if (kind > 0) { // an image: one tile's tokens (or an anyres image's tiles)
        vtc_features *f = NULL;
        int st = vtc_encode_file(ctx, path, sample, &f);
        if (!st) st = vtc_features_save(f, out_path, metadata);
        if (st || !info) vtc_features_free(f);
        else *info = f;
        return vtc_ctx_fail(ctx, st);
    }
    vtc_video_source *vs = NULL;
    int st = vtc_check_sample(path, sample);
    sample = vtc_sample_for_model(ctx->model, sample);
    if (!st) st = vtc_video_source_open(path, sample, &ctx->model->limits, ctx->n_threads, &vs);
    if (!st) st = vtc_encode_video_save(ctx, vs, out_path, metadata, info);
    vtc_video_source_close(vs);
    return vtc_ctx_fail(ctx, st);
}
