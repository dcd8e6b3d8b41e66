// visionzip (VisionZip, Yang et al., CVPR 2025), as dvlab-research/VisionZip's
// CLIPVisionTower_VisionZip.forward does it on one image:
// - dominant: the d-1 patches with the highest CLS attention of layer -2 (the
//   reference sums the heads' CLS rows; vtc's cls_attn is their mean, the same
//   ranking; ties: lower index), plus the CLS token itself: its layer -2 hidden
//   state (f->cls) is an output token. The reference's masked_select keeps
//   sequence order, so the CLS token comes first, then the patches in raster order.
// - contextual: the other N_rem patches in raster order; targets are every
//   max(1, N_rem // c)-th of them, the first c; every non-target joins the target
//   whose head-mean layer -2 key is most cosine-similar (argmax: the first target
//   on equal scores). A contextual token is target + mean(joined features): the
//   reference ADDS the target to the mean of its joiners (counts clamped to 1),
//   so a target nobody joined is output unchanged (target + 0).
// - output: CLS, dominant patches (raster), contextual tokens (target order),
//   in encoder feature space (the merges happen before the projector, as in the
//   reference, which projects hidden_states_save afterwards).
// index / pos / weight: the CLS token has index -1 and pos (t, -1, -1) (it has
// no grid cell); dominant patches their own; a contextual token its target's.
// Weights: 1 for CLS and dominant tokens, 1 + joiners for contextual ones.
//
// Budget: k = d + c tokens per image, CLS included (the reference's dominant=54,
// contextual=10 gives 64; its dominant counts the CLS token: dominant_num =
// dominant - 1 patches). Its published 64/128/192 settings are 54+10, 108+20,
// 162+30, one ratio, so vtc sets c = round(k * 10 / 64) (halves up; at least 1
// when k >= 2) and d = k - c. Params dominant= and contextual= (per frame) override
// (0 = automatic): one given, the other is the rest of k; both given, they fix k
// per frame, and a --keep that disagrees is an error. k = 1 keeps the CLS token only.
// Video: VisionZip works per image (the reference runs each image of a batch
// alone), so each frame is zipped on its own: frame t gets K/T tokens, the first
// K mod T frames one more.
// No CLS token (SigLIP; f->cls_is_received or no f->cls): cls_attn then holds the
// mean attention each patch receives; the d dominant tokens are all patches, no
// CLS token is emitted, and the note says so. Keys are normalised with a zero key
// staying zero (the reference would divide by zero).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "prune.h"

enum { P_DOMINANT, P_CONTEXTUAL };

static const struct vtc_param_def PARAMS[] = {
    { "dominant", "0", "dominant tokens per frame, the CLS token included (0 = the budget minus contextual)", 0,
      1e6, 1 },
    { "contextual", "0", "contextual (merged) tokens per frame (0 = round(k * 10 / 64), at least 1 when k >= 2)", 0,
      1e6, 1 },
};

// The reference's 54 + 10 split for 64 tokens, at any budget.
static int32_t auto_contextual(int32_t k) {
    int32_t c = (int32_t)(((int64_t)k * 10 + 32) / 64);
    return c < 1 && k >= 2 ? 1 : c;
}

struct zip_frame {
    int32_t d, c; // dominant (CLS included when there is one) and contextual tokens
    int32_t at;   // first output row
    int st;
};

struct zip_job {
    const vtc_features *f;
    int has_cls;
    struct zip_frame *fr;
    vtc_tokens *out;
};

// Unit rows of `src` picked by idx (a zero row stays zero): dst [n, d].
static void unit_rows(const float *src, int32_t d, const int32_t *idx, int32_t n, float *dst) {
    for (int32_t r = 0; r < n; r++) {
        const float *x = src + (size_t)idx[r] * d;
        double ss = 0;
        for (int32_t e = 0; e < d; e++) ss += (double)x[e] * x[e];
        float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
        for (int32_t e = 0; e < d; e++) dst[(size_t)r * d + e] = x[e] * inv;
    }
}

static void put_row(vtc_tokens *t, int32_t row, const float *x, int32_t index, const int32_t pos[3], float weight) {
    memcpy(t->data + (size_t)row * t->dim, x, sizeof(float) * t->dim);
    t->index[row] = index;
    memcpy(t->pos + 3 * row, pos, sizeof(int32_t) * 3);
    t->weight[row] = weight;
}

