// Image decoding to 8-bit RGB with libpng and libjpeg-turbo, byte-identical to
// Pillow 9.4's Image.open(p).convert('RGB') (checked by tests/test_image.c on
// fixtures written by tools/gen_image_fixtures.py). What Pillow does, and so we:
// - alpha is dropped, never composited (RGBA, LA, a palette's or colour key's tRNS);
// - 1/2/4-bit gray expands by bit replication (Pillow's "1", "L;2", "L;4");
// - palettes are looked up in a 256-entry table holding PLTE and, past its end,
//   gray i,i,i (Pillow's default palette; libpng would give black there);
// - 16-bit RGB(A) and gray+alpha keep the high byte ("RGB;16B", "LA;16B");
// - 16-bit gray opens as mode "I" and converts by clipping to [0, 255], not by
//   taking the high byte;
// - a PNG whose pixel rows are all present decodes even if what follows them is
//   missing or broken (no IEND, a bad chunk after the image data), as Pillow
//   only reads on until the last row;
// - PNG CRCs are checked in the chunks before the image data (IHDR, PLTE,
//   ancillary: a mismatch is an error), not from IDAT on;
// - unknown PNG chunks are skipped, critical ones too;
// - JPEG: libjpeg-turbo defaults (islow IDCT, fancy upsampling), the same library
//   Debian's Pillow links; gray replicated; CMYK and YCCK decoded to CMYK, read
//   as Adobe-inverted (Pillow's "CMYK;I", whatever the markers say) and converted
//   with Pillow's cmyk2rgb (r = 255-k - (c*(255-k))/255, rounded);
// - a truncated JPEG is an error ("image file is truncated" in Pillow); recoverable
//   corruption (libjpeg warnings) is not;
// - EXIF orientation is not applied (Image.open does not apply it).
// Deliberate differences: a progressive JPEG with more than VTC_JPEG_MAX_SCANS
// scans is refused (a known CPU exhaustion vector; real files have about 10),
// and one whose coefficient buffers exceed limits->max_memory too.
// Sizes are checked against the limits before any pixel buffer exists.
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include "base/common.h"
#include "base/mapfile.h"

#define VTC_JPEG_MAX_SCANS 1000
#define VTC_STR_(x) #x
#define VTC_STR(x) VTC_STR_(x)

void vtc_image_free(vtc_image *img) {
    if (!img) return;
    free(img->rgb);
    free(img);
}

static vtc_image *image_alloc(int32_t w, int32_t h) {
    vtc_image *img = vtc_zalloc(1, sizeof *img);
    if (!img) return NULL;
    img->width = w;
    img->height = h;
    img->rgb = vtc_alloc((size_t)w * (size_t)h, 3);
    if (!img->rgb) {
        free(img);
        return NULL;
    }
    return img;
}

// The size a file declares, checked before anything is allocated for it.
static vtc_image *image_new_checked(uint32_t w, uint32_t h, const struct vtc_limits *lim, const char *name) {
    if (w == 0 || h == 0) {
        vtc_set_error(VTC_ERR_FORMAT, "%s: image has zero size (%ux%u)", name, w, h);
        return NULL;
    }
    uint64_t px = (uint64_t)w * h;
    if (px > lim->max_pixels || w > INT32_MAX || h > INT32_MAX) {
        vtc_set_error(VTC_ERR_LIMIT,
                      "%s: %ux%u = %llu pixels exceeds the limit of %llu pixels (decompression bomb?)", name, w, h,
                      (unsigned long long)px, (unsigned long long)lim->max_pixels);
        return NULL;
    }
    if (lim->max_memory && px * 3 > lim->max_memory) {
        vtc_set_error(VTC_ERR_LIMIT, "%s: %ux%u RGB needs %llu bytes, over the memory limit of %llu", name, w, h,
                      (unsigned long long)px * 3, (unsigned long long)lim->max_memory);
        return NULL;
    }
    return image_alloc((int32_t)w, (int32_t)h);
}

// ---------------------------------------------------------------- PNG
//
// libpng's progressive reader: all bytes are pushed at once and rows arrive in
// a callback, interlaced images as their seven reduced passes, which are
// placed here. Knowing when the last row arrived is what lets a broken tail
// be ignored as Pillow does.

enum { PX_GRAY, PX_GRAY16, PX_RGB, PX_PALETTE };

struct png_dec {
    const char *name;
    const struct vtc_limits *lim;
    vtc_image *img;
    int status;          // our own failure raised inside a callback (limit, memory), else 0
    char msg[200];       // libpng's error message
    int kind;            // PX_*: how one transformed pixel becomes RGB
    int bpp;             // bytes per transformed pixel
    int interlaced;
    int ready;           // the info callback went through: rows may come
    uint64_t rows_expected, rows_seen;
    uint8_t palette[256 * 3];
};

