// LLaVA-NeXT / LLaVA-OneVision anyres planning and tile pixels (see anyres.h for
// the steps and the transformers functions each follows).
//
// Python's numerics, reproduced where they decide an integer:
// - int / int is the correctly rounded double quotient (both operands are exact
//   doubles here), int * float converts the int first: plain C double arithmetic;
// - int(x) truncates, math.ceil(x) is ceil;
// - round(x, 7) is the correctly rounded 7-decimal value of the double (CPython's
//   dtoa), which glibc's printf("%.7f") also gives;
// - a // b on floats is not floor(a / b): CPython's float_floor_div works from
//   fmod, so 50 // 1.1111111111111112 is 44.0 where 50 / 1.1111111111111112
//   rounds to 45.0 (a real OneVision window: 1923 x 582 at 384/14).
#include "anyres.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/grid.h"
#include "preprocess.h"

#define MAX_TOWER 8192 // vtc_preprocess_rgb's largest size

// ---------------------------------------------------------------- Python's numerics

// int(round(x, 7)) for 0 <= x < 1e15.
static int64_t py_int_round7(double x) {
    char buf[48];
    snprintf(buf, sizeof buf, "%.7f", x);
    return strtoll(buf, NULL, 10); // the integer part: int() truncates the rounded value
}

// a // b for finite floats, b != 0 (CPython's float_floor_div).
static double py_floordiv(double a, double b) {
    double mod = fmod(a, b), div = (a - mod) / b;
    if (mod != 0.0 && ((b < 0) != (mod < 0))) div -= 1.0;
    if (div == 0.0) return copysign(0.0, a / b);
    double fl = floor(div);
    if (div - fl > 0.5) fl += 1.0;
    return fl;
}

// ---------------------------------------------------------------- pinpoints

int vtc_anyres_pinpoints_parse(const int32_t *flat, int32_t n, enum vtc_pinpoint_order order, struct vtc_pinpoint *out,
                               int32_t cap, int32_t *n_out) {
    if (!flat || !out || !n_out || cap < 0 || (order != VTC_PINPOINTS_HW && order != VTC_PINPOINTS_WH))
        return vtc_set_error(VTC_ERR_ARG, "anyres: bad pinpoint parse arguments");
    *n_out = 0;
    if (n <= 0) return vtc_set_error(VTC_ERR_FORMAT, "anyres: empty pinpoint list");
    if (n % 2) return vtc_set_error(VTC_ERR_FORMAT, "anyres: pinpoint list of %d numbers, not pairs", n);
    if (n / 2 > cap || n / 2 > VTC_ANYRES_MAX_PINPOINTS)
        return vtc_set_error(VTC_ERR_LIMIT, "anyres: %d pinpoints, more than %d", n / 2,
                             cap < VTC_ANYRES_MAX_PINPOINTS ? cap : VTC_ANYRES_MAX_PINPOINTS);
    for (int32_t i = 0; i < n / 2; i++) {
        int32_t a = flat[2 * i], b = flat[2 * i + 1];
        out[i].h = order == VTC_PINPOINTS_HW ? a : b;
        out[i].w = order == VTC_PINPOINTS_HW ? b : a;
    }
    *n_out = n / 2;
    return VTC_OK;
}

int vtc_anyres_pinpoints_check(const struct vtc_pinpoint *pp, int32_t n, int32_t tile) {
    if (tile < 1 || tile > MAX_TOWER)
        return vtc_set_error(VTC_ERR_ARG, "anyres: bad tile size %d (1..%d)", tile, MAX_TOWER);
    if (!pp || n <= 0) return vtc_set_error(VTC_ERR_FORMAT, "anyres: empty pinpoint list");
    if (n > VTC_ANYRES_MAX_PINPOINTS)
        return vtc_set_error(VTC_ERR_LIMIT, "anyres: %d pinpoints, more than %d", n, VTC_ANYRES_MAX_PINPOINTS);
    for (int32_t i = 0; i < n; i++) {
        const int32_t h = pp[i].h, w = pp[i].w;
        if (h <= 0 || w <= 0)
            return vtc_set_error(VTC_ERR_FORMAT, "anyres: pinpoint %d (%d x %d, h x w) is not positive", i, h, w);
        if (h > VTC_ANYRES_MAX_SIDE || w > VTC_ANYRES_MAX_SIDE)
            return vtc_set_error(VTC_ERR_FORMAT, "anyres: pinpoint %d (%d x %d, h x w) exceeds %d pixels a side", i, h,
                                 w, VTC_ANYRES_MAX_SIDE);
        if (h % tile || w % tile)
            return vtc_set_error(VTC_ERR_FORMAT,
                                 "anyres: pinpoint %d (%d x %d, h x w) is not a multiple of the tile size %d", i, h, w,
                                 tile);
        if ((int64_t)h * w > VTC_ANYRES_MAX_PIXELS)
            return vtc_set_error(VTC_ERR_LIMIT, "anyres: pinpoint %d (%d x %d) has more than %d pixels", i, h, w,
                                 VTC_ANYRES_MAX_PIXELS);
        const int64_t tiles = (int64_t)(h / tile) * (w / tile);
        if (tiles > VTC_ANYRES_MAX_TILES)
            return vtc_set_error(VTC_ERR_LIMIT, "anyres: pinpoint %d (%d x %d) makes %lld tiles of %d, more than %d", i,
                                 h, w, (long long)tiles, tile, VTC_ANYRES_MAX_TILES);
    }
    return VTC_OK;
}

