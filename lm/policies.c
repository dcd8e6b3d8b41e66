// The in-decoder methods (docs/methods.md#in-decoder-policies) as hooks on the reference decoder:
// fastv (pkunlp-icler/FastV), todre2 (ToDRE's stage 2) and dycoke-kv
// (KD-TAO/DyCoke's decode-time KV pruning). Each reads one attention row (or
// one aggregate) through vtc_lm_attn_row / vtc_lm_attn_share and acts through
// vtc_lm_drop / vtc_lm_mask; none materialises an n x n attention matrix.
//
// Where vtc differs from the reference code, on purpose:
// - fastv keeps round(n_vis * (1 - r)) tokens (FastV's code: int(576 * ratio)
//   with ratio the kept fraction, which agrees for 576 tokens and r = 0.5);
//   ties go to the lower slot (torch.topk leaves them unspecified).
// - dycoke-kv: when the similarity is >= sim, DyCoke's code (modeling_qwen2.py,
//   PrunableDynamicCache) leaves kv_cache at None, so that step's later layers
//   attend to EVERY visual token; vtc keeps the previous selection, as the
//   paper and docs/methods.md#dycoke-kv describe. The previous-step vector is updated every step
//   in both.
// - todre2: "text queries" are the rows after the visual span (rows before it
//   cannot attend to visual keys, causally); "text keys" every non-visual slot.
//   The layer is 0-based: measured after layer floor(7L/8), dropped from the
//   next one on; the earlier layers' cache keeps the visual entries.
#include "lm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"

enum { P_FASTV, P_TODRE2, P_DYCOKE, P_COUNT };
#define MAX_PARAMS 3

struct param_def {
    const char *name, *def, *help;
    double min, max;
    int max_exclusive, integer;
};

struct policy_def {
    const char *name, *summary;
    int n_params;
    struct param_def params[MAX_PARAMS];
};

static const struct policy_def g_defs[P_COUNT] = {
    { "fastv", "FastV: after layer k-1 keep the visual tokens the last prompt token attends to most", 2,
      { { "k", "2", "layers >= k see only the kept visual tokens", 1, 4096, 0, 1 },
        { "r", "0.5", "fraction of the visual tokens pruned, in [0, 1)", 0, 1, 1, 0 } } },
    { "todre2", "ToDRE stage 2: drop all visual tokens from the later layers when text and vision stop attending to each other", 2,
      { { "layer", "-1", "0-based layer whose attention is measured; -1 = floor(7L/8)", -1, 4095, 0, 1 },
        { "tau", "0.1", "both attention shares below this drop the visual tokens", 0, 1, 0, 0 } } },
    { "dycoke-kv", "DyCoke decode-time KV pruning: layers >= l attend only to the visual tokens the new token attends to most", 3,
      { { "l", "3", "layers >= l attend only to the selected visual tokens", 1, 4096, 0, 1 },
        { "p", "0.7", "fraction of the visual tokens pruned, in [0, 1)", 0, 1, 1, 0 },
        { "sim", "0.9", "select again when the cosine similarity to the previous step is below this", -1, 1, 0, 0 } } },
};

struct scored {
    float score;
    int32_t index;
};

struct vtc_lm_policy {
    int kind;
    double v[MAX_PARAMS];
    int32_t vis0, vis1, n_vis, layer, n_layers, cap;
    float *row, *prev;
    uint8_t *keep;
    struct scored *order;
    int has_prev;
    struct vtc_lm_policy_report rep;
};

int32_t vtc_lm_policy_count(void) { return P_COUNT; }
const char *vtc_lm_policy_name(int32_t i) { return i >= 0 && i < P_COUNT ? g_defs[i].name : NULL; }
const char *vtc_lm_policy_summary(int32_t i) { return i >= 0 && i < P_COUNT ? g_defs[i].summary : NULL; }
int32_t vtc_lm_policy_param_count(int32_t i) { return i >= 0 && i < P_COUNT ? g_defs[i].n_params : 0; }

