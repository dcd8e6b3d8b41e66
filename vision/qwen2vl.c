// The Qwen2-VL and Qwen2.5-VL vision towers (transformers' modeling_qwen2_vl.py
// Qwen2VisionTransformerPretrainedModel, modeling_qwen2_5_vl.py
// Qwen2_5_VisionTransformerPretrainedModel): loading from Hugging Face
// directories and llama.cpp mmproj GGUF files (projector types qwen2vl_merger,
// qwen2.5vl_merger) into the same struct vtc_model, the forward pass on
// OpenBLAS, the attention statistic.
//
// The tower, on a grid of (t, h, w) patches of 3 x tp x p x p pixels:
// - PatchEmbed: a Conv3d without bias whose stride is its kernel, i.e. one
//   matmul of the processor's pixel_values [N, 3*tp*p*p] by the weight [D, 3*tp*p*p];
// - 2-D rotary embeddings on q and k in every block: of a head's head_dim
//   columns, the rotate_half halves share angles; in each half the first
//   head_dim/4 frequencies turn with the patch's row, the other head_dim/4 with
//   its column (VisionRotaryEmbedding(head_dim / 2), rot_pos_emb), theta 10000;
// - blocks x += attn(norm1(x)); x += mlp(norm2(x)): Qwen2-VL LayerNorm (eps 1e-6;
//   a GGUF's layer_norm_epsilon) and fc2(quick_gelu(fc1(x))); Qwen2.5-VL RMSNorm and
//   down(silu(gate(x)) * up(x)), all with bias;
// - attention within each temporal slice (Qwen2-VL, and Qwen2.5-VL's
//   fullatt_block_indexes) or within windows of window_size pixels
//   (window / (merge * p) merged units a side, cut short at the image's edge;
//   Qwen2.5-VL's other blocks). Qwen2.5-VL runs its blocks on the tokens in
//   window order (get_window_index) and restores the order after the merger; so
//   does this file, so the sums run in the reference's order;
// - the merger: ln_q, then each merged unit's merge x merge patches (consecutive
//   rows: the processor's patch order) side by side, then Linear, GELU (erf),
//   Linear. vtc's features are the first part (ln_q, concatenated), its
//   projector the MLP (model.h: mm0 / mm2), as LLaVA's.
// The attention statistic (no CLS token; docs/methods.md): the attention each
// patch receives, head-mean, summed over the queries of its span (its temporal
// slice in a full block, its window in a windowed one) and divided by their
// number, in the last block; a merged token's is the mean of its patches'.
// Keys: the last block's head-mean keys before the rotary embedding, averaged
// over the merged unit's patches.
#include "qwen2vl.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/vecmath.h"
#include "family.h"
#include "loader.h"

#define QWEN_EPS 1e-6f // the vision tower's norms, fixed in transformers' code (m->eps)
#define MAX_GRID 8192  // patches a side: far past any max_pixels

// ---------------------------------------------------------------- loading

struct qwen_names {
    const char *prefix; // "visual." or "model.visual."
};

static const char *find_prefix(const struct vtc_load *ld) {
    static const char *const prefixes[] = { "visual.", "model.visual." };
    for (int i = 0; i < 2; i++)
        if (vtc_load_findf(ld, "%spatch_embed.proj.weight", prefixes[i])) return prefixes[i];
    return NULL;
}

int vtc_qwen2vl_claims(const struct vtc_load *ld, int gated) {
    if (!ld->st) return 0;
    const char *px = find_prefix(ld);
    return px && (vtc_load_findf(ld, "%sblocks.0.mlp.gate_proj.weight", px) != NULL) == gated;
}

#define NAME(buf, ...) (snprintf((buf), sizeof(buf), __VA_ARGS__), (buf))

static int build_hf(struct vtc_model *m, const struct vtc_load *ld, struct vtc_arena *a, void *user) {
    const struct qwen_names *qn = user;
    const char *px = qn->prefix;
    const struct vtc_native *nv = &m->native;
    const int64_t D = m->hidden, F = m->ffn, p = m->patch_size, tp = nv->temporal_patch;
    const int64_t H = m->mm_hidden, L = m->lm_dim, FD = m->feature_dim;
    char b[320];
    int st = 0;
    m->patch_w = vtc_load_take(a, ld, NAME(b, "%spatch_embed.proj.weight", px), 5, (int64_t[]){ D, 3, tp, p, p }, &st);
    for (int l = 0; l < m->n_layers && !st; l++) {
        struct vtc_vit_block *k = &m->blocks[l];
        k->ln1_w = vtc_load_take(a, ld, NAME(b, "%sblocks.%d.norm1.weight", px, l), 1, (int64_t[]){ D }, &st);
        k->ln2_w = vtc_load_take(a, ld, NAME(b, "%sblocks.%d.norm2.weight", px, l), 1, (int64_t[]){ D }, &st);
        if (!nv->rms_norm) {
            k->ln1_b = vtc_load_take(a, ld, NAME(b, "%sblocks.%d.norm1.bias", px, l), 1, (int64_t[]){ D }, &st);
            k->ln2_b = vtc_load_take(a, ld, NAME(b, "%sblocks.%d.norm2.bias", px, l), 1, (int64_t[]){ D }, &st);
        }
        k->qkv_w = vtc_load_take(a, ld, NAME(b, "%sblocks.%d.attn.qkv.weight", px, l), 2, (int64_t[]){ 3 * D, D }, &st);
        k->qkv_b = vtc_load_take(a, ld, NAME(b, "%sblocks.%d.attn.qkv.bias", px, l), 1, (int64_t[]){ 3 * D }, &st);
        k->o_w = vtc_load_take(a, ld, NAME(b, "%sblocks.%d.attn.proj.weight", px, l), 2, (int64_t[]){ D, D }, &st);
        k->o_b = vtc_load_take(a, ld, NAME(b, "%sblocks.%d.attn.proj.bias", px, l), 1, (int64_t[]){ D }, &st);
        const char *f1 = nv->gated_mlp ? "gate_proj" : "fc1", *f2 = nv->gated_mlp ? "down_proj" : "fc2";
        k->fc1_w = vtc_load_take(a, ld, NAME(b, "%sblocks.%d.mlp.%s.weight", px, l, f1), 2, (int64_t[]){ F, D }, &st);
        k->fc1_b = vtc_load_take(a, ld, NAME(b, "%sblocks.%d.mlp.%s.bias", px, l, f1), 1, (int64_t[]){ F }, &st);
        if (nv->gated_mlp) {
            k->up_w = vtc_load_take(a, ld, NAME(b, "%sblocks.%d.mlp.up_proj.weight", px, l), 2, (int64_t[]){ F, D }, &st);
            k->up_b = vtc_load_take(a, ld, NAME(b, "%sblocks.%d.mlp.up_proj.bias", px, l), 1, (int64_t[]){ F }, &st);
        }
        k->fc2_w = vtc_load_take(a, ld, NAME(b, "%sblocks.%d.mlp.%s.weight", px, l, f2), 2, (int64_t[]){ D, F }, &st);
        k->fc2_b = vtc_load_take(a, ld, NAME(b, "%sblocks.%d.mlp.%s.bias", px, l, f2), 1, (int64_t[]){ D }, &st);
    }
    m->native.ln_q_w = vtc_load_take(a, ld, NAME(b, "%smerger.ln_q.weight", px), 1, (int64_t[]){ D }, &st);
    if (!nv->rms_norm)
        m->native.ln_q_b = vtc_load_take(a, ld, NAME(b, "%smerger.ln_q.bias", px), 1, (int64_t[]){ D }, &st);
    m->mm0_w = vtc_load_take(a, ld, NAME(b, "%smerger.mlp.0.weight", px), 2, (int64_t[]){ H, FD }, &st);
    m->mm0_b = vtc_load_take(a, ld, NAME(b, "%smerger.mlp.0.bias", px), 1, (int64_t[]){ H }, &st);
    m->mm2_w = vtc_load_take(a, ld, NAME(b, "%smerger.mlp.2.weight", px), 2, (int64_t[]){ L, H }, &st);
    m->mm2_b = vtc_load_take(a, ld, NAME(b, "%smerger.mlp.2.bias", px), 1, (int64_t[]){ L }, &st);
    return st;
}

