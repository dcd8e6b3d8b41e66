// cls (FasterVLM): keep the k tokens the CLS token attends to most in the
// feature layer (the head-mean CLS row of layer -2's softmax attention over the
// patches), emitted in raster order. The projector is per token, so selecting
// in encoder space and projecting afterwards equals FasterVLM's order.
// Official code (Theia-4869/FasterVLM): feature_select takes attentions[-2]
// [:, :, 0, 1:] (the layer the features come from), encode_images takes
// .mean(dim=1) over heads, torch.topk(k) and scatters it into a boolean mask, so
// the kept tokens come out in raster order. torch.topk leaves ties open; vtc
// keeps the lower index.
// Video: over the whole clip by default, or per_frame=1 with k/T per frame (the
// first k mod T frames one more) — per_frame=1 is FasterVLM's own Video-LLaVA
// variant (encode_videos: topk per frame, each frame sorted, frames in order).
// An anyres image (tiles stacked as frames, vtc_tiling): per tile by default, k/T
// tokens in each, each tile ranked by its own CLS row, as FasterVLM's LLaVA-NeXT
// path selects (the same k in every sub-image; CLS rows of different tiles are
// not on one scale). per_frame=0 given explicitly ranks all tiles together.
// Without a CLS token (SigLIP) cls_attn holds the mean attention each token
// receives, and the note says so.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

static const struct vtc_param_def PARAMS[] = {
    { "per_frame", "0", "1: select k/T tokens in each frame (or anyres tile, its default) instead of over the clip",
      0, 1, 1 },
};

static int run_cls(const struct vtc_prune_input *in, vtc_tokens **out) {
    const vtc_features *f = in->f;
    const int32_t k = (int32_t)in->keep, hw = f->H * f->W;
    int32_t *idx = vtc_alloc((size_t)k, sizeof *idx);
    if (!idx) return VTC_ERR_NOMEM;
    int st = 0, n_out = k;
    const int per_tile = f->tiling.kind == VTC_TILING_ANYRES && !(in->p->given & 1);
    if ((in->p->v[0] || per_tile) && f->T > 1) {
        n_out = 0;
        for (int32_t t = 0; t < f->T && !st; t++) {
            int32_t kt = k / f->T + (t < k % f->T ? 1 : 0);
            if (kt > hw) kt = hw;
            st = vtc_topk_indices(f->cls_attn + (size_t)t * hw, hw, kt, idx + n_out);
            for (int32_t i = 0; i < kt; i++) idx[n_out + i] += t * hw;
            n_out += kt;
        }
    } else {
        st = vtc_topk_indices(f->cls_attn, f->n, k, idx);
    }
    if (!st) st = vtc_tokens_gather_features(f, idx, n_out, out);
    if (!st && f->cls_is_received)
        snprintf((*out)->note, sizeof (*out)->note, "no CLS token: ranked by the mean attention each token receives");
    free(idx);
    return st;
}

const struct vtc_method vtc_method_cls = {
    "cls", "FasterVLM: the k tokens with the highest CLS attention (layer -2, head mean)",
    VTC_F_FEATURES | VTC_F_CLS_ATTN, 0, VTC_SPACE_FEATURES, PARAMS, 1, run_cls,
};
