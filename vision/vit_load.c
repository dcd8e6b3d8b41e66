// Loading a ViT tower of the CLIP / SigLIP families (family_clip.c,
// family_siglip.c) from either file format: Hugging Face safetensors
// (CLIPVisionModel, SiglipVisionModel, and the towers inside llava-hf's Llava,
// LlavaNext and LlavaOnevision checkpoints) and llama.cpp mmproj GGUF files
// (incl. the legacy LLaVA converter's quirks). Both formats fill the same
// struct vtc_model: find each tensor by name, check its shape against the
// geometry, convert it to F32 into one arena.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "family.h"
#include "loader.h"
#include "vit.h"

// Names of one file format's tensors; %s is the prefix, %d the block.
struct naming {
    const char *patch_w, *patch_b, *class_emb, *pos_emb, *pre_ln_w, *pre_ln_b, *post_ln_w, *post_ln_b;
    const char *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
    const char *ln1_w, *ln1_b, *ln2_w, *ln2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    const char *mm0_w, *mm0_b, *mm2_w, *mm2_b, *newline;
};

static const struct naming HF_NAMES = {
    "%sembeddings.patch_embedding.weight", "%sembeddings.patch_embedding.bias", "%sembeddings.class_embedding",
    "%sembeddings.position_embedding.weight", "%spre_layrnorm.weight", "%spre_layrnorm.bias",
    "%spost_layernorm.weight", "%spost_layernorm.bias",
    "%sencoder.layers.%d.self_attn.q_proj.weight", "%sencoder.layers.%d.self_attn.q_proj.bias",
    "%sencoder.layers.%d.self_attn.k_proj.weight", "%sencoder.layers.%d.self_attn.k_proj.bias",
    "%sencoder.layers.%d.self_attn.v_proj.weight", "%sencoder.layers.%d.self_attn.v_proj.bias",
    "%sencoder.layers.%d.self_attn.out_proj.weight", "%sencoder.layers.%d.self_attn.out_proj.bias",
    "%sencoder.layers.%d.layer_norm1.weight", "%sencoder.layers.%d.layer_norm1.bias",
    "%sencoder.layers.%d.layer_norm2.weight", "%sencoder.layers.%d.layer_norm2.bias",
    "%sencoder.layers.%d.mlp.fc1.weight", "%sencoder.layers.%d.mlp.fc1.bias",
    "%sencoder.layers.%d.mlp.fc2.weight", "%sencoder.layers.%d.mlp.fc2.bias",
    "%smulti_modal_projector.linear_1.weight", "%smulti_modal_projector.linear_1.bias",
    "%smulti_modal_projector.linear_2.weight", "%smulti_modal_projector.linear_2.bias", "%simage_newline",
};

// llama.cpp mmproj. fc1/fc2 are chosen by shape (the legacy converter swaps
// ffn_down/ffn_up), so both MLP names are filled in at load time.
static const struct naming GGUF_NAMES = {
    "%sv.patch_embd.weight", "%sv.patch_embd.bias", "%sv.class_embd", "%sv.position_embd.weight",
    "%sv.pre_ln.weight", "%sv.pre_ln.bias", "%sv.post_ln.weight", "%sv.post_ln.bias",
    "%sv.blk.%d.attn_q.weight", "%sv.blk.%d.attn_q.bias", "%sv.blk.%d.attn_k.weight", "%sv.blk.%d.attn_k.bias",
    "%sv.blk.%d.attn_v.weight", "%sv.blk.%d.attn_v.bias", "%sv.blk.%d.attn_out.weight", "%sv.blk.%d.attn_out.bias",
    "%sv.blk.%d.ln1.weight", "%sv.blk.%d.ln1.bias", "%sv.blk.%d.ln2.weight", "%sv.blk.%d.ln2.bias",
    "%sv.blk.%d.ffn_up.weight", "%sv.blk.%d.ffn_up.bias", "%sv.blk.%d.ffn_down.weight", "%sv.blk.%d.ffn_down.bias",
    "%smm.0.weight", "%smm.0.bias", "%smm.2.weight", "%smm.2.bias", "%smodel.image_newline",
};

struct vit_names {
    const struct naming *nm;
    int fc_swapped; // GGUF legacy: ffn_down is fc1
};

#define NAME(buf, fmt, ...) (snprintf((buf), sizeof(buf), (fmt), __VA_ARGS__), (buf))

