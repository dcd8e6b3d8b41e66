// Encoder families and tile layouts: the vision side's two small interfaces,
// as prune/ has one for methods (docs/design.md#vision-families).
//
// A family is one kind of vision tower: how vtc recognises it (the config's
// model_type first, tensor names second), what its config leaves to defaults,
// how it loads from each file format, how one tile runs through it and what
// that costs. Adding a family is adding its file (defining
// `const struct vtc_family vtc_family_NAME`) and its name on FAMILY_LIST in
// family.c.
//
// A layout is how an image becomes the tower's input tiles and how their
// tokens are laid out for the language model: one tile (CLIP's crop, LLaVA's
// pad, SigLIP's resize), LLaVA-NeXT / LLaVA-OneVision anyres tiling, or a
// native-resolution patch grid (Qwen2-VL's smart_resize; such a family has
// forward_grid instead of forward, and its model a struct vtc_native). The
// layout comes from the VLM wrapper's config (model_type, image_aspect_ratio),
// the family from its vision tower's.
#ifndef VTC_FAMILY_H
#define VTC_FAMILY_H

#include "model.h"
#include "vit.h"

struct vtc_load; // loader.h

struct vtc_family {
    const char *name;                // "clip", "siglip": vtc_model_info.arch
    const char *const *model_types;  // the config model_type values naming this tower, NULL-terminated
    // When no config names the tower: 1 if the file's tensors are this family's.
    int (*claims_tensors)(const struct vtc_load *ld);
    // Defaults for what a config may leave out.
    int act;                         // enum vtc_act of the encoder MLP
    float eps;                       // layer-norm epsilon
    const float *mean, *std;         // image processor normalisation
    int aspect;                      // single-tile preprocessing (enum vtc_aspect)
    int stat;                        // enum vtc_stat: the attention statistic it reports
    int post_ln_last;                // 1 when a plain tower's last_hidden_state carries post_layernorm
    // transformers' config-class defaults, for a config that names the family
    // (model_type) but leaves these out: num_attention_heads, image_size.
    int config_heads, config_image_size;
    // Fills m's geometry and weights from the file (ld), both formats.
    int (*load)(struct vtc_model *m, struct vtc_load *ld);
    // Scratch for forward passes (an opaque handle: each family's own struct),
    // running on bf (NULL: f32; vit.h).
    vtc_vit_scratch *(*scratch_new)(const struct vtc_model *m, int n_threads, struct vtc_bf16 *bf);
    void (*scratch_free)(vtc_vit_scratch *s);
    // One tile: pixels [3, S, S] -> the outputs asked for in *out (vit.h). NULL
    // for a native-resolution family.
    int (*forward)(const struct vtc_model *m, vtc_vit_scratch *s, const float *pixels, int n_threads,
                   struct vtc_vit_out *out);
    // Native-resolution families (layout VTC_LAYOUT_NATIVE), else NULL: one image
    // or clip as a patch grid. patches [grid[0]*grid[1]*grid[2], 3*tp*p*p] are the
    // processor's pixel_values (vtc_preprocess_native: rows in (t, h/m, w/m, m, m)
    // order, columns (c, t', y, x)), grid = (t, h, w) in patches, h and w multiples
    // of the merge size. *out's arrays are per merged token (one per m x m
    // patches, raster order over the merged grid of each temporal slice): features
    // [n, feature_dim], cls_attn* [n], keys [n, head_dim]; cls unused. The scratch
    // grows to the grid (VTC_ERR_NOMEM when it cannot).
    int (*forward_grid)(const struct vtc_model *m, vtc_vit_scratch *s, const float *patches, const int grid[3],
                        int n_threads, struct vtc_vit_out *out);
};

// The family whose model_types include `model_type`, or NULL.
const struct vtc_family *vtc_family_for_type(const char *model_type);
// The family by name ("clip"), or NULL.
const struct vtc_family *vtc_family_named(const char *name);
// The first family whose tensors match, or NULL.
const struct vtc_family *vtc_family_for_tensors(const struct vtc_load *ld);
// "clip, siglip": the supported families, for messages.
const char *vtc_family_list(void);

// A config model_type (or tensor layout) vtc recognises but does not run: the
// name users know it by, for the refusal; NULL when unknown.
const char *vtc_family_unsupported(const char *model_type);

// ---------------------------------------------------------------- layouts

enum vtc_layout_kind {
    VTC_LAYOUT_SINGLE = 0,     // one tile per image (aspect mode: crop, pad or resize)
    VTC_LAYOUT_ANYRES = 1,     // LLaVA-NeXT: base image + pinpoint tiles, unpad, newline per row
    VTC_LAYOUT_ANYRES_MAX = 2, // LLaVA-OneVision: the same, shrunk to max_tiles tiles' worth
    VTC_LAYOUT_NATIVE = 3,     // Qwen2-VL: the image at its own aspect, smart_resize'd to multiples of
                               // patch x merge within [min_pixels, max_pixels], one patch grid
};

// The VLM wrapper a config names, what it implies for the tower.
struct vtc_wrapper {
    const char *model_type;    // "llava", "llava_next", "llava_onevision"
    int layout;                // enum vtc_layout_kind (LLaVA's is "pad" single unless image_aspect_ratio says)
    int feature_layer;         // vision_feature_layer when the config leaves it out
    const char *select;        // vision_feature_select_strategy when the config leaves it out
};
// The wrapper for a top-level config model_type, or NULL (a plain tower or unknown).
const struct vtc_wrapper *vtc_wrapper_for_type(const char *model_type);
// Layout name for messages and vtc_model_info ("single", "anyres", "anyres_max", "native").
const char *vtc_layout_name(int layout);

#endif
