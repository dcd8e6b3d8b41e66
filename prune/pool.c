// pool: spatial average pooling of each frame's token grid on the
// post-projector embeddings, the way LLaVA-OneVision reduces video tokens
// (2x2 after the projector). Windows of size x size; the right and bottom edge
// windows average the tokens they have (H' = ceil(H / size)), so every token is
// covered. (LLaVA-OV's own get_2dPool either floors with avg_pool2d or resizes
// bilinearly to ceil(H/2); vtc's choice keeps an exact average of real tokens.)
// Each pooled token: index and pos of its window's top-left token, weight = the
// tokens averaged. Budget: param size, or with --keep the smallest size whose
// pooled count fits in the budget.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

static const struct vtc_param_def PARAMS[] = {
    { "size", "2", "pooling window (size x size); 0 = the smallest that fits --keep", 0, 64, 1 },
};

void vtc_pool_grid(const float *in, int32_t T, int32_t H, int32_t W, int32_t d, int32_t s, float *out) {
    const int32_t Ho = (H + s - 1) / s, Wo = (W + s - 1) / s;
    for (int32_t t = 0; t < T; t++)
        for (int32_t yo = 0; yo < Ho; yo++)
            for (int32_t xo = 0; xo < Wo; xo++) {
                float *o = out + (((size_t)t * Ho + yo) * Wo + xo) * d;
                memset(o, 0, sizeof(float) * d);
                int32_t cnt = 0;
                for (int32_t y = yo * s; y < yo * s + s && y < H; y++)
                    for (int32_t x = xo * s; x < xo * s + s && x < W; x++, cnt++) {
                        const float *r = in + (((size_t)t * H + y) * W + x) * d;
                        for (int32_t e = 0; e < d; e++) o[e] += r[e];
                    }
                for (int32_t e = 0; e < d; e++) o[e] /= (float)cnt;
            }
}

static int run_pool(const struct vtc_prune_input *in, vtc_tokens **out) {
    const vtc_features *f = in->f;
    int32_t s = (int32_t)in->p->v[0];
    if (!(in->p->given & 1) && in->keep_given) s = 0;
    if (s == 0) { // smallest window whose pooled grid fits the budget
        s = 1;
        while ((int64_t)f->T * ((f->H + s - 1) / s) * ((f->W + s - 1) / s) > in->keep && s < 64) s++;
    }
    const int32_t Ho = (f->H + s - 1) / s, Wo = (f->W + s - 1) / s, n = f->T * Ho * Wo;
    int32_t dim;
    int space;
    const float *rows = vtc_prune_rows(f, VTC_SPACE_EMBEDS, &dim, &space);
    vtc_tokens *t = vtc_tokens_alloc(n, dim);
    if (!t) return VTC_ERR_NOMEM;
    t->space = space;
    vtc_pool_grid(rows, f->T, f->H, f->W, dim, s, t->data);
    for (int32_t i = 0; i < n; i++) {
        int32_t fr = i / (Ho * Wo), yo = (i % (Ho * Wo)) / Wo, xo = i % Wo;
        int32_t y = yo * s, x = xo * s;
        t->index[i] = (fr * f->H + y) * f->W + x;
        t->pos[3 * i] = fr, t->pos[3 * i + 1] = y, t->pos[3 * i + 2] = x;
        int32_t h = f->H - y < s ? f->H - y : s, w = f->W - x < s ? f->W - x : s;
        t->weight[i] = (float)(h * w);
    }
    snprintf(t->note, sizeof t->note, "%dx%d pooling: %dx%d grid per frame", s, s, Ho, Wo);
    *out = t;
    return VTC_OK;
}

const struct vtc_method vtc_method_pool = {
    "pool", "LLaVA-OneVision-style s x s average pooling of each frame's grid, after the projector",
    VTC_F_FEATURES, VTC_F_EMBEDS, VTC_SPACE_EMBEDS, PARAMS, 1, run_pool,
};
