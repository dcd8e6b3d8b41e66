// dycoke — DyCoke's token temporal merging (Tao et al., "DyCoke: Dynamic
// Compression of Tokens for Fast Video Large Language Models", CVPR 2025), the
// stage before the language model. (Its decode-time KV pruning lives in lm/.)
//
// Behaviour of the official code (KD-TAO/DyCoke, llava/model/llava_arch.py,
// function dycole_ttm, run on LLaVA-OneVision's post-projector frame features
// after its 2x2 pooling) and where vtc departs from it:
// - Frames go in windows of four. The first frame of a window is kept whole;
//   frames 2 and 3 are compared with frame 1, frame 4 with frame 3 — with the
//   UNPRUNED frame 3 (the reference's first loop compares every odd frame with
//   the original even frame before it, its second loop re-prunes frame 3 against
//   frame 1 from the original features).
// - Comparison: cosine similarity of the tokens at the same grid position, on
//   the post-projector embeddings when the features have them, else on the
//   encoder features. Each compared frame keeps int((1 - k) * H*W) tokens, those
//   with the LOWEST similarity (what changed); the rest are dropped. k defaults
//   to 0.7 (lmms_eval's dycoke_k).
// - Order: frame by frame; a whole frame in raster order; a compared frame's
//   kept tokens in ascending similarity (most changed first), as the
//   reference's topk(largest=False) gathers them. Equal similarities: lower grid
//   position first (torch leaves ties unspecified).
// - The reference's second loop runs over range(0, T-4, 4) and so skips the
//   last window: its third frame stays whole (frame 30 of 32, 0-based). vtc
//   prunes every full window. A trailing window of 1-3 frames is handled the
//   same way with the frames it has (the reference drops the last frame of an
//   odd-length clip, and raises for T <= 4).
// - Weights: a dropped token is accounted to the same-position token of the
//   frame it was compared with (itself possibly dropped, then onwards to the
//   window's first frame), so weights sum to T*H*W. The reference drops tokens
//   without accounting; weights do not change which tokens are kept.
// - Budget: set by k. With a keep count from the caller (and no explicit k),
//   each compared frame keeps floor((keep - whole frames * H*W) / compared
//   frames) tokens, clamped to [0, H*W]: the largest per-frame count that stays
//   within keep; a keep below the whole frames' tokens is an error. The true
//   count is reported, per frame, in the note.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

// Frames per window and the frame each window position is compared with
// (-1: kept whole). Position 3 is compared with position 2: frame 4 with frame 3.
#define DYCOKE_WINDOW 4
static const int dycoke_compared_with[DYCOKE_WINDOW] = { -1, 0, 0, 2 };

struct scored {
    float sim;
    int32_t pos;
};

// Ascending similarity, then ascending position: a total order (NaN mapped to +inf by the caller).
static int cmp_scored(const void *pa, const void *pb) {
    const struct scored *a = pa, *b = pb;
    if (a->sim < b->sim) return -1;
    if (a->sim > b->sim) return 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

// Same-position cosine similarity of two frames: ref, cur (hw, d) -> s (hw).
static void frame_similarity(const float *ref, const float *cur, int hw, int d, struct scored *s) {
    for (int p = 0; p < hw; p++) {
        const float *a = ref + (size_t)p * d, *b = cur + (size_t)p * d;
        double ab = 0, aa = 0, bb = 0;
        for (int j = 0; j < d; j++) {
            ab += (double)a[j] * b[j];
            aa += (double)a[j] * a[j];
            bb += (double)b[j] * b[j];
        }
        double na = sqrt(aa), nb = sqrt(bb);
        double sim = ab / ((na > 1e-8 ? na : 1e-8) * (nb > 1e-8 ? nb : 1e-8));
        s[p].sim = isnan(sim) ? INFINITY : (float)sim;
        s[p].pos = p;
    }
}

// Chooses the kept tokens of T frames of hw tokens each, x (T*hw, d).
// keep_per_frame: tokens each compared frame keeps (0..hw).
// index (T*hw) receives kept token indices in output order and returns their
// count; weight (T*hw) their weights; per_frame (T) the count kept per frame.
static int dycoke_select(const float *x, int T, int hw, int d, int keep_per_frame, int32_t *index,
                         float *weight, int32_t *per_frame) {
    struct scored *s = vtc_alloc((size_t)DYCOKE_WINDOW * hw, sizeof *s);
    float *w = vtc_alloc((size_t)T * hw, sizeof(float));
    if (!s || !w) {
        free(s);
        free(w);
        return VTC_ERR_NOMEM;
    }
    for (size_t i = 0; i < (size_t)T * hw; i++) w[i] = 1.0f;
    int n_out = 0;
    for (int w0 = 0; w0 < T; w0 += DYCOKE_WINDOW) {
        int len = T - w0 < DYCOKE_WINDOW ? T - w0 : DYCOKE_WINDOW;
        for (int q = 1; q < len; q++) {
            const float *ref = x + (size_t)(w0 + dycoke_compared_with[q]) * hw * d;
            const float *cur = x + (size_t)(w0 + q) * hw * d;
            frame_similarity(ref, cur, hw, d, s + (size_t)q * hw);
            qsort(s + (size_t)q * hw, (size_t)hw, sizeof *s, cmp_scored);
        }
        // Account dropped tokens, last position first: frame 4 merges into
        // frame 3 before frame 3 merges into frame 1.
        for (int q = len - 1; q >= 1; q--) {
            float *from = w + (size_t)(w0 + q) * hw;
            float *to = w + (size_t)(w0 + dycoke_compared_with[q]) * hw;
            for (int r = keep_per_frame; r < hw; r++) {
                int p = s[(size_t)q * hw + r].pos;
                to[p] += from[p];
                from[p] = 0;
            }
        }
        for (int p = 0; p < hw; p++) {
            index[n_out] = (int32_t)((size_t)w0 * hw + p);
            weight[n_out++] = w[(size_t)w0 * hw + p];
        }
        per_frame[w0] = hw;
        for (int q = 1; q < len; q++) {
            for (int r = 0; r < keep_per_frame; r++) {
                size_t i = (size_t)(w0 + q) * hw + s[(size_t)q * hw + r].pos;
                index[n_out] = (int32_t)i;
                weight[n_out++] = w[i];
            }
            per_frame[w0 + q] = keep_per_frame;
        }
    }
    free(s);
    free(w);
    return n_out;
}

// Frames kept whole (the first of each window) among T.
static int dycoke_whole_frames(int T) { return (T + DYCOKE_WINDOW - 1) / DYCOKE_WINDOW; }
