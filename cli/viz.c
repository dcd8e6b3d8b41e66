// --viz: the model's view of each frame (after preprocessing) with dropped
// patches dimmed and kept patches outlined; tokens that stand for several
// (merged) are outlined in a second colour; codebook methods colour each patch
// by its code. Several frames make a contact sheet. An anyres image's sheet
// starts with the original image, its kept tokens drawn through the tile
// mapping (base-image tokens in a third colour), then the base tile and each
// sub-image as the model sees them. Written with libpng, atomically.
#include "viz.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "base/common.h"
#include "base/mapfile.h"

enum { SHEET_COLS = 4, MAX_SHEET_FRAMES = 32, GAP = 4 };

struct membuf {
    unsigned char *data;
    size_t len, cap;
    int failed;
};

static void mem_write(png_structp png, png_bytep data, png_size_t len) {
    struct membuf *m = png_get_io_ptr(png);
    if (m->failed) return;
    if (m->len + len > m->cap) {
        size_t cap = (m->cap ? m->cap * 2 : 65536);
        while (cap < m->len + len) cap *= 2;
        unsigned char *p = realloc(m->data, cap);
        if (!p) {
            m->failed = 1;
            return;
        }
        m->data = p;
        m->cap = cap;
    }
    memcpy(m->data + m->len, data, len);
    m->len += len;
}

static void mem_flush(png_structp png) { (void)png; }

static int png_encode(const uint8_t *rgb, int w, int h, struct membuf *out) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        return vtc_set_error(VTC_ERR_NOMEM, "cannot create PNG writer");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return vtc_set_error(VTC_ERR_INTERNAL, "PNG encoding failed");
    }
    png_set_write_fn(png, out, mem_write, mem_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_bytep)(rgb + (size_t)y * w * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return out->failed ? vtc_set_error(VTC_ERR_NOMEM, "out of memory encoding PNG") : 0;
}

// A distinct colour per group id (golden-ratio hue walk).
static void group_colour(int id, uint8_t c[3]) {
    double h = (id * 0.61803398875);
    h -= (int)h;
    double r = 0.5 + 0.5 * cos(6.2831853 * (h + 0.0)), g = 0.5 + 0.5 * cos(6.2831853 * (h + 0.333)),
           b = 0.5 + 0.5 * cos(6.2831853 * (h + 0.667));
    c[0] = (uint8_t)(40 + 215 * r), c[1] = (uint8_t)(40 + 215 * g), c[2] = (uint8_t)(40 + 215 * b);
}

// A 2-pixel frame around the w x h cell at (x0, y0) of an image stride_px wide.
static void outline(uint8_t *img, int stride_px, int x0, int y0, int w, int h, const uint8_t c[3]) {
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++)
            if (x - x0 < 2 || x0 + w - 1 - x < 2 || y - y0 < 2 || y0 + h - 1 - y < 2)
                memcpy(img + ((size_t)y * stride_px + x) * 3, c, 3);
}

// Panel 0 of an anyres image: the original image fitted into S x S, each kept
// token outlined over the part of the image it stands for: a base token over
// its cell of the whole image, a stitched token over its cell of unpad_image's
// window (which spans the image), or of OneVision's shrunk grid for the
// interpolated tokens of an unpruned image.
static void draw_original(uint8_t *sheet, int W, int S, const vtc_image *img, const vtc_tokens *tok, int G) {
    const vtc_tiling *tl = &tok->tiling;
    const double scale = fmin((double)S / img->width, (double)S / img->height);
    const int dw = (int)(img->width * scale) > 0 ? (int)(img->width * scale) : 1;
    const int dh = (int)(img->height * scale) > 0 ? (int)(img->height * scale) : 1;
    const int ox = (S - dw) / 2, oy = (S - dh) / 2;
    for (int y = 0; y < dh; y++)
        for (int x = 0; x < dw; x++) {
            const int sx = (int)((x + 0.5) / scale), sy = (int)((y + 0.5) / scale);
            const uint8_t *src = img->rgb + ((size_t)(sy < img->height ? sy : img->height - 1) * img->width +
                                             (size_t)(sx < img->width ? sx : img->width - 1)) * 3;
            for (int c = 0; c < 3; c++) sheet[((size_t)(oy + y) * W + ox + x) * 3 + c] = (uint8_t)(src[c] * 0.45f);
        }
    const uint8_t KEPT[3] = { 255, 210, 0 }, BASE[3] = { 120, 255, 120 };
    for (int i = 0; i < tok->n; i++) {
        const int tile = tok->tile ? tok->tile[i] : -1, *p = tok->pos + 3 * i;
        if (tile < 0 || p[1] < 0 || p[2] < 0) continue; // a newline row
        int gh = G, gw = G, y = p[1], x = p[2];
        if (tile > 0) {
            const int synthetic = tok->index[i] < 0 && (tl->out_h != tl->unpad_h || tl->out_w != tl->unpad_w);
            gh = synthetic ? tl->out_h : tl->unpad_h, gw = synthetic ? tl->out_w : tl->unpad_w;
            if (tok->pack == VTC_PACK_SPATIAL) y -= tl->unpad_y0, x -= tl->unpad_x0;
            if (y < 0 || x < 0 || y >= gh || x >= gw) continue; // in the padding: no place in the image
        }
        const int x0 = x * dw / gw, x1 = (x + 1) * dw / gw, y0 = y * dh / gh, y1 = (y + 1) * dh / gh;
        if (x1 > x0 && y1 > y0) outline(sheet, W, ox + x0, oy + y0, x1 - x0, y1 - y0, tile ? KEPT : BASE);
    }
}

