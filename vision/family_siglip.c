// SigLIP's vision tower (transformers' SiglipVisionModel; so400m-patch14-384 is
// LLaVA-OneVision's tower): no class token, no pre-LayerNorm, tanh GELU,
// normalisation 0.5 / 0.5, a plain resize to the square input. The patch
// convolution has no padding, so 384 / 14 gives a 27 x 27 grid and leaves the
// last 6 pixel rows and columns unused. A plain tower's last_hidden_state
// passes through post_layernorm (modeling_siglip.py), hidden_states[k] does
// not; the pooling head is never part of the features. With no CLS token the
// attention statistic is the mean attention each patch receives.
#include "family.h"
#include "loader.h"

static const float HALF[3] = { 0.5f, 0.5f, 0.5f };
static const char *const TYPES[] = { "siglip_vision_model", "siglip", NULL };

static int claims(const struct vtc_load *ld) { return vtc_vit_claims(ld, 0); }

const struct vtc_family vtc_family_siglip = {
    .name = "siglip",
    .model_types = TYPES,
    .claims_tensors = claims,
    .act = VTC_ACT_GELU_TANH,
    .eps = 1e-6f,
    .mean = HALF,
    .std = HALF,
    .aspect = VTC_ASPECT_RESIZE,
    .stat = VTC_STAT_RECEIVED,
    .post_ln_last = 1,
    .config_heads = 12,       // SiglipVisionConfig
    .config_image_size = 224,
    .load = vtc_vit_load,
    .scratch_new = vtc_vit_scratch_new,
    .scratch_free = vtc_vit_scratch_free,
    .forward = vtc_vit_forward,
};
