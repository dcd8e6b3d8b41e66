// FFmpeg demux/decode, RGB conversion and frame sampling.
//
// Conversion matches what `ffmpeg -i IN -pix_fmt rgb24` does by default: the
// auto-inserted scale filter uses swscale with SWS_BICUBIC and the frame's own
// colour matrix and range (unspecified -> BT.601, limited range). Rotation from
// the stream's display matrix is applied as the CLI's autorotate does, but after
// the RGB conversion (a pixel permutation of the converted frame; the CLI
// rotates the YUV planes first, so chroma siting can differ by a little on
// rotated 4:2:0 video).
//
// Frame indices count decoded frames in presentation order from 0. Reading
// moves forward only; a target far ahead is reached by seeking to the keyframe
// before its timestamp (index / rate) and decoding forward, so a few frames from
// a long video decode a few GOPs, not the whole file. Indices after a seek come
// from timestamps, which is exact for constant-rate streams; for streams whose
// timestamps do not follow the nominal rate vtc decodes sequentially instead.
//
// libav* logging is silenced (av_log_set_level(AV_LOG_QUIET), process-wide) the
// first time vtc opens a video, since a library must not print.
#include "video.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

struct mem_io {
    const uint8_t *data;
    size_t size, pos;
};

struct vtc_video {
    char name[512];
    struct vtc_limits limits;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVIOContext *avio; // custom I/O for memory input (owned)
    struct mem_io mem;
    AVPacket *pkt;
    AVFrame *frame;
    AVFrame *last; // the previous frame decoded, in case the stream ends early
    struct SwsContext *sws;
    int sws_w, sws_h, sws_fmt, sws_cs, sws_range;
    int stream;
    AVRational tb;
    double fps;
    int64_t start_pts;
    int64_t n_frames;
    int n_frames_exact;
    int rotation;
    int w, h; // coded size (before rotation)
    int64_t next_index; // index of the next frame the decoder will output (-1 = unknown, after a seek)
    int eof_sent, eof;
    int cfr;            // timestamps follow the nominal rate: seeking allowed
    int64_t decoded;
};

static pthread_once_t g_quiet_once = PTHREAD_ONCE_INIT;
static void quiet(void) { av_log_set_level(AV_LOG_QUIET); }

static int av_fail(const vtc_video *v, int err, const char *what) {
    char buf[128];
    av_strerror(err, buf, sizeof buf);
    int st = err == AVERROR(ENOMEM) ? VTC_ERR_NOMEM : err == AVERROR(ENOENT) || err == AVERROR(EACCES) ? VTC_ERR_IO
                                                                                                        : VTC_ERR_FORMAT;
    return vtc_set_error(st, "%s: %s: %s", v->name, what, buf);
}

static int mem_read(void *opaque, uint8_t *buf, int size) {
    struct mem_io *m = opaque;
    size_t left = m->size - m->pos;
    if (left == 0) return AVERROR_EOF;
    size_t n = (size_t)size < left ? (size_t)size : left;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (int)n;
}

static int64_t mem_seek(void *opaque, int64_t offset, int whence) {
    struct mem_io *m = opaque;
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE) return (int64_t)m->size;
    int64_t base = whence == SEEK_CUR ? (int64_t)m->pos : whence == SEEK_END ? (int64_t)m->size : 0;
    int64_t p = base + offset;
    if (p < 0 || p > (int64_t)m->size) return AVERROR(EINVAL);
    m->pos = (size_t)p;
    return p;
}

void vtc_video_close(vtc_video *v) {
    if (!v) return;
    sws_freeContext(v->sws);
    av_frame_free(&v->frame);
    av_frame_free(&v->last);
    av_packet_free(&v->pkt);
    avcodec_free_context(&v->dec);
    avformat_close_input(&v->fmt);
    if (v->avio) {
        av_freep(&v->avio->buffer);
        avio_context_free(&v->avio);
    }
    free(v);
}

