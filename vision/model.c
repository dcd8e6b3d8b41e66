// Loading vision models into the one representation of model.h, whatever the
// file: Hugging Face directories / safetensors files and llama.cpp mmproj GGUF
// files. This file is the family-independent part: open the file and its
// configs, recognise the VLM wrapper and the tower's family (config model_type
// first, tensor names second; a model vtc knows but does not run is named in
// the refusal), let the family load its weights (family.h), then settle the
// feature layer, the select strategy, post_layernorm and the tile layout.
#include "model.h"

#include <cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "anyres.h"
#include "base/mapfile.h"
#include "family.h"
#include "loader.h"
#include "preprocess.h"
#include "vit.h"

int vtc_resolve_feature_layer(int layer, int n_layers) {
    int block = layer < 0 ? n_layers + 1 + layer : layer;
    if (layer == 0 || block < 1 || block > n_layers)
        return vtc_set_error(VTC_ERR_ARG, "feature layer %d is out of range for a model with %d blocks",
                             layer, n_layers);
    return block;
}

// ---------------------------------------------------------------- recognising the model

// Which wrapper and family a safetensors model is, from its configs and tensors.
static int identify_hf(struct vtc_load *ld, const struct vtc_family **fam) {
    const char *top = vtc_cfg_str(ld->cfg, "model_type");
    const char *tower = ld->vc != ld->cfg ? vtc_cfg_str(ld->vc, "model_type") : NULL;
    const char *what = vtc_family_unsupported(top);
    if (!what) what = vtc_family_unsupported(tower);
    if (what)
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: %s is not supported (vtc runs LLaVA-style models on the %s "
                             "vision families)", ld->cfg_path, what, vtc_family_list());
    ld->wrapper = vtc_wrapper_for_type(top);
    *fam = vtc_family_for_type(tower ? tower : ld->wrapper ? NULL : top);
    if (tower && !*fam)
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: vision tower model_type \"%s\" is not a family vtc runs (%s)",
                             ld->cfg_path, tower, vtc_family_list());
    if (top && !ld->wrapper && !*fam)
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not a model vtc knows (wrappers llava, "
                             "llava_next, llava_onevision; vision families %s)", ld->cfg_path, top, vtc_family_list());
    if (*fam && (*fam)->forward_grid) return VTC_OK; // a native-resolution tower finds its own tensors
    if (vtc_vit_find_prefix(ld)) {
        if (!*fam) *fam = vtc_family_for_tensors(ld); // Qwen's visual.* tree
        if (*fam && (*fam)->forward_grid) return VTC_OK;
        return vtc_set_error(VTC_ERR_FORMAT, "%s: no vision tower (no tensor named "
                             "*vision*embeddings.patch_embedding.weight)", ld->path);
    }
    if (!*fam) *fam = vtc_family_for_tensors(ld);
    if (!*fam) return vtc_set_error(VTC_ERR_FORMAT, "%s: the vision tower's tensors match no family (%s)", ld->path,
                                    vtc_family_list());
    return VTC_OK;
}

// llama.cpp mmproj: the family from the projector type (Qwen's mergers) or the
// tensors (LLaVA's mlp).
static int identify_gguf(struct vtc_load *ld, const struct vtc_family **fam) {
    const vtc_gguf *g = ld->gguf;
    const char *arch = NULL, *ptype = NULL;
    if (vtc_gguf_get_str(g, "general.architecture", &arch) || strcmp(arch, "clip"))
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: not a CLIP/mmproj GGUF (general.architecture is \"%s\")",
                             ld->path, arch ? arch : "missing");
    static const char *const ptype_keys[] = { "clip.projector_type", "clip.vision.projector_type" };
    for (int i = 0; i < 2 && !ptype; i++)
        if (vtc_gguf_find_key(g, ptype_keys[i]) >= 0) {
            int st = vtc_gguf_get_str(g, ptype_keys[i], &ptype);
            if (st) return vtc_wrap_error(st, "%s", ld->path);
        }
    // Qwen2-VL / Qwen2.5-VL: the projector type names the family (qwen2vl.c reads the file)
    if (ptype && (!strcmp(ptype, "qwen2vl_merger") || !strcmp(ptype, "qwen2.5vl_merger"))) {
        *fam = vtc_family_named(!strcmp(ptype, "qwen2vl_merger") ? "qwen2vl" : "qwen2.5vl");
        return VTC_OK;
    }
    if (ptype && strcmp(ptype, "mlp"))
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: projector type \"%s\" is not supported (vtc runs the LLaVA "
                             "\"mlp\" projector over the clip and siglip families, and Qwen2-VL's \"qwen2vl_merger\" "
                             "and Qwen2.5-VL's \"qwen2.5vl_merger\")", ld->path, ptype);
    *fam = vtc_family_for_tensors(ld);
    if (!*fam) return vtc_set_error(VTC_ERR_FORMAT, "%s: no vision tower (no v.patch_embd.weight)", ld->path);
    return VTC_OK;
}

