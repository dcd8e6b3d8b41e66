// The tests' shorthand for a pruning budget, read as the CLI reads a --keep
// number: a count when >= 1, a fraction when in (0, 1), 0 for every token.
// Values of neither form (negative, NaN, infinite, a count that is not whole or
// past INT32_MAX) become an invalid count or fraction, so that the library's
// refusal of them stays tested.
#ifndef VTC_TEST_BUDGET_H
#define VTC_TEST_BUDGET_H

#include <math.h>
#include <stdint.h>

#include "vtc.h"

static inline void set_keep(struct vtc_prune_params *p, double keep) {
    p->n_keep = 0;
    p->keep_ratio = 0;
    if (keep >= 1 && !isinf(keep)) p->n_keep = keep == floor(keep) && keep <= INT32_MAX ? (int32_t)keep : -1;
    else p->keep_ratio = keep; // a fraction, 0, or an invalid value
}

// vtc_prune_keep_count for that budget.
static inline int64_t keep_count(double keep, int64_t n) {
    struct vtc_prune_params p = vtc_prune_params_default();
    set_keep(&p, keep);
    return vtc_prune_keep_count(p, n);
}

#endif