static int open_common(vtc_video *v) {
    int err = avformat_find_stream_info(v->fmt, NULL);
    if (err < 0) return av_fail(v, err, "cannot read stream information");
    const AVCodec *codec = NULL;
    int s = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (s == AVERROR_STREAM_NOT_FOUND) return vtc_set_error(VTC_ERR_FORMAT, "%s: no video stream", v->name);
    if (s < 0 || !codec)
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: no decoder for the video stream", v->name);
    AVStream *st = v->fmt->streams[s];
    v->stream = s;
    v->tb = st->time_base;
    if (st->codecpar->width <= 0 || st->codecpar->height <= 0)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: video stream has no frame size", v->name);
    if ((uint64_t)st->codecpar->width * (uint64_t)st->codecpar->height > v->limits.max_pixels)
        return vtc_set_error(VTC_ERR_LIMIT, "%s: %dx%d frames exceed the limit of %llu pixels", v->name,
                             st->codecpar->width, st->codecpar->height, (unsigned long long)v->limits.max_pixels);
    v->dec = avcodec_alloc_context3(codec);
    if (!v->dec) return vtc_set_error(VTC_ERR_NOMEM, "%s: out of memory", v->name);
    if ((err = avcodec_parameters_to_context(v->dec, st->codecpar)) < 0) return av_fail(v, err, "decoder setup");
    v->dec->thread_count = 1; // deterministic, and the encoder owns the cores
    if ((err = avcodec_open2(v->dec, codec, NULL)) < 0) return av_fail(v, err, "cannot open decoder");
    v->w = st->codecpar->width;
    v->h = st->codecpar->height;
    AVRational r = st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0 ? st->avg_frame_rate : st->r_frame_rate;
    v->fps = r.num > 0 && r.den > 0 ? av_q2d(r) : 0;
    v->start_pts = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    double duration = st->duration != AV_NOPTS_VALUE ? st->duration * av_q2d(st->time_base)
                      : v->fmt->duration != AV_NOPTS_VALUE ? v->fmt->duration / (double)AV_TIME_BASE : 0;
    if (st->nb_frames > 0) {
        v->n_frames = st->nb_frames;
        v->n_frames_exact = 1;
    } else if (duration > 0 && v->fps > 0) {
        v->n_frames = (int64_t)floor(duration * v->fps + 0.5);
    }
    // Seeking by timestamp is safe when the nominal rate is constant.
    v->cfr = v->fps > 0 && st->avg_frame_rate.num > 0 && av_cmp_q(st->avg_frame_rate, st->r_frame_rate) == 0 &&
             !(v->fmt->iformat->flags & AVFMT_NOTIMESTAMPS);
    const uint8_t *dm = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    if (dm) {
        double theta = -av_display_rotation_get((const int32_t *)dm);
        if (!isnan(theta)) {
            int deg = (int)lround(theta / 90.0) * 90 % 360;
            v->rotation = deg < 0 ? deg + 360 : deg;
        }
    }
    v->pkt = av_packet_alloc();
    v->frame = av_frame_alloc();
    v->last = av_frame_alloc();
    if (!v->pkt || !v->frame || !v->last) return vtc_set_error(VTC_ERR_NOMEM, "%s: out of memory", v->name);
    v->next_index = 0;
    // No count from the container or the duration: count packets (no decoding).
    if (v->n_frames <= 0) {
        int64_t count = 0;
        while (av_read_frame(v->fmt, v->pkt) >= 0) {
            if (v->pkt->stream_index == s) count++;
            av_packet_unref(v->pkt);
        }
        v->n_frames = count;
        v->n_frames_exact = 1;
        av_seek_frame(v->fmt, s, v->start_pts, AVSEEK_FLAG_BACKWARD);
    }
    if (v->n_frames <= 0) return vtc_set_error(VTC_ERR_FORMAT, "%s: the video stream has no frames", v->name);
    return VTC_OK;
}

static vtc_video *video_new(const char *name, const struct vtc_limits *limits) {
    pthread_once(&g_quiet_once, quiet);
    vtc_video *v = vtc_zalloc(1, sizeof *v);
    if (!v) return NULL;
    snprintf(v->name, sizeof v->name, "%s", name);
    v->limits = limits ? *limits : vtc_limits_default();
    return v;
}

