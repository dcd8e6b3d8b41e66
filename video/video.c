// FFmpeg demux/decode, RGB conversion and frame sampling.
//
// RGB conversion — the bytes of `ffmpeg -i IN -vf select=... -pix_fmt rgb24`:
// the CLI converts in an auto-inserted scale filter, which runs swscale with
// the CLI's default SWS_BICUBIC and then, per frame, sets the colour details
// from the frame: the matrix of frame->colorspace (unspecified, RGB, reserved
// or out-of-range values -> BT.601) and the range of frame->color_range (left
// at swscale's default — limited, full for yuvj* formats — when unspecified).
// convert() does the same. swscale's x86 unscaled YUV->RGB path converts
// whole blocks of 8 pixels and leaves the last columns untouched when the
// destination stride has no room for the block; the CLI's frame pool pads
// lines, so vtc converts into lines padded the same way and compacts after.
//
// Rotation: the CLI's autorotate inserts transpose=clock (90°), hflip+vflip
// (180°) or transpose=cclock (270°) for the stream's display matrix, right
// after the decoder and before the format conversion, so the YUV planes are
// rotated (each plane by its own size; this matters for odd sizes) and then
// converted. vtc does the same. For pixel formats those filters refuse
// (4:2:2 and other unequal subsampling for 90/270, palettes, bitstream
// formats) lavfi first converts to another format; there vtc rotates the
// converted RGB frame instead (measured byte-identical for yuv422p and
// yuvj422p; palettes untested). Other angles and flips are ignored (the 5.1
// CLI also ignores flips; it would rotate odd angles with black fill).
//
// Locating frame k (the k-th frame the decoder outputs, as the CLI's select
// counts them) without decoding everything before it, by one of:
// - GRID: timestamps follow the nominal rate: frame k is at first_pts + k/fps.
//   Every decoded frame is checked against the grid; one off it (variable
//   rate, gaps) switches the video to TABLE and the read is redone.
// - TABLE: the sorted pts of every video packet, collected by one pass over the
//   packets (demuxing only, no decoding) on a second demuxer instance.
// - COUNT: no usable timestamps (raw streams): frames are counted from the
//   start, and going back re-opens the input.
// A target well ahead (a keyframe lies between it and the last decoded frame,
// by the demuxer's index; or more than ~2 s of frames, 2 frames for intra-only
// codecs, when the index cannot tell) is reached by seeking to the keyframe
// before its timestamp and decoding forward. A seek must land on a keyframe at
// or before the target; otherwise vtc backs off 1, 2, 4... s and finally
// decodes from the start.
//
// Frame count: the container's count (MP4 sample count less edit-list
// discards, AVI header) when it agrees with the stream's duration x rate (AVI
// with H.264 B-frames counts two ticks per frame); in GRID mode the last
// packet's timestamp (a seek near the end, a few packets demuxed, no
// decoding); in TABLE mode the table; else one pass counting packets;
// duration x rate (n_frames_exact = 0) only when all of those fail.
//
// Logging: a library must not print, yet FFmpeg's logging is process-global.
// On first use vtc installs an av_log callback that drops messages logged while
// the calling thread is inside a vtc video call and passes every other message
// to av_log_default_callback, so a host's own FFmpeg use logs as FFmpeg's
// default would (its level is not touched). FFmpeg cannot report the callback
// in place, so a host's own callback installed before vtc's first video call
// is replaced; installed after it, it replaces vtc's (README, "The library").
//
// Inputs: a path opens local files only (protocol_whitelist "file": no
// network, though a playlist may name other local files, as with the CLI);
// memory input opens nothing else at all.
//
// Bounds: every decode loop stops after 65536 video packets (or 4M packets of
// any stream) without a frame; seeks are tried at most 6 times per read.
#include "video.h"

#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"

enum { LOCATE_GRID, LOCATE_TABLE, LOCATE_COUNT };
enum { RETRY = 1 }; // internal: the grid broke, redo the read through the packet table

#define MAX_VIDEO_PACKETS_WITHOUT_FRAME 65536
#define MAX_PACKETS_WITHOUT_FRAME (1 << 22)
#define SEEK_TRIES 6
#define TIME_EPS 1e-3 // seconds: timestamps this close count as equal (Matroska stores ms)

struct mem_io {
    const uint8_t *data;
    size_t size, pos;
};

// One demuxer instance over the input (the decoding one, or a second one for a
// pass over the packets).
struct input {
    AVFormatContext *fmt;
    AVIOContext *avio; // custom I/O for memory input (owned)
    struct mem_io mem;
};

struct vtc_video {
    char name[512];
    char *path; // NULL for memory input
    const uint8_t *data;
    size_t size;
    struct vtc_limits limits;
    struct input in;
    AVCodecContext *dec;
    int stream, stream_id;
    AVPacket *pkt;
    AVFrame *frame;      // the frame decoded last, while have_frame
    int have_frame;
    int64_t frame_index; // its index
    int64_t frame_pts;   // its best-effort pts
    struct SwsContext *sws;
    int sws_w, sws_h, sws_fmt, sws_cs, sws_range;
    AVRational tb;
    double fps;
    int64_t first_pts; // pts of frame 0 (AV_NOPTS_VALUE: frames carry none)
    int64_t n_frames;
    int n_frames_exact;
    double duration;
    int rotation;
    int w, h; // coded size (before rotation)
    int locate;
    int grid_broken;  // a frame off the nominal grid was seen: switch to TABLE
    int seek_broken;  // seeking failed once: decode forward only
    int64_t *table;   // LOCATE_TABLE: pts of frame k, ascending
    int64_t table_n;
    int table_failed; // the packets cannot make a table (no timestamps)
    int64_t packets_counted; // video packets seen by that failed attempt (0: none)
    int count_from_timestamps; // n_frames came from the last timestamp on the grid
    int64_t next_index; // index of the next frame the decoder outputs; -1: from its pts (after a seek)
    int eof_sent;
    int64_t decoded;
    int64_t seek_gap; // frames ahead beyond which seeking beats decoding (when the demuxer has no index)
    int failed;       // reopening the input failed (its status): the handle reads no more
};

// ---------------------------------------------------------------- logging

static _Thread_local int g_quiet; // > 0 while this thread is inside a vtc video call
static pthread_once_t g_log_once = PTHREAD_ONCE_INIT;

static void log_filter(void *avcl, int level, const char *fmt, va_list vl) {
    if (g_quiet > 0) return;
    av_log_default_callback(avcl, level, fmt, vl);
}

static void install_log_filter(void) { av_log_set_callback(log_filter); }

static void quiet_begin(void) {
    pthread_once(&g_log_once, install_log_filter);
    g_quiet++;
}

