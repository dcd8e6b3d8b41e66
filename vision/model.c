// Loading vision models into the one representation of model.h: Hugging Face
// safetensors (CLIPVisionModel, SiglipVisionModel, llava-hf's Llava layout) and
// llama.cpp mmproj GGUF files (incl. the legacy LLaVA converter's quirks).
//
// Both formats go through the same steps: find each tensor by name, check its
// shape against the geometry, convert it to F32 into one arena.
#include "model.h"

#include <cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/gguf.h"
#include "base/mapfile.h"
#include "base/safetensors.h"
#include "base/tensor.h"

static const float CLIP_MEAN[3] = { 0.48145466f, 0.4578275f, 0.40821073f };
static const float CLIP_STD[3] = { 0.26862954f, 0.26130258f, 0.27577711f };

int vtc_resolve_feature_layer(int layer, int n_layers) {
    int block = layer < 0 ? n_layers + 1 + layer : layer;
    if (layer == 0 || block < 1 || block > n_layers)
        return vtc_set_error(VTC_ERR_ARG, "feature layer %d is out of range for a model with %d blocks",
                             layer, n_layers);
    return block;
}

// ---------------------------------------------------------------- tensor source

// Where weights come from: a lookup by full name over either file format.
struct source {
    const char *path;
    vtc_stset *st;
    vtc_gguf *gguf;
};

static const vtc_tensor_view *source_find(const struct source *src, const char *name) {
    return src->st ? vtc_stset_find(src->st, name) : vtc_gguf_find_tensor(src->gguf, name);
}

// Arena planning: tensors are first sized (pass 1), then carved and filled (pass 2).
struct arena {
    float *base;
    size_t used, cap;
    int filling;
};

// Checks that `name` exists with exactly the given row-major shape, and (when
// filling) converts it into the next arena slot. Returns the slot or NULL.
static float *take(struct arena *a, const struct source *src, const char *name, int n_dims,
                   const int64_t *shape, int *status) {
    if (*status) return NULL;
    size_t count = 1;
    for (int i = 0; i < n_dims; i++) {
        if (shape[i] <= 0 || vtc_mul_size(count, (size_t)shape[i], &count)) {
            *status = vtc_set_error(VTC_ERR_FORMAT, "%s: %s: invalid expected shape", src->path, name);
            return NULL;
        }
    }
    const vtc_tensor_view *t = source_find(src, name);
    if (!t) {
        *status = vtc_set_error(VTC_ERR_FORMAT, "%s: missing tensor %s", src->path, name);
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
        *status = vtc_set_error(VTC_ERR_FORMAT, "%s: tensor %s has shape [%s], expected [%s]", src->path, name,
                                got, want);
        return NULL;
    }
    size_t at = a->used;
    if (vtc_add_size(a->used, count, &a->used)) {
        *status = vtc_set_error(VTC_ERR_FORMAT, "%s: model too large", src->path);
        return NULL;
    }
    if (!a->filling) return (float *)(uintptr_t)1; // non-NULL marker during sizing
    int st = vtc_tensor_to_f32(t, a->base + at, count);
    if (st) {
        *status = vtc_wrap_error(st, "%s: %s", src->path, name);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(a->base[at + i])) {
            *status = vtc_set_error(VTC_ERR_FORMAT, "%s: tensor %s holds a NaN or infinite value", src->path,
                                    name);
            return NULL;
        }
    }
    return a->base + at;
}

// Reserves an arena slot without a source tensor (the stacked qkv matrix).
static float *reserve(struct arena *a, size_t count, int *status) {
    if (*status) return NULL;
    size_t at = a->used;
    if (vtc_add_size(a->used, count, &a->used)) {
        *status = vtc_set_error(VTC_ERR_FORMAT, "model too large");
        return NULL;
    }
    return a->filling ? a->base + at : (float *)(uintptr_t)1;
}

// ---------------------------------------------------------------- naming

// Names of one file format's tensors; %s is the prefix, %d the block.
struct naming {
    char prefix[96];
    const char *patch_w, *patch_b, *class_emb, *pos_emb, *pre_ln_w, *pre_ln_b;
    const char *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
    const char *ln1_w, *ln1_b, *ln2_w, *ln2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    char proj_prefix[96];
    const char *mm0_w, *mm0_b, *mm2_w, *mm2_b;
};