// ---------------------------------------------------------------- after the weights

// The feature layer, select strategy, post_layernorm and layout, from the
// configs (ld) and the caller's params.
static int finish(struct vtc_model *m, const struct vtc_load *ld) {
    const struct vtc_model_params *params = ld->params;
    const char *cfg_path = ld->cfg_path ? ld->cfg_path : ld->path;
    if (m->layout == VTC_LAYOUT_NATIVE) {
        // the features are the merger's input: the last block's output, normed
        if (params->feature_layer && vtc_resolve_feature_layer(params->feature_layer, m->n_layers) != m->n_layers)
            return vtc_set_error(VTC_ERR_ARG, "%s: a %s tower's features are its patch merger's input (the last "
                                 "block's output); feature layer %d is not supported", ld->path, m->family->name,
                                 params->feature_layer);
        if (params->aspect)
            return vtc_set_error(VTC_ERR_ARG, "%s: an aspect mode for a native-resolution model (its processor "
                                 "resizes to the image's own aspect: --resize-min-pixels / --resize-max-pixels)", ld->path);
        m->n_feature_blocks = 1;
        m->feature_blocks[0] = m->feature_block = m->n_layers;
        m->feature_slot[0] = 0;
        return VTC_OK;
    }
    if (params->min_pixels || params->max_pixels)
        return vtc_set_error(VTC_ERR_ARG, "%s: min_pixels / max_pixels are for native-resolution models (Qwen2-VL), "
                             "not a %s tower's %s layout", ld->path, m->family->name, vtc_layout_name(m->layout));
    // transformers' vision_feature_layer: the wrapper's default when its config is
    // silent; a plain tower's features are its last_hidden_state. A list (LLaVA-NeXT
    // configs, LLaVA-1.6 GGUFs) concatenates those layers' outputs, in its order.
    int layers[8], n_layers = 1, st = VTC_OK;
    layers[0] = ld->gguf ? -1 : ld->wrapper ? ld->wrapper->feature_layer : m->lm_dim ? -2 : -1;
    const cJSON *fl = ld->cfg ? cJSON_GetObjectItemCaseSensitive(ld->cfg, "vision_feature_layer") : NULL;
    const int layer_in_file = fl != NULL || (ld->gguf && vtc_gguf_find_key(ld->gguf, "clip.vision.feature_layer") >= 0);
    if (ld->gguf && layer_in_file) {
        // hidden_states indices (n + 1 + vision_feature_layer, never negative); clip.cpp
        // appends the listed blocks' outputs in ascending order
        int32_t list[8];
        st = vtc_gguf_get_arr_i32(ld->gguf, "clip.vision.feature_layer", list, 8, &n_layers);
        if (st) return vtc_wrap_error(st, "%s: clip.vision.feature_layer", ld->path);
        if (n_layers < 1 || n_layers > 8)
            return vtc_set_error(VTC_ERR_FORMAT, "%s: clip.vision.feature_layer lists %d layers (1..8)", ld->path,
                                 n_layers);
        for (int k = 0; k < n_layers; k++) layers[k] = list[k];
        for (int k = 0; k < n_layers; k++)
            for (int q = k + 1; q < n_layers; q++)
                if (layers[q] < layers[k]) { int t = layers[k]; layers[k] = layers[q]; layers[q] = t; }
    } else if (cJSON_IsArray(fl)) {
        n_layers = cJSON_GetArraySize(fl);
        if (n_layers < 1 || n_layers > 8)
            return vtc_set_error(VTC_ERR_FORMAT, "%s: \"vision_feature_layer\" lists %d layers (1..8)", cfg_path, n_layers);
        for (int k = 0; k < n_layers && !st; k++) {
            const cJSON *v = cJSON_GetArrayItem(fl, k);
            if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 1e6)
                st = vtc_set_error(VTC_ERR_FORMAT, "%s: \"vision_feature_layer\" must list integers", cfg_path);
            else
                layers[k] = (int)v->valuedouble;
        }
    } else if (fl) {
        st = vtc_cfg_int(ld->cfg, "vision_feature_layer", layers[0], &layers[0], cfg_path);
    }
    if (st) return st;
    if (params->feature_layer) layers[0] = params->feature_layer, n_layers = 1;
    m->n_feature_blocks = n_layers;
    int blocks[8];
    for (int k = 0; k < n_layers; k++) {
        // out of range: the caller's mistake (--layer), or the model file's
        blocks[k] = vtc_resolve_feature_layer(layers[k], m->n_layers);
        if (blocks[k] < 0 && !params->feature_layer)
            return vtc_set_error(VTC_ERR_FORMAT, "%s: the model's vision_feature_layer %d is out of range for its %d "
                                 "blocks", cfg_path, layers[k], m->n_layers);
        if (blocks[k] < 0) return blocks[k];
        for (int q = 0; q < k; q++)
            if (blocks[q] == blocks[k])
                return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: vision_feature_layer lists block %d twice", cfg_path,
                                     blocks[k]);
    }
    // ascending blocks for the forward pass, each with its place in the concatenation
    for (int k = 0; k < n_layers; k++) {
        int rank = 0;
        for (int q = 0; q < n_layers; q++) rank += blocks[q] < blocks[k];
        m->feature_blocks[rank] = blocks[k];
        m->feature_slot[rank] = k;
    }
    m->feature_block = m->feature_blocks[n_layers - 1];
    const int want_dim = m->hidden * n_layers;
    if (m->lm_dim && m->feature_dim != want_dim)
        return vtc_set_error(params->feature_layer ? VTC_ERR_ARG : VTC_ERR_FORMAT,
                             "%s: the projector takes %d inputs, but %d feature layer%s of width %d give %d", ld->path,
                             m->feature_dim, n_layers, n_layers > 1 ? "s" : "", m->hidden, want_dim);
    m->feature_dim = want_dim;
    const int block = m->feature_block;

    // vision_feature_select_strategy: "default" drops the CLS row, "full" keeps it.
    const char *sel = vtc_cfg_str(ld->cfg, "vision_feature_select_strategy");
    if (ld->cfg && cJSON_GetObjectItemCaseSensitive(ld->cfg, "vision_feature_select_strategy") && !sel)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: \"vision_feature_select_strategy\" must be a string", cfg_path);
    if (sel && strcmp(sel, "default") && strcmp(sel, "full"))
        return vtc_set_error(VTC_ERR_FORMAT, "%s: vision_feature_select_strategy \"%s\" (transformers knows "
                             "\"default\" and \"full\")", cfg_path, sel);
    if (!sel && ld->wrapper) sel = ld->wrapper->select;
    if (sel && !strcmp(sel, "full") && m->has_cls)
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: vision_feature_select_strategy \"full\" on a tower with a CLS "
                             "token (the CLS row would be a visual token without a grid position)", cfg_path);

    // post_layernorm: a plain tower's last_hidden_state (SigLIP), never a
    // hidden_states[k] a VLM or the caller selects; llama.cpp applies v.post_ln
    // whenever a file has it, after the last block present.
    if (ld->gguf)
        m->post_ln = m->has_post_ln && block == m->n_layers && n_layers == 1;
    else
        m->post_ln = m->family->post_ln_last && !ld->wrapper && !m->lm_dim && !params->feature_layer &&
                     !layer_in_file && block == m->n_layers && n_layers == 1;
    if (m->post_ln && !m->has_post_ln)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: missing tensor %spost_layernorm.weight (a plain %s tower's "
                             "last_hidden_state passes through it)", ld->path, ld->prefix, m->family->name);

    if (m->layout != VTC_LAYOUT_SINGLE) {
        // the base image and OneVision's video frames: a plain resize to the tile
        if (params->aspect)
            return vtc_set_error(VTC_ERR_ARG, "%s: an aspect mode for an %s model (its processor resizes and tiles)",
                                 ld->path, vtc_layout_name(m->layout));
        m->aspect = VTC_ASPECT_RESIZE;
    }
    if (params->aspect) m->aspect = params->aspect;
    return VTC_OK;
}