static int quiet_end(int status) {
    g_quiet--;
    return status;
}

// ---------------------------------------------------------------- errors

static int av_status(int err) {
    if (err == AVERROR(ENOMEM)) return VTC_ERR_NOMEM;
    if (err == AVERROR(ENOENT) || err == AVERROR(EACCES) || err == AVERROR(EISDIR) || err == AVERROR(EIO))
        return VTC_ERR_IO;
    if (err == AVERROR_PATCHWELCOME || err == AVERROR_DECODER_NOT_FOUND || err == AVERROR_DEMUXER_NOT_FOUND)
        return VTC_ERR_UNSUPPORTED;
    return VTC_ERR_FORMAT;
}

static int av_fail(const vtc_video *v, int err, const char *what) {
    char buf[128];
    av_strerror(err, buf, sizeof buf);
    return vtc_set_error(av_status(err), "%s: %s: %s", v->name, what, buf);
}

// ---------------------------------------------------------------- input

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
    if (offset > INT64_MAX - base) return AVERROR(EINVAL);
    int64_t p = base + offset;
    if (p < 0 || p > (int64_t)m->size) return AVERROR(EINVAL);
    m->pos = (size_t)p;
    return p;
}

static void input_close(struct input *in) {
    avformat_close_input(&in->fmt);
    if (in->avio) {
        av_freep(&in->avio->buffer);
        avio_context_free(&in->avio);
    }
}

// Memory input never opens anything else (playlists and concat scripts name other files).
static int refuse_io_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags, AVDictionary **options) {
    (void)s, (void)pb, (void)url, (void)flags, (void)options;
    return AVERROR(EPERM);
}

// avformat_open_input on a path, local files only: a playlist (HLS, concat)
// may name other local files as the CLI allows, but nothing over the network.
static int open_local(AVFormatContext **fmt, const char *path) {
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "protocol_whitelist", "file", 0);
    int err = avformat_open_input(fmt, path, NULL, &opts);
    av_dict_free(&opts);
    return err;
}

// Opens a demuxer on the video's input (file or memory). *err gets FFmpeg's code.
static int input_open(const vtc_video *v, struct input *in, int *err) {
    memset(in, 0, sizeof *in);
    *err = 0;
    if (!v->path) {
        in->mem = (struct mem_io){ v->data, v->size, 0 };
        unsigned char *buf = av_malloc(32768);
        in->fmt = avformat_alloc_context();
        in->avio = buf ? avio_alloc_context(buf, 32768, 0, &in->mem, mem_read, NULL, mem_seek) : NULL;
        if (!in->avio) av_free(buf);
        if (!in->fmt || !in->avio) {
            input_close(in);
            return vtc_set_error(VTC_ERR_NOMEM, "%s: out of memory", v->name);
        }
        in->fmt->pb = in->avio;
        in->fmt->io_open = refuse_io_open;
        AVDictionary *opts = NULL; // and demuxers that open a nested input (concat) pass this on
        av_dict_set(&opts, "protocol_whitelist", "none", 0);
        *err = avformat_open_input(&in->fmt, NULL, NULL, &opts); // frees in->fmt on failure
        av_dict_free(&opts);
    } else {
        *err = open_local(&in->fmt, v->path);
    }
    if (*err < 0) {
        input_close(in);
        return av_fail(v, *err, "cannot open as video");
    }
    return VTC_OK;
}

// A video stream worth decoding: not cover art, not text (the tty demuxer).
static int is_video_stream(const AVFormatContext *fmt, const AVStream *st) {
    return st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC) &&
           strcmp(fmt->iformat->name, "tty") != 0;
}

// Whether a packet of `fmt` (maybe a second demuxer instance) belongs to the video's stream.
static int is_our_packet(const vtc_video *v, const AVFormatContext *fmt, const AVPacket *pkt) {
    if (pkt->stream_index < 0 || (unsigned)pkt->stream_index >= fmt->nb_streams) return 0;
    const AVStream *st = fmt->streams[pkt->stream_index];
    return pkt->stream_index == v->stream && st->id == v->stream_id && st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO;
}

// ---------------------------------------------------------------- decoding

static int is_keyframe(const AVFrame *f) {
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(58, 7, 100)
    return (f->flags & AV_FRAME_FLAG_KEY) || f->pict_type == AV_PICTURE_TYPE_I;
#else
    return f->key_frame || f->pict_type == AV_PICTURE_TYPE_I;
#endif
}

static const int32_t *display_matrix(const AVStream *st) {
#if LIBAVFORMAT_VERSION_MAJOR >= 61
    const AVPacketSideData *sd = av_packet_side_data_get(st->codecpar->coded_side_data,
                                                         st->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX);
    return sd && sd->size >= 36 ? (const int32_t *)sd->data : NULL;
#else
    size_t size = 0;
    const uint8_t *data = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
    return data && size >= 36 ? (const int32_t *)data : NULL;
#endif
}

static int64_t clamp_ts(double t) {
    if (!(t > -9e18)) return -(int64_t)9e18; // also NaN
    if (t > 9e18) return (int64_t)9e18;
    return llround(t);
}

// Seconds from frame 0 to a timestamp (in doubles: no overflow on hostile input).
static double seconds_since_first(const vtc_video *v, int64_t pts) {
    return ((double)pts - (double)v->first_pts) * av_q2d(v->tb);
}

static double grid_pos(const vtc_video *v, int64_t pts) { return seconds_since_first(v, pts) * v->fps; }