static void png_on_error(png_structp png, png_const_charp msg) {
    struct png_dec *d = png_get_error_ptr(png);
    snprintf(d->msg, sizeof d->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

// Pillow skips every chunk it does not know, critical ones included; libpng
// would stop at an unknown critical chunk unless told it was handled.
static int png_on_unknown_chunk(png_structp png, png_unknown_chunkp chunk) {
    (void)png, (void)chunk;
    return 1;
}

static void png_on_info(png_structp png, png_infop info) {
    struct png_dec *d = png_get_progressive_ptr(png);
    png_uint_32 w, h;
    int depth, ctype, interlace;
    // With benign errors on, libpng's progressive reader announces the image
    // again at an IDAT that follows another chunk; one image per file.
    if (d->img) png_error(png, "image data (IDAT) split by another chunk");
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    d->img = image_new_checked(w, h, d->lim, d->name);
    if (!d->img) {
        d->status = vtc_last_status();
        png_error(png, "rejected");
    }
    d->interlaced = interlace != PNG_INTERLACE_NONE;
    if (!d->interlaced) {
        d->rows_expected = h;
    } else { // the seven reduced images, less the empty ones (no columns)
        d->rows_expected = 0;
        for (int pass = 0; pass < 7; pass++)
            if (PNG_PASS_COLS(w, pass) > 0) d->rows_expected += PNG_PASS_ROWS(h, pass);
    }
    if (ctype == PNG_COLOR_TYPE_PALETTE) {
        for (int i = 0; i < 256; i++) memset(d->palette + i * 3, i, 3);
        png_colorp plte;
        int n = 0;
        if (png_get_PLTE(png, info, &plte, &n) & PNG_INFO_PLTE)
            for (int i = 0; i < n && i < 256; i++) {
                d->palette[i * 3] = plte[i].red;
                d->palette[i * 3 + 1] = plte[i].green;
                d->palette[i * 3 + 2] = plte[i].blue;
            }
        if (depth < 8) png_set_packing(png); // one index per byte
        d->kind = PX_PALETTE;
    } else if (ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_GRAY_ALPHA) {
        if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);
        d->kind = depth == 16 && ctype == PNG_COLOR_TYPE_GRAY ? PX_GRAY16 : PX_GRAY;
    } else {
        d->kind = PX_RGB;
    }
    if (depth == 16 && d->kind != PX_GRAY16) png_set_strip_16(png);
    // Past IHDR and PLTE, as Pillow checks no CRC of the image data.
    png_set_crc_action(png, PNG_CRC_WARN_USE, PNG_CRC_ERROR_QUIT);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info), out_depth = png_get_bit_depth(png, info);
    d->bpp = channels * (out_depth == 16 ? 2 : 1);
    int ok = d->kind == PX_PALETTE ? channels == 1 && out_depth == 8
             : d->kind == PX_GRAY16 ? channels == 1 && out_depth == 16
             : d->kind == PX_GRAY   ? (channels == 1 || channels == 2) && out_depth == 8
                                    : (channels == 3 || channels == 4) && out_depth == 8;
    if (!ok) png_error(png, "unexpected pixel layout after transformations");
    d->ready = 1;
}

static void png_on_row(png_structp png, png_bytep row, png_uint_32 row_num, int pass) {
    struct png_dec *d = png_get_progressive_ptr(png);
    if (!row || !d->ready) return;
    const uint32_t w = (uint32_t)d->img->width, h = (uint32_t)d->img->height;
    uint32_t y = row_num, x0 = 0, dx = 1, n = w;
    if (d->interlaced) {
        if (pass < 0 || pass > 6) png_error(png, "bad interlace pass");
        y = PNG_ROW_FROM_PASS_ROW(row_num, pass);
        x0 = PNG_PASS_START_COL(pass);
        dx = 1u << PNG_PASS_COL_SHIFT(pass);
        n = PNG_PASS_COLS(w, pass);
    }
    if (y >= h) png_error(png, "row out of range");
    uint8_t *out = d->img->rgb + ((size_t)y * w + x0) * 3;
    const size_t step = (size_t)dx * 3;
    const int bpp = d->bpp;
    for (uint32_t i = 0; i < n; i++, out += step, row += bpp) {
        switch (d->kind) {
        case PX_PALETTE: memcpy(out, d->palette + row[0] * 3, 3); break;
        case PX_GRAY16: {
            unsigned v = (unsigned)row[0] << 8 | row[1];
            out[0] = out[1] = out[2] = (uint8_t)(v > 255 ? 255 : v);
            break;
        }
        case PX_GRAY: out[0] = out[1] = out[2] = row[0]; break;
        default: memcpy(out, row, 3); break;
        }
    }
    d->rows_seen++;
}

