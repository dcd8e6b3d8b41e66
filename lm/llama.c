// The reference Llama decoder: model loading (llama2.c checkpoints, GGUF
// "llama" files), the batched prefill and single-token decode, the hooks of
// the in-decoder methods, and the FLOPs / KV-cache counters.
//
// Numerics follow llama2.c's run.c operation for operation (RMSNorm with the
// sum of squares in float, RoPE angles as (float)pos * (1 / theta^(i/hs)) with
// cosf/sinf, attention scores divided by sqrtf(head_dim), softmax with expf,
// SiLU as x * (1 / (1 + expf(-x)))). Only the matrix products differ: OpenBLAS
// sums in another order than run.c's loops, a relative difference near 1e-7.
//
// RoPE rotates adjacent pairs (x[2i], x[2i+1]) of each head, Meta's original
// layout, which both llama2.c's exporter and llama.cpp's GGUF converter write:
// the converter permutes Hugging Face's q/k weights (whose rotate_half RoPE
// pairs x[i] with x[i + hs/2]) back into this layout, so GGUF weights are used
// as stored. tools/ref_llama.py checks both against a rotate_half reference.
#include "lm.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/common.h"
#include "base/gguf.h"
#include "base/vecmath.h"

// Bounds on header values, far above any real model, so that every size
// computed from them fits comfortably before the memory limit is consulted.
#define LM_MAX_DIM (1 << 16)
#define LM_MAX_HIDDEN (1 << 20)
#define LM_MAX_LAYERS 1024
#define LM_MAX_HEADS 1024
#define LM_MAX_VOCAB (1 << 24)
#define LM_MAX_SEQ (1 << 24)
// Default KV-cache slots when a model's context is long (GGUF files say 128k).
#define LM_DEFAULT_CTX 4096
// The default memory limit, vtc_limits_default()'s max_memory.
#define LM_DEFAULT_MAX_MEMORY (8ull << 30)
// Below this many multiply-accumulates a matmul runs on one thread.
#define LM_PAR_MACS (1 << 18)

struct lm_layer {
    const float *attn_norm; // [dim]
    const float *wq;        // [dim, dim]        (out, in), row-major
    const float *wk;        // [kv_dim, dim]
    const float *wv;        // [kv_dim, dim]
    const float *wo;        // [dim, dim]
    const float *ffn_norm;  // [dim]
    const float *w1;        // [hidden, dim]     gate
    const float *w2;        // [dim, hidden]     down
    const float *w3;        // [hidden, dim]     up
};

// Each layer's weights under llama.cpp's GGUF names ("blk.N.<name>.weight"), in
// the order its converter writes them, with their shapes: rows and columns as
// 'd' (dim), 'k' (kv_dim), 'h' (hidden_dim), or 0 (a vector). Loading a GGUF
// file and listing the weights for export (vtc_lm_tensor) both read this table.
static const struct layer_tensor {
    const char *name;
    char rows, cols;
    size_t field; // offsetof(struct lm_layer, ...)
} LAYER_TENSORS[] = {
    { "attn_norm", 'd', 0, offsetof(struct lm_layer, attn_norm) },
    { "attn_q", 'd', 'd', offsetof(struct lm_layer, wq) },
    { "attn_k", 'k', 'd', offsetof(struct lm_layer, wk) },
    { "attn_v", 'k', 'd', offsetof(struct lm_layer, wv) },
    { "attn_output", 'd', 'd', offsetof(struct lm_layer, wo) },
    { "ffn_norm", 'd', 0, offsetof(struct lm_layer, ffn_norm) },
    { "ffn_gate", 'h', 'd', offsetof(struct lm_layer, w1) },
    { "ffn_down", 'd', 'h', offsetof(struct lm_layer, w2) },
    { "ffn_up", 'h', 'd', offsetof(struct lm_layer, w3) },
};
#define N_LAYER_TENSORS ((int)(sizeof LAYER_TENSORS / sizeof LAYER_TENSORS[0]))

static int64_t layer_dim(const struct vtc_lm_config *c, char which) {
    return which == 'd' ? c->dim : which == 'k' ? c->kv_dim : which == 'h' ? c->hidden_dim : 0;
}

static const float **layer_field(struct lm_layer *ly, int i) {
    return (const float **)((char *)ly + LAYER_TENSORS[i].field);
}

struct vtc_lm {
    struct vtc_lm_config cfg;
    float *weights;         // one allocation; everything below points into it
    const float *tok_embd;  // [vocab, dim]
    const float *out_norm;  // [dim]
    const float *wcls;      // [vocab, dim]
    struct lm_layer *layers;
    float *rope_freq;       // [head_dim / 2] 1 / theta^(2i / head_dim)
    uint64_t max_memory;
};

struct vtc_lm_ctx {
    const vtc_lm *lm;
    int32_t n_ctx, n_threads;
    float *key_cache, *value_cache; // [n_layers, n_ctx, kv_dim]
    int32_t *slot_pos;              // [n_ctx] position id of each slot
    int32_t *drop_from;             // [n_ctx] first layer a slot is dropped from (n_layers: never)
    uint8_t *mask_keep;             // [n_ctx] 0: not attended by layers >= mask_from
    int32_t mask_from;              // n_layers: no mask
    int32_t n_cache, next_pos;

    // Scratch for a batch of up to cap_rows rows.
    int32_t cap_rows;
    float *x;        // [rows, dim] residual stream
    float *xb;       // [rows, dim] normalised input / attention output
    float *tmp;      // [rows, dim]
    float *q;        // [rows, dim] queries of the layer just run (rotated)
    float *k, *v;    // [rows, kv_dim]
    float *hb, *hb2; // [rows, hidden]
    int32_t *act;    // [rows] batch rows computed in this layer
    int32_t *act_of; // [rows] row -> index in act, or -1
    int32_t *n_keys; // [rows] keys each active row attends to (a prefix of keys)
    int32_t *keys;   // [n_ctx] slots attended in this layer, ascending
    float *scores;   // [n_threads, n_ctx]
    float *logits;   // [logit_cap, vocab]
    size_t logit_cap;
    int32_t *logit_row; // [rows] row -> logits row, or -1
    int32_t last_rows;

    // The batch being run, for the hook functions.
    int in_hook, hook_layer, batch_first, batch_rows;
    vtc_lm_hook_fn hook;
    void *hook_user;

    struct vtc_lm_stats stats;
};

// ---------------------------------------------------------------- parameters

struct vtc_lm_params vtc_lm_params_default(void) {
    struct vtc_lm_params p = { LM_DEFAULT_MAX_MEMORY, 0.0f };
    return p;
}

struct vtc_lm_ctx_params vtc_lm_ctx_params_default(void) {
    struct vtc_lm_ctx_params p = { 0, 0 };
    return p;
}

// ---------------------------------------------------------------- loading

void vtc_lm_free(vtc_lm *lm) {
    if (!lm) return;
    free(lm->weights);
    free(lm->layers);
    free(lm->rope_freq);
    free(lm);
}

const struct vtc_lm_config *vtc_lm_get_config(const vtc_lm *lm) { return &lm->cfg; }

void vtc_lm_get_shape(const vtc_lm *lm, struct vtc_lm_shape *shape) {
    shape->layers = lm->cfg.n_layers;
    shape->hidden = lm->cfg.dim;
    shape->ffn = lm->cfg.hidden_dim;
    shape->heads = lm->cfg.n_heads;
    shape->kv_heads = lm->cfg.n_kv_heads;
    shape->vocab = lm->cfg.vocab_size;
}