int viz_write(const char *path, const vtc_model *model, struct cli_input *in, const vtc_features *f,
              const vtc_tokens *tok, int aspect) {
    struct vtc_model_info mi;
    vtc_model_get_info(model, &mi);
    // cells of the token grid (the model's patches, or pooled windows)
    const int S = mi.image_size, G = f->W, p = (S + G - 1) / G;
    const int T = f->T < MAX_SHEET_FRAMES ? f->T : MAX_SHEET_FRAMES;
    // an anyres image: the original image first (panel 0), then its tiles
    const int tiled = f->tiling.kind == VTC_TILING_ANYRES, first = tiled && tok && tok->tile;
    const int panels = T + first;
    const int cols = panels < SHEET_COLS ? panels : SHEET_COLS, rows = (panels + cols - 1) / cols;
    const int W = cols * S + (cols - 1) * GAP, H = rows * S + (rows - 1) * GAP;
    const size_t n = (size_t)f->n;
    uint8_t *sheet = vtc_zalloc((size_t)W * H, 3);
    float *pix = vtc_alloc((size_t)3 * S * S, sizeof(float));
    int8_t *state = vtc_zalloc(n, 1); // 0 dropped, 1 kept, 2 kept and merged
    int st = (!sheet || !pix || !state) ? VTC_ERR_NOMEM : 0;
    if (!st && tok) {
        for (int i = 0; i < tok->n; i++) {
            int32_t idx = tok->index[i];
            if (idx >= 0 && (size_t)idx < n) state[idx] = tok->weight[i] > 1.0f ? 2 : 1;
        }
    } else if (!st) {
        memset(state, 1, n);
    }
    // an anyres image's tiles, base first, each with its own tokens; with every
    // token kept, all of them (OneVision's shrink makes them synthetic)
    if (!st && tiled && tok && !strcmp(tok->method, "none")) memset(state, 1, n);
    if (!st && first) draw_original(sheet, W, S, in->image->frames[0], tok, G);
    const uint8_t KEPT[3] = { 255, 210, 0 }, MERGED[3] = { 0, 220, 255 };
    for (int t = 0; t < T && !st; t++) {
        int32_t n_tiles = 0;
        if (tiled) {
            st = vtc_preprocess_tile(model, in->image->frames[0], t, &n_tiles, pix);
        } else { // a video's frame is decoded again (the encode kept none)
            vtc_image *img = NULL;
            st = cli_input_frame(in, t, &img);
            if (!st) st = vtc_preprocess(model, img, aspect, pix);
            vtc_image_free(img);
        }
        if (st) break;
        int ox = ((t + first) % cols) * (S + GAP), oy = ((t + first) / cols) * (S + GAP);
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                size_t ti = (size_t)t * G * G + (size_t)(y / p) * G + (size_t)(x / p);
                uint8_t code_c[3];
                if (tok && tok->codes) group_colour(tok->codes[ti], code_c);
                for (int c = 0; c < 3; c++) {
                    float v = pix[(size_t)c * S * S + (size_t)y * S + x] * mi.image_std[c] + mi.image_mean[c];
                    v = v < 0 ? 0 : v > 1 ? 1 : v;
                    if (tok && tok->codes) v = 0.45f * v + 0.55f * code_c[c] / 255.0f;
                    else if (!state[ti]) v *= 0.3f;
                    sheet[((size_t)(oy + y) * W + ox + x) * 3 + c] = (uint8_t)(v * 255.0f + 0.5f);
                }
            }
        if (tok && !tok->codes)
            for (int g = 0; g < G * G; g++) {
                int s = state[(size_t)t * G * G + g];
                int cx = (g % G) * p, cy = (g / G) * p;
                if (s && cx < S && cy < S)
                    outline(sheet, W, ox + cx, oy + cy, cx + p <= S ? p : S - cx, cy + p <= S ? p : S - cy,
                            s == 2 ? MERGED : KEPT);
            }
    }
    struct membuf buf = { 0 };
    if (!st) st = png_encode(sheet, W, H, &buf);
    if (!st) st = vtc_write_file_atomic(path, buf.data, buf.len);
    free(buf.data);
    free(sheet);
    free(pix);
    free(state);
    return st;
}
