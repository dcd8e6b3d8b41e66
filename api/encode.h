// The encode half of the public API, shared by api.c (contexts, images, tiles)
// and stream.c (frames from a source: vtc_encode_source, _frames, _file).
#ifndef VTC_API_ENCODE_H
#define VTC_API_ENCODE_H

#include <stdint.h>

#include "vision/model.h"
#include "vision/vit.h"
#include "video/source.h"
#include "vtc.h"

struct vtc_ctx {
    const vtc_model *model;
    struct vtc_ctx_params params;
    int n_threads;
    vtc_vit_scratch *scratch;
    int precision;            // enum vtc_precision, resolved (F32 or BF16)
    struct vtc_bf16 bf;       // bf16: the engine the scratch runs on (vit.h)
    char engine[160];         // vtc_ctx_precision's line
    float *pixels; // [3, S, S]
    char error[1024];
};

// Records the thread's last error on the context and passes the status through.
int vtc_ctx_fail(vtc_ctx *ctx, int status);

// A features struct for T tiles (frames, or an anyres image's tiles) of the
// model's grid, after the token and single-buffer limits; NULL with the status in *st.
vtc_features *vtc_features_for(vtc_ctx *ctx, int T, int with_timestamps, int *st);

// The same for T frames of an H x W token grid (a native-resolution model's).
vtc_features *vtc_features_grid(vtc_ctx *ctx, int T, int H, int W, int with_timestamps, int *st);

// The token limit and the single-buffer memory limit for T tiles.
int vtc_check_tokens(const vtc_ctx *ctx, int T);
// The same for T frames of an H x W token grid.
int vtc_check_grid(const vtc_ctx *ctx, int T, int H, int W);

// A native-resolution model (Qwen2-VL, VTC_LAYOUT_NATIVE): frames of one size,
// smart_resize'd, paired by the temporal patch, through the tower in one grid.
int vtc_encode_native(vtc_ctx *ctx, const vtc_image *const *frames, int n_frames, const double *timestamps,
                      vtc_features **out);

// Memory an encode of T tiles takes (docs/library.md#memory): *tokens the
// features vtc_features_for allocates for them, *encoder the context's scratch and
// input buffers and the projector's; then checked with `in_flight` (the frames
// in flight: decoders, images, model inputs) against the model's max_memory.
int vtc_check_memory(const vtc_ctx *ctx, int T, uint64_t in_flight);

// Runs the tower (and the projector) on pixels [3, S, S] into tile/frame t of f.
// tmp has grid_h * grid_w * lm_dim floats when f has embeds.
int vtc_encode_tile(vtc_ctx *ctx, vtc_features *f, int t, const float *pixels, float *tmp);

// vtc_encode_frames, with `in_flight` bytes of the frames counted against max_memory.
int vtc_encode_array(vtc_ctx *ctx, const vtc_image *const *frames, int32_t n_frames, const double *timestamps,
                     uint64_t in_flight, vtc_features **out);

// vtc_encode_file_save on a video already open (its sampled frames).
int vtc_encode_video_save(vtc_ctx *ctx, vtc_video_source *vs, const char *out_path, const char *const *metadata,
                          vtc_features **info);

// What a file is by content: 1 PNG, 2 JPEG, 0 something else (maybe a video),
// -1 unreadable (errno set).
int vtc_sniff_image(const char *path);
// The sampling rule AUTO resolved for model m (Qwen2-VL's processor's for a native model).
struct vtc_sample_params vtc_sample_for_model(const vtc_model *m, struct vtc_sample_params sample);
// Sampling parameters as vtc_media_load takes them (VTC_ERR_ARG naming path otherwise).
int vtc_check_sample(const char *path, struct vtc_sample_params sample);

#endif