// transformers' LlavaNextConfig default image_grid_pinpoints, (height, width).
static const struct vtc_pinpoint NEXT_PINPOINTS[] = { { 336, 672 }, { 672, 336 }, { 672, 672 }, { 1008, 336 },
                                                      { 336, 1008 } };

// config.json's image_grid_pinpoints: a list of [height, width] pairs.
static int config_pinpoints(struct vtc_model *m, const cJSON *list, const char *path) {
    int n = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list) || n < 1 || n > VTC_ANYRES_MAX_PINPOINTS)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: \"image_grid_pinpoints\" must be a list of 1..%d [height, width] "
                             "pairs", path, VTC_ANYRES_MAX_PINPOINTS);
    int32_t *flat = vtc_alloc((size_t)n * 2, sizeof *flat);
    m->pinpoints = vtc_alloc((size_t)n, sizeof *m->pinpoints);
    if (!flat || !m->pinpoints) {
        free(flat);
        return VTC_ERR_NOMEM;
    }
    int st = 0;
    for (int i = 0; i < n && !st; i++) {
        const cJSON *pair = cJSON_GetArrayItem(list, i);
        for (int j = 0; j < 2 && !st; j++) {
            const cJSON *v = cJSON_IsArray(pair) && cJSON_GetArraySize(pair) == 2 ? cJSON_GetArrayItem(pair, j) : NULL;
            if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 1e9)
                st = vtc_set_error(VTC_ERR_FORMAT, "%s: image_grid_pinpoints[%d] is not a [height, width] pair of "
                                   "integers", path, i);
            else
                flat[2 * i + j] = (int32_t)v->valuedouble;
        }
    }
    if (!st) st = vtc_anyres_pinpoints_parse(flat, 2 * n, VTC_PINPOINTS_HW, m->pinpoints, n, &m->n_pinpoints);
    free(flat);
    return st;
}