// A config integer: absent -> def; present -> it must be in [lo, hi].
static int cfg_int_in(const cJSON *o, const char *key, int def, int lo, int hi, int *out, const char *path) {
    int st = vtc_cfg_int(o, key, def, out, path);
    if (!st && (*out < lo || *out > hi))
        st = vtc_set_error(VTC_ERR_FORMAT, "%s: \"%s\" is %d (%d..%d)", path, key, *out, lo, hi);
    return st;
}

// smart_resize's bounds lo..hi (the file's) with the caller's overrides
// (vtc_model_params.min_pixels / max_pixels, --resize-min-pixels / --resize-max-pixels).
static int set_pixel_bounds(struct vtc_model *m, const struct vtc_load *ld, int lo, int hi, const char *where) {
    const struct vtc_model_params *pr = ld->params;
    if (pr->min_pixels) lo = pr->min_pixels;
    if (pr->max_pixels) hi = pr->max_pixels;
    if (lo < 0 || hi < 1 || lo > hi)
        return vtc_set_error(pr->min_pixels || pr->max_pixels ? VTC_ERR_ARG : VTC_ERR_FORMAT,
                             "%s: pixel bounds min_pixels %d, max_pixels %d (0 <= min <= max, max >= 1)", where, lo, hi);
    m->native.min_pixels = lo, m->native.max_pixels = hi;
    return VTC_OK;
}

// A Hugging Face directory's bounds: Qwen2VLImageProcessor's defaults, its size
// {shortest_edge, longest_edge}, its min_pixels / max_pixels (which win), then
// the caller's.
static int pixel_bounds_hf(struct vtc_model *m, const struct vtc_load *ld) {
    int lo = 56 * 56, hi = 28 * 28 * 1280, st = 0;
    const cJSON *size = ld->pre ? cJSON_GetObjectItemCaseSensitive(ld->pre, "size") : NULL;
    if (cJSON_IsObject(size)) {
        st = vtc_cfg_int(size, "shortest_edge", lo, &lo, ld->pre_path);
        if (!st) st = vtc_cfg_int(size, "longest_edge", hi, &hi, ld->pre_path);
    }
    if (!st) st = vtc_cfg_int(ld->pre, "min_pixels", lo, &lo, ld->pre_path);
    if (!st) st = vtc_cfg_int(ld->pre, "max_pixels", hi, &hi, ld->pre_path);
    return st ? st : set_pixel_bounds(m, ld, lo, hi, ld->pre_path ? ld->pre_path : ld->path);
}

// fullatt_block_indexes (Qwen2.5-VL): the blocks attending over whole slices.
static int full_attention_blocks(struct vtc_model *m, const cJSON *vc, const char *path) {
    static const int DEFAULT[] = { 7, 15, 23, 31 }; // Qwen2_5_VLVisionConfig
    const cJSON *list = vc ? cJSON_GetObjectItemCaseSensitive(vc, "fullatt_block_indexes") : NULL;
    if (list && !cJSON_IsArray(list))
        return vtc_set_error(VTC_ERR_FORMAT, "%s: \"fullatt_block_indexes\" must be a list of block indexes", path);
    const int n = list ? cJSON_GetArraySize(list) : 4;
    for (int i = 0; i < n; i++) {
        int k = DEFAULT[i];
        if (list) {
            const cJSON *v = cJSON_GetArrayItem(list, i);
            if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
                return vtc_set_error(VTC_ERR_FORMAT, "%s: \"fullatt_block_indexes\" must list integers", path);
            if (v->valuedouble < 0 || v->valuedouble >= m->n_layers)
                return vtc_set_error(VTC_ERR_FORMAT, "%s: \"fullatt_block_indexes\" lists block %g of a %d-block "
                                     "tower", path, v->valuedouble, m->n_layers);
            k = (int)v->valuedouble;
        } else if (k >= m->n_layers) {
            return vtc_set_error(VTC_ERR_FORMAT, "%s: no \"fullatt_block_indexes\", and Qwen2.5-VL's default (7, 15, "
                                 "23, 31) does not fit a %d-block tower", path, m->n_layers);
        }
        m->blocks[k].full_attn = 1;
    }
    return VTC_OK;
}