static int build(struct vtc_model *m, const struct vtc_load *ld, struct vtc_arena *a, void *user) {
    const struct vit_names *vn = user;
    const struct naming *nm = vn->nm;
    int st = 0;
    char b1[320], b2[320];
    const char *px = ld->prefix, *pp = ld->proj_prefix;
    const int64_t D = m->hidden, F = m->ffn, p = m->patch_size;
    const int64_t npos = (int64_t)m->grid_h * m->grid_w + m->has_cls;
    m->patch_w = vtc_load_take(a, ld, NAME(b1, nm->patch_w, px), 4, (int64_t[]){ D, 3, p, p }, &st);
    m->patch_b = m->patch_bias ? vtc_load_take(a, ld, NAME(b1, nm->patch_b, px), 1, (int64_t[]){ D }, &st) : NULL;
    m->class_emb = m->has_cls ? vtc_load_take(a, ld, NAME(b1, nm->class_emb, px), 1, (int64_t[]){ D }, &st) : NULL;
    m->pos_emb = vtc_load_take(a, ld, NAME(b1, nm->pos_emb, px), 2, (int64_t[]){ npos, D }, &st);
    if (m->has_pre_ln) {
        m->pre_ln_w = vtc_load_take(a, ld, NAME(b1, nm->pre_ln_w, px), 1, (int64_t[]){ D }, &st);
        m->pre_ln_b = vtc_load_take(a, ld, NAME(b1, nm->pre_ln_b, px), 1, (int64_t[]){ D }, &st);
    }
    if (m->has_post_ln) {
        m->post_ln_w = vtc_load_take(a, ld, NAME(b1, nm->post_ln_w, px), 1, (int64_t[]){ D }, &st);
        m->post_ln_b = vtc_load_take(a, ld, NAME(b1, nm->post_ln_b, px), 1, (int64_t[]){ D }, &st);
    }
    for (int l = 0; l < m->n_layers && !st; l++) {
        struct vtc_vit_block *b = &m->blocks[l];
        // q, k and v are stacked into one [3D, D] matrix (one sgemm per block).
        b->qkv_w = vtc_load_reserve(a, (size_t)(3 * D * D), &st);
        b->qkv_b = vtc_load_reserve(a, (size_t)(3 * D), &st);
        const char *wn[3] = { nm->q_w, nm->k_w, nm->v_w }, *bn[3] = { nm->q_b, nm->k_b, nm->v_b };
        for (int j = 0; j < 3 && !st; j++) {
            float *w = vtc_load_take(a, ld, NAME(b1, wn[j], px, l), 2, (int64_t[]){ D, D }, &st);
            float *bias = vtc_load_take(a, ld, NAME(b2, bn[j], px, l), 1, (int64_t[]){ D }, &st);
            if (a->filling && !st) {
                memcpy(b->qkv_w + j * D * D, w, sizeof(float) * D * D);
                memcpy(b->qkv_b + j * D, bias, sizeof(float) * D);
            }
            // the separate copies are dead weight once stacked: give their room back
            if (!st) a->used -= (size_t)(D * D + D);
        }
        b->o_w = vtc_load_take(a, ld, NAME(b1, nm->o_w, px, l), 2, (int64_t[]){ D, D }, &st);
        b->o_b = vtc_load_take(a, ld, NAME(b1, nm->o_b, px, l), 1, (int64_t[]){ D }, &st);
        b->ln1_w = vtc_load_take(a, ld, NAME(b1, nm->ln1_w, px, l), 1, (int64_t[]){ D }, &st);
        b->ln1_b = vtc_load_take(a, ld, NAME(b1, nm->ln1_b, px, l), 1, (int64_t[]){ D }, &st);
        b->ln2_w = vtc_load_take(a, ld, NAME(b1, nm->ln2_w, px, l), 1, (int64_t[]){ D }, &st);
        b->ln2_b = vtc_load_take(a, ld, NAME(b1, nm->ln2_b, px, l), 1, (int64_t[]){ D }, &st);
        const char *f1w = vn->fc_swapped ? nm->fc2_w : nm->fc1_w, *f1b = vn->fc_swapped ? nm->fc2_b : nm->fc1_b;
        const char *f2w = vn->fc_swapped ? nm->fc1_w : nm->fc2_w, *f2b = vn->fc_swapped ? nm->fc1_b : nm->fc2_b;
        b->fc1_w = vtc_load_take(a, ld, NAME(b1, f1w, px, l), 2, (int64_t[]){ F, D }, &st);
        b->fc1_b = vtc_load_take(a, ld, NAME(b1, f1b, px, l), 1, (int64_t[]){ F }, &st);
        b->fc2_w = vtc_load_take(a, ld, NAME(b1, f2w, px, l), 2, (int64_t[]){ D, F }, &st);
        b->fc2_b = vtc_load_take(a, ld, NAME(b1, f2b, px, l), 1, (int64_t[]){ D }, &st);
    }
    if (m->lm_dim > 0) {
        const int64_t L = m->lm_dim;
        m->mm0_w = vtc_load_take(a, ld, NAME(b1, nm->mm0_w, pp), 2, (int64_t[]){ L, m->feature_dim }, &st);
        m->mm0_b = vtc_load_take(a, ld, NAME(b1, nm->mm0_b, pp), 1, (int64_t[]){ L }, &st);
        m->mm2_w = vtc_load_take(a, ld, NAME(b1, nm->mm2_w, pp), 2, (int64_t[]){ L, L }, &st);
        m->mm2_b = vtc_load_take(a, ld, NAME(b1, nm->mm2_b, pp), 1, (int64_t[]){ L }, &st);
        if (m->layout != VTC_LAYOUT_SINGLE)
            m->newline = vtc_load_take(a, ld, NAME(b1, nm->newline, pp), 1, (int64_t[]){ L }, &st);
    }
    return st;
}

