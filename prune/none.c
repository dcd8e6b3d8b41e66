// none: every token, unchanged, in raster order — the unpruned baseline. A
// selection like cls or random, so in encoder feature space: vtc_prune hands on
// the precomputed embeddings (or projects), exactly as for the other selections.
#include <stdlib.h>

#include "prune.h"

static int run_none(const struct vtc_prune_input *in, vtc_tokens **out) {
    const vtc_features *f = in->f;
    int32_t *idx = vtc_alloc((size_t)f->n, sizeof *idx);
    if (!idx) return VTC_ERR_NOMEM;
    for (int32_t i = 0; i < f->n; i++) idx[i] = i;
    int st = vtc_tokens_gather_features(f, idx, f->n, out);
    free(idx);
    return st;
}

const struct vtc_method vtc_method_none = {
    "none", "keep every token (the unpruned baseline; --keep is ignored)", VTC_F_FEATURES, 0,
    VTC_SPACE_FEATURES, NULL, 0, run_none,
};