int vtc_video_open(const char *path, const struct vtc_limits *limits, vtc_video **out) {
    *out = NULL;
    if (!path) return vtc_set_error(VTC_ERR_ARG, "vtc_video_open: path is NULL");
    vtc_video *v = video_new(path, limits);
    if (!v) return VTC_ERR_NOMEM;
    int err = avformat_open_input(&v->fmt, path, NULL, NULL);
    int st = err < 0 ? av_fail(v, err, "cannot open as video") : open_common(v);
    if (st) {
        vtc_video_close(v);
        return st;
    }
    *out = v;
    return VTC_OK;
}

int vtc_video_open_memory(const void *data, size_t size, const struct vtc_limits *limits, vtc_video **out) {
    *out = NULL;
    if (!data && size) return vtc_set_error(VTC_ERR_ARG, "vtc_video_open_memory: NULL data");
    vtc_video *v = video_new("<memory>", limits);
    if (!v) return VTC_ERR_NOMEM;
    v->mem = (struct mem_io){ data, size, 0 };
    unsigned char *buf = av_malloc(32768);
    v->fmt = avformat_alloc_context();
    if (buf) v->avio = avio_alloc_context(buf, 32768, 0, &v->mem, mem_read, NULL, mem_seek);
    else v->avio = NULL;
    if (!v->fmt || !v->avio) {
        if (!v->avio) av_free(buf);
        vtc_video_close(v);
        return vtc_set_error(VTC_ERR_NOMEM, "<memory>: out of memory");
    }
    v->fmt->pb = v->avio;
    int err = avformat_open_input(&v->fmt, NULL, NULL, NULL);
    int st = err < 0 ? av_fail(v, err, "cannot open as video") : open_common(v);
    if (st) {
        vtc_video_close(v);
        return st;
    }
    *out = v;
    return VTC_OK;
}

void vtc_video_get_info(const vtc_video *v, struct vtc_video_info *info) {
    memset(info, 0, sizeof *info);
    int swap = v->rotation == 90 || v->rotation == 270;
    info->width = swap ? v->h : v->w;
    info->height = swap ? v->w : v->h;
    info->n_frames = v->n_frames;
    info->n_frames_exact = v->n_frames_exact;
    info->fps = v->fps;
    info->duration = v->fps > 0 ? v->n_frames / v->fps : 0;
    info->rotation = v->rotation;
    snprintf(info->codec, sizeof info->codec, "%s", v->dec->codec ? v->dec->codec->name : "?");
}

int64_t vtc_video_decoded_count(const vtc_video *v) { return v->decoded; }

int vtc_video_sample(const vtc_video *v, int32_t n_frames, double fps, int64_t **indices, int32_t *n) {
    *indices = NULL;
    *n = 0;
    const int64_t total = v->n_frames;
    int64_t count;
    if (n_frames > 0) {
        count = n_frames;
    } else if (fps > 0 && v->fps > 0) {
        count = (int64_t)ceil(total * fps / v->fps - 1e-9);
        if (count < 1) count = 1;
    } else {
        return vtc_set_error(VTC_ERR_ARG, "%s: sampling needs --frames N or --fps F (and a known frame rate)", v->name);
    }
    if (count > v->limits.max_frames)
        return vtc_set_error(VTC_ERR_LIMIT, "%s: %lld frames sampled exceeds the frame limit %d", v->name,
                             (long long)count, v->limits.max_frames);
    int64_t *idx = vtc_alloc((size_t)count, sizeof *idx);
    if (!idx) return VTC_ERR_NOMEM;
    for (int64_t i = 0; i < count; i++) {
        if (n_frames > 0) // numpy: floor(linspace(0, total - 1, n))
            idx[i] = count == 1 ? 0 : (int64_t)floor((double)(total - 1) * (double)i / (double)(count - 1));
        else
            idx[i] = (int64_t)floor(i * v->fps / fps + 1e-9);
        if (idx[i] > total - 1) idx[i] = total - 1;
    }
    *indices = idx;
    *n = (int32_t)count;
    return VTC_OK;
}

