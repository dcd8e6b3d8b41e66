// FLOPs accounting: language-model presets, the as-executed count, the paper
// convention, the vision encoder and the projector. Conventions in flops.h.
#include "flops.h"

#include <stdio.h>
#include <string.h>

#include "common.h"

static const struct lm_preset {
    const char *name;
    struct vtc_lm_shape shape; // layers, hidden, ffn, heads, kv_heads, vocab
} k_presets[] = {
    { "llava-1.5-7b",       { 32, 4096, 11008, 32, 32, 32000 } },
    { "llava-1.5-13b",      { 40, 5120, 13824, 40, 40, 32000 } },
    { "qwen2-7b",           { 28, 3584, 18944, 28, 4, 152064 } },
    { "llava-onevision-7b", { 28, 3584, 18944, 28, 4, 152064 } }, // Qwen2-7B inside
    { "qwen2-0.5b",         { 24, 896, 4864, 14, 2, 151936 } },
    // The language models of the Qwen VLMs, from the released config.json files
    // (num_hidden_layers, hidden_size, intermediate_size, num_attention_heads,
    // num_key_value_heads, vocab_size) of huggingface.co/Qwen/Qwen2-VL-7B-Instruct,
    // Qwen/Qwen2.5-VL-3B-Instruct and Qwen/Qwen2.5-VL-7B-Instruct. The 3B ties its
    // LM head to the embeddings (tie_word_embeddings true), the 7Bs do not: the
    // head's matmul (2 * hidden * vocab a position) runs either way.
    { "qwen2-vl-7b",        { 28, 3584, 18944, 28, 4, 152064 } },
    { "qwen2.5-vl-3b",      { 36, 2048, 11008, 16, 2, 151936 } },
    { "qwen2.5-vl-7b",      { 28, 3584, 18944, 28, 4, 152064 } },
};
enum { N_PRESETS = (int)(sizeof k_presets / sizeof k_presets[0]) };

const char *vtc_lm_preset_name(int i) {
    return i >= 0 && i < N_PRESETS ? k_presets[i].name : NULL;
}

int vtc_lm_preset(const char *name, struct vtc_lm_shape *out) {
    if (!name || !out) return vtc_set_error(VTC_ERR_ARG, "lm preset: NULL argument");
    for (int i = 0; i < N_PRESETS; i++)
        if (strcmp(name, k_presets[i].name) == 0) {
            *out = k_presets[i].shape;
            return VTC_OK;
        }
    char known[256] = "";
    for (int i = 0; i < N_PRESETS; i++) {
        size_t len = strlen(known);
        snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", k_presets[i].name);
    }
    return vtc_set_error(VTC_ERR_ARG, "lm preset '%s': unknown (known: %s)", name, known);
}

int vtc_lm_shape_check(const struct vtc_lm_shape *lm) {
    if (!lm) return vtc_set_error(VTC_ERR_ARG, "lm shape: NULL");
    const struct { const char *name; int32_t v; } f[] = {
        { "layers", lm->layers }, { "hidden", lm->hidden }, { "ffn", lm->ffn },
        { "heads", lm->heads }, { "kv_heads", lm->kv_heads }, { "vocab", lm->vocab },
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v < 1) return vtc_set_error(VTC_ERR_ARG, "lm shape: %s = %d, must be >= 1", f[i].name, (int)f[i].v);
    if (lm->hidden % lm->heads != 0)
        return vtc_set_error(VTC_ERR_ARG, "lm shape: hidden %d is not a multiple of heads %d",
                             (int)lm->hidden, (int)lm->heads);
    if (lm->kv_heads > lm->heads || lm->heads % lm->kv_heads != 0)
        return vtc_set_error(VTC_ERR_ARG, "lm shape: kv_heads %d must divide heads %d",
                             (int)lm->kv_heads, (int)lm->heads);
    return VTC_OK;
}

// ---------------------------------------------------------------- as executed

