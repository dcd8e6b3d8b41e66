// tome (ToMe, Bolya et al., ICLR 2023): facebookresearch/ToMe's
// bipartite_soft_matching + merge_wavg, applied in rounds to the feature layer
// until k tokens remain. One round on the current sequence of t tokens:
// - metric = head-mean keys (ToMe's timm patch matches on k.mean over heads),
//   or the features when there are no keys or metric=1; L2-normalised (a zero
//   row stays zero where ToMe would divide by zero);
// - A = even positions, B = odd positions; each A token's best B by cosine
//   (ties: the first B, as torch's max);
// - r = min(t - k, (t - protected) // 2): ToMe caps r at half the unprotected
//   tokens; the r A tokens with the highest best scores merge into their B
//   partners (ToMe argsorts descending; vtc breaks ties stably, earlier A first);
// - merge_wavg: x * size summed into the partner, divided by the summed size,
//   so a merged token is exactly the mean of the source tokens it stands for;
//   its metric for the next round is its group's mean metric (ToMe recomputes
//   keys in the next layer; after the feature layer there is none);
// - the new sequence is cat([unmerged A, B]), the unmerged A in descending-score
//   order (class_token=False) or in sequence order (class_token=True: ToMe
//   sorts unm_idx so the class token stays first); the final order is ToMe's,
//   not raster order.
// The whole clip is one sequence (ToMe merges whatever sequence it is given).
// The CLS token: vtc's features hold patches only (LLaVA drops the CLS row),
// so by default nothing is protected (class_token=False on the patch
// sequence). cls=1 runs ToMe as a CLIP ViT with class_token=True sees it: the
// sequence is [CLS, patches] (patch 0 is then in B), the CLS row never merges
// (its scores are -inf, protected = 1), and it is emitted first (index -1,
// pos (0, -1, -1), weight 1, its feature-layer state f->cls) and counts toward
// k. One image only (ToMe protects one class token).
// index / pos: the token that survived (the B token every merge landed in);
// weight: the number of source tokens merged into it. Encoder feature space.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "prune.h"

enum { P_METRIC, P_CLS };

static const struct vtc_param_def PARAMS[] = {
    { "metric", "0", "matching metric: 0 = head-mean keys (features when there are none), 1 = features", 0, 1, 1 },
    { "cls", "0", "1: the CLS token leads the sequence, protected as ToMe's class_token, and is kept (counts in k)",
      0, 1, 1 },
};

struct edge {
    float score;
    int32_t a; // position in A
};

// Descending score, then ascending A position: a stable descending argsort.
static int cmp_edge(const void *x, const void *y) {
    const struct edge *p = x, *q = y;
    if (p->score > q->score) return -1;
    if (p->score < q->score) return 1;
    return (p->a > q->a) - (p->a < q->a);
}

// Ascending A position: the unmerged tokens back in sequence order (class_token=True).
static int cmp_edge_position(const void *x, const void *y) {
    const struct edge *p = x, *q = y;
    return (p->a > q->a) - (p->a < q->a);
}

struct match_job {
    const float *an, *bn; // unit metric rows of A (na, md) and B (nb, md)
    int32_t na, nb, md;
    struct edge *edge;    // [na] best score of each A row
    int32_t *partner;     // [na] its B position
};

static void best_of_row(const float *s, int32_t nb, float *best, int32_t *arg) {
    float bs = -INFINITY;
    int32_t bj = 0;
    for (int32_t j = 0; j < nb; j++)
        if (s[j] > bs) bs = s[j], bj = j; // NaN never wins
    *best = bs, *arg = bj;
}

