// The public API glue: contexts, encoding images (preprocess -> ViT ->
// projector; frames from a source are stream.c's), features containers, pruning
// and pooling.
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/encode.h"
#include "api/pack.h"
#include "base/common.h"
#include "base/grid.h"
#include "vision/anyres.h"
#include "vision/family.h"
#include "vision/model.h"
#include "prune/prune.h"
#include "base/safetensors.h"
#include "base/tensor.h"
#include "vision/preprocess.h"
#include "vision/vit.h"

struct vtc_ctx_params vtc_ctx_params_default(void) {
    struct vtc_ctx_params p = { 0 };
    p.n_threads = 0;
    p.want_embeds = 1;
    p.want_last_attn = 1;
    return p;
}

// Resolves the context's precision: the caller's, else VTC_PRECISION from the
// environment (f32, bf16 or auto), else auto; for bf16, the model's packed
// weights (made by the first bf16 context of the model) and the context's own
// primitives.
static int precision_setup(vtc_ctx *ctx) {
    const int native = vtc_mm_bf16_native();
    const char *isa = vtc_mm_isa(), *env = getenv("VTC_PRECISION"), *from = "";
    ctx->precision = ctx->params.precision;
    if (ctx->precision == VTC_PRECISION_AUTO && env && *env) {
        if (!strcmp(env, "f32")) ctx->precision = VTC_PRECISION_F32;
        else if (!strcmp(env, "bf16")) ctx->precision = VTC_PRECISION_BF16;
        else if (strcmp(env, "auto"))
            return vtc_set_error(VTC_ERR_ARG, "VTC_PRECISION=%.40s: want f32, bf16 or auto", env);
        from = ctx->precision ? " (VTC_PRECISION)" : "";
    }
    const int automatic = ctx->precision == VTC_PRECISION_AUTO;
    if (automatic) ctx->precision = native ? VTC_PRECISION_BF16 : VTC_PRECISION_F32;
    if (ctx->precision == VTC_PRECISION_F32) {
        if (automatic)
            snprintf(ctx->engine, sizeof ctx->engine, "f32 on OpenBLAS (auto: oneDNN's ISA %s has no bf16 units)", isa);
        else
            snprintf(ctx->engine, sizeof ctx->engine, "f32 on OpenBLAS%s", from);
        return VTC_OK;
    }
    snprintf(ctx->engine, sizeof ctx->engine, "bf16 on oneDNN %s%s%s", isa,
             native ? "" : " (emulated: no bf16 units, slower than f32)", automatic ? " (auto)" : from);
    int st = vtc_model_pack_bf16((struct vtc_model *)ctx->model); // once per model, under its own lock
    if (st) return st;
    ctx->bf.pack = ctx->model->bf16_pack;
    ctx->bf.mm = vtc_mm_new();
    return ctx->bf.mm ? VTC_OK : VTC_ERR_NOMEM;
}

static struct vtc_bf16 *ctx_bf(vtc_ctx *ctx) { return ctx->precision == VTC_PRECISION_BF16 ? &ctx->bf : NULL; }

int32_t vtc_ctx_precision(const vtc_ctx *ctx, const char **engine) {
    if (engine) *engine = ctx ? ctx->engine : "";
    return ctx ? ctx->precision : VTC_PRECISION_F32;
}

int vtc_ctx_fail(vtc_ctx *ctx, int status) {
    if (ctx && status) snprintf(ctx->error, sizeof ctx->error, "%s", vtc_last_error());
    return status;
}