static int64_t table_find(const vtc_video *v, int64_t pts) { // first k with table[k] >= pts
    int64_t lo = 0, hi = v->table_n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (v->table[mid] < pts) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

// pts of frame k, where GRID or TABLE locates frames.
static int64_t target_pts(const vtc_video *v, int64_t k) {
    if (v->locate == LOCATE_TABLE) return v->table[k < v->table_n ? k : v->table_n - 1];
    return clamp_ts((double)v->first_pts + (double)k / v->fps / av_q2d(v->tb));
}

// Decodes the next frame into v->frame and gives it its index. 1 = a frame, 0 = end of stream.
static int decode_next(vtc_video *v) {
    av_frame_unref(v->frame);
    v->have_frame = 0;
    int64_t video_packets = 0, packets = 0;
    for (;;) {
        int err = avcodec_receive_frame(v->dec, v->frame);
        if (err == 0) break;
        if (err == AVERROR_EOF) return 0;
        if (err == AVERROR(ENOMEM)) return av_fail(v, err, "decoding failed");
        // EAGAIN: the decoder wants input. Other errors: a broken frame, skipped as the CLI does.
        if (v->eof_sent) {
            if (err == AVERROR(EAGAIN)) return 0;
            if (++packets > MAX_PACKETS_WITHOUT_FRAME) return 0;
            continue;
        }
        if (++packets > MAX_PACKETS_WITHOUT_FRAME || video_packets > MAX_VIDEO_PACKETS_WITHOUT_FRAME)
            return vtc_set_error(VTC_ERR_FORMAT, "%s: no frame decoded from %lld video packets (corrupt stream?)",
                                 v->name, (long long)video_packets);
        err = av_read_frame(v->in.fmt, v->pkt);
        if (err == AVERROR(ENOMEM)) return av_fail(v, err, "reading failed");
        if (err < 0) { // end of file, or unreadable from here on: drain the decoder (as the CLI does)
            v->eof_sent = 1;
            avcodec_send_packet(v->dec, NULL);
            continue;
        }
        if (v->pkt->stream_index == v->stream) {
            video_packets++;
            err = avcodec_send_packet(v->dec, v->pkt);
            if (err == AVERROR(ENOMEM)) {
                av_packet_unref(v->pkt);
                return av_fail(v, err, "decoding failed");
            }
        }
        av_packet_unref(v->pkt);
    }
    v->decoded++;
    const int64_t pts = v->frame->best_effort_timestamp;
    v->frame_pts = pts;
    if (v->locate == LOCATE_TABLE && v->table && pts != AV_NOPTS_VALUE) {
        v->frame_index = table_find(v, pts);
    } else if (v->next_index >= 0) {
        v->frame_index = v->next_index;
        if (v->locate == LOCATE_GRID && pts != AV_NOPTS_VALUE && fabs(grid_pos(v, pts) - (double)v->frame_index) > 0.25)
            v->grid_broken = 1;
    } else if (pts != AV_NOPTS_VALUE && v->locate == LOCATE_GRID) { // first frame after a seek: index from its pts
        double x = grid_pos(v, pts);
        if (fabs(x - round(x)) > 0.25 || x < -0.25) v->grid_broken = 1;
        v->frame_index = x < 0 ? 0 : clamp_ts(x);
    } else { // after a seek, and no timestamp (MPEG-PS puts one on some frames only): not known yet
        v->frame_index = -1;
        v->have_frame = 1;
        return 1;
    }
    v->next_index = v->frame_index + 1;
    v->have_frame = 1;
    return 1;
}

// Stream parameters, decoder, and the first frame. Used by open and by rewind.
static int start_decoding(vtc_video *v) {
    AVFormatContext *fmt = v->in.fmt;
    // Decoders that find_stream_info opens obey the pixel limit too (no bombs there).
    AVDictionary **opts = vtc_zalloc(fmt->nb_streams ? fmt->nb_streams : 1, sizeof *opts);
    if (!opts) return VTC_ERR_NOMEM;
    int64_t max_px = v->limits.max_pixels > INT64_MAX ? INT64_MAX : (int64_t)v->limits.max_pixels;
    for (unsigned i = 0; i < fmt->nb_streams; i++) av_dict_set_int(&opts[i], "max_pixels", max_px, 0);
    const unsigned n_opts = fmt->nb_streams;
    int err = avformat_find_stream_info(fmt, opts);
    for (unsigned i = 0; i < n_opts; i++) av_dict_free(&opts[i]);
    free(opts);
    if (err < 0) return av_fail(v, err, "cannot read stream information");

    int s = -1, any_video = 0;
    const AVCodec *codec = NULL;
    int best = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (best >= 0 && is_video_stream(fmt, fmt->streams[best])) s = best;
    for (unsigned i = 0; s < 0 && i < fmt->nb_streams; i++)
        if (is_video_stream(fmt, fmt->streams[i])) s = (int)i;
    for (unsigned i = 0; i < fmt->nb_streams; i++) any_video |= fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO;
    if (s < 0 && fmt->nb_streams == 0)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: no streams found (damaged or not a media file)", v->name);
    if (s < 0)
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: no video stream (%s)", v->name,
                             any_video ? "only cover art or text" : "audio or data only");
    AVStream *st = fmt->streams[s];
    codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec)
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: no decoder for the video codec %s", v->name,
                             avcodec_get_name(st->codecpar->codec_id));
    v->stream = s;
    v->stream_id = st->id;
    v->tb = st->time_base;
    if (v->tb.num <= 0 || v->tb.den <= 0) return vtc_set_error(VTC_ERR_FORMAT, "%s: invalid time base", v->name);
    if (st->codecpar->width <= 0 || st->codecpar->height <= 0)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: the video stream has no frame size", v->name);
    if ((uint64_t)st->codecpar->width * (uint64_t)st->codecpar->height > v->limits.max_pixels)
        return vtc_set_error(VTC_ERR_LIMIT, "%s: %dx%d frames exceed the limit of %llu pixels", v->name,
                             st->codecpar->width, st->codecpar->height, (unsigned long long)v->limits.max_pixels);
    v->w = st->codecpar->width;
    v->h = st->codecpar->height;

    avcodec_free_context(&v->dec);
    v->dec = avcodec_alloc_context3(codec);
    if (!v->dec) return vtc_set_error(VTC_ERR_NOMEM, "%s: out of memory", v->name);
    if ((err = avcodec_parameters_to_context(v->dec, st->codecpar)) < 0) return av_fail(v, err, "decoder setup");
    v->dec->pkt_timebase = st->time_base;
    v->dec->thread_count = 1; // frames come out as they go in; vtc's encoder owns the cores
    v->dec->max_pixels = max_px;
    if ((err = avcodec_open2(v->dec, codec, NULL)) < 0) return av_fail(v, err, "cannot open the decoder");

    if (!v->pkt) v->pkt = av_packet_alloc();
    if (!v->frame) v->frame = av_frame_alloc();
    if (!v->pkt || !v->frame) return vtc_set_error(VTC_ERR_NOMEM, "%s: out of memory", v->name);
    v->eof_sent = 0;
    v->next_index = 0;
    int got = decode_next(v);
    if (got < 0) return got;
    if (got == 0) return vtc_set_error(VTC_ERR_FORMAT, "%s: the video stream has no decodable frame", v->name);
    return VTC_OK;
}

// Back to frame 0 by opening the input afresh (exact whatever the stream's timestamps).
static int rewind_start(vtc_video *v) {
    input_close(&v->in);
    int err;
    int st = input_open(v, &v->in, &err);
    int64_t first_pts = v->first_pts;
    if (!st) st = start_decoding(v);
    if (!st && v->frame_pts != first_pts) // not the stream it was: refuse rather than mis-number frames
        st = vtc_set_error(VTC_ERR_FORMAT, "%s: the input changed while reading", v->name);
    if (st) {
        v->failed = st;
        return st;
    }
    v->grid_broken = 0;
    return VTC_OK;
}

