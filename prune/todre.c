// todre (ToDRE stage 1, Li et al., arXiv 2505.18757): a relevance pivot, then
// greedy max-sum diversification. No official code is public; this follows
// docs/methods.md#todre and the paper (v2: "greedy max-sum diversification"; v1 called the
// same step greedy k-center).
//
// Pivot: the token with the highest CLS attention of the last encoder layer
// available (cls_attn_last, else cls_attn); video: each frame's maximum, then
// the best of those (the earliest frame, and within it the lowest index, on
// ties — the same token as the clip-wide first argmax). Without a CLS token
// (SigLIP: cls_attn then holds mean received attention, cls_is_received) or
// without any attention, the rule of docs/methods.md#without-a-cls-token applies: a seeded random pivot,
// splitmix64(seed) mod N, named in the note.
//
// Diversification on L2-normalised post-projector embeddings (the encoder
// features without a projector; a zero row stays zero): s = the summed cosine
// similarity of each token to the chosen set, s += X . x_c after each pick; the
// next pick is argmin s among the unpicked, the lowest index on ties (maximising
// the summed distance sum(1 - cos) is minimising s). k picks, the pivot
// included; output sorted by index. Stage 2 acts inside the decoder
// (lm/policies.c).
//
// Cost: each pick needs one row X . x_c, O(N D). Computed by sgemv, that row
// streams X from memory at about an eighth of sgemm's multiply-add rate on one
// core (measured: 28 GB/s against 135 GFLOP/s), and sgemv is bandwidth-bound,
// so more threads barely help it; the similarity matrix's upper triangle,
// N^2 D / 2 by sgemm tiles (divprune's vtc_similarity_tiles), spreads over the
// threads. So the triangle is made, when it fits SIM_CACHE_BYTES, once
// 32 (k - 1) >= N — the break-even on two cores — and each pick reads its row
// from it. The rule looks at N and k only, so the tokens never depend on the
// thread count (the two paths round differently: picks could differ where two
// scores tie to within rounding).
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "prune.h"

#define SIM_CACHE_BYTES ((size_t)192 << 20)

// The attention pivot: per-frame maxima, then the best (first on ties).
static int32_t attention_pivot(const vtc_features *f, const float *attn) {
    const int32_t hw = f->H * f->W;
    int32_t pivot = 0;
    for (int32_t t = 0; t < f->T; t++) {
        int32_t fb = t * hw;
        for (int32_t i = fb + 1; i < (t + 1) * hw; i++)
            if (attn[i] > attn[fb]) fb = i;
        if (attn[fb] > attn[pivot]) pivot = fb;
    }
    return pivot;
}

static int run_todre(const struct vtc_prune_input *in, vtc_tokens **out) {
    const vtc_features *f = in->f;
    const int32_t n = f->n, k = (int32_t)in->keep;
    int32_t dim;
    int space;
    const float *rows = vtc_prune_rows(f, VTC_SPACE_EMBEDS, &dim, &space);
    const float *attn = f->cls_is_received ? NULL : f->cls_attn_last ? f->cls_attn_last : f->cls_attn;
    uint64_t state = in->seed;
    const int32_t pivot = attn ? attention_pivot(f, attn) : (int32_t)(vtc_splitmix64(&state) % (uint64_t)n);

    vtc_blas_single_thread();
    float *xn = vtc_normalized_rows(rows, n, dim);
    size_t bytes;
    float *sim = NULL; // NULL: one sgemv row per pick, slower, never wrong
    if ((int64_t)(k - 1) * 32 >= n && !vtc_mul_size((size_t)n * (size_t)n, sizeof(float), &bytes) &&
        bytes <= SIM_CACHE_BYTES)
        sim = vtc_alloc(bytes, 1);
    float *score = vtc_zalloc((size_t)n, sizeof(float));
    float *row = vtc_alloc((size_t)n, sizeof(float));
    uint8_t *taken = vtc_zalloc((size_t)n, 1);
    int32_t *idx = vtc_alloc((size_t)k, sizeof *idx);
    int st = (!xn || !score || !row || !taken || !idx) ? VTC_ERR_NOMEM : VTC_OK;
    if (!st && sim) st = vtc_similarity_tiles(xn, n, dim, in->n_threads, sim, NULL);
    for (int32_t c = 0, pick = pivot; !st && c < k; c++) {
        idx[c] = pick;
        taken[pick] = 1;
        if (c + 1 == k) break;
        if (sim) {
            vtc_similarity_row(sim, n, pick, row);
            for (int32_t j = 0; j < n; j++) score[j] += row[j];
        } else { // score (n) += xn (n, dim) . xn[pick] (dim)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, n, dim, 1.0f, xn, dim, xn + (size_t)pick * dim, 1, 1.0f, score, 1);
        }
        int32_t best = -1;
        for (int32_t j = 0; j < n; j++)
            if (!taken[j] && (best < 0 || score[j] < score[best])) best = j;
        pick = best;
    }
    if (!st) {
        vtc_sort_i32(idx, k);
        st = vtc_tokens_gather(f, rows, dim, space, idx, k, out);
    }
    if (!st && !attn)
        snprintf((*out)->note, sizeof (*out)->note, "no CLS %s: seeded random pivot (token %d of %d, seed %llu)",
                 f->cls_is_received ? "token" : "attention", pivot, n, (unsigned long long)in->seed);
    free(xn);
    free(sim);
    free(row);
    free(score);
    free(taken);
    free(idx);
    return st;
}

const struct vtc_method vtc_method_todre = {
    "todre", "ToDRE stage 1: CLS-attention pivot, then greedy max-sum diversification on embeddings",
    VTC_F_FEATURES, VTC_F_EMBEDS | VTC_F_CLS_ATTN | VTC_F_CLS_ATTN_LAST, VTC_SPACE_EMBEDS, NULL, 0, run_todre,
};