// Checks shared by both formats once the geometry is read (hidden, heads, ffn,
// n_layers, patch, temporal patch, merge, window, eps, mean/std; the merger MLP
// mm0 [H, merge^2 D], mm2 [L, H]), then the derived sizes and the blocks, all
// of full attention (the caller marks Qwen2.5-VL's windowed ones). where: the
// file that gives the window.
static int settle_geometry(struct vtc_model *m, const struct vtc_load *ld, const vtc_tensor_view *mm0,
                           const vtc_tensor_view *mm2, int gated, const char *where) {
    struct vtc_native *nv = &m->native;
    const char *path = ld->path;
    const int D = m->hidden, unit = nv->merge * nv->merge;
    if (D <= 0 || D > 16384) return vtc_set_error(VTC_ERR_FORMAT, "%s: bad width %d (1..16384)", path, D);
    if (m->patch_size < 1 || m->patch_size > 64 || nv->temporal_patch < 1 || nv->temporal_patch > 8)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: bad patch %d x %d pixels x %d frames (p <= 64, tp <= 8)", path,
                             m->patch_size, m->patch_size, nv->temporal_patch);
    if (nv->merge < 1 || nv->merge > 8)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: bad spatial merge size %d (1..8)", where, nv->merge);
    if (m->heads <= 0 || D % m->heads || (D / m->heads) % 4)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: width %d does not split into %d heads of a multiple of 4 columns "
                             "(the 2-D rotary embedding)", path, D, m->heads);
    if (m->ffn <= 0 || m->ffn > 131072) return vtc_set_error(VTC_ERR_FORMAT, "%s: bad MLP width %d", path, m->ffn);
    if (m->n_layers <= 0 || m->n_layers > 512)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: bad number of encoder blocks %d", path, m->n_layers);
    if (gated && (nv->window <= 0 || nv->window % (m->patch_size * nv->merge)))
        return vtc_set_error(VTC_ERR_FORMAT, "%s: window_size %d is not a positive multiple of patch x merge = %d",
                             where, nv->window, m->patch_size * nv->merge);
    if (!(m->eps > 0 && m->eps < 1)) return vtc_set_error(VTC_ERR_FORMAT, "%s: bad norm epsilon %g", path, m->eps);
    for (int c = 0; c < 3; c++)
        if (!(m->image_std[c] > 0) || !isfinite(m->image_mean[c]) || !isfinite(m->image_std[c]))
            return vtc_set_error(VTC_ERR_FORMAT, "%s: bad image mean/std", path);
    if (mm0->shape[1] != (int64_t)unit * D || mm0->shape[0] <= 0 || mm0->shape[0] > 65536 || mm2->shape[1] != mm0->shape[0] ||
        mm2->shape[0] <= 0 || mm2->shape[0] > 65536)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: the merger MLP is [%lld, %lld] then [%lld, %lld]; a %dx%d merge of "
                             "width %d takes %d inputs", path, (long long)mm0->shape[0], (long long)mm0->shape[1],
                             (long long)mm2->shape[0], (long long)mm2->shape[1], nv->merge, nv->merge, D, unit * D);
    m->head_dim = D / m->heads;
    m->feature_dim = unit * D;
    m->mm_hidden = (int)mm0->shape[0];
    m->lm_dim = (int)mm2->shape[0];
    nv->rms_norm = gated;
    nv->gated_mlp = gated;
    nv->rope_theta = 10000.0f;
    m->blocks = vtc_zalloc((size_t)m->n_layers, sizeof *m->blocks);
    if (!m->blocks) return VTC_ERR_NOMEM;
    for (int l = 0; l < m->n_layers; l++) m->blocks[l].full_attn = 1;
    return VTC_OK;
}

static int load_hf(struct vtc_model *m, struct vtc_load *ld, int gated) {
    const struct vtc_family *fam = m->family;
    struct vtc_native *nv = &m->native;
    const char *path = ld->path, *cfg_path = ld->cfg_path ? ld->cfg_path : ld->path;
    const cJSON *vc = ld->vc;
    struct qwen_names qn = { find_prefix(ld) };
    if (!qn.prefix)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: no Qwen2-VL / Qwen2.5-VL vision tower (no tensor "
                             "visual.patch_embed.proj.weight)", path);
    const vtc_tensor_view *pw = vtc_load_findf(ld, "%spatch_embed.proj.weight", qn.prefix);
    if (pw->n_dims != 5 || pw->shape[1] != 3 || pw->shape[3] != pw->shape[4] || pw->shape[0] <= 0 ||
        pw->shape[0] > 16384 || pw->shape[2] < 1 || pw->shape[2] > 8 || pw->shape[3] < 1 || pw->shape[3] > 64)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: %spatch_embed.proj.weight is not a [D, 3, tp, p, p] Conv3d weight "
                             "(D <= 16384, tp <= 8, p <= 64)", path, qn.prefix);
    m->hidden = (int)pw->shape[0];
    nv->temporal_patch = (int)pw->shape[2];
    m->patch_size = (int)pw->shape[3];
    int layers = 0;
    while (layers < 1024 && vtc_load_findf(ld, "%sblocks.%d.attn.qkv.weight", qn.prefix, layers)) layers++;
    m->n_layers = layers;
    const vtc_tensor_view *fc1 = vtc_load_findf(ld, gated ? "%sblocks.0.mlp.gate_proj.weight" : "%sblocks.0.mlp.fc1.weight",
                                                qn.prefix);
    m->ffn = fc1 && fc1->n_dims == 2 ? (int)fc1->shape[0] : 0;
    const vtc_tensor_view *mm0 = vtc_load_findf(ld, "%smerger.mlp.0.weight", qn.prefix);
    const vtc_tensor_view *mm2 = vtc_load_findf(ld, "%smerger.mlp.2.weight", qn.prefix);
    if (!mm0 || !mm2 || mm0->n_dims != 2 || mm2->n_dims != 2)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: the patch merger (%smerger.mlp.0 / mlp.2) is missing or malformed",
                             path, qn.prefix);

    // The config: what the tensors do not say, and what they must agree with.
    const int named = vc && vtc_family_for_type(vtc_cfg_str(vc, "model_type")) == fam;
    const int named_top = ld->cfg && vtc_family_for_type(vtc_cfg_str(ld->cfg, "model_type")) == fam;
    int heads = 0, st = 0;
    st = cfg_int_in(vc, "num_heads", named || named_top ? fam->config_heads : 0, 0, 1024, &heads, cfg_path);
    if (!st && vc && cJSON_GetObjectItemCaseSensitive(vc, "num_heads") && heads <= 0)
        st = vtc_set_error(VTC_ERR_FORMAT, "%s: \"num_heads\" is %d", cfg_path, heads);
    if (!st) st = ld->params->heads && heads && ld->params->heads != heads
                      ? vtc_set_error(VTC_ERR_ARG, "%s: head count %d given (--heads), but the model's files say %d",
                                      path, ld->params->heads, heads)
                      : 0;
    m->heads = heads ? heads : ld->params->heads;
    if (!st && !m->heads)
        st = vtc_set_error(VTC_ERR_FORMAT, "%s: the attention head count is not determined: no config.json "
                           "num_heads (give it: --heads, vtc_model_params.heads)", path);
    if (!st) st = cfg_int_in(vc, "spatial_merge_size", 2, 1, 8, &nv->merge, cfg_path);
    if (!st) st = cfg_int_in(vc, "window_size", gated ? 112 : 0, 0, 1 << 20, &nv->window, cfg_path);
    if (!gated) nv->window = 0;
    const struct { const char *key; int have; } agree[] = {
        { gated ? "hidden_size" : "embed_dim", m->hidden }, { "patch_size", m->patch_size },
        { "temporal_patch_size", nv->temporal_patch }, { "depth", m->n_layers },
        { gated ? "out_hidden_size" : "hidden_size", (int)mm2->shape[0] },
        { gated ? "intermediate_size" : "", m->ffn },
    };
    for (size_t i = 0; i < sizeof agree / sizeof agree[0] && !st; i++) {
        int said;
        if (!agree[i].key[0]) continue;
        st = vtc_cfg_int(vc, agree[i].key, agree[i].have, &said, cfg_path);
        if (!st && said != agree[i].have)
            st = vtc_set_error(VTC_ERR_FORMAT, "%s: \"%s\" is %d but the weights have %d", cfg_path, agree[i].key,
                               said, agree[i].have);
    }
    const char *act = vtc_cfg_str(vc, "hidden_act");
    if (!st) st = vtc_act_from_name(act, fam->act, &m->act, cfg_path);
    if (!st && m->act != (gated ? VTC_ACT_SILU : VTC_ACT_QUICK_GELU) && !(gated == 0 && m->act == VTC_ACT_GELU))
        st = vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: hidden_act \"%s\" in a %s tower", cfg_path, act ? act : "?",
                           fam->name);
    if (!st) st = vtc_cfg_vec3(ld->pre, "image_mean", fam->mean, m->image_mean, ld->pre_path);
    if (!st) st = vtc_cfg_vec3(ld->pre, "image_std", fam->std, m->image_std, ld->pre_path);
    if (!st) st = pixel_bounds_hf(m, ld);
    if (st) return st;

    m->eps = QWEN_EPS; // fixed in transformers' code, not in the config
    if ((st = settle_geometry(m, ld, mm0, mm2, gated, cfg_path))) return st;
    if (gated) {
        for (int l = 0; l < m->n_layers; l++) m->blocks[l].full_attn = 0;
        if ((st = full_attention_blocks(m, vc, cfg_path))) return st;
    }
    return vtc_load_weights(m, ld, build_hf, &qn);
}

