// uniform: a regular 2-D grid per frame. Each frame gets floor(k/T) tokens
// (the first k mod T frames one more); a frame's k_t tokens are the cells of an
// r x c lattice with r = ceil(sqrt(k_t * H / W)) rows and c = ceil(k_t / r)
// columns, row i at y = floor((i + 0.5) * H / r), column j at
// x = floor((j + 0.5) * W / c), taken in raster order until k_t are placed
// (576 tokens, k = 144: every other row and column). Raster order out. Always
// per frame: a lattice is a per-image notion, so there is no per_frame knob.
#include <math.h>
#include <stdlib.h>

#include "prune.h"

static int run_uniform(const struct vtc_prune_input *in, vtc_tokens **out) {
    const vtc_features *f = in->f;
    const int32_t k = (int32_t)in->keep, H = f->H, W = f->W;
    int32_t *idx = vtc_alloc((size_t)k, sizeof *idx);
    if (!idx) return VTC_ERR_NOMEM;
    int32_t at = 0;
    for (int32_t t = 0; t < f->T; t++) {
        int32_t kt = k / f->T + (t < k % f->T ? 1 : 0);
        if (kt <= 0) continue;
        int32_t r = (int32_t)ceil(sqrt((double)kt * H / W));
        if (r < 1) r = 1;
        if (r > H) r = H;
        int32_t c = (kt + r - 1) / r;
        if (c > W) { // a lattice wider than the frame: fill whole rows instead
            c = W;
            r = (kt + c - 1) / c;
        }
        for (int32_t i = 0, placed = 0; i < r && placed < kt; i++)
            for (int32_t j = 0; j < c && placed < kt; j++, placed++) {
                int32_t y = (int32_t)((i + 0.5) * H / r), x = (int32_t)((j + 0.5) * W / c);
                idx[at++] = t * H * W + y * W + x;
            }
    }
    int st = vtc_tokens_gather_features(f, idx, at, out);
    free(idx);
    return st;
}

const struct vtc_method vtc_method_uniform = {
    "uniform", "a regular 2-D grid of k tokens (k/T per frame), raster order", VTC_F_FEATURES, 0,
    VTC_SPACE_FEATURES, NULL, 0, run_uniform,
};
