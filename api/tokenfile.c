// Token files (docs/formats.md): safetensors holding the full grid from `vtc
// encode` or the kept tokens from `vtc prune`/`vtc compress`, with every
// metadata key of the format written here. Written atomically.
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/safetensors.h"
#include "base/tensor.h"
#include "pack.h"
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

// The metadata keys of vtc's token files (docs/formats.md). The library writes
// them all; a host's own keys (the `metadata` argument) may not reuse one.
static const char *const FORMAT_KEYS[] = {
    "format", "grid", "model", "model_format", "feature_layer", "n_input", "cls_attn", "tiling", "newline", "pack",
    "method", "parameters", "keep", "n_kept", "retained_ratio", "space", "note", NULL,
};

static int add_host_meta(vtc_st_writer *w, const char *const *metadata) {
    int st = VTC_OK;
    for (int i = 0; metadata && metadata[i] && !st; i += 2) {
        if (!metadata[i + 1]) return vtc_set_error(VTC_ERR_ARG, "metadata \"%.64s\" has no value", metadata[i]);
        for (int k = 0; FORMAT_KEYS[k]; k++)
            if (!strcmp(metadata[i], FORMAT_KEYS[k]))
                return vtc_set_error(VTC_ERR_ARG, "metadata \"%s\" is one of the token file's own keys", metadata[i]);
        st = vtc_st_writer_meta(w, metadata[i], metadata[i + 1]);
    }
    return st;
}

// A metadata value from text that may not be UTF-8 (a model name, parameters
// from a command line), escaped as vtc_utf8_escape does.
static int meta_text(vtc_st_writer *w, const char *key, const char *text) {
    size_t cap;
    if (vtc_mul_size(strlen(text), 4, &cap) || vtc_add_size(cap, 1, &cap))
        return vtc_set_error(VTC_ERR_LIMIT, "metadata \"%s\" is too long", key);
    char *v = vtc_alloc(cap, 1);
    if (!v) return VTC_ERR_NOMEM;
    vtc_utf8_escape(v, cap, text);
    int st = vtc_st_writer_meta(w, key, v);
    free(v);
    return st;
}