// ---------------------------------------------------------------- packet passes

// Demuxes the video stream's packets on a second demuxer instance, without
// decoding, from the start (from_ts == AV_NOPTS_VALUE) or from the keyframe
// before from_ts. Counts them, finds the largest pts, and with `pts` collects
// every pts (NULL in *pts when a packet has none). Discarded packets (MP4 edit
// lists) are skipped, as the decoder drops their frames.
static int packet_pass(vtc_video *v, int64_t from_ts, int64_t **pts, int64_t *count, int64_t *max_pts) {
    struct input in;
    int err;
    int st = input_open(v, &in, &err);
    if (st) return st;
    *count = 0;
    *max_pts = AV_NOPTS_VALUE;
    int64_t *list = NULL, cap = 0, n = 0;
    int have_all_pts = 1;
    AVPacket *pkt = av_packet_alloc();
    if (!pkt) {
        st = vtc_set_error(VTC_ERR_NOMEM, "%s: out of memory", v->name);
        goto done;
    }
    if (from_ts != AV_NOPTS_VALUE) {
        const int s = v->stream;
        if ((unsigned)s >= in.fmt->nb_streams || in.fmt->streams[s]->id != v->stream_id ||
            in.fmt->streams[s]->time_base.num != v->tb.num || in.fmt->streams[s]->time_base.den != v->tb.den ||
            av_seek_frame(in.fmt, s, from_ts, AVSEEK_FLAG_BACKWARD) < 0) {
            st = vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: cannot seek", v->name);
            goto done;
        }
    }
    const size_t max_entries = v->limits.max_memory / sizeof(int64_t);
    while ((err = av_read_frame(in.fmt, pkt)) >= 0) {
        if (is_our_packet(v, in.fmt, pkt) && !(pkt->flags & AV_PKT_FLAG_DISCARD)) {
            (*count)++;
            if (pkt->pts == AV_NOPTS_VALUE) have_all_pts = 0;
            else if (*max_pts == AV_NOPTS_VALUE || pkt->pts > *max_pts) *max_pts = pkt->pts;
            if (pts && have_all_pts) {
                if (n == cap) {
                    int64_t ncap = cap ? 2 * cap : 1024;
                    if ((uint64_t)ncap > max_entries) {
                        av_packet_unref(pkt);
                        st = vtc_set_error(VTC_ERR_LIMIT, "%s: too many frames to index", v->name);
                        goto done;
                    }
                    int64_t *grown = vtc_realloc(list, (size_t)ncap, sizeof *list);
                    if (!grown) {
                        av_packet_unref(pkt);
                        st = vtc_set_error(VTC_ERR_NOMEM, "%s: out of memory", v->name);
                        goto done;
                    }
                    list = grown;
                    cap = ncap;
                }
                list[n++] = pkt->pts;
            }
        }
        av_packet_unref(pkt);
    }
    if (err == AVERROR(ENOMEM)) st = av_fail(v, err, "reading failed");
done:
    av_packet_free(&pkt);
    input_close(&in);
    if (st || !pts || !have_all_pts) {
        free(list);
        list = NULL;
    }
    if (pts) *pts = list;
    return st;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

// Builds the pts table (LOCATE_TABLE). Frames before the first decodable one
// (their pts is below frame 0's) are not frames. VTC_ERR_UNSUPPORTED when the
// packets lack timestamps.
static int build_table(vtc_video *v) {
    if (v->table) return VTC_OK;
    int64_t *pts = NULL, count, max_pts;
    int st = packet_pass(v, AV_NOPTS_VALUE, &pts, &count, &max_pts);
    if (st) return st;
    if (!pts || count == 0) {
        free(pts);
        v->table_failed = 1;
        v->packets_counted = count;
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: packets without timestamps", v->name);
    }
    qsort(pts, (size_t)count, sizeof *pts, cmp_i64);
    int64_t skip = 0;
    while (skip < count && pts[skip] < v->first_pts) skip++;
    int64_t n = count - skip;
    for (int64_t i = 1; i < n; i++)
        if (pts[skip + i] == pts[skip + i - 1]) n = 0; // duplicate timestamps: no way to tell frames apart
    if (n == 0) {
        free(pts);
        v->table_failed = 1;
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: packet timestamps do not identify frames", v->name);
    }
    memmove(pts, pts + skip, (size_t)n * sizeof *pts);
    v->table = pts;
    v->table_n = n;
    v->n_frames = n;
    v->n_frames_exact = 1;
    return VTC_OK;
}

// The video is not on its nominal grid after all: locate frames by the table,
// or, without one, by counting.
static int switch_to_table(vtc_video *v) {
    v->grid_broken = 0;
    v->locate = LOCATE_TABLE;
    int st = v->table_failed ? VTC_ERR_UNSUPPORTED : build_table(v);
    if (st == VTC_ERR_NOMEM || st == VTC_ERR_LIMIT) return st;
    if (st) {
        vtc_clear_error();
        v->locate = LOCATE_COUNT;
        if (v->count_from_timestamps) { // that count assumed the grid: count the packets instead
            int64_t count = v->packets_counted, max_pts;
            st = count > 0 ? VTC_OK : packet_pass(v, AV_NOPTS_VALUE, NULL, &count, &max_pts);
            if (st == VTC_ERR_NOMEM) return st;
            vtc_clear_error();
            if (st == VTC_OK && count > 0) v->n_frames = count;
            else v->n_frames_exact = 0;
            v->count_from_timestamps = 0;
        }
    }
    v->next_index = -1; // the decoder's place is re-established by the next read
    v->have_frame = 0;
    return VTC_OK;
}

// Frame count (see the top of the file). Sets n_frames and n_frames_exact.
static int count_frames(vtc_video *v) {
    AVStream *st = v->in.fmt->streams[v->stream];
    int64_t nb = st->nb_frames;
    if (nb > 0) { // MP4 edit lists mark frames the decoder will drop
        int n_index = avformat_index_get_entries_count(st);
        for (int i = 0; i < n_index; i++) {
            const AVIndexEntry *e = avformat_index_get_entry(st, i);
            if (e && (e->flags & AVINDEX_DISCARD_FRAME)) nb--;
        }
    }
    double duration = st->duration != AV_NOPTS_VALUE && st->duration > 0 ? st->duration * av_q2d(st->time_base) : 0;
    if (duration <= 0 && v->in.fmt->duration != AV_NOPTS_VALUE && v->in.fmt->duration > 0 &&
        v->in.fmt->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE)
        duration = v->in.fmt->duration / (double)AV_TIME_BASE;
    v->duration = duration;

    // A count that disagrees with the stream's duration x rate is not taken: gaps
    // or a variable rate (then the table decides), or a muxer's quirk (AVI with
    // H.264 B-frames counts time ticks, two per frame).
    int nb_ok = nb > 0 && nb <= INT32_MAX;
    if (nb_ok && st->duration != AV_NOPTS_VALUE && st->duration > 0 && v->fps > 0) {
        double expect = st->duration * av_q2d(st->time_base) * v->fps;
        if (fabs(expect - (double)nb) > 1.0 + 0.002 * (double)nb) {
            nb_ok = 0;
            if (v->locate == LOCATE_GRID) v->locate = LOCATE_TABLE;
        }
    }
    if (v->locate == LOCATE_TABLE) {
        int s = build_table(v);
        if (s == VTC_ERR_NOMEM || s == VTC_ERR_LIMIT) return s;
        if (s == VTC_OK) return VTC_OK;
        // Packets without timestamps (AVI): the frames' own timestamps may still
        // follow the nominal rate; every decoded frame is checked against it.
        vtc_clear_error();
        v->locate = v->fps > 0 ? LOCATE_GRID : LOCATE_COUNT;
    }
    if (nb_ok) {
        v->n_frames = nb;
        v->n_frames_exact = 1;
        return VTC_OK;
    }
    if (v->locate == LOCATE_GRID) { // the last packet's timestamp gives the count
        int64_t count = 0, max_pts = AV_NOPTS_VALUE;
        int s = VTC_ERR_UNSUPPORTED;
        if (duration > 0) {
            int64_t from = clamp_ts((double)v->first_pts + (duration - 2.0) / av_q2d(v->tb));
            s = packet_pass(v, from < v->first_pts ? v->first_pts : from, NULL, &count, &max_pts);
        }
        if (s == VTC_ERR_NOMEM) return s;
        if (s == VTC_OK && count > 0 && max_pts != AV_NOPTS_VALUE) {
            double x = grid_pos(v, max_pts);
            if (fabs(x - round(x)) <= 0.25 && x >= 0 && x < INT32_MAX) {
                v->n_frames = clamp_ts(x) + 1;
                v->n_frames_exact = 1;
                v->count_from_timestamps = 1;
                return VTC_OK;
            }
            v->locate = LOCATE_TABLE; // off the grid
            s = build_table(v);
            if (s == VTC_OK || s == VTC_ERR_NOMEM || s == VTC_ERR_LIMIT) return s;
            v->locate = LOCATE_COUNT;
        }
        vtc_clear_error();
    }
    // Count packets (no decoding), unless the table attempt did.
    int64_t count = v->packets_counted, max_pts;
    int s = count > 0 ? VTC_OK : packet_pass(v, AV_NOPTS_VALUE, NULL, &count, &max_pts);
    if (s == VTC_ERR_NOMEM) return s;
    if (s == VTC_OK && count > 0) {
        v->n_frames = count;
        v->n_frames_exact = 1;
        return VTC_OK;
    }
    vtc_clear_error();
    if (duration > 0 && v->fps > 0 && duration * v->fps < INT32_MAX) {
        v->n_frames = llround(duration * v->fps);
        if (v->n_frames < 1) v->n_frames = 1;
        v->n_frames_exact = 0;
        return VTC_OK;
    }
    return vtc_set_error(VTC_ERR_FORMAT, "%s: cannot tell how many frames the video has", v->name);
}

// ---------------------------------------------------------------- open / close

void vtc_video_close(vtc_video *v) {
    if (!v) return;
    quiet_begin();
    sws_freeContext(v->sws);
    av_frame_free(&v->frame);
    av_packet_free(&v->pkt);
    avcodec_free_context(&v->dec);
    input_close(&v->in);
    free(v->table);
    free(v->path);
    free(v);
    quiet_end(0);
}

static int rates_agree(AVRational a, AVRational b) {
    if (a.num <= 0 || a.den <= 0 || b.num <= 0 || b.den <= 0) return 0;
    return fabs(av_q2d(a) / av_q2d(b) - 1.0) < 2e-4; // 29.97 vs 30 differ by 1e-3
}

static int video_open(vtc_video *v) {
    int err;
    int st = input_open(v, &v->in, &err);
    if (st) {
        if (err == AVERROR_INVALIDDATA)
            return vtc_set_error(VTC_ERR_FORMAT, "%s: not a video FFmpeg can read (unknown or damaged container)",
                                 v->name);
        return st;
    }
    if ((st = start_decoding(v))) return st;
    AVStream *s = v->in.fmt->streams[v->stream];
    AVRational r = s->r_frame_rate.num > 0 && s->r_frame_rate.den > 0 ? s->r_frame_rate : s->avg_frame_rate;
    v->fps = r.num > 0 && r.den > 0 ? av_q2d(r) : 0;
    if (!(v->fps > 0 && v->fps < 1e6)) v->fps = 0;
    v->first_pts = v->frame_pts;
    const int32_t *dm = display_matrix(s);
    if (dm) { // as the CLI's get_rotation(): degrees clockwise, in [0, 360)
        double theta = -av_display_rotation_get(dm);
        if (!isnan(theta)) {
            theta -= 360 * floor(theta / 360 + 0.9 / 360);
            if (fabs(theta - 90) < 1) v->rotation = 90;
            else if (fabs(theta - 180) < 1) v->rotation = 180;
            else if (fabs(theta - 270) < 1) v->rotation = 270;
        }
    }
    if (v->first_pts == AV_NOPTS_VALUE || (v->in.fmt->iformat->flags & AVFMT_NOTIMESTAMPS))
        v->locate = LOCATE_COUNT;
    else if (v->fps > 0 && (s->avg_frame_rate.num <= 0 || rates_agree(s->avg_frame_rate, s->r_frame_rate)))
        v->locate = LOCATE_GRID;
    else
        v->locate = LOCATE_TABLE;
    // Without a complete index, skip ahead by seeking past ~2 s of frames; for
    // intra-only codecs (every frame a keyframe) past 2 frames.
    const AVCodecDescriptor *cd = avcodec_descriptor_get(s->codecpar->codec_id);
    v->seek_gap = cd && (cd->props & AV_CODEC_PROP_INTRA_ONLY) ? 2 : v->fps > 0 ? (int64_t)(2 * v->fps) + 8 : 64;
    return count_frames(v);
}

static vtc_video *video_new(const char *name, const struct vtc_limits *limits) {
    vtc_video *v = vtc_zalloc(1, sizeof *v);
    if (!v) return NULL;
    snprintf(v->name, sizeof v->name, "%s", name);
    v->limits = limits ? *limits : vtc_limits_default();
    v->first_pts = AV_NOPTS_VALUE;
    v->locate = LOCATE_COUNT; // until the first frame's timestamp is known
    return v;
}

int vtc_video_open(const char *path, const struct vtc_limits *limits, vtc_video **out) {
    *out = NULL;
    if (!path) return vtc_set_error(VTC_ERR_ARG, "vtc_video_open: path is NULL");
    quiet_begin();
    vtc_video *v = video_new(path, limits);
    if (!v) return quiet_end(VTC_ERR_NOMEM);
    size_t len = strlen(path);
    v->path = vtc_alloc(len + 1, 1); // kept: rewinds and packet passes open the file again
    if (!v->path) {
        vtc_video_close(v);
        return quiet_end(VTC_ERR_NOMEM);
    }
    memcpy(v->path, path, len + 1);
    int st = video_open(v);
    if (st) {
        vtc_video_close(v);
        return quiet_end(st);
    }
    *out = v;
    return quiet_end(VTC_OK);
}

int vtc_video_open_memory(const void *data, size_t size, const struct vtc_limits *limits, vtc_video **out) {
    *out = NULL;
    if (!data && size) return vtc_set_error(VTC_ERR_ARG, "vtc_video_open_memory: NULL data");
    quiet_begin();
    vtc_video *v = video_new("<memory>", limits);
    if (!v) return quiet_end(VTC_ERR_NOMEM);
    v->data = data;
    v->size = size;
    int st = video_open(v);
    if (st) {
        vtc_video_close(v);
        return quiet_end(st);
    }
    *out = v;
    return quiet_end(VTC_OK);
}

int vtc_video_probe(const char *path) {
    if (!path) return vtc_set_error(VTC_ERR_ARG, "vtc_video_probe: path is NULL");
    quiet_begin();
    AVFormatContext *fmt = NULL;
    int err = open_local(&fmt, path);
    if (err < 0) {
        int st = av_status(err);
        if (st == VTC_ERR_IO) {
            char buf[128];
            av_strerror(err, buf, sizeof buf);
            return quiet_end(vtc_set_error(st, "%s: %s", path, buf));
        }
        return quiet_end(st == VTC_ERR_NOMEM ? vtc_set_error(st, "%s: out of memory", path) : 0);
    }
    int found = 0;
    for (int pass = 0; pass < 2 && !found; pass++) {
        // Containers without a header (MPEG-TS, raw streams) name their streams only after a look at packets.
        if (pass == 1 && !(fmt->nb_streams == 0 || (fmt->ctx_flags & AVFMTCTX_NOHEADER))) break;
        if (pass == 1 && avformat_find_stream_info(fmt, NULL) < 0) break;
        for (unsigned i = 0; i < fmt->nb_streams; i++)
            if (is_video_stream(fmt, fmt->streams[i]) && avcodec_find_decoder(fmt->streams[i]->codecpar->codec_id))
                found = 1;
    }
    avformat_close_input(&fmt);
    return quiet_end(found);
}

void vtc_video_get_info(const vtc_video *v, struct vtc_video_info *info) {
    memset(info, 0, sizeof *info);
    int swap = v->rotation == 90 || v->rotation == 270;
    info->width = swap ? v->h : v->w;
    info->height = swap ? v->w : v->h;
    info->n_frames = v->n_frames;
    info->n_frames_exact = v->n_frames_exact;
    info->fps = v->fps;
    info->duration = v->duration > 0 ? v->duration : v->fps > 0 ? (double)v->n_frames / v->fps : 0;
    info->rotation = v->rotation;
    info->vfr = v->locate == LOCATE_TABLE;
    snprintf(info->codec, sizeof info->codec, "%s", v->dec ? avcodec_get_name(v->dec->codec_id) : "?");
    snprintf(info->format, sizeof info->format, "%s", v->in.fmt ? v->in.fmt->iformat->name : "?");
}

int64_t vtc_video_decoded_count(const vtc_video *v) { return v->decoded; }

// ---------------------------------------------------------------- sampling

// Seconds from frame 0 to frame k, where frames are located by timestamp.
static double frame_time(const vtc_video *v, int64_t k) {
    if (v->locate == LOCATE_TABLE) return seconds_since_first(v, v->table[k]);
    return (double)k / v->fps;
}

int vtc_video_sample(vtc_video *v, int32_t n_frames, double fps, int64_t **indices, int32_t *n) {
    *indices = NULL;
    *n = 0;
    const int64_t total = v->n_frames;
    if (n_frames > 0) {
        if (n_frames > v->limits.max_frames)
            return vtc_set_error(VTC_ERR_LIMIT, "%s: %d frames sampled exceeds the frame limit %d", v->name, n_frames,
                                 v->limits.max_frames);
        int64_t *idx = vtc_alloc((size_t)n_frames, sizeof *idx);
        if (!idx) return VTC_ERR_NOMEM;
        // numpy.linspace(0, total-1, n, dtype=int): i * step, step = (total-1)/(n-1), the last one exactly
        // total-1, then floor.
        const double step = n_frames > 1 ? (double)(total - 1) / (double)(n_frames - 1) : 0;
        for (int32_t i = 0; i < n_frames; i++) {
            idx[i] = i == n_frames - 1 && n_frames > 1 ? total - 1 : (int64_t)floor((double)i * step);
            if (idx[i] > total - 1) idx[i] = total - 1;
        }
        *indices = idx;
        *n = n_frames;
        return VTC_OK;
    }
    if (!(fps > 0)) return vtc_set_error(VTC_ERR_ARG, "%s: sampling needs --frames N or --fps F", v->name);
    if (!(fps <= 1e6)) return vtc_set_error(VTC_ERR_ARG, "%s: --fps %g is beyond 10^6", v->name, fps);
    quiet_begin();
    if (v->locate == LOCATE_TABLE) {
        int st = build_table(v);
        if (st) return quiet_end(st);
    } else if (!(v->fps > 0)) {
        return quiet_end(vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: --fps needs a frame rate, and the video has none",
                                       v->name));
    }
    const int64_t last = v->locate == LOCATE_TABLE ? v->table_n - 1 : total - 1;
    const double t_last = frame_time(v, last);
    // the sample counter j must stay exact in a double (a crafted timestamp gap
    // would otherwise stall j++ and the loop with it)
    if (!(t_last * fps < 0x1p52))
        return quiet_end(vtc_set_error(VTC_ERR_LIMIT, "%s: --fps %g over the video's %g s is beyond 2^52 sample times",
                                       v->name, fps, t_last));
    int32_t cap = 16, count = 0;
    int64_t *idx = vtc_alloc((size_t)cap, sizeof *idx);
    if (!idx) return quiet_end(VTC_ERR_NOMEM);
    int64_t k = 0;
    for (double j = 0;; j++) {
        const double t = j / fps;
        if (t > t_last + TIME_EPS) break;
        while (k < last && frame_time(v, k) < t - TIME_EPS) k++; // the first frame at or after t
        if (count > 0 && idx[count - 1] == k) continue;            // fps above the video's rate
        if (count == v->limits.max_frames) {
            free(idx);
            return quiet_end(vtc_set_error(VTC_ERR_LIMIT, "%s: --fps %g samples more than the frame limit %d",
                                           v->name, fps, v->limits.max_frames));
        }
        if (count == cap) {
            int64_t *grown = vtc_realloc(idx, (size_t)cap * 2, sizeof *idx);
            if (!grown) {
                free(idx);
                return quiet_end(vtc_set_error(VTC_ERR_NOMEM, "%s: out of memory", v->name));
            }
            idx = grown;
            cap *= 2;
        }
        idx[count++] = k;
        // skip targets that would pick this frame again (keeps the loop O(frames) for a huge fps)
        const double next = floor((frame_time(v, k) + TIME_EPS) * fps);
        if (next > j) j = next;
    }
    *indices = idx;
    *n = count;
    return quiet_end(VTC_OK);
}

