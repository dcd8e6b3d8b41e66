// ViT forward pass: patch embedding, (class + position embeddings, pre-LN), blocks of
// x += attn(ln1(x)); x += mlp(ln2(x)). Matmuls go to OpenBLAS sgemm (f32) or to
// oneDNN with bf16 inputs and f32 results (base/matmul.h); layer norm, softmax,
// activations and residuals stay f32, split over threads.
#include "vit.h"

#include "family.h"

#include "base/vecmath.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct vtc_vit_scratch {
    int n;          // tokens in the sequence (patches + CLS)
    float *x;       // [n, D] residual stream
    float *h;       // [n, D] normed input of a sub-layer
    float *qkv;     // [n, 3D]
    float *att;     // [n, D] attention output before o_proj
    float *scores;  // [n, n] one head's attention probabilities
    float *mlp;     // [n, F]
    float *patches; // [P, 3*p*p]
    float *acc;     // [n] a head-mean attention statistic
    float *head_stat; // [heads, n] per-head statistic before the mean
    int n_chunks;   // threads the attention is split over (one scores buffer each)
    struct vtc_bf16 *bf; // bf16 engine, or NULL (f32)
    uint16_t *qkv16;     // bf16: [n, 3D] the attention's q, k, v
    uint16_t *p16;       // bf16: [n_chunks, n, n] each chunk's probabilities
    size_t bytes;   // all of the above
};

void vtc_bf16_fail(struct vtc_bf16 *bf, int status) {
    int none = VTC_OK;
    if (!status) return;
    // the first failure's message is copied before its status is published
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    if (atomic_load(&bf->status) == VTC_OK) snprintf(bf->error, sizeof bf->error, "%s", vtc_last_error());
    atomic_compare_exchange_strong(&bf->status, &none, status);
    pthread_mutex_unlock(&lock);
}

int vtc_bf16_take(struct vtc_bf16 *bf) {
    if (!bf) return VTC_OK;
    int st = atomic_exchange(&bf->status, VTC_OK);
    return st ? vtc_set_error(st, "%s", bf->error) : VTC_OK;
}

// The weights a bf16 pass runs on: every linear layer's (the patch embedding,
// the blocks', the projector's), in oneDNN's layout for about one tile's rows.
static pthread_mutex_t g_pack_lock = PTHREAD_MUTEX_INITIALIZER;

int vtc_model_pack_bf16(struct vtc_model *m) {
    pthread_mutex_lock(&g_pack_lock);
    int st = VTC_OK;
    if (m->bf16_pack) goto done;
    vtc_mm_pack *p = vtc_mm_pack_new();
    if (!p) {
        st = VTC_ERR_NOMEM;
        goto done;
    }
    const int D = m->hidden, F = m->ffn, pp = 3 * m->patch_size * m->patch_size *
                                              (m->layout == VTC_LAYOUT_NATIVE ? m->native.temporal_patch : 1);
    const int rows = m->layout == VTC_LAYOUT_NATIVE ? 1024 : m->grid_h * m->grid_w + (m->has_cls ? 1 : 0);
    st = vtc_mm_pack_add(p, m->patch_w, D, pp, rows);
    for (int l = 0; l < m->n_layers && !st; l++) {
        const struct vtc_vit_block *b = &m->blocks[l];
        st = vtc_mm_pack_add(p, b->qkv_w, 3 * D, D, rows);
        if (!st) st = vtc_mm_pack_add(p, b->o_w, D, D, rows);
        if (!st) st = vtc_mm_pack_add(p, b->fc1_w, F, D, rows);
        if (!st && b->up_w) st = vtc_mm_pack_add(p, b->up_w, F, D, rows);
        if (!st) st = vtc_mm_pack_add(p, b->fc2_w, D, F, rows);
    }
    // the last block's keys alone: its CLS row when the features come from earlier (cls_row_attention)
    if (!st && m->has_cls && m->layout != VTC_LAYOUT_NATIVE && m->n_layers > 0)
        st = vtc_mm_pack_add(p, m->blocks[m->n_layers - 1].qkv_w + (size_t)D * D, D, D, rows);
    if (!st && m->lm_dim > 0) {
        const int H = vtc_project_hidden(m), in = m->feature_dim;
        // Qwen's merger MLP sees one row per 2x2 unit
        const int prow = m->layout == VTC_LAYOUT_NATIVE ? rows / 4 : m->grid_h * m->grid_w;
        st = vtc_mm_pack_add(p, m->mm0_w, H, in, prow);
        if (!st) st = vtc_mm_pack_add(p, m->mm2_w, m->lm_dim, H, prow);
    }
    if (st) {
        vtc_mm_pack_free(p);
        st = vtc_wrap_error(st, "%s: bf16 weights", m->name);
    } else {
        m->bf16_pack = p;
    }
done:
    pthread_mutex_unlock(&g_pack_lock);
    return st;
}