static const struct naming HF_NAMES = {
    "", "%sembeddings.patch_embedding.weight", "%sembeddings.patch_embedding.bias",
    "%sembeddings.class_embedding", "%sembeddings.position_embedding.weight", "%spre_layrnorm.weight",
    "%spre_layrnorm.bias", "%sencoder.layers.%d.self_attn.q_proj.weight", "%sencoder.layers.%d.self_attn.q_proj.bias",
    "%sencoder.layers.%d.self_attn.k_proj.weight", "%sencoder.layers.%d.self_attn.k_proj.bias",
    "%sencoder.layers.%d.self_attn.v_proj.weight", "%sencoder.layers.%d.self_attn.v_proj.bias",
    "%sencoder.layers.%d.self_attn.out_proj.weight", "%sencoder.layers.%d.self_attn.out_proj.bias",
    "%sencoder.layers.%d.layer_norm1.weight", "%sencoder.layers.%d.layer_norm1.bias",
    "%sencoder.layers.%d.layer_norm2.weight", "%sencoder.layers.%d.layer_norm2.bias",
    "%sencoder.layers.%d.mlp.fc1.weight", "%sencoder.layers.%d.mlp.fc1.bias",
    "%sencoder.layers.%d.mlp.fc2.weight", "%sencoder.layers.%d.mlp.fc2.bias",
    "", "%smulti_modal_projector.linear_1.weight", "%smulti_modal_projector.linear_1.bias",
    "%smulti_modal_projector.linear_2.weight", "%smulti_modal_projector.linear_2.bias",
};

// llama.cpp mmproj. fc1/fc2 are chosen by shape (the legacy converter swaps
// ffn_down/ffn_up), so both MLP names are filled in at load time.
static const struct naming GGUF_NAMES = {
    "", "%sv.patch_embd.weight", "%sv.patch_embd.bias", "%sv.class_embd", "%sv.position_embd.weight",
    "%sv.pre_ln.weight", "%sv.pre_ln.bias", "%sv.blk.%d.attn_q.weight", "%sv.blk.%d.attn_q.bias",
    "%sv.blk.%d.attn_k.weight", "%sv.blk.%d.attn_k.bias", "%sv.blk.%d.attn_v.weight", "%sv.blk.%d.attn_v.bias",
    "%sv.blk.%d.attn_out.weight", "%sv.blk.%d.attn_out.bias", "%sv.blk.%d.ln1.weight", "%sv.blk.%d.ln1.bias",
    "%sv.blk.%d.ln2.weight", "%sv.blk.%d.ln2.bias", "%sv.blk.%d.ffn_up.weight", "%sv.blk.%d.ffn_up.bias",
    "%sv.blk.%d.ffn_down.weight", "%sv.blk.%d.ffn_down.bias",
    "", "%smm.0.weight", "%smm.0.bias", "%smm.2.weight", "%smm.2.bias",
};

#define NAME(buf, fmt, ...) (snprintf((buf), sizeof(buf), (fmt), __VA_ARGS__), (buf))

static int has_tensor(const struct source *src, const char *fmt, const char *prefix, int block) {
    char buf[256];
    snprintf(buf, sizeof buf, fmt, prefix, block);
    return source_find(src, buf) != NULL;
}

// ---------------------------------------------------------------- building