// Geometry checks shared by both formats, before any tensor is touched.
static int check_geometry(struct vtc_model *m, const char *path) {
    if (m->hidden <= 0 || m->hidden > 16384 || m->heads <= 0 || m->heads > 1024 || m->hidden % m->heads)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: hidden size %d is not divisible into %d heads", path, m->hidden,
                             m->heads);
    if (m->ffn <= 0 || m->ffn > 131072) return vtc_set_error(VTC_ERR_FORMAT, "%s: bad MLP width %d", path, m->ffn);
    // A stride-p convolution without padding (transformers' patch embedding):
    // floor(S / p) patches per side; the last S mod p pixel rows and columns are unused.
    if (m->patch_size <= 0 || m->patch_size > 64 || m->image_size < m->patch_size || m->image_size > 8192)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: image size %d does not hold a patch of %d pixels", path,
                             m->image_size, m->patch_size);
    if (m->n_layers <= 0 || m->n_layers > 512)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: bad number of encoder blocks %d", path, m->n_layers);
    if (!(m->eps > 0 && m->eps < 1)) return vtc_set_error(VTC_ERR_FORMAT, "%s: bad layer-norm epsilon", path);
    for (int c = 0; c < 3; c++)
        if (!(m->image_std[c] > 0) || !isfinite(m->image_mean[c]) || !isfinite(m->image_std[c]))
            return vtc_set_error(VTC_ERR_FORMAT, "%s: bad image mean/std", path);
    if (m->lm_dim < 0 || m->lm_dim > 65536) return vtc_set_error(VTC_ERR_FORMAT, "%s: bad projector width", path);
    m->grid_h = m->grid_w = m->image_size / m->patch_size;
    m->head_dim = m->hidden / m->heads;
    if ((int64_t)m->grid_h * m->grid_w > m->limits.max_tokens)
        return vtc_set_error(VTC_ERR_LIMIT, "%s: %d tokens per image exceeds the token limit", path,
                             m->grid_h * m->grid_w);
    m->blocks = vtc_zalloc((size_t)m->n_layers, sizeof *m->blocks);
    return m->blocks ? VTC_OK : VTC_ERR_NOMEM;
}

// ---------------------------------------------------------------- safetensors

// The tower's prefix: the part of a tensor name before
// "embeddings.patch_embedding.weight" (a name with "vision" in it).
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