// ---------------------------------------------------------------- GGUF

// llama.cpp mmproj files of projector type qwen2vl_merger / qwen2.5vl_merger as
// convert_hf_to_gguf.py writes them (Qwen2VLVisionModel in conversion/qwen.py,
// names from gguf-py/gguf/tensor_mapping.py): the Conv3d split on its temporal
// axis into v.patch_embd.weight (frame 0) and v.patch_embd.weight.1 (frame 1),
// each [D, 3, p, p]; each block's qkv split into v.blk.N.attn_q / attn_k /
// attn_v; attn.proj -> attn_out; norm1 / norm2 -> ln1 / ln2; fc1 / fc2 ->
// ffn_up / ffn_down (Qwen2-VL), gate_proj / up_proj / down_proj -> ffn_gate /
// ffn_up / ffn_down (Qwen2.5-VL); merger.ln_q -> v.post_ln; merger.mlp.0 / 2 ->
// mm.0 / mm.2. The weights are put back into the Hugging Face layout, so the
// forward pass is the same. clip.cpp below is ggml-org/llama.cpp's
// tools/mtmd/clip.cpp as of 0024aa74, models/qwen2vl.cpp as of 06e514f6.
#define GGUF_PATCH0 "v.patch_embd.weight"
#define GGUF_PATCH1 "v.patch_embd.weight.1"

struct gguf_mlp {
    const char *in, *out; // the D -> F and F -> D matrices' names ("ffn_up", "ffn_down" unless swapped)
};

static int build_gguf(struct vtc_model *m, const struct vtc_load *ld, struct vtc_arena *a, void *user) {
    const struct gguf_mlp *mlp = user;
    const struct vtc_native *nv = &m->native;
    const int64_t D = m->hidden, F = m->ffn, p = m->patch_size, tp = nv->temporal_patch, pp = p * p;
    const int64_t H = m->mm_hidden, L = m->lm_dim, FD = m->feature_dim;
    char b[320];
    int st = 0;
    // The patch weight [D, 3, tp, p, p] (columns c, t, y, x: the processor's
    // pixel_values order) from the two [D, 3, p, p] slices, interleaved; the
    // slices' room is given back once copied (the last two slots taken).
    m->patch_w = vtc_load_reserve(a, (size_t)(D * 3 * tp * pp), &st);
    float *slice[2];
    slice[0] = vtc_load_take(a, ld, GGUF_PATCH0, 4, (int64_t[]){ D, 3, p, p }, &st);
    slice[1] = vtc_load_take(a, ld, GGUF_PATCH1, 4, (int64_t[]){ D, 3, p, p }, &st);
    if (a->filling && !st)
        for (int64_t dc = 0; dc < D * 3; dc++) // (output channel, colour) pairs
            for (int64_t t = 0; t < tp; t++)
                memcpy(m->patch_w + (dc * tp + t) * pp, slice[t] + dc * pp, sizeof(float) * (size_t)pp);
    if (!st) a->used -= (size_t)(2 * D * 3 * pp);
    for (int l = 0; l < m->n_layers && !st; l++) {
        struct vtc_vit_block *k = &m->blocks[l];
        // q, k and v stacked into one [3D, D] matrix, as the HF checkpoint's qkv
        k->qkv_w = vtc_load_reserve(a, (size_t)(3 * D * D), &st);
        k->qkv_b = vtc_load_reserve(a, (size_t)(3 * D), &st);
        for (int j = 0; j < 3 && !st; j++) {
            float *w = vtc_load_take(a, ld, NAME(b, "v.blk.%d.attn_%c.weight", l, "qkv"[j]), 2, (int64_t[]){ D, D }, &st);
            float *bias = vtc_load_take(a, ld, NAME(b, "v.blk.%d.attn_%c.bias", l, "qkv"[j]), 1, (int64_t[]){ D }, &st);
            if (a->filling && !st) {
                memcpy(k->qkv_w + j * D * D, w, sizeof(float) * (size_t)(D * D));
                memcpy(k->qkv_b + j * D, bias, sizeof(float) * (size_t)D);
            }
            if (!st) a->used -= (size_t)(D * D + D); // the separate copies, once stacked
        }
        k->o_w = vtc_load_take(a, ld, NAME(b, "v.blk.%d.attn_out.weight", l), 2, (int64_t[]){ D, D }, &st);
        k->o_b = vtc_load_take(a, ld, NAME(b, "v.blk.%d.attn_out.bias", l), 1, (int64_t[]){ D }, &st);
        k->ln1_w = vtc_load_take(a, ld, NAME(b, "v.blk.%d.ln1.weight", l), 1, (int64_t[]){ D }, &st);
        k->ln2_w = vtc_load_take(a, ld, NAME(b, "v.blk.%d.ln2.weight", l), 1, (int64_t[]){ D }, &st);
        if (!nv->rms_norm) {
            k->ln1_b = vtc_load_take(a, ld, NAME(b, "v.blk.%d.ln1.bias", l), 1, (int64_t[]){ D }, &st);
            k->ln2_b = vtc_load_take(a, ld, NAME(b, "v.blk.%d.ln2.bias", l), 1, (int64_t[]){ D }, &st);
        }
        // fc1 is the gate in a gated MLP (model.h), up the other D -> F matrix
        const char *f1 = nv->gated_mlp ? "ffn_gate" : mlp->in;
        k->fc1_w = vtc_load_take(a, ld, NAME(b, "v.blk.%d.%s.weight", l, f1), 2, (int64_t[]){ F, D }, &st);
        k->fc1_b = vtc_load_take(a, ld, NAME(b, "v.blk.%d.%s.bias", l, f1), 1, (int64_t[]){ F }, &st);
        if (nv->gated_mlp) {
            k->up_w = vtc_load_take(a, ld, NAME(b, "v.blk.%d.%s.weight", l, mlp->in), 2, (int64_t[]){ F, D }, &st);
            k->up_b = vtc_load_take(a, ld, NAME(b, "v.blk.%d.%s.bias", l, mlp->in), 1, (int64_t[]){ F }, &st);
        }
        k->fc2_w = vtc_load_take(a, ld, NAME(b, "v.blk.%d.%s.weight", l, mlp->out), 2, (int64_t[]){ D, F }, &st);
        k->fc2_b = vtc_load_take(a, ld, NAME(b, "v.blk.%d.%s.bias", l, mlp->out), 1, (int64_t[]){ D }, &st);
    }
    m->native.ln_q_w = vtc_load_take(a, ld, "v.post_ln.weight", 1, (int64_t[]){ D }, &st);
    if (!nv->rms_norm) m->native.ln_q_b = vtc_load_take(a, ld, "v.post_ln.bias", 1, (int64_t[]){ D }, &st);
    m->mm0_w = vtc_load_take(a, ld, "mm.0.weight", 2, (int64_t[]){ H, FD }, &st);
    m->mm0_b = vtc_load_take(a, ld, "mm.0.bias", 1, (int64_t[]){ H }, &st);
    m->mm2_w = vtc_load_take(a, ld, "mm.2.weight", 2, (int64_t[]){ L, H }, &st);
    m->mm2_b = vtc_load_take(a, ld, "mm.2.bias", 1, (int64_t[]){ L }, &st);
    return st;
}