static int meta_printf(vtc_st_writer *w, const char *key, const char *fmt, ...) VTC_PRINTF(3, 4);
static int meta_printf(vtc_st_writer *w, const char *key, const char *fmt, ...) {
    char v[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    return vtc_st_writer_meta(w, key, v);
}

static const char *const NEWLINES[] = { "none", "row", "end" };

// The layout keys: "tiling" = "anyres IMAGE_WxIMAGE_H TILES_HxTILES_W Y0,X0,H,W OUT_HxOUT_W"
// for an anyres image, "newline" = row | end when the model adds image_newline.
static int tiling_meta(vtc_st_writer *w, const vtc_tiling *tl) {
    int st = VTC_OK;
    if (tl->kind == VTC_TILING_ANYRES)
        st = meta_printf(w, "tiling", "anyres %dx%d %dx%d %d,%d,%d,%d %dx%d", tl->image_w, tl->image_h, tl->tiles_h,
                         tl->tiles_w, tl->unpad_y0, tl->unpad_x0, tl->unpad_h, tl->unpad_w, tl->out_h, tl->out_w);
    if (!st && tl->newline > VTC_NEWLINE_NONE && tl->newline <= VTC_NEWLINE_END)
        st = vtc_st_writer_meta(w, "newline", NEWLINES[tl->newline]);
    return st;
}

static int tiling_from_meta(const vtc_st *s, const char *path, vtc_tiling *tl) {
    memset(tl, 0, sizeof *tl);
    const char *t = vtc_st_meta(s, "tiling"), *nl = vtc_st_meta(s, "newline");
    char tail;
    if (t) {
        int v[10];
        if (sscanf(t, "anyres %dx%d %dx%d %d,%d,%d,%d %dx%d%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
                   &v[8], &v[9], &tail) != 10)
            return vtc_set_error(VTC_ERR_FORMAT, "%s: metadata \"tiling\" is not \"anyres WxH THxTW y0,x0,h,w OHxOW\"",
                                 path);
        for (int i = 0; i < 10; i++)
            if (v[i] < 0 || v[i] > (1 << 24))
                return vtc_set_error(VTC_ERR_FORMAT, "%s: metadata \"tiling\" holds %d", path, v[i]);
        *tl = (vtc_tiling){ .kind = VTC_TILING_ANYRES, .image_w = v[0], .image_h = v[1], .tiles_h = v[2],
                            .tiles_w = v[3], .unpad_y0 = v[4], .unpad_x0 = v[5], .unpad_h = v[6], .unpad_w = v[7],
                            .out_h = v[8], .out_w = v[9] };
    }
    if (nl) {
        int k = 1;
        while (k <= VTC_NEWLINE_END && strcmp(nl, NEWLINES[k])) k++;
        if (k > VTC_NEWLINE_END)
            return vtc_set_error(VTC_ERR_FORMAT, "%s: metadata \"newline\" is \"%.32s\" (row or end)", path, nl);
        tl->newline = k;
    }
    return VTC_OK;
}

// What the two formats share: grid, token count, the model that made them.
static int common_meta(vtc_st_writer *w, const char *format, int T, int H, int W, int n_input, const char *model,
                       const char *model_format, int feature_layer) {
    int st = vtc_st_writer_meta(w, "format", format);
    if (!st) st = meta_printf(w, "grid", "%d,%d,%d", T, H, W);
    if (!st) st = meta_printf(w, "n_input", "%d", n_input);
    if (!st && model[0]) st = meta_text(w, "model", model);
    if (!st && model_format[0]) st = meta_text(w, "model_format", model_format);
    if (!st && feature_layer) st = meta_printf(w, "feature_layer", "%d", feature_layer);
    return st;
}

// Adds tensor `name` when `present`, with `data` (NULL: filled by a stream).
#define ADD(name, dt, present, data, ...)                                                            \
    if (!st && (present)) {                                                                           \
        const int64_t shape[] = { __VA_ARGS__ };                                                      \
        st = vtc_st_writer_add(w, name, dt, (int)(sizeof shape / sizeof shape[0]), shape, data);      \
    }

// The tensors and metadata of a features file (docs/formats.md#features-file)
// for f's arrays, with T frames of f's grid. pos: the grid's positions, or NULL
// when the file is streamed (per-frame tensors are then added without data and
// filled frame by frame by vtc_features_stream_put; the rest have their data).
static int features_file(vtc_st_writer *w, const vtc_features *f, int T, const int32_t *pos, int streamed,
                         const char *const *metadata) {
    const int64_t n = (int64_t)T * f->H * f->W;
    int st = 0;
#define FADD(name, dt, ptr, ...) ADD(name, dt, ptr, streamed ? NULL : (const void *)(ptr), __VA_ARGS__)
    FADD("features", VTC_DT_F32, f->features, n, f->dim);
    ADD("positions", VTC_DT_I32, streamed || pos, streamed ? NULL : pos, n, 3);
    FADD("cls", VTC_DT_F32, f->cls, T, f->dim);
    FADD("cls_attn", VTC_DT_F32, f->cls_attn, n);
    FADD("cls_attn_last", VTC_DT_F32, f->cls_attn_last, n);
    FADD("cls_attn_first", VTC_DT_F32, f->cls_attn_first, n);
    FADD("keys", VTC_DT_F32, f->keys, n, f->head_dim);
    FADD("embeds", VTC_DT_F32, f->embeds, n, f->lm_dim);
    FADD("cls_embeds", VTC_DT_F32, f->cls_embed, T, f->lm_dim);
    FADD("timestamps", VTC_DT_F64, f->timestamps, T);
#undef FADD
    if (!st && f->newline) {
        const int64_t shape[] = { f->lm_dim };
        st = vtc_st_writer_add(w, "newline", VTC_DT_F32, 1, shape, f->newline);
    }
    if (!st) st = common_meta(w, "vtc-features-1", T, f->H, f->W, (int)n, f->model, f->model_format, f->feature_layer);
    if (!st) st = tiling_meta(w, &f->tiling);
    if (!st && f->cls_is_received) st = vtc_st_writer_meta(w, "cls_attn", "mean received attention (no CLS token)");
    if (!st) st = add_host_meta(w, metadata);
    return st;
}

int vtc_features_save(const vtc_features *f, const char *path, const char *const *metadata) {
    if (!f || !path) return vtc_set_error(VTC_ERR_ARG, "vtc_features_save: NULL argument");
    int32_t *pos = grid_positions(f->T, f->H, f->W);
    vtc_st_writer *w = pos ? vtc_st_writer_new() : NULL;
    int st = w ? features_file(w, f, f->T, pos, 0, metadata) : VTC_ERR_NOMEM;
    if (!st) st = vtc_st_writer_write(w, path);
    vtc_st_writer_free(w);
    free(pos);
    return st;
}

// ---------------------------------------------------------------- streamed

struct vtc_features_stream {
    vtc_st_writer *w;
    vtc_st_stream out;
    int T, open;
    int32_t *pos; // one frame's positions
};

int vtc_features_stream_open(const vtc_features *frame, int T, const char *path, const char *const *metadata,
                             vtc_features_stream **out) {
    *out = NULL;
    if (!frame || frame->T != 1 || T < 1 || !path)
        return vtc_set_error(VTC_ERR_ARG, "vtc_features_stream_open: bad argument");
    vtc_features_stream *s = vtc_zalloc(1, sizeof *s);
    if (!s || !(s->w = vtc_st_writer_new()) || !(s->pos = grid_positions(1, frame->H, frame->W))) {
        vtc_features_stream_abort(s);
        return vtc_set_error(VTC_ERR_NOMEM, "%s: out of memory", path);
    }
    s->T = T;
    int st = features_file(s->w, frame, T, NULL, 1, metadata);
    if (!st) st = vtc_st_stream_begin(s->w, path, &s->out);
    if (st) {
        vtc_features_stream_abort(s);
        return st;
    }
    s->open = 1;
    *out = s;
    return VTC_OK;
}

int vtc_features_stream_put(vtc_features_stream *s, const vtc_features *frame, int t) {
    if (!s || !frame || frame->T != 1 || t < 0 || t >= s->T)
        return vtc_set_error(VTC_ERR_ARG, "vtc_features_stream_put: bad argument");
    const size_t P = (size_t)frame->H * frame->W;
    for (size_t i = 0; i < P; i++) s->pos[3 * i] = t;
    // the per-frame tensors in features_file's order, as the writer holds them
    const struct {
        const void *p;
        size_t bytes;
    } rows[] = {
        { frame->features, P * frame->dim * sizeof(float) }, { s->pos, P * 3 * sizeof(int32_t) },
        { frame->cls, frame->dim * sizeof(float) },           { frame->cls_attn, P * sizeof(float) },
        { frame->cls_attn_last, P * sizeof(float) },          { frame->cls_attn_first, P * sizeof(float) },
        { frame->keys, P * frame->head_dim * sizeof(float) }, { frame->embeds, P * frame->lm_dim * sizeof(float) },
        { frame->cls_embed, frame->lm_dim * sizeof(float) },  { frame->timestamps, sizeof(double) },
    };
    int st = VTC_OK, k = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0] && !st; i++)
        if (rows[i].p) st = vtc_st_stream_put(&s->out, k++, (uint64_t)t * rows[i].bytes, rows[i].p, rows[i].bytes);
    return st;
}