// ---------------------------------------------------------------- reading

// Seeks so that the decoder's next frames lead to frame k: the first frame after
// the seek must be a keyframe at or before k.
static int seek_to(vtc_video *v, int64_t k) {
    const int64_t target = target_pts(v, k);
    int64_t back = clamp_ts(1.0 / av_q2d(v->tb)); // 1 s
    if (back < 1) back = 1;
    int64_t ts = target;
    const int64_t before = v->have_frame ? v->frame_index : v->next_index - 1;
    for (int attempt = 0; attempt < SEEK_TRIES; attempt++) {
        if (av_seek_frame(v->in.fmt, v->stream, ts, AVSEEK_FLAG_BACKWARD) < 0) break;
        avcodec_flush_buffers(v->dec);
        v->eof_sent = 0;
        v->next_index = -1;
        int got = decode_next(v);
        const int clean = got == 1 && is_keyframe(v->frame); // decoding starts at a keyframe
        for (int i = 0; got == 1 && v->frame_index < 0 && i < 64; i++) got = decode_next(v);
        if (got < 0) return got;
        if (v->grid_broken) return RETRY;
        if (got && clean && v->frame_index >= 0 && v->frame_index <= k) {
            if (before >= 0 && v->frame_index <= before) v->seek_gap *= 2; // the seek skipped nothing
            return VTC_OK;
        }
        if (ts <= v->first_pts) break;
        if (got && v->frame_index >= 0 && v->frame_pts < ts && v->frame_pts != AV_NOPTS_VALUE) ts = v->frame_pts;
        ts = (double)ts - (double)back > (double)v->first_pts ? ts - back : v->first_pts;
        if (back < INT64_MAX / 2) back *= 2;
    }
    v->seek_broken = 1; // this stream does not seek reliably: decode forward from now on
    return rewind_start(v);
}