// A GGUF key that, when present, must agree with what the tensors say.
static int gguf_agrees(const struct vtc_load *ld, const char *key, int have) {
    int said;
    int st = vtc_load_gguf_int(ld, key, 0, have, &said);
    if (!st && said != have)
        st = vtc_set_error(VTC_ERR_FORMAT, "%s: %s is %d but the weights have %d", ld->path, key, said, have);
    return st;
}

static int load_gguf(struct vtc_model *m, struct vtc_load *ld, int gated) {
    const struct vtc_family *fam = m->family;
    struct vtc_native *nv = &m->native;
    const char *path = ld->path, *ptype = gated ? "qwen2.5vl_merger" : "qwen2vl_merger";
    // clip.cpp (tools/mtmd/clip.cpp, clip_model_loader::load_hparams) reads the
    // same keys; clip.vision.image_size is the converter's warm-up size, not an
    // input size (the grid follows each image), and is ignored.
    int n_wa = 0, st = vtc_load_gguf_int(ld, "clip.vision.embedding_length", 1, 0, &m->hidden);
    if (!st) st = vtc_load_gguf_int(ld, "clip.vision.block_count", 1, 0, &m->n_layers);
    if (!st) st = vtc_load_gguf_int(ld, "clip.vision.attention.head_count", 1, 0, &m->heads);
    if (!st) st = vtc_load_gguf_int(ld, "clip.vision.patch_size", 1, 0, &m->patch_size);
    // clip.cpp: n_merge = 2 unless clip.vision.spatial_merge_size says
    if (!st) st = vtc_load_gguf_int(ld, "clip.vision.spatial_merge_size", 0, 2, &nv->merge);
    // the converter writes the text model's rms_norm_eps here, and clip.cpp's
    // norms use it (its default 1e-6 is transformers' fixed vision eps)
    if (!st) st = vtc_load_gguf_float(ld, "clip.vision.attention.layer_norm_epsilon", QWEN_EPS, &m->eps);
    if (!st) st = vtc_load_gguf_mean_std(ld, fam->mean, fam->std, m->image_mean, m->image_std);
    // n_wa_pattern: clip.cpp requires it of qwen2.5vl_merger only; a block is of
    // full attention when (il + 1) % n_wa_pattern == 0 (tools/mtmd/models/qwen2vl.cpp)
    if (!st) st = vtc_load_gguf_int(ld, "clip.vision.n_wa_pattern", gated, 0, &n_wa);
    // The window: clip.cpp's Qwen2.5-VL window inputs use hparams.attn_window_size
    // when set, else 112 (clip_image_batch_encode, "attn_window_size > 0 ?
    // attn_window_size : 112"); it sets attn_window_size from
    // clip.vision.window_size for other projectors only, so a converted Qwen2.5-VL
    // runs at 112, Qwen2_5_VLVisionConfig's default. vtc takes the key when a
    // file has it, else 112.
    if (!st) st = vtc_load_gguf_int(ld, "clip.vision.window_size", 0, gated ? 112 : 0, &nv->window);
    if (st) return st;
    if (!gated && (n_wa || nv->window))
        return vtc_set_error(VTC_ERR_FORMAT, "%s: a %s file with windowed attention (clip.vision.n_wa_pattern %d, "
                             "window_size %d): Qwen2-VL has none", path, ptype, n_wa, nv->window);
    // The activation: clip.use_silu / clip.use_gelu, quick GELU when neither
    // (clip.cpp's fallback, and Qwen2-VL's own).
    int use_gelu = 0, use_silu = 0;
    if (vtc_gguf_find_key(ld->gguf, "clip.use_gelu") >= 0 && (st = vtc_gguf_get_bool(ld->gguf, "clip.use_gelu", &use_gelu)))
        return st;
    if (vtc_gguf_find_key(ld->gguf, "clip.use_silu") >= 0 && (st = vtc_gguf_get_bool(ld->gguf, "clip.use_silu", &use_silu)))
        return st;
    m->act = use_silu ? VTC_ACT_SILU : use_gelu ? VTC_ACT_GELU : VTC_ACT_QUICK_GELU;
    if ((use_gelu && use_silu) || (gated ? m->act != VTC_ACT_SILU : m->act == VTC_ACT_SILU))
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: clip.use_gelu %d, clip.use_silu %d in a %s file (Qwen2.5-VL's "
                             "MLP is SiLU-gated: use_silu; Qwen2-VL's quick GELU or GELU)", path, use_gelu, use_silu,
                             ptype);

    // The patch embedding: the Conv3d's two temporal slices.
    const vtc_tensor_view *p0 = vtc_load_find(ld, GGUF_PATCH0), *p1 = vtc_load_find(ld, GGUF_PATCH1);
    if (!p0 || !p1)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: missing tensor %s (a %s file holds the Conv3d patch embedding as "
                             "two temporal slices, %s and %s)", path, p0 ? GGUF_PATCH1 : GGUF_PATCH0, ptype,
                             GGUF_PATCH0, GGUF_PATCH1);
    nv->temporal_patch = 2;
    // The MLP width comes from the tensors: for qwen2vl_merger the converter
    // writes the merger's output width into clip.vision.feed_forward_length.
    // ffn_up is D -> F and ffn_down F -> D; clip.cpp (load_tensors,
    // is_ffn_swapped) swaps the two when ffn_down's rows are D long, as files
    // from the old Qwen surgery script have them; so does vtc.
    struct gguf_mlp mlp = { "ffn_up", "ffn_down" };
    const vtc_tensor_view *up = vtc_load_find(ld, "v.blk.0.ffn_up.weight");
    const vtc_tensor_view *down = vtc_load_find(ld, "v.blk.0.ffn_down.weight");
    if (up && down && up->n_dims == 2 && down->n_dims == 2 && down->shape[1] == m->hidden &&
        down->shape[0] != m->hidden && up->shape[0] == m->hidden)
        mlp = (struct gguf_mlp){ "ffn_down", "ffn_up" };
    const vtc_tensor_view *in = vtc_load_findf(ld, "v.blk.0.%s.weight", mlp.in);
    m->ffn = in && in->n_dims == 2 ? (int)in->shape[0] : 0;
    const vtc_tensor_view *mm0 = vtc_load_find(ld, "mm.0.weight"), *mm2 = vtc_load_find(ld, "mm.2.weight");
    if (!mm0 || !mm2 || mm0->n_dims != 2 || mm2->n_dims != 2)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: the patch merger's MLP (mm.0 / mm.2) is missing or malformed", path);
    if ((st = settle_geometry(m, ld, mm0, mm2, gated, path))) return st;
    if ((st = gguf_agrees(ld, "clip.vision.projection_dim", m->lm_dim))) return st;
    if (gated && (st = gguf_agrees(ld, "clip.vision.feed_forward_length", m->ffn))) return st;
    if (gated) {
        if (n_wa < 1 || n_wa > m->n_layers)
            return vtc_set_error(VTC_ERR_FORMAT, "%s: clip.vision.n_wa_pattern is %d; a %d-block tower needs 1..%d "
                                 "(every n-th block attends over the whole image)", path, n_wa, m->n_layers,
                                 m->n_layers);
        for (int l = 0; l < m->n_layers; l++) m->blocks[l].full_attn = (l + 1) % n_wa == 0;
    }
    // smart_resize's bounds: a GGUF carries none; clip.cpp's for these projector
    // types, set_limit_image_tokens(8, 4096): 8 to 4096 merged tokens of
    // (patch x merge)^2 pixels (6272 .. 3211264 at 14 x 2); the caller's win.
    const int64_t token_px = (int64_t)(m->patch_size * nv->merge) * (m->patch_size * nv->merge);
    if ((st = set_pixel_bounds(m, ld, (int)(8 * token_px), (int)(4096 * token_px), path))) return st;
    return vtc_load_weights(m, ld, build_gguf, &mlp);
}

