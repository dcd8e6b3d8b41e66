// Packing kept tokens into the language model's sequence (pack.h).
//
// An anyres image's features are its tiles stacked like frames (vtc.h,
// vtc_tiling): tile 0 the base image, tiles 1.. the sub-images. transformers'
// pack_image_features (modeling_llava_next.py, modeling_llava_onevision.py)
// gives the model the base tile's tokens, then the sub-images' grids stitched
// into one grid, cut to unpad_image's window, for OneVision shrunk bilinearly
// when larger than anyres_max_N tiles' worth, with image_newline after every
// row. Methods select on the tiles (each tile with its own CLS attention, as
// the official encoder-side pruning codes do); this file then lays the kept
// tokens out (docs/methods.md#tiled-images):
//   VTC_PACK_NATIVE   base tokens in raster order, then the kept stitched tokens
//                     inside the window in raster order, each row that keeps a
//                     token ending with image_newline. With every token kept
//                     (method none) this is exactly the model's sequence,
//                     including OneVision's shrink (synthetic, interpolated
//                     tokens); a selection is never shrunk (its tokens keep
//                     their cells) and the note says so.
//   VTC_PACK_UNPAD    the same without newline rows (HiRED's packing).
//   VTC_PACK_SPATIAL  every kept token, no window, no newline rows, the
//                     stitched grid in raster order (FasterVLM's packing).
// In every mode a token without a cell (a sub-image's CLS token, which VisionZip
// keeps) comes after the stitched grid, in the method's order, at (0, -1, -1).
// A OneVision video (VTC_NEWLINE_END) keeps its tokens in order and ends with
// one image_newline, never pruned (DyCoke's order).
#include "pack.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/grid.h"