static vtc_image *decode_png(const uint8_t *data, size_t size, const struct vtc_limits *lim, const char *name) {
    // On the heap: callbacks write it between setjmp and longjmp.
    struct png_dec *d = vtc_zalloc(1, sizeof *d);
    if (!d) return NULL;
    d->name = name;
    d->lim = lim;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, &info, NULL);
        free(d);
        vtc_set_error(VTC_ERR_NOMEM, "%s: cannot create a PNG decoder", name);
        return NULL;
    }
    if (!setjmp(png_jmpbuf(png))) {
        // Our limits decide; libpng's default 1e6 x 1e6 cap would refuse allowed images.
        png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
        // Ancillary chunk CRC errors are fatal as in Pillow (libpng would skip the chunk).
        png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
        png_set_benign_errors(png, 1);
        png_set_read_user_chunk_fn(png, NULL, png_on_unknown_chunk);
        png_set_progressive_read_fn(png, d, png_on_info, png_on_row, NULL);
        png_process_data(png, info, (png_bytep)data, size);
    }
    // Whatever stopped libpng, the image stands if every row arrived.
    vtc_image *img = d->img;
    if (!img || !d->ready || d->rows_seen < d->rows_expected) {
        if (d->status)
            ; // the callback's error is already recorded
        else if (d->msg[0])
            vtc_set_error(VTC_ERR_FORMAT, "%s: corrupt PNG: %s", name, d->msg);
        else
            vtc_set_error(VTC_ERR_FORMAT, "%s: corrupt PNG: the file is truncated", name);
        vtc_image_free(img);
        img = NULL;
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(d);
    return img;
}

// ---------------------------------------------------------------- JPEG

struct jpeg_err {
    struct jpeg_error_mgr mgr;
    jmp_buf jmp;
    int status;    // of the error that longjmp'ed
    int truncated; // libjpeg ran out of data and padded it
    char msg[JMSG_LENGTH_MAX];
};

static void jpeg_on_error(j_common_ptr cinfo) {
    struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    switch (cinfo->err->msg_code) {
    case JERR_BAD_PRECISION:      // 12-bit samples
    case JERR_SOF_UNSUPPORTED:    // lossless, hierarchical
    case JERR_ARITH_NOTIMPL:
    case JERR_NOT_COMPILED:
    case JERR_CONVERSION_NOTIMPL: e->status = VTC_ERR_UNSUPPORTED; break;
    case JERR_NO_BACKING_STORE: e->status = VTC_ERR_LIMIT; break; // over max_memory_to_use
    default: e->status = VTC_ERR_FORMAT; break;
    }
    longjmp(e->jmp, 1);
}

static void jpeg_fail(struct jpeg_err *e, int status, const char *msg) {
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    e->status = status;
    longjmp(e->jmp, 1);
}

// Warnings (corrupt data libjpeg recovered from) are not fatal, as in Pillow;
// running out of data is.
static void jpeg_on_message(j_common_ptr cinfo, int level) {
    struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) e->truncated = 1;
}

static void jpeg_on_progress(j_common_ptr cinfo) {
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->is_decompressor && d->input_scan_number > VTC_JPEG_MAX_SCANS)
        jpeg_fail((struct jpeg_err *)cinfo->err, VTC_ERR_LIMIT, "more than " VTC_STR(VTC_JPEG_MAX_SCANS) " scans");
}

// Pillow's cmyk2rgb on Adobe-inverted samples: MULDIV255(a, b) = ((a*b+128) + ((a*b+128) >> 8)) >> 8.
static void cmyk_row_to_rgb(const uint8_t *in, uint8_t *out, int w) {
    for (int x = 0; x < w; x++, in += 4, out += 3) {
        int nk = in[3]; // 255 - (255 - k)
        for (int c = 0; c < 3; c++) {
            int t = (255 - in[c]) * nk + 128;
            int v = nk - (((t >> 8) + t) >> 8);
            out[c] = (uint8_t)(v < 0 ? 0 : v);
        }
    }
}