int vtc_qwen2vl_load(struct vtc_model *m, struct vtc_load *ld) {
    const int gated = !strcmp(m->family->name, "qwen2.5vl");
    return ld->gguf ? load_gguf(m, ld, gated) : load_hf(m, ld, gated);
}

// ---------------------------------------------------------------- scratch

struct qwen_scratch {
    int n_chunks;              // threads the attention is split over
    struct vtc_bf16 *bf;       // the linear layers' bf16 engine, or NULL (vit.h)
    size_t cap;                // patches the per-patch buffers hold
    size_t cap_scores;         // floats of one chunk's scores block
    float *x, *h, *qkv, *att;  // [N, D], [N, D], [N, 3D], [N, D]
    float *mlp, *up;           // [N, F] each (up: gated MLP)
    float *cos, *sin;          // [N, head_dim / 2] the rotary angles of each row
    float *head_stat, *acc;    // [heads, N], [N]
    float *scores;             // [n_chunks, cap_scores]
    int *order;                // [N / unit] window order: merged unit at each place (processor order index)
    int *seg;                  // [2 N / unit + 2] segment starts: the windows', then the slices'
};

vtc_vit_scratch *vtc_qwen2vl_scratch_new(const struct vtc_model *m, int n_threads, struct vtc_bf16 *bf) {
    vtc_blas_single_thread();
    struct qwen_scratch *s = vtc_zalloc(1, sizeof *s);
    if (!s) return NULL;
    s->n_chunks = n_threads < 1 ? 1 : n_threads;
    s->bf = bf && bf->pack ? bf : NULL;
    return (vtc_vit_scratch *)s;
}

static void scratch_release(struct qwen_scratch *s) {
    free(s->x), free(s->h), free(s->qkv), free(s->att), free(s->mlp), free(s->up), free(s->cos), free(s->sin);
    free(s->head_stat), free(s->acc), free(s->scores), free(s->order), free(s->seg);
    int n_chunks = s->n_chunks;
    struct vtc_bf16 *bf = s->bf;
    memset(s, 0, sizeof *s);
    s->n_chunks = n_chunks;
    s->bf = bf;
}

void vtc_qwen2vl_scratch_free(vtc_vit_scratch *handle) {
    struct qwen_scratch *s = (struct qwen_scratch *)handle;
    if (!s) return;
    scratch_release(s);
    free(s);
}

// Room for N patches and score blocks of `scores` floats per chunk.
static int scratch_reserve(struct qwen_scratch *s, const struct vtc_model *m, size_t N, size_t scores) {
    if (s->cap && N <= s->cap && scores <= s->cap_scores) return VTC_OK;
    scratch_release(s);
    const size_t D = (size_t)m->hidden, F = (size_t)m->ffn, unit = (size_t)m->native.merge * m->native.merge;
    const size_t hd2 = (size_t)m->head_dim / 2;
    s->x = vtc_alloc(N * D, sizeof(float));
    s->h = vtc_alloc(N * D, sizeof(float));
    s->qkv = vtc_alloc(N * 3 * D, sizeof(float));
    s->att = vtc_alloc(N * D, sizeof(float));
    s->mlp = vtc_alloc(N * F, sizeof(float));
    s->up = m->native.gated_mlp ? vtc_alloc(N * F, sizeof(float)) : NULL;
    s->cos = vtc_alloc(N * hd2, sizeof(float));
    s->sin = vtc_alloc(N * hd2, sizeof(float));
    s->head_stat = vtc_alloc((size_t)m->heads * N, sizeof(float));
    s->acc = vtc_alloc(N, sizeof(float));
    s->scores = vtc_alloc(scores * (size_t)s->n_chunks, sizeof(float));
    s->order = vtc_alloc(N / unit, sizeof(int));
    s->seg = vtc_alloc(2 * (N / unit) + 2, sizeof(int)); // T <= N / unit
    if (!s->x || !s->h || !s->qkv || !s->att || !s->mlp || (m->native.gated_mlp && !s->up) || !s->cos || !s->sin ||
        !s->head_stat || !s->acc || !s->scores || !s->order || !s->seg) {
        scratch_release(s);
        return VTC_ERR_NOMEM;
    }
    s->cap = N;
    s->cap_scores = scores;
    return VTC_OK;
}