static int build(struct vtc_model *m, const struct source *src, const struct naming *nm, struct arena *a,
                 int fc_swapped) {
    int st = 0;
    char b1[256], b2[256];
    const char *px = nm->prefix;
    const int64_t D = m->hidden, F = m->ffn, p = m->patch_size, npos = (int64_t)m->grid * m->grid + m->has_cls;
    a->used = 0;
    m->patch_w = take(a, src, NAME(b1, nm->patch_w, px), 4, (int64_t[]){ D, 3, p, p }, &st);
    m->patch_b = m->patch_bias ? take(a, src, NAME(b1, nm->patch_b, px), 1, (int64_t[]){ D }, &st) : NULL;
    m->class_emb = m->has_cls ? take(a, src, NAME(b1, nm->class_emb, px), 1, (int64_t[]){ D }, &st) : NULL;
    m->pos_emb = take(a, src, NAME(b1, nm->pos_emb, px), 2, (int64_t[]){ npos, D }, &st);
    if (m->has_pre_ln) {
        m->pre_ln_w = take(a, src, NAME(b1, nm->pre_ln_w, px), 1, (int64_t[]){ D }, &st);
        m->pre_ln_b = take(a, src, NAME(b1, nm->pre_ln_b, px), 1, (int64_t[]){ D }, &st);
    }
    for (int l = 0; l < m->n_layers && !st; l++) {
        struct vtc_vit_block *b = &m->blocks[l];
        // q, k and v are stacked into one [3D, D] matrix (one sgemm per block).
        b->qkv_w = reserve(a, (size_t)(3 * D * D), &st);
        b->qkv_b = reserve(a, (size_t)(3 * D), &st);
        const char *wn[3] = { nm->q_w, nm->k_w, nm->v_w }, *bn[3] = { nm->q_b, nm->k_b, nm->v_b };
        for (int j = 0; j < 3 && !st; j++) {
            float *w = take(a, src, NAME(b1, wn[j], px, l), 2, (int64_t[]){ D, D }, &st);
            float *bias = take(a, src, NAME(b2, bn[j], px, l), 1, (int64_t[]){ D }, &st);
            if (a->filling && !st) {
                memcpy(b->qkv_w + j * D * D, w, sizeof(float) * D * D);
                memcpy(b->qkv_b + j * D, bias, sizeof(float) * D);
            }
            // the separate copies are dead weight once stacked: give their room back
            if (!st) a->used -= (size_t)(D * D + D);
        }
        b->o_w = take(a, src, NAME(b1, nm->o_w, px, l), 2, (int64_t[]){ D, D }, &st);
        b->o_b = take(a, src, NAME(b1, nm->o_b, px, l), 1, (int64_t[]){ D }, &st);
        b->ln1_w = take(a, src, NAME(b1, nm->ln1_w, px, l), 1, (int64_t[]){ D }, &st);
        b->ln1_b = take(a, src, NAME(b1, nm->ln1_b, px, l), 1, (int64_t[]){ D }, &st);
        b->ln2_w = take(a, src, NAME(b1, nm->ln2_w, px, l), 1, (int64_t[]){ D }, &st);
        b->ln2_b = take(a, src, NAME(b1, nm->ln2_b, px, l), 1, (int64_t[]){ D }, &st);
        const char *f1w = fc_swapped ? nm->fc2_w : nm->fc1_w, *f1b = fc_swapped ? nm->fc2_b : nm->fc1_b;
        const char *f2w = fc_swapped ? nm->fc1_w : nm->fc2_w, *f2b = fc_swapped ? nm->fc1_b : nm->fc2_b;
        b->fc1_w = take(a, src, NAME(b1, f1w, px, l), 2, (int64_t[]){ F, D }, &st);
        b->fc1_b = take(a, src, NAME(b1, f1b, px, l), 1, (int64_t[]){ F }, &st);
        b->fc2_w = take(a, src, NAME(b1, f2w, px, l), 2, (int64_t[]){ D, F }, &st);
        b->fc2_b = take(a, src, NAME(b1, f2b, px, l), 1, (int64_t[]){ D }, &st);
    }
    if (m->lm_dim > 0) {
        const char *pp = nm->proj_prefix;
        const int64_t L = m->lm_dim;
        m->mm0_w = take(a, src, NAME(b1, nm->mm0_w, pp), 2, (int64_t[]){ L, D }, &st);
        m->mm0_b = take(a, src, NAME(b1, nm->mm0_b, pp), 1, (int64_t[]){ L }, &st);
        m->mm2_w = take(a, src, NAME(b1, nm->mm2_w, pp), 2, (int64_t[]){ L, L }, &st);
        m->mm2_b = take(a, src, NAME(b1, nm->mm2_b, pp), 1, (int64_t[]){ L }, &st);
    }
    return st;
}

// Two passes over the naming: size the arena, allocate once, fill.
static int load_weights(struct vtc_model *m, const struct source *src, const struct naming *nm, int fc_swapped) {
    struct arena a = { 0 };
    int st = build(m, src, nm, &a, fc_swapped);
    if (st) return st;
    size_t bytes;
    if (vtc_mul_size(a.used, sizeof(float), &bytes) || bytes > m->limits.max_memory)
        return vtc_set_error(VTC_ERR_LIMIT, "%s: weights need %zu floats, over the memory limit", src->path, a.used);
    m->arena = vtc_alloc(a.used, sizeof(float));
    if (!m->arena) return VTC_ERR_NOMEM;
    m->arena_floats = a.used;
    a.base = m->arena;
    a.cap = a.used;
    a.filling = 1;
    return build(m, src, nm, &a, fc_swapped);
}

