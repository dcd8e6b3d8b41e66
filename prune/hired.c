// hired (HiRED, Arif et al., AAAI 2025; hasanar1f/HiRED @ 502d6dd,
// transformers/.../llava_next/modeling_llava_next.py HiRED_token_selection and
// HiRED_sub_img_budgets): a budget spread over an anyres image's tiles by the
// base image's early attention, then each tile's own top tokens.
//
// Per image of T = 1 + N tiles of P tokens (tile 0 the base image; cls_attn the
// feature layer's CLS row, cls_attn_first block 1's; the reference sums the
// heads where vtc averages them, a positive scale that leaves every top-k alone):
//   total = int(T*P*rate)                   (double product, truncated)
//   full  = min(int(total*alpha), P)        the base tile's budget
//   sub   = min(total - full, N*P)          the sub-images' together
//   base tile: its top `full` tokens by cls_attn
//   if sub > 0: mark the base tile's top int(P*(1-alpha)) tokens by cls_attn_first;
//     cnt[i] = marks in raster chunk i of the base tile (chunk i feeds sub-image
//     i, row-major: the reference's flat reshape, not the tile's area);
//     b[i] = min(trunc(f32(f32(cnt[i]) / f32(sum cnt)) * f32(sub)), P), float32 as
//     torch computes int64 / int64 then * int; leftovers are not handed out;
//     sub-image i: its top b[i] tokens by its own cls_attn.
// Output: the kept source tokens, tile-major, raster order in each tile, in
// encoder feature space (the selection happens before the projector, as in
// the reference); vtc_prune projects and packs them (HiRED's own packing is
// VTC_PACK_UNPAD: unpad after selection, no newline rows).
//
// vtc's rules where the reference has none (docs/methods.md#hired):
// - budget: --keep, when given, replaces int(T*P*rate) as the total (giving rate
//   too is an error); a total of every token keeps every token (the reference
//   prunes only when rate < 1).
// - P/N not whole (SigLIP's 729 over 2 sub-images; the reference's reshape
//   fails): chunk i is base positions [floor(i*P/N), floor((i+1)*P/N)).
// - no base token marked (int(P*(1-alpha)) = 0, alpha = 1) while sub > 0: the
//   reference divides 0 by 0 (NaN); vtc gives every sub-image 0.
// - one image (no tiling): HiRED's LLaVA-1.5 variant (llava/modeling_llava.py):
//   the top min(P, int(P*rate)) tokens by cls_attn. A video is refused: the
//   reference has no video path.
// - no CLS token (SigLIP): both statistics are the mean attention each token
//   receives, and the note says so.
// Ties: the lower index first (the reference's torch.topk leaves them open).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

enum { P_RATE, P_ALPHA };

static const struct vtc_param_def PARAMS[] = {
    [P_RATE] = { "rate", "0.2",
                 "share of the tile tokens kept, HiRED's token_budget_rate: total = int(T*P*rate); --keep replaces "
                 "it; 1 keeps every token",
                 0, 1, 0 },
    [P_ALPHA] = { "alpha", "0.5",
                  "the base image's share of the total (at most P); the sub-images' shares follow the base image's "
                  "top int(P*(1-alpha)) tokens by first-block attention",
                  0, 1, 0 },
};

// The sub-images' budgets b[0..N) from the base tile's first-block attention
// a0[P] (b zeroed by the caller); *marked gets int(P*(1-alpha)), the base
// tokens that vote.
static int sub_budgets(const float *a0, int32_t P, int32_t N, double alpha, int32_t sub, int32_t *b, int32_t *marked) {
    const int32_t k0 = (int32_t)((double)P * (1.0 - alpha));
    *marked = k0;
    if (k0 <= 0) return VTC_OK; // nothing voted: the reference's 0/0, vtc's 0 each
    int32_t *top = vtc_alloc((size_t)k0, sizeof *top);
    uint8_t *mark = vtc_zalloc((size_t)P, 1);
    int st = top && mark ? vtc_topk_indices(a0, P, k0, top) : VTC_ERR_NOMEM;
    if (!st) {
        for (int32_t r = 0; r < k0; r++) mark[top[r]] = 1;
        // marks per raster chunk [floor(i*P/N), floor((i+1)*P/N)) of the base tile
        int64_t sum = 0;
        for (int32_t i = 0; i < N; i++) {
            const int32_t j0 = (int32_t)((int64_t)i * P / N), j1 = (int32_t)((int64_t)(i + 1) * P / N);
            for (int32_t j = j0; j < j1; j++) b[i] += mark[j];
            sum += b[i];
        }
        // torch: int64 / int64 -> float32, * int -> float32, .int() truncates
        for (int32_t i = 0; i < N; i++) {
            const float ratio = (float)b[i] / (float)sum;
            const int32_t bi = (int32_t)(ratio * (float)sub);
            b[i] = bi < P ? bi : P;
        }
    }
    free(top);
    free(mark);
    return st;
}

// Appends "; what" to the note (cut at its size).
static void note_add(vtc_tokens *t, const char *what) {
    size_t len = strlen(t->note);
    snprintf(t->note + len, sizeof t->note - len, "; %s", what);
}