int vtc_lm_policy_param(int32_t i, int32_t j, const char **name, const char **def, const char **help) {
    if (i < 0 || i >= P_COUNT || j < 0 || j >= g_defs[i].n_params)
        return vtc_set_error(VTC_ERR_ARG, "policy %d: no parameter %d", (int)i, (int)j);
    const struct param_def *p = &g_defs[i].params[j];
    if (name) *name = p->name;
    if (def) *def = p->def;
    if (help) *help = p->help;
    return 0;
}

// Sets one parameter from "value" after checking its range.
static int set_param(vtc_lm_policy *p, const struct param_def *d, double *slot, const char *value, size_t len) {
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return vtc_set_error(VTC_ERR_ARG, "%s: %s: bad value", g_defs[p->kind].name, d->name);
    memcpy(buf, value, len);
    buf[len] = '\0';
    char *end;
    double x = strtod(buf, &end);
    int ok = *end == '\0' && isfinite(x) && x >= d->min && (d->max_exclusive ? x < d->max : x <= d->max) &&
             (!d->integer || x == floor(x));
    if (!ok)
        return vtc_set_error(VTC_ERR_ARG, "%s: %s=%s: expected %s in [%g, %g%s", g_defs[p->kind].name, d->name, buf,
                             d->integer ? "an integer" : "a number", d->min, d->max, d->max_exclusive ? ")" : "]");
    *slot = x;
    return 0;
}

vtc_lm_policy *vtc_lm_policy_new(const char *name, const char *params) {
    int kind = -1;
    for (int i = 0; name && i < P_COUNT; i++)
        if (strcmp(name, g_defs[i].name) == 0) kind = i;
    if (kind < 0) {
        vtc_set_error(VTC_ERR_ARG, "lm policy \"%s\": unknown (fastv, todre2, dycoke-kv)", name ? name : "(null)");
        return NULL;
    }
    vtc_lm_policy *p = vtc_zalloc(1, sizeof *p);
    if (!p) return NULL;
    p->kind = kind;
    const struct policy_def *def = &g_defs[kind];
    for (int j = 0; j < def->n_params; j++) p->v[j] = strtod(def->params[j].def, NULL);
    for (const char *s = params ? params : ""; *s;) {
        const char *comma = strchr(s, ','), *end = comma ? comma : s + strlen(s);
        const char *eq = memchr(s, '=', (size_t)(end - s));
        int j = -1;
        for (int k = 0; eq && k < def->n_params; k++)
            if (strlen(def->params[k].name) == (size_t)(eq - s) && memcmp(s, def->params[k].name, (size_t)(eq - s)) == 0)
                j = k;
        if (j < 0) {
            vtc_set_error(VTC_ERR_ARG, "%s: \"%.*s\": expected name=value with a parameter of the policy", def->name,
                          (int)(end - s), s);
            free(p);
            return NULL;
        }
        if (set_param(p, &def->params[j], &p->v[j], eq + 1, (size_t)(end - eq - 1)) != 0) {
            free(p);
            return NULL;
        }
        s = comma ? comma + 1 : end;
    }
    snprintf(p->rep.name, sizeof p->rep.name, "%s", def->name);
    return p;
}

void vtc_lm_policy_free(vtc_lm_policy *p) {
    if (!p) return;
    free(p->row);
    free(p->prev);
    free(p->keep);
    free(p->order);
    free(p);
}

static int cmp_scored_desc(const void *a, const void *b) {
    const struct scored *x = a, *y = b;
    if (x->score > y->score) return -1;
    if (x->score < y->score) return 1;
    return (x->index > y->index) - (x->index < y->index);
}

// keep[i] = 1 for the k highest of score[n], ties to the lower index; order[n] is scratch.
static void top_k(const float *score, int32_t n, int32_t k, uint8_t *keep, struct scored *order) {
    for (int32_t i = 0; i < n; i++) {
        order[i].score = score[i];
        order[i].index = i;
    }
    qsort(order, (size_t)n, sizeof *order, cmp_scored_desc);
    memset(keep, 0, (size_t)n);
    for (int32_t i = 0; i < k && i < n; i++) keep[order[i].index] = 1;
}