// Pulls the next decoded frame into v->frame. 1 = got one, 0 = end of stream.
static int next_frame(vtc_video *v) {
    for (;;) {
        int err = avcodec_receive_frame(v->dec, v->frame);
        if (err == 0) {
            v->decoded++;
            return 1;
        }
        if (err == AVERROR_EOF) return 0;
        if (err != AVERROR(EAGAIN)) return av_fail(v, err, "decoding failed");
        if (v->eof_sent) return 0;
        err = av_read_frame(v->fmt, v->pkt);
        if (err < 0) {
            v->eof_sent = 1;
            avcodec_send_packet(v->dec, NULL); // flush
            continue;
        }
        if (v->pkt->stream_index == v->stream) {
            err = avcodec_send_packet(v->dec, v->pkt);
            // a corrupt packet is skipped, as the CLI does; a fatal error ends the stream
            if (err < 0 && err != AVERROR_INVALIDDATA && err != AVERROR(EAGAIN)) {
                av_packet_unref(v->pkt);
                return av_fail(v, err, "decoding failed");
            }
        }
        av_packet_unref(v->pkt);
    }
}

static int64_t frame_index_from_pts(const vtc_video *v, int64_t pts) {
    return (int64_t)llround((double)(pts - v->start_pts) * av_q2d(v->tb) * v->fps);
}

static int convert(vtc_video *v, vtc_image **out) {
    AVFrame *f = v->frame;
    if (f->width <= 0 || f->height <= 0 || (uint64_t)f->width * f->height > v->limits.max_pixels)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: decoded frame has a bad size %dx%d", v->name, f->width, f->height);
    int range = f->color_range == AVCOL_RANGE_JPEG || f->format == AV_PIX_FMT_YUVJ420P ||
                f->format == AV_PIX_FMT_YUVJ422P || f->format == AV_PIX_FMT_YUVJ444P;
    int cs = f->colorspace == AVCOL_SPC_UNSPECIFIED ? SWS_CS_DEFAULT : (int)f->colorspace;
    if (!v->sws || v->sws_w != f->width || v->sws_h != f->height || v->sws_fmt != f->format || v->sws_cs != cs ||
        v->sws_range != range) {
        sws_freeContext(v->sws);
        v->sws = sws_getContext(f->width, f->height, f->format, f->width, f->height, AV_PIX_FMT_RGB24, SWS_BICUBIC,
                                NULL, NULL, NULL);
        if (!v->sws) return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: cannot convert pixel format to RGB", v->name);
        const int *coef = sws_getCoefficients(cs);
        sws_setColorspaceDetails(v->sws, coef, range, sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
        v->sws_w = f->width, v->sws_h = f->height, v->sws_fmt = f->format, v->sws_cs = cs, v->sws_range = range;
    }
    const int w = f->width, h = f->height;
    uint8_t *rgb = vtc_alloc((size_t)w * h, 3);
    if (!rgb) return VTC_ERR_NOMEM;
    uint8_t *dst[4] = { rgb, NULL, NULL, NULL };
    int dst_stride[4] = { 3 * w, 0, 0, 0 };
    sws_scale(v->sws, (const uint8_t *const *)f->data, f->linesize, 0, h, dst, dst_stride);
    int ow = w, oh = h;
    if (v->rotation) {
        if (v->rotation != 180) ow = h, oh = w;
        uint8_t *rot = vtc_alloc((size_t)w * h, 3);
        if (!rot) {
            free(rgb);
            return VTC_ERR_NOMEM;
        }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int nx, ny;
                if (v->rotation == 90) nx = h - 1 - y, ny = x;        // clockwise
                else if (v->rotation == 180) nx = w - 1 - x, ny = h - 1 - y;
                else nx = y, ny = w - 1 - x;                         // 270: counter-clockwise
                memcpy(rot + ((size_t)ny * ow + nx) * 3, rgb + ((size_t)y * w + x) * 3, 3);
            }
        free(rgb);
        rgb = rot;
    }
    vtc_image *img = vtc_zalloc(1, sizeof *img);
    if (!img) {
        free(rgb);
        return VTC_ERR_NOMEM;
    }
    img->width = ow;
    img->height = oh;
    img->rgb = rgb;
    *out = img;
    return VTC_OK;
}