// Whether seeking is cheaper than decoding forward to frame k.
static int worth_seeking(vtc_video *v, int64_t k) {
    const int64_t cur = v->have_frame ? v->frame_index : v->next_index - 1;
    if (k <= cur + 1) return 0;
    // The demuxer's index: a keyframe between here and the target says yes. A
    // complete index (MP4, AVI: an entry per frame) also says no; others (Matroska
    // cues, entries added while reading) may miss keyframes, so the gap decides.
    AVStream *st = v->in.fmt->streams[v->stream];
    const int n_index = avformat_index_get_entries_count(st);
    if (n_index > 0) {
        const AVIndexEntry *e = avformat_index_get_entry_from_timestamp(st, target_pts(v, k), AVSEEK_FLAG_BACKWARD);
        if (e && e->timestamp > v->frame_pts) return 1;
        if (n_index >= v->n_frames) return 0;
    }
    return k - cur > v->seek_gap;
}

// Decodes until v->frame holds frame k (or the first frame after it, should the
// decoder never output k).
static int read_frame(vtc_video *v, int64_t k) {
    if (v->have_frame && v->frame_index == k) return VTC_OK;
    const int behind = v->next_index < 0 || (v->have_frame ? k < v->frame_index : k < v->next_index);
    int st = VTC_OK;
    if (v->locate == LOCATE_COUNT || v->seek_broken) {
        if (behind) st = rewind_start(v);
    } else if (behind || worth_seeking(v, k)) {
        st = seek_to(v, k);
    }
    if (st) return st;
    while (!(v->have_frame && v->frame_index >= k)) {
        int got = decode_next(v);
        if (got < 0) return got;
        if (v->grid_broken) return RETRY;
        if (got == 0)
            return vtc_set_error(VTC_ERR_FORMAT, "%s: frame %lld is past the end: the stream ends after frame %lld%s",
                                 v->name, (long long)k, (long long)(v->next_index - 1),
                                 v->n_frames_exact && k < v->n_frames ? " (truncated or corrupt?)" : "");
    }
    return VTC_OK;
}

