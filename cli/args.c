// Argument forms shared by several subcommands.
#include <errno.h>
#include <string.h>

#include "cli.h"
#include "api/encode.h"
#include "base/common.h"
#include "video/source.h"

int cli_parse_keep(const char *s, struct vtc_prune_params *p) {
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > 63) return -1;
    double v;
    if (s[len - 1] == '%') {
        char num[64];
        memcpy(num, s, len - 1);
        num[len - 1] = '\0';
        if (cli_parse_double(num, 0, 100, &v) || v <= 0) return -1;
        v = v >= 100 ? 0 : v / 100.0;
    } else {
        if (cli_parse_double(s, 0, 1e9, &v) || v <= 0) return -1;
        if (v >= 1 && v != (double)(long long)v) return -1; // a count must be whole
    }
    p->n_keep = v >= 1 ? (int32_t)v : 0;
    p->keep_ratio = v < 1 ? v : 0;
    return 0;
}

int cli_prune_option(struct cli_prune_opts *o, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    if (strcmp(a, "--method") && strcmp(a, "--keep") && strcmp(a, "--param") && strcmp(a, "--seed") &&
        strcmp(a, "--pack"))
        return -1;
    if (*i + 1 >= argc) return cli_usage_error("%s needs a value", a);
    const char *val = argv[++*i];
    long long v;
    if (!strcmp(a, "--method")) {
        o->method = val;
    } else if (!strcmp(a, "--keep")) {
        if (cli_parse_keep(val, &o->budget))
            return cli_usage_error("--keep: '%s' is not a token count, percentage or fraction", val);
        o->have_keep = 1;
    } else if (!strcmp(a, "--param")) {
        if (o->n_params == CLI_MAX_PARAMS) return cli_usage_error("--param: at most %d parameters", CLI_MAX_PARAMS);
        if (!strchr(val, '=')) return cli_usage_error("--param: '%s' is not NAME=VALUE", val);
        o->params[o->n_params++] = val;
    } else if (!strcmp(a, "--pack")) {
        if (!strcmp(val, "native")) o->pack = VTC_PACK_NATIVE;
        else if (!strcmp(val, "unpad")) o->pack = VTC_PACK_UNPAD;
        else if (!strcmp(val, "spatial")) o->pack = VTC_PACK_SPATIAL;
        else return cli_usage_error("--pack: '%s' is not native, unpad or spatial", val);
    } else {
        if (cli_parse_int(val, 0, (long long)1 << 62, &v))
            return cli_usage_error("--seed: '%s' is not a non-negative integer", val);
        o->seed = (uint64_t)v;
    }
    return 0;
}

int cli_prune_params_check(struct cli_prune_opts *o, const char *method, struct vtc_prune_params *out) {
    if (cli_join_params(o->params, o->n_params, o->joined, sizeof o->joined))
        return vtc_set_error(VTC_ERR_ARG, "--param: more than %zu characters in all", sizeof o->joined - 1);
    *out = vtc_prune_params_default();
    out->method = method;
    out->n_keep = o->budget.n_keep;
    out->keep_ratio = o->budget.keep_ratio;
    out->params = o->n_params ? o->joined : NULL;
    out->seed = o->seed;
    out->pack = o->pack;
    return vtc_prune_validate(*out);
}

int cli_prune_params(struct cli_prune_opts *o, const char *method, const char *what, struct vtc_prune_params *out) {
    int st = cli_prune_params_check(o, method, out);
    return st ? cli_status_error(st, what) : 0;
}

int cli_input_open(const char *path, struct vtc_sample_params sp, const struct vtc_limits *limits, int n_threads,
                   struct cli_input *in) {
    memset(in, 0, sizeof *in);
    double t0 = vtc_now_ms();
    int kind = vtc_sniff_image(path);
    int st = VTC_OK;
    if (kind < 0) {
        st = vtc_set_error(VTC_ERR_IO, "%s: %s", path, strerror(errno));
    } else if (kind > 0) { // as vtc_media_load reads an image
        if (!(in->image = vtc_media_load(path, sp, limits))) st = vtc_last_status();
    } else if (!(st = vtc_check_sample(path, sp))) {
        st = vtc_video_source_open(path, sp, limits, n_threads, &in->video);
    }
    in->ms_open = vtc_now_ms() - t0;
    return st;
}

void cli_input_close(struct cli_input *in) {
    vtc_media_free(in->image);
    vtc_video_source_close(in->video);
    memset(in, 0, sizeof *in);
}

double cli_input_ms_decode(const struct cli_input *in) {
    return in->video ? vtc_video_source_ms(in->video) : in->ms_open;
}

int cli_input_frame(struct cli_input *in, int t, vtc_image **img) {
    *img = NULL;
    if (in->image) {
        const vtc_image *f = in->image->frames[0];
        *img = vtc_image_from_rgb(f->rgb, f->width, f->height);
        return *img ? VTC_OK : vtc_last_status();
    }
    int32_t n = 0;
    const int64_t *idx = vtc_video_source_indices(in->video, &n);
    if (t < 0 || t >= n) return vtc_set_error(VTC_ERR_ARG, "frame %d of %d sampled", t, n);
    return vtc_video_read(vtc_video_source_video(in->video), idx[t], img, NULL);
}

int cli_encode_input(vtc_ctx *ctx, struct cli_input *in, int pool, int pool_mode, vtc_features **out) {
    vtc_features *f = NULL;
    int st;
    if (in->video) {
        struct vtc_frame_source src = vtc_video_source_frames(in->video);
        st = vtc_encode_source(ctx, &src, &f);
    } else {
        st = vtc_encode_image(ctx, in->image->frames[0], &f);
    }
    if (st) return st;
    // The model's own rule when not given: LLaVA-OneVision pools every video
    // frame 2x2 bilinearly after the projector (apply_pooling); others do not pool.
    const int onevision_video = f->tiling.newline == VTC_NEWLINE_END;
    if (!pool) pool = onevision_video ? 2 : 1;
    if (pool_mode < 0) pool_mode = onevision_video ? VTC_POOL_BILINEAR : VTC_POOL_AVG;
    if (pool > 1) {
        vtc_features *pooled = vtc_features_pool(f, pool, pool_mode);
        vtc_features_free(f);
        if (!pooled) return vtc_last_status();
        f = pooled;
    }
    *out = f;
    return VTC_OK;
}

int cli_parse_pool_mode(const char *s, int *mode) {
    if (!s || (strcmp(s, "avg") && strcmp(s, "bilinear"))) return -1;
    *mode = !strcmp(s, "avg") ? VTC_POOL_AVG : VTC_POOL_BILINEAR;
    return 0;
}

int cli_parse_precision(const char *s, int *precision) {
    if (!s) return -1;
    if (!strcmp(s, "auto")) *precision = VTC_PRECISION_AUTO;
    else if (!strcmp(s, "f32")) *precision = VTC_PRECISION_F32;
    else if (!strcmp(s, "bf16")) *precision = VTC_PRECISION_BF16;
    else return -1;
    return 0;
}

int cli_parse_positions(const char *s, int *original) {
    if (!s || (strcmp(s, "compact") && strcmp(s, "original"))) return -1;
    *original = !strcmp(s, "original");
    return 0;
}
