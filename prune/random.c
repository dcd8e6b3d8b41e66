// random: k tokens drawn uniformly without replacement from a seeded generator
// (splitmix64, partial Fisher-Yates), emitted in raster order. The baseline
// every method must beat. per_frame=1 draws floor(k/T) per frame, the first
// k mod T frames one more, frame after frame from the same generator.
// The draw: state = seed; for i = 0..k-1: j = i + splitmix64(state) mod (n - i),
// swap perm[i] and perm[j] (perm starts as the identity); the kept set is
// perm[0..k), sorted. (The modulo bias is below n / 2^64.)
#include <stdlib.h>

#include "prune.h"

static const struct vtc_param_def PARAMS[] = {
    { "per_frame", "0", "1: draw the budget evenly per frame instead of over the clip", 0, 1, 1 },
};

// k distinct values of [0, n) into out (unsorted), from state s.
static void draw(uint64_t *s, int32_t n, int32_t k, int32_t *perm, int32_t *out) {
    for (int32_t i = 0; i < n; i++) perm[i] = i;
    for (int32_t i = 0; i < k; i++) {
        int32_t j = i + (int32_t)(vtc_splitmix64(s) % (uint64_t)(n - i));
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        out[i] = perm[i];
    }
}

static int run_random(const struct vtc_prune_input *in, vtc_tokens **out) {
    const vtc_features *f = in->f;
    const int32_t k = (int32_t)in->keep, hw = f->H * f->W;
    int32_t *perm = vtc_alloc((size_t)f->n, sizeof *perm), *idx = vtc_alloc((size_t)k, sizeof *idx);
    if (!perm || !idx) {
        free(perm);
        free(idx);
        return VTC_ERR_NOMEM;
    }
    uint64_t s = in->seed;
    int32_t n_out = k;
    if (in->p->v[0] && f->T > 1) { // per frame: floor(k/T), the first k mod T frames one more
        n_out = 0;
        for (int32_t t = 0; t < f->T; t++) {
            int32_t kt = k / f->T + (t < k % f->T ? 1 : 0);
            if (kt > hw) kt = hw;
            draw(&s, hw, kt, perm, idx + n_out);
            for (int32_t i = 0; i < kt; i++) idx[n_out + i] += t * hw;
            n_out += kt;
        }
    } else {
        draw(&s, f->n, k, perm, idx);
    }
    vtc_sort_i32(idx, n_out);
    free(perm);
    int st = vtc_tokens_gather_features(f, idx, n_out, out);
    free(idx);
    return st;
}

const struct vtc_method vtc_method_random = {
    "random", "k tokens drawn uniformly at random (seeded; --seed), in raster order", VTC_F_FEATURES, 0,
    VTC_SPACE_FEATURES, PARAMS, 1, run_random,
};