// ---------------------------------------------------------------- forward

// Window order (get_window_index) of a T x UH x UW grid of merged units: order[k]
// = the unit (t*UH*UW + uy*UW + ux) at place k; seg receives the window starts in
// patches (unit rows each), n_seg windows. ws = units a window side (0: one
// window per slice).
static int window_order(int T, int UH, int UW, int ws, int unit, int *order, int *seg) {
    int k = 0, n = 0;
    if (ws <= 0) ws = UH > UW ? UH : UW;
    for (int t = 0; t < T; t++)
        for (int wy = 0; wy < UH; wy += ws)
            for (int wx = 0; wx < UW; wx += ws) {
                seg[n++] = k * unit;
                for (int uy = wy; uy < UH && uy < wy + ws; uy++)
                    for (int ux = wx; ux < UW && ux < wx + ws; ux++) order[k++] = (t * UH + uy) * UW + ux;
            }
    seg[n] = k * unit;
    return n;
}

// Norm of rows (LayerNorm with bias b, or RMSNorm when b is NULL) x (n, d) -> y.
struct rms_job { const float *x; float *y; const float *w; int d; float eps; };

static void rms_rows(void *p, int begin, int end) {
    const struct rms_job *j = p;
    for (int i = begin; i < end; i++) {
        const float *x = j->x + (size_t)i * j->d;
        float *y = j->y + (size_t)i * j->d;
        double ss = 0;
        for (int k = 0; k < j->d; k++) ss += (double)x[k] * x[k];
        const float inv = (float)(1.0 / sqrt(ss / j->d + j->eps));
        for (int k = 0; k < j->d; k++) y[k] = x[k] * inv * j->w[k];
    }
}

static void norm(const float *x, float *y, int n, int d, const float *w, const float *b, float eps, int n_threads) {
    if (b) {
        vtc_vit_layer_norm(x, y, n, d, w, b, eps, n_threads);
        return;
    }
    struct rms_job j = { x, y, w, d, eps };
    vtc_parallel_for(n * d >= 65536 ? n_threads : 1, n, rms_rows, &j);
}

// q and k of every row turned by its angles: x' = x cos + rotate_half(x) sin,
// rotate_half(x) = (-x2, x1) of the head's halves, whose angles are the same.
static void rotate(float *qkv, int N, const struct vtc_model *m, const float *cosv, const float *sinv) {
    const int D = m->hidden, hd = m->head_dim, half = hd / 2;
    for (int i = 0; i < N; i++) {
        const float *c = cosv + (size_t)i * half, *sn = sinv + (size_t)i * half;
        for (int part = 0; part < 2; part++) // q, then k
            for (int h = 0; h < m->heads; h++) {
                float *v = qkv + (size_t)i * 3 * D + (size_t)part * D + (size_t)h * hd;
                for (int e = 0; e < half; e++) {
                    const float a = v[e], b = v[e + half];
                    v[e] = a * c[e] - b * sn[e];
                    v[e + half] = b * c[e] + a * sn[e];
                }
            }
    }
}

struct attn_job {
    const struct vtc_model *m;
    struct qwen_scratch *s;
    const int *seg;
    int n_seg, qblock, stat;
};

// Chunk c's share of the (segment, head) pairs: scores of a block of queries at a
// time against the segment's keys, softmax, the weighted sum of values, and the
// attention each key receives (summed over the segment's queries / their count).
static void attention_chunk(void *p, int begin, int end) {
    const struct attn_job *j = p;
    const struct vtc_model *m = j->m;
    struct qwen_scratch *s = j->s;
    const int D = m->hidden, hd = m->head_dim, ld = 3 * D, n_items = j->n_seg * m->heads;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int c = begin; c < end; c++) {
        float *scores = s->scores + (size_t)c * s->cap_scores;
        const int i0 = (int)((int64_t)n_items * c / s->n_chunks), i1 = (int)((int64_t)n_items * (c + 1) / s->n_chunks);
        for (int it = i0; it < i1; it++) {
            const int g = it / m->heads, h = it % m->heads, a = j->seg[g], n = j->seg[g + 1] - a;
            const float *q = s->qkv + (size_t)a * ld + h * hd, *k = q + D, *v = q + 2 * D;
            float *st = s->head_stat + (size_t)h * s->cap + a;
            if (j->stat) memset(st, 0, sizeof(float) * n);
            for (int r0 = 0; r0 < n; r0 += j->qblock) {
                const int rows = n - r0 < j->qblock ? n - r0 : j->qblock;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, hd, scale, q + (size_t)r0 * ld, ld, k,
                            ld, 0.0f, scores, n);
                for (int r = 0; r < rows; r++) vtc_softmax_row(scores + (size_t)r * n, n);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, n, 1.0f, scores, n, v, ld, 0.0f,
                            s->att + (size_t)(a + r0) * D + h * hd, D);
                if (j->stat)
                    for (int r = 0; r < rows; r++) {
                        const float *row = scores + (size_t)r * n;
                        for (int e = 0; e < n; e++) st[e] += row[e];
                    }
            }
            if (j->stat)
                for (int e = 0; e < n; e++) st[e] /= (float)n;
        }
    }
}

// Attention of s->qkv within each segment -> s->att; with stat, s->acc[i] = the
// head-mean attention row i receives. Returns the FLOPs.
static double attention(const struct vtc_model *m, struct qwen_scratch *s, int N, const int *seg, int n_seg,
                        int qblock, int stat, int n_threads) {
    struct attn_job j = { m, s, seg, n_seg, qblock, stat };
    int chunks = s->n_chunks < n_threads ? s->n_chunks : n_threads;
    if (chunks < 1) chunks = 1;
    // the chunk count fixes each chunk's items (attention_chunk): split as the scratch was
    vtc_parallel_for(chunks, s->n_chunks, attention_chunk, &j);
    double flops = 0;
    for (int g = 0; g < n_seg; g++) flops += 4.0 * (double)(seg[g + 1] - seg[g]) * (seg[g + 1] - seg[g]) * m->hidden;
    if (stat)
        for (int i = 0; i < N; i++) {
            float acc = 0;
            for (int h = 0; h < m->heads; h++) acc += s->head_stat[(size_t)h * s->cap + i];
            s->acc[i] = acc / m->heads;
        }
    return flops;
}

// Per merged unit u (processor order), the mean over its patches of a per-patch
// value in window order: dst[order[k]] = mean(src[k*unit .. (k+1)*unit)).
static void unit_mean(const float *src, const int *order, int n_units, int unit, float *dst) {
    for (int k = 0; k < n_units; k++) {
        float acc = 0;
        for (int e = 0; e < unit; e++) acc += src[(size_t)k * unit + e];
        dst[order[k]] = acc / unit;
    }
}