// ---------------------------------------------------------------- the plan

// select_best_resolution: the first pinpoint of the largest effective resolution,
// then of the least waste (transformers starts the waste at +inf, so the first
// pinpoint is taken even when nothing keeps a pixel: a 1 x 100000 image).
static int32_t best_pinpoint(int64_t w, int64_t h, const struct vtc_pinpoint *pp, int32_t n) {
    int32_t best = -1;
    int64_t max_effective = 0, min_wasted = 0;
    for (int32_t i = 0; i < n; i++) {
        const double scale = fmin((double)pp[i].w / (double)w, (double)pp[i].h / (double)h);
        const int64_t dw = (int64_t)((double)w * scale), dh = (int64_t)((double)h * scale);
        const int64_t effective = dw * dh < w * h ? dw * dh : w * h;
        const int64_t wasted = (int64_t)pp[i].w * pp[i].h - effective;
        if (effective > max_effective || (effective == max_effective && (best < 0 || wasted < min_wasted))) {
            max_effective = effective;
            min_wasted = wasted;
            best = i;
        }
    }
    return best;
}

int vtc_anyres_plan_make(int32_t w, int32_t h, int32_t tile, int32_t patch, const struct vtc_pinpoint *pp, int32_t n,
                         int32_t max_tiles, struct vtc_anyres_plan *plan) {
    if (!plan) return vtc_set_error(VTC_ERR_ARG, "anyres: no plan to fill");
    memset(plan, 0, sizeof *plan);
    if (w <= 0 || h <= 0) return vtc_set_error(VTC_ERR_ARG, "anyres: bad image size %d x %d", w, h);
    if (w > VTC_ANYRES_MAX_IMAGE_SIDE || h > VTC_ANYRES_MAX_IMAGE_SIDE)
        return vtc_set_error(VTC_ERR_LIMIT, "anyres: image %d x %d exceeds %d pixels a side", w, h,
                             VTC_ANYRES_MAX_IMAGE_SIDE);
    if (tile < 1 || tile > MAX_TOWER || patch < 1 || patch > tile)
        return vtc_set_error(VTC_ERR_ARG, "anyres: bad tower: tile %d (1..%d), patch %d (1..tile)", tile, MAX_TOWER,
                             patch);
    if (max_tiles < 0 || max_tiles > VTC_ANYRES_MAX_TILES)
        return vtc_set_error(VTC_ERR_ARG, "anyres: bad max_tiles %d (0 = none, 1..%d)", max_tiles,
                             VTC_ANYRES_MAX_TILES);
    int st = vtc_anyres_pinpoints_check(pp, n, tile);
    if (st) return st;

    struct vtc_anyres_plan p = { 0 };
    p.image_w = w, p.image_h = h, p.tile = tile, p.patch = patch, p.grid = tile / patch, p.max_tiles = max_tiles;
    p.pinpoint = best_pinpoint(w, h, pp, n);
    p.best_h = pp[p.pinpoint].h, p.best_w = pp[p.pinpoint].w;
    p.tiles_h = p.best_h / tile, p.tiles_w = p.best_w / tile;

    // get_patch_output_size, then _pad_for_patching's margins (divmod by 2: the odd pixel after)
    const double scale_w = (double)p.best_w / w, scale_h = (double)p.best_h / h;
    if (scale_w < scale_h) {
        const double c = ceil((double)h * scale_w);
        p.resized_w = p.best_w;
        p.resized_h = c < p.best_h ? (int32_t)c : p.best_h;
    } else {
        const double c = ceil((double)w * scale_h);
        p.resized_h = p.best_h;
        p.resized_w = c < p.best_w ? (int32_t)c : p.best_w;
    }
    p.pad_top = (p.best_h - p.resized_h) / 2;
    p.pad_left = (p.best_w - p.resized_w) / 2;

    // unpad_image on the stitched grid
    const int32_t g = p.grid;
    p.grid_h = p.tiles_h * g, p.grid_w = p.tiles_w * g;
    p.unpad_h = p.grid_h, p.unpad_w = p.grid_w;
    if ((double)w / h > (double)p.grid_w / p.grid_h) {
        const int64_t kept = py_int_round7((double)h * ((double)p.grid_w / w));
        const int64_t pad = (p.grid_h - kept) / 2; // kept <= grid_h: the margin is never negative
        p.unpad_y0 = (int32_t)pad;
        p.unpad_h = (int32_t)(p.grid_h - 2 * pad);
    } else {
        const int64_t kept = py_int_round7((double)w * ((double)p.grid_h / h));
        const int64_t pad = (p.grid_w - kept) / 2;
        p.unpad_x0 = (int32_t)pad;
        p.unpad_w = (int32_t)(p.grid_w - 2 * pad);
    }
    if (p.unpad_h < 0 || p.unpad_w < 0 || p.unpad_y0 < 0 || p.unpad_x0 < 0)
        return vtc_set_error(VTC_ERR_INTERNAL, "anyres: %d x %d: unpad window %d x %d at (%d, %d) of %d x %d", w, h,
                             p.unpad_h, p.unpad_w, p.unpad_y0, p.unpad_x0, p.grid_h, p.grid_w);

    // OneVision's anyres_max_N shrink
    p.out_h = p.unpad_h, p.out_w = p.unpad_w;
    if (max_tiles > 0) {
        const double ratio =
            sqrt((double)((int64_t)p.unpad_h * p.unpad_w) / (double)((int64_t)max_tiles * g * g));
        if (ratio > 1.1) {
            p.shrunk = 1;
            p.out_h = (int32_t)py_floordiv(p.unpad_h, ratio);
            p.out_w = (int32_t)py_floordiv(p.unpad_w, ratio);
            if (p.out_h < 1 || p.out_w < 1)
                return vtc_set_error(VTC_ERR_LIMIT,
                                     "anyres: the anyres_max_%d shrink of a %d x %d grid (ratio %.4f) leaves %d x %d "
                                     "cells",
                                     max_tiles, p.unpad_h, p.unpad_w, ratio, p.out_h, p.out_w);
        }
    }
    p.n_base = (int64_t)g * g;
    p.n_tokens = p.n_base + (int64_t)p.out_h * (p.out_w + 1);
    *plan = p;
    return VTC_OK;
}