vtc_vit_scratch *vtc_vit_scratch_new(const struct vtc_model *m, int n_threads, struct vtc_bf16 *bf) {
    vtc_blas_single_thread();
    vtc_vit_scratch *s = vtc_zalloc(1, sizeof *s);
    if (!s) return NULL;
    size_t P = (size_t)m->grid_h * m->grid_w, n = P + (m->has_cls ? 1 : 0);
    size_t D = (size_t)m->hidden, F = (size_t)m->ffn, pp = 3 * (size_t)m->patch_size * m->patch_size;
    s->n = (int)n;
    s->x = vtc_alloc(n * D, sizeof(float));
    s->h = vtc_alloc(n * D, sizeof(float));
    s->qkv = vtc_alloc(n * 3 * D, sizeof(float));
    s->att = vtc_alloc(n * D, sizeof(float));
    s->n_chunks = n_threads < 1 ? 1 : n_threads > m->heads ? m->heads : n_threads;
    s->scores = vtc_alloc(n * n * (size_t)s->n_chunks, sizeof(float));
    s->head_stat = vtc_alloc((size_t)m->heads * n, sizeof(float));
    s->mlp = vtc_alloc(n * F, sizeof(float));
    s->patches = vtc_alloc(P * pp, sizeof(float));
    s->acc = vtc_alloc(n, sizeof(float));
    s->bytes = sizeof(float) * (6 * n * D + n * n * (size_t)s->n_chunks + (size_t)m->heads * n + n * F +
                                P * pp + n);
    if (bf && bf->pack) {
        s->bf = bf;
        s->qkv16 = vtc_alloc(n * 3 * D, sizeof(uint16_t));
        s->p16 = vtc_alloc(n * n * (size_t)s->n_chunks, sizeof(uint16_t));
        s->bytes += sizeof(uint16_t) * (n * 3 * D + n * n * (size_t)s->n_chunks);
        if (!s->qkv16 || !s->p16) {
            vtc_vit_scratch_free(s);
            return NULL;
        }
    }
    if (!s->x || !s->h || !s->qkv || !s->att || !s->scores || !s->mlp || !s->patches || !s->acc || !s->head_stat) {
        vtc_vit_scratch_free(s);
        return NULL;
    }
    return s;
}

size_t vtc_vit_scratch_bytes(const vtc_vit_scratch *s) { return s->bytes; }

void vtc_vit_scratch_free(vtc_vit_scratch *s) {
    if (!s) return;
    free(s->x); free(s->h); free(s->qkv); free(s->att);
    free(s->scores); free(s->mlp); free(s->patches); free(s->acc); free(s->head_stat);
    free(s->qkv16); free(s->p16);
    free(s);
}

struct linear_job {
    const float *x, *w, *b;
    float *y;
    int in, out, beta;
    struct vtc_bf16 *bf;
    const vtc_mm_weight *w16; // bf16: the packed weight
};

static void linear_rows(void *p, int begin, int end) {
    const struct linear_job *j = p;
    float *y = j->y + (size_t)begin * j->out;
    if (j->w16) {
        vtc_bf16_fail(j->bf, vtc_mm_linear(j->bf->mm, j->w16, j->x + (size_t)begin * j->in, end - begin, j->b, y,
                                           j->beta));
        return;
    }
    if (j->b && !j->beta)
        for (int i = begin; i < end; i++) memcpy(j->y + (size_t)i * j->out, j->b, sizeof(float) * j->out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, end - begin, j->out, j->in, 1.0f,
                j->x + (size_t)begin * j->in, j->in, j->w, j->in, (j->b || j->beta) ? 1.0f : 0.0f, y, j->out);
    if (j->b && j->beta)
        for (int i = begin; i < end; i++) {
            float *r = j->y + (size_t)i * j->out;
            for (int e = 0; e < j->out; e++) r[e] += j->b[e];
        }
}

