// The one loaded representation of a vision model, whatever file it came from.
// All weights are F32 in a single allocation (`arena`); tensors point into it.
#ifndef VTC_MODEL_H
#define VTC_MODEL_H

#include "base/common.h"
#include "base/matmul.h"

enum vtc_act { VTC_ACT_QUICK_GELU = 0, VTC_ACT_GELU = 1, VTC_ACT_GELU_TANH = 2, VTC_ACT_SILU = 3 };
// The attention statistic a tower reports per patch (vtc_features.cls_attn).
enum vtc_stat { VTC_STAT_CLS_ROW = 0, VTC_STAT_RECEIVED = 1 };

struct vtc_family;   // family.h
struct vtc_pinpoint; // anyres.h

struct vtc_vit_block {
    float *ln1_w, *ln1_b;      // [D]
    float *qkv_w;              // [3D, D]  q, k, v stacked (one sgemm)
    float *qkv_b;              // [3D]
    float *o_w, *o_b;          // [D, D], [D]
    float *ln2_w, *ln2_b;      // [D]
    float *fc1_w, *fc1_b;      // [F, D], [F]
    float *fc2_w, *fc2_b;      // [D, F], [D]
    // Native-resolution towers (struct vtc_native): ln1_b / ln2_b are NULL for
    // RMSNorm; a gated MLP (Qwen2.5-VL) is fc2(act(fc1(x)) * up(x)), fc1 the gate.
    float *up_w, *up_b;        // [F, D], [F], or NULL
    int full_attn;             // 1: attention over the whole temporal slice; 0: within windows
};

// What a native-resolution tower (layout "native": Qwen2-VL, Qwen2.5-VL) adds to
// the model: its input is a grid of patches of 3 x temporal_patch x p x p pixels
// whose sides are multiples of `merge`, and its features are the merger's input.
struct vtc_native {
    int temporal_patch;        // frames per patch (2)
    int merge;                 // spatial_merge_size: merge x merge patches -> one token (2)
    int window;                // window_size in pixels (Qwen2.5-VL 112), 0 = none (all blocks full)
    int rms_norm;              // 1: RMSNorm in the blocks and the merger (2.5), 0: LayerNorm
    int gated_mlp;             // 1: SiLU-gated MLP with bias (2.5)
    int64_t min_pixels, max_pixels; // smart_resize's pixel-count bounds (processor config or params)
    float rope_theta;          // VisionRotaryEmbedding's theta (10000)
    float *ln_q_w, *ln_q_b;    // [D] the merger's norm (ln_q_b NULL for RMSNorm)
};

struct vtc_model {
    char name[128];
    char format[16];           // "safetensors" | "gguf" | "builtin"
    const struct vtc_family *family;
    int layout;                // enum vtc_layout_kind (family.h)
    int act;                   // enum vtc_act (encoder MLP)
    int image_size, patch_size;
    int grid_h, grid_w;        // patches per tile: floor(image_size / patch_size) each way, as
                               // a stride-p convolution without padding gives them
    int hidden, heads, head_dim, ffn;
    int n_layers;              // blocks present
    int feature_block;         // features = output of this block (1..n_layers); with several
                               // feature blocks, the last (where the statistics are taken)
    int n_feature_blocks;      // 1, or the blocks whose outputs are concatenated (LLaVA-NeXT's list
    int feature_blocks[8];     // vision_feature_layer, LLaVA-1.6 GGUF's feature_layer), ascending
    int feature_slot[8];       // where feature_blocks[j]'s output goes: columns [slot*D, (slot+1)*D)
    int feature_dim;           // width of the features: hidden * n_feature_blocks
    int has_cls, has_pre_ln, patch_bias;
    int has_post_ln;           // post_layernorm is in the file (loaded)
    int post_ln;               // features pass through post_layernorm (a plain SigLIP tower's
                               // last_hidden_state); only when they come from the last block
    float eps;
    float image_mean[3], image_std[3];
    int aspect;                // resolved default enum vtc_aspect
    int random_weights;

