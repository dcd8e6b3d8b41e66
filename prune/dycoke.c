// dycoke — DyCoke's token temporal merging (Tao et al., "DyCoke: Dynamic
// Compression of Tokens for Fast Video Large Language Models", CVPR 2025), the
// stage before the language model. (Its decode-time KV pruning lives in lm/.)
//
// Behaviour of the official code (KD-TAO/DyCoke, llava/model/llava_arch.py,
// function dycole_ttm, run on LLaVA-OneVision's post-projector frame features
// after its 2x2 pooling to 14x14 = 196 per frame; vtc runs on the grid it is
// given) and where vtc departs from it:
// - Frames go in windows of four. The first frame of a window is kept whole;
//   frames 2 and 3 are compared with frame 1, frame 4 with frame 3 — with the
//   UNPRUNED frame 3. (The reference's first loop prunes the second frame of
//   every pair (0,1), (2,3), ... against the first, from the original
//   features; its second loop then redoes frame 3 of each window against
//   frame 1.)
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

#include "prune.h"

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

// ---------------------------------------------------------------- the method

enum { P_K };
static const struct vtc_param_def PARAMS[] = {
    [P_K] = { "k", "0.7",
              "merge ratio in (0, 1): frames 2-4 of each window of 4 keep int((1-k)*H*W) tokens, the least "
              "similar to frame 1 (frames 2, 3) or frame 3 (frame 4); overrides --keep",
              0, 1, 0 },
};

// "kept per frame: 8 x [196 58 58 58] + [196 58]": the repeating full window
// once, then the trailing partial window.
static void per_frame_note(char *note, size_t cap, const int32_t *per_frame, int T, int keep_per_frame, int from_keep) {
    int full = T / DYCOKE_WINDOW, rest = T % DYCOKE_WINDOW;
    size_t at = 0;
    at += (size_t)snprintf(note, cap, "kept per frame:");
    if (full && at < cap)
        at += (size_t)snprintf(note + at, cap - at, " %d x [%d %d %d %d]", full, per_frame[0], per_frame[1],
                               per_frame[2], per_frame[3]);
    for (int q = 0; q < rest && at < cap; q++)
        at += (size_t)snprintf(note + at, cap - at, "%s%d%s", q ? " " : (full ? " + [" : " ["),
                               per_frame[full * DYCOKE_WINDOW + q], q == rest - 1 ? "]" : "");
    if (from_keep && at < cap)
        snprintf(note + at, cap - at, " (%d per compared frame from --keep)", keep_per_frame);
}

static int run_dycoke(const struct vtc_prune_input *in, vtc_tokens **out) {
    const vtc_features *f = in->f;
    const double k = in->p->v[P_K];
    if (!(k > 0 && k < 1)) return vtc_set_error(VTC_ERR_ARG, "dycoke: k=%g must be in (0, 1)", k);
    if (f->T < 1 || f->H < 1 || f->W < 1 || (int64_t)f->T * f->H * f->W != f->n)
        return vtc_set_error(VTC_ERR_ARG, "dycoke: grid %dx%dx%d does not hold %d tokens", f->T, f->H, f->W, f->n);
    if (f->tiling.kind != VTC_TILING_NONE)
        return vtc_set_error(VTC_ERR_NEEDS, "dycoke needs video frames: an anyres image's tiles are not frames");
    const int T = f->T, hw = f->H * f->W;

    // Frames kept whole (the first of each window) and frames compared.
    const int whole = (T + DYCOKE_WINDOW - 1) / DYCOKE_WINDOW, compared = T - whole;
    int keep_per_frame = (int)((1.0 - k) * hw); // as the reference: int(merging_ratio * N)
    const int from_keep = in->keep_given && !(in->p->given & (1u << P_K));
    if (from_keep) {
        int64_t fixed = (int64_t)whole * hw;
        if (in->keep < fixed)
            return vtc_set_error(VTC_ERR_NEEDS,
                                 "dycoke: --keep %lld is below the %lld tokens of the %d frames it keeps whole "
                                 "(the first of every 4); give at least that, or set k",
                                 (long long)in->keep, (long long)fixed, whole);
        int64_t m = compared ? (in->keep - fixed) / compared : 0;
        keep_per_frame = m < hw ? (int)m : hw;
    }

    int32_t dim;
    int space;
    const float *rows = vtc_prune_rows(f, VTC_SPACE_EMBEDS, &dim, &space);
    int32_t *index = vtc_alloc((size_t)f->n, sizeof(int32_t));
    float *weight = vtc_alloc((size_t)f->n, sizeof(float));
    int32_t *per_frame = vtc_alloc((size_t)T, sizeof(int32_t));
    int st = VTC_ERR_NOMEM;
    if (index && weight && per_frame) {
        int n_out = dycoke_select(rows, T, hw, dim, keep_per_frame, index, weight, per_frame);
        st = n_out < 0 ? n_out : vtc_tokens_gather(f, rows, dim, space, index, n_out, out);
        if (st == VTC_OK) {
            memcpy((*out)->weight, weight, (size_t)n_out * sizeof(float));
            per_frame_note((*out)->note, sizeof (*out)->note, per_frame, T, keep_per_frame, from_keep);
        }
    }
    free(index);
    free(weight);
    free(per_frame);
    return st;
}

const struct vtc_method vtc_method_dycoke = {
    "dycoke",
    "DyCoke temporal merging: windows of 4 frames, frame 1 whole, frames 2-4 keep their int((1-k)*H*W) tokens least "
    "similar (same position) to frame 1 / frame 3; every window pruned (the reference skips the last), a trailing "
    "window of 1-3 frames likewise; post-projector embeddings when present",
    VTC_F_FEATURES, VTC_F_EMBEDS, VTC_SPACE_EMBEDS, PARAMS, 1, run_dycoke,
};