// Element (x, y) of a w x h plane goes to (nx, ny) of the rotated plane
// (90: transpose=clock, 180: hflip+vflip, 270: transpose=cclock).
static void rotate_plane(const uint8_t *src, ptrdiff_t src_stride, int w, int h, int step, int rotation, uint8_t *dst,
                         ptrdiff_t dst_stride) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int nx, ny;
            if (rotation == 90) nx = h - 1 - y, ny = x;
            else if (rotation == 180) nx = w - 1 - x, ny = h - 1 - y;
            else nx = y, ny = w - 1 - x;
            memcpy(dst + ny * dst_stride + (ptrdiff_t)nx * step, src + y * src_stride + (ptrdiff_t)x * step, (size_t)step);
        }
}

// The CLI rotates the decoded frame's planes before converting it: 1 = done into
// *out, 0 = a pixel format those filters refuse (lavfi would convert it to
// another YUV format first; vtc rotates the RGB frame instead).
static int rotate_frame(vtc_video *v, const AVFrame *in, AVFrame **out) {
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(in->format);
    if (!d || (d->flags & (AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM))) return 0;
    if (d->log2_chroma_w != d->log2_chroma_h && (v->rotation != 180 || d->comp[0].plane == d->comp[1].plane))
        return 0; // transpose needs equal subsampling; hflip refuses packed subsampled formats
    AVFrame *r = av_frame_alloc();
    if (!r) return vtc_set_error(VTC_ERR_NOMEM, "%s: out of memory", v->name);
    r->format = in->format;
    r->width = v->rotation == 180 ? in->width : in->height;
    r->height = v->rotation == 180 ? in->height : in->width;
    int err = av_frame_get_buffer(r, 0);
    if (err >= 0) err = av_frame_copy_props(r, in);
    if (err < 0) {
        av_frame_free(&r);
        return av_fail(v, err, "rotation");
    }
    int steps[4];
    av_image_fill_max_pixsteps(steps, NULL, d);
    const int planes = av_pix_fmt_count_planes(in->format);
    for (int p = 0; p < planes && p < 4; p++) {
        const int chroma = p == 1 || p == 2;
        const int pw = AV_CEIL_RSHIFT(in->width, chroma ? d->log2_chroma_w : 0);
        const int ph = AV_CEIL_RSHIFT(in->height, chroma ? d->log2_chroma_h : 0);
        rotate_plane(in->data[p], in->linesize[p], pw, ph, steps[p], v->rotation, r->data[p], r->linesize[p]);
    }
    *out = r;
    return 1;
}