int vtc_lm_token_embedding(const vtc_lm *lm, int32_t token, float *out) {
    if (!lm || !out) return vtc_set_error(VTC_ERR_ARG, "lm: token_embedding: NULL argument");
    if (token < 0 || token >= lm->cfg.vocab_size)
        return vtc_set_error(VTC_ERR_ARG, "lm: token %d outside the vocabulary [0, %d)", (int)token,
                             (int)lm->cfg.vocab_size);
    memcpy(out, lm->tok_embd + (size_t)token * lm->cfg.dim, (size_t)lm->cfg.dim * sizeof *out);
    return 0;
}

// Checks the hyperparameters and fills the derived fields. `what` names the file.
static int check_config(struct vtc_lm_config *c, const char *what) {
    struct {
        const char *name;
        int64_t value, max;
    } f[] = {
        { "dim", c->dim, LM_MAX_DIM },           { "hidden_dim", c->hidden_dim, LM_MAX_HIDDEN },
        { "n_layers", c->n_layers, LM_MAX_LAYERS }, { "n_heads", c->n_heads, LM_MAX_HEADS },
        { "n_kv_heads", c->n_kv_heads, LM_MAX_HEADS }, { "vocab_size", c->vocab_size, LM_MAX_VOCAB },
        { "seq_len", c->seq_len, LM_MAX_SEQ },
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].value < 1 || f[i].value > f[i].max)
            return vtc_set_error(VTC_ERR_FORMAT, "%s: %s = %lld outside [1, %lld]", what, f[i].name,
                                 (long long)f[i].value, (long long)f[i].max);
    if (c->dim % c->n_heads != 0)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: dim %d is not a multiple of n_heads %d", what, (int)c->dim,
                             (int)c->n_heads);
    if (c->n_heads % c->n_kv_heads != 0)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: n_heads %d is not a multiple of n_kv_heads %d", what,
                             (int)c->n_heads, (int)c->n_kv_heads);
    c->head_dim = c->dim / c->n_heads;
    if (c->head_dim % 2 != 0)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: head dimension %d is odd (RoPE rotates pairs)", what,
                             (int)c->head_dim);
    c->kv_dim = c->head_dim * c->n_kv_heads;
    if (!(c->norm_eps > 0.0f) || !(c->norm_eps < 1.0f))
        return vtc_set_error(VTC_ERR_FORMAT, "%s: RMSNorm epsilon %g outside (0, 1)", what, c->norm_eps);
    if (!(c->rope_theta > 1.0f) || !isfinite(c->rope_theta))
        return vtc_set_error(VTC_ERR_FORMAT, "%s: RoPE base %g must be a finite number > 1", what, c->rope_theta);
    return 0;
}

// Floats of each weight, with the layer count folded in; all products fit in
// 64 bits under the bounds of check_config (2^16 * 2^20 * 2^10 = 2^46).
struct weight_sizes {
    uint64_t embd, norm, wq, wkv, wo, w13, w2, cls;
};

static struct weight_sizes weight_sizes(const struct vtc_lm_config *c) {
    uint64_t d = (uint64_t)c->dim, kv = (uint64_t)c->kv_dim, h = (uint64_t)c->hidden_dim, L = (uint64_t)c->n_layers;
    struct weight_sizes s = {
        .embd = (uint64_t)c->vocab_size * d,
        .norm = L * d,
        .wq = L * d * d,
        .wkv = L * kv * d,
        .wo = L * d * d,
        .w13 = L * h * d,
        .w2 = L * d * h,
        .cls = c->shared_classifier ? 0 : (uint64_t)c->vocab_size * d,
    };
    return s;
}

// Allocates the model with room for n_floats of weights and the per-layer
// table, checking the memory limit first.
static vtc_lm *lm_alloc(const struct vtc_lm_config *cfg, uint64_t n_floats, uint64_t max_memory, const char *what) {
    if (n_floats > max_memory / sizeof(float) || n_floats > SIZE_MAX / sizeof(float)) {
        vtc_set_error(VTC_ERR_LIMIT, "%s: %llu bytes of weights exceed the memory limit of %llu bytes", what,
                      (unsigned long long)n_floats * sizeof(float), (unsigned long long)max_memory);
        return NULL;
    }
    vtc_lm *lm = vtc_zalloc(1, sizeof *lm);
    if (!lm) return NULL;
    lm->cfg = *cfg;
    lm->max_memory = max_memory;
    lm->weights = vtc_alloc((size_t)n_floats, sizeof(float));
    lm->layers = vtc_zalloc((size_t)cfg->n_layers, sizeof *lm->layers);
    lm->rope_freq = vtc_alloc((size_t)cfg->head_dim / 2, sizeof(float));
    if (!lm->weights || !lm->layers || !lm->rope_freq) {
        vtc_lm_free(lm);
        return NULL;
    }
    for (int32_t i = 0; i < cfg->head_dim; i += 2) // run.c: 1.0f / powf(10000.0f, head_dim / (float)head_size)
        lm->rope_freq[i / 2] = 1.0f / powf(cfg->rope_theta, (float)i / (float)cfg->head_dim);
    return lm;
}

static int read_exact(FILE *fp, void *buf, size_t n, const char *path) {
    if (fread(buf, 1, n, fp) != n) return vtc_set_error(VTC_ERR_IO, "%s: read failed", path);
    return 0;
}