static void note(vtc_tokens *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(vtc_tokens *t, const char *fmt, ...) {
    size_t len = strlen(t->note);
    if (len + 2 >= sizeof t->note) return;
    if (len) len += (size_t)snprintf(t->note + len, sizeof t->note - len, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->note + len, sizeof t->note - len, fmt, ap);
    va_end(ap);
}

// One output row: where it comes from in t (src >= 0) or what it is.
struct row {
    int64_t key;     // sort key: part, y, x (newline rows after their row's tokens)
    int32_t src;     // row of t, or -1 for a newline / interpolated token
    int32_t pos[3];
    int32_t tile;
    int32_t order;   // the method's order, to break ties stably
};

static int cmp_row(const void *a, const void *b) {
    const struct row *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

// Builds t's new arrays from rows[n] (data from t's rows, f->newline, or interp
// rows for src == -2 - k). Replaces t's arrays on success.
static int rebuild(const float *newline, vtc_tokens *t, const struct row *rows, int32_t n, const float *interp,
                   float interp_weight) {
    const int32_t dim = t->dim;
    float *data = vtc_alloc((size_t)(n ? n : 1) * dim, sizeof(float));
    int32_t *index = vtc_alloc((size_t)(n ? n : 1), sizeof(int32_t));
    int32_t *pos = vtc_alloc((size_t)(n ? n : 1) * 3, sizeof(int32_t));
    int32_t *tile = vtc_alloc((size_t)(n ? n : 1), sizeof(int32_t));
    float *weight = vtc_alloc((size_t)(n ? n : 1), sizeof(float));
    if (!data || !index || !pos || !tile || !weight) {
        free(data); free(index); free(pos); free(tile); free(weight);
        return VTC_ERR_NOMEM;
    }
    for (int32_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        float *dst = data + (size_t)i * dim;
        if (r->src >= 0) {
            memcpy(dst, t->data + (size_t)r->src * dim, sizeof(float) * dim);
            index[i] = t->index[r->src];
            weight[i] = t->weight[r->src];
        } else if (r->src == -1) { // image_newline
            memcpy(dst, newline, sizeof(float) * dim);
            index[i] = -1;
            weight[i] = 0.0f;
        } else { // an interpolated token of OneVision's shrink
            memcpy(dst, interp + (size_t)(-2 - r->src) * dim, sizeof(float) * dim);
            index[i] = -1;
            weight[i] = interp_weight;
        }
        memcpy(pos + 3 * i, r->pos, sizeof r->pos);
        tile[i] = r->tile;
    }
    free(t->data); free(t->index); free(t->pos); free(t->tile); free(t->weight);
    t->data = data, t->index = index, t->pos = pos, t->tile = tile, t->weight = weight;
    t->n = n;
    return VTC_OK;
}

// A OneVision video: the tokens as they are, then one newline.
static int pack_video(const vtc_features *f, vtc_tokens *t, const float *newline, int32_t lm_dim) {
    const int with_nl = newline && t->space == VTC_SPACE_EMBEDS && t->dim == lm_dim;
    struct row *rows = vtc_alloc((size_t)t->n + 1, sizeof *rows);
    if (!rows) return VTC_ERR_NOMEM;
    for (int32_t i = 0; i < t->n; i++)
        rows[i] = (struct row){ .src = i, .pos = { t->pos[3 * i], t->pos[3 * i + 1], t->pos[3 * i + 2] }, .tile = 0 };
    int32_t n = t->n;
    if (with_nl) rows[n++] = (struct row){ .src = -1, .pos = { f->T - 1, f->H - 1, -1 }, .tile = -1 };
    else note(t, "no image_newline: the tokens are not in the language model's space");
    t->n_input = f->n + 1;
    int st = rebuild(newline, t, rows, n, NULL, 0);
    free(rows);
    return st;
}

// OneVision's shrink of the whole window, every token kept (method none): the
// base tokens, then the window's rows of t resized bilinearly, newline per row.
static int pack_shrunk(const vtc_features *f, vtc_tokens *t, int newlines, const float *newline) {
    const vtc_tiling *tl = &f->tiling;
    const int32_t H = f->H, W = f->W, hw = H * W, dim = t->dim;
    const int32_t uh = tl->unpad_h, uw = tl->unpad_w, oh = tl->out_h, ow = tl->out_w;
    float *win = vtc_alloc((size_t)uh * uw * dim, sizeof(float));
    float *out = vtc_alloc((size_t)oh * ow * dim, sizeof(float));
    struct row *rows = vtc_alloc((size_t)hw + (size_t)oh * (ow + 1), sizeof *rows);
    int st = win && out && rows ? VTC_OK : VTC_ERR_NOMEM;
    for (int32_t y = 0; y < uh && !st; y++)
        for (int32_t x = 0; x < uw; x++) {
            const int32_t Y = tl->unpad_y0 + y, X = tl->unpad_x0 + x;
            const int32_t k = (Y / H) * tl->tiles_w + X / W, i = (1 + k) * hw + (Y % H) * W + X % W;
            memcpy(win + ((size_t)y * uw + x) * dim, t->data + (size_t)i * dim, sizeof(float) * dim);
        }
    int32_t n = 0;
    if (!st) {
        vtc_grid_bilinear(win, uh, uw, dim, oh, ow, out);
        for (int32_t i = 0; i < hw; i++)
            rows[n++] = (struct row){ .src = i, .pos = { 0, i / W, i % W }, .tile = 0 };
        for (int32_t oy = 0; oy < oh; oy++) {
            const int32_t Y = tl->unpad_y0 + vtc_grid_bilinear_nearest(oy, uh, oh);
            for (int32_t ox = 0; ox < ow; ox++) {
                const int32_t X = tl->unpad_x0 + vtc_grid_bilinear_nearest(ox, uw, ow);
                rows[n++] = (struct row){ .src = -2 - (oy * ow + ox), .pos = { 0, oy, ox },
                                          .tile = 1 + (Y / H) * tl->tiles_w + X / W };
            }
            if (newlines) rows[n++] = (struct row){ .src = -1, .pos = { 0, oy, -1 }, .tile = -1 };
        }
        st = rebuild(newline, t, rows, n, out, (float)((double)uh * uw / ((double)oh * ow)));
    }
    free(win); free(out); free(rows);
    return st;
}

static int pack_anyres(const vtc_features *f, vtc_tokens *t, int pack, const float *newline, int32_t lm_dim) {
    const vtc_tiling *tl = &f->tiling;
    t->pack = pack;
    const int32_t H = f->H, W = f->W, SH = tl->tiles_h * H, SW = tl->tiles_w * W;
    const int in_lm_space = t->space == VTC_SPACE_EMBEDS && newline && t->dim == lm_dim;
    // what the unpruned model takes: the base, the window (shrunk), a newline per row
    t->n_input = (int32_t)((int64_t)H * W + (int64_t)tl->out_h * (tl->out_w + (tl->newline == VTC_NEWLINE_ROW)));
    int newlines = pack == VTC_PACK_NATIVE && tl->newline == VTC_NEWLINE_ROW;
    if (newlines && !in_lm_space) {
        newlines = 0;
        note(t, "no image_newline rows: the tokens are not in the language model's space");
    }
    int all = !strcmp(t->method, "none") && t->n == f->n;
    for (int32_t i = 0; all && i < t->n; i++) all = t->index[i] == i;
    const int shrunk = tl->out_h != tl->unpad_h || tl->out_w != tl->unpad_w;
    if (all && shrunk && pack != VTC_PACK_SPATIAL) return pack_shrunk(f, t, newlines, newline);
    if (shrunk && pack != VTC_PACK_SPATIAL)
        note(t, "OneVision's shrink of the %dx%d window is not applied to a selection: kept tokens keep their cells",
             tl->unpad_h, tl->unpad_w);
    struct row *rows = vtc_alloc((size_t)t->n + (size_t)SH + 1, sizeof *rows);
    if (!rows) return VTC_ERR_NOMEM;
    const int unpad = pack != VTC_PACK_SPATIAL;
    int32_t n = 0, dropped = 0;
    for (int32_t i = 0; i < t->n; i++) {
        const int32_t tt = t->pos[3 * i], y = t->pos[3 * i + 1], x = t->pos[3 * i + 2];
        if (tt <= 0) { // the base image (a token without a grid cell stays with it)
            rows[n++] = (struct row){ .key = (int64_t)y * W + x, .src = i, .pos = { 0, y, x }, .tile = 0, .order = i };
            continue;
        }
        if (y < 0 || x < 0) { // a token with no cell (a tile's CLS token): after the stitched grid
            rows[n++] = (struct row){ .key = (int64_t)H * W + (int64_t)SH * (SW + 1), .src = i, .pos = { 0, -1, -1 },
                                      .tile = tt, .order = i };
            continue;
        }
        const int32_t k = tt - 1, Y = (k / tl->tiles_w) * H + y, X = (k % tl->tiles_w) * W + x;
        int32_t py = Y, px = X;
        if (unpad) {
            if (Y < tl->unpad_y0 || Y >= tl->unpad_y0 + tl->unpad_h || X < tl->unpad_x0 ||
                X >= tl->unpad_x0 + tl->unpad_w) {
                dropped++;
                continue;
            }
            py = Y - tl->unpad_y0, px = X - tl->unpad_x0;
        }
        // stitched rows after the base; a row's newline sorts after its tokens
        rows[n++] = (struct row){ .key = (int64_t)H * W + ((int64_t)py * (SW + 1) + px), .src = i,
                                  .pos = { 0, py, px }, .tile = tt, .order = i };
    }
    qsort(rows, (size_t)n, sizeof *rows, cmp_row);
    if (newlines) { // after each stitched row that keeps a token
        int32_t m = n, last_row = -1;
        for (int32_t i = 0; i < m; i++) {
            if (rows[i].tile == 0 || rows[i].pos[2] < 0) continue;
            const int32_t y = rows[i].pos[1];
            if (y != last_row) {
                rows[n++] = (struct row){ .key = (int64_t)H * W + ((int64_t)y * (SW + 1) + SW), .src = -1,
                                          .pos = { 0, y, -1 }, .tile = -1, .order = INT32_MAX };
                last_row = y;
            }
        }
        qsort(rows, (size_t)n, sizeof *rows, cmp_row);
    }
    if (dropped && !all) note(t, "%d kept tokens fell in the padding unpad_image removes", dropped);
    int st = rebuild(newline, t, rows, n, NULL, 0);
    free(rows);
    return st;
}

int vtc_tiling_fits(const vtc_tiling *tl, int32_t T, int32_t H, int32_t W) {
    if (tl->newline < VTC_NEWLINE_NONE || tl->newline > VTC_NEWLINE_END) return 0;
    if (tl->kind == VTC_TILING_NONE) return tl->newline != VTC_NEWLINE_ROW;
    if (tl->kind != VTC_TILING_ANYRES || tl->newline == VTC_NEWLINE_END) return 0;
    if (tl->tiles_h < 1 || tl->tiles_w < 1 || (int64_t)tl->tiles_h * tl->tiles_w + 1 != T) return 0;
    const int64_t SH = (int64_t)tl->tiles_h * H, SW = (int64_t)tl->tiles_w * W;
    if (tl->unpad_y0 < 0 || tl->unpad_x0 < 0 || tl->unpad_h < 0 || tl->unpad_w < 0 ||
        tl->unpad_y0 + (int64_t)tl->unpad_h > SH || tl->unpad_x0 + (int64_t)tl->unpad_w > SW)
        return 0;
    const int shrunk = tl->out_h != tl->unpad_h || tl->out_w != tl->unpad_w;
    if (shrunk && (tl->out_h < 1 || tl->out_w < 1 || tl->unpad_h < 1 || tl->unpad_w < 1 ||
                   tl->out_h > tl->unpad_h || tl->out_w > tl->unpad_w))
        return 0;
    return 1;
}

int vtc_pack_tokens(const vtc_features *f, vtc_tokens *t, int pack, const float *newline, int32_t lm_dim) {
    if (pack < VTC_PACK_NATIVE || pack > VTC_PACK_SPATIAL)
        return vtc_set_error(VTC_ERR_ARG, "vtc_prune: bad pack mode %d", pack);
    const vtc_tiling *tl = &f->tiling;
    if (!vtc_tiling_fits(tl, f->T, f->H, f->W))
        return vtc_set_error(VTC_ERR_ARG, "features: a tiling (kind %d, newline %d) that does not fit their %dx%dx%d "
                             "grid", tl->kind, tl->newline, f->T, f->H, f->W);
    if (tl->kind == VTC_TILING_ANYRES) return pack_anyres(f, t, pack, newline, lm_dim);
    if (tl->newline == VTC_NEWLINE_END) return pack_video(f, t, newline, lm_dim);
    return VTC_OK;
}