// Geometry checks shared by both formats, before any tensor is touched.
static int check_geometry(struct vtc_model *m, const char *path) {
    if (m->hidden <= 0 || m->hidden > 16384 || m->heads <= 0 || m->heads > 1024 || m->hidden % m->heads)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: hidden size %d is not divisible into %d heads", path, m->hidden,
                             m->heads);
    if (m->ffn <= 0 || m->ffn > 131072) return vtc_set_error(VTC_ERR_FORMAT, "%s: bad MLP width %d", path, m->ffn);
    if (m->patch_size <= 0 || m->patch_size > 64 || m->image_size <= 0 || m->image_size > 8192 ||
        m->image_size % m->patch_size)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: image size %d is not a multiple of patch size %d", path,
                             m->image_size, m->patch_size);
    if (m->n_layers <= 0 || m->n_layers > 512)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: bad number of encoder blocks %d", path, m->n_layers);
    if (!(m->eps > 0 && m->eps < 1)) return vtc_set_error(VTC_ERR_FORMAT, "%s: bad layer-norm epsilon", path);
    for (int c = 0; c < 3; c++)
        if (!(m->image_std[c] > 0) || !isfinite(m->image_mean[c]) || !isfinite(m->image_std[c]))
            return vtc_set_error(VTC_ERR_FORMAT, "%s: bad image mean/std", path);
    if (m->lm_dim < 0 || m->lm_dim > 65536) return vtc_set_error(VTC_ERR_FORMAT, "%s: bad projector width", path);
    m->grid = m->image_size / m->patch_size;
    m->head_dim = m->hidden / m->heads;
    if ((int64_t)m->grid * m->grid > m->limits.max_tokens)
        return vtc_set_error(VTC_ERR_LIMIT, "%s: %d tokens per image exceeds the token limit", path,
                             m->grid * m->grid);
    m->blocks = vtc_zalloc((size_t)m->n_layers, sizeof *m->blocks);
    return m->blocks ? VTC_OK : VTC_ERR_NOMEM;
}

static int finish(struct vtc_model *m, const struct vtc_model_params *params, int file_feature_layer) {
    int layer = params->feature_layer ? params->feature_layer : file_feature_layer;
    int block = vtc_resolve_feature_layer(layer, m->n_layers);
    // out of range: the caller's mistake (--layer), or the model file's
    if (block < 0 && !params->feature_layer)
        return vtc_set_error(VTC_ERR_FORMAT, "the model's vision_feature_layer %d is out of range for its %d blocks",
                             layer, m->n_layers);
    if (block < 0) return block;
    m->feature_block = block;
    if (params->aspect) m->aspect = params->aspect;
    return VTC_OK;
}

// ---------------------------------------------------------------- safetensors

static cJSON *read_json(const char *path, int required, int *status) {
    vtc_file f;
    *status = 0;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (required) *status = vtc_set_error(VTC_ERR_IO, "%s: not found", path);
        return NULL;
    }
    int st = vtc_file_open(path, 0, &f);
    if (st) {
        *status = st;
        return NULL;
    }
    if (f.size > (16u << 20)) {
        vtc_file_close(&f);
        *status = vtc_set_error(VTC_ERR_FORMAT, "%s: implausibly large JSON file", path);
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLength((const char *)f.data, f.size);
    vtc_file_close(&f);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        *status = vtc_set_error(VTC_ERR_FORMAT, "%s: not a valid JSON object", path);
        return NULL;
    }
    return j;
}

// Integer field: absent -> def; present but not a sane integer -> error.
static int json_int(const cJSON *o, const char *key, int def, int *out, const char *path) {
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    if (!v || cJSON_IsNull(v)) { *out = def; return 0; }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 1e9)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: \"%s\" must be an integer", path, key);
    *out = (int)v->valuedouble;
    return 0;
}

static int json_float(const cJSON *o, const char *key, float def, float *out, const char *path) {
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    if (!v || cJSON_IsNull(v)) { *out = def; return 0; }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return vtc_set_error(VTC_ERR_FORMAT, "%s: \"%s\" must be a number", path, key);
    *out = (float)v->valuedouble;
    return 0;
}