// vf_scale's colour handling for the frame (see the top of the file).
static int setup_sws(vtc_video *v, const AVFrame *f) {
    int cs = f->colorspace;
    if (cs < 1 || cs > 10 || cs == 8) cs = AVCOL_SPC_BT470BG;
    const int range = f->color_range;
    if (v->sws && v->sws_w == f->width && v->sws_h == f->height && v->sws_fmt == f->format && v->sws_cs == cs &&
        v->sws_range == range)
        return VTC_OK;
    sws_freeContext(v->sws);
    v->sws = sws_getContext(f->width, f->height, f->format, f->width, f->height, AV_PIX_FMT_RGB24, SWS_BICUBIC, NULL,
                            NULL, NULL);
    if (!v->sws) {
        const char *name = av_get_pix_fmt_name(f->format);
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: cannot convert pixel format %s to RGB", v->name,
                             name ? name : "?");
    }
    int *inv_table, *table, src_full, dst_full, brightness, contrast, saturation;
    sws_getColorspaceDetails(v->sws, &inv_table, &src_full, &table, &dst_full, &brightness, &contrast, &saturation);
    if (range != AVCOL_RANGE_UNSPECIFIED) src_full = range == AVCOL_RANGE_JPEG;
    const int *coefs = sws_getCoefficients(cs);
    sws_setColorspaceDetails(v->sws, coefs, src_full, coefs, dst_full, brightness, contrast, saturation);
    v->sws_w = f->width, v->sws_h = f->height, v->sws_fmt = f->format, v->sws_cs = cs, v->sws_range = range;
    return VTC_OK;
}

static int convert(vtc_video *v, const AVFrame *decoded, vtc_image **out) {
    if (decoded->width <= 0 || decoded->height <= 0)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: decoded frame has no size", v->name);
    if ((uint64_t)decoded->width * (uint64_t)decoded->height > v->limits.max_pixels)
        return vtc_set_error(VTC_ERR_LIMIT, "%s: %dx%d frame exceeds the limit of %llu pixels", v->name,
                             decoded->width, decoded->height, (unsigned long long)v->limits.max_pixels);
    AVFrame *rotated = NULL;
    int rgb_rotation = v->rotation;
    if (v->rotation) {
        int st = rotate_frame(v, decoded, &rotated);
        if (st < 0) return st;
        if (st == 1) rgb_rotation = 0;
    }
    const AVFrame *f = rotated ? rotated : decoded;
    const int w = f->width, h = f->height;
    int st = setup_sws(v, f);
    // Lines padded as the CLI's frames are (a multiple of 32 pixels), then compacted.
    const size_t stride = (size_t)3 * (((size_t)w + 31) & ~(size_t)31);
    const size_t row = (size_t)3 * (size_t)w;
    size_t bytes = 0;
    if (!st && (vtc_mul_size(stride, (size_t)h, &bytes) || vtc_add_size(bytes, 64, &bytes) ||
                bytes > v->limits.max_memory))
        st = vtc_set_error(VTC_ERR_LIMIT, "%s: %dx%d frame exceeds the memory limit", v->name, w, h);
    uint8_t *rgb = st ? NULL : vtc_alloc(bytes, 1);
    if (!st && !rgb) st = VTC_ERR_NOMEM;
    if (!st) {
        uint8_t *dst[4] = { rgb, NULL, NULL, NULL };
        int dst_stride[4] = { (int)stride, 0, 0, 0 };
        if (sws_scale(v->sws, (const uint8_t *const *)f->data, f->linesize, 0, h, dst, dst_stride) != h)
            st = vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: RGB conversion failed", v->name);
    }
    av_frame_free(&rotated);
    if (st) {
        free(rgb);
        return st;
    }
    for (int y = 1; y < h; y++) memmove(rgb + (size_t)y * row, rgb + (size_t)y * stride, row);
    uint8_t *shrunk = vtc_realloc(rgb, row, (size_t)h);
    if (shrunk) rgb = shrunk;
    int ow = w, oh = h;
    if (rgb_rotation) {
        if (rgb_rotation != 180) ow = h, oh = w;
        uint8_t *rot = vtc_alloc(row, (size_t)h);
        if (!rot) {
            free(rgb);
            return VTC_ERR_NOMEM;
        }
        rotate_plane(rgb, (ptrdiff_t)row, w, h, 3, rgb_rotation, rot, (ptrdiff_t)3 * ow);
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
    if (v->n_frames_exact && index >= v->n_frames)
        return vtc_set_error(VTC_ERR_ARG, "%s: frame %lld of a video of %lld frames", v->name, (long long)index,
                             (long long)v->n_frames);
    if (v->failed)
        return vtc_set_error(v->failed, "%s: the input could not be reopened by an earlier read; open it afresh",
                             v->name);
    quiet_begin();
    int st = RETRY;
    for (int attempt = 0; attempt < 3 && st == RETRY; attempt++) {
        st = read_frame(v, index);
        if (st == RETRY && (st = switch_to_table(v)) == VTC_OK) st = RETRY;
    }
    if (st == RETRY) st = vtc_set_error(VTC_ERR_INTERNAL, "%s: cannot locate frame %lld", v->name, (long long)index);
    if (st) return quiet_end(st);
    if (timestamp) {
        const int64_t pts = v->frame_pts;
        *timestamp = pts != AV_NOPTS_VALUE && v->first_pts != AV_NOPTS_VALUE ? seconds_since_first(v, pts)
                     : v->fps > 0                                           ? (double)v->frame_index / v->fps
                                                                            : 0;
    }
    return quiet_end(convert(v, v->frame, frame));
}
