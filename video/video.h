// Video input with FFmpeg: demux (libavformat), decode (libavcodec), convert
// to RGB24 (libswscale) with the bytes `ffmpeg -i IN -pix_fmt rgb24` gives,
// honour the rotation in the stream's display matrix, and read frames by
// seeking, not by decoding the whole file. Which frames to sample is sample.h's.
//
// Frame numbering: index k is the k-th frame the decoder outputs, in
// presentation order, counting from 0 — the `n` of the CLI's
// `-vf select=eq(n\,k)` with `-fps_mode passthrough` (`-vsync 0`). How many
// there are and where each one is is settled when the video is opened (video.c
// says how) and never changes. Timestamps are seconds since frame 0.
//
// Thread-safety: a vtc_video belongs to one thread at a time; different
// handles may be used from different threads.
#ifndef VTC_VIDEO_H
#define VTC_VIDEO_H

#include <stddef.h>
#include <stdint.h>

#include "vtc.h"

typedef struct vtc_video vtc_video;

// Where a video's frame count comes from.
enum {
    VTC_VIDEO_COUNT_CONTAINER, // an MP4/MOV sample table, complete and evenly timed
    VTC_VIDEO_COUNT_INDEX,     // one pass over the packets, demuxing only (the end decoded when it may be damaged)
    VTC_VIDEO_COUNT_DECODE,    // decoding every frame once (packets without usable timestamps)
};

struct vtc_video_info {
    int32_t width, height;  // frame size after rotation
    int64_t n_frames;       // frames the decoder outputs: indices 0 .. n_frames-1
    int32_t count_source;   // VTC_VIDEO_COUNT_*
    double  fps;            // nominal frame rate (0 when the stream has none)
    double  duration;       // seconds
    int32_t rotation;       // degrees clockwise applied to the frames (0, 90, 180, 270)
    int32_t vfr;            // 1: the frames are not evenly spaced in time
    char    codec[32];      // decoder name ("h264", "mpeg4", "mjpeg", ...)
    char    format[32];     // demuxer name ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi", ...)
};

// "container", "index pass" or "decode".
const char *vtc_video_count_source_name(int32_t source);

// 1 when FFmpeg can demux `path` and it has a video stream with a decoder (not
// just cover art), 0 when it is something else, VTC_ERR_IO when it cannot be
// read. Reads the header only. FFmpeg also demuxes still images (PNG, JPEG), so
// callers that treat images differently check for them first.
int vtc_video_probe(const char *path);

// Opens a video file (anything FFmpeg demuxes), decodes its first frame (so a
// file without a decodable frame fails here) and settles the frame index: from
// the container, by one pass over the packets, or by decoding every frame where
// the packets' timestamps cannot tell the frames apart (video.c). With n_threads
// > 1 the decoder runs n_threads + 1 threads (frame and slice threading; FFmpeg's
// own rule for its automatic count; at most 16), else one; the frames are the
// same bytes whatever the count. *out: caller closes with vtc_video_close.
int vtc_video_open(const char *path, const struct vtc_limits *limits, int n_threads, vtc_video **out);
// The same over a memory buffer, which must outlive the handle (for fuzzing and hosts
// that hold the bytes).
int vtc_video_open_memory(const void *data, size_t size, const struct vtc_limits *limits, int n_threads,
                          vtc_video **out);
void vtc_video_close(vtc_video *v);
// A second handle on v's input, with v's frame index (no index pass again) and
// a decoder of its own on n_threads threads: for reading other frames at the
// same time on another thread. v must have been opened, and may be used (from
// its own thread) meanwhile. *out: caller closes with vtc_video_close.
int vtc_video_open_again(const vtc_video *v, int n_threads, vtc_video **out);
// 1 when frame b (> a) decodes from a keyframe that comes after frame a, so that
// reading b after a costs a seek and nothing decoded for a: the two can be read
// by different handles. 0 where that is not known (no timestamps, no keyframe index).
int vtc_video_independent(const vtc_video *v, int64_t a, int64_t b);
void vtc_video_get_info(const vtc_video *v, struct vtc_video_info *info);

// Frame indices to sample (*indices: caller frees with free(); *n of them, ascending),
// sample.h's rules over the video's frame index:
// - n_frames > 0: floor(linspace(0, total-1, n_frames)) (vtc_sample_uniform);
// - otherwise fps > 0: the first frame at or after each multiple of 1/fps s, each
//   frame once (vtc_sample_rate); fps above 10^6 is VTC_ERR_ARG.
// More than limits.max_frames indices is VTC_ERR_LIMIT.
// With rule VTC_SAMPLE_QWEN, Qwen2-VL's video processor's rule instead (sample.h
// vtc_sample_qwen; min 4, max 768 frames, its defaults), on the stream's nominal rate.
int vtc_video_sample(vtc_video *v, int32_t n_frames, double fps, int rule, int64_t **indices, int32_t *n);

// Decodes frame `index` (0 <= index < n_frames, else VTC_ERR_ARG) as RGB (*frame:
// caller frees with vtc_image_free) and its timestamp (seconds since frame 0; may be
// NULL). Any order works; ascending is cheapest: a frame far ahead is reached by
// seeking to the keyframe before it and decoding forward to it, a frame just ahead
// by decoding forward, the same index again without decoding. A frame that does
// not decode (a damaged file) is VTC_ERR_FORMAT, never another frame. Peak memory
// is one decoded frame plus the decoder's.
int vtc_video_read(vtc_video *v, int64_t index, vtc_image **frame, double *timestamp);

// The frames that will be read (indices, ascending; repeats allowed), n of them;
// n = 0 clears it. With a plan the decoder may leave undecoded the frames no
// planned frame needs: for H.264, whose non-reference pictures nothing refers
// to, the packets of frames outside the plan are decoded with skip_frame
// NONREF, and the decoder is drained once the last planned frame before a seek
// is in. Reads follow the plan; a read outside it clears it first (and starts
// decoding afresh, since a frame already skipped cannot come back).
// VTC_ERR_ARG for an index out of range, VTC_ERR_NOMEM.
int vtc_video_plan(vtc_video *v, const int64_t *indices, int32_t n);

// Frames the decoder has output since open (to check that seeking skips work).
int64_t vtc_video_decoded_count(const vtc_video *v);

// The memory reading frames holds, for max_memory (docs/library.md#memory): the
// frame index, the RGB frame a read returns (and its rotated copy), and the
// decoder's frames, counted as one decoded frame in the stream's pixel format for
// each of 16 references, the decoder's delay and each decoding thread, and the
// frame being converted (FFmpeg does not report its own use).
uint64_t vtc_video_memory(const vtc_video *v);

#endif