// y (n, O) = x (n, I) · w (O, I)^T + b (O)   [b may be NULL]; with accumulate,
// y += x · w^T + b (the residual connections). Rows are split over threads, each
// running a single-threaded sgemm (or, when bf packs w, oneDNN bf16 matmul) on
// its block.
static void linear_ex(struct vtc_bf16 *bf, const float *x, int n, int in, const float *w, const float *b, int out,
                      float *y, int accumulate, int n_threads) {
    const vtc_mm_weight *w16 = bf ? vtc_mm_pack_find(bf->pack, w) : NULL;
    struct linear_job j = { x, w, b, y, in, out, accumulate, bf, w16 };
    int chunks = n_threads;
    if ((double)n * in * out < 4e6) chunks = 1; // not worth a thread
    vtc_parallel_for(chunks, n, linear_rows, &j);
}

static void linear(struct vtc_bf16 *bf, const float *x, int n, int in, const float *w, const float *b, int out,
                   float *y, int n_threads) {
    linear_ex(bf, x, n, in, w, b, out, y, 0, n_threads);
}

struct ln_job { const float *x; float *y; const float *w, *b; int d; float eps; };

static void layer_norm_rows(void *p, int begin, int end) {
    const struct ln_job *j = p;
    for (int i = begin; i < end; i++) {
        const float *x = j->x + (size_t)i * j->d;
        float *y = j->y + (size_t)i * j->d;
        double mean = 0, var = 0;
        for (int k = 0; k < j->d; k++) mean += x[k];
        mean /= j->d;
        for (int k = 0; k < j->d; k++) { double t = x[k] - mean; var += t * t; }
        var /= j->d;
        float inv = (float)(1.0 / sqrt(var + j->eps)), mu = (float)mean;
        for (int k = 0; k < j->d; k++) y[k] = (x[k] - mu) * inv * j->w[k] + j->b[k];
    }
}

// x (n, d) -> y (n, d), normalised per row with weight w and bias b.
static void layer_norm(const float *x, float *y, int n, int d, const float *w, const float *b,
                       float eps, int n_threads) {
    struct ln_job j = { x, y, w, b, d, eps };
    vtc_parallel_for(n * d >= 65536 ? n_threads : 1, n, layer_norm_rows, &j);
}

struct act_job { float *x; int act; };

