// FFmpeg demux/decode, RGB conversion, and the frame index.
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
// The frame index (docs/formats.md, "Media"). Frame k is the k-th frame the
// decoder outputs, in presentation order — the `n` of the CLI's
// `-vf select=eq(n\,k)` with `-fps_mode passthrough`. vtc_video_open settles
// how many there are and where each one is before anything is sampled, and
// never changes it afterwards, in one of three ways:
// - GRID, count from the container: an MP4/MOV sample table that is complete
//   (every sample inside the file, none empty) with one duration for every
//   sample: frame k is at first_pts + k * that duration. Edit-list discards
//   are not frames (the decoder drops them).
// - TABLE, count from an index pass: one pass over the stream's packets on a
//   second demuxer instance, demuxing only, collecting every packet's pts;
//   frame k is at the k-th smallest. Empty packets (AVI 'drop' chunks) and
//   discarded ones are not frames, nor are packets whose pts is below frame
//   0's (the decoder outputs nothing for them: the leading pictures of a
//   stream joined mid-GOP, packets before the first keyframe). When the end
//   may be damaged (the demuxer stopped on an error, the last packet runs to
//   the end of the file or is marked corrupt, or the format has no packet
//   lengths: MPEG-TS/PS), the frames from the second-to-last keyframe on are
//   decoded once and replace the table's end, so a last packet cut short that
//   does not decode is not a frame.
// - COUNT, count from a decode pass: packets without timestamps (raw streams,
//   AVI with B-frames, MPEG-PS with pts on some packets only) or with equal
//   ones: every frame is decoded once at open to count them and note their
//   timestamps; reading frame k decodes forward from the start.
// In GRID and TABLE a decoded frame's index follows from its pts; a frame
// whose pts is not in the index is an error, as is a frame the decoder skips
// (its index never comes out): vtc never returns a frame for another index.
//
// Reading frame k (GRID, TABLE) without decoding everything before it: a
// target well ahead (a keyframe lies between it and the last decoded frame,
// by the demuxer's index; or more than ~2 s of frames, 2 frames for
// intra-only codecs, when the index cannot tell) is reached by seeking to the
// keyframe before its timestamp and decoding forward. A seek must land on a
// keyframe at or before the target; otherwise vtc backs off 1, 2, 4... s and
// finally decodes from the start.
//
// Damage: a frame concealed by the decoder depends on the frames decoded before
// it and, with frame threading, on the threads' timing (the CLI's own bytes for
// it change with -threads). Whatever the decoder reports as an error (a damaged
// frame's flags, an error it logs, from any of its threads) makes the video
// decode on one thread, every frame, from then on, and the frame being read is
// read again so: the CLI's bytes with one thread (its default, where that
// matches). A stream the index pass finds damaged (its end decoded at open)
// never uses threads or skipping.
//
// Logging: a library must not print, yet FFmpeg's logging is process-global.
// On first use vtc installs an av_log callback that drops messages logged while
// the calling thread is inside a vtc video call and passes every other message
// to av_log_default_callback, so a host's own FFmpeg use logs as FFmpeg's
// default would (its level is not touched). The decoder's own threads (frame
// threading) log on threads of their own: the decoder's log_level_offset lifts
// their messages to a level beyond any av_log_level, so no callback prints them. FFmpeg cannot report the callback
// in place, so a host's own callback installed before vtc's first video call
// is replaced; installed after it, it replaces vtc's (README, "The library").
//
// Inputs: a path opens local files only (protocol_whitelist "file": no
// network, though a playlist may name other local files, as with the CLI);
// memory input opens nothing else at all.
//
// Bounds: every decode loop stops after 65536 video packets (or 4M packets of
// any stream) without a frame; seeks are tried at most 6 times per read; the
// index holds at most limits.max_memory / 8 frames.
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
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "sample.h"

enum { LOCATE_GRID, LOCATE_TABLE, LOCATE_COUNT };

#define MAX_VIDEO_PACKETS_WITHOUT_FRAME 65536
#define MAX_PACKETS_WITHOUT_FRAME (1 << 22)
#define SEEK_TRIES 6
#define LOG_OFFSET (1 << 20) // added to the level of what the decoder logs (see logging below)
#define MAX_THREADS 16 // decoding threads: FFmpeg's own cap for automatic frame threading

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
    int64_t frame_index; // its index (-1: not known, or not a frame of the index)
    int64_t frame_pts;   // its pts (the decoder's best effort where the frame has none)
    struct SwsContext *sws;
    int sws_w, sws_h, sws_fmt, sws_cs, sws_range;
    AVRational tb;
    double fps;
    int64_t first_pts; // pts of frame 0 (AV_NOPTS_VALUE: frames carry none)
    double duration;
    int rotation;
    int w, h; // coded size (before rotation)
    // the frame index, settled by vtc_video_open
    int locate;       // LOCATE_*
    int count_source; // VTC_VIDEO_COUNT_*
    int64_t n_frames;
    int64_t step;     // GRID: ticks from one frame to the next
    int64_t *table;   // TABLE: pts of frame k, ascending
    int64_t table_n;
    double *times;    // COUNT: seconds from frame 0 to frame k (NULL: the frames carry no usable timestamps)
    int vfr;          // the frames are not evenly spaced
    int64_t next_index; // index of the next frame the decoder outputs; -1: from its pts (after a seek)
    int eof_sent;
    int64_t decoded;
    int64_t seek_gap; // frames ahead beyond which seeking beats decoding (when the demuxer has no index)
    int seek_broken;  // seeking failed once: decode forward only
    int seeked;       // decoding started at a seek, not at the start of the stream
    int64_t landing_pts; // the keyframe that seek landed on
    int gap;          // since that seek a frame was skipped or came out damaged
    int failed;       // reopening the input failed (its status): the handle reads no more
    int threads;      // decoding threads (frame and slice threading)
    int64_t *keys;    // TABLE: pts of the keyframe packets, ascending (the index pass's)
    int64_t n_keys;
    // the plan (vtc_video_plan): the frames that will be read, so that the decoder
    // may skip the frames nothing refers to (see the top of the file)
    int64_t *plan_pts; // their pts, ascending
    int32_t plan_n;
    int skip_nonref;   // the plan is set and the codec's non-reference frames are safe to skip
    int drained;       // the decoder was drained after a planned frame: the next read seeks
    atomic_int decode_errors; // errors the decoder logged (any thread): the stream is damaged
};

