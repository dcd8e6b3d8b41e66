// The embedded default model, and seeded random models for tests and benchmarks.
//
// The default is vtc's small trained VLM's vision side (samples/vlm: a CLIP ViT
// at LLaVA-1.5 geometry, 336 px, patch 14, 24x24 = 576 tokens, hidden 128, and
// its LLaVA MLP projector to the language model's 128), trained by
// tools/quality_train.py on tools/quality_data.py's scenes. Its files are
// assembled into the library with .incbin, byte for byte, so the default is
// exactly `--model samples/vlm`.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "family.h"
#include "model.h"
#include "base/rng.h"

// Standard normal by Box-Muller from 53-bit uniforms.
static float normal(uint64_t *s) {
    double u1 = ((vtc_splitmix64(s) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = vtc_rng_unit(s);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static float *fill(float **cursor, size_t n, float mean, float sd, uint64_t *s) {
    float *p = *cursor;
    for (size_t i = 0; i < n; i++) p[i] = mean + sd * normal(s);
    *cursor += n;
    return p;
}

// A builtin model named `name` with seeded random weights to come: CLIP's
// normalisation, the caller's limits, an arena of `floats` floats and `layers`
// zeroed blocks. NULL (nothing to free) when out of memory.
static struct vtc_model *random_model_new(const char *name, const struct vtc_model_params *params, size_t floats,
                                          int layers) {
    vtc_model *m = vtc_zalloc(1, sizeof *m);
    if (!m) return NULL;
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->format, sizeof m->format, "builtin");
    m->random_weights = 1;
    m->limits = params->limits;
    static const float mean[3] = { 0.48145466f, 0.4578275f, 0.40821073f };
    static const float sd[3] = { 0.26862954f, 0.26130258f, 0.27577711f };
    memcpy(m->image_mean, mean, sizeof mean);
    memcpy(m->image_std, sd, sizeof sd);
    m->arena = vtc_alloc(floats, sizeof(float));
    m->blocks = vtc_zalloc((size_t)layers, sizeof *m->blocks);
    if (!m->arena || !m->blocks) {
        vtc_model_free(m);
        return NULL;
    }
    m->arena_floats = floats;
    return m;
}

struct vtc_model *vtc_model_random(const struct vtc_random_spec *spec, struct vtc_model_params params) {
    const size_t D = (size_t)spec->hidden, F = (size_t)spec->ffn, L = (size_t)spec->lm_dim;
    const size_t p = (size_t)spec->patch_size, G = (size_t)(spec->image_size / spec->patch_size);
    const size_t pp = 3 * p * p, npos = G * G + 1;
    if (spec->hidden <= 0 || spec->heads <= 0 || spec->hidden % spec->heads || spec->ffn <= 0 || spec->layers <= 0 ||
        spec->patch_size <= 0 || spec->image_size < spec->patch_size || spec->lm_dim < 0) {
        vtc_set_error(VTC_ERR_ARG, "vtc_model_random: inconsistent geometry");
        return NULL;
    }
    const size_t per_block = 3 * D * D + 3 * D + D * D + D + 4 * D + F * D + F + D * F + D;
    const size_t total = D * pp + D + npos * D + 2 * D + (size_t)spec->layers * per_block + (L ? L * D + L + L * L + L : 0);
    vtc_model *m = random_model_new(spec->name, &params, total, spec->layers);
    if (!m) return NULL;
    m->family = vtc_family_named("clip");
    m->act = VTC_ACT_QUICK_GELU;
    m->image_size = spec->image_size;
    m->patch_size = spec->patch_size;
    m->grid_h = m->grid_w = (int)G;
    m->hidden = spec->hidden;
    m->heads = spec->heads;
    m->head_dim = spec->hidden / spec->heads;
    m->ffn = spec->ffn;
    m->n_layers = spec->layers;
    m->has_cls = 1;
    m->has_pre_ln = 1;
    m->eps = 1e-5f;
    m->lm_dim = spec->lm_dim;
    m->aspect = VTC_ASPECT_PAD;
    uint64_t s = spec->seed;
    float *c = m->arena;
    m->patch_w = fill(&c, D * pp, 0, 1.0f / sqrtf((float)pp), &s);
    m->class_emb = fill(&c, D, 0, 1.0f, &s);
    m->pos_emb = fill(&c, npos * D, 0, 0.5f, &s);
    m->pre_ln_w = fill(&c, D, 1, 0.05f, &s);
    m->pre_ln_b = fill(&c, D, 0, 0.05f, &s);
    for (int l = 0; l < spec->layers; l++) {
        struct vtc_vit_block *b = &m->blocks[l];
        b->qkv_w = fill(&c, 3 * D * D, 0, 1.5f / sqrtf((float)D), &s);
        b->qkv_b = fill(&c, 3 * D, 0, 0.02f, &s);
        b->o_w = fill(&c, D * D, 0, 0.5f / sqrtf((float)D), &s);
        b->o_b = fill(&c, D, 0, 0.02f, &s);
        b->ln1_w = fill(&c, D, 1, 0.05f, &s);
        b->ln1_b = fill(&c, D, 0, 0.05f, &s);
        b->ln2_w = fill(&c, D, 1, 0.05f, &s);
        b->ln2_b = fill(&c, D, 0, 0.05f, &s);
        b->fc1_w = fill(&c, F * D, 0, 1.0f / sqrtf((float)D), &s);
        b->fc1_b = fill(&c, F, 0, 0.02f, &s);
        b->fc2_w = fill(&c, D * F, 0, 0.5f / sqrtf((float)F), &s);
        b->fc2_b = fill(&c, D, 0, 0.02f, &s);
    }
    if (L) {
        m->mm0_w = fill(&c, L * D, 0, 1.0f / sqrtf((float)D), &s);
        m->mm0_b = fill(&c, L, 0, 0.02f, &s);
        m->mm2_w = fill(&c, L * L, 0, 1.0f / sqrtf((float)L), &s);
        m->mm2_b = fill(&c, L, 0, 0.02f, &s);
    }
    int layer = params.feature_layer ? params.feature_layer : -2;
    int block = vtc_resolve_feature_layer(layer, m->n_layers);
    if (block < 0) {
        vtc_model_free(m);
        return NULL;
    }
    m->feature_block = block;
    m->n_feature_blocks = 1;
    m->feature_blocks[0] = block;
    m->feature_dim = m->hidden;
    if (params.aspect) m->aspect = params.aspect;
    return m;
}

// Uniform with the given mean and standard deviation: a bench model's billion
// weights in a second or two, where Box-Muller takes ten times as long.
static float *fill_uniform(float **cursor, size_t n, float mean, float sd, uint64_t *s) {
    float *p = *cursor;
    const float half = sd * 1.7320508f; // sqrt(3) sd: the half-width of a uniform of that sd
    for (size_t i = 0; i < n; i++) p[i] = mean + half * (2.0f * (float)vtc_rng_unit(s) - 1.0f);
    *cursor += n;
    return p;
}

struct vtc_model *vtc_model_random_qwen25vl(const struct vtc_random_qwen_spec *spec, struct vtc_model_params params) {
    const size_t D = (size_t)spec->hidden, F = (size_t)spec->ffn, L = (size_t)spec->lm_dim;
    const size_t unit = (size_t)spec->merge * spec->merge, K = (size_t)3 * spec->temporal_patch * spec->patch_size *
                                                                     spec->patch_size;
    int ok = spec->hidden > 0 && spec->heads > 0 && spec->hidden % spec->heads == 0 &&
             (spec->hidden / spec->heads) % 4 == 0 && spec->ffn > 0 && spec->layers > 0 && spec->lm_dim > 0 &&
             spec->patch_size > 0 && spec->temporal_patch > 0 && spec->merge > 0 && spec->window > 0 &&
             spec->window % (spec->patch_size * spec->merge) == 0 && spec->n_full >= 0 && spec->n_full <= 8;
    for (int i = 0; ok && i < spec->n_full; i++) ok = spec->full_blocks[i] >= 0 && spec->full_blocks[i] < spec->layers;
    if (!ok) {
        vtc_set_error(VTC_ERR_ARG, "vtc_model_random_qwen25vl: inconsistent geometry");
        return NULL;
    }
    const size_t per_block = 2 * D + 3 * D * D + 3 * D + D * D + D + 2 * (F * D + F) + D * F + D;
    const size_t M = unit * D;
    const size_t total = D * K + (size_t)spec->layers * per_block + D + M * M + M + L * M + L;
    vtc_model *m = random_model_new(spec->name, &params, total, spec->layers);
    if (!m) return NULL;
    m->family = vtc_family_named("qwen2.5vl");
    m->layout = VTC_LAYOUT_NATIVE;
    m->act = VTC_ACT_SILU;
    m->patch_size = spec->patch_size;
    m->hidden = spec->hidden;
    m->heads = spec->heads;
    m->head_dim = spec->hidden / spec->heads;
    m->ffn = spec->ffn;
    m->n_layers = spec->layers;
    m->feature_block = m->feature_blocks[0] = spec->layers;
    m->n_feature_blocks = 1;
    m->feature_dim = (int)(unit * D);
    m->mm_hidden = (int)(unit * D);
    m->lm_dim = spec->lm_dim;
    m->eps = 1e-6f;
    struct vtc_native *nv = &m->native;
    nv->temporal_patch = spec->temporal_patch;
    nv->merge = spec->merge;
    nv->window = spec->window;
    nv->rms_norm = nv->gated_mlp = 1;
    nv->min_pixels = 3136, nv->max_pixels = 12845056;
    nv->rope_theta = 10000.0f;
    uint64_t s = spec->seed;
    float *c = m->arena;
    m->patch_w = fill_uniform(&c, D * K, 0, 1.0f / sqrtf((float)K), &s);
    for (int l = 0; l < spec->layers; l++) {
        struct vtc_vit_block *b = &m->blocks[l];
        b->ln1_w = fill_uniform(&c, D, 1, 0.05f, &s);
        b->ln2_w = fill_uniform(&c, D, 1, 0.05f, &s);
        b->qkv_w = fill_uniform(&c, 3 * D * D, 0, 1.0f / sqrtf((float)D), &s);
        b->qkv_b = fill_uniform(&c, 3 * D, 0, 0.02f, &s);
        b->o_w = fill_uniform(&c, D * D, 0, 0.5f / sqrtf((float)D), &s);
        b->o_b = fill_uniform(&c, D, 0, 0.02f, &s);
        b->fc1_w = fill_uniform(&c, F * D, 0, 1.0f / sqrtf((float)D), &s); // gate
        b->fc1_b = fill_uniform(&c, F, 0, 0.02f, &s);
        b->up_w = fill_uniform(&c, F * D, 0, 1.0f / sqrtf((float)D), &s);
        b->up_b = fill_uniform(&c, F, 0, 0.02f, &s);
        b->fc2_w = fill_uniform(&c, D * F, 0, 0.5f / sqrtf((float)F), &s); // down
        b->fc2_b = fill_uniform(&c, D, 0, 0.02f, &s);
    }
    for (int i = 0; i < spec->n_full; i++) m->blocks[spec->full_blocks[i]].full_attn = 1;
    nv->ln_q_w = fill_uniform(&c, D, 1, 0.05f, &s);
    m->mm0_w = fill_uniform(&c, M * M, 0, 1.0f / sqrtf((float)M), &s);
    m->mm0_b = fill_uniform(&c, M, 0, 0.02f, &s);
    m->mm2_w = fill_uniform(&c, L * M, 0, 1.0f / sqrtf((float)M), &s);
    m->mm2_b = fill_uniform(&c, L, 0, 0.02f, &s);
    return m;
}

// .incbin paths are relative to the directory the compiler runs in: the
// repository root, as the Makefile runs it.
#define VTC_EMBED(sym, file)                                                                                    \
    __asm__(".section .rodata\n.balign 64\n.hidden " #sym "\n.global " #sym "\n" #sym ":\n.incbin \"" file \
            "\"\n.hidden " #sym "_end\n.global " #sym "_end\n" #sym "_end:\n.byte 0\n.previous\n")
VTC_EMBED(vtc_default_weights, "samples/vlm/model.safetensors");
VTC_EMBED(vtc_default_config, "samples/vlm/config.json");
VTC_EMBED(vtc_default_preprocessor, "samples/vlm/preprocessor_config.json");
extern const unsigned char vtc_default_weights[], vtc_default_weights_end[];
extern const char vtc_default_config[], vtc_default_preprocessor[]; // NUL-terminated by the .byte 0

vtc_model *vtc_model_default(struct vtc_model_params params) {
    if (vtc_model_params_check(&params, "vtc_model_default")) return NULL;
    vtc_model *m = vtc_zalloc(1, sizeof *m);
    if (!m) return NULL;
    size_t size = (size_t)(vtc_default_weights_end - vtc_default_weights);
    if (vtc_model_load_memory(m, "<default model>", vtc_default_weights, size, vtc_default_config,
                              vtc_default_preprocessor, params)) {
        vtc_model_free(m);
        return NULL;
    }
    snprintf(m->name, sizeof m->name, "vtc-vlm CLIP ViT-336/14 + projector (trained, samples/vlm)");
    snprintf(m->format, sizeof m->format, "builtin");
    return m;
}