// llama2.c legacy (v0) checkpoint: int32 dim, hidden_dim, n_layers, n_heads,
// n_kv_heads, vocab_size (< 0: separate classifier), seq_len; then f32 weights:
// token embedding, attention norms, wq, wk, wv, wo, ffn norms, w1, w2, w3, final
// norm, the unused freq_cis tables (seq_len * head_dim), the classifier if separate.
static vtc_lm *load_llama2c(const char *path, FILE *fp, uint64_t file_size, struct vtc_lm_params params) {
    int32_t h[7];
    if (file_size < sizeof h) {
        vtc_set_error(VTC_ERR_FORMAT, "%s: %llu bytes is too short for a llama2.c header", path,
                      (unsigned long long)file_size);
        return NULL;
    }
    if (read_exact(fp, h, sizeof h, path) != 0) return NULL;
    struct vtc_lm_config cfg = { 0 };
    cfg.dim = h[0];
    cfg.hidden_dim = h[1];
    cfg.n_layers = h[2];
    cfg.n_heads = h[3];
    cfg.n_kv_heads = h[4];
    cfg.shared_classifier = h[5] > 0;
    cfg.vocab_size = h[5] == INT32_MIN ? 0 : h[5] < 0 ? -h[5] : h[5];
    cfg.seq_len = h[6];
    cfg.norm_eps = 1e-5f;
    cfg.rope_theta = params.rope_theta > 0 ? params.rope_theta : 10000.0f;
    snprintf(cfg.format, sizeof cfg.format, "llama2c");
    if (check_config(&cfg, path) != 0) return NULL;

    struct weight_sizes s = weight_sizes(&cfg);
    uint64_t freq_cis = (uint64_t)cfg.seq_len * (uint64_t)cfg.head_dim; // real + imaginary halves
    uint64_t n_floats = s.embd + 2 * s.norm + s.wq + 2 * s.wkv + s.wo + 2 * s.w13 + s.w2 + (uint64_t)cfg.dim +
                        freq_cis + s.cls;
    uint64_t want = sizeof h + n_floats * sizeof(float);
    if (file_size != want) {
        vtc_set_error(VTC_ERR_FORMAT,
                      "%s: %llu bytes, but a llama2.c checkpoint with this header (dim %d, hidden %d, %d layers, "
                      "%d/%d heads, vocab %d%s, seq %d) has %llu",
                      path, (unsigned long long)file_size, (int)cfg.dim, (int)cfg.hidden_dim, (int)cfg.n_layers,
                      (int)cfg.n_heads, (int)cfg.n_kv_heads, (int)cfg.vocab_size,
                      cfg.shared_classifier ? "" : " unshared", (int)cfg.seq_len, (unsigned long long)want);
        return NULL;
    }
    vtc_lm *lm = lm_alloc(&cfg, n_floats, params.max_memory, path);
    if (!lm) return NULL;
    if (read_exact(fp, lm->weights, (size_t)n_floats * sizeof(float), path) != 0) {
        vtc_lm_free(lm);
        return NULL;
    }
    // Carve the pointers out in file order; per-weight arrays are stacked by layer.
    const float *p = lm->weights;
    size_t d = (size_t)cfg.dim, kv = (size_t)cfg.kv_dim, hd = (size_t)cfg.hidden_dim;
    lm->tok_embd = p;
    p += s.embd;
    const float *att_norm = p; p += s.norm;
    const float *wq = p;       p += s.wq;
    const float *wk = p;       p += s.wkv;
    const float *wv = p;       p += s.wkv;
    const float *wo = p;       p += s.wo;
    const float *ffn_norm = p; p += s.norm;
    const float *w1 = p;       p += s.w13;
    const float *w2 = p;       p += s.w2;
    const float *w3 = p;       p += s.w13;
    lm->out_norm = p;
    p += d + freq_cis;
    lm->wcls = cfg.shared_classifier ? lm->tok_embd : p;
    for (size_t l = 0; l < (size_t)cfg.n_layers; l++) {
        struct lm_layer *ly = &lm->layers[l];
        ly->attn_norm = att_norm + l * d;
        ly->wq = wq + l * d * d;
        ly->wk = wk + l * kv * d;
        ly->wv = wv + l * kv * d;
        ly->wo = wo + l * d * d;
        ly->ffn_norm = ffn_norm + l * d;
        ly->w1 = w1 + l * hd * d;
        ly->w2 = w2 + l * d * hd;
        ly->w3 = w3 + l * hd * d;
    }
    return lm;
}

// A GGUF integer key in [1, max]; `optional` keys keep *out when absent.
static int gguf_int_key(const vtc_gguf *g, const char *key, int optional, int64_t max, int32_t *out) {
    if (optional && vtc_gguf_find_key(g, key) < 0) return 0;
    int64_t v;
    if (vtc_gguf_get_int(g, key, &v) != 0) return VTC_ERR_FORMAT;
    if (v < 1 || v > max)
        return vtc_set_error(VTC_ERR_FORMAT, "%s: %s = %lld outside [1, %lld]", vtc_gguf_path(g), key, (long long)v,
                             (long long)max);
    *out = (int32_t)v;
    return 0;
}

// Finds `name` with shape [rows, cols] (cols 0: a vector of rows) in F32/F16/BF16.
static const vtc_tensor_view *gguf_weight(const vtc_gguf *g, const char *name, int64_t rows, int64_t cols) {
    const vtc_tensor_view *t = vtc_gguf_find_tensor(g, name);
    if (!t) {
        vtc_set_error(VTC_ERR_FORMAT, "%s: tensor %s missing", vtc_gguf_path(g), name);
        return NULL;
    }
    int ok = cols ? t->n_dims == 2 && t->shape[0] == rows && t->shape[1] == cols
                  : t->n_dims == 1 && t->shape[0] == rows;
    if (!ok) {
        char got[96] = "";
        size_t used = 0;
        for (int i = 0; i < t->n_dims && used < sizeof got; i++)
            used += (size_t)snprintf(got + used, sizeof got - used, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        if (cols)
            vtc_set_error(VTC_ERR_FORMAT, "%s: tensor %s has shape [%s], expected [%lld, %lld]", vtc_gguf_path(g),
                          name, got, (long long)rows, (long long)cols);
        else
            vtc_set_error(VTC_ERR_FORMAT, "%s: tensor %s has shape [%s], expected [%lld]", vtc_gguf_path(g), name,
                          got, (long long)rows);
        return NULL;
    }
    if (t->dtype != VTC_DT_F32 && t->dtype != VTC_DT_F16 && t->dtype != VTC_DT_BF16) {
        int idx = vtc_gguf_find_tensor_index(g, name);
        vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: tensor %s is %s; the reference decoder reads F32, F16 and BF16",
                      vtc_gguf_path(g), name, vtc_ggml_type_name(vtc_gguf_tensor_type(g, idx)));
        return NULL;
    }
    return t;
}

// Converts tensor `name` into dst, which then advances past it.
static int gguf_take(const vtc_gguf *g, const char *name, int64_t rows, int64_t cols, float **dst,
                     const float **out) {
    const vtc_tensor_view *t = gguf_weight(g, name, rows, cols);
    if (!t) return vtc_last_status();
    size_t n = (size_t)rows * (size_t)(cols ? cols : 1);
    int st = vtc_tensor_to_f32(t, *dst, n);
    if (st != 0) return st;
    *out = *dst;
    *dst += n;
    return 0;
}