// ---------------------------------------------------------------- logging

static _Thread_local int g_quiet; // > 0 while this thread is inside a vtc video call
static pthread_once_t g_log_once = PTHREAD_ONCE_INIT;

static void log_filter(void *avcl, int level, const char *fmt, va_list vl) {
    if (level >= LOG_OFFSET + AV_LOG_QUIET && level <= LOG_OFFSET + AV_LOG_TRACE) {
        // one of vtc's decoders (its thread contexts copy opaque): count its errors
        const AVClass *c = avcl ? *(const AVClass **)avcl : NULL;
        const AVCodecContext *dec = avcl;
        if (c && c->class_name && !strcmp(c->class_name, "AVCodecContext") && dec->opaque &&
            level - LOG_OFFSET <= AV_LOG_ERROR)
            atomic_fetch_add(&((vtc_video *)dec->opaque)->decode_errors, 1);
        return;
    }
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
    return clamp_ts((double)v->first_pts + (double)k * (double)v->step);
}

// Seconds from frame 0 to frame k (the timestamps sampling and reads report).
static double frame_time(const vtc_video *v, int64_t k) {
    if (v->locate == LOCATE_TABLE) return seconds_since_first(v, v->table[k]);
    if (v->locate == LOCATE_GRID) return (double)k * (double)v->step * av_q2d(v->tb);
    if (v->times) return v->times[k];
    return v->fps > 0 ? (double)k / v->fps : 0;
}

static double frame_time_fn(const void *ctx, int64_t k) { return frame_time(ctx, k); }

// ---------------------------------------------------------------- decoding

// Where pts is in the plan: its position, or -1 (a packet without pts may be any: -2).
static int32_t plan_position(const vtc_video *v, int64_t pts) {
    if (pts == AV_NOPTS_VALUE) return -2;
    int32_t lo = 0, hi = v->plan_n;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (v->plan_pts[mid] < pts) lo = mid + 1;
        else hi = mid;
    }
    return lo < v->plan_n && v->plan_pts[lo] == pts ? lo : -1;
}

static int planned(const vtc_video *v, int64_t pts) { return plan_position(v, pts) != -1; }

// The decode timestamp of the last keyframe at or before pts (TABLE: the index
// pass's keyframes, their pts; else the demuxer's index, its dts), or INT64_MIN
// when neither knows.
static int64_t keyframe_before(const vtc_video *v, int64_t pts) {
    if (v->locate == LOCATE_TABLE && v->n_keys > 0) {
        int64_t lo = 0, hi = v->n_keys; // first key > pts
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (v->keys[mid] <= pts) lo = mid + 1;
            else hi = mid;
        }
        return lo > 0 ? v->keys[lo - 1] : INT64_MIN;
    }
    AVStream *st = v->in.fmt->streams[v->stream];
    const AVIndexEntry *e = avformat_index_get_entry_from_timestamp(st, pts, AVSEEK_FLAG_BACKWARD);
    return e ? e->timestamp : INT64_MIN;
}

// After the packet of planned frame `at` (its pts), the decoder holds all that
// frame needs, and the next planned frame (if any) lies beyond a keyframe that
// comes after this packet: what else it would decode before that seek is wasted.
static int drain_after(const vtc_video *v, int32_t at, int64_t pts) {
    return at + 1 >= v->plan_n || keyframe_before(v, v->plan_pts[at + 1]) > pts;
}

// Decodes the next frame into v->frame and its pts into v->frame_pts, without
// giving it an index. 1 = a frame, 0 = end of stream.
static int decode_raw(vtc_video *v) {
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
            // a packet of no planned frame: its picture may go undecoded if nothing refers to it
            const int32_t at = v->skip_nonref ? plan_position(v, v->pkt->pts) : -2;
            v->dec->skip_frame = at == -1 ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
            err = avcodec_send_packet(v->dec, v->pkt);
            if (err == AVERROR(ENOMEM)) {
                av_packet_unref(v->pkt);
                return av_fail(v, err, "decoding failed");
            }
            if (at >= 0 && drain_after(v, at, v->pkt->pts)) { // out with what it holds; the next read seeks
                v->eof_sent = 1;
                v->drained = 1;
                avcodec_send_packet(v->dec, NULL);
            }
        }
        av_packet_unref(v->pkt);
    }
    v->decoded++;
    // the packet's pts, which the index pass collected; the guess only where there is none
    v->frame_pts = v->frame->pts != AV_NOPTS_VALUE ? v->frame->pts : v->frame->best_effort_timestamp;
    return 1;
}

static int not_in_index(const vtc_video *v) {
    return vtc_set_error(VTC_ERR_FORMAT,
                         "%s: the decoder output a frame at %.3f s, which is not in the video's frame index "
                         "(damaged or inconsistent timestamps)",
                         v->name, seconds_since_first(v, v->frame_pts));
}