int vtc_qwen2vl_forward(const struct vtc_model *m, vtc_vit_scratch *handle, const float *patches, const int grid[3],
                        int n_threads, struct vtc_vit_out *out) {
    struct qwen_scratch *s = (struct qwen_scratch *)handle;
    const struct vtc_native *nv = &m->native;
    const int T = grid[0], GH = grid[1], GW = grid[2], mg = nv->merge, unit = mg * mg;
    if (T < 1 || GH < mg || GW < mg || GH % mg || GW % mg || GH > MAX_GRID || GW > MAX_GRID ||
        (int64_t)T * GH * GW > m->limits.max_tokens * unit || (int64_t)T * GH * GW > (1 << 26))
        return vtc_set_error(VTC_ERR_ARG, "qwen2vl forward: bad grid %dx%dx%d (sides multiples of %d)", T, GH, GW, mg);
    const int N = T * GH * GW, UH = GH / mg, UW = GW / mg, n_units = N / unit;
    const int D = m->hidden, F = m->ffn, hd = m->head_dim, half = hd / 2, K = 3 * nv->temporal_patch *
                                                                                m->patch_size * m->patch_size;
    const int ws = nv->window ? nv->window / (m->patch_size * mg) : 0;
    // The longest segment: a slice (full blocks) or a window; queries in blocks
    // so one chunk's scores stay under 16M floats.
    const int max_seg = GH * GW;
    int qblock = max_seg < 256 ? max_seg : (int)((1 << 24) / max_seg);
    if (qblock < 16) qblock = 16;
    if (qblock > max_seg) qblock = max_seg;
    int st = scratch_reserve(s, m, (size_t)N, (size_t)qblock * max_seg);
    if (st) return st;

    // window order, its segments, and the slices' segments after them
    int *wseg = s->seg;
    const int n_win = window_order(T, UH, UW, ws, unit, s->order, wseg);
    int *fseg = wseg + n_win + 1, n_full = T;
    for (int t = 0; t <= T; t++) fseg[t] = t * GH * GW;

    // patch embedding (processor order, into h), rows gathered into window order in x
    double flops = 2.0 * N * K * D;
    vtc_vit_linear(s->bf, patches, N, K, m->patch_w, NULL, D, s->h, 0, n_threads);
    for (int k = 0; k < n_units; k++)
        memcpy(s->x + (size_t)k * unit * D, s->h + (size_t)s->order[k] * unit * D, sizeof(float) * unit * D);

    // rotary angles of each row (window order): row position in its slice's patch grid
    const int quarter = hd / 4;
    double inv[4096]; // the frequencies, once (head_dim / 4 <= 4096: widths up to the loaders' 16384)
    if (quarter > 4096) return vtc_set_error(VTC_ERR_ARG, "qwen2vl forward: head width %d", hd);
    for (int fi = 0; fi < quarter; fi++) inv[fi] = 1.0 / pow((double)nv->rope_theta, (double)(2 * fi) / (double)half);
    for (int k = 0; k < n_units; k++) {
        const int u = s->order[k] % (UH * UW), uy = u / UW, ux = u % UW;
        for (int e = 0; e < unit; e++) {
            const int y = uy * mg + e / mg, x = ux * mg + e % mg;
            float *c = s->cos + ((size_t)k * unit + e) * half, *sn = s->sin + ((size_t)k * unit + e) * half;
            for (int f = 0; f < half; f++) {
                const double ang = (f < quarter ? y : x) * inv[f % quarter];
                c[f] = (float)cos(ang), sn[f] = (float)sin(ang);
            }
        }
    }

    for (int l = 0; l < m->n_layers; l++) {
        const struct vtc_vit_block *b = &m->blocks[l];
        const int last = l == m->n_layers - 1, first = l == 0;
        const int stat = (last && (out->cls_attn || out->cls_attn_last)) || (first && out->cls_attn_first);
        const int *seg = b->full_attn ? fseg : wseg, n_seg = b->full_attn ? n_full : n_win;
        norm(s->x, s->h, N, D, b->ln1_w, b->ln1_b, m->eps, n_threads);
        vtc_vit_linear(s->bf, s->h, N, D, b->qkv_w, b->qkv_b, 3 * D, s->qkv, 0, n_threads);
        if (last && out->keys) { // head-mean keys before the rotation, mean over each unit's patches
            for (int k = 0; k < n_units; k++) {
                float *dst = out->keys + (size_t)s->order[k] * hd;
                memset(dst, 0, sizeof(float) * hd);
                for (int e = 0; e < unit; e++) {
                    const float *kr = s->qkv + ((size_t)k * unit + e) * 3 * D + D;
                    for (int h = 0; h < m->heads; h++)
                        for (int c = 0; c < hd; c++) dst[c] += kr[h * hd + c];
                }
                for (int c = 0; c < hd; c++) dst[c] /= (float)(unit * m->heads);
            }
        }
        rotate(s->qkv, N, m, s->cos, s->sin);
        flops += 2.0 * N * D * 3 * D + 2.0 * N * D * D;
        flops += attention(m, s, N, seg, n_seg, qblock, stat, n_threads);
        if (stat && first && out->cls_attn_first) unit_mean(s->acc, s->order, n_units, unit, out->cls_attn_first);
        if (stat && last && out->cls_attn) unit_mean(s->acc, s->order, n_units, unit, out->cls_attn);
        if (stat && last && out->cls_attn_last) unit_mean(s->acc, s->order, n_units, unit, out->cls_attn_last);
        vtc_vit_linear(s->bf, s->att, N, D, b->o_w, b->o_b, D, s->x, 1, n_threads);
        norm(s->x, s->h, N, D, b->ln2_w, b->ln2_b, m->eps, n_threads);
        vtc_vit_linear(s->bf, s->h, N, D, b->fc1_w, b->fc1_b, F, s->mlp, 0, n_threads);
        vtc_vit_activate(s->mlp, (size_t)N * F, m->act, n_threads);
        if (nv->gated_mlp) {
            vtc_vit_linear(s->bf, s->h, N, D, b->up_w, b->up_b, F, s->up, 0, n_threads);
            for (size_t i = 0; i < (size_t)N * F; i++) s->mlp[i] *= s->up[i];
            flops += 2.0 * N * D * F;
        }
        vtc_vit_linear(s->bf, s->mlp, N, F, b->fc2_w, b->fc2_b, D, s->x, 1, n_threads);
        flops += 4.0 * N * D * F;
    }

    // features: ln_q, each unit's patches side by side, back in the processor's order
    if (out->features) {
        norm(s->x, s->h, N, D, nv->ln_q_w, nv->ln_q_b, m->eps, n_threads);
        for (int k = 0; k < n_units; k++)
            memcpy(out->features + (size_t)s->order[k] * unit * D, s->h + (size_t)k * unit * D,
                   sizeof(float) * unit * D);
    }
    out->flops = flops;
    return vtc_bf16_take(s->bf);
}