// GGUF written by llama.cpp's converter for the "llama" architecture.
static vtc_lm *load_gguf(const char *path, struct vtc_lm_params params) {
    vtc_gguf *g = NULL;
    vtc_lm *lm = NULL;
    if (vtc_gguf_open(path, 1, &g) != 0) return NULL;
    const char *arch;
    if (vtc_gguf_get_str(g, "general.architecture", &arch) != 0) goto fail;
    if (strcmp(arch, "llama") != 0) {
        vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: architecture \"%s\": the reference decoder runs \"llama\"", path,
                      arch);
        goto fail;
    }
    struct vtc_lm_config cfg = { 0 };
    snprintf(cfg.format, sizeof cfg.format, "gguf");
    cfg.shared_classifier = 0;
    if (gguf_int_key(g, "llama.embedding_length", 0, LM_MAX_DIM, &cfg.dim) ||
        gguf_int_key(g, "llama.block_count", 0, LM_MAX_LAYERS, &cfg.n_layers) ||
        gguf_int_key(g, "llama.feed_forward_length", 0, LM_MAX_HIDDEN, &cfg.hidden_dim) ||
        gguf_int_key(g, "llama.attention.head_count", 0, LM_MAX_HEADS, &cfg.n_heads))
        goto fail;
    cfg.n_kv_heads = cfg.n_heads;
    cfg.seq_len = LM_DEFAULT_CTX;
    if (gguf_int_key(g, "llama.attention.head_count_kv", 1, LM_MAX_HEADS, &cfg.n_kv_heads) ||
        gguf_int_key(g, "llama.context_length", 1, LM_MAX_SEQ, &cfg.seq_len))
        goto fail;
    double eps = 1e-5, theta = 10000.0;
    if (vtc_gguf_find_key(g, "llama.attention.layer_norm_rms_epsilon") >= 0 &&
        vtc_gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", &eps) != 0)
        goto fail;
    if (vtc_gguf_find_key(g, "llama.rope.freq_base") >= 0 && vtc_gguf_get_float(g, "llama.rope.freq_base", &theta) != 0)
        goto fail;
    cfg.norm_eps = (float)eps;
    cfg.rope_theta = params.rope_theta > 0 ? params.rope_theta : (float)theta;
    // What this decoder does not do must not pass silently as a wrong answer.
    int64_t v;
    if (vtc_gguf_find_key(g, "llama.expert_count") >= 0 && vtc_gguf_get_int(g, "llama.expert_count", &v) == 0 && v > 0) {
        vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: mixture-of-experts models (llama.expert_count %lld)", path,
                      (long long)v);
        goto fail;
    }
    const char *scaling;
    if (vtc_gguf_find_key(g, "llama.rope.scaling.type") >= 0 &&
        vtc_gguf_get_str(g, "llama.rope.scaling.type", &scaling) == 0 && strcmp(scaling, "none") != 0) {
        vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: RoPE scaling \"%s\"", path, scaling);
        goto fail;
    }
    const vtc_tensor_view *embd = vtc_gguf_find_tensor(g, "token_embd.weight");
    if (!embd || embd->n_dims != 2 || embd->shape[0] < 1 || embd->shape[0] > LM_MAX_VOCAB) {
        vtc_set_error(VTC_ERR_FORMAT, "%s: token_embd.weight missing or not a [vocab, dim] matrix", path);
        goto fail;
    }
    cfg.vocab_size = (int32_t)embd->shape[0];
    if (check_config(&cfg, path) != 0) goto fail;
    if (vtc_gguf_find_key(g, "llama.rope.dimension_count") >= 0) {
        if (vtc_gguf_get_int(g, "llama.rope.dimension_count", &v) != 0) goto fail;
        if (v != cfg.head_dim) {
            vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: partial RoPE (llama.rope.dimension_count %lld, head dim %d)",
                          path, (long long)v, (int)cfg.head_dim);
            goto fail;
        }
    }
    cfg.shared_classifier = vtc_gguf_find_tensor(g, "output.weight") == NULL;

    struct weight_sizes s = weight_sizes(&cfg);
    uint64_t n_floats = s.embd + 2 * s.norm + s.wq + 2 * s.wkv + s.wo + 2 * s.w13 + s.w2 + (uint64_t)cfg.dim + s.cls;
    lm = lm_alloc(&cfg, n_floats, params.max_memory, path);
    if (!lm) goto fail;
    float *dst = lm->weights;
    int64_t d = cfg.dim, V = cfg.vocab_size;
    if (gguf_take(g, "token_embd.weight", V, d, &dst, &lm->tok_embd) ||
        gguf_take(g, "output_norm.weight", d, 0, &dst, &lm->out_norm))
        goto fail;
    if (cfg.shared_classifier) lm->wcls = lm->tok_embd;
    else if (gguf_take(g, "output.weight", V, d, &dst, &lm->wcls)) goto fail;
    for (int32_t l = 0; l < cfg.n_layers; l++)
        for (int i = 0; i < N_LAYER_TENSORS; i++) {
            const struct layer_tensor *lt = &LAYER_TENSORS[i];
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.weight", (int)l, lt->name);
            if (gguf_take(g, name, layer_dim(&cfg, lt->rows), layer_dim(&cfg, lt->cols), &dst,
                          layer_field(&lm->layers[l], i)))
                goto fail;
        }
    vtc_gguf_close(g);
    return lm;
fail:
    vtc_lm_free(lm);
    vtc_gguf_close(g);
    return NULL;
}

int32_t vtc_lm_weight_count(const vtc_lm *lm) {
    return lm ? 2 + !lm->cfg.shared_classifier + lm->cfg.n_layers * N_LAYER_TENSORS : 0;
}

int vtc_lm_weight_get(const vtc_lm *lm, int32_t i, struct vtc_lm_weight *out) {
    if (!lm || !out || i < 0 || i >= vtc_lm_weight_count(lm))
        return vtc_set_error(VTC_ERR_ARG, "lm: weight %d out of range", (int)i);
    const struct vtc_lm_config *c = &lm->cfg;
    memset(out, 0, sizeof *out);
    out->n_dims = 2;
    out->shape[0] = c->vocab_size;
    out->shape[1] = c->dim;
    int32_t top = 2 + !c->shared_classifier; // token_embd, output_norm[, output]
    if (i == 0) {
        snprintf(out->name, sizeof out->name, "token_embd.weight");
        out->data = lm->tok_embd;
    } else if (i == 1) {
        snprintf(out->name, sizeof out->name, "output_norm.weight");
        out->n_dims = 1;
        out->shape[0] = c->dim;
        out->shape[1] = 0;
        out->data = lm->out_norm;
    } else if (i < top) {
        snprintf(out->name, sizeof out->name, "output.weight");
        out->data = lm->wcls;
    } else {
        int32_t l = (i - top) / N_LAYER_TENSORS, k = (i - top) % N_LAYER_TENSORS;
        const struct layer_tensor *lt = &LAYER_TENSORS[k];
        snprintf(out->name, sizeof out->name, "blk.%d.%s.weight", (int)l, lt->name);
        out->n_dims = lt->cols ? 2 : 1;
        out->shape[0] = layer_dim(c, lt->rows);
        out->shape[1] = layer_dim(c, lt->cols);
        out->data = *layer_field(&lm->layers[l], k);
    }
    return 0;
}

vtc_lm *vtc_lm_load(const char *path, struct vtc_lm_params params) {
    if (!path) {
        vtc_set_error(VTC_ERR_ARG, "lm: no path");
        return NULL;
    }
    if (params.max_memory == 0) params.max_memory = LM_DEFAULT_MAX_MEMORY;
    if (isnan(params.rope_theta) || params.rope_theta < 0) {
        vtc_set_error(VTC_ERR_ARG, "%s: RoPE base override %g", path, params.rope_theta);
        return NULL;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        vtc_set_error(VTC_ERR_IO, "%s: cannot open", path);
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        vtc_set_error(VTC_ERR_IO, "%s: not a regular file", path);
        return NULL;
    }
    char magic[4] = { 0 };
    size_t got = fread(magic, 1, 4, fp);
    vtc_lm *lm = NULL;
    if (got == 4 && memcmp(magic, "GGUF", 4) == 0) {
        fclose(fp);
        return load_gguf(path, params);
    }
    if (got == 4 && memcmp(magic, "ak42", 4) == 0) {
        vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: llama2.c v1/v2 checkpoints (\"ak42\" magic): export with "
                      "--version 0 (legacy)", path);
    } else if (fseek(fp, 0, SEEK_SET) != 0) {
        vtc_set_error(VTC_ERR_IO, "%s: seek failed", path);
    } else {
        lm = load_llama2c(path, fp, (uint64_t)st.st_size, params);
    }
    fclose(fp);
    return lm;
}

// ---------------------------------------------------------------- contexts

void vtc_lm_ctx_free(vtc_lm_ctx *c) {
    if (!c) return;
    free(c->key_cache);
    free(c->value_cache);
    free(c->slot_pos);
    free(c->drop_from);
    free(c->mask_keep);
    free(c->x);
    free(c->xb);
    free(c->tmp);
    free(c->q);
    free(c->k);
    free(c->v);
    free(c->hb);
    free(c->hb2);
    free(c->act);
    free(c->act_of);
    free(c->n_keys);
    free(c->keys);
    free(c->scores);
    free(c->logits);
    free(c->logit_row);
    free(c);
}