int vtc_anyres_source(const struct vtc_anyres_plan *plan, int32_t oy, int32_t ox, int32_t *y, int32_t *x,
                      int32_t *tile) {
    if (!plan || !y || !x || oy < 0 || ox < 0 || oy >= plan->out_h || ox >= plan->out_w)
        return vtc_set_error(VTC_ERR_ARG, "anyres: no output cell (%d, %d) in %d x %d", oy, ox, plan ? plan->out_h : 0,
                             plan ? plan->out_w : 0);
    int32_t sy = oy, sx = ox;
    if (plan->shrunk) {
        sy = vtc_grid_bilinear_nearest(oy, plan->unpad_h, plan->out_h);
        sx = vtc_grid_bilinear_nearest(ox, plan->unpad_w, plan->out_w);
    }
    *y = plan->unpad_y0 + sy;
    *x = plan->unpad_x0 + sx;
    if (tile) *tile = (*y / plan->grid) * plan->tiles_w + *x / plan->grid;
    return VTC_OK;
}

// ---------------------------------------------------------------- pixels

static int check_norm(const float mean[3], const float std[3]) {
    if (!mean || !std) return vtc_set_error(VTC_ERR_ARG, "anyres: no mean/std");
    for (int c = 0; c < 3; c++)
        if (!isfinite(mean[c]) || !isfinite(std[c]) || std[c] == 0.0f)
            return vtc_set_error(VTC_ERR_ARG, "anyres: bad mean/std (%g, %g) for channel %d", mean[c], std[c], c);
    return VTC_OK;
}