// Width of k and v: kv_heads * head_dim.
static double kv_width(const struct vtc_lm_shape *lm) {
    return (double)lm->hidden / lm->heads * lm->kv_heads;
}

double vtc_flops_lm_layer_linear(const struct vtc_lm_shape *lm) {
    const double d = lm->hidden, m = lm->ffn;
    return 2.0 * (2.0 * d * d + 2.0 * d * kv_width(lm) + 3.0 * d * m);
}

// Scores (q . k) and weighted sum (p . v) over all heads: 2 * d MACs per (query, key) pair.
static double attn_per_pair(const struct vtc_lm_shape *lm) { return 4.0 * lm->hidden; }

double vtc_flops_lm_layer_prefill(const struct vtc_lm_shape *lm, int64_t n) {
    const double nn = (double)n;
    return nn * vtc_flops_lm_layer_linear(lm) + attn_per_pair(lm) * (nn * (nn + 1.0) / 2.0);
}

double vtc_flops_lm_layer_decode(const struct vtc_lm_shape *lm, int64_t c) {
    return vtc_flops_lm_layer_linear(lm) + attn_per_pair(lm) * (double)c;
}

double vtc_flops_lm_head(const struct vtc_lm_shape *lm, int64_t n_tokens) {
    return 2.0 * lm->hidden * (double)lm->vocab * (double)n_tokens;
}

double vtc_flops_lm_prefill(const struct vtc_lm_shape *lm, int64_t n) {
    if (n <= 0) return 0.0;
    return lm->layers * vtc_flops_lm_layer_prefill(lm, n) + vtc_flops_lm_head(lm, 1);
}

double vtc_flops_lm_decode_step(const struct vtc_lm_shape *lm, int64_t c) {
    return lm->layers * vtc_flops_lm_layer_decode(lm, c) + vtc_flops_lm_head(lm, 1);
}

// Steps g = 1..S with context c = n + g in `layers` layers, without the LM head:
// S * layers * linear + attn * layers * (S*n + S(S+1)/2).
static double decode_layers(const struct vtc_lm_shape *lm, int64_t layers, int64_t n, int64_t steps) {
    const double s = (double)steps, ctx_sum = s * (double)n + s * (s + 1.0) / 2.0;
    return (double)layers * (s * vtc_flops_lm_layer_linear(lm) + attn_per_pair(lm) * ctx_sum);
}

double vtc_flops_lm_decode(const struct vtc_lm_shape *lm, int64_t n_prompt, int64_t n_gen) {
    if (n_gen <= 1) return 0.0;
    return decode_layers(lm, lm->layers, n_prompt, n_gen - 1) + vtc_flops_lm_head(lm, n_gen - 1);
}

static int count_ok(int64_t v) { return v >= 0 && v <= VTC_FLOPS_MAX_TOKENS; }