// The tile layout a config or GGUF file asks for, with its pinpoints and tile budget.
static int read_layout(struct vtc_model *m, const struct vtc_load *ld) {
    if (m->family->forward_grid) { // Qwen2-VL: the grid follows the image
        m->layout = VTC_LAYOUT_NATIVE;
        return VTC_OK;
    }
    m->layout = ld->wrapper ? ld->wrapper->layout : VTC_LAYOUT_SINGLE;
    const char *path = ld->cfg_path ? ld->cfg_path : ld->path;
    int st = 0;
    if (ld->st) {
        const char *ar = vtc_cfg_str(ld->cfg, "image_aspect_ratio");
        if (ar && !strncmp(ar, "anyres", 6))
            m->layout = strncmp(ar, "anyres_max", 10) ? VTC_LAYOUT_ANYRES : VTC_LAYOUT_ANYRES_MAX;
        if (m->layout == VTC_LAYOUT_SINGLE) return VTC_OK;
        const cJSON *pp = cJSON_GetObjectItemCaseSensitive(ld->cfg, "image_grid_pinpoints");
        if (!pp && ld->pre) pp = cJSON_GetObjectItemCaseSensitive(ld->pre, "image_grid_pinpoints");
        if (pp) {
            st = config_pinpoints(m, pp, path);
        } else if (m->layout == VTC_LAYOUT_ANYRES) {
            m->n_pinpoints = (int)(sizeof NEXT_PINPOINTS / sizeof NEXT_PINPOINTS[0]);
            m->pinpoints = vtc_alloc((size_t)m->n_pinpoints, sizeof *m->pinpoints);
            if (!m->pinpoints) return VTC_ERR_NOMEM;
            memcpy(m->pinpoints, NEXT_PINPOINTS, sizeof NEXT_PINPOINTS);
        } else {
            return vtc_set_error(VTC_ERR_FORMAT, "%s: a LLaVA-OneVision config without image_grid_pinpoints", path);
        }
        if (!st && m->layout == VTC_LAYOUT_ANYRES_MAX) {
            // LlavaOnevisionConfig's vision_aspect_ratio, "anyres_max_9" by default
            const char *var = vtc_cfg_str(ld->cfg, "vision_aspect_ratio");
            if (!var) var = ar && !strncmp(ar, "anyres_max_", 11) ? ar : "anyres_max_9";
            char *end = NULL;
            long n = strncmp(var, "anyres_max_", 11) ? 0 : strtol(var + 11, &end, 10);
            if (n < 1 || n > VTC_ANYRES_MAX_TILES || !end || *end)
                return vtc_set_error(VTC_ERR_FORMAT, "%s: vision_aspect_ratio \"%s\" (vtc reads anyres_max_N)", path, var);
            m->max_tiles = (int)n;
        }
        return st;
    }
    // llama.cpp mmproj (the legacy LLaVA-1.6 converter): spatial_unpad with the
    // pinpoints flattened from the HF config unchanged. vtc reads them as that
    // config is read by transformers, (height, width), so a GGUF behaves as its HF
    // directory; llama.cpp's clip.cpp reads (width, height), which picks the other
    // of two tied pinpoints for small images (docs/library.md#tiled-images).
    const vtc_gguf *g = ld->gguf;
    const char *merge = NULL;
    if (vtc_gguf_find_key(g, "clip.vision.mm_patch_merge_type") >= 0 &&
        (st = vtc_gguf_get_str(g, "clip.vision.mm_patch_merge_type", &merge)))
        return vtc_wrap_error(st, "%s", ld->path);
    int has_pp = vtc_gguf_find_key(g, "clip.vision.image_grid_pinpoints") >= 0;
    if (merge && strcmp(merge, "flat") && strcmp(merge, "spatial_unpad"))
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: clip.vision.mm_patch_merge_type \"%s\" (vtc reads flat and "
                             "spatial_unpad)", ld->path, merge);
    if (!has_pp && !(merge && !strcmp(merge, "spatial_unpad"))) return VTC_OK;
    if (!has_pp) return vtc_set_error(VTC_ERR_FORMAT, "%s: spatial_unpad without clip.vision.image_grid_pinpoints",
                                      ld->path);
    m->layout = VTC_LAYOUT_ANYRES;
    int32_t flat[2 * 64];
    int n = 0;
    st = vtc_gguf_get_arr_i32(g, "clip.vision.image_grid_pinpoints", flat, (int)(sizeof flat / sizeof flat[0]), &n);
    if (st) return vtc_wrap_error(st, "%s: clip.vision.image_grid_pinpoints", ld->path);
    if (n < 2 || n > (int)(sizeof flat / sizeof flat[0]))
        return vtc_set_error(n < 2 ? VTC_ERR_FORMAT : VTC_ERR_LIMIT, "%s: clip.vision.image_grid_pinpoints holds %d "
                             "numbers (2..%d)", ld->path, n, (int)(sizeof flat / sizeof flat[0]));
    m->pinpoints = vtc_alloc((size_t)(n / 2 + 1), sizeof *m->pinpoints);
    if (!m->pinpoints) return VTC_ERR_NOMEM;
    st = vtc_anyres_pinpoints_parse(flat, n, VTC_PINPOINTS_HW, m->pinpoints, n / 2 + 1, &m->n_pinpoints);
    return st ? vtc_wrap_error(st, "%s: clip.vision.image_grid_pinpoints", ld->path) : VTC_OK;
}