// image_size when config.json is silent: the preprocessor's target size (a
// square "size" {height, width} / {shortest_edge} or "crop_size"), else the
// caller's; the tensors only bound it (grid * p .. grid * p + p - 1).
static int image_size_from_preprocessor(const struct vtc_load *ld, int *out) {
    static const char *const keys[] = { "crop_size", "size" };
    for (int i = 0; i < 2; i++) {
        const cJSON *s = ld->pre ? cJSON_GetObjectItemCaseSensitive(ld->pre, keys[i]) : NULL;
        if (cJSON_IsNumber(s)) return vtc_cfg_int(ld->pre, keys[i], 0, out, ld->pre_path);
        if (!cJSON_IsObject(s)) continue;
        int h = 0, w = 0, e = 0;
        int st = vtc_cfg_int(s, "height", 0, &h, ld->pre_path);
        if (!st) st = vtc_cfg_int(s, "width", 0, &w, ld->pre_path);
        if (!st) st = vtc_cfg_int(s, "shortest_edge", 0, &e, ld->pre_path);
        if (st) return st;
        if (h && h == w) return *out = h, 0;
        if (h != w) return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: \"%s\" is %dx%d (vtc's towers take square tiles)",
                                         ld->pre_path, keys[i], w, h);
        if (e && i == 1) return *out = e, 0;
    }
    *out = 0;
    return 0;
}

// A value the file determines (file, 0 = it does not) and the caller's (given,
// 0 = none): either alone, or both equal.
static int settle(const char *path, const char *what, const char *option, int file, int given, int *out) {
    if (file && given && file != given)
        return vtc_set_error(VTC_ERR_ARG, "%s: %s %d given (%s), but the model's files say %d", path, what, given,
                             option, file);
    *out = file ? file : given;
    return VTC_OK;
}

// The projector's input width: the features', which are the hidden size times
// the number of feature layers concatenated (checked against the config's list
// once it is read, model.c).
static int projector_input(struct vtc_model *m, const vtc_tensor_view *mm0, const char *path) {
    m->feature_dim = m->hidden;
    if (!mm0 || mm0->n_dims != 2) return VTC_OK;
    if (m->hidden <= 0 || mm0->shape[1] <= 0 || mm0->shape[1] % m->hidden || mm0->shape[1] / m->hidden > 8)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: the projector takes %lld inputs, not a multiple (1..8) of the "
                             "tower's width %d", path, (long long)mm0->shape[1], m->hidden);
    m->feature_dim = (int)mm0->shape[1];
    return VTC_OK;
}

