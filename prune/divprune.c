// divprune (DivPrune, Alvar et al., CVPR 2025): keep a maximally diverse subset —
// the max-min diversity problem solved greedily, as the official code does:
// distance = 1 - cosine similarity of the post-projector embeddings (encoder
// features when there is no projector); the first pick is the most isolated
// token (largest distance to its nearest neighbour — the official code takes the
// second-smallest entry of each column of the distance matrix, i.e. the nearest
// other token); every next pick is the token whose minimum distance to the
// chosen set is largest. Ties go to the lowest index (torch.argmax's first
// maximum). Output sorted by index.
//
// Cost: the first pick needs every token's nearest neighbour, O(N^2 D) in
// row blocks of sgemm over the threads; that similarity matrix is kept when it
// fits 192 MB, so each later pick reads one row of it (O(N)); otherwise each
// pick computes its row with one sgemv (O(N D)). Either way a running minimum:
// never the O(k^2 N) re-scan of the chosen set.
// per_frame=1 on video runs the selection in each frame with k/T tokens
// (remainder to the first frames).
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

static const struct vtc_param_def PARAMS[] = {
    { "per_frame", "0", "1: select k/T tokens in each frame instead of over the clip", 0, 1, 1 },
};

// Unit-length copies of n rows of width d (a zero row stays zero).
float *vtc_normalized_rows(const float *x, int32_t n, int32_t d) {
    float *y = vtc_alloc((size_t)n * d, sizeof(float));
    if (!y) return NULL;
    for (int32_t i = 0; i < n; i++) {
        const float *r = x + (size_t)i * d;
        double ss = 0;
        for (int32_t e = 0; e < d; e++) ss += (double)r[e] * r[e];
        float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
        for (int32_t e = 0; e < d; e++) y[(size_t)i * d + e] = r[e] * inv;
    }
    return y;
}

// The similarity matrix is kept when it fits this budget (N = 6272 needs 157 MB);
// beyond it each pick computes its row with one sgemv.
#define SIM_CACHE_BYTES ((size_t)192 << 20)

struct nn_job {
    const float *xn, *sim;
    int32_t n, d;
    float *nn; // [n] nearest-neighbour distance
};

// Nearest-neighbour distances of rows [begin, end), from the cached matrix or
// from row blocks computed here.
static void nn_rows(void *p, int begin, int end) {
    const struct nn_job *j = p;
    enum { BLOCK = 64 };
    float *blk = j->sim ? NULL : malloc(sizeof(float) * BLOCK * (size_t)j->n);
    for (int b0 = begin; b0 < end; b0 += BLOCK) {
        int bn = end - b0 < BLOCK ? end - b0 : BLOCK;
        const float *s = j->sim ? j->sim + (size_t)b0 * j->n : blk;
        if (!j->sim) {
            if (!blk) return; // leaves nn = +inf: reported by the caller
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bn, j->n, j->d, 1.0f, j->xn + (size_t)b0 * j->d, j->d,
                        j->xn, j->d, 0.0f, blk, j->n);
        }
        for (int i = 0; i < bn; i++) {
            const float *r = s + (size_t)i * j->n;
            float nn = INFINITY;
            for (int32_t c = 0; c < j->n; c++)
                if (c != b0 + i && 1.0f - r[c] < nn) nn = 1.0f - r[c];
            j->nn[b0 + i] = nn;
        }
    }
    free(blk);
}

// Greedy max-min selection of k of the n unit rows xn -> idx (ascending).
static int divprune_select(const float *xn, int32_t n, int32_t d, int32_t k, int n_threads, int32_t *idx) {
    float *mind = vtc_alloc((size_t)n, sizeof(float));
    float *nn = vtc_alloc((size_t)n, sizeof(float));
    float *row = vtc_alloc((size_t)n, sizeof(float));
    uint8_t *taken = vtc_zalloc((size_t)n, 1);
    float *sim = vtc_similarity_matrix(xn, n, d, n_threads, SIM_CACHE_BYTES);
    if (!mind || !nn || !row || !taken) {
        free(mind); free(nn); free(row); free(taken); free(sim);
        return VTC_ERR_NOMEM;
    }
    // first pick: the largest nearest-neighbour distance (first on ties)
    for (int32_t j = 0; j < n; j++) nn[j] = n == 1 ? 0.0f : INFINITY;
    struct nn_job job = { xn, sim, n, d, nn };
    if (n > 1) vtc_parallel_for(n_threads, n, nn_rows, &job);
    int32_t best = 0;
    for (int32_t j = 0; j < n; j++) {
        if (isinf(nn[j]) && n > 1) {
            free(mind); free(nn); free(row); free(taken); free(sim);
            return vtc_set_error(VTC_ERR_NOMEM, "divprune: out of memory");
        }
        if (nn[j] > nn[best]) best = j;
    }
    for (int32_t j = 0; j < n; j++) mind[j] = INFINITY;
    for (int32_t c = 0, pick = best; c < k; c++) {
        idx[c] = pick;
        taken[pick] = 1;
        if (c + 1 == k) break;
        // running minimum: one row of similarities to the new pick
        const float *r = row;
        if (sim) r = sim + (size_t)pick * n;
        else cblas_sgemv(CblasRowMajor, CblasNoTrans, n, d, 1.0f, xn, d, xn + (size_t)pick * d, 1, 0.0f, row, 1);
        float bv = -INFINITY;
        int32_t bi = -1;
        for (int32_t j = 0; j < n; j++) {
            float dist = 1.0f - r[j];
            if (dist < mind[j]) mind[j] = dist;
            if (!taken[j] && mind[j] > bv) bv = mind[j], bi = j;
        }
        pick = bi;
    }
    vtc_sort_i32(idx, k);
    free(mind); free(nn); free(row); free(taken); free(sim);
    return VTC_OK;
}

static int run_divprune(const struct vtc_prune_input *in, vtc_tokens **out) {
    const vtc_features *f = in->f;
    int32_t dim;
    int space;
    const float *rows = vtc_prune_rows(f, VTC_SPACE_EMBEDS, &dim, &space);
    const int32_t k = (int32_t)in->keep, hw = f->H * f->W;
    int32_t *idx = vtc_alloc((size_t)k, sizeof *idx);
    float *xn = vtc_normalized_rows(rows, f->n, dim);
    int st = (!idx || !xn) ? VTC_ERR_NOMEM : 0;
    int32_t n_out = k;
    if (!st && in->p->v[0] && f->T > 1) {
        n_out = 0;
        for (int32_t t = 0; t < f->T && !st; t++) {
            int32_t kt = k / f->T + (t < k % f->T ? 1 : 0);
            if (kt > hw) kt = hw;
            if (kt <= 0) continue;
            st = divprune_select(xn + (size_t)t * hw * dim, hw, dim, kt, in->n_threads, idx + n_out);
            for (int32_t i = 0; i < kt; i++) idx[n_out + i] += t * hw;
            n_out += kt;
        }
    } else if (!st) {
        st = divprune_select(xn, f->n, dim, k, in->n_threads, idx);
    }
    if (!st) st = vtc_tokens_gather(f, rows, dim, space, idx, n_out, out);
    free(idx);
    free(xn);
    return st;
}

const struct vtc_method vtc_method_divprune = {
    "divprune", "DivPrune: greedy max-min diversity (1 - cosine) on post-projector embeddings, most isolated first",
    VTC_F_FEATURES, VTC_F_EMBEDS, VTC_SPACE_EMBEDS, PARAMS, 1, run_divprune,
};