static vtc_image *decode_jpeg(const uint8_t *data, size_t size, const struct vtc_limits *lim, const char *name) {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress;
    // Written between setjmp and longjmp, so volatile (or on the heap).
    struct jpeg_err *err = vtc_zalloc(1, sizeof *err);
    if (!err) return NULL;
    vtc_image *volatile img = NULL;
    uint8_t *volatile cmyk = NULL;
    int four;
    cinfo.err = jpeg_std_error(&err->mgr);
    err->mgr.error_exit = jpeg_on_error;
    err->mgr.emit_message = jpeg_on_message;
    if (setjmp(err->jmp)) {
        vtc_set_error(err->status, "%s: %s: %s", name,
                      err->status == VTC_ERR_UNSUPPORTED ? "unsupported JPEG"
                      : err->status == VTC_ERR_LIMIT     ? "JPEG over the limits"
                                                         : "corrupt JPEG",
                      err->msg);
        goto fail;
    }
    jpeg_create_decompress(&cinfo);
    // A progressive JPEG holds all its coefficients (2 bytes a sample): bounded too.
    cinfo.mem->max_memory_to_use = lim->max_memory && lim->max_memory < LONG_MAX ? (long)lim->max_memory : 0;
    progress.progress_monitor = jpeg_on_progress;
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    four = cinfo.num_components == 4;
    if (cinfo.num_components != 1 && cinfo.num_components != 3 && !four) {
        vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: JPEG with %d components is not supported", name,
                      cinfo.num_components);
        goto fail;
    }
    if (four && cinfo.jpeg_color_space != JCS_CMYK && cinfo.jpeg_color_space != JCS_YCCK) {
        vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: 4-component JPEG that is neither CMYK nor YCCK", name);
        goto fail;
    }
    cinfo.out_color_space = four ? JCS_CMYK : JCS_RGB;
    img = image_new_checked(cinfo.image_width, cinfo.image_height, lim, name);
    if (!img) goto fail;
    if (four && !(cmyk = vtc_alloc((size_t)img->width, 4))) goto fail;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != (four ? 4 : 3) || cinfo.output_width != (JDIMENSION)img->width ||
        cinfo.output_height != (JDIMENSION)img->height)
        jpeg_fail(err, VTC_ERR_INTERNAL, "unexpected output layout");
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *dst = img->rgb + (size_t)cinfo.output_scanline * img->width * 3;
        JSAMPROW row = four ? cmyk : dst;
        if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) jpeg_fail(err, VTC_ERR_FORMAT, "no scanline returned");
        if (four) cmyk_row_to_rgb(cmyk, dst, img->width);
    }
    // libjpeg pads a truncated stream (with a warning) and carries on; Pillow
    // raises "image file is truncated" there.
    if (err->truncated) {
        vtc_set_error(VTC_ERR_FORMAT, "%s: corrupt JPEG: the file is truncated", name);
        goto fail;
    }
    // What follows the last scanline (up to EOI) is not needed, as in Pillow.
    jpeg_destroy_decompress(&cinfo);
    free(cmyk);
    free(err);
    return img;
fail:
    jpeg_destroy_decompress(&cinfo);
    vtc_image_free(img);
    free(cmyk);
    free(err);
    return NULL;
}

// ---------------------------------------------------------------- entry points

static vtc_image *decode(const uint8_t *data, size_t size, const struct vtc_limits *limits, const char *name) {
    struct vtc_limits lim = limits ? *limits : vtc_limits_default();
    if (size >= 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8)) return decode_png(data, size, &lim, name);
    if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) {
        if (size > (unsigned long)-1) { // jpeg_mem_src takes an unsigned long
            vtc_set_error(VTC_ERR_LIMIT, "%s: JPEG file too large", name);
            return NULL;
        }
        return decode_jpeg(data, size, &lim, name);
    }
    if (size == 0)
        vtc_set_error(VTC_ERR_FORMAT, "%s: empty file", name);
    else
        vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: not a PNG or JPEG image", name);
    return NULL;
}

vtc_image *vtc_image_load_memory(const void *data, size_t size, const struct vtc_limits *limits) {
    if (!data && size) {
        vtc_set_error(VTC_ERR_ARG, "vtc_image_load_memory: NULL data");
        return NULL;
    }
    return decode(data ? data : (const void *)"", size, limits, "<memory>");
}

vtc_image *vtc_image_load(const char *path, const struct vtc_limits *limits) {
    if (!path) {
        vtc_set_error(VTC_ERR_ARG, "vtc_image_load: path is NULL");
        return NULL;
    }
    // Read, not mapped: a file truncated by someone else while mapped would raise SIGBUS.
    vtc_file f;
    if (vtc_file_open(path, 0, &f)) return NULL;
    vtc_image *img = decode(f.data, f.size, limits, path);
    vtc_file_close(&f);
    return img;
}

vtc_image *vtc_image_from_rgb(const uint8_t *rgb, int32_t width, int32_t height) {
    if (!rgb || width <= 0 || height <= 0) {
        vtc_set_error(VTC_ERR_ARG, "vtc_image_from_rgb: bad image %dx%d%s", width, height, rgb ? "" : " (NULL pixels)");
        return NULL;
    }
    vtc_image *img = image_alloc(width, height);
    if (img) memcpy(img->rgb, rgb, (size_t)width * (size_t)height * 3);
    return img;
}
