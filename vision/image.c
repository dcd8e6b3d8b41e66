// Image decoding to 8-bit RGB with libpng and libjpeg-turbo, matching what
// Pillow's Image.open(p).convert('RGB') gives:
// - alpha is dropped, not composited (also a palette's tRNS);
// - 1/2/4-bit gray and palettes expand by bit replication / palette lookup;
// - 16-bit RGB(A) and gray+alpha keep the high byte (Pillow's ";16B" unpackers);
// - 16-bit gray opens as Pillow mode "I" and converts by clipping to [0, 255];
// - JPEG: libjpeg-turbo defaults (islow IDCT, fancy upsampling), gray replicated;
//   CMYK/YCCK JPEGs are refused (VTC_ERR_UNSUPPORTED);
// - EXIF orientation is not applied (Pillow's open does not).
// Sizes are checked against vtc_limits.max_pixels before any pixel buffer exists.
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include "common.h"
#include "mapfile.h"

struct vtc_limits vtc_limits_default(void) {
    struct vtc_limits l;
    l.max_pixels = 64ull << 20;
    l.max_frames = 4096;
    l.max_tokens = (int64_t)1 << 20;
    l.max_memory = 8ull << 30;
    return l;
}

void vtc_image_free(vtc_image *img) {
    if (!img) return;
    free(img->rgb);
    free(img);
}

static vtc_image *image_new(uint32_t w, uint32_t h, const struct vtc_limits *lim, const char *name) {
    if (w == 0 || h == 0) {
        vtc_set_error(VTC_ERR_FORMAT, "%s: image has zero size (%ux%u)", name, w, h);
        return NULL;
    }
    if ((uint64_t)w * h > lim->max_pixels || w > 1u << 20 || h > 1u << 20) {
        vtc_set_error(VTC_ERR_LIMIT, "%s: %ux%u pixels exceeds the limit of %llu pixels (decompression bomb?)", name,
                      w, h, (unsigned long long)lim->max_pixels);
        return NULL;
    }
    vtc_image *img = vtc_zalloc(1, sizeof *img);
    if (!img) return NULL;
    img->width = (int32_t)w;
    img->height = (int32_t)h;
    img->rgb = vtc_alloc((size_t)w * h, 3);
    if (!img->rgb) {
        free(img);
        return NULL;
    }
    return img;
}

// ---------------------------------------------------------------- PNG

struct png_src {
    const uint8_t *data;
    size_t size, pos;
    const char *name;
    char msg[200];
};

static void png_read_mem(png_structp png, png_bytep out, png_size_t len) {
    struct png_src *s = png_get_io_ptr(png);
    if (len > s->size - s->pos) png_error(png, "file is truncated");
    memcpy(out, s->data + s->pos, len);
    s->pos += len;
}

static void png_on_error(png_structp png, png_const_charp msg) {
    struct png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static vtc_image *decode_png(const uint8_t *data, size_t size, const struct vtc_limits *lim, const char *name) {
    struct png_src src = { data, size, 0, name, "" };
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, &info, NULL);
        vtc_set_error(VTC_ERR_NOMEM, "%s: cannot create PNG decoder", name);
        return NULL;
    }
    vtc_image *volatile img = NULL;
    png_bytep *volatile rows = NULL;
    uint8_t *volatile buf = NULL;
    if (setjmp(png_jmpbuf(png))) {
        vtc_set_error(VTC_ERR_FORMAT, "%s: corrupt PNG: %s", name, src.msg[0] ? src.msg : "decode error");
        png_destroy_read_struct(&png, &info, NULL);
        vtc_image_free(img);
        free(rows);
        free(buf);
        return NULL;
    }
    png_set_read_fn(png, &src, png_read_mem);
    // Our own limit decides; libpng's default user limits would reject huge-but-allowed images.
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, ctype, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    img = image_new(w, h, lim, name);
    if (!img) {
        png_destroy_read_struct(&png, &info, NULL);
        return NULL;
    }
    const int gray16 = depth == 16 && ctype == PNG_COLOR_TYPE_GRAY; // Pillow mode "I": clip
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16 && !gray16) png_set_strip_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const int ch = png_get_channels(png, info);
    const size_t rowbytes = png_get_rowbytes(png, info);
    if (ch < 1 || ch > 4 || rowbytes < (size_t)w * ch * (gray16 ? 2 : 1))
        png_error(png, "unexpected pixel layout");
    size_t total;
    if (vtc_mul_size(rowbytes, h, &total)) png_error(png, "image too large");
    buf = vtc_alloc(total, 1);
    rows = vtc_alloc(h, sizeof(png_bytep));
    if (!buf || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = buf + (size_t)y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    for (png_uint_32 y = 0; y < h; y++) {
        const uint8_t *in = rows[y];
        uint8_t *out = img->rgb + (size_t)y * w * 3;
        for (png_uint_32 x = 0; x < w; x++, out += 3) {
            if (gray16) {
                unsigned v = (unsigned)in[x * 2] << 8 | in[x * 2 + 1];
                out[0] = out[1] = out[2] = (uint8_t)(v > 255 ? 255 : v);
            } else if (ch <= 2) { // gray, gray + alpha
                out[0] = out[1] = out[2] = in[(size_t)x * ch];
            } else { // RGB, RGBA
                memcpy(out, in + (size_t)x * ch, 3);
            }
        }
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    free(buf);
    return img;
}

// ---------------------------------------------------------------- JPEG

struct jpeg_err {
    struct jpeg_error_mgr mgr;
    jmp_buf jmp;
    int truncated; // libjpeg hit the end of the data and padded it
    char msg[JMSG_LENGTH_MAX];
};

static void jpeg_on_error(j_common_ptr cinfo) {
    struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jmp, 1);
}

