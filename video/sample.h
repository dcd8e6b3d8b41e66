// Which frames a video is sampled at: pure functions of the frame count and the
// frames' timestamps, apart from the FFmpeg code that finds those (video.c) so a
// host or a test can apply the same rules to frames it has itself.
#ifndef VTC_SAMPLE_H
#define VTC_SAMPLE_H

#include <stdint.h>

// Seconds from frame 0 to frame k; non-decreasing in k.
typedef double (*vtc_frame_time_fn)(const void *ctx, int64_t k);

// `--frames N`: out[i] = floor(linspace(0, total-1, n))[i] as numpy computes it
// (LLaVA-OneVision's loader): i * ((total-1)/(n-1)) in doubles, floored, the last
// one exactly total-1. n > total repeats frames, as that rule does. total >= 1, n >= 1.
void vtc_sample_uniform(int64_t total, int32_t n, int64_t *out);

// `--fps F`: for each t = j/fps (j = 0, 1, ...) up to the last frame's time, the
// first frame whose time is >= t, with a 1 ms tolerance (Matroska stores
// milliseconds); a frame picked for two targets (fps above the video's rate) is
// listed once. *out (ascending, *n of them): caller frees with free().
// VTC_ERR_LIMIT when more than max_samples frames would be picked or the span
// holds more than 2^52 targets; VTC_ERR_NOMEM. Needs total >= 1 and fps in (0, 1e6].
// The loop is O(total + samples) whatever the fps.
int vtc_sample_rate(int64_t total, vtc_frame_time_fn time, const void *ctx, double fps, int32_t max_samples,
                    int64_t **out, int32_t *n);

// Qwen2-VL's video processor (transformers' Qwen2VLVideoProcessor.sample_frames,
// frame_factor = the temporal patch `factor`): with n_frames > 0 that count
// rounded to a multiple of factor (Python's round, halves to even); else
// total / video_fps * fps frames, clamped to [min_frames, min(max_frames, total)
// floored to the factor] and floored to the factor. The indices are
// torch.arange(0, total, total / count).int() as torch's CPU kernel computes
// them (double arithmetic, stored as float32, truncated; in vectors of 8
// floats built from a float32 base, the last < 16 one by one): one more than
// `count` when the float division rounds so. *out (ascending, *n of them):
// caller frees with free(). VTC_ERR_ARG when the rule gives no frame;
// VTC_ERR_UNSUPPORTED when it gives more frames than the video has or an index
// rounded past its end (the processor raises there); VTC_ERR_LIMIT over
// max_samples, VTC_ERR_NOMEM.
int vtc_sample_qwen(int64_t total, double video_fps, int32_t n_frames, double fps, int factor, int min_frames,
                    int max_frames, int32_t max_samples, int64_t **out, int32_t *n);

#endif