// Decodes the next frame and gives it its index (see the top of the file).
// 1 = a frame, 0 = end of stream.
static int next_frame(vtc_video *v) {
    int got = decode_raw(v);
    if (got != 1) return got;
    const int64_t pts = v->frame_pts;
    int64_t k;
    if (v->locate == LOCATE_COUNT || pts == AV_NOPTS_VALUE) {
        k = v->next_index; // -1 after a seek: not known
    } else if (pts < v->first_pts) {
        k = -1; // a leading picture from before frame 0, after a seek into an open GOP
    } else if (v->locate == LOCATE_GRID) {
        int64_t d;
        if (__builtin_sub_overflow(pts, v->first_pts, &d) || d % v->step) return not_in_index(v);
        k = d / v->step;
    } else {
        k = table_find(v, pts);
        if (k >= v->table_n || v->table[k] != pts) return not_in_index(v);
    }
    if (k >= v->n_frames) return not_in_index(v);
    // after a seek, frames that miss references (open GOPs) may be dropped or concealed
    // (while non-reference frames are skipped a missing frame is one of them; the
    // decoder's own flags still say when a frame lacks its references)
    if (k >= 0 && ((!v->skip_nonref && v->next_index >= 0 && k != v->next_index) ||
                   (v->frame->flags & AV_FRAME_FLAG_CORRUPT) || v->frame->decode_error_flags))
        v->gap = 1;
    v->frame_index = k;
    v->next_index = k >= 0 ? k + 1 : -1;
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
    // frame threading (several frames decoded at once, output delayed by the thread
    // count) and slice threading; the frames are the same bytes either way
    v->dec->thread_count = v->threads;
    v->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    // the decoder's threads log outside vtc's calls' threads: their messages get a
    // level no callback prints (the thread contexts copy this offset)
    v->dec->log_level_offset = LOG_OFFSET;
    v->dec->opaque = v; // and the errors they log are counted for v (log_filter)
    v->dec->max_pixels = max_px;
    if ((err = avcodec_open2(v->dec, codec, NULL)) < 0) return av_fail(v, err, "cannot open the decoder");

    if (!v->pkt) v->pkt = av_packet_alloc();
    if (!v->frame) v->frame = av_frame_alloc();
    if (!v->pkt || !v->frame) return vtc_set_error(VTC_ERR_NOMEM, "%s: out of memory", v->name);
    v->eof_sent = 0;
    v->drained = 0;
    v->next_index = 0;
    int got = next_frame(v);
    if (got < 0) return got;
    if (got == 0) return vtc_set_error(VTC_ERR_FORMAT, "%s: the video stream has no decodable frame", v->name);
    return VTC_OK;
}

// Back to frame 0 by opening the input afresh (exact whatever the stream's timestamps).
static int rewind_start(vtc_video *v) {
    input_close(&v->in);
    int err;
    int st = input_open(v, &v->in, &err);
    if (!st) st = start_decoding(v);
    if (!st && (v->frame_pts != v->first_pts || v->frame_index != 0)) // not the stream it was: refuse
        st = vtc_set_error(VTC_ERR_FORMAT, "%s: the input changed while reading", v->name);
    if (st) {
        v->failed = st;
        return st;
    }
    v->seeked = 0;
    return VTC_OK;
}

static void clear_plan(vtc_video *v) {
    free(v->plan_pts);
    v->plan_pts = NULL;
    v->plan_n = 0;
    v->skip_nonref = 0;
}

// One thread, every frame, from the start of the stream (see Damage above).
static int decode_plainly(vtc_video *v) {
    clear_plan(v);
    v->threads = 1;
    return rewind_start(v);
}

// ---------------------------------------------------------------- the frame index

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t input_size(const vtc_video *v, AVFormatContext *fmt) {
    if (!v->path) return (int64_t)v->size;
    return fmt->pb ? avio_size(fmt->pb) : -1;
}

// A growable list of timestamps, at most limits.max_memory bytes.
struct ts_list {
    int64_t *ts;
    int64_t n, cap;
};

static int ts_push(const vtc_video *v, struct ts_list *l, int64_t t) {
    if (l->n == l->cap) {
        const int64_t cap = l->cap ? 2 * l->cap : 1024;
        if ((uint64_t)cap > v->limits.max_memory / sizeof(int64_t))
            return vtc_set_error(VTC_ERR_LIMIT, "%s: too many frames to index within the memory limit", v->name);
        int64_t *grown = vtc_realloc(l->ts, (size_t)cap, sizeof *grown);
        if (!grown) return VTC_ERR_NOMEM;
        l->ts = grown;
        l->cap = cap;
    }
    l->ts[l->n++] = t;
    return VTC_OK;
}

// GRID: an MP4/MOV sample table with every sample inside the file, none empty,
// all one duration apart (the table's timestamps are decode times; with a
// constant duration the presentation times are the same grid, shifted).
static int container_grid(vtc_video *v) {
    AVFormatContext *fmt = v->in.fmt;
    if (!strstr(fmt->iformat->name, "mov") || v->first_pts == AV_NOPTS_VALUE) return 0;
    AVStream *st = fmt->streams[v->stream];
    const int n_index = avformat_index_get_entries_count(st);
    const int64_t size = input_size(v, fmt);
    // a fragmented file's table holds the fragments read so far: the count must match the header's
    if (n_index <= 0 || size <= 0 || st->nb_frames != n_index) return 0;
    int64_t count = 0, step = 0, prev = 0;
    for (int i = 0; i < n_index; i++) {
        const AVIndexEntry *e = avformat_index_get_entry(st, i);
        if (!e) return 0;
        if (e->flags & AVINDEX_DISCARD_FRAME) continue;
        if (e->size <= 0 || e->pos < 0 || e->pos > size - e->size) return 0;
        if (count > 0) {
            int64_t d;
            if (__builtin_sub_overflow(e->timestamp, prev, &d) || d <= 0 || (step && d != step)) return 0;
            step = d;
        }
        prev = e->timestamp;
        count++;
    }
    if (count == 0) return 0;
    v->locate = LOCATE_GRID;
    v->count_source = VTC_VIDEO_COUNT_CONTAINER;
    v->n_frames = count;
    v->step = step ? step : 1;
    return 1;
}