int vtc_features_stream_commit(vtc_features_stream *s) {
    int st = s->open ? vtc_st_stream_commit(&s->out) : VTC_ERR_ARG;
    s->open = 0;
    vtc_features_stream_abort(s);
    return st;
}

void vtc_features_stream_abort(vtc_features_stream *s) {
    if (!s) return;
    if (s->open) vtc_st_stream_abort(&s->out);
    vtc_st_writer_free(s->w);
    free(s->pos);
    free(s);
}

int vtc_tokens_save(const vtc_tokens *t, const char *path, const char *const *metadata) {
    if (!t || !path) return vtc_set_error(VTC_ERR_ARG, "vtc_tokens_save: NULL argument");
    vtc_st_writer *w = vtc_st_writer_new();
    if (!w) return VTC_ERR_NOMEM;
    const int64_t n = t->n;
    int st = 0;
    ADD("tokens", VTC_DT_F32, t->data, t->data, n, t->dim);
    ADD("index", VTC_DT_I32, t->index, t->index, n);
    ADD("positions", VTC_DT_I32, t->pos, t->pos, n, 3);
    ADD("weight", VTC_DT_F32, t->weight, t->weight, n);
    ADD("codes", VTC_DT_I32, t->codes, t->codes, t->grid[0], t->grid[1], t->grid[2]);
    ADD("timestamps", VTC_DT_F64, t->timestamps, t->timestamps, t->grid[0]);
    ADD("tile", VTC_DT_I32, t->tile, t->tile, n);
#undef ADD
    if (!st)
        st = common_meta(w, "vtc-tokens-1", t->grid[0], t->grid[1], t->grid[2], t->n_input, t->model,
                         t->model_format, t->feature_layer);
    if (!st) st = tiling_meta(w, &t->tiling);
    static const char *const PACKS[] = { "native", "unpad", "spatial" };
    if (!st && t->tiling.kind == VTC_TILING_ANYRES && t->pack >= 0 && t->pack <= VTC_PACK_SPATIAL)
        st = vtc_st_writer_meta(w, "pack", PACKS[t->pack]);
    if (!st) st = meta_text(w, "method", t->method);
    if (!st) st = meta_text(w, "parameters", t->params ? t->params : "");
    if (!st) {
        if (t->n_keep) st = meta_printf(w, "keep", "%d", t->n_keep);
        else if (t->keep_ratio) st = meta_printf(w, "keep", "%.17g", t->keep_ratio);
        else st = vtc_st_writer_meta(w, "keep", "all");
    }
    if (!st) st = meta_printf(w, "n_kept", "%d", t->n);
    if (!st) st = meta_printf(w, "retained_ratio", "%.6f", t->n_input > 0 ? (double)t->n / t->n_input : 0.0);
    if (!st) st = vtc_st_writer_meta(w, "space", t->space == VTC_SPACE_EMBEDS ? "embeds" : "features");
    if (!st && t->note[0]) st = meta_text(w, "note", t->note);
    if (!st) st = add_host_meta(w, metadata);
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
        if (!st) st = read_f32(s, path, "cls_attn_first", f->n, 0, 0, &f->cls_attn_first);
        if (!st && f->head_dim) st = read_f32(s, path, "keys", f->n, f->head_dim, 0, &f->keys);
        if (!st && f->lm_dim) st = read_f32(s, path, "embeds", f->n, f->lm_dim, 0, &f->embeds);
        if (!st && f->lm_dim) st = read_f32(s, path, "cls_embeds", T, f->lm_dim, 0, &f->cls_embed);
        if (!st && f->lm_dim) st = read_f32(s, path, "newline", f->lm_dim, 0, 0, &f->newline);
        if (!st) st = tiling_from_meta(s, path, &f->tiling);
        if (!st && !vtc_tiling_fits(&f->tiling, T, H, W))
            st = vtc_set_error(VTC_ERR_FORMAT, "%s: metadata \"tiling\" / \"newline\" do not fit the grid %d,%d,%d",
                               path, T, H, W);
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
        // the model that made them, when the file says (docs/formats.md)
        const char *model = vtc_st_meta(s, "model"), *model_format = vtc_st_meta(s, "model_format"),
                   *layer = vtc_st_meta(s, "feature_layer");
        if (model) snprintf(f->model, sizeof f->model, "%s", model);
        if (model_format) snprintf(f->model_format, sizeof f->model_format, "%s", model_format);
        long long fl = 0;
        if (layer && sscanf(layer, "%lld%c", &fl, &tail) == 1 && fl > 0 && fl <= 100000) f->feature_layer = (int)fl;
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