static void act_range(void *p, int begin, int end) {
    const struct act_job *j = p;
    float *x = j->x;
    switch (j->act) {
    case VTC_ACT_QUICK_GELU:
        vtc_x_sigmoid_ax(x + begin, (size_t)(end - begin), 1.702f);
        break;
    case VTC_ACT_SILU:
        vtc_x_sigmoid_ax(x + begin, (size_t)(end - begin), 1.0f);
        break;
    case VTC_ACT_GELU:
        for (int i = begin; i < end; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
        break;
    default: // tanh approximation (gelu_pytorch_tanh)
        for (int i = begin; i < end; i++) {
            float v = x[i];
            x[i] = 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
        }
        break;
    }
}

static void activate(float *x, size_t count, int act, int n_threads) {
    struct act_job j = { x, act };
    vtc_parallel_for(count >= 65536 ? n_threads : 1, (int)count, act_range, &j);
}

struct softmax_job { float *s; int n; };

static void softmax_rows(void *p, int begin, int end) {
    const struct softmax_job *j = p;
    for (int i = begin; i < end; i++) vtc_softmax_row(j->s + (size_t)i * j->n, j->n);
}

// Which attention statistic a block must report (the model's enum vtc_stat, or none).
enum { STAT_NONE = -1, STAT_CLS_ROW = VTC_STAT_CLS_ROW, STAT_RECEIVED = VTC_STAT_RECEIVED };

struct attn_job {
    const struct vtc_model *m;
    vtc_vit_scratch *s;
    int n, stat;
};

// Chunk c of the heads, [c*H/C, (c+1)*H/C) of C = s->n_chunks: scores, softmax,
// the statistic, and the weighted sum, one head at a time in the chunk's own
// n x n buffer c (kept hot in cache; no two chunks share one).
static void attention_heads(const struct attn_job *j, int chunk) {
    const struct vtc_model *m = j->m;
    vtc_vit_scratch *s = j->s;
    const int n = j->n, D = m->hidden, hd = m->head_dim, ld = 3 * D;
    const float scale = 1.0f / sqrtf((float)hd);
    float *scores = s->scores + (size_t)chunk * n * n;
    const int h0 = (int)((int64_t)m->heads * chunk / s->n_chunks);
    const int h1 = (int)((int64_t)m->heads * (chunk + 1) / s->n_chunks);
    struct vtc_bf16 *bf = s->bf;
    uint16_t *p16 = bf ? s->p16 + (size_t)chunk * n * n : NULL;
    if (bf) // this chunk's heads' columns of q, k and v in bf16
        for (int part = 0; part < 3; part++) {
            const size_t col = (size_t)part * D + (size_t)h0 * hd;
            vtc_bf16_fail(bf, vtc_mm_to_bf16(bf->mm, s->qkv + col, n, (h1 - h0) * hd, ld, s->qkv16 + col, ld));
        }
    for (int h = h0; h < h1; h++) {
        const float *q = s->qkv + h * hd, *k = s->qkv + D + h * hd, *v = s->qkv + 2 * D + h * hd;
        // scores (n, n) = q (n, hd) · k (n, hd)^T * scale
        if (bf)
            vtc_bf16_fail(bf, vtc_mm_bf16(bf->mm, n, n, hd, scale, s->qkv16 + h * hd, ld, 1, s->qkv16 + D + h * hd, 1,
                                          ld, scores, n));
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, hd, scale, q, ld, k, ld, 0.0f, scores, n);
        softmax_rows(&(struct softmax_job){ scores, n }, 0, n);
        // att[:, h] (n, hd) = scores (n, n) · v (n, hd)
        if (bf) {
            vtc_bf16_fail(bf, vtc_mm_to_bf16(bf->mm, scores, n, n, n, p16, n));
            vtc_bf16_fail(bf, vtc_mm_bf16(bf->mm, n, hd, n, 1.0f, p16, n, 1, s->qkv16 + 2 * D + h * hd, ld, 1,
                                          s->att + h * hd, D));
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, n, 1.0f, scores, n, v, ld, 0.0f,
                        s->att + h * hd, D);
        }
        float *st = s->head_stat + (size_t)h * n;
        if (j->stat == STAT_CLS_ROW) {
            memcpy(st, scores, sizeof(float) * n);
        } else if (j->stat == STAT_RECEIVED) {
            memset(st, 0, sizeof(float) * n);
            for (int i = 0; i < n; i++) {
                const float *r = scores + (size_t)i * n;
                for (int c = 0; c < n; c++) st[c] += r[c];
            }
        }
    }
}

static void attention_chunks(void *p, int begin, int end) {
    for (int c = begin; c < end; c++) attention_heads(p, c);
}

// Multi-head self-attention of s->qkv -> s->att. If stat_out is given, it
// receives the head-mean statistic (CLS row, or mean received attention) [n].
static double attention(const struct vtc_model *m, vtc_vit_scratch *s, int n, int stat, float *stat_out,
                        int n_threads) {
    if (!stat_out) stat = STAT_NONE;
    struct attn_job j = { m, s, n, stat };
    vtc_parallel_for(s->n_chunks, s->n_chunks, attention_chunks, &j);
    if (stat_out) {
        float norm = 1.0f / (m->heads * (stat == STAT_RECEIVED ? (float)n : 1.0f));
        for (int c = 0; c < n; c++) {
            float acc = 0;
            for (int h = 0; h < m->heads; h++) acc += s->head_stat[(size_t)h * n + c];
            stat_out[c] = acc * norm;
        }
    }
    return 4.0 * n * n * m->hidden;
}

// CLS->all attention of one block, computing only the CLS query row (no n x n work).
static double cls_row_attention(const struct vtc_model *m, const struct vtc_vit_block *b,
                                vtc_vit_scratch *s, int n, float *row_out, int n_threads) {
    const int D = m->hidden, hd = m->head_dim;
    layer_norm(s->x, s->h, n, D, b->ln1_w, b->ln1_b, m->eps, n_threads);
    // keys of every token (n, D) into s->att; the CLS query (D) into s->mlp
    float *keys = s->att, *q = s->mlp;
    linear(s->bf, s->h, n, D, b->qkv_w + (size_t)D * D, b->qkv_b + D, D, keys, n_threads);
    memcpy(q, b->qkv_b, sizeof(float) * D);
    cblas_sgemv(CblasRowMajor, CblasNoTrans, D, D, 1.0f, b->qkv_w, D, s->h, 1, 1.0f, q, 1);
    memset(row_out, 0, sizeof(float) * n);
    const float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < m->heads; h++) {
        float *r = s->scores;
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n, hd, scale, keys + h * hd, D, q + h * hd, 1, 0.0f, r, 1);
        softmax_rows(&(struct softmax_job){ r, n }, 0, 1);
        for (int j = 0; j < n; j++) row_out[j] += r[j];
    }
    for (int j = 0; j < n; j++) row_out[j] /= m->heads;
    return 2.0 * n * D * D + 2.0 * D * D + 2.0 * n * D;
}

