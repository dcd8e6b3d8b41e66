// A video's sampled frames as a frame source (source.h).
#include "source.h"

#include <stdlib.h>

#include "base/common.h"

struct vtc_video_source {
    vtc_video *v;
    int64_t *idx; // the sampled indices, ascending
    int32_t n, next;
    vtc_image *frame; // the frame handed out last
    double ms;        // opening and decoding
    int failed;       // the status of a read that failed
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
    int st = vtc_video_open(path, limits, n_threads, &s->v);
    if (!st) st = vtc_video_sample(s->v, sample.n_frames, sample.fps, &s->idx, &s->n);
    if (!st && s->n > 0 && s->idx[s->n - 1] > INT32_MAX)
        st = vtc_set_error(VTC_ERR_LIMIT, "%s: frame index beyond 2^31", path);
    if (!st) st = vtc_video_plan(s->v, s->idx, s->n); // the decoder may skip what no sampled frame needs
    if (st) {
        vtc_video_source_close(s);
        return st;
    }
    s->ms = vtc_now_ms() - t0;
    *out = s;
    return VTC_OK;
}

void vtc_video_source_close(vtc_video_source *s) {
    if (!s) return;
    frame_free(s->frame);
    vtc_video_close(s->v);
    free(s->idx);
    free(s);
}

int vtc_video_source_next(vtc_video_source *s, const vtc_image **frame, double *timestamp, int64_t *index) {
    *frame = NULL;
    frame_free(s->frame); // released before the next one is decoded
    s->frame = NULL;
    if (s->next == s->n) return 0;
    double t0 = vtc_now_ms(), ts = 0;
    const int64_t k = s->idx[s->next];
    // a frame sampled twice (more samples than frames) is read again: the video keeps it
    int st = vtc_video_read(s->v, k, &s->frame, &ts);
    s->ms += vtc_now_ms() - t0;
    if (st) return s->failed = st;
    s->next++;
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
    return vtc_video_memory(s->v) + (uint64_t)s->n * sizeof *s->idx;
}

const int64_t *vtc_video_source_indices(const vtc_video_source *s, int32_t *n) {
    *n = s->n;
    return s->idx;
}

void vtc_video_source_info(const vtc_video_source *s, struct vtc_video_info *info) { vtc_video_get_info(s->v, info); }

int vtc_video_source_failed(const vtc_video_source *s) { return s->failed; }

double vtc_video_source_ms(const vtc_video_source *s) { return s->ms; }

vtc_video *vtc_video_source_video(vtc_video_source *s) { return s->v; }
