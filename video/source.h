// A video as a frame source: its sampled frames (sample.h's rules over the
// frame index video.h settles), decoded in order, one at a time. What
// vtc_encode_file and the CLI stream from (vtc.h's struct vtc_frame_source):
// each frame is converted to RGB as it is asked for and released at the next,
// so a source holds one RGB frame and the decoder's state, however many frames
// are sampled. With threads and sparse samples (a few frames between keyframes)
// workers read runs of frames between keyframes side by side, each on a handle
// of its own, holding two frames at most (source.c).
//
// Thread-safety: a source belongs to one thread at a time (its frame source may
// be called from a thread other than the one that opened it, one call at a time).
#ifndef VTC_VIDEO_SOURCE_H
#define VTC_VIDEO_SOURCE_H

#include <stdint.h>

#include "vtc.h"
#include "video.h"

typedef struct vtc_video_source vtc_video_source;

// Opens the video at path, settles its frame index and samples it (vtc_video_open,
// vtc_video_sample); n_threads decoding threads (<= 1: one). No frame is decoded
// beyond what the index needs. *out: caller closes with vtc_video_source_close.
int vtc_video_source_open(const char *path, struct vtc_sample_params sample, const struct vtc_limits *limits,
                          int n_threads, vtc_video_source **out);
void vtc_video_source_close(vtc_video_source *s);

// The next sampled frame: 1 with *frame (owned by s, valid until the next call or
// the close), its timestamp (seconds since frame 0) and its index in the video
// (either may be NULL); 0 after the last; a negative status on failure.
int vtc_video_source_next(vtc_video_source *s, const vtc_image **frame, double *timestamp, int64_t *index);

// The source for vtc_encode_source: next() is vtc_video_source_next, n_frames
// the sampled count, bytes the memory the decoding holds (vtc_video_source_bytes).
// Valid while s is open.
struct vtc_frame_source vtc_video_source_frames(vtc_video_source *s);

// The memory decoding holds while frames are read, counted against max_memory
// (docs/library.md#memory): vtc_video_memory of the video (the frame index, the
// RGB frame handed out, the decoder's frames), and with n_threads > 1 as much
// again for each of n_threads workers plus the frame each holds for the taking.
uint64_t vtc_video_source_bytes(const vtc_video_source *s);
// Frames the decoders output so far (the video's and the workers'); stops the
// workers: call it after the last frame.
int64_t vtc_video_source_decoded(vtc_video_source *s);

// The sampled frames' indices (ascending; repeated when more frames are sampled
// than there are), *n of them. Owned by s.
const int64_t *vtc_video_source_indices(const vtc_video_source *s, int32_t *n);
// The timestamps of the frames handed out so far (*n of them), in order.
const double *vtc_video_source_timestamps(const vtc_video_source *s, int32_t *n);
void vtc_video_source_info(const vtc_video_source *s, struct vtc_video_info *info);
// The status of a read that failed (a damaged frame, ...), 0 while none has.
int vtc_video_source_failed(const vtc_video_source *s);
// Milliseconds spent opening (the index) and decoding so far.
double vtc_video_source_ms(const vtc_video_source *s);
// The open video, for reading sampled frames again (vtc_video_read; e.g. a picture
// of some of them after the encode).
vtc_video *vtc_video_source_video(vtc_video_source *s);

#endif