// A single image: HiRED's LLaVA-1.5 variant.
static int run_single(const struct vtc_prune_input *in, int32_t total, vtc_tokens **out) {
    const vtc_features *f = in->f;
    int32_t *idx = vtc_alloc((size_t)total, sizeof *idx);
    if (!idx) return VTC_ERR_NOMEM;
    int st = vtc_topk_indices(f->cls_attn, f->n, total, idx);
    if (!st) st = vtc_tokens_gather_features(f, idx, total, out);
    free(idx);
    if (!st)
        snprintf((*out)->note, sizeof (*out)->note, "one image: the top %d by CLS attention (%s)", total,
                 in->keep_given ? "--keep" : "int(P*rate)");
    return st;
}

static int run_hired(const struct vtc_prune_input *in, vtc_tokens **out) {
    const vtc_features *f = in->f;
    const vtc_tiling *tl = &f->tiling;
    const double rate = in->p->v[P_RATE], alpha = in->p->v[P_ALPHA];
    const int32_t P = f->H * f->W;
    if (in->keep_given && (in->p->given & (1u << P_RATE)))
        return vtc_set_error(VTC_ERR_ARG, "hired: the budget is --keep or rate=, not both");
    if (tl->kind == VTC_TILING_NONE && f->T > 1)
        return vtc_set_error(VTC_ERR_NEEDS,
                             "hired needs one image or an anyres image's tiles, not %d video frames (HiRED defines no "
                             "video selection)",
                             f->T);
    if (tl->kind != VTC_TILING_NONE &&
        (tl->kind != VTC_TILING_ANYRES || tl->tiles_h < 1 || tl->tiles_w < 1 || f->T != 1 + tl->tiles_h * tl->tiles_w))
        return vtc_set_error(VTC_ERR_ARG, "hired: a tiling (kind %d, %dx%d sub-images) that does not fit %d tiles",
                             tl->kind, tl->tiles_h, tl->tiles_w, f->T);
    // the total: --keep, else HiRED's int(T*P*rate) (T*P = n)
    const int32_t total = in->keep_given ? (int32_t)in->keep : (int32_t)((double)f->n * rate);
    if (total < 1)
        return vtc_set_error(VTC_ERR_ARG, "hired: rate=%g keeps no token of %d", rate, f->n);
    if (total >= f->n) { // every token: the reference prunes only when rate < 1
        int32_t *all = vtc_alloc((size_t)f->n, sizeof *all);
        if (!all) return VTC_ERR_NOMEM;
        for (int32_t i = 0; i < f->n; i++) all[i] = i;
        int st = vtc_tokens_gather_features(f, all, f->n, out);
        free(all);
        if (!st) snprintf((*out)->note, sizeof (*out)->note, "the budget is every token: nothing pruned");
        return st;
    }
    if (tl->kind == VTC_TILING_NONE) {
        int st = run_single(in, total, out);
        if (!st && f->cls_is_received)
            note_add(*out, "no CLS token: ranked by the mean attention each token receives");
        return st;
    }

    const int32_t N = f->T - 1;
    const int32_t by_alpha = (int32_t)((double)total * alpha);
    const int32_t full = by_alpha < P ? by_alpha : P;
    const int32_t sub = total - full < N * P ? total - full : N * P;
    int32_t *b = vtc_zalloc((size_t)N, sizeof *b);
    int32_t *idx = vtc_alloc((size_t)total, sizeof *idx);
    int32_t marked = 0, k = full;
    int st = b && idx ? VTC_OK : VTC_ERR_NOMEM;
    if (!st && full > 0) st = vtc_topk_indices(f->cls_attn, P, full, idx);
    if (!st && sub > 0) st = sub_budgets(f->cls_attn_first, P, N, alpha, sub, b, &marked);
    for (int32_t i = 0; i < N && !st; i++) {
        if (b[i] <= 0) continue;
        const int32_t base = (1 + i) * P;
        st = vtc_topk_indices(f->cls_attn + base, P, b[i], idx + k);
        for (int32_t r = 0; r < b[i]; r++) idx[k + r] += base;
        k += b[i];
    }
    if (!st && k == 0)
        st = vtc_set_error(VTC_ERR_ARG, "hired: a total of %d splits into no token (base %d, sub-images %d)", total,
                           full, sub);
    if (!st) st = vtc_tokens_gather_features(f, idx, k, out);
    if (!st) {
        vtc_tokens *t = *out;
        char from[32] = "--keep";
        if (!in->keep_given) snprintf(from, sizeof from, "rate %g", rate);
        int len = snprintf(t->note, sizeof t->note, "total %d (%s), base %d, sub-images ", total, from, full);
        for (int32_t i = 0; i < N && len >= 0 && (size_t)len < sizeof t->note; i++)
            len += snprintf(t->note + len, sizeof t->note - len, "%s%d", i ? "+" : "", b[i]);
        if (sub > 0 && marked <= 0)
            note_add(t, "alpha leaves no base token to split the sub-images' budget: they keep none");
        if (sub > 0 && marked > 0 && P % N)
            note_add(t, "base chunks of floor(i*P/N) (P/N not whole: vtc's rule)");
        if (f->cls_is_received)
            note_add(t, "no CLS token: ranked by the mean attention each token receives");
    }
    free(b);
    free(idx);
    return st;
}

const struct vtc_method vtc_method_hired = {
    "hired", "HiRED: an anyres image's budget split by the base image's early attention, top CLS attention per tile",
    VTC_F_FEATURES | VTC_F_CLS_ATTN | VTC_F_CLS_ATTN_FIRST, 0, VTC_SPACE_FEATURES, PARAMS, 2, run_hired,
};