static const char *json_str(const cJSON *o, const char *key) {
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int json_vec3(const cJSON *o, const char *key, const float def[3], float out[3], const char *path) {
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

static int act_from_name(const char *name, int def, int *out, const char *path) {
    if (!name) { *out = def; return 0; }
    if (!strcmp(name, "quick_gelu")) *out = VTC_ACT_QUICK_GELU;
    else if (!strcmp(name, "gelu")) *out = VTC_ACT_GELU;
    else if (!strcmp(name, "gelu_pytorch_tanh") || !strcmp(name, "gelu_new") || !strcmp(name, "gelu_fast"))
        *out = VTC_ACT_GELU_TANH;
    else return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: unsupported activation \"%s\"", path, name);
    return 0;
}

// Finds the vision tower's prefix: the part of a tensor name before "embeddings.patch_embedding.weight".
static int find_prefix(const vtc_stset *set, char *prefix, size_t cap) {
    static const char *suffix = "embeddings.patch_embedding.weight";
    size_t ls = strlen(suffix);
    int n = vtc_stset_count(set);
    for (int i = 0; i < n; i++) {
        const char *name = vtc_stset_tensor(set, i)->name;
        size_t ln = strlen(name);
        if (ln >= ls && !strcmp(name + ln - ls, suffix) && ln - ls < cap && strstr(name, "vision")) {
            memcpy(prefix, name, ln - ls);
            prefix[ln - ls] = '\0';
            return 0;
        }
    }
    return -1;
}

// The safetensors model from its tensors and parsed config.json /
// preprocessor_config.json (either may be NULL); the paths name them in errors.
static int build_safetensors(struct vtc_model *m, const char *path, vtc_stset *set, const cJSON *cfg,
                             const cJSON *pre, const char *cfg_path, const char *pre_path,
                             const struct vtc_model_params *params) {
    struct source src = { path, set, NULL };
    int st = 0;
    char tname[256];
    const cJSON *vc = cfg;
    if (cfg && cJSON_GetObjectItemCaseSensitive(cfg, "vision_config")) vc = cJSON_GetObjectItemCaseSensitive(cfg, "vision_config");
    if (!st && vc && !cJSON_IsObject(vc))
        st = vtc_set_error(VTC_ERR_FORMAT, "%s: \"vision_config\" is not an object", cfg_path);

    struct naming nm = HF_NAMES;
    if (!st && find_prefix(src.st, nm.prefix, sizeof nm.prefix - 16))
        st = vtc_set_error(VTC_ERR_FORMAT, "%s: no vision tower (no tensor named *vision_model.embeddings.patch_embedding.weight)", path);
    // The projector sits beside the vision tower: strip "vision_tower.vision_model." -> "".
    if (!st) {
        snprintf(nm.proj_prefix, sizeof nm.proj_prefix, "%s", nm.prefix);
        char *vt = strstr(nm.proj_prefix, "vision_tower.");
        if (vt) *vt = '\0'; else nm.proj_prefix[0] = '\0';
    }
    const vtc_tensor_view *pw = st ? NULL : source_find(&src, NAME(tname, nm.patch_w, nm.prefix));
    const vtc_tensor_view *pos = st ? NULL : source_find(&src, NAME(tname, nm.pos_emb, nm.prefix));
    if (!st && (!pw || pw->n_dims != 4 || pw->shape[1] != 3 || pw->shape[2] != pw->shape[3] || !pos || pos->n_dims != 2))
        st = vtc_set_error(VTC_ERR_FORMAT, "%s: patch or position embedding missing or malformed", path);
    if (!st) {
        m->has_cls = source_find(&src, NAME(tname, nm.class_emb, nm.prefix)) != NULL;
        m->arch = m->has_cls ? VTC_ARCH_CLIP : VTC_ARCH_SIGLIP;
        m->has_pre_ln = source_find(&src, NAME(tname, nm.pre_ln_w, nm.prefix)) != NULL;
        m->patch_bias = source_find(&src, NAME(tname, nm.patch_b, nm.prefix)) != NULL;
        m->hidden = (int)pw->shape[0];
        m->patch_size = (int)pw->shape[2];
        int n_pos = (int)pos->shape[0] - m->has_cls, side = (int)lround(sqrt(n_pos > 0 ? n_pos : 0));
        int heads_def = m->hidden >= 64 ? m->hidden / 64 : 1;
        int size_def = side * m->patch_size;
        st = json_int(vc, "image_size", size_def, &m->image_size, cfg_path);
        if (!st) st = json_int(vc, "num_attention_heads", heads_def, &m->heads, cfg_path);
        int layers = 0;
        while (layers < 1024 && has_tensor(&src, nm.q_w, nm.prefix, layers)) layers++;
        m->n_layers = layers;
        const vtc_tensor_view *fc1 = source_find(&src, NAME(tname, nm.fc1_w, nm.prefix, 0));
        m->ffn = fc1 && fc1->n_dims == 2 ? (int)fc1->shape[0] : 0;
        float eps_def = m->arch == VTC_ARCH_CLIP ? 1e-5f : 1e-6f;
        if (!st) st = json_float(vc, "layer_norm_eps", eps_def, &m->eps, cfg_path);
        // The geometry comes from the tensors; a config saying otherwise is inconsistent.
        const struct { const char *key; int have; } agree[] = {
            { "hidden_size", m->hidden }, { "intermediate_size", m->ffn }, { "patch_size", m->patch_size },
        };
        for (size_t i = 0; i < sizeof agree / sizeof agree[0] && !st; i++) {
            int said;
            st = json_int(vc, agree[i].key, agree[i].have, &said, cfg_path);
            if (!st && said != agree[i].have)
                st = vtc_set_error(VTC_ERR_FORMAT, "%s: \"%s\" is %d but the weights have %d", cfg_path, agree[i].key,
                                   said, agree[i].have);
        }
        const cJSON *act = vc ? cJSON_GetObjectItemCaseSensitive(vc, "hidden_act") : NULL;
        if (!st && act && !cJSON_IsString(act))
            st = vtc_set_error(VTC_ERR_FORMAT, "%s: \"hidden_act\" must be a string", cfg_path);
        if (!st) st = act_from_name(json_str(vc, "hidden_act"),
                                    m->arch == VTC_ARCH_CLIP ? VTC_ACT_QUICK_GELU : VTC_ACT_GELU_TANH, &m->act, cfg_path);
        const float half[3] = { 0.5f, 0.5f, 0.5f };
        const float *mean_def = m->arch == VTC_ARCH_CLIP ? CLIP_MEAN : half, *std_def = m->arch == VTC_ARCH_CLIP ? CLIP_STD : half;
        if (!st) st = json_vec3(pre, "image_mean", mean_def, m->image_mean, pre_path);
        if (!st) st = json_vec3(pre, "image_std", std_def, m->image_std, pre_path);
        const vtc_tensor_view *mm0 = source_find(&src, NAME(tname, nm.mm0_w, nm.proj_prefix));
        m->lm_dim = mm0 && mm0->n_dims == 2 ? (int)mm0->shape[0] : 0;
        if (!st && mm0 && json_str(cfg, "projector_hidden_act") && strcmp(json_str(cfg, "projector_hidden_act"), "gelu"))
            st = vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: projector activation \"%s\" (only gelu)", cfg_path,
                               json_str(cfg, "projector_hidden_act"));
        const char *ar = json_str(cfg, "image_aspect_ratio");
        m->aspect = m->arch == VTC_ARCH_SIGLIP ? VTC_ASPECT_RESIZE
                    : ar && !strcmp(ar, "pad") ? VTC_ASPECT_PAD : VTC_ASPECT_CROP;
    }
    int file_layer = -1;
    if (!st) st = json_int(cfg, "vision_feature_layer", m->lm_dim ? -2 : -1, &file_layer, cfg_path);
    if (!st) st = check_geometry(m, path);
    if (!st) st = load_weights(m, &src, &nm, 0);
    if (!st) st = finish(m, params, file_layer);
    if (!st) {
        snprintf(m->name, sizeof m->name, "%s%s", m->arch == VTC_ARCH_CLIP ? "clip-vit" : "siglip",
                 m->lm_dim ? " + llava projector" : "");
        snprintf(m->format, sizeof m->format, "safetensors");
    }
    return st;
}

