// visionzip (VisionZip, Yang et al., CVPR 2025): dominant tokens by CLS
// attention plus contextual tokens merged from the rest, as the official
// CLIP-encoder code does it:
// - dominant: the d-1 patches the CLS token attends to most in layer -2 (the
//   reference sums the heads; vtc's cls_attn is their mean, the same ranking),
//   plus the CLS token itself, whose layer -2 hidden state is an output token;
// - contextual: over the remaining tokens (raster order) targets are every
//   max(1, N_rem // c)-th token, the first c of them; every other remaining
//   token joins the target its head-mean key is most cosine-similar to (ties:
//   the first target); each contextual token is target + mean(assigned)
//   (the reference ADDS the target to the mean, it does not average it in;
//   a target nobody joined stays itself);
// - order: CLS, dominant patches in raster order, contextual in target order.
// Budget: keep K = d + c tokens, CLS included. The reference's 64-token split is
// 54 + 10; vtc keeps that ratio: c = round(K * 10 / 64) (at least 1 when K >= 2),
// d = K - c; params dominant= / contextual= override. Weights: CLS and dominant
// 1, contextual 1 + assigned. Encoder space (the projector runs afterwards).
// Video: per frame, K/T tokens each (remainder to the first frames). Without a
// CLS token (SigLIP) the ranking uses mean received attention, no CLS token is
// emitted and d patches are kept; the note says so.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

static const struct vtc_param_def PARAMS[] = {
    { "dominant", "0", "dominant tokens incl. CLS (0 = K - contextual)", 0, 1e9, 1 },
    { "contextual", "0", "contextual (merged) tokens (0 = round(K * 10 / 64))", 0, 1e9, 1 },
};

// One frame: hw tokens at offset base; writes into t from row *at on.
static int zip_frame(const vtc_features *f, int32_t t_idx, int32_t d, int32_t c, vtc_tokens *t, int32_t *at) {
    const int32_t hw = f->H * f->W, base = t_idx * hw, D = f->dim, hd = f->head_dim;
    const int has_cls = f->cls && !f->cls_is_received;
    const int32_t n_dom = has_cls ? d - 1 : d;
    int32_t *dom = vtc_alloc((size_t)(n_dom > 0 ? n_dom : 1), sizeof *dom);
    uint8_t *is_dom = vtc_zalloc((size_t)hw, 1);
    int32_t *rem = vtc_alloc((size_t)hw, sizeof *rem);
    if (!dom || !is_dom || !rem) {
        free(dom); free(is_dom); free(rem);
        return VTC_ERR_NOMEM;
    }
    int st = n_dom > 0 ? vtc_topk_indices(f->cls_attn + base, hw, n_dom, dom) : 0;
    if (has_cls) { // the CLS token: index -1, no grid position
        memcpy(t->data + (size_t)*at * D, f->cls + (size_t)t_idx * D, sizeof(float) * D);
        t->index[*at] = -1;
        t->pos[3 * *at] = t_idx, t->pos[3 * *at + 1] = -1, t->pos[3 * *at + 2] = -1;
        t->weight[*at] = 1.0f;
        (*at)++;
    }
    for (int32_t i = 0; !st && i < n_dom; i++) {
        int32_t g = base + dom[i];
        is_dom[dom[i]] = 1;
        memcpy(t->data + (size_t)*at * D, f->features + (size_t)g * D, sizeof(float) * D);
        t->index[*at] = g;
        vtc_grid_pos(f, g, t->pos + 3 * *at);
        t->weight[*at] = 1.0f;
        (*at)++;
    }
    int32_t n_rem = 0;
    for (int32_t i = 0; i < hw; i++)
        if (!is_dom[i]) rem[n_rem++] = i;
    if (!st && c > 0 && n_rem > 0) {
        if (c > n_rem) c = n_rem;
        int32_t step = n_rem / c > 1 ? n_rem / c : 1;
        // unit keys of the remaining tokens
        float *kn = vtc_alloc((size_t)n_rem * hd, sizeof(float));
        int32_t *target = vtc_alloc((size_t)c, sizeof *target); // positions in rem
        uint8_t *is_target = vtc_zalloc((size_t)n_rem, 1);
        double *acc = vtc_zalloc((size_t)c * D, sizeof(double));
        int32_t *count = vtc_zalloc((size_t)c, sizeof *count);
        if (!kn || !target || !is_target || !acc || !count) st = VTC_ERR_NOMEM;
        for (int32_t r = 0; !st && r < n_rem; r++) {
            const float *k = f->keys + (size_t)(base + rem[r]) * hd;
            double ss = 0;
            for (int32_t e = 0; e < hd; e++) ss += (double)k[e] * k[e];
            float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
            for (int32_t e = 0; e < hd; e++) kn[(size_t)r * hd + e] = k[e] * inv;
        }
        for (int32_t j = 0; !st && j < c; j++) {
            target[j] = j * step;
            is_target[j * step] = 1;
        }
        for (int32_t r = 0; !st && r < n_rem; r++) {
            if (is_target[r]) continue;
            int32_t best = 0;
            float bs = -INFINITY;
            for (int32_t j = 0; j < c; j++) {
                const float *a = kn + (size_t)r * hd, *b = kn + (size_t)target[j] * hd;
                float s = 0;
                for (int32_t e = 0; e < hd; e++) s += a[e] * b[e];
                if (s > bs) bs = s, best = j;
            }
            const float *x = f->features + (size_t)(base + rem[r]) * D;
            for (int32_t e = 0; e < D; e++) acc[(size_t)best * D + e] += x[e];
            count[best]++;
        }
        for (int32_t j = 0; !st && j < c; j++) {
            int32_t g = base + rem[target[j]];
            const float *x = f->features + (size_t)g * D;
            float *o = t->data + (size_t)*at * D;
            for (int32_t e = 0; e < D; e++) o[e] = x[e] + (count[j] ? (float)(acc[(size_t)j * D + e] / count[j]) : 0.0f);
            t->index[*at] = g;
            vtc_grid_pos(f, g, t->pos + 3 * *at);
            t->weight[*at] = 1.0f + (float)count[j];
            (*at)++;
        }
        free(kn); free(target); free(is_target); free(acc); free(count);
    }
    free(dom); free(is_dom); free(rem);
    return st;
}

