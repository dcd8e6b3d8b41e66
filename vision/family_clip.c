// CLIP's vision tower (transformers' CLIPVisionModel; the tower of LLaVA-1.5 and
// LLaVA-NeXT): class token, pre-LayerNorm, quick GELU, CLIP's normalisation,
// shortest-edge resize + centre crop. Its post_layernorm only feeds the pooled
// output, never the patch features. The attention statistic is the CLS row.
#include "family.h"
#include "loader.h"

static const float CLIP_MEAN[3] = { 0.48145466f, 0.4578275f, 0.40821073f };
static const float CLIP_STD[3] = { 0.26862954f, 0.26130258f, 0.27577711f };
static const char *const TYPES[] = { "clip_vision_model", "clip", NULL };

static int claims(const struct vtc_load *ld) { return vtc_vit_claims(ld, 1); }

const struct vtc_family vtc_family_clip = {
    .name = "clip",
    .model_types = TYPES,
    .claims_tensors = claims,
    .act = VTC_ACT_QUICK_GELU,
    .eps = 1e-5f,
    .mean = CLIP_MEAN,
    .std = CLIP_STD,
    .aspect = VTC_ASPECT_CROP,
    .stat = VTC_STAT_CLS_ROW,
    .post_ln_last = 0,
    .config_heads = 12,       // CLIPVisionConfig
    .config_image_size = 224,
    .load = vtc_vit_load,
    .scratch_new = vtc_vit_scratch_new,
    .scratch_free = vtc_vit_scratch_free,
    .forward = vtc_vit_forward,
};
