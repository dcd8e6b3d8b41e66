// The method registry, parameter parsing, budgets, and the shared helpers.
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

#include <cblas.h>

// The registry: adding a method is adding its file and its name on this line
// (the order is the order `vtc methods` lists them in).
#define METHOD_LIST(X) X(none) X(random) X(uniform) X(pool) X(cls) X(visionzip) X(hired) X(divprune) X(todre) X(tome) \
    X(dycoke) X(vq)

#define DECLARE_METHOD(name) extern const struct vtc_method vtc_method_##name;
METHOD_LIST(DECLARE_METHOD)
#define METHOD_ENTRY(name) &vtc_method_##name,
static const struct vtc_method *const METHODS[] = { METHOD_LIST(METHOD_ENTRY) };
#define N_METHODS ((int)(sizeof METHODS / sizeof METHODS[0]))

int32_t vtc_method_count(void) { return N_METHODS; }
const char *vtc_method_name(int32_t i) { return i >= 0 && i < N_METHODS ? METHODS[i]->name : NULL; }
const char *vtc_method_summary(int32_t i) { return i >= 0 && i < N_METHODS ? METHODS[i]->summary : NULL; }
int32_t vtc_method_param_count(int32_t i) { return i >= 0 && i < N_METHODS ? METHODS[i]->n_params : 0; }

int vtc_method_param(int32_t i, int32_t j, const char **name, const char **def, const char **help) {
    if (i < 0 || i >= N_METHODS || j < 0 || j >= METHODS[i]->n_params)
        return vtc_set_error(VTC_ERR_ARG, "vtc_method_param: no parameter %d of method %d", j, i);
    const struct vtc_param_def *d = &METHODS[i]->params[j];
    if (name) *name = d->name;
    if (def) *def = d->def;
    if (help) *help = d->help;
    return VTC_OK;
}

int vtc_method_index(const char *name) {
    for (int i = 0; name && i < N_METHODS; i++)
        if (!strcmp(METHODS[i]->name, name)) return i;
    return -1;
}

const struct vtc_method *vtc_method_find(const char *name) {
    int i = vtc_method_index(name);
    if (i >= 0) return METHODS[i];
    char list[512] = "";
    for (int k = 0; k < N_METHODS; k++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "", METHODS[k]->name);
    vtc_set_error(VTC_ERR_ARG, "unknown method '%s' (methods: %s)", name ? name : "(null)", list);
    return NULL;
}

struct vtc_prune_params vtc_prune_params_default(void) {
    struct vtc_prune_params p = { .method = "none", .n_keep = 0, .keep_ratio = 0, .params = NULL, .seed = 0 };
    return p;
}