// What one pass over the video stream's packets found.
struct pass {
    struct ts_list pts;  // every frame packet's pts
    int missing_pts;     // a frame packet without one
    int64_t key_pts[2];  // pts of the second-to-last and the last keyframe packet, in decode order
    struct ts_list keys; // every keyframe packet's pts
    int damaged_end;     // the demuxer stopped on an error, or the last packet may be cut short
};

// The index pass: the video stream's packets on a second demuxer instance,
// demuxed, not decoded. Empty packets (AVI drop chunks) and discarded ones
// (MP4 edit lists) are not frames.
static int packet_pass(vtc_video *v, struct pass *p) {
    struct input in;
    int err;
    int st = input_open(v, &in, &err);
    if (st) return st;
    AVPacket *pkt = av_packet_alloc();
    if (!pkt) {
        input_close(&in);
        return vtc_set_error(VTC_ERR_NOMEM, "%s: out of memory", v->name);
    }
    const int64_t size = input_size(v, in.fmt);
    int last_corrupt = 0, at_end = 0;
    p->key_pts[0] = p->key_pts[1] = AV_NOPTS_VALUE;
    while ((err = av_read_frame(in.fmt, pkt)) >= 0) {
        if (is_our_packet(v, in.fmt, pkt) && pkt->size > 0 && !(pkt->flags & AV_PKT_FLAG_DISCARD)) {
            if (pkt->pts == AV_NOPTS_VALUE) p->missing_pts = 1;
            else if ((st = ts_push(v, &p->pts, pkt->pts))) break;
            if (pkt->flags & AV_PKT_FLAG_KEY) {
                p->key_pts[0] = p->key_pts[1];
                p->key_pts[1] = pkt->pts;
                if (pkt->pts != AV_NOPTS_VALUE && (st = ts_push(v, &p->keys, pkt->pts))) break;
            }
            last_corrupt = (pkt->flags & AV_PKT_FLAG_CORRUPT) != 0;
            at_end = size > 0 && pkt->pos >= 0 && pkt->pos >= size - pkt->size;
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    if (!st && err == AVERROR(ENOMEM)) st = av_fail(v, err, "reading failed");
    p->damaged_end = (err != AVERROR_EOF) || last_corrupt || at_end || (in.fmt->iformat->flags & AVFMT_TS_DISCONT);
    input_close(&in);
    return st;
}

// Decodes from the keyframe `from` to the end of the stream and makes the
// frames that come out the table's end (the last packets may not decode).
// Unverifiable (no seek, the keyframe does not come out): the table stays.
static int verify_end(vtc_video *v, int64_t from) {
    if (from <= v->first_pts) {
        if (!v->have_frame || v->frame_index != 0) return VTC_OK; // the decoder is at frame 0 after open
        from = v->first_pts;
    } else {
        if (av_seek_frame(v->in.fmt, v->stream, from, AVSEEK_FLAG_BACKWARD) < 0) return VTC_OK;
        avcodec_flush_buffers(v->dec);
        v->eof_sent = 0;
        int got = decode_raw(v);
        if (got <= 0) return got == 0 || vtc_last_status() != VTC_ERR_NOMEM ? VTC_OK : VTC_ERR_NOMEM;
    }
    struct ts_list end = { 0 };
    int st = VTC_OK, got = 1, seen_from = 0;
    while (got == 1) {
        if (v->frame_pts != AV_NOPTS_VALUE && v->frame_pts >= from) {
            seen_from |= v->frame_pts == from;
            if ((st = ts_push(v, &end, v->frame_pts))) break;
        }
        got = decode_raw(v);
    }
    v->have_frame = 0;
    v->next_index = -1; // the next read seeks
    if (st || got < 0) {
        free(end.ts);
        if (!st && vtc_last_status() != VTC_ERR_NOMEM) return VTC_OK; // a decoder failure: the table stays
        return st ? st : VTC_ERR_NOMEM;
    }
    if (seen_from) {
        qsort(end.ts, (size_t)end.n, sizeof *end.ts, cmp_i64);
        int64_t m = 0;
        for (int64_t i = 0; i < end.n; i++)
            if (m == 0 || end.ts[m - 1] != end.ts[i]) end.ts[m++] = end.ts[i];
        const int64_t keep = table_find(v, from);
        if (m <= v->table_n - keep) { // (more frames than packets would be a decoder of its own mind: left alone)
            memcpy(v->table + keep, end.ts, (size_t)m * sizeof *end.ts);
            v->table_n = keep + m;
        }
    }
    free(end.ts);
    return VTC_OK;
}

// TABLE from an index pass. VTC_ERR_UNSUPPORTED (no message) when the packets'
// timestamps cannot identify the frames: then a decode pass counts them.
static int index_pass(vtc_video *v) {
    struct pass p = { 0 };
    int st = packet_pass(v, &p);
    if (st || p.missing_pts || p.pts.n == 0) {
        free(p.pts.ts);
        free(p.keys.ts);
        return st ? st : VTC_ERR_UNSUPPORTED;
    }
    // the keyframes from frame 0 on, ascending: where a seek can start (worth_seeking)
    if (p.keys.n > 1) qsort(p.keys.ts, (size_t)p.keys.n, sizeof *p.keys.ts, cmp_i64);
    int64_t n_keys = 0;
    for (int64_t i = 0; i < p.keys.n; i++)
        if (p.keys.ts[i] >= v->first_pts && (n_keys == 0 || p.keys.ts[n_keys - 1] != p.keys.ts[i]))
            p.keys.ts[n_keys++] = p.keys.ts[i];
    v->keys = p.keys.ts;
    v->n_keys = n_keys;
    int64_t *pts = p.pts.ts, n = p.pts.n, skip = 0;
    qsort(pts, (size_t)n, sizeof *pts, cmp_i64);
    while (skip < n && pts[skip] < v->first_pts) skip++; // not frames: the decoder outputs nothing for them
    n -= skip;
    memmove(pts, pts + skip, (size_t)n * sizeof *pts);
    int usable = n > 0 && pts[0] == v->first_pts;
    for (int64_t i = 1; usable && i < n; i++) usable = pts[i] != pts[i - 1]; // equal timestamps: frames untold
    if (!usable) {
        free(pts);
        free(v->keys);
        v->keys = NULL;
        v->n_keys = 0;
        return VTC_ERR_UNSUPPORTED;
    }
    v->table = pts;
    v->table_n = n;
    v->locate = LOCATE_TABLE;
    v->count_source = VTC_VIDEO_COUNT_INDEX;
    if (p.damaged_end) {
        const int64_t from = p.key_pts[0] != AV_NOPTS_VALUE ? p.key_pts[0] : v->first_pts;
        if ((st = verify_end(v, from))) return st;
        vtc_clear_error();
    }
    v->n_frames = v->table_n;
    int64_t lo = INT64_MAX, hi = 0;
    for (int64_t i = 1; i < v->table_n; i++) {
        const int64_t d = v->table[i] - v->table[i - 1];
        if (d < lo) lo = d;
        if (d > hi) hi = d;
    }
    v->vfr = v->table_n > 2 && ((double)hi - (double)lo) * av_q2d(v->tb) > 1.5e-3;
    return VTC_OK;
}

// COUNT from a decode pass: every frame from the one open decoded to the end.
static int decode_pass(vtc_video *v) {
    struct ts_list pts = { 0 };
    int st = VTC_OK, got = v->have_frame ? 1 : 0, ordered = v->first_pts != AV_NOPTS_VALUE;
    while (got == 1) {
        if (pts.n > 0) ordered &= v->frame_pts != AV_NOPTS_VALUE && v->frame_pts > pts.ts[pts.n - 1];
        if ((st = ts_push(v, &pts, v->frame_pts))) break;
        got = decode_raw(v);
    }
    if (!st && got < 0) st = got;
    if (st) {
        free(pts.ts);
        return st;
    }
    v->locate = LOCATE_COUNT;
    v->count_source = VTC_VIDEO_COUNT_DECODE;
    v->n_frames = pts.n;
    v->have_frame = 0;
    v->next_index = pts.n; // past the end: the next read starts afresh
    if (ordered) v->times = vtc_alloc((size_t)pts.n, sizeof *v->times);
    if (ordered && !v->times) {
        free(pts.ts);
        return VTC_ERR_NOMEM;
    }
    if (ordered) { // the frames' own timestamps; otherwise k / fps
        double lo = INFINITY, hi = 0;
        for (int64_t k = 0; k < pts.n; k++) v->times[k] = seconds_since_first(v, pts.ts[k]);
        for (int64_t k = 1; k < pts.n; k++) {
            const double d = v->times[k] - v->times[k - 1];
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        v->vfr = pts.n > 2 && hi - lo > 1.5e-3;
    }
    free(pts.ts);
    return VTC_OK;
}

// Settles the frame index (see the top of the file).
static int build_index(vtc_video *v) {
    if (v->first_pts == AV_NOPTS_VALUE || (v->in.fmt->iformat->flags & AVFMT_NOTIMESTAMPS)) return decode_pass(v);
    if (container_grid(v)) return VTC_OK;
    int st = index_pass(v);
    if (st != VTC_ERR_UNSUPPORTED) return st;
    vtc_clear_error();
    return decode_pass(v);
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
    free(v->times);
    free(v->keys);
    free(v->plan_pts);
    free(v->path);
    free(v);
    quiet_end(0);
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
    double duration = s->duration != AV_NOPTS_VALUE && s->duration > 0 ? s->duration * av_q2d(s->time_base) : 0;
    if (duration <= 0 && v->in.fmt->duration != AV_NOPTS_VALUE && v->in.fmt->duration > 0 &&
        v->in.fmt->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE)
        duration = v->in.fmt->duration / (double)AV_TIME_BASE;
    v->duration = duration;
    // Without a complete index, skip ahead by seeking past ~2 s of frames; for
    // intra-only codecs (every frame a keyframe) past 2 frames.
    const AVCodecDescriptor *cd = avcodec_descriptor_get(s->codecpar->codec_id);
    v->seek_gap = cd && (cd->props & AV_CODEC_PROP_INTRA_ONLY) ? 2 : v->fps > 0 ? (int64_t)(2 * v->fps) + 8 : 64;
    st = build_index(v);
    // a stream found damaged while its index was settled is read plainly from the start
    if (!st && atomic_load(&v->decode_errors) > 0 && v->threads > 1) st = decode_plainly(v);
    return st;
}

static vtc_video *video_new(const char *name, const struct vtc_limits *limits, int n_threads) {
    vtc_video *v = vtc_zalloc(1, sizeof *v);
    if (!v) return NULL;
    snprintf(v->name, sizeof v->name, "%s", name);
    v->limits = limits ? *limits : vtc_limits_default();
    // FFmpeg's own rule for frame threading: one thread more than the cores, so
    // that a thread waiting on a reference does not leave a core idle
    v->threads = n_threads <= 1 ? 1 : n_threads + 1 > MAX_THREADS ? MAX_THREADS : n_threads + 1;
    v->first_pts = AV_NOPTS_VALUE;
    v->locate = LOCATE_COUNT; // frame 0 is counted while the index is being settled
    v->n_frames = INT64_MAX;
    return v;
}

int vtc_video_open(const char *path, const struct vtc_limits *limits, int n_threads, vtc_video **out) {
    *out = NULL;
    if (!path) return vtc_set_error(VTC_ERR_ARG, "vtc_video_open: path is NULL");
    quiet_begin();
    vtc_video *v = video_new(path, limits, n_threads);
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

int vtc_video_open_memory(const void *data, size_t size, const struct vtc_limits *limits, int n_threads,
                          vtc_video **out) {
    *out = NULL;
    if (!data && size) return vtc_set_error(VTC_ERR_ARG, "vtc_video_open_memory: NULL data");
    quiet_begin();
    vtc_video *v = video_new("<memory>", limits, n_threads);
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

// A copy of n elements of size bytes (NULL for none).
static int copy_array(void *dst, const void *src, int64_t n, size_t size) {
    void **d = dst;
    *d = NULL;
    if (!src || n <= 0) return VTC_OK;
    *d = vtc_alloc((size_t)n, size);
    if (!*d) return VTC_ERR_NOMEM;
    memcpy(*d, src, (size_t)n * size);
    return VTC_OK;
}

int vtc_video_open_again(const vtc_video *src, int n_threads, vtc_video **out) {
    *out = NULL;
    quiet_begin();
    vtc_video *v = video_new(src->name, &src->limits, n_threads);
    if (!v) return quiet_end(VTC_ERR_NOMEM);
    v->data = src->data;
    v->size = src->size;
    int st = src->path && !(v->path = vtc_strdup(src->path)) ? VTC_ERR_NOMEM : VTC_OK, err;
    if (!st) st = input_open(v, &v->in, &err);
    if (!st) st = start_decoding(v);
    if (!st && (v->stream != src->stream || v->frame_pts != src->first_pts)) // not the stream it was: refuse
        st = vtc_set_error(VTC_ERR_FORMAT, "%s: the input changed while reading", v->name);
    if (!st) { // the settled frame index, as src has it
        v->fps = src->fps, v->first_pts = src->first_pts, v->rotation = src->rotation, v->duration = src->duration;
        v->seek_gap = src->seek_gap, v->locate = src->locate, v->count_source = src->count_source;
        v->n_frames = src->n_frames, v->step = src->step, v->vfr = src->vfr;
        v->table_n = src->table_n, v->n_keys = src->n_keys;
        st = copy_array(&v->table, src->table, src->table_n, sizeof *v->table);
        if (!st) st = copy_array(&v->keys, src->keys, src->n_keys, sizeof *v->keys);
        if (!st) st = copy_array(&v->times, src->times, src->times ? src->n_frames : 0, sizeof *v->times);
        if (!st && atomic_load(&((vtc_video *)src)->decode_errors) > 0) { // damaged: read plainly (see Damage)
            atomic_store(&v->decode_errors, 1);
            if (v->threads > 1) st = decode_plainly(v);
        }
    }
    if (st) {
        vtc_video_close(v);
        return quiet_end(st);
    }
    *out = v;
    return quiet_end(VTC_OK);
}

int vtc_video_independent(const vtc_video *v, int64_t a, int64_t b) {
    if (v->locate == LOCATE_COUNT || b <= a || a < 0 || b >= v->n_frames) return 0;
    return keyframe_before(v, target_pts(v, b)) > target_pts(v, a);
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


const char *vtc_video_count_source_name(int32_t source) {
    switch (source) {
    case VTC_VIDEO_COUNT_CONTAINER: return "container";
    case VTC_VIDEO_COUNT_INDEX: return "index pass";
    case VTC_VIDEO_COUNT_DECODE: return "decode";
    default: return "?";
    }
}

void vtc_video_get_info(const vtc_video *v, struct vtc_video_info *info) {
    memset(info, 0, sizeof *info);
    int swap = v->rotation == 90 || v->rotation == 270;
    info->width = swap ? v->h : v->w;
    info->height = swap ? v->w : v->h;
    info->n_frames = v->n_frames;
    info->count_source = v->count_source;
    info->fps = v->fps;
    info->duration = v->duration > 0 ? v->duration : v->fps > 0 ? (double)v->n_frames / v->fps : 0;
    info->rotation = v->rotation;
    info->vfr = v->vfr;
    snprintf(info->codec, sizeof info->codec, "%s", v->dec ? avcodec_get_name(v->dec->codec_id) : "?");
    snprintf(info->format, sizeof info->format, "%s", v->in.fmt ? v->in.fmt->iformat->name : "?");
}

int64_t vtc_video_decoded_count(const vtc_video *v) { return v->decoded; }

uint64_t vtc_video_memory(const vtc_video *v) {
    const uint64_t w = (uint64_t)v->w, h = (uint64_t)v->h;
    int frame = v->dec ? av_image_get_buffer_size(v->dec->pix_fmt, v->w, v->h, 32) : -1;
    const uint64_t decoded = frame > 0 ? (uint64_t)frame : w * h * 3;
    const uint64_t n_decoded = 16 + (uint64_t)(v->dec && v->dec->has_b_frames > 0 ? v->dec->has_b_frames : 0) +
                               (uint64_t)(v->dec && v->dec->thread_count > 1 ? v->dec->thread_count : 1) + 1;
    const uint64_t rgb = w * h * 3 * (v->rotation ? 2 : 1);
    const uint64_t index = (uint64_t)v->table_n * sizeof *v->table + (uint64_t)v->n_keys * sizeof *v->keys +
                           (v->times ? (uint64_t)v->n_frames * sizeof *v->times : 0) +
                           (uint64_t)v->plan_n * sizeof *v->plan_pts;
    return n_decoded * decoded + rgb + index;
}

// ---------------------------------------------------------------- sampling

int vtc_video_sample(vtc_video *v, int32_t n_frames, double fps, int rule, int64_t **indices, int32_t *n) {
    *indices = NULL;
    *n = 0;
    if (rule == 2) { // VTC_SAMPLE_QWEN (vtc.h)
        if (n_frames <= 0 && !(v->fps > 0))
            return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: Qwen2-VL's --fps rule needs the video's frame rate, and it "
                                 "has none", v->name);
        int st = vtc_sample_qwen(v->n_frames, v->fps, n_frames, fps, 2, 4, 768, v->limits.max_frames, indices, n);
        if (st == VTC_ERR_ARG)
            return vtc_set_error(st, "%s: Qwen2-VL's sampling rule rounds --frames %d to no frames (it samples pairs)",
                                 v->name, n_frames);
        if (st == VTC_ERR_UNSUPPORTED)
            return vtc_set_error(st, "%s: Qwen2-VL's sampling rule picks more frames than the video's %lld, or a frame "
                                 "past its end, where its processor fails (%s %g)", v->name, (long long)v->n_frames,
                                 n_frames > 0 ? "--frames" : "--fps", n_frames > 0 ? (double)n_frames : fps);

        if (st == VTC_ERR_LIMIT)
            return vtc_set_error(st, "%s: Qwen2-VL's sampling rule picks more than the frame limit %d", v->name,
                                 v->limits.max_frames);
        if (st == VTC_ERR_NOMEM) return vtc_set_error(st, "%s: out of memory", v->name);
        return st;
    }
    if (n_frames > 0) {
        if (n_frames > v->limits.max_frames)
            return vtc_set_error(VTC_ERR_LIMIT, "%s: %d frames sampled exceeds the frame limit %d", v->name, n_frames,
                                 v->limits.max_frames);
        int64_t *idx = vtc_alloc((size_t)n_frames, sizeof *idx);
        if (!idx) return VTC_ERR_NOMEM;
        vtc_sample_uniform(v->n_frames, n_frames, idx);
        *indices = idx;
        *n = n_frames;
        return VTC_OK;
    }
    if (!(fps > 0)) return vtc_set_error(VTC_ERR_ARG, "%s: sampling needs --frames N or --fps F", v->name);
    if (!(fps <= 1e6)) return vtc_set_error(VTC_ERR_ARG, "%s: --fps %g is beyond 10^6", v->name, fps);
    if (v->locate == LOCATE_COUNT && !v->times && !(v->fps > 0))
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: --fps needs timestamps or a frame rate, and the video has neither",
                             v->name);
    int st = vtc_sample_rate(v->n_frames, frame_time_fn, v, fps, v->limits.max_frames, indices, n);
    if (st == VTC_ERR_LIMIT && !(frame_time(v, v->n_frames - 1) * fps < 0x1p52))
        return vtc_set_error(st, "%s: --fps %g over the video's %g s is beyond 2^52 sample times", v->name, fps,
                             frame_time(v, v->n_frames - 1));
    if (st == VTC_ERR_LIMIT)
        return vtc_set_error(st, "%s: --fps %g samples more than the frame limit %d", v->name, fps,
                             v->limits.max_frames);
    if (st == VTC_ERR_NOMEM) return vtc_set_error(st, "%s: out of memory", v->name);
    return st;
}

// ---------------------------------------------------------------- reading

// Seeks so that the decoder's next frames lead to frame k: the first frame after
// the seek must be a keyframe at or before k (and at or before the pts `limit`).
static int seek_to(vtc_video *v, int64_t k, int64_t limit) {
    const int64_t target = target_pts(v, k);
    int64_t back = clamp_ts(1.0 / av_q2d(v->tb)); // 1 s
    if (back < 1) back = 1;
    int64_t ts = target < limit ? target : limit;
    const int64_t before = v->have_frame ? v->frame_index : v->next_index - 1;
    for (int attempt = 0; attempt < SEEK_TRIES; attempt++) {
        if (av_seek_frame(v->in.fmt, v->stream, ts, AVSEEK_FLAG_BACKWARD) < 0) break;
        avcodec_flush_buffers(v->dec);
        v->eof_sent = 0;
        v->drained = 0;
        v->next_index = -1;
        v->seeked = 1;
        v->gap = 0;
        int got = next_frame(v);
        const int clean = got == 1 && is_keyframe(v->frame); // decoding starts at a keyframe
        for (int i = 0; got == 1 && v->frame_index < 0 && i < 64; i++) got = next_frame(v);
        if (got < 0) return got;
        if (got && clean && v->frame_index >= 0 && v->frame_index <= k && v->frame_pts <= limit) {
            if (before >= 0 && v->frame_index <= before) v->seek_gap *= 2; // the seek skipped nothing
            v->landing_pts = v->frame_pts;
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
    // The index pass's keyframes: seek when the last keyframe at or before the
    // target comes after the frame decoded last, else decode forward to it.
    if (v->locate == LOCATE_TABLE && v->n_keys > 0 && v->have_frame)
        return keyframe_before(v, target_pts(v, k)) > v->frame_pts;
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

int vtc_video_plan(vtc_video *v, const int64_t *indices, int32_t n) {
    clear_plan(v);
    for (int32_t i = 0; i < n; i++)
        if (indices[i] < 0 || indices[i] >= v->n_frames || (i > 0 && indices[i] < indices[i - 1]))
            return vtc_set_error(VTC_ERR_ARG, "%s: plan: frame %lld of %lld (ascending indices)", v->name,
                                 (long long)indices[i], (long long)v->n_frames);
    // Only where frames are told apart by pts, and only H.264, whose nal_ref_idc 0
    // means no picture refers to this one (HEVC's sub-layer non-reference pictures
    // may still be referred to by higher sub-layers; other codecs: not measured).
    if (n <= 0 || v->locate == LOCATE_COUNT || !v->dec || v->dec->codec_id != AV_CODEC_ID_H264 ||
        atomic_load(&v->decode_errors) > 0)
        return VTC_OK;
    v->plan_pts = vtc_alloc((size_t)n, sizeof *v->plan_pts);
    if (!v->plan_pts) return VTC_ERR_NOMEM;
    for (int32_t i = 0; i < n; i++)
        if (v->plan_n == 0 || v->plan_pts[v->plan_n - 1] != target_pts(v, indices[i]))
            v->plan_pts[v->plan_n++] = target_pts(v, indices[i]);
    v->skip_nonref = 1;
    return VTC_OK;
}

// Decodes until v->frame holds frame k. Where decoding began at a seek and
// frame k does not come out, or a frame since the seek was skipped or damaged
// (an open GOP's references lie before its keyframe), it starts again from the
// keyframe before that one, twice, then from the start of the stream; only
// decoding from the start says that frame k does not decode.
static int read_frame(vtc_video *v, int64_t k) {
    if (v->have_frame && v->frame_index == k) return VTC_OK;
    int64_t limit = INT64_MAX;
    for (int attempt = 0;; attempt++) {
        const int behind = v->next_index < 0 || v->drained || (v->have_frame ? k < v->frame_index : k < v->next_index);
        int st = VTC_OK;
        if (v->locate == LOCATE_COUNT || v->seek_broken) {
            if (behind) st = rewind_start(v);
        } else if (attempt >= 3 || (attempt > 0 && limit <= v->first_pts)) {
            st = rewind_start(v);
        } else if (attempt > 0 || behind || worth_seeking(v, k)) {
            st = seek_to(v, k, limit);
        }
        if (st) return st;
        int got = 1;
        while (got == 1 && !(v->have_frame && v->frame_index >= k)) got = next_frame(v);
        if (got < 0) return got;
        // A damaged frame is concealed from the frames decoded before it and by the
        // decoder's threads in their own order: on one thread, every frame decoded,
        // it is the CLI's (with one thread, or its default where that matches).
        const int damaged = atomic_load(&v->decode_errors) > 0 ||
                            (got == 1 && ((v->frame->flags & AV_FRAME_FLAG_CORRUPT) || v->frame->decode_error_flags));
        if (damaged && (v->threads > 1 || v->skip_nonref)) {
            if ((st = decode_plainly(v))) return st;
            limit = INT64_MAX;
            continue;
        }
        if (got == 1 && v->frame_index == k && !(v->seeked && v->gap)) return VTC_OK;
        if (v->skip_nonref) { // it went undecoded as a non-reference frame: again, decoding every frame
            clear_plan(v);
            v->next_index = -1;
            limit = INT64_MAX;
            continue;
        }
        if (!v->seeked) {
            if (got == 0)
                return vtc_set_error(VTC_ERR_FORMAT, "%s: frame %lld of %lld does not decode: the stream ends before "
                                     "it (truncated or corrupt?)", v->name, (long long)k, (long long)v->n_frames);
            return vtc_set_error(VTC_ERR_FORMAT, "%s: frame %lld of %lld does not decode: the decoder skipped it "
                                 "(corrupt?)", v->name, (long long)k, (long long)v->n_frames);
        }
        // the keyframe before the one that seek landed on
        limit = v->landing_pts != AV_NOPTS_VALUE && v->landing_pts > v->first_pts ? v->landing_pts - 1 : v->first_pts;
    }
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
    if (index < 0 || index >= v->n_frames)
        return vtc_set_error(VTC_ERR_ARG, "%s: frame %lld of a video of %lld frames", v->name, (long long)index,
                             (long long)v->n_frames);
    if (v->failed)
        return vtc_set_error(v->failed, "%s: the input could not be reopened by an earlier read; open it afresh",
                             v->name);
    quiet_begin();
    if (v->skip_nonref && !(v->have_frame && v->frame_index == index) && !planned(v, target_pts(v, index))) {
        clear_plan(v); // a frame outside the plan may already have gone undecoded: start afresh
        v->next_index = -1;
    }
    int st = read_frame(v, index);
    if (st) return quiet_end(st);
    if (timestamp) *timestamp = frame_time(v, index);
    return quiet_end(convert(v, v->frame, frame));
}