vtc_lm_ctx *vtc_lm_ctx_new(const vtc_lm *lm, struct vtc_lm_ctx_params params) {
    if (!lm) {
        vtc_set_error(VTC_ERR_ARG, "lm: ctx_new: no model");
        return NULL;
    }
    const struct vtc_lm_config *cfg = &lm->cfg;
    int32_t n_ctx = params.n_ctx;
    if (n_ctx < 0 || n_ctx > LM_MAX_SEQ) {
        vtc_set_error(VTC_ERR_ARG, "lm: n_ctx %d outside [0, %d]", (int)n_ctx, LM_MAX_SEQ);
        return NULL;
    }
    if (n_ctx == 0) n_ctx = cfg->seq_len < LM_DEFAULT_CTX ? cfg->seq_len : LM_DEFAULT_CTX;
    int32_t n_threads = params.n_threads > 0 ? params.n_threads : vtc_cpu_count();
    if (n_threads > 64) n_threads = 64;
    uint64_t cache_floats = (uint64_t)cfg->n_layers * (uint64_t)n_ctx * (uint64_t)cfg->kv_dim;
    if (cache_floats > lm->max_memory / (2 * sizeof(float))) {
        vtc_set_error(VTC_ERR_LIMIT, "lm: a KV cache of %d slots (%llu bytes) exceeds the memory limit", (int)n_ctx,
                      (unsigned long long)cache_floats * 2 * sizeof(float));
        return NULL;
    }
    vtc_blas_single_thread(); // vtc runs its own threads, each BLAS call on one
    vtc_lm_ctx *c = vtc_zalloc(1, sizeof *c);
    if (!c) return NULL;
    c->lm = lm;
    c->n_ctx = n_ctx;
    c->n_threads = n_threads;
    c->key_cache = vtc_alloc((size_t)cache_floats, sizeof(float));
    c->value_cache = vtc_alloc((size_t)cache_floats, sizeof(float));
    c->slot_pos = vtc_zalloc((size_t)n_ctx, sizeof *c->slot_pos);
    c->drop_from = vtc_alloc((size_t)n_ctx, sizeof *c->drop_from);
    c->mask_keep = vtc_alloc((size_t)n_ctx, 1);
    c->keys = vtc_alloc((size_t)n_ctx, sizeof *c->keys);
    c->scores = vtc_alloc((size_t)n_threads * (size_t)n_ctx, sizeof *c->scores);
    if (!c->key_cache || !c->value_cache || !c->slot_pos || !c->drop_from || !c->mask_keep || !c->keys ||
        !c->scores) {
        vtc_lm_ctx_free(c);
        return NULL;
    }
    vtc_lm_ctx_reset(c);
    return c;
}

void vtc_lm_ctx_reset(vtc_lm_ctx *c) {
    if (!c || c->in_hook) return;
    c->n_cache = 0;
    c->next_pos = 0;
    c->last_rows = 0;
    for (int32_t s = 0; s < c->n_ctx; s++) c->drop_from[s] = c->lm->cfg.n_layers;
    memset(c->mask_keep, 1, (size_t)c->n_ctx);
    c->mask_from = c->lm->cfg.n_layers;
    memset(&c->stats, 0, sizeof c->stats);
}

int vtc_lm_ctx_truncate(vtc_lm_ctx *c, int32_t n_cache) {
    if (!c || c->in_hook) return vtc_set_error(VTC_ERR_ARG, "lm: truncate from inside a hook");
    if (n_cache < 0 || n_cache > c->n_cache)
        return vtc_set_error(VTC_ERR_ARG, "lm: truncate to %d slots of %d", n_cache, c->n_cache);
    for (int32_t s = n_cache; s < c->n_cache; s++) c->drop_from[s] = c->lm->cfg.n_layers, c->mask_keep[s] = 1;
    c->n_cache = n_cache;
    int32_t next = 0;
    for (int32_t s = 0; s < n_cache; s++)
        if (c->slot_pos[s] + 1 > next) next = c->slot_pos[s] + 1;
    c->next_pos = next;
    c->last_rows = 0;
    return VTC_OK;
}

int32_t vtc_lm_ctx_n_cache(const vtc_lm_ctx *c) { return c->n_cache; }
int32_t vtc_lm_ctx_next_pos(const vtc_lm_ctx *c) { return c->next_pos; }
int32_t vtc_lm_ctx_capacity(const vtc_lm_ctx *c) { return c->n_ctx; }
const vtc_lm *vtc_lm_ctx_model(const vtc_lm_ctx *c) { return c->lm; }

void vtc_lm_set_hook(vtc_lm_ctx *c, vtc_lm_hook_fn fn, void *user) {
    c->hook = fn;
    c->hook_user = fn ? user : NULL;
}

// Grows the scratch to hold `rows` rows and `logit_rows` rows of logits.
static int ensure_scratch(vtc_lm_ctx *c, int32_t rows, int32_t logit_rows) {
    const struct vtc_lm_config *cfg = &c->lm->cfg;
    uint64_t per_row = 4 * (uint64_t)cfg->dim + 2 * (uint64_t)cfg->kv_dim + 2 * (uint64_t)cfg->hidden_dim + 4;
    if ((uint64_t)rows * per_row > c->lm->max_memory / sizeof(float))
        return vtc_set_error(VTC_ERR_LIMIT, "lm: scratch for a batch of %d rows exceeds the memory limit", (int)rows);
    if (rows > c->cap_rows) {
        size_t r = (size_t)rows, d = (size_t)cfg->dim, kv = (size_t)cfg->kv_dim, h = (size_t)cfg->hidden_dim;
        float **f[] = { &c->x, &c->xb, &c->tmp, &c->q, &c->k, &c->v, &c->hb, &c->hb2 };
        size_t w[] = { d, d, d, d, kv, kv, h, h };
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
            free(*f[i]);
            *f[i] = NULL;
        }
        int32_t **ip[] = { &c->act, &c->act_of, &c->n_keys, &c->logit_row };
        for (size_t i = 0; i < sizeof ip / sizeof ip[0]; i++) {
            free(*ip[i]);
            *ip[i] = NULL;
        }
        c->cap_rows = 0;
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
            if (!(*f[i] = vtc_alloc(r * w[i], sizeof(float)))) return VTC_ERR_NOMEM;
        for (size_t i = 0; i < sizeof ip / sizeof ip[0]; i++)
            if (!(*ip[i] = vtc_alloc(r, sizeof(int32_t)))) return VTC_ERR_NOMEM;
        c->cap_rows = rows;
    }
    size_t need;
    if (vtc_mul_size((size_t)logit_rows, (size_t)cfg->vocab_size, &need) != 0 ||
        need > c->lm->max_memory / sizeof(float))
        return vtc_set_error(VTC_ERR_LIMIT, "lm: logits of %d rows exceed the memory limit", (int)logit_rows);
    if (need > c->logit_cap) {
        free(c->logits);
        c->logit_cap = 0;
        if (!(c->logits = vtc_alloc(need, sizeof(float)))) return VTC_ERR_NOMEM;
        c->logit_cap = need;
    }
    return 0;
}

// ---------------------------------------------------------------- kernels

// x (dim) -> o (dim), o may be x. As run.c: sum of squares in float.
static void rmsnorm(float *o, const float *x, const float *w, int n, float eps) {
    float ss = 0.0f;
    for (int j = 0; j < n; j++) ss += x[j] * x[j];
    ss /= (float)n;
    ss += eps;
    ss = 1.0f / sqrtf(ss);
    for (int j = 0; j < n; j++) o[j] = w[j] * (ss * x[j]);
}

