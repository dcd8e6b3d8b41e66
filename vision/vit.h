// The ViT vision encoder (CLIP / SigLIP) and the LLaVA projector: f32 on
// OpenBLAS, or bf16 on oneDNN (docs/speed.md#bf16).
#ifndef VTC_VIT_H
#define VTC_VIT_H

#include "model.h"

#include "base/matmul.h"

#include <stdatomic.h>

// Where a context's forward passes run their matrix products: NULL (or a NULL
// pack) for f32 on OpenBLAS; else bf16 on oneDNN, each linear layer whose
// weight is in `pack` (the model's, vtc_model_pack_bf16) and the attention's
// two products. A failure on any thread of a pass is kept here (the first one)
// and returned by the pass.
struct vtc_bf16 {
    vtc_mm *mm;              // the context's primitives
    const vtc_mm_pack *pack; // the model's packed weights
    atomic_int status;       // the pass's first failure, VTC_OK if none
    char error[512];         // its message
};
// Records status and the calling thread's error message, unless one is already kept.
void vtc_bf16_fail(struct vtc_bf16 *bf, int status);
// The kept status (VTC_OK if none), cleared, with its message set on the calling thread.
int vtc_bf16_take(struct vtc_bf16 *bf);

// Packs the model's linear-layer weights to bf16 for oneDNN (once per model:
// later calls return at once; thread-safe). VTC_OK or a status with the error set.
int vtc_model_pack_bf16(struct vtc_model *m);

// Scratch buffers for forward passes of `model` with up to n_threads threads
// (reused across calls), running on bf (NULL: f32; it must outlive the scratch).
typedef struct vtc_vit_scratch vtc_vit_scratch;
vtc_vit_scratch *vtc_vit_scratch_new(const struct vtc_model *model, int n_threads, struct vtc_bf16 *bf);
void vtc_vit_scratch_free(vtc_vit_scratch *s);
// The bytes its buffers take.
size_t vtc_vit_scratch_bytes(const vtc_vit_scratch *s);

// What one image's forward pass produces. Arrays are caller-provided with the
// sizes given; any of them may be NULL to skip it (cls_attn_last NULL also skips
// the blocks after the feature block).
struct vtc_vit_out {
    float *features;      // [P, F]   P = grid^2 patch tokens, the feature blocks' outputs side by
                          //          side (F = feature_dim: D per feature block)
    float *cls;           // [F]      CLS row of the feature blocks' outputs (CLIP)
    float *cls_attn;      // [P]      head-mean CLS->patch attention in the feature block
                          //          (SigLIP: mean attention each patch receives)
    float *cls_attn_last; // [P]      the same in the last block present
    float *cls_attn_first;// [P]      the same in the first block
    float *keys;          // [P, head_dim] head-mean keys of the feature block
    double flops;         // out: FLOPs executed (2 per multiply-accumulate)
};

// pixels: [3, S, S] normalised CHW. Thread-safe for distinct scratch buffers.
// Parallelism is vtc's own (n_threads, at most the scratch's); each BLAS or
// oneDNN call is made from one of those threads and runs single-threaded
// (vtc_blas_single_thread(), base/matmul.h).
int vtc_vit_forward(const struct vtc_model *m, vtc_vit_scratch *s, const float *pixels,
                    int n_threads, struct vtc_vit_out *out);

// The projector: x [n, feature_dim] -> y [n, lm_dim]: linear_2(gelu(linear_1(x)))
// (LLaVA's, and Qwen's merger MLP), on bf as the encoder (NULL: f32). tmp has
// n * vtc_project_hidden(m) floats. Returns VTC_OK or a status (bf16 only);
// *flops receives the FLOPs executed.
int vtc_project(const struct vtc_model *m, struct vtc_bf16 *bf, const float *x, int n, float *tmp, float *y,
                int n_threads, double *flops);
// The projector's hidden width (linear_1's outputs).
static inline int vtc_project_hidden(const struct vtc_model *m) { return m->mm_hidden > 0 ? m->mm_hidden : m->lm_dim; }

// The kernels, for the other towers (qwen2vl.c). Shapes as in vit.c:
// y (n, out) = x (n, in) · w (out, in)^T + b (b may be NULL; accumulate: y += ...),
// in bf16 when bf packs w (a failure is kept in bf);
// y (n, d) = layer_norm(x) * w + b (x == y allowed); x = act(x) element-wise.
void vtc_vit_linear(struct vtc_bf16 *bf, const float *x, int n, int in, const float *w, const float *b, int out,
                    float *y, int accumulate, int n_threads);
void vtc_vit_layer_norm(const float *x, float *y, int n, int d, const float *w, const float *b, float eps,
                        int n_threads);
void vtc_vit_activate(float *x, size_t count, int act, int n_threads);

// The CLIP / SigLIP families' loader (vit_load.c), both file formats: fills m
// (whose family and post_ln the caller set) from ld.
struct vtc_load;
int vtc_vit_load(struct vtc_model *m, struct vtc_load *ld);
// 1 when ld holds a ViT tower with (with_cls) or without a class embedding.
int vtc_vit_claims(const struct vtc_load *ld, int with_cls);
// safetensors: finds the tower's and the projector's name prefixes in ld; -1 if no tower.
int vtc_vit_find_prefix(struct vtc_load *ld);

#endif
