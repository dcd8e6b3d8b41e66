// todre (ToDRE stage 1, "Token Diversity and Relevance"): a relevance pivot,
// then greedy max-sum diversification. The pivot is the token with the highest
// CLS attention of the last encoder layer available (cls_attn_last, else
// cls_attn; video: each frame's maximum, then the best of those; without a CLS
// token a seeded random pivot, said in the note). Then on L2-normalised
// post-projector embeddings (encoder features without a projector) keep
// s = sum of similarities to the chosen set, s += X . x_c after each pick, and
// pick argmin s among the unpicked (ties: lowest index) until k are chosen.
// Output sorted by index. Stage 2 acts inside the decoder (lm/policies.c).
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "prune.h"

static int run_todre(const struct vtc_prune_input *in, vtc_tokens **out) {
    const vtc_features *f = in->f;
    const int32_t n = f->n, k = (int32_t)in->keep, hw = f->H * f->W;
    int32_t dim;
    int space;
    const float *rows = vtc_prune_rows(f, VTC_SPACE_EMBEDS, &dim, &space);
    const float *attn = f->cls_attn_last ? f->cls_attn_last : f->cls_attn;
    int32_t pivot = 0;
    if (attn && !f->cls_is_received) {
        // per-frame maxima, then the best of them (equal to the global argmax; kept
        // explicit to mirror the method's video rule; ties: earliest frame/index)
        float best = -INFINITY;
        for (int32_t t = 0; t < f->T; t++) {
            int32_t fb = t * hw;
            for (int32_t i = t * hw; i < (t + 1) * hw; i++)
                if (attn[i] > attn[fb]) fb = i;
            if (attn[fb] > best) best = attn[fb], pivot = fb;
        }
    } else {
        uint64_t s = in->seed;
        pivot = (int32_t)(vtc_splitmix64(&s) % (uint64_t)n);
    }
    float *xn = vtc_normalized_rows(rows, n, dim);
    // rows of the similarity matrix, all at once when they fit (one sgemm), else one sgemv per pick
    float *sim = xn ? vtc_similarity_matrix(xn, n, dim, in->n_threads, (size_t)192 << 20) : NULL;
    float *score = vtc_zalloc((size_t)n, sizeof(float));
    uint8_t *taken = vtc_zalloc((size_t)n, 1);
    int32_t *idx = vtc_alloc((size_t)k, sizeof *idx);
    int st = (!xn || !score || !taken || !idx) ? VTC_ERR_NOMEM : 0;
    for (int32_t c = 0, pick = pivot; !st && c < k; c++) {
        idx[c] = pick;
        taken[pick] = 1;
        if (c + 1 == k) break;
        if (sim)
            for (int32_t j = 0; j < n; j++) score[j] += sim[(size_t)pick * n + j];
        else
            cblas_sgemv(CblasRowMajor, CblasNoTrans, n, dim, 1.0f, xn, dim, xn + (size_t)pick * dim, 1, 1.0f, score, 1);
        float bv = INFINITY;
        int32_t bi = -1;
        for (int32_t j = 0; j < n; j++)
            if (!taken[j] && score[j] < bv) bv = score[j], bi = j;
        pick = bi;
    }
    if (!st) {
        vtc_sort_i32(idx, k);
        st = vtc_tokens_gather(f, rows, dim, space, idx, k, out);
    }
    if (!st && (!attn || f->cls_is_received))
        snprintf((*out)->note, sizeof (*out)->note, "no CLS token: seeded random pivot (token %d)", pivot);
    free(xn);
    free(sim);
    free(score);
    free(taken);
    free(idx);
    return st;
}

const struct vtc_method vtc_method_todre = {
    "todre", "ToDRE stage 1: CLS-attention pivot, then greedy max-sum diversification on embeddings",
    VTC_F_FEATURES, VTC_F_EMBEDS | VTC_F_CLS_ATTN | VTC_F_CLS_ATTN_LAST, VTC_SPACE_EMBEDS, NULL, 0, run_todre,
};