struct linear_job {
    float *y;
    const float *x, *w;
    int n, in, out;
};

static void linear_range(void *arg, int o0, int o1) {
    const struct linear_job *j = arg;
    if (j->n == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, o1 - o0, j->in, 1.0f, j->w + (size_t)o0 * j->in, j->in, j->x, 1,
                    0.0f, j->y + o0, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->n, o1 - o0, j->in, 1.0f, j->x, j->in,
                    j->w + (size_t)o0 * j->in, j->in, 0.0f, j->y + o0, j->out);
}

// x (n, in) @ w (out, in)^T -> y (n, out); output columns split over threads.
static void linear(const vtc_lm_ctx *c, float *y, const float *x, const float *w, int n, int in, int out) {
    struct linear_job j = { y, x, w, n, in, out };
    double macs = (double)n * in * out;
    int threads = macs < LM_PAR_MACS ? 1 : c->n_threads;
    if (threads > out / 16) threads = out / 16 > 0 ? out / 16 : 1;
    vtc_parallel_for(threads, out, linear_range, &j);
}

// Rotates the pairs (v[2i], v[2i+1]) of each of the n_vec heads by pos * freq[i].
static void rope(float *v, int n_vec, int head_dim, const float *freq, int32_t pos) {
    for (int i = 0; i < head_dim; i += 2) {
        float val = (float)pos * freq[i / 2];
        float fcr = cosf(val), fci = sinf(val);
        for (int h = 0; h < n_vec; h++) {
            float *p = v + h * head_dim + i;
            float v0 = p[0], v1 = p[1];
            p[0] = v0 * fcr - v1 * fci;
            p[1] = v0 * fci + v1 * fcr;
        }
    }
}

// Is `slot` attended by layer l?
static inline int attended(const vtc_lm_ctx *c, int32_t l, int32_t slot) {
    return l < c->drop_from[slot] && (l < c->mask_from || c->mask_keep[slot]);
}

// Scores of query q (one head) against the first nk keys of the layer's list,
// softmaxed in place into sc[nk].
static void head_probs(const vtc_lm_ctx *c, const float *kc, const float *q, int kv_off, int32_t nk, float *sc) {
    const struct vtc_lm_config *cfg = &c->lm->cfg;
    int hs = cfg->head_dim, kv_dim = cfg->kv_dim;
    float scale = sqrtf((float)hs);
    for (int32_t t = 0; t < nk; t++) {
        const float *k = kc + (size_t)c->keys[t] * kv_dim + kv_off;
        float score = 0.0f;
        for (int i = 0; i < hs; i++) score += q[i] * k[i];
        sc[t] = score / scale;
    }
    vtc_softmax_scalar(sc, nk);
}

struct attn_job {
    vtc_lm_ctx *c;
    int32_t layer, n_act, n_threads;
};

// Thread `tid` of n_threads takes (row, head) tasks tid, tid + n_threads, ...
static void attn_thread(void *arg, int tid, int tid_end) {
    (void)tid_end;
    const struct attn_job *j = arg;
    vtc_lm_ctx *c = j->c;
    const struct vtc_lm_config *cfg = &c->lm->cfg;
    int hs = cfg->head_dim, kv_dim = cfg->kv_dim, kv_mul = cfg->n_heads / cfg->n_kv_heads;
    size_t loff = (size_t)j->layer * (size_t)c->n_ctx * (size_t)kv_dim;
    const float *kc = c->key_cache + loff, *vc = c->value_cache + loff;
    float *sc = c->scores + (size_t)tid * (size_t)c->n_ctx;
    int64_t tasks = (int64_t)j->n_act * cfg->n_heads;
    for (int64_t task = tid; task < tasks; task += j->n_threads) {
        int32_t r = (int32_t)(task / cfg->n_heads);
        int h = (int)(task % cfg->n_heads);
        int kv_off = (h / kv_mul) * hs;
        float *out = c->xb + (size_t)r * cfg->dim + (size_t)h * hs;
        memset(out, 0, (size_t)hs * sizeof *out);
        int32_t nk = c->n_keys[r];
        if (nk == 0) continue; // every key masked: nothing to read
        head_probs(c, kc, c->q + (size_t)r * cfg->dim + (size_t)h * hs, kv_off, nk, sc);
        for (int32_t t = 0; t < nk; t++) {
            const float *v = vc + (size_t)c->keys[t] * kv_dim + kv_off;
            float a = sc[t];
            for (int i = 0; i < hs; i++) out[i] += a * v[i];
        }
    }
}

// ---------------------------------------------------------------- forward

static int batch_error(const char *fmt, int32_t i, int32_t value) {
    char msg[128];
    snprintf(msg, sizeof msg, fmt, (int)i, (int)value);
    return vtc_set_error(VTC_ERR_ARG, "lm: batch: %s", msg);
}