// Contextual tokens of one frame: rem[0..n_rem) are the frame-local indices
// left after the dominant pick (raster order); writes c rows from `row` on.
static int contextual(const vtc_features *f, int32_t frame, const int32_t *rem, int32_t n_rem, int32_t c,
                      vtc_tokens *t, int32_t row) {
    const int32_t D = f->dim, hd = f->head_dim, base = frame * f->H * f->W, m = n_rem - c;
    const int32_t step = n_rem / c > 1 ? n_rem / c : 1;
    int32_t *tgt = vtc_alloc((size_t)c, sizeof *tgt);       // global indices of the targets
    int32_t *other = vtc_alloc((size_t)(m > 0 ? m : 1), sizeof *other); // global indices of the rest
    float *tk = vtc_alloc((size_t)c * hd, sizeof(float));
    float *ok = vtc_alloc((size_t)(m > 0 ? m : 1) * hd, sizeof(float));
    float *sim = vtc_alloc((size_t)(m > 0 ? m : 1) * c, sizeof(float));
    double *acc = vtc_zalloc((size_t)c * D, sizeof(double));
    int32_t *count = vtc_zalloc((size_t)c, sizeof *count);
    int st = (!tgt || !other || !tk || !ok || !sim || !acc || !count) ? VTC_ERR_NOMEM : VTC_OK;
    if (!st) {
        int32_t nt = 0, no = 0;
        for (int32_t r = 0; r < n_rem; r++) { // targets: positions 0, step, 2*step, ... (the first c)
            if (nt < c && r == nt * step) tgt[nt++] = base + rem[r];
            else other[no++] = base + rem[r];
        }
        unit_rows(f->keys, hd, tgt, c, tk);
        unit_rows(f->keys, hd, other, m, ok);
        // cosine of every other token with every target: ok (m, hd) . tk (c, hd)^T -> sim (m, c)
        if (m > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, c, hd, 1.0f, ok, hd, tk, hd, 0.0f, sim, c);
        for (int32_t r = 0; r < m; r++) {
            const float *s = sim + (size_t)r * c;
            int32_t best = 0;
            float bs = -INFINITY;
            for (int32_t j = 0; j < c; j++)
                if (s[j] > bs) bs = s[j], best = j;
            const float *x = f->features + (size_t)other[r] * D;
            double *a = acc + (size_t)best * D;
            for (int32_t e = 0; e < D; e++) a[e] += x[e];
            count[best]++;
        }
        for (int32_t j = 0; j < c; j++) {
            const float *x = f->features + (size_t)tgt[j] * D;
            float *o = t->data + (size_t)(row + j) * D;
            const double *a = acc + (size_t)j * D;
            for (int32_t e = 0; e < D; e++) o[e] = count[j] ? (float)((double)x[e] + a[e] / count[j]) : x[e];
            t->index[row + j] = tgt[j];
            vtc_grid_pos(f, tgt[j], t->pos + 3 * (row + j));
            t->weight[row + j] = 1.0f + (float)count[j];
        }
    }
    free(tgt); free(other); free(tk); free(ok); free(sim); free(acc); free(count);
    return st;
}

// One frame: CLS, dominant patches, contextual tokens, from row fr->at on.
static int zip_frame(const vtc_features *f, int has_cls, int32_t frame, const struct zip_frame *fr, vtc_tokens *t) {
    const int32_t hw = f->H * f->W, base = frame * hw, n_dom = fr->d - has_cls;
    int32_t row = fr->at;
    int32_t *dom = vtc_alloc((size_t)(n_dom > 0 ? n_dom : 1), sizeof *dom);
    int32_t *rem = vtc_alloc((size_t)hw, sizeof *rem);
    uint8_t *is_dom = vtc_zalloc((size_t)hw, 1);
    int st = (!dom || !rem || !is_dom) ? VTC_ERR_NOMEM : VTC_OK;
    if (!st && n_dom > 0) st = vtc_topk_indices(f->cls_attn + base, hw, n_dom, dom);
    if (!st && has_cls) {
        const int32_t pos[3] = { frame, -1, -1 };
        put_row(t, row++, f->cls + (size_t)frame * f->dim, -1, pos, 1.0f);
    }
    for (int32_t i = 0; !st && i < n_dom; i++) {
        int32_t pos[3];
        vtc_grid_pos(f, base + dom[i], pos);
        put_row(t, row++, f->features + (size_t)(base + dom[i]) * f->dim, base + dom[i], pos, 1.0f);
        is_dom[dom[i]] = 1;
    }
    if (!st && fr->c > 0) {
        int32_t n_rem = 0;
        for (int32_t i = 0; i < hw; i++)
            if (!is_dom[i]) rem[n_rem++] = i;
        st = contextual(f, frame, rem, n_rem, fr->c, t, row);
    }
    free(dom); free(rem); free(is_dom);
    return st;
}

static void zip_frames(void *arg, int begin, int end) {
    struct zip_job *j = arg;
    for (int fr = begin; fr < end; fr++)
        if (j->fr[fr].d + j->fr[fr].c > 0) j->fr[fr].st = zip_frame(j->f, j->has_cls, fr, &j->fr[fr], j->out);
}