static int load_safetensors(struct vtc_model *m, const char *path, const struct vtc_model_params *params) {
    vtc_stset *set = NULL;
    int st = vtc_stset_open(path, params->use_mmap, &set);
    if (st) return st;
    // config.json and preprocessor_config.json live in the directory (or beside the file).
    char dir[4096], cfg_path[4200], pre_path[4200];
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(dir, sizeof dir, "%s", path);
    } else {
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0'; else snprintf(dir, sizeof dir, ".");
    }
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    snprintf(pre_path, sizeof pre_path, "%s/preprocessor_config.json", dir);
    cJSON *cfg = read_json(cfg_path, 0, &st), *pre = NULL;
    if (!st) pre = read_json(pre_path, 0, &st);
    if (!st) st = build_safetensors(m, path, set, cfg, pre, cfg_path, pre_path, params);
    cJSON_Delete(cfg);
    cJSON_Delete(pre);
    vtc_stset_close(set);
    return st;
}

int vtc_model_load_memory(struct vtc_model *m, const char *name, const void *weights, size_t size,
                          const char *config_json, const char *preprocessor_json, struct vtc_model_params params) {
    char cfg_path[300], pre_path[300];
    snprintf(cfg_path, sizeof cfg_path, "%s: config.json", name);
    snprintf(pre_path, sizeof pre_path, "%s: preprocessor_config.json", name);
    m->limits = params.limits;
    vtc_stset *set = NULL;
    int st = vtc_stset_open_memory(weights, size, &set);
    cJSON *cfg = NULL, *pre = NULL;
    if (!st && config_json && !(cfg = cJSON_Parse(config_json)))
        st = vtc_set_error(VTC_ERR_FORMAT, "%s: not valid JSON", cfg_path);
    if (!st && preprocessor_json && !(pre = cJSON_Parse(preprocessor_json)))
        st = vtc_set_error(VTC_ERR_FORMAT, "%s: not valid JSON", pre_path);
    if (!st) st = build_safetensors(m, name, set, cfg, pre, cfg_path, pre_path, &params);
    cJSON_Delete(cfg);
    cJSON_Delete(pre);
    vtc_stset_close(set);
    return st;
}