static int load_hf(struct vtc_model *m, struct vtc_load *ld) {
    const struct vtc_family *fam = m->family;
    const char *path = ld->path, *cfg_path = ld->cfg_path;
    const cJSON *vc = ld->vc, *cfg = ld->cfg;
    int st = 0;
    const vtc_tensor_view *pw = vtc_load_findf(ld, HF_NAMES.patch_w, ld->prefix);
    const vtc_tensor_view *pos = vtc_load_findf(ld, HF_NAMES.pos_emb, ld->prefix);
    if (!pw || pw->n_dims != 4 || pw->shape[1] != 3 || pw->shape[2] != pw->shape[3] || !pos || pos->n_dims != 2)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: patch or position embedding missing or malformed", path);
    m->has_cls = vtc_load_findf(ld, HF_NAMES.class_emb, ld->prefix) != NULL;
    if (m->has_cls != (fam->stat == VTC_STAT_CLS_ROW))
        return vtc_set_error(VTC_ERR_FORMAT, "%s: a %s tower %s a class embedding", path, fam->name,
                             m->has_cls ? "with" : "without");
    m->has_pre_ln = vtc_load_findf(ld, HF_NAMES.pre_ln_w, ld->prefix) != NULL;
    m->patch_bias = vtc_load_findf(ld, HF_NAMES.patch_b, ld->prefix) != NULL;
    m->hidden = (int)pw->shape[0];
    m->patch_size = (int)pw->shape[2];
    int layers = 0;
    while (layers < 1024 && vtc_load_findf(ld, HF_NAMES.q_w, ld->prefix, layers)) layers++;
    m->n_layers = layers;
    const vtc_tensor_view *fc1 = vtc_load_findf(ld, HF_NAMES.fc1_w, ld->prefix, 0);
    m->ffn = fc1 && fc1->n_dims == 2 ? (int)fc1->shape[0] : 0;

    // What the tensors do not determine comes from the configs (a key a config
    // naming the family leaves out has transformers' class default) or the
    // caller, never a guess.
    const int named = vc && vtc_family_for_type(vtc_cfg_str(vc, "model_type")) == fam;
    int size = 0, pre_size = 0;
    st = vtc_cfg_int(vc, "image_size", named ? fam->config_image_size : 0, &size, cfg_path);
    if (!st && vc && cJSON_GetObjectItemCaseSensitive(vc, "image_size") && size <= 0)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: \"image_size\" is %d", cfg_path, size);
    if (!st) st = image_size_from_preprocessor(ld, &pre_size);
    if (!st) st = settle(path, "image size", "--image-size", size ? size : pre_size, ld->params->image_size,
                         &m->image_size);
    if (!st && m->image_size == 0) {
        long n_pos = (long)pos->shape[0] - m->has_cls, side = lround(sqrt((double)(n_pos > 0 ? n_pos : 0)));
        return vtc_set_error(VTC_ERR_FORMAT,
                             "%s: the image size is not determined: no config.json or preprocessor_config.json says "
                             "it, and a %ld-position table of %d-pixel patches fits %ld..%ld pixels (give it: "
                             "--image-size, vtc_model_params.image_size)",
                             path, n_pos, m->patch_size, side * m->patch_size, side * m->patch_size + m->patch_size - 1);
    }
    int heads = 0;
    if (!st) st = vtc_cfg_int(vc, "num_attention_heads", named ? fam->config_heads : 0, &heads, cfg_path);
    if (!st && vc && cJSON_GetObjectItemCaseSensitive(vc, "num_attention_heads") && heads <= 0)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: \"num_attention_heads\" is %d", cfg_path, heads);
    if (!st) st = settle(path, "head count", "--heads", heads, ld->params->heads, &m->heads);
    if (!st && m->heads == 0)
        return vtc_set_error(VTC_ERR_FORMAT,
                             "%s: the attention head count is not determined: no config.json num_attention_heads, "
                             "and the weights (hidden size %d) do not fix it (give it: --heads, "
                             "vtc_model_params.heads)", path, m->hidden);
    if (!st) st = vtc_cfg_float(vc, "layer_norm_eps", fam->eps, &m->eps, cfg_path);
    // The geometry comes from the tensors; a config saying otherwise is inconsistent.
    const struct { const char *key; int have; } agree[] = {
        { "hidden_size", m->hidden }, { "intermediate_size", m->ffn }, { "patch_size", m->patch_size },
    };
    for (size_t i = 0; i < sizeof agree / sizeof agree[0] && !st; i++) {
        int said;
        st = vtc_cfg_int(vc, agree[i].key, agree[i].have, &said, cfg_path);
        if (!st && said != agree[i].have)
            st = vtc_set_error(VTC_ERR_FORMAT, "%s: \"%s\" is %d but the weights have %d", cfg_path, agree[i].key, said,
                               agree[i].have);
    }
    const cJSON *act = vc ? cJSON_GetObjectItemCaseSensitive(vc, "hidden_act") : NULL;
    if (!st && act && !cJSON_IsString(act))
        st = vtc_set_error(VTC_ERR_FORMAT, "%s: \"hidden_act\" must be a string", cfg_path);
    if (!st) st = vtc_act_from_name(vtc_cfg_str(vc, "hidden_act"), fam->act, &m->act, cfg_path);
    if (!st) st = vtc_cfg_vec3(ld->pre, "image_mean", fam->mean, m->image_mean, ld->pre_path);
    if (!st) st = vtc_cfg_vec3(ld->pre, "image_std", fam->std, m->image_std, ld->pre_path);
    const vtc_tensor_view *mm0 = vtc_load_findf(ld, HF_NAMES.mm0_w, ld->proj_prefix);
    m->lm_dim = mm0 && mm0->n_dims == 2 ? (int)mm0->shape[0] : 0;
    if (!st) st = projector_input(m, mm0, path);
    const char *pact = vtc_cfg_str(cfg, "projector_hidden_act");
    if (!st && mm0 && pact && strcmp(pact, "gelu"))
        st = vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: projector activation \"%s\" (only gelu)", cfg_path, pact);
    if (!st && !mm0 && ld->wrapper)
        st = vtc_set_error(VTC_ERR_FORMAT, "%s: a %s checkpoint without its multi_modal_projector", path,
                           ld->wrapper->model_type);
    if (st) return st;
    const char *ar = vtc_cfg_str(cfg, "image_aspect_ratio");
    m->aspect = ar && !strcmp(ar, "pad") ? VTC_ASPECT_PAD : fam->aspect;
    return VTC_OK;
}

// ---------------------------------------------------------------- gguf

