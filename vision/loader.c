// The loading helpers every encoder family uses (loader.h).
#include "loader.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/tensor.h"

const vtc_tensor_view *vtc_load_find(const struct vtc_load *ld, const char *name) {
    return ld->st ? vtc_stset_find(ld->st, name) : vtc_gguf_find_tensor(ld->gguf, name);
}

const vtc_tensor_view *vtc_load_findf(const struct vtc_load *ld, const char *fmt, ...) {
    char name[320];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return len < 0 || (size_t)len >= sizeof name ? NULL : vtc_load_find(ld, name);
}

float *vtc_load_take(struct vtc_arena *a, const struct vtc_load *ld, const char *name, int n_dims,
                     const int64_t *shape, int *status) {
    if (*status) return NULL;
    size_t count = 1;
    for (int i = 0; i < n_dims; i++) {
        if (shape[i] <= 0 || vtc_mul_size(count, (size_t)shape[i], &count)) {
            *status = vtc_set_error(VTC_ERR_FORMAT, "%s: %s: invalid expected shape", ld->path, name);
            return NULL;
        }
    }
    const vtc_tensor_view *t = vtc_load_find(ld, name);
    if (!t) {
        *status = vtc_set_error(VTC_ERR_FORMAT, "%s: missing tensor %s", ld->path, name);
        return NULL;
    }
    // Shapes must match once size-1 dimensions are dropped (GGUF stores 1-D biases
    // and HF stores class_embedding as [D]); the same element count in another
    // shape (a transposed matrix, a reshaped table) is a malformed file.
    int same = 1;
    for (int i = 0, j = 0; same;) {
        while (i < t->n_dims && t->shape[i] == 1) i++;
        while (j < n_dims && shape[j] == 1) j++;
        if (i == t->n_dims || j == n_dims) {
            same = i == t->n_dims && j == n_dims;
            break;
        }
        same = t->shape[i++] == shape[j++];
    }
    if (!same) {
        char want[96] = "", got[96] = "";
        for (int i = 0; i < n_dims; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? "," : "", (long long)shape[i]);
        for (int i = 0; i < t->n_dims; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "," : "", (long long)t->shape[i]);
        *status = vtc_set_error(VTC_ERR_FORMAT, "%s: tensor %s has shape [%s], expected [%s]", ld->path, name,
                                got, want);
        return NULL;
    }
    size_t at = a->used;
    if (vtc_add_size(a->used, count, &a->used)) {
        *status = vtc_set_error(VTC_ERR_FORMAT, "%s: model too large", ld->path);
        return NULL;
    }
    if (!a->filling) return (float *)(uintptr_t)1; // non-NULL marker during sizing
    int st = vtc_tensor_to_f32(t, a->base + at, count);
    if (st) {
        *status = vtc_wrap_error(st, "%s: %s", ld->path, name);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(a->base[at + i])) {
            *status = vtc_set_error(VTC_ERR_FORMAT, "%s: tensor %s holds a NaN or infinite value", ld->path,
                                    name);
            return NULL;
        }
    }
    return a->base + at;
}

float *vtc_load_reserve(struct vtc_arena *a, size_t count, int *status) {
    if (*status) return NULL;
    size_t at = a->used;
    if (vtc_add_size(a->used, count, &a->used)) {
        *status = vtc_set_error(VTC_ERR_FORMAT, "model too large");
        return NULL;
    }
    return a->filling ? a->base + at : (float *)(uintptr_t)1;
}

int vtc_load_weights(struct vtc_model *m, const struct vtc_load *ld,
                     int (*build)(struct vtc_model *m, const struct vtc_load *ld, struct vtc_arena *a, void *user),
                     void *user) {
    struct vtc_arena a = { 0 };
    int st = build(m, ld, &a, user);
    if (st) return st;
    size_t bytes;
    if (vtc_mul_size(a.used, sizeof(float), &bytes) || bytes > m->limits.max_memory)
        return vtc_set_error(VTC_ERR_LIMIT, "%s: weights need %zu floats, over the memory limit", ld->path, a.used);
    m->arena = vtc_alloc(a.used ? a.used : 1, sizeof(float));
    if (!m->arena) return VTC_ERR_NOMEM;
    m->arena_floats = a.used;
    a.base = m->arena;
    a.cap = a.used;
    a.used = 0;
    a.filling = 1;
    return build(m, ld, &a, user);
}