static int forward(vtc_lm_ctx *c, const struct vtc_lm_batch *b, int is_decode) {
    const vtc_lm *lm = c->lm;
    const struct vtc_lm_config *cfg = &lm->cfg;
    c->last_rows = 0;
    if (!b || b->n < 1) return vtc_set_error(VTC_ERR_ARG, "lm: batch: no rows");
    if (c->in_hook) return vtc_set_error(VTC_ERR_ARG, "lm: a forward call from inside a hook");
    int32_t n = b->n;
    if (n > c->n_ctx - c->n_cache)
        return vtc_set_error(VTC_ERR_LIMIT, "lm: %d rows do not fit: %d of %d KV-cache slots are free", (int)n,
                             (int)(c->n_ctx - c->n_cache), (int)c->n_ctx);
    if (b->logits < VTC_LM_LOGITS_LAST || b->logits > VTC_LM_LOGITS_NONE)
        return vtc_set_error(VTC_ERR_ARG, "lm: batch: logits mode %d", (int)b->logits);
    int32_t n_embed = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t t = b->tokens ? b->tokens[i] : VTC_LM_EMBED;
        if (t == VTC_LM_EMBED) n_embed++;
        else if (t < 0 || t >= cfg->vocab_size)
            return batch_error("row %d: token %d outside the vocabulary", i, t);
        if (b->pos && (b->pos[i] < 0 || b->pos[i] == INT32_MAX))
            return batch_error("row %d: position %d outside [0, INT32_MAX)", i, b->pos[i]);
    }
    if (n_embed > 0 && !b->embeds) return vtc_set_error(VTC_ERR_ARG, "lm: batch: %d embedding rows but no embeds", (int)n_embed);
    if (!b->pos && (int64_t)c->next_pos + n > INT32_MAX) return vtc_set_error(VTC_ERR_LIMIT, "lm: positions overflow");
    int32_t n_logits = b->logits == VTC_LM_LOGITS_ALL ? n : b->logits == VTC_LM_LOGITS_LAST ? 1 : 0;
    int st = ensure_scratch(c, n, n_logits);
    if (st != 0) return st;

    int32_t first = c->n_cache, end = first + n, L = cfg->n_layers;
    int dim = cfg->dim, kv_dim = cfg->kv_dim, hidden = cfg->hidden_dim, hs = cfg->head_dim;
    int32_t max_pos = c->next_pos - 1;
    for (int32_t i = 0, e = 0; i < n; i++) {
        int32_t t = b->tokens ? b->tokens[i] : VTC_LM_EMBED;
        const float *row = t == VTC_LM_EMBED ? b->embeds + (size_t)e++ * dim : lm->tok_embd + (size_t)t * dim;
        memcpy(c->x + (size_t)i * dim, row, (size_t)dim * sizeof(float));
        int32_t p = b->pos ? b->pos[i] : c->next_pos + i;
        c->slot_pos[first + i] = p;
        c->drop_from[first + i] = L;
        if (p > max_pos) max_pos = p;
    }
    double flops = 0, lin = 2.0 * (2.0 * dim * dim + 2.0 * dim * kv_dim + 3.0 * dim * hidden);
    int64_t layer_rows = 0;
    c->batch_first = first;
    c->batch_rows = n;

    for (int32_t l = 0; l < L; l++) {
        const struct lm_layer *w = &lm->layers[l];
        // The rows still computed in this layer, and the keys it attends to.
        int32_t n_act = 0;
        for (int32_t i = 0; i < n; i++) {
            c->act_of[i] = -1;
            if (c->drop_from[first + i] > l) {
                c->act_of[i] = n_act;
                c->act[n_act++] = i;
            }
        }
        int32_t nk = 0;
        for (int32_t s = 0; s < end; s++)
            if (attended(c, l, s)) c->keys[nk++] = s;
        for (int32_t j = 0, t = 0; j < n_act; j++) { // keys are ascending: advance one pointer
            int32_t slot = first + c->act[j];
            while (t < nk && c->keys[t] <= slot) t++;
            c->n_keys[j] = t;
        }
        if (n_act > 0) {
            for (int32_t j = 0; j < n_act; j++)
                rmsnorm(c->xb + (size_t)j * dim, c->x + (size_t)c->act[j] * dim, w->attn_norm, dim, cfg->norm_eps);
            linear(c, c->q, c->xb, w->wq, n_act, dim, dim);
            linear(c, c->k, c->xb, w->wk, n_act, dim, kv_dim);
            linear(c, c->v, c->xb, w->wv, n_act, dim, kv_dim);
            size_t loff = (size_t)l * (size_t)c->n_ctx * (size_t)kv_dim;
            for (int32_t j = 0; j < n_act; j++) {
                int32_t i = c->act[j];
                float *q = c->q + (size_t)j * dim, *k = c->k + (size_t)j * kv_dim;
                rope(q, cfg->n_heads, hs, lm->rope_freq, c->slot_pos[first + i]);
                rope(k, cfg->n_kv_heads, hs, lm->rope_freq, c->slot_pos[first + i]);
                memcpy(c->key_cache + loff + (size_t)(first + i) * kv_dim, k, (size_t)kv_dim * sizeof(float));
                memcpy(c->value_cache + loff + (size_t)(first + i) * kv_dim, c->v + (size_t)j * kv_dim,
                       (size_t)kv_dim * sizeof(float));
            }
            struct attn_job aj = { c, l, n_act, 1 };
            int64_t pairs = 0;
            for (int32_t j = 0; j < n_act; j++) pairs += c->n_keys[j];
            aj.n_threads = (double)pairs * dim < LM_PAR_MACS ? 1 : c->n_threads;
            vtc_parallel_for(aj.n_threads, aj.n_threads, attn_thread, &aj);
            linear(c, c->tmp, c->xb, w->wo, n_act, dim, dim);
            for (int32_t j = 0; j < n_act; j++) {
                float *x = c->x + (size_t)c->act[j] * dim;
                const float *o = c->tmp + (size_t)j * dim;
                for (int i = 0; i < dim; i++) x[i] += o[i];
            }
            // SwiGLU feed-forward: w2(silu(w1(x)) * w3(x)).
            for (int32_t j = 0; j < n_act; j++)
                rmsnorm(c->xb + (size_t)j * dim, c->x + (size_t)c->act[j] * dim, w->ffn_norm, dim, cfg->norm_eps);
            linear(c, c->hb, c->xb, w->w1, n_act, dim, hidden);
            linear(c, c->hb2, c->xb, w->w3, n_act, dim, hidden);
            for (size_t i = 0; i < (size_t)n_act * hidden; i++) {
                float val = c->hb[i];
                val *= 1.0f / (1.0f + expf(-val));
                c->hb[i] = val * c->hb2[i];
            }
            linear(c, c->tmp, c->hb, w->w2, n_act, hidden, dim);
            for (int32_t j = 0; j < n_act; j++) {
                float *x = c->x + (size_t)c->act[j] * dim;
                const float *o = c->tmp + (size_t)j * dim;
                for (int i = 0; i < dim; i++) x[i] += o[i];
            }
            flops += lin * n_act + 4.0 * dim * (double)pairs;
            layer_rows += n_act;
        }
        if (c->hook) {
            struct vtc_lm_hook_info info = { l, L, first, n, end, is_decode };
            c->in_hook = 1;
            c->hook_layer = l;
            st = c->hook(c->hook_user, c, &info);
            c->in_hook = 0;
            if (st != 0) {
                if (st > 0) st = VTC_ERR_INTERNAL;
                for (int32_t i = 0; i < n; i++) c->drop_from[first + i] = L; // release the batch's slots
                return st;
            }
        }
    }

    // Final norm and the LM head, only for the rows whose logits are wanted.
    int32_t r0 = n - n_logits;
    for (int32_t i = 0; i < n; i++) c->logit_row[i] = i >= r0 ? i - r0 : -1;
    if (n_logits > 0) {
        for (int32_t i = r0; i < n; i++)
            rmsnorm(c->xb + (size_t)(i - r0) * dim, c->x + (size_t)i * dim, lm->out_norm, dim, cfg->norm_eps);
        linear(c, c->logits, c->xb, lm->wcls, n_logits, dim, cfg->vocab_size);
        flops += 2.0 * dim * cfg->vocab_size * n_logits;
    }
    c->last_rows = n;
    c->n_cache = end;
    c->next_pos = max_pos + 1;
    if (is_decode) {
        c->stats.flops_decode += flops;
        c->stats.n_decode_steps++;
    } else {
        c->stats.flops_prefill += flops;
        c->stats.n_prefill_rows += n;
    }
    c->stats.layer_rows += layer_rows;
    return 0;
}

int vtc_lm_prefill(vtc_lm_ctx *c, const struct vtc_lm_batch *batch) {
    if (!c) return vtc_set_error(VTC_ERR_ARG, "lm: prefill: no context");
    return forward(c, batch, 0);
}

int vtc_lm_decode(vtc_lm_ctx *c, int32_t token, int32_t pos) {
    if (!c) return vtc_set_error(VTC_ERR_ARG, "lm: decode: no context");
    int32_t p = pos < 0 ? c->next_pos : pos;
    struct vtc_lm_batch b = { 1, &token, NULL, &p, VTC_LM_LOGITS_LAST };
    return forward(c, &b, 1);
}

float *vtc_lm_logits(vtc_lm_ctx *c, int32_t i) {
    if (!c) return NULL;
    if (i < 0) i += c->last_rows;
    if (i < 0 || i >= c->last_rows || c->logit_row[i] < 0) return NULL;
    return c->logits + (size_t)c->logit_row[i] * c->lm->cfg.vocab_size;
}

// ---------------------------------------------------------------- hooks

