// pool: spatial pooling of each frame's token grid on the post-projector
// embeddings (encoder features without a projector), the way LLaVA-OneVision
// reduces video tokens after the projector. The official code
// (LLaVA-VL/LLaVA-NeXT llava/model/llava_arch.py get_2dPool, stride 2 for
// video; transformers' LlavaOnevisionModel.apply_pooling) offers
// mm_spatial_pool_mode "average" = nn.functional.avg_pool2d(stride) — floor:
// whole windows only — and "bilinear" = F.interpolate(size = (ceil(H/s),
// ceil(W/s)), mode="bilinear", align_corners=False), the OneVision
// checkpoints' setting. vtc has three ways to shrink an H x W grid by s (param
// mode):
// - mode=0 (default): s x s average windows; the right and bottom edge windows
//   average the tokens they have, so H' = ceil(H / s) as OneVision's grid and
//   every token is covered: torch's avg_pool2d(s, ceil_mode=True), and what
//   vtc_features_pool (--pool) does. The default because each output is an
//   exact mean of real tokens with an honest weight; on an even grid with s = 2
//   it equals OneVision's bilinear resize (24 x 24 -> 12 x 12 either way).
// - mode=1: OneVision's bilinear resize itself, as above. On SigLIP's 27 x 27
//   (s = 2 -> 14 x 14) it samples at y = (y' + 0.5) * 27/14 - 0.5 rather than
//   averaging windows.
// - mode=2: LLaVA-NeXT's "average", avg_pool2d(s): H' = floor(H / s), the last
//   H mod s rows and W mod s columns dropped (27 x 27, s = 2 -> 13 x 13).
// Each pooled token: index and pos of its window's top-left token (bilinear:
// of the top-left of its 2 x 2 sampling support); weight = the tokens averaged
// (bilinear: H*W / (H'*W'), the tokens each output stands for on average), so
// weights sum to T*H*W in modes 0 and 1.
// Budget: param size when given; otherwise, when the caller gives --keep, the
// smallest s >= 1 with T * H'(s) * W'(s) <= keep, and when none fits (keep < T)
// the coarsest grid there is (one token per frame; mode 2: one row or column
// of whole windows), the note saying the budget was exceeded; without --keep,
// size's default 2.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/grid.h"
#include "prune.h"

enum { P_SIZE, P_MODE };
enum { MODE_AVG, MODE_BILINEAR, MODE_FLOOR };

