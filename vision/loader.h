// What a family's loader gets (vision/family.h): the open model file, its
// parsed configs, and the helpers every loader needs: find a tensor by name in
// either format, check its shape and convert it to F32 into the model's one
// arena (sized in a first pass, filled in a second), read config fields with
// defaults and clear errors.
#ifndef VTC_LOADER_H
#define VTC_LOADER_H

#include <cJSON.h>

#include "base/gguf.h"
#include "base/safetensors.h"
#include "model.h"

struct vtc_load {
    const char *path;          // the file or directory, for messages
    vtc_stset *st;             // safetensors (one or many files), or
    vtc_gguf *gguf;            // a GGUF file
    const cJSON *cfg;          // config.json (NULL: none)
    const cJSON *vc;           // the tower's config: cfg's vision_config, or cfg itself, or NULL
    const cJSON *pre;          // preprocessor_config.json (NULL: none)
    const char *cfg_path, *pre_path;
    const struct vtc_wrapper *wrapper; // the VLM wrapper the config names, or NULL
    const struct vtc_model_params *params;
    char prefix[96];           // safetensors: the tower's tensor-name prefix ("vision_tower.vision_model.")
    char proj_prefix[96];      // safetensors: the projector's prefix ("" or "model.")
};

// The tensor named `name`, or NULL.
const vtc_tensor_view *vtc_load_find(const struct vtc_load *ld, const char *name);
// The same for a printf-style name.
const vtc_tensor_view *vtc_load_findf(const struct vtc_load *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

// The model's arena, planned (filling = 0: only counts) then filled.
struct vtc_arena {
    float *base;
    size_t used, cap;
    int filling;
};
// Checks that `name` exists with exactly this row-major shape (size-1
// dimensions aside) and, when filling, converts it into the next arena slot
// (rejecting NaN/Inf). Returns the slot (a non-NULL marker while sizing) or
// NULL with *status set; does nothing once *status is set.
float *vtc_load_take(struct vtc_arena *a, const struct vtc_load *ld, const char *name, int n_dims,
                     const int64_t *shape, int *status);
// An arena slot with no source tensor (stacked matrices).
float *vtc_load_reserve(struct vtc_arena *a, size_t count, int *status);
// Runs build twice (size, then allocate m->arena within the memory limit and fill).
int vtc_load_weights(struct vtc_model *m, const struct vtc_load *ld,
                     int (*build)(struct vtc_model *m, const struct vtc_load *ld, struct vtc_arena *a, void *user),
                     void *user);

// Config fields: absent (or null) -> def; present but malformed -> VTC_ERR_FORMAT naming path and key.
int vtc_cfg_int(const cJSON *o, const char *key, int def, int *out, const char *path);
int vtc_cfg_float(const cJSON *o, const char *key, float def, float *out, const char *path);
const char *vtc_cfg_str(const cJSON *o, const char *key); // NULL when absent or not a string
int vtc_cfg_vec3(const cJSON *o, const char *key, const float def[3], float out[3], const char *path);
// A transformers hidden_act name -> enum vtc_act; def when name is NULL.
int vtc_act_from_name(const char *name, int def, int *out, const char *path);

// GGUF keys (ld->gguf): an integer key absent -> def, or VTC_ERR_FORMAT naming
// it when required; present but not an integer in +-1e9 -> VTC_ERR_FORMAT.
int vtc_load_gguf_int(const struct vtc_load *ld, const char *key, int required, int def, int *out);
// A float key: absent -> def; present -> a finite number.
int vtc_load_gguf_float(const struct vtc_load *ld, const char *key, float def, float *out);
// The image mean and std (clip.vision.image_mean / image_std, 3 numbers each),
// def_mean / def_std when absent.
int vtc_load_gguf_mean_std(const struct vtc_load *ld, const float def_mean[3], const float def_std[3], float mean[3],
                           float std[3]);

#endif