// ---------------------------------------------------------------- config fields

int vtc_cfg_int(const cJSON *o, const char *key, int def, int *out, const char *path) {
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    if (!v || cJSON_IsNull(v)) { *out = def; return 0; }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 1e9)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: \"%s\" must be an integer", path, key);
    *out = (int)v->valuedouble;
    return 0;
}

int vtc_cfg_float(const cJSON *o, const char *key, float def, float *out, const char *path) {
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    if (!v || cJSON_IsNull(v)) { *out = def; return 0; }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return vtc_set_error(VTC_ERR_FORMAT, "%s: \"%s\" must be a number", path, key);
    *out = (float)v->valuedouble;
    return 0;
}

const char *vtc_cfg_str(const cJSON *o, const char *key) {
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int vtc_cfg_vec3(const cJSON *o, const char *key, const float def[3], float out[3], const char *path) {
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    if (!v) { memcpy(out, def, sizeof(float) * 3); return 0; }
    if (cJSON_IsNumber(v)) { // a scalar applies to all channels
        for (int c = 0; c < 3; c++) out[c] = (float)v->valuedouble;
        return 0;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: \"%s\" must be 3 numbers", path, key);
    for (int c = 0; c < 3; c++) {
        const cJSON *e = cJSON_GetArrayItem(v, c);
        if (!cJSON_IsNumber(e)) return vtc_set_error(VTC_ERR_FORMAT, "%s: \"%s\" must be 3 numbers", path, key);
        out[c] = (float)e->valuedouble;
    }
    return 0;
}

int vtc_act_from_name(const char *name, int def, int *out, const char *path) {
    if (!name) { *out = def; return 0; }
    if (!strcmp(name, "quick_gelu")) *out = VTC_ACT_QUICK_GELU;
    else if (!strcmp(name, "gelu")) *out = VTC_ACT_GELU;
    else if (!strcmp(name, "gelu_pytorch_tanh") || !strcmp(name, "gelu_new") || !strcmp(name, "gelu_fast"))
        *out = VTC_ACT_GELU_TANH;
    else if (!strcmp(name, "silu")) *out = VTC_ACT_SILU;
    else return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: unsupported activation \"%s\"", path, name);
    return 0;
}

// ---------------------------------------------------------------- GGUF keys

int vtc_load_gguf_int(const struct vtc_load *ld, const char *key, int required, int def, int *out) {
    int64_t v;
    if (vtc_gguf_find_key(ld->gguf, key) < 0) {
        if (required) return vtc_set_error(VTC_ERR_FORMAT, "%s: missing key %s", ld->path, key);
        *out = def;
        return 0;
    }
    int st = vtc_gguf_get_int(ld->gguf, key, &v);
    if (st) return vtc_wrap_error(st, "%s", ld->path);
    if (v < -1000000000 || v > 1000000000) return vtc_set_error(VTC_ERR_FORMAT, "%s: %s out of range", ld->path, key);
    *out = (int)v;
    return 0;
}

int vtc_load_gguf_float(const struct vtc_load *ld, const char *key, float def, float *out) {
    double v = def;
    if (vtc_gguf_find_key(ld->gguf, key) >= 0) {
        int st = vtc_gguf_get_float(ld->gguf, key, &v); // its message names the file
        if (st) return st;
        if (!isfinite(v)) return vtc_set_error(VTC_ERR_FORMAT, "%s: %s is not a finite number", ld->path, key);
    }
    *out = (float)v;
    return 0;
}

int vtc_load_gguf_mean_std(const struct vtc_load *ld, const float def_mean[3], const float def_std[3], float mean[3],
                           float std[3]) {
    const char *const keys[2] = { "clip.vision.image_mean", "clip.vision.image_std" };
    float *const out[2] = { mean, std };
    const float *const def[2] = { def_mean, def_std };
    for (int i = 0; i < 2; i++) {
        int n = 0;
        memcpy(out[i], def[i], sizeof(float) * 3);
        if (vtc_gguf_find_key(ld->gguf, keys[i]) >= 0 &&
            (vtc_gguf_get_arr_f32(ld->gguf, keys[i], out[i], 3, &n) || n != 3))
            return vtc_set_error(VTC_ERR_FORMAT, "%s: %s must hold 3 numbers", ld->path, keys[i]);
    }
    return 0;
}