// Per-frame split of the budget (see the header); *total gets the tokens emitted.
static int plan(const struct vtc_prune_input *in, int has_cls, struct zip_frame *fr, int32_t *total) {
    const vtc_features *f = in->f;
    const int32_t T = f->T, hw = f->H * f->W, K = (int32_t)in->keep;
    const int32_t pd = (int32_t)in->p->v[P_DOMINANT], pc = (int32_t)in->p->v[P_CONTEXTUAL];
    if (pd && pc && in->keep_given && (int64_t)(pd + pc) * T != in->keep)
        return vtc_set_error(VTC_ERR_ARG,
                             "visionzip: dominant=%d + contextual=%d per frame make %lld tokens, but --keep asks for %lld",
                             pd, pc, (long long)(pd + pc) * T, (long long)in->keep);
    int32_t at = 0;
    for (int32_t t = 0; t < T; t++) {
        int32_t k = pd && pc ? pd + pc : K / T + (t < K % T);
        int32_t c = pc ? pc : pd ? k - pd : auto_contextual(k);
        int32_t d = k - c;
        if (k == 0) d = c = 0;
        if (c < 0)
            return vtc_set_error(VTC_ERR_ARG, "visionzip: dominant=%d is more than the %d tokens kept%s", pd, k,
                                 T > 1 ? " in a frame" : "");
        if (k > 0 && d < has_cls)
            return vtc_set_error(VTC_ERR_ARG, "visionzip: contextual=%d %s the %d tokens kept%s", c,
                                 has_cls ? "leaves no room for the CLS token among" : "is more than", k,
                                 T > 1 ? " in a frame" : "");
        if (d - has_cls + c > hw)
            return vtc_set_error(VTC_ERR_ARG,
                                 "visionzip: %d dominant patches + %d contextual tokens are more than a frame's %d",
                                 d - has_cls, c, hw);
        fr[t].d = d, fr[t].c = c, fr[t].at = at, fr[t].st = VTC_OK;
        at += k;
    }
    *total = at;
    return VTC_OK;
}

static int run_visionzip(const struct vtc_prune_input *in, vtc_tokens **out) {
    const vtc_features *f = in->f;
    const int has_cls = f->cls && !f->cls_is_received;
    if (f->head_dim <= 0) return vtc_set_error(VTC_ERR_ARG, "visionzip: keys have no width (head_dim %d)", f->head_dim);
    struct zip_frame *fr = vtc_alloc((size_t)f->T, sizeof *fr);
    if (!fr) return VTC_ERR_NOMEM;
    int32_t total = 0;
    int st = plan(in, has_cls, fr, &total);
    vtc_tokens *t = st ? NULL : vtc_tokens_alloc(total, f->dim);
    if (!st && !t) st = VTC_ERR_NOMEM;
    if (!st) {
        t->space = VTC_SPACE_FEATURES;
        struct zip_job job = { f, has_cls, fr, t };
        vtc_blas_single_thread();
        vtc_parallel_for(in->n_threads < f->T ? in->n_threads : f->T, f->T, zip_frames, &job);
        for (int32_t i = 0; i < f->T && !st; i++)
            if (fr[i].st) st = vtc_set_error(fr[i].st, "visionzip: frame %d: out of memory", i);
    }
    if (!st) {
        char split[96];
        snprintf(split, sizeof split, "%s%d dominant + %d contextual", has_cls ? "CLS + " : "", fr[0].d - has_cls,
                 fr[0].c);
        int len = 0;
        if (f->T > 1)
            len = snprintf(t->note, sizeof t->note, "%d frames zipped one by one, %d tokens each%s; frame 0: %s", f->T,
                           fr[0].d + fr[0].c, fr[f->T - 1].d + fr[f->T - 1].c != fr[0].d + fr[0].c ? " or one less" : "",
                           split);
        else
            len = snprintf(t->note, sizeof t->note, "%s", split);
        if (!has_cls && len >= 0 && (size_t)len < sizeof t->note)
            snprintf(t->note + len, sizeof t->note - len, "; %s",
                     f->cls_is_received ? "no CLS token: dominant ranked by the mean attention each patch receives"
                                        : "no CLS features given: no CLS token output");
        *out = t;
    } else {
        vtc_tokens_free(t);
    }
    free(fr);
    return st;
}

const struct vtc_method vtc_method_visionzip = {
    "visionzip", "VisionZip: CLS + dominant tokens by CLS attention, contextual tokens merged by key similarity",
    VTC_F_FEATURES | VTC_F_CLS_ATTN | VTC_F_KEYS, VTC_F_CLS, VTC_SPACE_FEATURES, PARAMS, 2, run_visionzip,
};
