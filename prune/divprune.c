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
// row blocks of sgemm (bounded memory); the rest keeps a running minimum, one
// sgemv row per pick: O(k N D) — never the O(k^2 N) re-scan of the chosen set.
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

// Greedy max-min selection of k of the n unit rows xn -> idx (ascending).
static int divprune_select(const float *xn, int32_t n, int32_t d, int32_t k, int32_t *idx) {
    enum { BLOCK = 256 };
    float *mind = vtc_alloc((size_t)n, sizeof(float));
    float *sim = vtc_alloc((size_t)BLOCK * n, sizeof(float));
    float *row = vtc_alloc((size_t)n, sizeof(float));
    uint8_t *taken = vtc_zalloc((size_t)n, 1);
    if (!mind || !sim || !row || !taken) {
        free(mind); free(sim); free(row); free(taken);
        return VTC_ERR_NOMEM;
    }
    // first pick: the largest nearest-neighbour distance
    int32_t best = 0;
    float best_nn = -INFINITY;
    for (int32_t b0 = 0; b0 < n; b0 += BLOCK) {
        int32_t bn = n - b0 < BLOCK ? n - b0 : BLOCK;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bn, n, d, 1.0f, xn + (size_t)b0 * d, d, xn, d, 0.0f, sim,
                    n);
        for (int32_t i = 0; i < bn; i++) {
            const float *s = sim + (size_t)i * n;
            float nn = INFINITY;
            for (int32_t j = 0; j < n; j++)
                if (j != b0 + i && 1.0f - s[j] < nn) nn = 1.0f - s[j];
            if (n == 1) nn = 0;
            if (nn > best_nn) best_nn = nn, best = b0 + i;
        }
    }
    for (int32_t j = 0; j < n; j++) mind[j] = INFINITY;
    for (int32_t c = 0, pick = best; c < k; c++) {
        idx[c] = pick;
        taken[pick] = 1;
        if (c + 1 == k) break;
        // running minimum: one row of distances to the new pick
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n, d, 1.0f, xn, d, xn + (size_t)pick * d, 1, 0.0f, row, 1);
        float bv = -INFINITY;
        int32_t bi = -1;
        for (int32_t j = 0; j < n; j++) {
            float dist = 1.0f - row[j];
            if (dist < mind[j]) mind[j] = dist;
            if (!taken[j] && mind[j] > bv) bv = mind[j], bi = j;
        }
        pick = bi;
    }
    vtc_sort_i32(idx, k);
    free(mind); free(sim); free(row); free(taken);
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
            st = divprune_select(xn + (size_t)t * hw * dim, hw, dim, kt, idx + n_out);
            for (int32_t i = 0; i < kt; i++) idx[n_out + i] += t * hw;
            n_out += kt;
        }
    } else if (!st) {
        st = divprune_select(xn, f->n, dim, k, idx);
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