static void jpeg_on_message(j_common_ptr cinfo, int level) {
    struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) e->truncated = 1;
}

static vtc_image *decode_jpeg(const uint8_t *data, size_t size, const struct vtc_limits *lim, const char *name) {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_err err;
    vtc_image *volatile img = NULL;
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_on_error;
    err.mgr.emit_message = jpeg_on_message;
    err.msg[0] = '\0';
    err.truncated = 0;
    if (setjmp(err.jmp)) {
        vtc_set_error(VTC_ERR_FORMAT, "%s: corrupt JPEG: %s", name, err.msg);
        jpeg_destroy_decompress(&cinfo);
        vtc_image_free(img);
        return NULL;
    }
    jpeg_create_decompress(&cinfo);
    if (size > 0xffffffffu) {
        vtc_set_error(VTC_ERR_LIMIT, "%s: JPEG file too large", name);
        jpeg_destroy_decompress(&cinfo);
        return NULL;
    }
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        vtc_set_error(VTC_ERR_UNSUPPORTED, "%s: CMYK/YCCK JPEG is not supported (convert it to RGB first)", name);
        jpeg_destroy_decompress(&cinfo);
        return NULL;
    }
    cinfo.out_color_space = JCS_RGB;
    img = image_new(cinfo.image_width, cinfo.image_height, lim, name);
    if (!img) {
        jpeg_destroy_decompress(&cinfo);
        return NULL;
    }
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != 3 || cinfo.output_width != (JDIMENSION)img->width ||
        cinfo.output_height != (JDIMENSION)img->height) {
        snprintf(err.msg, sizeof err.msg, "unexpected output layout");
        longjmp(err.jmp, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = img->rgb + (size_t)cinfo.output_scanline * img->width * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    // A truncated stream is padded by libjpeg with a warning; Pillow then raises
    // "image file is truncated". Treat it as an error too.
    if (err.truncated) {
        jpeg_abort_decompress(&cinfo);
        jpeg_destroy_decompress(&cinfo);
        vtc_image_free(img);
        vtc_set_error(VTC_ERR_FORMAT, "%s: corrupt JPEG: the file is truncated", name);
        return NULL;
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return img;
}

// ---------------------------------------------------------------- entry points

static vtc_image *decode(const uint8_t *data, size_t size, const struct vtc_limits *limits, const char *name) {
    struct vtc_limits lim = limits ? *limits : vtc_limits_default();
    if (size >= 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8)) return decode_png(data, size, &lim, name);
    if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) return decode_jpeg(data, size, &lim, name);
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
    vtc_file f;
    if (vtc_file_open(path, 1, &f)) return NULL;
    vtc_image *img = decode(f.data, f.size, limits, path);
    vtc_file_close(&f);
    return img;
}

vtc_image *vtc_image_from_rgb(const uint8_t *rgb, int32_t width, int32_t height) {
    if (!rgb || width <= 0 || height <= 0 || (int64_t)width * height > (int64_t)1 << 32) {
        vtc_set_error(VTC_ERR_ARG, "vtc_image_from_rgb: bad image %dx%d", width, height);
        return NULL;
    }
    struct vtc_limits lim = vtc_limits_default();
    lim.max_pixels = (uint64_t)1 << 32;
    vtc_image *img = image_new((uint32_t)width, (uint32_t)height, &lim, "vtc_image_from_rgb");
    if (img) memcpy(img->rgb, rgb, (size_t)width * height * 3);
    return img;
}