// The common path of every format: recognise, load, finish.
static int load_from(struct vtc_model *m, struct vtc_load *ld, const char *format) {
    const struct vtc_family *fam = NULL;
    int st = ld->st ? identify_hf(ld, &fam) : identify_gguf(ld, &fam);
    if (!st) {
        m->family = fam;
        st = read_layout(m, ld);
    }
    if (!st) st = fam->load(m, ld);
    if (!st && (m->layout == VTC_LAYOUT_ANYRES || m->layout == VTC_LAYOUT_ANYRES_MAX)) {
        st = vtc_anyres_pinpoints_check(m->pinpoints, m->n_pinpoints, m->image_size);
        if (st) st = vtc_wrap_error(st, "%s: image_grid_pinpoints", ld->path);
        else if (!m->newline) st = vtc_set_error(VTC_ERR_FORMAT, "%s: an anyres model without image_newline", ld->path);
    }
    if (!st) st = finish(m, ld);
    if (!st) {
        snprintf(m->name, sizeof m->name, "%s%s", !strcmp(fam->name, "clip") ? "clip-vit" : fam->name,
                 !m->lm_dim ? "" : fam->forward_grid ? " + patch merger" : " + llava projector");
        snprintf(m->format, sizeof m->format, "%s", format);
    }
    return st;
}