// One full block on s->x in place. stat/stat_out as attention(); keys_out, if
// not NULL, receives the head-mean keys of the patch rows [P, head_dim].
static double block_forward(const struct vtc_model *m, const struct vtc_vit_block *b, vtc_vit_scratch *s,
                            int n, int stat, float *stat_out, float *keys_out, int n_threads) {
    const int D = m->hidden, F = m->ffn, hd = m->head_dim, c0 = m->has_cls ? 1 : 0;
    double flops = 2.0 * n * D * 3 * D + 2.0 * n * D * D + 4.0 * n * D * F;
    layer_norm(s->x, s->h, n, D, b->ln1_w, b->ln1_b, m->eps, n_threads);
    linear(s->bf, s->h, n, D, b->qkv_w, b->qkv_b, 3 * D, s->qkv, n_threads);
    flops += attention(m, s, n, stat, stat_out, n_threads);
    if (keys_out) {
        for (int i = c0; i < n; i++) {
            const float *k = s->qkv + (size_t)i * 3 * D + D;
            float *dst = keys_out + (size_t)(i - c0) * hd;
            for (int e = 0; e < hd; e++) {
                float acc = 0;
                for (int h = 0; h < m->heads; h++) acc += k[h * hd + e];
                dst[e] = acc / m->heads;
            }
        }
    }
    // x += att · Wo^T + bo ; x += fc2(act(fc1(ln2(x))))
    linear_ex(s->bf, s->att, n, D, b->o_w, b->o_b, D, s->x, 1, n_threads);
    layer_norm(s->x, s->h, n, D, b->ln2_w, b->ln2_b, m->eps, n_threads);
    linear(s->bf, s->h, n, D, b->fc1_w, b->fc1_b, F, s->mlp, n_threads);
    activate(s->mlp, (size_t)n * F, m->act, n_threads);
    linear_ex(s->bf, s->mlp, n, F, b->fc2_w, b->fc2_b, D, s->x, 1, n_threads);
    return flops;
}