// Strict number: the whole text, finite.
static int parse_number(const char *s, size_t len, double *out) {
    char buf[64];
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (isspace((unsigned char)buf[0])) return -1;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end || errno || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static void param_list(const struct vtc_method *m, char *buf, size_t cap) {
    buf[0] = '\0';
    for (int i = 0; i < m->n_params; i++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s=%s", i ? ", " : "", m->params[i].name, m->params[i].def);
    if (!m->n_params) snprintf(buf, cap, "none");
}

int vtc_params_parse(const struct vtc_method *m, const char *text, struct vtc_param_values *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < m->n_params; i++) parse_number(m->params[i].def, strlen(m->params[i].def), &out->v[i]);
    char valid[512];
    const char *s = text ? text : "";
    while (*s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        if (!eq || eq == s) {
            param_list(m, valid, sizeof valid);
            return vtc_set_error(VTC_ERR_ARG, "method %s: parameter '%.*s' is not NAME=VALUE (parameters: %s)",
                                 m->name, (int)len, s, valid);
        }
        size_t nlen = (size_t)(eq - s);
        int found = -1;
        for (int i = 0; i < m->n_params; i++)
            if (strlen(m->params[i].name) == nlen && !strncmp(m->params[i].name, s, nlen)) found = i;
        if (found < 0) {
            param_list(m, valid, sizeof valid);
            return vtc_set_error(VTC_ERR_ARG, "method %s has no parameter '%.*s' (parameters: %s)", m->name, (int)nlen,
                                 s, valid);
        }
        if (out->given & (1u << found))
            return vtc_set_error(VTC_ERR_ARG, "method %s: parameter '%s' is given twice", m->name,
                                 m->params[found].name);
        const struct vtc_param_def *d = &m->params[found];
        double v;
        if (parse_number(eq + 1, len - nlen - 1, &v) || v < d->lo || v > d->hi || (d->integer && v != floor(v)))
            return vtc_set_error(VTC_ERR_ARG, "method %s: %s='%.*s' must be %s in [%g, %g]", m->name, d->name,
                                 (int)(len - nlen - 1), eq + 1, d->integer ? "an integer" : "a number", d->lo, d->hi);
        out->v[found] = v;
        out->given |= 1u << found;
        s = end ? end + 1 : s + len;
    }
    return VTC_OK;
}

// The budget's form, before any tokens are known.
static int check_budget(struct vtc_prune_params p) {
    if (p.pack < VTC_PACK_NATIVE || p.pack > VTC_PACK_SPATIAL)
        return vtc_set_error(VTC_ERR_ARG, "pack mode %d (native 0, unpad 1, spatial 2)", p.pack);
    if (p.n_keep < 0) return vtc_set_error(VTC_ERR_ARG, "--keep %d: a count must be at least 1", p.n_keep);
    if (!isfinite(p.keep_ratio) || p.keep_ratio < 0 || p.keep_ratio > 1)
        return vtc_set_error(VTC_ERR_ARG, "--keep: a fraction must be in (0, 1], not %g", p.keep_ratio);
    if (p.n_keep && p.keep_ratio)
        return vtc_set_error(VTC_ERR_ARG, "the budget is a count (n_keep %d) or a fraction (keep_ratio %g), not both",
                             p.n_keep, p.keep_ratio);
    return VTC_OK;
}

int64_t vtc_prune_keep_count(struct vtc_prune_params p, int64_t n) {
    int st = check_budget(p);
    if (st) return st;
    if (n <= 0) return vtc_set_error(VTC_ERR_NEEDS, "there are no tokens to keep");
    if (p.keep_ratio) {
        // Python's round() of the double keep_ratio * n, halves to even:
        // DivPrune's int(round(ratio * n)). At least one token.
        double x = p.keep_ratio * (double)n, r = floor(x), frac = x - r;
        if (frac > 0.5 || (frac == 0.5 && fmod(r, 2.0) != 0.0)) r += 1.0;
        return r < 1 ? 1 : (int64_t)r;
    }
    if (!p.n_keep) return n;
    if (p.n_keep > n)
        return vtc_set_error(VTC_ERR_NEEDS, "--keep %d is more than the %lld tokens there are", p.n_keep, (long long)n);
    return p.n_keep;
}

int vtc_prune_validate(struct vtc_prune_params p) {
    const struct vtc_method *m = vtc_method_find(p.method);
    if (!m) return VTC_ERR_ARG;
    int st = check_budget(p);
    if (st) return st;
    struct vtc_param_values v;
    return vtc_params_parse(m, p.params, &v);
}

int vtc_method_needs(const char *name, unsigned *fields) {
    const struct vtc_method *m = vtc_method_find(name);
    if (!m) return VTC_ERR_ARG;
    if (fields) *fields = m->needs | m->uses;
    return VTC_OK;
}

static const char *field_name(unsigned bit) {
    switch (bit) {
    case VTC_F_FEATURES: return "features";
    case VTC_F_CLS: return "cls";
    case VTC_F_CLS_ATTN: return "cls_attn";
    case VTC_F_CLS_ATTN_LAST: return "cls_attn_last";
    case VTC_F_CLS_ATTN_FIRST: return "cls_attn_first";
    case VTC_F_KEYS: return "keys";
    case VTC_F_EMBEDS: return "embeds";
    case VTC_F_CLS_EMBED: return "cls_embeds";
    case VTC_F_NEWLINE: return "newline";
    default: return "timestamps";
    }
}

static unsigned fields_present(const vtc_features *f) {
    return (f->features ? VTC_F_FEATURES : 0) | (f->cls ? VTC_F_CLS : 0) | (f->cls_attn ? VTC_F_CLS_ATTN : 0) |
           (f->cls_attn_last ? VTC_F_CLS_ATTN_LAST : 0) | (f->keys ? VTC_F_KEYS : 0) | (f->embeds ? VTC_F_EMBEDS : 0) |
           (f->cls_embed ? VTC_F_CLS_EMBED : 0) | (f->timestamps ? VTC_F_TIMESTAMPS : 0) |
           (f->newline ? VTC_F_NEWLINE : 0) | (f->cls_attn_first ? VTC_F_CLS_ATTN_FIRST : 0);
}

int vtc_prune_run(const struct vtc_method *m, const vtc_features *f, const struct vtc_prune_params *p,
                  int n_threads, vtc_tokens **out) {
    *out = NULL;
    if (!f || f->n <= 0 || !f->features || f->dim <= 0)
        return vtc_set_error(VTC_ERR_ARG, "%s: no features to prune", m->name);
    if (f->T <= 0 || f->H <= 0 || f->W <= 0 || (int64_t)f->T * f->H > INT32_MAX || (int64_t)f->T * f->H * f->W != f->n)
        return vtc_set_error(VTC_ERR_ARG, "%s: features grid %dx%dx%d does not hold their %d tokens", m->name, f->T,
                             f->H, f->W, f->n);
    unsigned missing = m->needs & ~fields_present(f);
    for (unsigned bit = 1; missing && bit; bit <<= 1)
        if (missing & bit)
            return vtc_set_error(VTC_ERR_NEEDS, "method %s needs %s, which these features lack", m->name,
                                 field_name(bit));
    struct vtc_param_values v;
    int st = vtc_params_parse(m, p->params, &v);
    if (st) return st;
    int64_t keep = vtc_prune_keep_count(*p, f->n);
    if (keep < 0) return (int)keep;
    struct vtc_prune_input in = { f, keep, p->n_keep || p->keep_ratio, p->seed, &v, n_threads > 0 ? n_threads : 1 };
    st = m->run(&in, out);
    if (st) {
        vtc_tokens_free(*out);
        *out = NULL;
        return st;
    }
    // what made them, for the token file (docs/formats.md)
    vtc_tokens *t = *out;
    t->n_input = f->n;
    t->grid[0] = f->T, t->grid[1] = f->H, t->grid[2] = f->W;
    t->tiling = f->tiling;
    snprintf(t->method, sizeof t->method, "%s", m->name);
    t->n_keep = p->n_keep;
    t->keep_ratio = p->keep_ratio;
    snprintf(t->model, sizeof t->model, "%s", f->model);
    snprintf(t->model_format, sizeof t->model_format, "%s", f->model_format);
    t->feature_layer = f->feature_layer;
    const size_t len = p->params ? strlen(p->params) : 0;
    t->params = vtc_alloc(len + 1, 1);
    if (t->params) memcpy(t->params, len ? p->params : "", len + 1);
    if (t->params && f->timestamps && (t->timestamps = vtc_alloc((size_t)f->T, sizeof(double))))
        memcpy(t->timestamps, f->timestamps, sizeof(double) * f->T);
    if (!t->params || (f->timestamps && !t->timestamps)) {
        vtc_tokens_free(t);
        *out = NULL;
        return VTC_ERR_NOMEM;
    }
    return VTC_OK;
}

// ---------------------------------------------------------------- helpers

const float *vtc_prune_rows(const vtc_features *f, int space, int32_t *dim, int *space_out) {
    if (space == VTC_SPACE_EMBEDS && f->embeds && f->lm_dim > 0) {
        *dim = f->lm_dim;
        *space_out = VTC_SPACE_EMBEDS;
        return f->embeds;
    }
    *dim = f->dim;
    *space_out = VTC_SPACE_FEATURES;
    return f->features;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

void vtc_sort_i32(int32_t *v, int32_t n) { qsort(v, (size_t)n, sizeof *v, cmp_i32); }

struct scored {
    float s;
    int32_t i;
};

// Descending score, ascending index on ties (the order torch.topk gives for
// distinct values; for ties vtc fixes the lower index first).
static int cmp_desc(const void *a, const void *b) {
    const struct scored *x = a, *y = b;
    if (x->s > y->s) return -1;
    if (x->s < y->s) return 1;
    return (x->i > y->i) - (x->i < y->i);
}

int vtc_topk_indices(const float *score, int32_t n, int32_t k, int32_t *idx) {
    struct scored *s = vtc_alloc((size_t)n, sizeof *s);
    if (!s) return VTC_ERR_NOMEM;
    for (int32_t i = 0; i < n; i++) {
        s[i].s = isnan(score[i]) ? -INFINITY : score[i];
        s[i].i = i;
    }
    qsort(s, (size_t)n, sizeof *s, cmp_desc);
    for (int32_t i = 0; i < k; i++) idx[i] = s[i].i;
    free(s);
    vtc_sort_i32(idx, k);
    return VTC_OK;
}

