// vtc_media_load: an image (by content: PNG/JPEG magic) or frames sampled from a
// video (anything FFmpeg demuxes), as one list of RGB frames with timestamps.
// (vtc_encode_file streams a video's frames instead of keeping them: stream.c.)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/encode.h"
#include "vision/family.h"
#include "base/common.h"
#include "video/source.h"

struct vtc_sample_params vtc_sample_params_default(void) {
    struct vtc_sample_params p = { 0 };
    p.n_frames = 8;
    p.fps = 0;
    return p;
}

void vtc_media_free(vtc_media *m) {
    if (!m) return;
    for (int i = 0; m->frames && i < m->n_frames; i++) vtc_image_free(m->frames[i]);
    free(m->frames);
    free(m->timestamps);
    free(m->frame_index);
    free(m);
}

static vtc_media *media_new(int n) {
    vtc_media *m = vtc_zalloc(1, sizeof *m);
    if (!m) return NULL;
    m->n_frames = n;
    m->frames = vtc_zalloc((size_t)n, sizeof *m->frames);
    m->timestamps = vtc_zalloc((size_t)n, sizeof *m->timestamps);
    m->frame_index = vtc_zalloc((size_t)n, sizeof *m->frame_index);
    if (!m->frames || !m->timestamps || !m->frame_index) {
        vtc_media_free(m);
        return NULL;
    }
    return m;
}

// The video half: the sampled frames as a source gives them (video/source.h),
// each one kept.
static vtc_media *load_video(const char *path, struct vtc_sample_params sample, const struct vtc_limits *limits) {
    vtc_video_source *vs = NULL;
    if (vtc_video_source_open(path, sample, limits, 1, &vs)) return NULL;
    int32_t n = 0;
    const int64_t *idx = vtc_video_source_indices(vs, &n);
    vtc_media *m = media_new(n); // vtc_media_free frees the frames decoded so far (the rest are NULL)
    if (!m) goto fail;
    struct vtc_video_info info;
    vtc_video_source_info(vs, &info);
    m->is_video = 1;
    m->total_frames = info.n_frames;
    m->fps = info.fps;
    snprintf(m->codec, sizeof m->codec, "%s", info.codec);
    for (int32_t i = 0; i < n; i++) {
        const vtc_image *frame = NULL;
        int got = vtc_video_source_next(vs, &frame, &m->timestamps[i], NULL);
        if (got == 1 && !(m->frames[i] = vtc_image_from_rgb(frame->rgb, frame->width, frame->height))) got = -1;
        if (got != 1) goto fail; // (0 cannot happen: the source gives n frames)
        m->frame_index[i] = (int32_t)idx[i];
    }
    vtc_video_source_close(vs);
    return m;
fail:
    vtc_media_free(m);
    vtc_video_source_close(vs);
    return NULL;
}

int vtc_sniff_image(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    unsigned char h[8] = { 0 };
    size_t got = fread(h, 1, sizeof h, f);
    fclose(f);
    if (got >= 8 && !memcmp(h, "\x89PNG\r\n\x1a\n", 8)) return 1;
    if (got >= 3 && h[0] == 0xff && h[1] == 0xd8 && h[2] == 0xff) return 2;
    return 0;
}

int vtc_check_sample(const char *path, struct vtc_sample_params sample) {
    if (sample.n_frames < 0 || (sample.n_frames == 0 && !(sample.fps > 0)) || sample.fps < 0)
        return vtc_set_error(VTC_ERR_ARG, "%s: sampling needs a frame count >= 1 or a positive fps", path);
    if (sample.rule < VTC_SAMPLE_AUTO || sample.rule > VTC_SAMPLE_QWEN)
        return vtc_set_error(VTC_ERR_ARG, "%s: sampling rule %d (want 0..2, enum vtc_sample_rule)", path, sample.rule);
    return VTC_OK;
}

struct vtc_sample_params vtc_sample_for_model(const vtc_model *m, struct vtc_sample_params sample) {
    if (sample.rule == VTC_SAMPLE_AUTO && m && m->layout == VTC_LAYOUT_NATIVE) sample.rule = VTC_SAMPLE_QWEN;
    return sample;
}

vtc_media *vtc_media_load(const char *path, struct vtc_sample_params sample, const struct vtc_limits *limits) {
    struct vtc_limits lim = limits ? *limits : vtc_limits_default();
    if (!path) {
        vtc_set_error(VTC_ERR_ARG, "vtc_media_load: path is NULL");
        return NULL;
    }
    if (vtc_check_sample(path, sample)) return NULL;
    int kind = vtc_sniff_image(path);
    if (kind < 0) {
        vtc_set_error(VTC_ERR_IO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (kind > 0) {
        vtc_media *m = media_new(1);
        if (!m) return NULL;
        m->frames[0] = vtc_image_load(path, &lim);
        if (!m->frames[0]) {
            vtc_media_free(m);
            return NULL;
        }
        m->total_frames = 1;
        snprintf(m->codec, sizeof m->codec, "%s", kind == 1 ? "png" : "jpeg");
        return m;
    }
    return load_video(path, sample, &lim);
}
