// tome (ToMe, Bolya et al., ICLR 2023): bipartite soft matching, applied in
// rounds until K tokens remain, as facebookresearch/ToMe's
// bipartite_soft_matching + merge_wavg do it:
// - the current sequence alternates into sets A (even positions) and B (odd);
// - metric = head-mean keys (ToMe uses the attention keys; encoder features
//   when the file has none), L2-normalised; each A token's best match in B by
//   cosine (ties: the first B);
// - the r A tokens with the highest best-match scores (ties: earlier A first)
//   merge into their B partners by size-weighted mean; r = min(tokens left to
//   remove, |A|) per round (ToMe caps r at half the tokens);
// - the new sequence is the unmerged A tokens (in score order, as ToMe's
//   argsort leaves them) followed by all of B, then the next round.
// The metric of a merged token is its size-weighted mean metric (ToMe recomputes
// keys in the next layer; here there is no next layer). No token is protected:
// vtc's grid has no CLS row. index/pos: the B token that absorbed the others
// (its representative); weight: tokens it stands for. Encoder space.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

struct edge {
    float score;
    int32_t a;
};

static int cmp_edge(const void *x, const void *y) {
    const struct edge *p = x, *q = y;
    if (p->score > q->score) return -1;
    if (p->score < q->score) return 1;
    return (p->a > q->a) - (p->a < q->a);
}

static int run_tome(const struct vtc_prune_input *in, vtc_tokens **out) {
    const vtc_features *f = in->f;
    const int32_t n0 = f->n, K = (int32_t)in->keep, D = f->dim;
    const int32_t md = f->keys ? f->head_dim : D;
    const float *metric_src = f->keys ? f->keys : f->features;
    // current sequence: x (size-weighted sums), metric sums, size, representative
    double *x = vtc_alloc((size_t)n0 * D, sizeof(double));
    double *m = vtc_alloc((size_t)n0 * md, sizeof(double));
    float *mn = vtc_alloc((size_t)n0 * md, sizeof(float));
    double *size = vtc_alloc((size_t)n0, sizeof(double));
    int32_t *rep = vtc_alloc((size_t)n0, sizeof(int32_t));
    int32_t *order = vtc_alloc((size_t)n0, sizeof(int32_t)), *next = vtc_alloc((size_t)n0, sizeof(int32_t));
    struct edge *edges = vtc_alloc((size_t)n0, sizeof(struct edge));
    int32_t *match = vtc_alloc((size_t)n0, sizeof(int32_t));
    uint8_t *merged = vtc_zalloc((size_t)n0, 1);
    if (!x || !m || !mn || !size || !rep || !order || !next || !edges || !match || !merged) {
        free(x); free(m); free(mn); free(size); free(rep); free(order); free(next); free(edges); free(match);
        free(merged);
        return VTC_ERR_NOMEM;
    }
    // token slots are the original indices; `order` lists the live ones in sequence order
    for (int32_t i = 0; i < n0; i++) {
        for (int32_t e = 0; e < D; e++) x[(size_t)i * D + e] = f->features[(size_t)i * D + e];
        for (int32_t e = 0; e < md; e++) m[(size_t)i * md + e] = metric_src[(size_t)i * md + e];
        size[i] = 1;
        rep[i] = i;
        order[i] = i;
    }
    int32_t t = n0;
    while (t > K) {
        int32_t na = (t + 1) / 2, nb = t / 2, r = t - K < na ? t - K : na;
        if (nb == 0) break;
        // unit metric of the live tokens (mean metric of each group)
        for (int32_t p = 0; p < t; p++) {
            int32_t s = order[p];
            double ss = 0;
            for (int32_t e = 0; e < md; e++) {
                double v = m[(size_t)s * md + e] / size[s];
                ss += v * v;
            }
            float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
            for (int32_t e = 0; e < md; e++) mn[(size_t)s * md + e] = (float)(m[(size_t)s * md + e] / size[s]) * inv;
        }
        for (int32_t ai = 0; ai < na; ai++) {
            const float *av = mn + (size_t)order[2 * ai] * md;
            float best = -INFINITY;
            int32_t bj = 0;
            for (int32_t bi = 0; bi < nb; bi++) {
                const float *bv = mn + (size_t)order[2 * bi + 1] * md;
                float sc = 0;
                for (int32_t e = 0; e < md; e++) sc += av[e] * bv[e];
                if (sc > best) best = sc, bj = bi;
            }
            edges[ai].score = best;
            edges[ai].a = ai;
            match[ai] = bj;
        }
        qsort(edges, (size_t)na, sizeof *edges, cmp_edge);
        for (int32_t e = 0; e < r; e++) { // merge A into its B partner (sums: size-weighted)
            int32_t src = order[2 * edges[e].a], dst = order[2 * match[edges[e].a] + 1];
            for (int32_t q = 0; q < D; q++) x[(size_t)dst * D + q] += x[(size_t)src * D + q];
            for (int32_t q = 0; q < md; q++) m[(size_t)dst * md + q] += m[(size_t)src * md + q];
            size[dst] += size[src];
            merged[src] = 1;
        }
        int32_t nt = 0;
        for (int32_t e = r; e < na; e++) next[nt++] = order[2 * edges[e].a]; // unmerged A, score order
        for (int32_t bi = 0; bi < nb; bi++) next[nt++] = order[2 * bi + 1];
        memcpy(order, next, sizeof(int32_t) * nt);
        t = nt;
    }
    vtc_tokens *tok = vtc_tokens_alloc(t, D);
    int st = tok ? 0 : VTC_ERR_NOMEM;
    for (int32_t p = 0; !st && p < t; p++) {
        int32_t s = order[p];
        for (int32_t e = 0; e < D; e++) tok->data[(size_t)p * D + e] = (float)(x[(size_t)s * D + e] / size[s]);
        tok->index[p] = rep[s];
        vtc_grid_pos(f, rep[s], tok->pos + 3 * p);
        tok->weight[p] = (float)size[s];
    }
    if (tok) tok->space = VTC_SPACE_FEATURES;
    free(x); free(m); free(mn); free(size); free(rep); free(order); free(next); free(edges); free(match); free(merged);
    if (st) return st;
    *out = tok;
    return VTC_OK;
}

const struct vtc_method vtc_method_tome = {
    "tome", "ToMe: bipartite soft matching on keys, size-weighted merges in rounds down to k tokens",
    VTC_F_FEATURES, VTC_F_KEYS, VTC_SPACE_FEATURES, NULL, 0, run_tome,
};