int vtc_vit_forward(const struct vtc_model *m, vtc_vit_scratch *s, const float *pixels,
                    int n_threads, struct vtc_vit_out *out) {
    const int D = m->hidden, p = m->patch_size, GH = m->grid_h, GW = m->grid_w, S = m->image_size;
    const int P = GH * GW, c0 = m->has_cls ? 1 : 0, n = P + c0, pp = 3 * p * p;
    double flops = 0;

    // Patchify: row i = patch (gy, gx), columns ordered (c, ky, kx) like the conv
    // weight. A stride-p convolution without padding: the last S mod p pixel rows
    // and columns take part in no patch.
    for (int gy = 0; gy < GH; gy++)
        for (int gx = 0; gx < GW; gx++) {
            float *dst = s->patches + (size_t)(gy * GW + gx) * pp;
            for (int c = 0; c < 3; c++)
                for (int ky = 0; ky < p; ky++)
                    memcpy(dst + (c * p + ky) * p,
                           pixels + ((size_t)c * S + (size_t)gy * p + ky) * S + (size_t)gx * p,
                           sizeof(float) * p);
        }
    linear(s->bf, s->patches, P, pp, m->patch_w, m->patch_b, D, s->x + (size_t)c0 * D, n_threads);
    flops += 2.0 * P * pp * D;
    if (m->has_cls) memcpy(s->x, m->class_emb, sizeof(float) * D);
    for (size_t i = 0; i < (size_t)n * D; i++) s->x[i] += m->pos_emb[i];
    if (m->has_pre_ln) layer_norm(s->x, s->x, n, D, m->pre_ln_w, m->pre_ln_b, m->eps, n_threads);

    const int stat = m->family->stat, FD = m->feature_dim;
    for (int l = 1, j = 0; l <= m->feature_block; l++) {
        const int is_feature = l == m->feature_block;
        float *stat_out = (is_feature && (out->cls_attn || out->cls_attn_last)) || (l == 1 && out->cls_attn_first)
                              ? s->acc : NULL;
        flops += block_forward(m, &m->blocks[l - 1], s, n, stat, stat_out, is_feature ? out->keys : NULL,
                               n_threads);
        if (l == 1 && out->cls_attn_first) memcpy(out->cls_attn_first, s->acc + c0, sizeof(float) * P);
        if (is_feature && stat_out && out->cls_attn) memcpy(out->cls_attn, s->acc + c0, sizeof(float) * P);
        if (is_feature && stat_out && out->cls_attn_last && m->feature_block == m->n_layers)
            memcpy(out->cls_attn_last, s->acc + c0, sizeof(float) * P);
        if (l != m->feature_blocks[j]) continue;
        // a feature block's output, in columns [j*D, (j+1)*D) of the features
        if (out->features && m->post_ln) { // a plain SigLIP tower's last_hidden_state
            layer_norm(s->x + (size_t)c0 * D, out->features, P, D, m->post_ln_w, m->post_ln_b, m->eps, n_threads);
        } else if (out->features && FD == D) {
            memcpy(out->features, s->x + (size_t)c0 * D, sizeof(float) * P * D);
        } else if (out->features) {
            const size_t col = (size_t)m->feature_slot[j] * D;
            for (int i = 0; i < P; i++)
                memcpy(out->features + (size_t)i * FD + col, s->x + (size_t)(c0 + i) * D, sizeof(float) * D);
        }
        if (out->cls && m->has_cls) memcpy(out->cls + (size_t)m->feature_slot[j] * D, s->x, sizeof(float) * D);
        j++;
    }

    // The last block's attention statistic when the features come from earlier:
    // run the blocks in between fully, then only what the statistic needs.
    if (out->cls_attn_last && m->feature_block < m->n_layers) {
        for (int l = m->feature_block + 1; l < m->n_layers; l++)
            flops += block_forward(m, &m->blocks[l - 1], s, n, STAT_NONE, NULL, NULL, n_threads);
        const struct vtc_vit_block *last = &m->blocks[m->n_layers - 1];
        if (stat == STAT_CLS_ROW) {
            flops += cls_row_attention(m, last, s, n, s->acc, n_threads);
        } else { // received attention needs every query row
            layer_norm(s->x, s->h, n, D, last->ln1_w, last->ln1_b, m->eps, n_threads);
            linear(s->bf, s->h, n, D, last->qkv_w, last->qkv_b, 3 * D, s->qkv, n_threads);
            flops += 2.0 * n * D * 3 * D + attention(m, s, n, STAT_RECEIVED, s->acc, n_threads);
        }
        memcpy(out->cls_attn_last, s->acc + c0, sizeof(float) * P);
    }
    out->flops = flops;
    return vtc_bf16_take(s->bf);
}

int vtc_project(const struct vtc_model *m, struct vtc_bf16 *bf, const float *x, int n, float *tmp, float *y,
                int n_threads, double *flops) {
    const int D = m->feature_dim, L = m->lm_dim, H = vtc_project_hidden(m);
    linear(bf, x, n, D, m->mm0_w, m->mm0_b, H, tmp, n_threads);
    activate(tmp, (size_t)n * H, VTC_ACT_GELU, n_threads);
    linear(bf, tmp, n, H, m->mm2_w, m->mm2_b, L, y, n_threads);
    *flops = 2.0 * n * D * H + 2.0 * n * H * L;
    return vtc_bf16_take(bf);
}

void vtc_vit_linear(struct vtc_bf16 *bf, const float *x, int n, int in, const float *w, const float *b, int out,
                    float *y, int accumulate, int n_threads) {
    linear_ex(bf, x, n, in, w, b, out, y, accumulate, n_threads);
}

void vtc_vit_layer_norm(const float *x, float *y, int n, int d, const float *w, const float *b, float eps,
                        int n_threads) {
    layer_norm(x, y, n, d, w, b, eps, n_threads);
}

void vtc_vit_activate(float *x, size_t count, int act, int n_threads) { activate(x, count, act, n_threads); }