// A rows [begin, end): scores = an . bn^T in blocks of rows (BLAS), row maxima.
static void match_rows(void *arg, int begin, int end) {
    const struct match_job *j = arg;
    enum { BLOCK = 64 };
    float *s = vtc_alloc(BLOCK * (size_t)j->nb, sizeof(float));
    for (int32_t a0 = begin; a0 < end; a0 += BLOCK) {
        int32_t bn = end - a0 < BLOCK ? end - a0 : BLOCK;
        if (s) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bn, j->nb, j->md, 1.0f, j->an + (size_t)a0 * j->md,
                        j->md, j->bn, j->md, 0.0f, s, j->nb);
            for (int32_t i = 0; i < bn; i++)
                best_of_row(s + (size_t)i * j->nb, j->nb, &j->edge[a0 + i].score, &j->partner[a0 + i]);
        } else { // no scratch: one dot product at a time
            for (int32_t i = a0; i < a0 + bn; i++) {
                float bs = -INFINITY;
                int32_t bj = 0;
                for (int32_t b = 0; b < j->nb; b++) {
                    float v = cblas_sdot(j->md, j->an + (size_t)i * j->md, 1, j->bn + (size_t)b * j->md, 1);
                    if (v > bs) bs = v, bj = b;
                }
                j->edge[i].score = bs, j->partner[i] = bj;
            }
        }
        for (int32_t i = a0; i < a0 + bn; i++) j->edge[i].a = i;
    }
    free(s);
}

// Unit copy of the group metric sum of slot s (the mean's direction).
static void unit_metric(const double *msum, int32_t md, int32_t s, float *dst) {
    const double *m = msum + (size_t)s * md;
    double ss = 0;
    for (int32_t e = 0; e < md; e++) ss += m[e] * m[e];
    double inv = ss > 0 ? 1.0 / sqrt(ss) : 0.0;
    for (int32_t e = 0; e < md; e++) dst[e] = (float)(m[e] * inv);
}

// Slot every source token ended in (following the merges, compressing the path).
static int32_t survivor(int32_t *into, int32_t i) {
    int32_t r = i;
    while (into[r] != r) r = into[r];
    while (into[i] != r) {
        int32_t next = into[i];
        into[i] = r;
        i = next;
    }
    return r;
}