static const struct vtc_param_def PARAMS[] = {
    { "size", "2", "pooling factor s (s x s windows); 0 = the smallest that fits --keep", 0, 64, 1 },
    { "mode", "0", "0 = average, edge windows partial (ceil); 1 = bilinear resize to ceil(H/s) as LLaVA-OneVision; "
                   "2 = average of whole windows only (floor)", 0, 2, 1 },
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

// Whole s x s windows only: [T, H, W, d] -> [T, H / s, W / s, d].
static void pool_floor(const float *in, int32_t T, int32_t H, int32_t W, int32_t d, int32_t s, float *out) {
    const int32_t Ho = H / s, Wo = W / s;
    for (int32_t t = 0; t < T; t++)
        for (int32_t yo = 0; yo < Ho; yo++)
            for (int32_t xo = 0; xo < Wo; xo++) {
                float *o = out + (((size_t)t * Ho + yo) * Wo + xo) * d;
                memset(o, 0, sizeof(float) * d);
                for (int32_t y = yo * s; y < yo * s + s; y++)
                    for (int32_t x = xo * s; x < xo * s + s; x++) {
                        const float *r = in + (((size_t)t * H + y) * W + x) * d;
                        for (int32_t e = 0; e < d; e++) o[e] += r[e];
                    }
                for (int32_t e = 0; e < d; e++) o[e] /= (float)(s * s);
            }
}

// Bilinear resize of each frame: [T, H, W, d] -> [T, Ho, Wo, d] (base/grid.h).
static void pool_bilinear(const float *in, int32_t T, int32_t H, int32_t W, int32_t d, int32_t Ho, int32_t Wo,
                          float *out) {
    for (int32_t t = 0; t < T; t++)
        vtc_grid_bilinear(in + (size_t)t * H * W * d, H, W, d, Ho, Wo, out + (size_t)t * Ho * Wo * d);
}

static void pooled_shape(int mode, int32_t H, int32_t W, int32_t s, int32_t *Ho, int32_t *Wo) {
    *Ho = mode == MODE_FLOOR ? H / s : (H + s - 1) / s;
    *Wo = mode == MODE_FLOOR ? W / s : (W + s - 1) / s;
}

static int run_pool(const struct vtc_prune_input *in, vtc_tokens **out) {
    const vtc_features *f = in->f;
    const int mode = (int)in->p->v[P_MODE];
    int32_t s = (int32_t)in->p->v[P_SIZE], Ho, Wo;
    if (!(in->p->given & (1u << P_SIZE)) && in->keep_given) s = 0;
    const int fit_keep = s == 0;
    if (fit_keep) { // the smallest factor whose pooled grid fits the budget, else the coarsest grid there is
        const int32_t lo = f->H < f->W ? f->H : f->W, hi = f->H < f->W ? f->W : f->H;
        const int32_t s_max = mode == MODE_FLOOR ? lo : hi;
        for (s = 1; s < s_max; s++) {
            pooled_shape(mode, f->H, f->W, s, &Ho, &Wo);
            if ((int64_t)f->T * Ho * Wo <= in->keep) break;
        }
    }
    pooled_shape(mode, f->H, f->W, s, &Ho, &Wo);
    if (Ho < 1 || Wo < 1)
        return vtc_set_error(VTC_ERR_NEEDS, "pool: whole %dx%d windows do not fit a %dx%d grid (mode=2)", s, s, f->H, f->W);
    const int32_t n = f->T * Ho * Wo;
    int32_t dim;
    int space;
    const float *rows = vtc_prune_rows(f, VTC_SPACE_EMBEDS, &dim, &space);
    vtc_tokens *t = vtc_tokens_alloc(n, dim);
    if (!t) return VTC_ERR_NOMEM;
    t->space = space;
    if (mode == MODE_BILINEAR) pool_bilinear(rows, f->T, f->H, f->W, dim, Ho, Wo, t->data);
    else if (mode == MODE_FLOOR) pool_floor(rows, f->T, f->H, f->W, dim, s, t->data);
    else vtc_pool_grid(rows, f->T, f->H, f->W, dim, s, t->data);
    for (int32_t i = 0; i < n; i++) {
        int32_t fr = i / (Ho * Wo), yo = (i % (Ho * Wo)) / Wo, xo = i % Wo, y, x;
        float w;
        if (mode == MODE_BILINEAR) {
            int32_t hi;
            double unused;
            vtc_grid_bilinear_tap(yo, f->H, Ho, &y, &hi, &unused);
            vtc_grid_bilinear_tap(xo, f->W, Wo, &x, &hi, &unused);
            w = (float)((double)f->H * f->W / ((double)Ho * Wo));
        } else {
            y = yo * s, x = xo * s;
            int32_t h = f->H - y < s ? f->H - y : s, wd = f->W - x < s ? f->W - x : s;
            w = (float)(h * wd);
        }
        t->index[i] = (fr * f->H + y) * f->W + x;
        t->pos[3 * i] = fr, t->pos[3 * i + 1] = y, t->pos[3 * i + 2] = x;
        t->weight[i] = w;
    }
    static const char *const names[] = { "average", "bilinear", "whole-window average" };
    int len = snprintf(t->note, sizeof t->note, "%s pooling by %d: %dx%d grid per frame", names[mode], s, Ho, Wo);
    if (fit_keep && in->keep_given && n > in->keep && len > 0 && (size_t)len < sizeof t->note)
        snprintf(t->note + len, sizeof t->note - (size_t)len, " (%d tokens: no coarser grid fits --keep %lld)", n,
                 (long long)in->keep);
    *out = t;
    return VTC_OK;
}

const struct vtc_method vtc_method_pool = {
    "pool", "LLaVA-OneVision-style s x s pooling of each frame's grid, after the projector",
    VTC_F_FEATURES, VTC_F_EMBEDS, VTC_SPACE_EMBEDS, PARAMS, 2, run_pool,
};
