// Video input with FFmpeg: demux (libavformat), decode (libavcodec), convert
// to RGB24 (libswscale, the ffmpeg CLI's default bicubic scaler), honour the
// rotation in the stream's display matrix, and sample frames by index or rate.
#ifndef VTC_VIDEO_H
#define VTC_VIDEO_H

#include <stddef.h>
#include <stdint.h>

#include "vtc.h"

typedef struct vtc_video vtc_video;

struct vtc_video_info {
    int32_t width, height;  // after rotation
    int64_t n_frames;       // frames in the stream (container count, or estimated)
    int32_t n_frames_exact; // 1 when n_frames was counted or read from the container
    double  fps;            // average frame rate
    double  duration;       // seconds
    int32_t rotation;       // degrees clockwise applied to the frames (0, 90, 180, 270)
    char    codec[32];
};

// Opens a video file (anything FFmpeg demuxes) with at least one video stream.
int vtc_video_open(const char *path, const struct vtc_limits *limits, vtc_video **out);
// The same over a memory buffer (must outlive the handle), for fuzzing.
int vtc_video_open_memory(const void *data, size_t size, const struct vtc_limits *limits, vtc_video **out);
void vtc_video_close(vtc_video *v);
void vtc_video_get_info(const vtc_video *v, struct vtc_video_info *info);

// Frame indices to sample: n_frames > 0 -> floor(linspace(0, total-1, n))
// (LLaVA-OneVision's rule; n > total repeats frames as the rule implies);
// otherwise fps > 0 -> the first frame at or after each multiple of 1/fps
// seconds (by index: floor(k * rate / fps)). *indices (caller frees) gets *n
// ascending indices.
int vtc_video_sample(const vtc_video *v, int32_t n_frames, double fps, int64_t **indices, int32_t *n);

// Decodes frame `index` (0-based, in presentation order) as RGB. Indices must
// not decrease between calls (a sampled list, in order); a jump ahead seeks to
// the keyframe before the target instead of decoding everything in between.
// *frame: caller frees with vtc_image_free; *timestamp: seconds.
int vtc_video_read(vtc_video *v, int64_t index, vtc_image **frame, double *timestamp);

// Frames decoded so far (to check that seeking skips work).
int64_t vtc_video_decoded_count(const vtc_video *v);

// vtc_media_load's video half: open, sample, decode the sampled frames.
vtc_media *vtc_video_load_media(const char *path, int32_t n_frames, double fps, const struct vtc_limits *limits);

#endif
