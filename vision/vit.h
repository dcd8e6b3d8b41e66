// The ViT vision encoder (CLIP / SigLIP) and the LLaVA projector, on OpenBLAS.
#ifndef VTC_VIT_H
#define VTC_VIT_H

#include "model.h"

// Scratch buffers for forward passes of `model` with up to n_threads threads
// (reused across calls).
typedef struct vtc_vit_scratch vtc_vit_scratch;
vtc_vit_scratch *vtc_vit_scratch_new(const struct vtc_model *model, int n_threads);
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
// Parallelism is vtc's own (n_threads, at most the scratch's); each BLAS call is
// made from one of those threads and expected to run single-threaded
// (vtc_blas_single_thread()).
int vtc_vit_forward(const struct vtc_model *m, vtc_vit_scratch *s, const float *pixels,
                    int n_threads, struct vtc_vit_out *out);

// The projector: x [n, feature_dim] -> y [n, lm_dim]: linear_2(gelu(linear_1(x)))
// (LLaVA's, and Qwen's merger MLP). tmp has n * vtc_project_hidden(m) floats.
// Returns FLOPs executed.
double vtc_project(const struct vtc_model *m, const float *x, int n, float *tmp, float *y,
                   int n_threads);
// The projector's hidden width (linear_1's outputs).
static inline int vtc_project_hidden(const struct vtc_model *m) { return m->mm_hidden > 0 ? m->mm_hidden : m->lm_dim; }

// The kernels, for the other towers (qwen2vl.c). Shapes as in vit.c:
// y (n, out) = x (n, in) · w (out, in)^T + b (b may be NULL; accumulate: y += ...);
// y (n, d) = layer_norm(x) * w + b (x == y allowed); x = act(x) element-wise.
void vtc_vit_linear(const float *x, int n, int in, const float *w, const float *b, int out, float *y, int accumulate,
                    int n_threads);
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
