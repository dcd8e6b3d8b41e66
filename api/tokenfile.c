// Token files (SPEC §3): safetensors holding the full grid from `vtc encode` or
// the kept tokens from `vtc prune`/`vtc compress`. Written atomically.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/safetensors.h"
#include "base/tensor.h"
#include "tokenfile.h"

// (t, y, x) of every source token of a T x H x W grid: [n, 3].
static int32_t *grid_positions(int T, int H, int W) {
    int32_t *pos = vtc_alloc((size_t)T * H * W * 3, sizeof(int32_t));
    if (!pos) return NULL;
    size_t i = 0;
    for (int t = 0; t < T; t++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                pos[i++] = t;
                pos[i++] = y;
                pos[i++] = x;
            }
    return pos;
}

static int add_meta(vtc_st_writer *w, const char *const *metadata) {
    int st = 0;
    for (int i = 0; metadata && metadata[i] && metadata[i + 1] && !st; i += 2)
        st = vtc_st_writer_meta(w, metadata[i], metadata[i + 1]);
    return st;
}

int vtc_features_save(const vtc_features *f, const char *path, const char *const *metadata) {
    if (!f || !path) return vtc_set_error(VTC_ERR_ARG, "vtc_features_save: NULL argument");
    int32_t *pos = grid_positions(f->T, f->H, f->W);
    vtc_st_writer *w = pos ? vtc_st_writer_new() : NULL;
    if (!w) {
        free(pos);
        return VTC_ERR_NOMEM;
    }
    const int64_t n = f->n, T = f->T;
    int st = 0;
#define ADD(name, dt, ptr, ...)                                                              \
    if (!st && (ptr)) {                                                                      \
        const int64_t shape[] = { __VA_ARGS__ };                                             \
        st = vtc_st_writer_add(w, name, dt, (int)(sizeof shape / sizeof shape[0]), shape, ptr); \
    }
    ADD("features", VTC_DT_F32, f->features, n, f->dim);
    ADD("positions", VTC_DT_I32, pos, n, 3);
    ADD("cls", VTC_DT_F32, f->cls, T, f->dim);
    ADD("cls_attn", VTC_DT_F32, f->cls_attn, n);
    ADD("cls_attn_last", VTC_DT_F32, f->cls_attn_last, n);
    ADD("keys", VTC_DT_F32, f->keys, n, f->head_dim);
    ADD("embeds", VTC_DT_F32, f->embeds, n, f->lm_dim);
    ADD("cls_embeds", VTC_DT_F32, f->cls_embed, T, f->lm_dim);
    ADD("timestamps", VTC_DT_F64, f->timestamps, T);
    char grid[64];
    snprintf(grid, sizeof grid, "%d,%d,%d", f->T, f->H, f->W);
    if (!st) st = vtc_st_writer_meta(w, "grid", grid);
    if (!st) st = vtc_st_writer_meta(w, "format", "vtc-features-1");
    if (!st && f->cls_is_received) st = vtc_st_writer_meta(w, "cls_attn", "mean received attention (no CLS token)");
    if (!st) st = add_meta(w, metadata);
    if (!st) st = vtc_st_writer_write(w, path);
    vtc_st_writer_free(w);
    free(pos);
    return st;
}

int vtc_tokens_save(const vtc_tokens *t, const char *path, const char *const *metadata) {
    if (!t || !path) return vtc_set_error(VTC_ERR_ARG, "vtc_tokens_save: NULL argument");
    vtc_st_writer *w = vtc_st_writer_new();
    if (!w) return VTC_ERR_NOMEM;
    const int64_t n = t->n;
    int st = 0;
    ADD("tokens", VTC_DT_F32, t->data, n, t->dim);
    ADD("index", VTC_DT_I32, t->index, n);
    ADD("positions", VTC_DT_I32, t->pos, n, 3);
    ADD("weight", VTC_DT_F32, t->weight, n);
    ADD("codes", VTC_DT_I32, t->codes, t->grid[0], t->grid[1], t->grid[2]);
#undef ADD
    if (!st) st = vtc_st_writer_meta(w, "format", "vtc-tokens-1");
    if (!st) st = add_meta(w, metadata);
    if (!st) st = vtc_st_writer_write(w, path);
    vtc_st_writer_free(w);
    return st;
}

// Reads tensor `name` as F32 [rows, cols] (cols = 0 for 1-D) into a new array.
// Absent and optional -> *out = NULL. Shape disagreements are errors.
static int read_f32(const vtc_st *s, const char *path, const char *name, int64_t rows, int64_t cols, int required,
                    float **out) {
    *out = NULL;
    const vtc_tensor_view *t = vtc_st_find(s, name);
    if (!t) return required ? vtc_set_error(VTC_ERR_FORMAT, "%s: no tensor \"%s\"", path, name) : 0;
    int want_dims = cols ? 2 : 1;
    if (t->n_dims != want_dims || t->shape[0] != rows || (cols && t->shape[1] != cols))
        return vtc_set_error(VTC_ERR_FORMAT, "%s: tensor \"%s\" has the wrong shape (expected [%lld%s%.0lld])", path,
                             name, (long long)rows, cols ? ", " : "", (long long)cols);
    size_t count = (size_t)rows * (size_t)(cols ? cols : 1);
    float *buf = vtc_alloc(count, sizeof(float));
    if (!buf) return VTC_ERR_NOMEM;
    int st = vtc_tensor_to_f32(t, buf, count);
    if (st) {
        free(buf);
        return vtc_wrap_error(st, "%s: %s", path, name);
    }
    for (size_t i = 0; i < count; i++)
        if (!isfinite(buf[i])) {
            free(buf);
            return vtc_set_error(VTC_ERR_FORMAT, "%s: tensor \"%s\" holds NaN or infinite values", path, name);
        }
    *out = buf;
    return 0;
}