static int plan_fits(const struct vtc_anyres_plan *plan, const uint8_t *rgb, int32_t w, int32_t h) {
    if (!plan || !rgb || w <= 0 || h <= 0 || plan->image_w != w || plan->image_h != h || plan->tile < 1)
        return vtc_set_error(VTC_ERR_ARG, "anyres: image %d x %d does not match the plan's %d x %d", w, h,
                             plan ? plan->image_w : 0, plan ? plan->image_h : 0);
    return VTC_OK;
}

int vtc_anyres_canvas_init(struct vtc_anyres_canvas *cv, const struct vtc_anyres_plan *plan, const uint8_t *rgb,
                           int32_t w, int32_t h) {
    if (!cv) return vtc_set_error(VTC_ERR_ARG, "anyres: no canvas");
    memset(cv, 0, sizeof *cv);
    int st = plan_fits(plan, rgb, w, h);
    if (st) return st;
    uint8_t *buf = vtc_alloc((size_t)plan->resized_w * plan->resized_h, 3);
    if (!buf) return VTC_ERR_NOMEM;
    st = vtc_resize_bicubic_u8(rgb, w, h, buf, plan->resized_w, plan->resized_h);
    if (st) {
        free(buf);
        return vtc_wrap_error(st, "anyres: %d x %d image to %d x %d", w, h, plan->resized_w, plan->resized_h);
    }
    cv->plan = *plan;
    cv->rgb = buf;
    return VTC_OK;
}

void vtc_anyres_canvas_free(struct vtc_anyres_canvas *cv) {
    if (!cv) return;
    free(cv->rgb);
    cv->rgb = NULL;
}

int vtc_anyres_tile_u8(const struct vtc_anyres_canvas *cv, int32_t k, uint8_t *out) {
    if (!cv || !cv->rgb || !out) return vtc_set_error(VTC_ERR_ARG, "anyres: no canvas or output");
    const struct vtc_anyres_plan *p = &cv->plan;
    if (k < 0 || k >= p->tiles_h * p->tiles_w)
        return vtc_set_error(VTC_ERR_ARG, "anyres: no tile %d of %d x %d", k, p->tiles_h, p->tiles_w);
    const int32_t S = p->tile, ty = (k / p->tiles_w) * S, tx = (k % p->tiles_w) * S;
    // the resized image's columns [x0, x1) and rows [y0, y1) in tile coordinates
    const int32_t x0 = p->pad_left - tx, x1 = x0 + p->resized_w, y0 = p->pad_top - ty, y1 = y0 + p->resized_h;
    const int32_t cx0 = x0 > 0 ? x0 : 0, cx1 = x1 < S ? x1 : S;
    memset(out, 0, (size_t)S * S * 3);
    for (int32_t r = y0 > 0 ? y0 : 0; r < (y1 < S ? y1 : S); r++)
        if (cx1 > cx0)
            memcpy(out + ((size_t)r * S + cx0) * 3, cv->rgb + ((size_t)(r - y0) * p->resized_w + (cx0 - x0)) * 3,
                   (size_t)(cx1 - cx0) * 3);
    return VTC_OK;
}

int vtc_anyres_tile(const struct vtc_anyres_canvas *cv, int32_t k, const float mean[3], const float std[3],
                    float *out_chw) {
    int st = check_norm(mean, std);
    if (st) return st;
    if (!out_chw) return vtc_set_error(VTC_ERR_ARG, "anyres: no output");
    if (!cv) return vtc_set_error(VTC_ERR_ARG, "anyres: no canvas");
    const size_t n = (size_t)cv->plan.tile * cv->plan.tile;
    uint8_t *u8 = vtc_alloc(n, 3);
    if (!u8) return VTC_ERR_NOMEM;
    st = vtc_anyres_tile_u8(cv, k, u8);
    if (!st) vtc_normalize_rgb8(u8, n, mean, std, out_chw);
    free(u8);
    return st;
}

int vtc_anyres_base(const struct vtc_anyres_plan *plan, const uint8_t *rgb, int32_t w, int32_t h, const float mean[3],
                    const float std[3], float *out_chw) {
    int st = plan_fits(plan, rgb, w, h);
    if (st) return st;
    st = vtc_preprocess_rgb(rgb, w, h, plan->tile, VTC_ASPECT_RESIZE, mean, std, out_chw);
    return st ? vtc_wrap_error(st, "anyres: base image") : VTC_OK;
}