// ---------------------------------------------------------------- gguf

static int gguf_int(const vtc_gguf *g, const char *key, int required, int def, int *out, const char *path) {
    int64_t v;
    if (vtc_gguf_find_key(g, key) < 0) {
        if (required) return vtc_set_error(VTC_ERR_FORMAT, "%s: missing key %s", path, key);
        *out = def;
        return 0;
    }
    int st = vtc_gguf_get_int(g, key, &v);
    if (st) return vtc_wrap_error(st, "%s", path);
    if (v < INT_MIN || v > INT_MAX) return vtc_set_error(VTC_ERR_FORMAT, "%s: %s out of range", path, key);
    *out = (int)v;
    return 0;
}

static int load_gguf(struct vtc_model *m, const char *path, const struct vtc_model_params *params) {
    struct source src = { path, NULL, NULL };
    int st = vtc_gguf_open(path, params->use_mmap, &src.gguf);
    if (st) return st;
    const vtc_gguf *g = src.gguf;
    const char *archname = NULL;
    if (vtc_gguf_get_str(g, "general.architecture", &archname) || strcmp(archname, "clip"))
        st = vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: not a CLIP/mmproj GGUF (general.architecture is \"%s\")", path,
                           archname ? archname : "missing");
    if (!st) st = gguf_int(g, "clip.vision.image_size", 1, 0, &m->image_size, path);
    if (!st) st = gguf_int(g, "clip.vision.patch_size", 1, 0, &m->patch_size, path);
    if (!st) st = gguf_int(g, "clip.vision.embedding_length", 1, 0, &m->hidden, path);
    if (!st) st = gguf_int(g, "clip.vision.feed_forward_length", 1, 0, &m->ffn, path);
    if (!st) st = gguf_int(g, "clip.vision.block_count", 1, 0, &m->n_layers, path);
    if (!st) st = gguf_int(g, "clip.vision.attention.head_count", 1, 0, &m->heads, path);
    double eps = 1e-5;
    if (!st && vtc_gguf_find_key(g, "clip.vision.attention.layer_norm_epsilon") >= 0)
        st = vtc_gguf_get_float(g, "clip.vision.attention.layer_norm_epsilon", &eps);
    m->eps = (float)eps;
    int n = 0;
    memcpy(m->image_mean, CLIP_MEAN, sizeof CLIP_MEAN);
    memcpy(m->image_std, CLIP_STD, sizeof CLIP_STD);
    if (!st && vtc_gguf_find_key(g, "clip.vision.image_mean") >= 0 &&
        (vtc_gguf_get_arr_f32(g, "clip.vision.image_mean", m->image_mean, 3, &n) || n != 3))
        st = vtc_set_error(VTC_ERR_FORMAT, "%s: clip.vision.image_mean must hold 3 numbers", path);
    if (!st && vtc_gguf_find_key(g, "clip.vision.image_std") >= 0 &&
        (vtc_gguf_get_arr_f32(g, "clip.vision.image_std", m->image_std, 3, &n) || n != 3))
        st = vtc_set_error(VTC_ERR_FORMAT, "%s: clip.vision.image_std must hold 3 numbers", path);
    int use_gelu = 0;
    if (!st && vtc_gguf_find_key(g, "clip.use_gelu") >= 0) {
        int b = 0;
        st = vtc_gguf_get_bool(g, "clip.use_gelu", &b);
        use_gelu = b;
    }
    m->act = use_gelu ? VTC_ACT_GELU : VTC_ACT_QUICK_GELU;
    const char *ptype = NULL;
    if (!st && vtc_gguf_find_key(g, "clip.projector_type") >= 0) st = vtc_gguf_get_str(g, "clip.projector_type", &ptype);
    if (!st && ptype && strcmp(ptype, "mlp"))
        st = vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: projector type \"%s\" (vtc supports \"mlp\")", path, ptype);
    struct naming nm = GGUF_NAMES;
    char buf[256];
    m->has_cls = source_find(&src, NAME(buf, nm.class_emb, "")) != NULL;
    m->arch = m->has_cls ? VTC_ARCH_CLIP : VTC_ARCH_SIGLIP;
    m->has_pre_ln = source_find(&src, NAME(buf, nm.pre_ln_w, "")) != NULL;
    m->patch_bias = source_find(&src, NAME(buf, nm.patch_b, "")) != NULL;
    const vtc_tensor_view *mm0 = source_find(&src, NAME(buf, nm.mm0_w, ""));
    m->lm_dim = mm0 && mm0->n_dims == 2 ? (int)mm0->shape[0] : 0;
    // LLaVA (pad) when a projector is present, as llama.cpp pads llava images to square.
    m->aspect = m->lm_dim ? VTC_ASPECT_PAD : m->arch == VTC_ARCH_SIGLIP ? VTC_ASPECT_RESIZE : VTC_ASPECT_CROP;
    // fc1 maps D -> F. Legacy LLaVA files call it ffn_down; newer converters ffn_up.
    int swapped = 0;
    const vtc_tensor_view *up = source_find(&src, NAME(buf, nm.fc1_w, "", 0));
    if (up && up->n_dims == 2 && up->shape[0] == m->hidden && up->shape[1] == m->ffn && m->ffn != m->hidden)
        swapped = 1;
    if (!st) st = check_geometry(m, path);
    if (!st) st = load_weights(m, &src, &nm, swapped);
    // The legacy converter already dropped the last block for LLaVA: the features
    // are the last present block's output.
    int file_layer = -1;
    if (!st) st = finish(m, params, file_layer);
    if (!st) {
        snprintf(m->name, sizeof m->name, "%s%s", m->arch == VTC_ARCH_CLIP ? "clip-vit" : "siglip",
                 m->lm_dim ? " + llava projector" : "");
        snprintf(m->format, sizeof m->format, "gguf");
    }
    vtc_gguf_close(src.gguf);
    return st;
}