int vtc_features_from_st(const vtc_st *s, const char *path, vtc_features **out) {
    *out = NULL;
    int st = 0;
    const vtc_tensor_view *ft = vtc_st_find(s, "features");
    const char *grid = vtc_st_meta(s, "grid");
    int T = 0, H = 0, W = 0;
    long long gt = 0, gh = 0, gw = 0; // %d overflows silently ("4294967297" reads as 1)
    char tail;
    if (grid && sscanf(grid, "%lld,%lld,%lld%c", &gt, &gh, &gw, &tail) == 3 && gt > 0 && gh > 0 && gw > 0 &&
        gt <= INT32_MAX && gh <= INT32_MAX && gw <= INT32_MAX && gt * gh <= INT32_MAX && gt * gh * gw <= INT32_MAX)
        T = (int)gt, H = (int)gh, W = (int)gw; // (each product checked before the next can overflow)
    if (!ft || ft->n_dims != 2) {
        st = vtc_set_error(VTC_ERR_FORMAT, "%s: not a vtc features file (no 2-D \"features\" tensor)", path);
    } else if (!T || (int64_t)T * H * W != ft->shape[0]) {
        st = vtc_set_error(VTC_ERR_FORMAT, "%s: metadata \"grid\" missing or disagrees with features [%lld, ...]", path,
                           (long long)ft->shape[0]);
    } else if (ft->shape[1] <= 0 || ft->shape[1] > 65536) {
        st = vtc_set_error(VTC_ERR_FORMAT, "%s: implausible feature width %lld", path, (long long)ft->shape[1]);
    }
    vtc_features *f = NULL;
    if (!st) {
        f = vtc_zalloc(1, sizeof *f);
        if (!f) st = VTC_ERR_NOMEM;
    }
    if (!st) {
        f->T = T, f->H = H, f->W = W, f->n = T * H * W, f->dim = (int)ft->shape[1];
        const vtc_tensor_view *k = vtc_st_find(s, "keys"), *e = vtc_st_find(s, "embeds");
        // keys and embeds give their own widths: in another rank they are malformed, not absent
        const vtc_tensor_view *sized[2] = { k, e };
        for (int i = 0; i < 2 && !st; i++)
            if (sized[i] && (sized[i]->n_dims != 2 || sized[i]->shape[1] <= 0 || sized[i]->shape[1] > 65536))
                st = vtc_set_error(VTC_ERR_FORMAT, "%s: tensor \"%s\" is not [%d, width]", path, i ? "embeds" : "keys",
                                   f->n);
        f->head_dim = k && k->n_dims == 2 ? (int)k->shape[1] : 0;
        f->lm_dim = e && e->n_dims == 2 ? (int)e->shape[1] : 0;
        if (!st) st = read_f32(s, path, "features", f->n, f->dim, 1, &f->features);
        if (!st) st = read_f32(s, path, "cls", T, f->dim, 0, &f->cls);
        if (!st) st = read_f32(s, path, "cls_attn", f->n, 0, 0, &f->cls_attn);
        if (!st) st = read_f32(s, path, "cls_attn_last", f->n, 0, 0, &f->cls_attn_last);
        if (!st && f->head_dim) st = read_f32(s, path, "keys", f->n, f->head_dim, 0, &f->keys);
        if (!st && f->lm_dim) st = read_f32(s, path, "embeds", f->n, f->lm_dim, 0, &f->embeds);
        if (!st && f->lm_dim) st = read_f32(s, path, "cls_embeds", T, f->lm_dim, 0, &f->cls_embed);
        // the frames' timestamps, as vtc_features_save writes them: F64 [T] seconds
        const vtc_tensor_view *ts = vtc_st_find(s, "timestamps");
        if (!st && ts) {
            if (ts->dtype != VTC_DT_F64 || ts->n_dims != 1 || ts->shape[0] != T || ts->nbytes != (size_t)T * 8) {
                st = vtc_set_error(VTC_ERR_FORMAT, "%s: tensor \"timestamps\" is not F64 [%d]", path, T);
            } else if (!(f->timestamps = vtc_alloc((size_t)T, sizeof(double)))) {
                st = VTC_ERR_NOMEM;
            } else {
                memcpy(f->timestamps, ts->data, (size_t)T * sizeof(double)); // little-endian, as the host
                for (int i = 0; i < T && !st; i++)
                    if (!isfinite(f->timestamps[i]))
                        st = vtc_set_error(VTC_ERR_FORMAT, "%s: tensor \"timestamps\" holds NaN or infinite values",
                                           path);
            }
        }
        const char *recv = vtc_st_meta(s, "cls_attn");
        f->cls_is_received = recv && strstr(recv, "received") != NULL;
    }
    if (st) {
        vtc_features_free(f);
        return st;
    }
    *out = f;
    return VTC_OK;
}

int vtc_features_load(const char *path, vtc_features **out) {
    if (!path || !out) return vtc_set_error(VTC_ERR_ARG, "vtc_features_load: NULL argument");
    *out = NULL;
    vtc_st *s = NULL;
    int st = vtc_st_open(path, 1, &s);
    if (st) return st;
    st = vtc_features_from_st(s, path, out);
    vtc_st_close(s);
    return st;
}