vtc_ctx *vtc_ctx_new(const vtc_model *model, struct vtc_ctx_params params) {
    if (!model) {
        vtc_set_error(VTC_ERR_ARG, "vtc_ctx_new: model is NULL");
        return NULL;
    }
    if (params.n_threads < 0 || params.n_threads > 1024) {
        vtc_set_error(VTC_ERR_ARG, "vtc_ctx_new: bad thread count %d", params.n_threads);
        return NULL;
    }
    if (params.precision < VTC_PRECISION_AUTO || params.precision > VTC_PRECISION_BF16) {
        vtc_set_error(VTC_ERR_ARG, "vtc_ctx_new: bad precision %d (0 auto, 1 f32, 2 bf16)", params.precision);
        return NULL;
    }
    vtc_ctx *ctx = vtc_zalloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->model = model;
    ctx->params = params;
    ctx->n_threads = params.n_threads ? params.n_threads : vtc_cpu_count();
    if (precision_setup(ctx)) {
        vtc_ctx_free(ctx);
        return NULL;
    }
    ctx->scratch = model->family->scratch_new(model, ctx->n_threads, ctx->precision == VTC_PRECISION_BF16 ? &ctx->bf : NULL);
    // a native-resolution model's input is sized per image (encode_native)
    const int native = model->layout == VTC_LAYOUT_NATIVE;
    ctx->pixels = native ? NULL : vtc_alloc((size_t)3 * model->image_size * model->image_size, sizeof(float));
    if (!ctx->scratch || (!native && !ctx->pixels)) {
        vtc_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

void vtc_ctx_free(vtc_ctx *ctx) {
    if (!ctx) return;
    if (ctx->scratch) ctx->model->family->scratch_free(ctx->scratch);
    vtc_mm_free(ctx->bf.mm);
    free(ctx->pixels);
    free(ctx);
}

const char *vtc_ctx_error(const vtc_ctx *ctx) { return ctx ? ctx->error : ""; }

// ---------------------------------------------------------------- features

vtc_features *vtc_features_new(int32_t T, int32_t H, int32_t W, int32_t dim, int32_t head_dim, int32_t lm_dim,
                               unsigned fields) {
    if (T <= 0 || H <= 0 || W <= 0 || dim <= 0 || head_dim < 0 || lm_dim < 0 || (int64_t)T * H > INT32_MAX ||
        (int64_t)T * H * W > INT32_MAX ||
        ((fields & VTC_F_KEYS) && head_dim <= 0) || ((fields & (VTC_F_EMBEDS | VTC_F_CLS_EMBED | VTC_F_NEWLINE)) && lm_dim <= 0)) {
        vtc_set_error(VTC_ERR_ARG, "vtc_features_new: bad geometry T=%d H=%d W=%d dim=%d head_dim=%d lm_dim=%d", T, H,
                      W, dim, head_dim, lm_dim);
        return NULL;
    }
    vtc_features *f = vtc_zalloc(1, sizeof *f);
    if (!f) return NULL;
    f->T = T, f->H = H, f->W = W, f->n = T * H * W;
    f->dim = dim, f->head_dim = head_dim, f->lm_dim = lm_dim;
    size_t n = (size_t)f->n;
    int bad = 0;
#define FIELD(bit, ptr, count, type)                                    \
    if (fields & (bit)) {                                               \
        ptr = vtc_zalloc((count), sizeof(type));                        \
        bad |= ptr == NULL;                                             \
    }
    FIELD(VTC_F_FEATURES, f->features, n * dim, float);
    FIELD(VTC_F_CLS, f->cls, (size_t)T * dim, float);
    FIELD(VTC_F_CLS_ATTN, f->cls_attn, n, float);
    FIELD(VTC_F_CLS_ATTN_LAST, f->cls_attn_last, n, float);
    FIELD(VTC_F_KEYS, f->keys, n * head_dim, float);
    FIELD(VTC_F_EMBEDS, f->embeds, n * lm_dim, float);
    FIELD(VTC_F_CLS_EMBED, f->cls_embed, (size_t)T * lm_dim, float);
    FIELD(VTC_F_TIMESTAMPS, f->timestamps, (size_t)T, double);
    FIELD(VTC_F_NEWLINE, f->newline, (size_t)lm_dim, float);
    FIELD(VTC_F_CLS_ATTN_FIRST, f->cls_attn_first, n, float);
#undef FIELD
    if (bad) {
        vtc_features_free(f);
        return NULL;
    }
    return f;
}

void vtc_features_free(vtc_features *f) {
    if (!f) return;
    free(f->features); free(f->cls); free(f->cls_attn); free(f->cls_attn_last);
    free(f->keys); free(f->embeds); free(f->cls_embed); free(f->timestamps); free(f->newline);
    free(f->cls_attn_first);
    free(f);
}

// ---------------------------------------------------------------- encoding

int vtc_preprocess(const vtc_model *model, const vtc_image *img, int32_t aspect, float *pixels) {
    if (!model || !img || !img->rgb || !pixels) return vtc_set_error(VTC_ERR_ARG, "vtc_preprocess: NULL argument");
    if (aspect < 0 || aspect > VTC_ASPECT_RESIZE) return vtc_set_error(VTC_ERR_ARG, "vtc_preprocess: bad aspect %d", aspect);
    if (model->layout == VTC_LAYOUT_NATIVE)
        return vtc_set_error(VTC_ERR_UNSUPPORTED, "vtc_preprocess: a native-resolution model (%s) takes a patch grid "
                             "of the image's own size, not a square tile", model->family->name);
    int mode = aspect ? aspect : model->aspect;
    return vtc_preprocess_rgb(img->rgb, img->width, img->height, model->image_size, mode, model->image_mean,
                              model->image_std, pixels);
}

// The arrays an encode's features get, and the LM width (0 without embeddings).
static unsigned features_fields(const vtc_ctx *ctx, int with_timestamps, int *lm_dim) {
    const vtc_model *m = ctx->model;
    const int want_embeds = ctx->params.want_embeds && m->lm_dim > 0;
    *lm_dim = want_embeds ? m->lm_dim : 0;
    return VTC_F_FEATURES | VTC_F_CLS_ATTN | VTC_F_CLS_ATTN_FIRST | VTC_F_KEYS | (m->has_cls ? VTC_F_CLS : 0) |
           (ctx->params.want_last_attn ? VTC_F_CLS_ATTN_LAST : 0) |
           (want_embeds ? VTC_F_EMBEDS | (m->has_cls ? VTC_F_CLS_EMBED : 0) : 0) |
           (want_embeds && m->newline ? VTC_F_NEWLINE : 0) | (with_timestamps ? VTC_F_TIMESTAMPS : 0);
}

// The bytes vtc_features_new allocates for these arguments (its FIELD list, counted).
static uint64_t features_bytes(uint64_t T, uint64_t H, uint64_t W, uint64_t dim, uint64_t head_dim, uint64_t lm_dim,
                               unsigned fields) {
    const uint64_t n = T * H * W, f = sizeof(float);
    uint64_t b = sizeof(vtc_features);
    b += fields & VTC_F_FEATURES ? n * dim * f : 0;
    b += fields & VTC_F_CLS ? T * dim * f : 0;
    b += fields & VTC_F_CLS_ATTN ? n * f : 0;
    b += fields & VTC_F_CLS_ATTN_LAST ? n * f : 0;
    b += fields & VTC_F_KEYS ? n * head_dim * f : 0;
    b += fields & VTC_F_EMBEDS ? n * lm_dim * f : 0;
    b += fields & VTC_F_CLS_EMBED ? T * lm_dim * f : 0;
    b += fields & VTC_F_TIMESTAMPS ? T * sizeof(double) : 0;
    b += fields & VTC_F_NEWLINE ? lm_dim * f : 0;
    b += fields & VTC_F_CLS_ATTN_FIRST ? n * f : 0;
    return b;
}

int vtc_check_memory(const vtc_ctx *ctx, int T, uint64_t in_flight) {
    const vtc_model *m = ctx->model;
    int lm_dim;
    const unsigned fields = features_fields(ctx, 1, &lm_dim);
    const uint64_t tokens = features_bytes((uint64_t)T, (uint64_t)m->grid_h, (uint64_t)m->grid_w,
                                           (uint64_t)m->feature_dim, (uint64_t)m->head_dim, (uint64_t)lm_dim, fields);
    const uint64_t S = (uint64_t)m->image_size;
    const uint64_t encoder = vtc_vit_scratch_bytes(ctx->scratch) + 3 * S * S * sizeof(float) +
                             (uint64_t)m->grid_h * m->grid_w * (uint64_t)(lm_dim ? vtc_project_hidden(m) : 0) * sizeof(float);
    int st = vtc_check_tokens(ctx, T);
    if (st) return st;
    const uint64_t total = tokens + encoder + in_flight;
    if (total > m->limits.max_memory || total < tokens) // (the sum of sizes checked elsewhere cannot wrap; still)
        return vtc_set_error(VTC_ERR_LIMIT, "the encode would hold %llu bytes (tokens of %d %s%s %llu, frames in "
                             "flight %llu, encoder %llu), over the memory limit of %llu", (unsigned long long)total, T,
                             m->layout == VTC_LAYOUT_SINGLE ? "frame" : "tile", T == 1 ? "" : "s",
                             (unsigned long long)tokens, (unsigned long long)in_flight, (unsigned long long)encoder,
                             (unsigned long long)m->limits.max_memory);
    return VTC_OK;
}

int vtc_check_tokens(const vtc_ctx *ctx, int T) { return vtc_check_grid(ctx, T, ctx->model->grid_h, ctx->model->grid_w); }

int vtc_check_grid(const vtc_ctx *ctx, int T, int H, int W) {
    const vtc_model *m = ctx->model;
    const int tile_tokens = H * W;
    if ((int64_t)T * tile_tokens > m->limits.max_tokens)
        return vtc_set_error(VTC_ERR_LIMIT, "%d %s x %d tokens exceeds the token limit %lld", T,
                             m->layout == VTC_LAYOUT_SINGLE ? "frames" : "tiles", tile_tokens,
                             (long long)m->limits.max_tokens);
    int lm_dim;
    features_fields(ctx, 0, &lm_dim);
    const int widest = lm_dim > m->feature_dim ? lm_dim : m->feature_dim; // of features, keys, embeds
    const uint64_t bytes = (uint64_t)T * tile_tokens * (uint64_t)widest * sizeof(float);
    if (bytes > m->limits.max_memory)
        return vtc_set_error(VTC_ERR_LIMIT, "%d %s: their %d-wide features take %llu bytes, over the memory limit of "
                             "%llu", T, m->layout == VTC_LAYOUT_SINGLE ? "frames" : "tiles", widest,
                             (unsigned long long)bytes, (unsigned long long)m->limits.max_memory);
    return VTC_OK;
}

vtc_features *vtc_features_for(vtc_ctx *ctx, int T, int with_timestamps, int *st) {
    return vtc_features_grid(ctx, T, ctx->model->grid_h, ctx->model->grid_w, with_timestamps, st);
}

vtc_features *vtc_features_grid(vtc_ctx *ctx, int T, int H, int W, int with_timestamps, int *st) {
    const vtc_model *m = ctx->model;
    if ((*st = vtc_check_grid(ctx, T, H, W))) return NULL;
    int lm_dim;
    const unsigned fields = features_fields(ctx, with_timestamps, &lm_dim);
    vtc_features *f = vtc_features_new(T, H, W, m->feature_dim, m->head_dim, lm_dim, fields);
    if (!f) {
        *st = VTC_ERR_NOMEM;
        return NULL;
    }
    f->cls_is_received = m->family->stat == VTC_STAT_RECEIVED;
    struct vtc_model_info info;
    vtc_model_get_info(m, &info);
    snprintf(f->model, sizeof f->model, "%s", info.name);
    snprintf(f->model_format, sizeof f->model_format, "%s", info.format);
    f->feature_layer = info.feature_layer;
    if (f->newline) memcpy(f->newline, m->newline, sizeof(float) * m->lm_dim);
    return f;
}

int vtc_encode_tile(vtc_ctx *ctx, vtc_features *f, int t, const float *pixels, float *tmp) {
    const vtc_model *m = ctx->model;
    const size_t P = (size_t)f->H * f->W, D = (size_t)m->feature_dim;
    double t1 = vtc_now_ms();
    struct vtc_vit_out o = {
        .features = f->features + t * P * D,
        .cls = f->cls ? f->cls + t * D : NULL,
        .cls_attn = f->cls_attn + t * P,
        .cls_attn_last = f->cls_attn_last ? f->cls_attn_last + t * P : NULL,
        .cls_attn_first = f->cls_attn_first ? f->cls_attn_first + t * P : NULL,
        .keys = f->keys + t * P * m->head_dim,
    };
    int st = m->family->forward(m, ctx->scratch, pixels, ctx->n_threads, &o);
    f->flops_encoder += o.flops;
    double t2 = vtc_now_ms();
    f->ms_encode += t2 - t1;
    if (!st && f->embeds) {
        double fl = 0;
        st = vtc_project(m, ctx_bf(ctx), o.features, (int)P, tmp, f->embeds + t * P * m->lm_dim, ctx->n_threads, &fl);
        f->flops_projector += fl;
        if (!st && f->cls_embed) {
            st = vtc_project(m, ctx_bf(ctx), o.cls, 1, tmp, f->cls_embed + (size_t)t * m->lm_dim, 1, &fl);
            f->flops_projector += fl;
        }
        f->ms_project += vtc_now_ms() - t2;
    }
    return st;
}

int vtc_preprocess_tile(const vtc_model *model, const vtc_image *img, int32_t k, int32_t *n_tiles, float *pixels) {
    if (!model || !img || !img->rgb || !n_tiles) return vtc_set_error(VTC_ERR_ARG, "vtc_preprocess_tile: NULL argument");
    if (model->layout == VTC_LAYOUT_NATIVE)
        return vtc_preprocess(model, img, 0, pixels); // refused: no square tiles
    if (model->layout == VTC_LAYOUT_SINGLE) {
        *n_tiles = 1;
        if (k != 0) return vtc_set_error(VTC_ERR_ARG, "vtc_preprocess_tile: tile %d of a one-tile model", k);
        return pixels ? vtc_preprocess(model, img, 0, pixels) : VTC_OK;
    }
    struct vtc_anyres_plan plan;
    int st = vtc_anyres_plan_make(img->width, img->height, model->image_size, model->patch_size, model->pinpoints,
                                  model->n_pinpoints, model->max_tiles, &plan);
    if (st) return st;
    *n_tiles = 1 + plan.tiles_h * plan.tiles_w;
    if (k < 0 || k >= *n_tiles)
        return vtc_set_error(VTC_ERR_ARG, "vtc_preprocess_tile: tile %d of %d", k, *n_tiles);
    if (!pixels) return VTC_OK;
    if (k == 0)
        return vtc_anyres_base(&plan, img->rgb, img->width, img->height, model->image_mean, model->image_std, pixels);
    struct vtc_anyres_canvas cv;
    st = vtc_anyres_canvas_init(&cv, &plan, img->rgb, img->width, img->height);
    if (st) return st;
    st = vtc_anyres_tile(&cv, k - 1, model->image_mean, model->image_std, pixels);
    vtc_anyres_canvas_free(&cv);
    return st;
}

// A native-resolution model (Qwen2-VL): the frames (one image, or a clip's
// frames, all one size) smart_resize'd, grouped by the temporal patch and cut
// into one patch grid (vtc_preprocess_native), through the tower; one token per
// merged unit, the T x H x W merged grid in f, f's frames the temporal slices
// (a slice's timestamp is its first frame's).
int vtc_encode_native(vtc_ctx *ctx, const vtc_image *const *frames, int n_frames, const double *timestamps,
                         vtc_features **out) {
    const vtc_model *m = ctx->model;
    const struct vtc_native *nv = &m->native;
    if (!frames[0] || !frames[0]->rgb) return vtc_set_error(VTC_ERR_ARG, "vtc_encode_frames: frame 0 is NULL");
    const int w = frames[0]->width, h = frames[0]->height, p = m->patch_size, fac = p * nv->merge;
    for (int i = 0; i < n_frames; i++)
        if (!frames[i] || !frames[i]->rgb || frames[i]->width != w || frames[i]->height != h)
            return vtc_set_error(VTC_ERR_ARG, "frame %d is missing or not %dx%d like frame 0", i, w, h);
    int rh, rw, st = vtc_smart_resize(h, w, fac, nv->min_pixels, nv->max_pixels, &rh, &rw);
    if (st) return st;
    if ((uint64_t)rw * rh > m->limits.max_pixels)
        return vtc_set_error(VTC_ERR_LIMIT, "%dx%d image resized to %dx%d: over the pixel limit %llu", w, h, rw, rh,
                             (unsigned long long)m->limits.max_pixels);
    const int grid[3] = { (n_frames + nv->temporal_patch - 1) / nv->temporal_patch, rh / p, rw / p };
    vtc_features *f = vtc_features_grid(ctx, grid[0], rh / fac, rw / fac, timestamps != NULL, &st);
    if (!f) return st;
    const size_t n_patches = (size_t)grid[0] * grid[1] * grid[2], row = (size_t)3 * nv->temporal_patch * p * p;
    const size_t units = (size_t)f->n;
    float *patches = NULL, *tmp = NULL;
    if ((uint64_t)n_patches * row * sizeof(float) > m->limits.max_memory)
        st = vtc_set_error(VTC_ERR_LIMIT, "%dx%d pixels x %d frames: their patches pass the memory limit", rw, rh,
                           n_frames);
    if (!st && !(patches = vtc_alloc(n_patches * row, sizeof(float)))) st = VTC_ERR_NOMEM;
    if (!st && f->embeds && !(tmp = vtc_alloc(units * vtc_project_hidden(m), sizeof(float)))) st = VTC_ERR_NOMEM;
    const uint8_t **rgb = st ? NULL : vtc_alloc((size_t)n_frames, sizeof *rgb);
    if (!st && !rgb) st = VTC_ERR_NOMEM;
    double t0 = vtc_now_ms();
    for (int i = 0; !st && i < n_frames; i++) rgb[i] = frames[i]->rgb;
    if (!st) st = vtc_preprocess_native(rgb, n_frames, w, h, rw, rh, p, nv->merge, nv->temporal_patch,
                                        m->image_mean, m->image_std, patches);
    double t1 = vtc_now_ms();
    f->ms_preprocess += t1 - t0;
    struct vtc_vit_out o = { .features = f->features, .cls_attn = f->cls_attn, .cls_attn_last = f->cls_attn_last,
                             .cls_attn_first = f->cls_attn_first, .keys = f->keys };
    if (!st) st = m->family->forward_grid(m, ctx->scratch, patches, grid, ctx->n_threads, &o);
    f->flops_encoder += o.flops;
    double t2 = vtc_now_ms();
    f->ms_encode += t2 - t1;
    if (!st && f->embeds) {
        double fl = 0;
        st = vtc_project(m, ctx_bf(ctx), f->features, f->n, tmp, f->embeds, ctx->n_threads, &fl);
        f->flops_projector += fl;
        f->ms_project += vtc_now_ms() - t2;
    }
    for (int t = 0; !st && timestamps && t < grid[0]; t++) f->timestamps[t] = timestamps[t * nv->temporal_patch];
    free(rgb);
    free(patches);
    free(tmp);
    if (st) {
        vtc_features_free(f);
        return st;
    }
    if (ctx->params.progress) ctx->params.progress(ctx->params.progress_user, n_frames, n_frames);
    *out = f;
    return VTC_OK;
}

// An anyres image (vision/anyres.h): the base image and the best pinpoint's
// tiles, each through the tower and the projector, stacked as frames; the
// plan's geometry goes into f->tiling for the packing (pack.c).
static int encode_anyres(vtc_ctx *ctx, const vtc_image *img, vtc_features **out) {
    const vtc_model *m = ctx->model;
    struct vtc_anyres_plan plan;
    int st = vtc_anyres_plan_make(img->width, img->height, m->image_size, m->patch_size, m->pinpoints, m->n_pinpoints,
                                  m->max_tiles, &plan);
    if (st) return st;
    if ((uint64_t)img->width * img->height > m->limits.max_pixels ||
        (uint64_t)plan.best_w * plan.best_h > m->limits.max_pixels)
        return vtc_set_error(VTC_ERR_LIMIT, "%dx%d image tiled at %dx%d: over the pixel limit %llu", img->width,
                             img->height, plan.best_w, plan.best_h, (unsigned long long)m->limits.max_pixels);
    const int n_tiles = plan.tiles_h * plan.tiles_w;
    // in flight: the image and its resized canvas (vtc_anyres_canvas_init)
    st = vtc_check_memory(ctx, 1 + n_tiles,
                          3 * ((uint64_t)img->width * img->height + (uint64_t)plan.resized_w * plan.resized_h));
    if (st) return st;
    vtc_features *f = vtc_features_for(ctx, 1 + n_tiles, 0, &st);
    if (!f) return st;
    f->tiling = (vtc_tiling){
        .kind = VTC_TILING_ANYRES, .newline = m->newline ? VTC_NEWLINE_ROW : VTC_NEWLINE_NONE,
        .image_w = img->width, .image_h = img->height, .tiles_h = plan.tiles_h, .tiles_w = plan.tiles_w,
        .unpad_y0 = plan.unpad_y0, .unpad_x0 = plan.unpad_x0, .unpad_h = plan.unpad_h, .unpad_w = plan.unpad_w,
        .out_h = plan.out_h, .out_w = plan.out_w,
    };
    struct vtc_anyres_canvas cv;
    float *tmp = f->embeds ? vtc_alloc((size_t)f->H * f->W * vtc_project_hidden(m), sizeof(float)) : NULL;
    if (f->embeds && !tmp) st = VTC_ERR_NOMEM;
    double t0 = vtc_now_ms();
    if (!st) st = vtc_anyres_base(&plan, img->rgb, img->width, img->height, m->image_mean, m->image_std, ctx->pixels);
    f->ms_preprocess += vtc_now_ms() - t0;
    if (!st) st = vtc_encode_tile(ctx, f, 0, ctx->pixels, tmp);
    t0 = vtc_now_ms();
    int have_canvas = !st && !(st = vtc_anyres_canvas_init(&cv, &plan, img->rgb, img->width, img->height));
    f->ms_preprocess += vtc_now_ms() - t0;
    for (int k = 0; k < n_tiles && !st; k++) {
        t0 = vtc_now_ms();
        st = vtc_anyres_tile(&cv, k, m->image_mean, m->image_std, ctx->pixels);
        f->ms_preprocess += vtc_now_ms() - t0;
        if (!st) st = vtc_encode_tile(ctx, f, 1 + k, ctx->pixels, tmp);
    }
    if (have_canvas) vtc_anyres_canvas_free(&cv);
    free(tmp);
    if (st) {
        vtc_features_free(f);
        return st;
    }
    *out = f;
    return VTC_OK;
}

int vtc_encode_image(vtc_ctx *ctx, const vtc_image *img, vtc_features **out) {
    if (!ctx || !img || !img->rgb || !out) return vtc_ctx_fail(ctx, vtc_set_error(VTC_ERR_ARG, "vtc_encode_image: NULL argument"));
    *out = NULL;
    if (ctx->model->layout == VTC_LAYOUT_SINGLE) // the image is in flight
        return vtc_encode_array(ctx, &img, 1, NULL, 3 * (uint64_t)img->width * (uint64_t)img->height, out);
    if (ctx->model->layout == VTC_LAYOUT_NATIVE) return vtc_ctx_fail(ctx, vtc_encode_native(ctx, &img, 1, NULL, out));
    int st = encode_anyres(ctx, img, out);
    if (!st && ctx->params.progress) ctx->params.progress(ctx->params.progress_user, 1, 1);
    return vtc_ctx_fail(ctx, st);
}

// ---------------------------------------------------------------- pruning

// Tokens in encoder space are mapped to the language model's space, so what
// leaves vtc_prune is what the LM takes: unmodified source tokens from the
// precomputed embeddings when there are any (the projector is per token, so
// that equals projecting after selection), the rest through the projector.
static int to_lm_space(const vtc_model *m, struct vtc_bf16 *bf, const vtc_features *f, vtc_tokens *t, int n_threads) {
    if (t->space != VTC_SPACE_FEATURES) return VTC_OK;
    const int project = m && m->lm_dim > 0;
    const int lm_dim = project ? m->lm_dim : f->lm_dim;
    if (project && t->dim != m->feature_dim)
        return vtc_set_error(VTC_ERR_ARG, "features are %d wide but the model's are %d wide", t->dim, m->feature_dim);
    if (!project && !f->embeds) return VTC_OK; // nothing to map into: stay in encoder space
    // Unmodified source tokens take their precomputed embedding; the rest
    // (merged, synthetic) go through the projector, if there is one.
    int n_proj = 0;
    for (int i = 0; i < t->n; i++) n_proj += !(f->embeds && t->index[i] >= 0 && t->weight[i] == 1.0f);
    if (n_proj && !project) {
        size_t len = strlen(t->note);
        snprintf(t->note + len, sizeof t->note - len, "%smerged tokens stay in encoder space (no model to project them)",
                 len ? "; " : "");
        return VTC_OK;
    }
    if (f->embeds && f->lm_dim != lm_dim)
        return vtc_set_error(VTC_ERR_ARG, "embeddings are %d wide but the projector gives %d", f->lm_dim, lm_dim);
    float *y = vtc_alloc((size_t)t->n * lm_dim, sizeof(float));
    float *rows = n_proj ? vtc_alloc((size_t)n_proj * t->dim, sizeof(float)) : NULL;
    float *tmp = n_proj ? vtc_alloc((size_t)n_proj * vtc_project_hidden(m), sizeof(float)) : NULL;
    float *out = n_proj ? vtc_alloc((size_t)n_proj * lm_dim, sizeof(float)) : NULL;
    if (!y || (n_proj && (!rows || !tmp || !out))) {
        free(y); free(rows); free(tmp); free(out);
        return VTC_ERR_NOMEM;
    }
    int k = 0;
    for (int i = 0; i < t->n; i++)
        if (!(f->embeds && t->index[i] >= 0 && t->weight[i] == 1.0f))
            memcpy(rows + (size_t)k++ * t->dim, t->data + (size_t)i * t->dim, sizeof(float) * t->dim);
    if (n_proj) {
        int st = vtc_project(m, bf, rows, n_proj, tmp, out, n_threads, &t->flops_projector);
        if (st) {
            free(y); free(rows); free(tmp); free(out);
            return st;
        }
    }
    k = 0;
    for (int i = 0; i < t->n; i++) {
        const float *src = (f->embeds && t->index[i] >= 0 && t->weight[i] == 1.0f)
                               ? f->embeds + (size_t)t->index[i] * f->lm_dim
                               : out + (size_t)k++ * lm_dim;
        memcpy(y + (size_t)i * lm_dim, src, sizeof(float) * lm_dim);
    }
    free(rows); free(tmp); free(out);
    free(t->data);
    t->data = y;
    t->dim = lm_dim;
    t->space = VTC_SPACE_EMBEDS;
    return VTC_OK;
}

int vtc_prune(vtc_ctx *ctx, const vtc_features *f, struct vtc_prune_params params, vtc_tokens **out) {
    if (!f || !out) return vtc_ctx_fail(ctx, vtc_set_error(VTC_ERR_ARG, "vtc_prune: NULL argument"));
    const vtc_model *model = ctx ? ctx->model : NULL;
    *out = NULL;
    const struct vtc_method *m = vtc_method_find(params.method);
    if (!m) return vtc_ctx_fail(ctx, VTC_ERR_ARG);
    vtc_tokens *t = NULL;
    int st = vtc_prune_run(m, f, &params, ctx ? ctx->n_threads : vtc_cpu_count(), &t);
    if (!st) st = to_lm_space(model, ctx ? ctx_bf(ctx) : NULL, f, t, ctx ? ctx->n_threads : vtc_cpu_count());
    const float *newline = f->newline ? f->newline : model ? model->newline : NULL;
    if (!st) st = vtc_pack_tokens(f, t, params.pack, newline, f->newline ? f->lm_dim : model ? model->lm_dim : 0);
    if (st) {
        vtc_tokens_free(t);
        return vtc_ctx_fail(ctx, st);
    }
    *out = t;
    return VTC_OK;
}

// ---------------------------------------------------------------- pooling

// The attention a window receives: the sum of its tokens' shares (the window's
// mean times its token count, which is smaller for partial windows at the edges).
static void pool_attention(const float *a, int32_t T, int32_t H, int32_t W, int32_t s, float *out) {
    const int32_t Ho = (H + s - 1) / s, Wo = (W + s - 1) / s;
    vtc_pool_grid(a, T, H, W, 1, s, out);
    for (int32_t i = 0; i < T * Ho * Wo; i++) {
        const int32_t y = (i % (Ho * Wo)) / Wo * s, x = i % Wo * s;
        const int32_t h = H - y < s ? H - y : s, w = W - x < s ? W - x : s;
        out[i] *= (float)(h * w);
    }
}

// Each frame's [H, W, d] grid resized bilinearly to [Ho, Wo, d] (base/grid.h).
static void pool_bilinear(const float *in, int32_t T, int32_t H, int32_t W, int32_t d, int32_t Ho, int32_t Wo,
                          float *out) {
    for (int32_t t = 0; t < T; t++)
        vtc_grid_bilinear(in + (size_t)t * H * W * d, H, W, d, Ho, Wo, out + (size_t)t * Ho * Wo * d);
}

vtc_features *vtc_features_pool(const vtc_features *f, int32_t size, int32_t mode) {
    if (!f || size < 1 || size > 64 || (mode != VTC_POOL_AVG && mode != VTC_POOL_BILINEAR)) {
        vtc_set_error(VTC_ERR_ARG, "vtc_features_pool: pool size must be in [1, 64], mode avg (0) or bilinear (1)");
        return NULL;
    }
    if (f->tiling.kind != VTC_TILING_NONE) {
        vtc_set_error(VTC_ERR_ARG, "vtc_features_pool: an anyres image's tiles are not frames to pool");
        return NULL;
    }
    const int T = f->T, H = f->H, W = f->W, s = size, Ho = (H + s - 1) / s, Wo = (W + s - 1) / s;
    unsigned fields = VTC_F_FEATURES | (f->cls ? VTC_F_CLS : 0) | (f->cls_attn ? VTC_F_CLS_ATTN : 0) |
                      (f->cls_attn_last ? VTC_F_CLS_ATTN_LAST : 0) | (f->keys ? VTC_F_KEYS : 0) |
                      (f->embeds ? VTC_F_EMBEDS : 0) | (f->cls_embed ? VTC_F_CLS_EMBED : 0) |
                      (f->timestamps ? VTC_F_TIMESTAMPS : 0) | (f->newline ? VTC_F_NEWLINE : 0) |
                      (f->cls_attn_first ? VTC_F_CLS_ATTN_FIRST : 0);
    vtc_features *o = vtc_features_new(T, Ho, Wo, f->dim, f->head_dim, f->embeds || f->newline ? f->lm_dim : 0,
                                       fields);
    if (!o) return NULL;
    if (mode == VTC_POOL_AVG) {
        vtc_pool_grid(f->features, T, H, W, f->dim, s, o->features);
        if (f->keys) vtc_pool_grid(f->keys, T, H, W, f->head_dim, s, o->keys);
        if (f->embeds) vtc_pool_grid(f->embeds, T, H, W, f->lm_dim, s, o->embeds);
        // attention a window receives is the sum of its tokens' shares
        if (f->cls_attn) pool_attention(f->cls_attn, T, H, W, s, o->cls_attn);
        if (f->cls_attn_last) pool_attention(f->cls_attn_last, T, H, W, s, o->cls_attn_last);
        if (f->cls_attn_first) pool_attention(f->cls_attn_first, T, H, W, s, o->cls_attn_first);
    } else {
        pool_bilinear(f->features, T, H, W, f->dim, Ho, Wo, o->features);
        if (f->keys) pool_bilinear(f->keys, T, H, W, f->head_dim, Ho, Wo, o->keys);
        if (f->embeds) pool_bilinear(f->embeds, T, H, W, f->lm_dim, Ho, Wo, o->embeds);
        const float mass = (float)((double)H * W / ((double)Ho * Wo)); // keeps each frame's total attention
        const float *a[3] = { f->cls_attn, f->cls_attn_last, f->cls_attn_first };
        float *b[3] = { o->cls_attn, o->cls_attn_last, o->cls_attn_first };
        for (int k = 0; k < 3; k++) {
            if (!a[k]) continue;
            pool_bilinear(a[k], T, H, W, 1, Ho, Wo, b[k]);
            for (int32_t i = 0; i < T * Ho * Wo; i++) b[k][i] *= mass;
        }
    }
    if (f->cls) memcpy(o->cls, f->cls, sizeof(float) * T * f->dim);
    if (f->cls_embed) memcpy(o->cls_embed, f->cls_embed, sizeof(float) * T * f->lm_dim);
    if (f->timestamps) memcpy(o->timestamps, f->timestamps, sizeof(double) * T);
    if (f->newline) memcpy(o->newline, f->newline, sizeof(float) * f->lm_dim);
    o->tiling = f->tiling;
    o->cls_is_received = f->cls_is_received;
    o->flops_encoder = f->flops_encoder;
    o->flops_projector = f->flops_projector;
    o->ms_preprocess = f->ms_preprocess;
    o->ms_encode = f->ms_encode;
    o->ms_project = f->ms_project;
    memcpy(o->model, f->model, sizeof o->model);
    memcpy(o->model_format, f->model_format, sizeof o->model_format);
    o->feature_layer = f->feature_layer;
    return o;
}
