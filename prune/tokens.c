// Kept tokens: allocation, the public free, and building tokens from source rows.
#include <stdlib.h>
#include <string.h>

#include "prune.h"

vtc_tokens *vtc_tokens_alloc(int32_t n, int32_t dim) {
    if (n < 0 || dim <= 0) {
        vtc_set_error(VTC_ERR_INTERNAL, "vtc_tokens_alloc: bad size %d x %d", n, dim);
        return NULL;
    }
    vtc_tokens *t = vtc_zalloc(1, sizeof *t);
    if (!t) return NULL;
    t->n = n;
    t->dim = dim;
    t->data = vtc_alloc((size_t)n * dim, sizeof(float));
    t->index = vtc_alloc((size_t)n, sizeof(int32_t));
    t->pos = vtc_alloc((size_t)n * 3, sizeof(int32_t));
    t->weight = vtc_alloc((size_t)n, sizeof(float));
    if (!t->data || !t->index || !t->pos || !t->weight) {
        vtc_tokens_free(t);
        return NULL;
    }
    return t;
}

void vtc_tokens_free(vtc_tokens *t) {
    if (!t) return;
    free(t->data);
    free(t->index);
    free(t->pos);
    free(t->weight);
    free(t->codes);
    free(t->tile);
    free(t->params);
    free(t->timestamps);
    free(t);
}

void vtc_grid_pos(const vtc_features *f, int32_t i, int32_t pos[3]) {
    int32_t hw = f->H * f->W;
    pos[0] = i / hw;
    pos[1] = (i % hw) / f->W;
    pos[2] = i % f->W;
}

int vtc_tokens_gather(const vtc_features *f, const float *rows, int32_t dim, int space, const int32_t *idx, int32_t k,
                      vtc_tokens **out) {
    vtc_tokens *t = vtc_tokens_alloc(k, dim);
    if (!t) return VTC_ERR_NOMEM;
    t->space = space;
    for (int32_t i = 0; i < k; i++) {
        memcpy(t->data + (size_t)i * dim, rows + (size_t)idx[i] * dim, sizeof(float) * dim);
        t->index[i] = idx[i];
        vtc_grid_pos(f, idx[i], t->pos + 3 * i);
        t->weight[i] = 1.0f;
    }
    *out = t;
    return VTC_OK;
}

int vtc_tokens_gather_features(const vtc_features *f, const int32_t *idx, int32_t k, vtc_tokens **out) {
    int32_t dim;
    int space;
    const float *rows = vtc_prune_rows(f, VTC_SPACE_FEATURES, &dim, &space);
    return vtc_tokens_gather(f, rows, dim, space, idx, k, out);
}