static int run_tome(const struct vtc_prune_input *in, vtc_tokens **out) {
    const vtc_features *f = in->f;
    const int32_t n = f->n, K = (int32_t)in->keep, D = f->dim;
    const int use_keys = f->keys && f->head_dim > 0 && in->p->v[P_METRIC] == 0;
    const int with_cls = in->p->v[P_CLS] != 0;
    if (with_cls && (!f->cls || f->cls_is_received))
        return vtc_set_error(VTC_ERR_NEEDS, "tome: cls=1 needs the CLS token's features, which these features lack");
    if (with_cls && f->T != 1)
        return vtc_set_error(VTC_ERR_NEEDS, "tome: cls=1 works on one image (ToMe protects one class token), not %d frames",
                             f->T);
    if (with_cls && K < 2)
        return vtc_set_error(VTC_ERR_ARG, "tome: with cls=1 the CLS token and at least one patch stay: --keep >= 2");
    const int32_t md = use_keys ? f->head_dim : D;
    const float *metric = use_keys ? f->keys : f->features;
    // Slots: source index i for patch i, slot n for the CLS token; a slot lives
    // while its token is in the sequence.
    const int32_t ns = n + with_cls;
    double *msum = vtc_zalloc((size_t)ns * md, sizeof(double)); // group sums of the metric (CLS: unused)
    int32_t *size = vtc_alloc((size_t)ns, sizeof(int32_t));
    int32_t *into = vtc_alloc((size_t)ns, sizeof(int32_t));    // slot each slot merged into (itself if alive)
    int32_t *seq = vtc_alloc((size_t)ns, sizeof(int32_t)), *next = vtc_alloc((size_t)ns, sizeof(int32_t));
    float *an = vtc_alloc(((size_t)ns + 1) / 2 * md, sizeof(float)), *bn = vtc_alloc((size_t)ns / 2 * md + 1, sizeof(float));
    struct edge *edge = vtc_alloc(((size_t)ns + 1) / 2, sizeof *edge);
    int32_t *partner = vtc_alloc(((size_t)ns + 1) / 2, sizeof(int32_t));
    int st = (!msum || !size || !into || !seq || !next || !an || !bn || !edge || !partner) ? VTC_ERR_NOMEM : VTC_OK;
    int32_t t = ns, rounds = 0;
    if (!st) {
        for (size_t i = 0; i < (size_t)n * md; i++) msum[i] = metric[i];
        for (int32_t i = 0; i < ns; i++) size[i] = 1, into[i] = i;
        for (int32_t i = 0; i < n; i++) seq[with_cls + i] = i;
        if (with_cls) seq[0] = n;
        vtc_blas_single_thread();
    }
    while (!st && t > K) {
        const int32_t na = (t + 1) / 2, nb = t / 2, cap = (t - with_cls) / 2;
        const int32_t r = t - K < cap ? t - K : cap; // >= 1: t > K >= 1 + with_cls
        for (int32_t i = 0; i < na; i++) unit_metric(msum, md, seq[2 * i], an + (size_t)i * md);
        for (int32_t i = 0; i < nb; i++) unit_metric(msum, md, seq[2 * i + 1], bn + (size_t)i * md);
        struct match_job job = { an, bn, na, nb, md, edge, partner };
        int threads = in->n_threads < (na + 63) / 64 ? in->n_threads : (na + 63) / 64;
        vtc_parallel_for(threads, na, match_rows, &job);
        for (int32_t i = 0; i < na; i++)
            if (isnan(edge[i].score)) edge[i].score = -INFINITY;
        if (with_cls) edge[0].score = -INFINITY; // the class token (A position 0) never merges
        qsort(edge, (size_t)na, sizeof *edge, cmp_edge);
        for (int32_t e = 0; e < r; e++) { // merge_wavg: sums into the partner
            int32_t src = seq[2 * edge[e].a], dst = seq[2 * partner[edge[e].a] + 1];
            double *ms = msum + (size_t)src * md, *mdst = msum + (size_t)dst * md;
            for (int32_t q = 0; q < md; q++) mdst[q] += ms[q];
            size[dst] += size[src];
            into[src] = dst;
        }
        if (with_cls) qsort(edge + r, (size_t)(na - r), sizeof *edge, cmp_edge_position);
        int32_t nt = 0;
        for (int32_t e = r; e < na; e++) next[nt++] = seq[2 * edge[e].a];
        for (int32_t i = 0; i < nb; i++) next[nt++] = seq[2 * i + 1];
        int32_t *swap = seq;
        seq = next, next = swap;
        t = nt;
        rounds++;
    }
    vtc_tokens *tok = st ? NULL : vtc_tokens_alloc(t, D);
    double *acc = st ? NULL : vtc_zalloc((size_t)t * D, sizeof(double));
    if (!st && (!tok || !acc)) st = VTC_ERR_NOMEM;
    if (!st) {
        // output row of each surviving slot, then every source patch into its row's sum
        int32_t *row = next;
        for (int32_t p = 0; p < t; p++) row[seq[p]] = p;
        for (int32_t i = 0; i < n; i++) {
            const float *x = f->features + (size_t)i * D;
            double *a = acc + (size_t)row[survivor(into, i)] * D;
            for (int32_t e = 0; e < D; e++) a[e] += x[e];
        }
        for (int32_t p = 0; p < t; p++) {
            const int32_t s = seq[p];
            if (s == n) { // the CLS token, unchanged
                memcpy(tok->data + (size_t)p * D, f->cls, sizeof(float) * D);
                tok->index[p] = -1;
                tok->pos[3 * p] = 0, tok->pos[3 * p + 1] = -1, tok->pos[3 * p + 2] = -1;
                tok->weight[p] = 1.0f;
                continue;
            }
            for (int32_t e = 0; e < D; e++) tok->data[(size_t)p * D + e] = (float)(acc[(size_t)p * D + e] / size[s]);
            tok->index[p] = s;
            vtc_grid_pos(f, s, tok->pos + 3 * p);
            tok->weight[p] = (float)size[s];
        }
        tok->space = VTC_SPACE_FEATURES;
        snprintf(tok->note, sizeof tok->note, "%d rounds of bipartite matching on %s%s%s", rounds,
                 use_keys ? "keys" : "features", !use_keys && in->p->v[P_METRIC] == 0 ? " (no keys)" : "",
                 with_cls ? ", CLS token protected and kept" : "");
        *out = tok;
    } else {
        vtc_tokens_free(tok);
    }
    free(acc); free(msum); free(size); free(into); free(seq); free(next); free(an); free(bn); free(edge);
    free(partner);
    return st;
}

const struct vtc_method vtc_method_tome = {
    "tome", "ToMe: bipartite soft matching on keys, size-weighted merges in rounds down to k tokens",
    VTC_F_FEATURES, VTC_F_KEYS | VTC_F_CLS, VTC_SPACE_FEATURES, PARAMS, 2, run_tome,
};