static int load_gguf(struct vtc_model *m, struct vtc_load *ld, int *fc_swapped) {
    const vtc_gguf *g = ld->gguf;
    const char *path = ld->path;
    int st = vtc_load_gguf_int(ld, "clip.vision.image_size", 1, 0, &m->image_size);
    if (!st) st = vtc_load_gguf_int(ld, "clip.vision.patch_size", 1, 0, &m->patch_size);
    if (!st) st = vtc_load_gguf_int(ld, "clip.vision.embedding_length", 1, 0, &m->hidden);
    if (!st) st = vtc_load_gguf_int(ld, "clip.vision.feed_forward_length", 1, 0, &m->ffn);
    if (!st) st = vtc_load_gguf_int(ld, "clip.vision.block_count", 1, 0, &m->n_layers);
    if (!st) st = vtc_load_gguf_int(ld, "clip.vision.attention.head_count", 1, 0, &m->heads);
    if (!st) st = vtc_load_gguf_float(ld, "clip.vision.attention.layer_norm_epsilon", m->family->eps, &m->eps);
    if (!st) st = vtc_load_gguf_mean_std(ld, m->family->mean, m->family->std, m->image_mean, m->image_std);
    int use_gelu = m->family->act != VTC_ACT_QUICK_GELU;
    if (!st && vtc_gguf_find_key(g, "clip.use_gelu") >= 0) st = vtc_gguf_get_bool(g, "clip.use_gelu", &use_gelu);
    m->act = use_gelu ? VTC_ACT_GELU : VTC_ACT_QUICK_GELU;
    if (st) return st;
    m->has_cls = vtc_load_findf(ld, GGUF_NAMES.class_emb, "") != NULL;
    m->has_pre_ln = vtc_load_findf(ld, GGUF_NAMES.pre_ln_w, "") != NULL;
    m->patch_bias = vtc_load_findf(ld, GGUF_NAMES.patch_b, "") != NULL;
    const vtc_tensor_view *mm0 = vtc_load_findf(ld, GGUF_NAMES.mm0_w, "");
    m->lm_dim = mm0 && mm0->n_dims == 2 ? (int)mm0->shape[0] : 0;
    int st2 = projector_input(m, mm0, path);
    if (st2) return st2;
    // LLaVA (pad) when a projector is present, as llama.cpp pads llava images to square.
    m->aspect = m->lm_dim ? VTC_ASPECT_PAD : m->family->aspect;
    // fc1 maps D -> F. Legacy LLaVA files call it ffn_down; newer converters ffn_up.
    const vtc_tensor_view *up = vtc_load_findf(ld, GGUF_NAMES.fc1_w, "", 0);
    *fc_swapped = up && up->n_dims == 2 && up->shape[0] == m->hidden && up->shape[1] == m->ffn && m->ffn != m->hidden;
    return VTC_OK;
}

// ---------------------------------------------------------------- the family's load

int vtc_vit_load(struct vtc_model *m, struct vtc_load *ld) {
    struct vit_names vn = { ld->st ? &HF_NAMES : &GGUF_NAMES, 0 };
    int st = ld->st ? load_hf(m, ld) : load_gguf(m, ld, &vn.fc_swapped);
    // post_layernorm is loaded when present; whether the features pass through
    // it is settled with the feature layer (model.c).
    m->has_post_ln = vtc_load_findf(ld, vn.nm->post_ln_w, ld->prefix) != NULL;
    if (!st) st = check_geometry(m, ld->path);
    if (!st) st = vtc_load_weights(m, ld, build, &vn);
    return st;
}

int vtc_vit_claims(const struct vtc_load *ld, int with_cls) {
    const vtc_tensor_view *cls = ld->st ? vtc_load_findf(ld, HF_NAMES.class_emb, ld->prefix)
                                        : vtc_load_findf(ld, GGUF_NAMES.class_emb, "");
    const vtc_tensor_view *pw = ld->st ? vtc_load_findf(ld, HF_NAMES.patch_w, ld->prefix)
                                       : vtc_load_findf(ld, GGUF_NAMES.patch_w, "");
    return pw && (cls != NULL) == with_cls;
}

int vtc_vit_find_prefix(struct vtc_load *ld) {
    if (find_prefix(ld->st, ld->prefix, sizeof ld->prefix - 16)) return -1;
    // The projector and image_newline sit beside the tower: "vision_tower.vision_model." -> "".
    snprintf(ld->proj_prefix, sizeof ld->proj_prefix, "%s", ld->prefix);
    char *vt = strstr(ld->proj_prefix, "vision_tower.");
    if (vt) *vt = '\0'; else ld->proj_prefix[0] = '\0';
    return 0;
}