int vtc_video_read(vtc_video *v, int64_t index, vtc_image **frame, double *timestamp) {
    *frame = NULL;
    if (index < 0) return vtc_set_error(VTC_ERR_ARG, "%s: frame index %lld", v->name, (long long)index);
    // Far ahead (beyond a couple of seconds of frames): seek to the keyframe before it.
    const int64_t gap = v->fps > 0 ? (int64_t)(2 * v->fps) + 8 : INT64_MAX;
    if (v->cfr && v->next_index >= 0 && index - v->next_index > gap) {
        int64_t ts = v->start_pts + (int64_t)floor(index / v->fps / av_q2d(v->tb));
        if (av_seek_frame(v->fmt, v->stream, ts, AVSEEK_FLAG_BACKWARD) >= 0) {
            avcodec_flush_buffers(v->dec);
            v->eof_sent = 0;
            v->next_index = -1;
        }
    }
    int have_last = 0;
    for (;;) {
        int got = next_frame(v);
        if (got < 0) return got;
        if (got == 0) {
            // The container's count overstated the frames: the last one decoded stands in.
            if (have_last) {
                av_frame_move_ref(v->frame, v->last);
                break;
            }
            return vtc_set_error(VTC_ERR_FORMAT, "%s: frame %lld is past the end of the video", v->name,
                                 (long long)index);
        }
        int64_t pts = v->frame->best_effort_timestamp;
        int64_t cur = v->next_index >= 0 ? v->next_index
                      : pts != AV_NOPTS_VALUE ? frame_index_from_pts(v, pts) : -1;
        if (cur < 0) return vtc_set_error(VTC_ERR_FORMAT, "%s: frame without a timestamp after seeking", v->name);
        v->next_index = cur + 1;
        have_last = 1;
        if (cur >= index) break;
        av_frame_unref(v->last);
        av_frame_move_ref(v->last, v->frame);
    }
    int64_t pts = v->frame->best_effort_timestamp;
    if (timestamp) *timestamp = pts != AV_NOPTS_VALUE ? (pts - v->start_pts) * av_q2d(v->tb) : (v->fps > 0 ? index / v->fps : 0);
    int st = convert(v, frame);
    av_frame_unref(v->frame);
    return st;
}

vtc_media *vtc_video_load_media(const char *path, int32_t n_frames, double fps, const struct vtc_limits *limits) {
    vtc_video *v = NULL;
    if (vtc_video_open(path, limits, &v)) return NULL;
    int64_t *idx = NULL;
    int32_t n = 0;
    vtc_media *m = NULL;
    if (vtc_video_sample(v, n_frames, fps, &idx, &n)) goto fail;
    m = vtc_zalloc(1, sizeof *m);
    if (!m) goto fail;
    m->frames = vtc_zalloc((size_t)n, sizeof *m->frames);
    m->timestamps = vtc_zalloc((size_t)n, sizeof *m->timestamps);
    m->frame_index = vtc_zalloc((size_t)n, sizeof *m->frame_index);
    if (!m->frames || !m->timestamps || !m->frame_index) goto fail;
    m->is_video = 1;
    m->total_frames = v->n_frames;
    m->fps = v->fps;
    snprintf(m->codec, sizeof m->codec, "%s", v->dec->codec ? v->dec->codec->name : "?");
    for (int32_t i = 0; i < n; i++) {
        m->n_frames = i;
        if (i > 0 && idx[i] == idx[i - 1]) { // repeated index (more samples than frames): copy
            m->frames[i] = vtc_image_from_rgb(m->frames[i - 1]->rgb, m->frames[i - 1]->width, m->frames[i - 1]->height);
            m->timestamps[i] = m->timestamps[i - 1];
            if (!m->frames[i]) goto fail;
        } else if (vtc_video_read(v, idx[i], &m->frames[i], &m->timestamps[i])) {
            goto fail;
        }
        m->frame_index[i] = (int32_t)idx[i];
    }
    m->n_frames = n;
    free(idx);
    vtc_video_close(v);
    return m;
fail:
    if (m) m->n_frames = m->frames ? m->n_frames + 1 : 0; // free what was decoded
    vtc_media_free(m);
    free(idx);
    vtc_video_close(v);
    return NULL;
}
