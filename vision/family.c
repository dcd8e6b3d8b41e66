// The encoder-family registry, the VLM wrappers vtc knows, and the model types
// it recognises but does not run (family.h).
#include "family.h"

#include <stdio.h>
#include <string.h>

// The registry: adding a family is adding its file and its name on this line
// (tensor-based recognition tries them in this order).
#define FAMILY_LIST(X) X(clip) X(siglip) X(qwen2vl) X(qwen2_5vl)

#define DECLARE_FAMILY(name) extern const struct vtc_family vtc_family_##name;
FAMILY_LIST(DECLARE_FAMILY)
#define FAMILY_ENTRY(name) &vtc_family_##name,
static const struct vtc_family *const FAMILIES[] = { FAMILY_LIST(FAMILY_ENTRY) };
#define N_FAMILIES ((int)(sizeof FAMILIES / sizeof FAMILIES[0]))

const struct vtc_family *vtc_family_for_type(const char *model_type) {
    for (int i = 0; model_type && i < N_FAMILIES; i++)
        for (const char *const *t = FAMILIES[i]->model_types; *t; t++)
            if (!strcmp(*t, model_type)) return FAMILIES[i];
    return NULL;
}

const struct vtc_family *vtc_family_named(const char *name) {
    for (int i = 0; name && i < N_FAMILIES; i++)
        if (!strcmp(FAMILIES[i]->name, name)) return FAMILIES[i];
    return NULL;
}

const struct vtc_family *vtc_family_for_tensors(const struct vtc_load *ld) {
    for (int i = 0; i < N_FAMILIES; i++)
        if (FAMILIES[i]->claims_tensors(ld)) return FAMILIES[i];
    return NULL;
}

const char *vtc_family_list(void) {
    static char list[256]; // written once with constant content; a race writes the same bytes
    if (!list[0]) {
        char tmp[256] = "";
        for (int i = 0; i < N_FAMILIES; i++)
            snprintf(tmp + strlen(tmp), sizeof tmp - strlen(tmp), "%s%s", i ? ", " : "", FAMILIES[i]->name);
        memcpy(list, tmp, sizeof list);
    }
    return list;
}

// Vision towers and VLMs users meet that vtc does not run (yet): named in the refusal.
static const struct { const char *model_type, *what; } UNSUPPORTED[] = {
    { "pixtral", "Pixtral (2-D rotary ViT)" },
    { "siglip2_vision_model", "SigLIP2 NaFlex (variable-resolution patches)" },
    { "idefics3", "Idefics3 / SmolVLM (image splitting + pixel shuffle)" },
    { "smolvlm", "SmolVLM (image splitting + pixel shuffle)" },
    { "paligemma", "PaliGemma (SigLIP with a linear projector)" },
    { "mllama", "Llama 3.2 Vision (tiled ViT with cross-attention)" },
    { "internvl", "InternVL (InternViT + pixel shuffle)" },
    { "intern_vit_6b", "InternViT" },
    { "llava_next_video", "LLaVA-NeXT-Video (its video pooling)" },
    { "gemma3", "Gemma 3 (SigLIP with average-pool projector)" },
    { "minicpmv", "MiniCPM-V (resampler)" },
};

const char *vtc_family_unsupported(const char *model_type) {
    for (size_t i = 0; model_type && i < sizeof UNSUPPORTED / sizeof UNSUPPORTED[0]; i++)
        if (!strcmp(UNSUPPORTED[i].model_type, model_type)) return UNSUPPORTED[i].what;
    return NULL;
}

// ---------------------------------------------------------------- wrappers and layouts

// transformers' defaults for each wrapper's config (LlavaConfig, LlavaNextConfig,
// LlavaOnevisionConfig: vision_feature_layer, vision_feature_select_strategy).
static const struct vtc_wrapper WRAPPERS[] = {
    { "llava", VTC_LAYOUT_SINGLE, -2, "default" },
    { "llava_next", VTC_LAYOUT_ANYRES, -2, "default" },
    { "llava_onevision", VTC_LAYOUT_ANYRES_MAX, -1, "full" },
};

const struct vtc_wrapper *vtc_wrapper_for_type(const char *model_type) {
    for (size_t i = 0; model_type && i < sizeof WRAPPERS / sizeof WRAPPERS[0]; i++)
        if (!strcmp(WRAPPERS[i].model_type, model_type)) return &WRAPPERS[i];
    return NULL;
}

const char *vtc_layout_name(int layout) {
    switch (layout) {
    case VTC_LAYOUT_SINGLE: return "single";
    case VTC_LAYOUT_ANYRES: return "anyres";
    case VTC_LAYOUT_ANYRES_MAX: return "anyres_max";
    case VTC_LAYOUT_NATIVE: return "native";
    default: return "?";
    }
}