static int run_visionzip(const struct vtc_prune_input *in, vtc_tokens **out) {
    const vtc_features *f = in->f;
    const int32_t K = (int32_t)in->keep, hw = f->H * f->W;
    const int has_cls = f->cls && !f->cls_is_received;
    vtc_tokens *t = vtc_tokens_alloc(K, f->dim);
    if (!t) return VTC_ERR_NOMEM;
    t->space = VTC_SPACE_FEATURES;
    int32_t at = 0;
    int st = 0;
    for (int32_t fr = 0; fr < f->T && !st; fr++) {
        int32_t kt = K / f->T + (fr < K % f->T ? 1 : 0);
        if (kt <= 0) continue;
        int32_t c = in->p->given & 2 ? (int32_t)in->p->v[1] : (int32_t)floor(kt * 10.0 / 64.0 + 0.5);
        if (!(in->p->given & 2) && c < 1 && kt >= 2) c = 1;
        int32_t d = in->p->given & 1 ? (int32_t)in->p->v[0] : kt - c;
        if ((in->p->given & 3) == 1) c = kt - d;
        if (c < 0 || d < (has_cls ? 1 : 0) || c + d != kt) {
            st = vtc_set_error(VTC_ERR_ARG, "visionzip: dominant %d + contextual %d must equal the %d tokens kept%s", d,
                               c, kt, f->T > 1 ? " per frame" : "");
            break;
        }
        if ((has_cls ? d - 1 : d) + c > hw) {
            st = vtc_set_error(VTC_ERR_ARG, "visionzip: %d tokens from a %d-token frame", kt, hw);
            break;
        }
        st = zip_frame(f, fr, d, c, t, &at);
    }
    if (st) {
        vtc_tokens_free(t);
        return st;
    }
    t->n = at;
    if (!has_cls) snprintf(t->note, sizeof t->note, "no CLS token: ranked by mean received attention, no CLS output");
    *out = t;
    return VTC_OK;
}

const struct vtc_method vtc_method_visionzip = {
    "visionzip", "VisionZip: CLS + dominant tokens by CLS attention, contextual tokens merged by key similarity",
    VTC_F_FEATURES | VTC_F_CLS_ATTN | VTC_F_KEYS, VTC_F_CLS, VTC_SPACE_FEATURES, PARAMS, 2, run_visionzip,
};
