// The Qwen2-VL and Qwen2.5-VL vision towers (qwen2vl.c) as encoder families:
// native-resolution input (layout "native": smart_resize, 3-D patches of two
// frames), 2-D rotary attention, a 2x2 patch merger whose MLP is the projector.
// Qwen2.5-VL adds RMSNorm, a SiLU-gated MLP and windowed attention. No CLS
// token: the attention statistic is the mean attention a token receives.
#include "family.h"
#include "loader.h"
#include "qwen2vl.h"

static const float CLIP_MEAN[3] = { 0.48145466f, 0.4578275f, 0.40821073f };
static const float CLIP_STD[3] = { 0.26862954f, 0.26130258f, 0.27577711f };
static const char *const TYPES_2[] = { "qwen2_vl", NULL };
static const char *const TYPES_25[] = { "qwen2_5_vl", "qwen2_5_vl_vision", NULL };

static int claims_2(const struct vtc_load *ld) { return vtc_qwen2vl_claims(ld, 0); }
static int claims_25(const struct vtc_load *ld) { return vtc_qwen2vl_claims(ld, 1); }

#define QWEN_FAMILY(NAME, TYPES, CLAIMS, ACT)          \
    {                                                  \
        .name = NAME,                                  \
        .model_types = TYPES,                          \
        .claims_tensors = CLAIMS,                      \
        .act = ACT,                                    \
        .eps = 1e-6f,                                  \
        .mean = CLIP_MEAN,                             \
        .std = CLIP_STD,                               \
        .aspect = VTC_ASPECT_DEFAULT,                  \
        .stat = VTC_STAT_RECEIVED,                     \
        .post_ln_last = 0,                             \
        .config_heads = 16, /* Qwen2VLVisionConfig, Qwen2_5_VLVisionConfig */ \
        .config_image_size = 0,                        \
        .load = vtc_qwen2vl_load,                      \
        .scratch_new = vtc_qwen2vl_scratch_new,        \
        .scratch_free = vtc_qwen2vl_scratch_free,      \
        .forward = NULL,                               \
        .forward_grid = vtc_qwen2vl_forward,           \
    }

const struct vtc_family vtc_family_qwen2vl = QWEN_FAMILY("qwen2vl", TYPES_2, claims_2, VTC_ACT_QUICK_GELU);
const struct vtc_family vtc_family_qwen2_5vl = QWEN_FAMILY("qwen2.5vl", TYPES_25, claims_25, VTC_ACT_SILU);