// ---------------------------------------------------------------- safetensors

static cJSON *read_json(const char *path, int *status) {
    vtc_file f;
    *status = 0;
    struct stat sb;
    if (stat(path, &sb) != 0) return NULL; // absent: the defaults
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

// The safetensors model from its tensors and parsed configs (either may be NULL).
static int load_safetensors_set(struct vtc_model *m, const char *path, vtc_stset *set, const cJSON *cfg,
                                const cJSON *pre, const char *cfg_path, const char *pre_path,
                                const struct vtc_model_params *params, const char *format) {
    struct vtc_load ld = { .path = path, .st = set, .cfg = cfg, .vc = cfg, .pre = pre, .cfg_path = cfg_path,
                           .pre_path = pre_path, .params = params };
    const cJSON *vc = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "vision_config") : NULL;
    if (vc && !cJSON_IsObject(vc))
        return vtc_set_error(VTC_ERR_FORMAT, "%s: \"vision_config\" is not an object", cfg_path);
    if (vc) ld.vc = vc;
    return load_from(m, &ld, format);
}

static int load_safetensors(struct vtc_model *m, const char *path, const struct vtc_model_params *params) {
    vtc_stset *set = NULL;
    int st = vtc_stset_open(path, params->use_mmap, &set);
    if (st) return st;
    // config.json and preprocessor_config.json live in the directory (or beside the file).
    char dir[4096], cfg_path[4200], pre_path[4200];
    struct stat sb;
    snprintf(dir, sizeof dir, "%s", path);
    if (!(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))) {
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0'; else snprintf(dir, sizeof dir, ".");
    }
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    snprintf(pre_path, sizeof pre_path, "%s/preprocessor_config.json", dir);
    cJSON *cfg = read_json(cfg_path, &st), *pre = NULL;
    if (!st) pre = read_json(pre_path, &st);
    if (!st) st = load_safetensors_set(m, path, set, cfg, pre, cfg_path, pre_path, params, "safetensors");
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
    if (!st) st = load_safetensors_set(m, name, set, cfg, pre, cfg_path, pre_path, &params, "safetensors");
    cJSON_Delete(cfg);
    cJSON_Delete(pre);
    vtc_stset_close(set);
    return st;
}

static int load_gguf(struct vtc_model *m, const char *path, const struct vtc_model_params *params) {
    struct vtc_load ld = { .path = path, .params = params };
    int st = vtc_gguf_open(path, params->use_mmap, &ld.gguf);
    if (st) return st;
    // The legacy converter already dropped the blocks after LLaVA's feature
    // layer: the features are the last present block's output (file layer -1).
    st = load_from(m, &ld, "gguf");
    vtc_gguf_close(ld.gguf);
    return st;
}

// ---------------------------------------------------------------- public

struct vtc_model_params vtc_model_params_default(void) {
    struct vtc_model_params p = { 0 };
    p.feature_layer = 0;
    p.aspect = VTC_ASPECT_DEFAULT;
    p.use_mmap = 1;
    p.limits = vtc_limits_default();
    p.heads = 0;
    p.image_size = 0;
    return p;
}