    float *patch_w;            // [D, 3*p*p] (conv weight flattened c, ky, kx)
    float *patch_b;            // [D] or NULL
    float *class_emb;          // [D] or NULL
    float *pos_emb;            // [n_pos, D], n_pos = grid_h * grid_w + has_cls
    float *pre_ln_w, *pre_ln_b;// [D] or NULL
    float *post_ln_w, *post_ln_b; // [D] when post_ln
    struct vtc_vit_block *blocks; // [n_layers]

    int lm_dim;                // projector output width, 0 if none
    int mm_hidden;             // projector hidden width: 0 = lm_dim (LLaVA); 4D (Qwen's merger MLP)
    float *mm0_w, *mm0_b;      // [mm_hidden, feature_dim], [mm_hidden]
    float *mm2_w, *mm2_b;      // [lm_dim, mm_hidden], [lm_dim]
    float *newline;            // [lm_dim] image_newline (anyres layouts), or NULL

    // Anyres layouts: the pinpoint resolutions (height, width pairs, pixels) and
    // OneVision's tile budget (anyres_max_N; 0 = none).
    int n_pinpoints;
    struct vtc_pinpoint *pinpoints; // [n_pinpoints] (height, width), vision/anyres.h
    int max_tiles;

    struct vtc_native native;  // layout "native" only (family.h)

    float *arena;
    size_t arena_floats;
    vtc_mm_pack *bf16_pack;    // the linear layers' weights in bf16 for oneDNN, made by the first
                               // bf16 context (vtc_model_pack_bf16), or NULL
    struct vtc_limits limits;
};

// A CLIP-architecture model with seeded random weights (tests, benchmarks at
// real sizes). Caller frees with vtc_model_free.
struct vtc_random_spec {
    // a CLIP tower (class token, pre-LN, quick GELU) at LLaVA-1.5's pad layout
    const char *name;
    int image_size, patch_size, hidden, heads, ffn, layers, lm_dim;
    uint64_t seed;
};
struct vtc_model *vtc_model_random(const struct vtc_random_spec *spec, struct vtc_model_params params);

// A Qwen2.5-VL tower with seeded random weights (benchmarks at real size):
// RMSNorm, SiLU-gated MLP with bias, attention within windows of `window`
// pixels except in full_blocks, and the merge x merge patch merger (ln_q, then
// its MLP 4D -> 4D -> lm_dim as the projector). Layout native, pixel bounds
// those of the released preprocessor_config.json (3136 .. 12845056). Caller
// frees with vtc_model_free.
struct vtc_random_qwen_spec {
    const char *name;
    int patch_size, temporal_patch, merge, window; // 14, 2, 2, 112
    int hidden, heads, ffn, layers, lm_dim;        // 1280, 16, 3420, 32, 3584 (7B's merger)
    int n_full, full_blocks[8];                    // fullatt_block_indexes: 4, { 7, 15, 23, 31 }
    uint64_t seed;
};
struct vtc_model *vtc_model_random_qwen25vl(const struct vtc_random_qwen_spec *spec, struct vtc_model_params params);

// A safetensors model held in memory (the embedded default): weights is one
// safetensors file's bytes, the JSON texts those of config.json and
// preprocessor_config.json (NULL: defaults); name labels errors. m is a zeroed
// model the caller frees on failure; the weights are copied, not referenced.
int vtc_model_load_memory(struct vtc_model *m, const char *name, const void *weights, size_t size,
                          const char *config_json, const char *preprocessor_json, struct vtc_model_params params);

// Checks a caller's model params; VTC_ERR_ARG naming `who` when one is out of range.
int vtc_model_params_check(const struct vtc_model_params *p, const char *who);

// Resolves a transformers-style vision_feature_layer (-1 last, -2 penultimate,
// k > 0 block k) against n_layers blocks; returns the 1-based block or a negative status.
int vtc_resolve_feature_layer(int layer, int n_layers);

#endif