// Checks that query slot qs is a computed row of the batch in the hook; its index in act.
static int hook_query(const vtc_lm_ctx *c, int32_t qs, const char *fn, int32_t *j) {
    if (!c->in_hook) return vtc_set_error(VTC_ERR_ARG, "lm: %s: only inside a hook", fn);
    if (qs < c->batch_first || qs >= c->batch_first + c->batch_rows)
        return vtc_set_error(VTC_ERR_ARG, "lm: %s: query slot %d is not in the batch [%d, %d)", fn, (int)qs,
                             (int)c->batch_first, (int)(c->batch_first + c->batch_rows));
    *j = c->act_of[qs - c->batch_first];
    if (*j < 0)
        return vtc_set_error(VTC_ERR_ARG, "lm: %s: query slot %d was dropped before layer %d", fn, (int)qs,
                             (int)c->hook_layer);
    return 0;
}

static int check_span(const vtc_lm_ctx *c, int32_t s0, int32_t s1, const char *fn) {
    int32_t limit = c->in_hook ? c->batch_first + c->batch_rows : c->n_cache;
    if (s0 < 0 || s1 < s0 || s1 > limit)
        return vtc_set_error(VTC_ERR_ARG, "lm: %s: slot span [%d, %d) outside [0, %d)", fn, (int)s0, (int)s1,
                             (int)limit);
    return 0;
}

int vtc_lm_attn_row(vtc_lm_ctx *c, int32_t query_slot, int32_t k0, int32_t k1, float *out) {
    if (!c || !out) return vtc_set_error(VTC_ERR_ARG, "lm: attn_row: NULL argument");
    int32_t j = -1;
    int st = hook_query(c, query_slot, "attn_row", &j);
    if (st == 0) st = check_span(c, k0, k1, "attn_row");
    if (st != 0) return st;
    const struct vtc_lm_config *cfg = &c->lm->cfg;
    int hs = cfg->head_dim, kv_mul = cfg->n_heads / cfg->n_kv_heads;
    const float *kc = c->key_cache + (size_t)c->hook_layer * (size_t)c->n_ctx * (size_t)cfg->kv_dim;
    int32_t nk = c->n_keys[j];
    memset(out, 0, (size_t)(k1 - k0) * sizeof *out);
    for (int h = 0; h < cfg->n_heads; h++) {
        head_probs(c, kc, c->q + (size_t)j * cfg->dim + (size_t)h * hs, (h / kv_mul) * hs, nk, c->scores);
        for (int32_t t = 0; t < nk; t++) {
            int32_t s = c->keys[t];
            if (s >= k0 && s < k1) out[s - k0] += c->scores[t];
        }
    }
    for (int32_t s = 0; s < k1 - k0; s++) out[s] /= (float)cfg->n_heads;
    c->stats.flops_probe += 2.0 * cfg->dim * nk;
    return 0;
}

int vtc_lm_attn_share(vtc_lm_ctx *c, int32_t q0, int32_t q1, int32_t k0, int32_t k1, double *share,
                      int32_t *n_queries) {
    if (!c || !share) return vtc_set_error(VTC_ERR_ARG, "lm: attn_share: NULL argument");
    if (!c->in_hook) return vtc_set_error(VTC_ERR_ARG, "lm: attn_share: only inside a hook");
    if (q0 < c->batch_first || q1 < q0 || q1 > c->batch_first + c->batch_rows)
        return vtc_set_error(VTC_ERR_ARG, "lm: attn_share: query span [%d, %d) is not inside the batch [%d, %d)",
                             (int)q0, (int)q1, (int)c->batch_first, (int)(c->batch_first + c->batch_rows));
    int st = check_span(c, k0, k1, "attn_share");
    if (st != 0) return st;
    const struct vtc_lm_config *cfg = &c->lm->cfg;
    int hs = cfg->head_dim, kv_mul = cfg->n_heads / cfg->n_kv_heads;
    const float *kc = c->key_cache + (size_t)c->hook_layer * (size_t)c->n_ctx * (size_t)cfg->kv_dim;
    double total = 0;
    int32_t nq = 0;
    for (int32_t qs = q0; qs < q1; qs++) {
        int32_t j = c->act_of[qs - c->batch_first];
        if (j < 0) continue;
        int32_t nk = c->n_keys[j];
        double mass = 0;
        for (int h = 0; h < cfg->n_heads; h++) {
            head_probs(c, kc, c->q + (size_t)j * cfg->dim + (size_t)h * hs, (h / kv_mul) * hs, nk, c->scores);
            for (int32_t t = 0; t < nk; t++)
                if (c->keys[t] >= k0 && c->keys[t] < k1) mass += c->scores[t];
        }
        total += mass / cfg->n_heads;
        nq++;
        c->stats.flops_probe += 2.0 * cfg->dim * nk;
    }
    *share = nq ? total / nq : 0.0;
    if (n_queries) *n_queries = nq;
    return 0;
}

// The arguments of vtc_lm_drop and vtc_lm_mask (fn: which): a context, a layer
// not yet run and a span of slots.
static int check_edit(const vtc_lm_ctx *c, int32_t from_layer, int32_t s0, int32_t s1, const char *fn) {
    if (!c) return vtc_set_error(VTC_ERR_ARG, "lm: %s: no context", fn);
    int32_t L = c->lm->cfg.n_layers;
    int32_t min_layer = c->in_hook ? c->hook_layer + 1 : 0;
    if (from_layer < min_layer || from_layer > L)
        return vtc_set_error(VTC_ERR_ARG, "lm: %s: from_layer %d outside [%d, %d]", fn, (int)from_layer,
                             (int)min_layer, (int)L);
    return check_span(c, s0, s1, fn);
}

int vtc_lm_drop(vtc_lm_ctx *c, int32_t from_layer, int32_t s0, int32_t s1, const uint8_t *keep) {
    int st = check_edit(c, from_layer, s0, s1, "drop");
    if (st != 0) return st;
    for (int32_t s = s0; s < s1; s++)
        if ((!keep || !keep[s - s0]) && c->drop_from[s] > from_layer) c->drop_from[s] = from_layer;
    return 0;
}

int vtc_lm_mask(vtc_lm_ctx *c, int32_t from_layer, int32_t s0, int32_t s1, const uint8_t *keep) {
    int st = check_edit(c, from_layer, s0, s1, "mask");
    if (st != 0) return st;
    memset(c->mask_keep, 1, (size_t)c->n_ctx);
    for (int32_t s = s0; s < s1; s++) c->mask_keep[s] = keep ? keep[s - s0] != 0 : 0;
    c->mask_from = from_layer;
    return 0;
}

void vtc_lm_mask_clear(vtc_lm_ctx *c) {
    if (!c) return;
    memset(c->mask_keep, 1, (size_t)c->n_ctx);
    c->mask_from = c->lm->cfg.n_layers;
}

// ---------------------------------------------------------------- counters

void vtc_lm_get_stats(const vtc_lm_ctx *c, struct vtc_lm_stats *out) {
    *out = c->stats;
    const struct vtc_lm_config *cfg = &c->lm->cfg;
    size_t per_entry = 2 * (size_t)cfg->kv_dim * sizeof(float); // one slot's K and V in one layer
    size_t entries = 0;
    for (int32_t s = 0; s < c->n_cache; s++) entries += (size_t)c->drop_from[s];
    out->n_cache = c->n_cache;
    out->kv_bytes = entries * per_entry;
    out->kv_bytes_full = (size_t)c->n_cache * (size_t)cfg->n_layers * per_entry;
    out->kv_bytes_alloc = (size_t)c->n_ctx * (size_t)cfg->n_layers * per_entry;
}