// ---------------------------------------------------------------- public

struct vtc_model_params vtc_model_params_default(void) {
    struct vtc_model_params p = { 0 };
    p.feature_layer = 0;
    p.aspect = VTC_ASPECT_DEFAULT;
    p.use_mmap = 1;
    p.limits = vtc_limits_default();
    return p;
}

void vtc_model_free(vtc_model *m) {
    if (!m) return;
    free(m->arena);
    free(m->blocks);
    free(m);
}

static int is_gguf(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[4] = { 0 };
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    return got == 4 && !memcmp(magic, "GGUF", 4);
}

vtc_model *vtc_model_load(const char *path, struct vtc_model_params params) {
    if (!path) {
        vtc_set_error(VTC_ERR_ARG, "vtc_model_load: path is NULL");
        return NULL;
    }
    if (params.aspect < 0 || params.aspect > VTC_ASPECT_RESIZE) {
        vtc_set_error(VTC_ERR_ARG, "vtc_model_load: bad aspect mode %d", params.aspect);
        return NULL;
    }
    struct stat sb;
    if (stat(path, &sb) != 0) {
        vtc_set_error(VTC_ERR_IO, "%s: no such file or directory", path);
        return NULL;
    }
    vtc_model *m = vtc_zalloc(1, sizeof *m);
    if (!m) return NULL;
    m->limits = params.limits;
    int st = (!S_ISDIR(sb.st_mode) && is_gguf(path)) ? load_gguf(m, path, &params) : load_safetensors(m, path, &params);
    if (st) {
        vtc_model_free(m);
        return NULL;
    }
    return m;
}

int vtc_model_get_info(const vtc_model *m, struct vtc_model_info *info) {
    if (!m || !info) return vtc_set_error(VTC_ERR_ARG, "vtc_model_get_info: NULL argument");
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "%s", m->name);
    snprintf(info->arch, sizeof info->arch, "%s", m->arch == VTC_ARCH_CLIP ? "clip" : "siglip");
    snprintf(info->format, sizeof info->format, "%s", m->format);
    info->image_size = m->image_size;
    info->patch_size = m->patch_size;
    info->grid = m->grid;
    info->hidden = m->hidden;
    info->heads = m->heads;
    info->head_dim = m->head_dim;
    info->ffn = m->ffn;
    info->n_layers = m->n_layers;
    info->feature_layer = m->feature_block;
    info->has_cls = m->has_cls;
    info->has_projector = m->lm_dim > 0;
    info->lm_dim = m->lm_dim;
    info->aspect = m->aspect;
    info->random_weights = m->random_weights;
    memcpy(info->image_mean, m->image_mean, sizeof info->image_mean);
    memcpy(info->image_std, m->image_std, sizeof info->image_std);
    return VTC_OK;
}