int vtc_lm_select_top(const float *score, int32_t n, int32_t k, uint8_t *keep) {
    if (!score || !keep || n < 0 || k < 0) return vtc_set_error(VTC_ERR_ARG, "select_top: bad argument");
    struct scored *order = vtc_alloc((size_t)(n ? n : 1), sizeof *order);
    if (!order) return VTC_ERR_NOMEM;
    top_k(score, n, k, keep, order);
    free(order);
    return 0;
}

int32_t vtc_lm_fastv_n_keep(int32_t n_visual, double r) {
    int32_t k = (int32_t)floor(n_visual * (1.0 - r) + 0.5);
    return k < 0 ? 0 : k > n_visual ? n_visual : k;
}

int32_t vtc_lm_dycoke_n_keep(int32_t n_visual, double p) {
    int32_t k = (int32_t)(n_visual * (1.0 - p)); // int() truncation, as DyCoke's update_cache
    return k < 0 ? 0 : k > n_visual ? n_visual : k;
}

int vtc_lm_todre2_drop(double alpha_tv, double alpha_vt, double tau) { return alpha_tv < tau && alpha_vt < tau; }

double vtc_lm_cosine(const float *a, const float *b, int32_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (int32_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    double den = sqrt(aa) * sqrt(bb);
    return ab / (den > 1e-8 ? den : 1e-8); // torch.nn.functional.cosine_similarity's eps
}

static void select_top(vtc_lm_policy *p, int32_t k) {
    top_k(p->row, p->n_vis, k, p->keep, p->order);
    p->rep.n_kept = k < p->n_vis ? k : p->n_vis;
}

static int fastv_hook(vtc_lm_policy *p, vtc_lm_ctx *ctx, const struct vtc_lm_hook_info *info) {
    int st = vtc_lm_attn_row(ctx, info->first_slot + info->n_rows - 1, p->vis0, p->vis1, p->row);
    if (st != 0) return st;
    select_top(p, vtc_lm_fastv_n_keep(p->n_vis, p->v[1]));
    p->rep.fired = 1;
    return vtc_lm_drop(ctx, p->layer, p->vis0, p->vis1, p->keep);
}

static int todre2_hook(vtc_lm_policy *p, vtc_lm_ctx *ctx, const struct vtc_lm_hook_info *info) {
    int32_t end = info->first_slot + info->n_rows;
    double tv = 0, vt_before = 0, vt_after = 0;
    int st = vtc_lm_attn_share(ctx, p->vis1, end, p->vis0, p->vis1, &tv, NULL);
    if (st == 0) st = vtc_lm_attn_share(ctx, p->vis0, p->vis1, 0, p->vis0, &vt_before, NULL);
    if (st == 0) st = vtc_lm_attn_share(ctx, p->vis0, p->vis1, p->vis1, info->n_cache, &vt_after, NULL);
    if (st != 0) return st;
    p->rep.alpha_tv = tv;
    p->rep.alpha_vt = vt_before + vt_after;
    p->rep.fired = 1;
    if (vtc_lm_todre2_drop(p->rep.alpha_tv, p->rep.alpha_vt, p->v[1])) {
        p->rep.dropped_all = 1;
        memset(p->keep, 0, (size_t)p->n_vis);
        if (p->layer + 1 < p->n_layers) p->rep.n_kept = 0;
        return vtc_lm_drop(ctx, p->layer + 1, p->vis0, p->vis1, NULL);
    }
    return 0;
}

static int dycoke_hook(vtc_lm_policy *p, vtc_lm_ctx *ctx, const struct vtc_lm_hook_info *info) {
    int st = vtc_lm_attn_row(ctx, info->first_slot + info->n_rows - 1, p->vis0, p->vis1, p->row);
    if (st != 0) return st;
    double sim = p->has_prev ? vtc_lm_cosine(p->row, p->prev, p->n_vis) : 0.0;
    p->rep.similarity = sim;
    p->rep.n_steps++;
    p->rep.fired = 1;
    if (!p->has_prev || sim < p->v[2]) {
        select_top(p, vtc_lm_dycoke_n_keep(p->n_vis, p->v[1]));
        p->rep.n_reselect++;
        st = vtc_lm_mask(ctx, p->layer, p->vis0, p->vis1, p->keep);
    }
    memcpy(p->prev, p->row, (size_t)p->n_vis * sizeof *p->prev);
    p->has_prev = 1;
    return st;
}

static int policy_hook(void *user, vtc_lm_ctx *ctx, const struct vtc_lm_hook_info *info) {
    vtc_lm_policy *p = user;
    if (p->kind != P_TODRE2 && p->layer >= p->n_layers) return 0; // K >= L: no pruning
    int span_in_batch = p->vis0 >= info->first_slot && p->vis1 <= info->first_slot + info->n_rows;
    switch (p->kind) {
    case P_FASTV:
        if (info->is_decode || p->rep.fired || !span_in_batch || info->layer != p->layer - 1) return 0;
        return fastv_hook(p, ctx, info);
    case P_TODRE2:
        if (info->is_decode || p->rep.fired || !span_in_batch || info->layer != p->layer) return 0;
        return todre2_hook(p, ctx, info);
    default:
        if (!info->is_decode || info->layer != p->layer - 1 || p->vis1 > info->first_slot) return 0;
        return dycoke_hook(p, ctx, info);
    }
}

int vtc_lm_policy_begin(vtc_lm_policy *p, vtc_lm_ctx *ctx, int32_t vis_begin, int32_t vis_end) {
    if (!p || !ctx) return vtc_set_error(VTC_ERR_ARG, "lm policy: begin: NULL argument");
    int32_t cap = vtc_lm_ctx_capacity(ctx);
    if (vis_begin < 0 || vis_end <= vis_begin || vis_end > cap)
        return vtc_set_error(VTC_ERR_ARG, "%s: visual span [%d, %d) outside [0, %d) or empty", g_defs[p->kind].name,
                             (int)vis_begin, (int)vis_end, (int)cap);
    int32_t L = vtc_lm_get_config(vtc_lm_ctx_model(ctx))->n_layers;
    int32_t layer = (int32_t)p->v[0];
    if (p->kind == P_TODRE2) {
        if (layer < 0) layer = 7 * L / 8;
        if (layer >= L)
            return vtc_set_error(VTC_ERR_ARG, "todre2: layer %d of a %d-layer model", (int)layer, (int)L);
    }
    int32_t n = vis_end - vis_begin;
    if (n > p->cap) {
        free(p->row);
        free(p->prev);
        free(p->keep);
        free(p->order);
        p->cap = 0;
        p->row = vtc_alloc((size_t)n, sizeof *p->row);
        p->prev = vtc_alloc((size_t)n, sizeof *p->prev);
        p->keep = vtc_alloc((size_t)n, 1);
        p->order = vtc_alloc((size_t)n, sizeof *p->order);
        if (!p->row || !p->prev || !p->keep || !p->order) return VTC_ERR_NOMEM;
        p->cap = n;
    }
    p->vis0 = vis_begin;
    p->vis1 = vis_end;
    p->n_vis = n;
    p->layer = layer;
    p->n_layers = L;
    p->has_prev = 0;
    memset(p->keep, 1, (size_t)n);
    memset(&p->rep, 0, sizeof p->rep);
    snprintf(p->rep.name, sizeof p->rep.name, "%s", g_defs[p->kind].name);
    p->rep.layer = layer;
    p->rep.n_visual = n;
    p->rep.n_kept = n;
    vtc_lm_set_hook(ctx, policy_hook, p);
    return 0;
}

int vtc_lm_policy_get_report(const vtc_lm_policy *p, struct vtc_lm_policy_report *out) {
    if (!p || !out) return vtc_set_error(VTC_ERR_ARG, "lm policy: report: NULL argument");
    *out = p->rep;
    return 0;
}

const uint8_t *vtc_lm_policy_keep(const vtc_lm_policy *p) { return p && p->rep.fired ? p->keep : NULL; }