void vtc_model_free(vtc_model *m) {
    if (!m) return;
    free(m->arena);
    vtc_mm_pack_free(m->bf16_pack);
    free(m->blocks);
    free(m->pinpoints);
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

int vtc_model_params_check(const struct vtc_model_params *p, const char *who) {
    if (p->aspect < 0 || p->aspect > VTC_ASPECT_RESIZE)
        return vtc_set_error(VTC_ERR_ARG, "%s: bad aspect mode %d", who, p->aspect);
    if (p->heads < 0 || p->heads > 1024)
        return vtc_set_error(VTC_ERR_ARG, "%s: bad head count %d", who, p->heads);
    if (p->image_size < 0 || p->image_size > 8192)
        return vtc_set_error(VTC_ERR_ARG, "%s: bad image size %d", who, p->image_size);
    if (p->min_pixels < 0 || p->max_pixels < 0 || (p->max_pixels && p->min_pixels > p->max_pixels))
        return vtc_set_error(VTC_ERR_ARG, "%s: bad pixel bounds min_pixels %d, max_pixels %d", who, p->min_pixels,
                             p->max_pixels);
    return VTC_OK;
}

vtc_model *vtc_model_load(const char *path, struct vtc_model_params params) {
    if (!path) {
        vtc_set_error(VTC_ERR_ARG, "vtc_model_load: path is NULL");
        return NULL;
    }
    if (vtc_model_params_check(&params, "vtc_model_load")) return NULL;
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

int vtc_model_image_tokens(const vtc_model *m, int32_t w, int32_t h, vtc_tiling *tiling, int64_t *n_tokens) {
    if (!m || !n_tokens) return vtc_set_error(VTC_ERR_ARG, "vtc_model_image_tokens: NULL argument");
    if (w < 1 || h < 1 || w > (1 << 24) || h > (1 << 24))
        return vtc_set_error(VTC_ERR_ARG, "vtc_model_image_tokens: image size %dx%d", w, h);
    vtc_tiling tl = { 0 };
    if (m->layout == VTC_LAYOUT_NATIVE) {
        int rh, rw, st = vtc_smart_resize(h, w, m->patch_size * m->native.merge, m->native.min_pixels,
                                          m->native.max_pixels, &rh, &rw);
        if (st) return st;
        *n_tokens = (int64_t)(rh / (m->patch_size * m->native.merge)) * (rw / (m->patch_size * m->native.merge));
    } else if (m->layout == VTC_LAYOUT_SINGLE) {
        *n_tokens = (int64_t)m->grid_h * m->grid_w;
    } else {
        struct vtc_anyres_plan plan;
        int st = vtc_anyres_plan_make(w, h, m->image_size, m->patch_size, m->pinpoints, m->n_pinpoints, m->max_tiles,
                                      &plan);
        if (st) return st;
        tl = (vtc_tiling){ .kind = VTC_TILING_ANYRES, .newline = m->newline ? VTC_NEWLINE_ROW : VTC_NEWLINE_NONE,
                           .image_w = w, .image_h = h, .tiles_h = plan.tiles_h, .tiles_w = plan.tiles_w,
                           .unpad_y0 = plan.unpad_y0, .unpad_x0 = plan.unpad_x0, .unpad_h = plan.unpad_h,
                           .unpad_w = plan.unpad_w, .out_h = plan.out_h, .out_w = plan.out_w };
        *n_tokens = plan.n_base + (int64_t)plan.out_h * (plan.out_w + (m->newline != NULL));
    }
    if (tiling) *tiling = tl;
    return VTC_OK;
}

int vtc_model_get_info(const vtc_model *m, struct vtc_model_info *info) {
    if (!m || !info) return vtc_set_error(VTC_ERR_ARG, "vtc_model_get_info: NULL argument");
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "%s", m->name);
    snprintf(info->arch, sizeof info->arch, "%s", m->family->name);
    snprintf(info->format, sizeof info->format, "%s", m->format);
    snprintf(info->layout, sizeof info->layout, "%s", vtc_layout_name(m->layout));
    info->image_size = m->image_size;
    info->patch_size = m->patch_size;
    info->grid = m->grid_h;
    info->grid_h = m->grid_h;
    info->grid_w = m->grid_w;
    info->hidden = m->hidden;
    info->heads = m->heads;
    info->head_dim = m->head_dim;
    info->ffn = m->ffn;
    info->n_layers = m->n_layers;
    info->feature_layer = m->feature_block;
    info->post_layernorm = m->post_ln;
    info->n_feature_layers = m->n_feature_blocks;
    info->feature_dim = m->feature_dim;
    info->has_cls = m->has_cls;
    info->has_projector = m->lm_dim > 0;
    info->lm_dim = m->lm_dim;
    info->aspect = m->aspect;
    info->random_weights = m->random_weights;
    memcpy(info->image_mean, m->image_mean, sizeof info->image_mean);
    memcpy(info->image_std, m->image_std, sizeof info->image_std);
    if (m->layout == VTC_LAYOUT_NATIVE) {
        info->merge_size = m->native.merge;
        info->temporal_patch = m->native.temporal_patch;
        info->window_size = m->native.window;
        info->min_pixels = (int32_t)m->native.min_pixels;
        info->max_pixels = (int32_t)m->native.max_pixels;
    }
    return VTC_OK;
}