int vtc_lm_flops_split(const struct vtc_lm_shape *lm, int64_t n_visual, int64_t n_kept,
                       int32_t k_layer, int64_t n_text, int64_t n_gen, struct vtc_flops *out) {
    if (!out) return vtc_set_error(VTC_ERR_ARG, "lm flops: NULL output");
    int st = vtc_lm_shape_check(lm);
    if (st != VTC_OK) return st;
    if (!count_ok(n_visual) || !count_ok(n_kept) || !count_ok(n_text) || !count_ok(n_gen))
        return vtc_set_error(VTC_ERR_ARG, "lm flops: token counts must be in [0, 2^40] "
                             "(visual %lld, kept %lld, text %lld, gen %lld)", (long long)n_visual,
                             (long long)n_kept, (long long)n_text, (long long)n_gen);
    if (n_kept > n_visual)
        return vtc_set_error(VTC_ERR_ARG, "lm flops: kept %lld > visual %lld", (long long)n_kept,
                             (long long)n_visual);
    if (k_layer < 0 || k_layer > lm->layers)
        return vtc_set_error(VTC_ERR_ARG, "lm flops: pruning layer %d outside [0, %d]", (int)k_layer,
                             (int)lm->layers);
    const int64_t n_full = n_visual + n_text, n_cut = n_kept + n_text;
    const int64_t early = k_layer, late = lm->layers - k_layer;
    if ((late > 0 ? n_cut : n_full) < 1)
        return vtc_set_error(VTC_ERR_ARG, "lm flops: empty prompt (no %stext tokens)",
                             late > 0 ? "kept visual or " : "visual or ");

    out->prefill = (double)early * vtc_flops_lm_layer_prefill(lm, n_full) +
                   (double)late * vtc_flops_lm_layer_prefill(lm, n_cut) + vtc_flops_lm_head(lm, 1);
    const int64_t steps = n_gen > 1 ? n_gen - 1 : 0;
    out->decode = decode_layers(lm, early, n_full, steps) + decode_layers(lm, late, n_cut, steps) +
                  vtc_flops_lm_head(lm, steps);
    out->decode_per_token = steps > 0 ? out->decode / (double)steps
                                      : decode_layers(lm, early, n_full, 1) +
                                            decode_layers(lm, late, n_cut, 1) + vtc_flops_lm_head(lm, 1);
    out->paper_prefill = vtc_flops_paper_prefill_split(lm, n_full, n_cut, k_layer);
    return VTC_OK;
}

int vtc_lm_flops(const struct vtc_lm_shape *lm, int64_t n_visual, int64_t n_text, int64_t n_gen,
                 struct vtc_flops *out) {
    return vtc_lm_flops_split(lm, n_visual, n_visual, 0, n_text, n_gen, out);
}

// ---------------------------------------------------------------- the paper convention

double vtc_flops_paper_layer(const struct vtc_lm_shape *lm, int64_t n) {
    const double nn = (double)n, d = lm->hidden, m = lm->ffn;
    return 4.0 * nn * d * d + 2.0 * nn * nn * d + 2.0 * nn * d * m;
}

double vtc_flops_paper_prefill(const struct vtc_lm_shape *lm, int64_t n) {
    return lm->layers * vtc_flops_paper_layer(lm, n);
}

static int clamp_layer(int k, int layers) { return k < 0 ? 0 : k > layers ? layers : k; }

double vtc_flops_paper_prefill_split(const struct vtc_lm_shape *lm, int64_t n, int64_t n_hat, int K) {
    K = clamp_layer(K, lm->layers);
    return K * vtc_flops_paper_layer(lm, n) + (lm->layers - K) * vtc_flops_paper_layer(lm, n_hat);
}

double vtc_flops_equiv_tokens(int64_t n, int64_t n_hat, int K, int L) {
    if (L <= 0) return 0.0;
    K = clamp_layer(K, L);
    return ((double)K * (double)n + (double)(L - K) * (double)n_hat) / L;
}

// ---------------------------------------------------------------- vision encoder, projector

double vtc_flops_vit_patch_embed(const struct vtc_vit_dims *v, int64_t n_patches) {
    return 2.0 * (double)n_patches * (3.0 * v->patch_size * v->patch_size) * v->hidden;
}

double vtc_flops_vit_block(const struct vtc_vit_dims *v, int64_t n_tokens) {
    const double n = (double)n_tokens, D = v->hidden, F = v->ffn;
    return 8.0 * n * D * D + 4.0 * n * n * D + 4.0 * n * D * F;
}

double vtc_flops_vit(const struct vtc_vit_dims *v, int64_t n_patches, int64_t n_tokens, int32_t n_blocks) {
    return vtc_flops_vit_patch_embed(v, n_patches) + (double)n_blocks * vtc_flops_vit_block(v, n_tokens);
}

double vtc_flops_projector(int64_t n, int32_t in_dim, int32_t mid_dim, int32_t out_dim) {
    return 2.0 * (double)n * ((double)in_dim * mid_dim + (double)mid_dim * out_dim);
}
