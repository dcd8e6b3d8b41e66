// `vtc prune`, `vtc info`, `vtc methods`.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "base/common.h"
#include "base/gguf.h"
#include "json_out.h"
#include "prune/prune.h"
#include "video/video.h"
#include "base/safetensors.h"
#include "base/tensor.h"

// ---------------------------------------------------------------- prune

int cmd_prune(int argc, char **argv) {
    const char *input = NULL, *out = NULL, *model_path = NULL;
    struct cli_prune_opts po = { 0 };
    int json = 0, r;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = !strcmp(a, "-o") || !strcmp(a, "--model");
        if (takes && !val) return cli_usage_error("prune: %s needs a value", a);
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs("usage: vtc prune FEATURES.safetensors --method NAME --keep K [--param NAME=VALUE ...]\n"
                  "                 -o OUT.safetensors [--model M] [--seed S] [--json]\n"
                  "\n"
                  "Prunes a token file written by `vtc encode`. With --model, tokens a method merged in\n"
                  "encoder space are projected to the language model's space; otherwise they stay in the\n"
                  "method's space (metadata \"space\").\n",
                  stdout);
            return CLI_OK;
        } else if ((r = cli_prune_option(&po, argc, argv, &i)) >= 0) {
            if (r) return r;
        } else if (!strcmp(a, "-o")) {
            out = val, i++;
        } else if (!strcmp(a, "--model")) {
            model_path = val, i++;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("prune: unknown option '%s' (see `vtc prune --help`)", a);
        } else if (!input) {
            input = a;
        } else {
            return cli_usage_error("prune: unexpected argument '%s'", a);
        }
    }
    if (!input) return cli_usage_error("prune: no FEATURES file given");
    if (!po.method) return cli_usage_error("prune: --method is required (see `vtc methods`)");
    if (!out) return cli_usage_error("prune: -o OUT.safetensors is required");
    struct vtc_prune_params pp;
    int st = cli_prune_params(&po, po.method, "prune", &pp);
    if (st) return st;

    vtc_model *model = NULL;
    vtc_ctx *ctx = NULL; // with --model: its projector maps merged tokens to the LM's space
    vtc_features *f = NULL;
    vtc_tokens *tok = NULL;
    int rc = CLI_OK;
    if (model_path) {
        model = vtc_model_load(model_path, vtc_model_params_default());
        if (!model) return cli_status_error(vtc_last_status(), "loading model");
        if (!(ctx = vtc_ctx_new(model, vtc_ctx_params_default()))) {
            rc = cli_status_error(vtc_last_status(), "creating context");
            goto done;
        }
    }
    double t0 = vtc_now_ms();
    st = vtc_features_load(input, &f);
    if (st) {
        rc = cli_status_error(st, "reading features");
        goto done;
    }
    double t1 = vtc_now_ms();
    st = vtc_prune(ctx, f, pp, &tok);
    double t2 = vtc_now_ms();
    if (st) {
        rc = cli_status_error(st, "pruning");
        goto done;
    }
    st = vtc_tokens_save(tok, out, NULL);
    double t3 = vtc_now_ms();
    if (st) {
        rc = cli_status_error(st, "writing");
        goto done;
    }
    if (json) {
        struct vtc_json j;
        vtc_json_init_file(&j, stdout, 1);
        vtc_json_begin_object(&j);
        vtc_json_kv_string(&j, "command", "prune");
        vtc_json_kv_string(&j, "input", input);
        vtc_json_kv_string(&j, "output", out);
        vtc_json_kv_string(&j, "method", pp.method);
        vtc_json_kv_string(&j, "parameters", po.joined);
        vtc_json_kv_string(&j, "space", tok->space == VTC_SPACE_EMBEDS ? "embeds" : "features");
        vtc_json_kv_string(&j, "note", tok->note);
        vtc_json_kv_int(&j, "n_input", f->n);
        vtc_json_kv_int(&j, "n_kept", tok->n);
        vtc_json_kv_double(&j, "retained_ratio", (double)tok->n / f->n);
        vtc_json_key(&j, "timings_ms");
        vtc_json_begin_object(&j);
        vtc_json_kv_double(&j, "load", t1 - t0);
        vtc_json_kv_double(&j, "prune", t2 - t1);
        vtc_json_kv_double(&j, "write", t3 - t2);
        vtc_json_end_object(&j);
        vtc_json_end_object(&j);
        vtc_json_finish(&j);
    } else {
        printf("method    %s%s%s\n", pp.method, po.n_params ? " " : "", po.joined);
        if (tok->note[0]) printf("note      %s\n", tok->note);
        printf("tokens    %d -> %d  (retained ratio %.4f, %s space)\n", f->n, tok->n, (double)tok->n / f->n,
               tok->space == VTC_SPACE_EMBEDS ? "embeds" : "features");
        printf("time ms   load %.1f, prune %.2f, write %.1f\n", t1 - t0, t2 - t1, t3 - t2);
        printf("wrote     %s\n", out);
    }
done:
    vtc_tokens_free(tok);
    vtc_features_free(f);
    vtc_ctx_free(ctx);
    vtc_model_free(model);
    return rc;
}

// ---------------------------------------------------------------- methods

int cmd_methods(int argc, char **argv) {
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs("usage: vtc methods\n\nLists each pruning method, its parameters and their defaults.\n", stdout);
        return CLI_OK;
    }
    if (argc > 1) return cli_usage_error("methods: unexpected argument '%s'", argv[1]);
    for (int i = 0; i < vtc_method_count(); i++) {
        printf("%-10s %s\n", vtc_method_name(i), vtc_method_summary(i));
        for (int j = 0; j < vtc_method_param_count(i); j++) {
            const char *name, *def, *help;
            if (vtc_method_param(i, j, &name, &def, &help) == 0)
                printf("    --param %s=%s  %s\n", name, def, help);
        }
    }
    return CLI_OK;
}

// ---------------------------------------------------------------- info

static void print_shape(const vtc_tensor_view *t) {
    printf("[");
    for (int d = 0; d < t->n_dims; d++) printf("%s%lld", d ? ", " : "", (long long)t->shape[d]);
    printf("]");
}

// --size WxH of `vtc info` (0 x 0: not given)
static int32_t g_info_w, g_info_h;

static int info_model(const char *path, const struct vtc_model_params *mp) {
    vtc_model *m = vtc_model_load(path, *mp);
    if (!m) return -1;
    struct vtc_model_info mi;
    vtc_model_get_info(m, &mi);
    static const char *aspects[] = { "default", "crop", "pad", "resize" };
    printf("%s: vision model (%s)\n", path, mi.format);
    printf("  name           %s\n", mi.name);
    printf("  family         %s, %d blocks, width %d, %d heads x %d, MLP %d\n", mi.arch, mi.n_layers, mi.hidden,
           mi.heads, mi.head_dim, mi.ffn);
    if (!strcmp(mi.layout, "native")) {
        printf("  input          the image's own aspect, resized to multiples of %d px with %d..%d pixels; patch %d x "
               "%d frames, %dx%d patches per token", mi.patch_size * mi.merge_size, mi.min_pixels, mi.max_pixels,
               mi.patch_size, mi.temporal_patch, mi.merge_size, mi.merge_size);
        if (mi.window_size) printf(", windows of %d px", mi.window_size);
    } else {
        printf("  input          %d px, patch %d, grid %dx%d = %d tokens%s", mi.image_size, mi.patch_size, mi.grid_h,
               mi.grid_w, mi.grid_h * mi.grid_w, mi.has_cls ? " + CLS" : "");
        if (mi.image_size % mi.patch_size) printf(" (the last %d pixel rows/columns unused)", mi.image_size % mi.patch_size);
    }
    printf("\n  layout         %s\n", mi.layout);
    if (mi.n_feature_layers > 1)
        printf("  features       %d blocks' outputs side by side (the last: block %d), width %d\n", mi.n_feature_layers,
               mi.feature_layer, mi.feature_dim);
    else
        printf("  features       output of block %d%s\n", mi.feature_layer,
               mi.merge_size ? ", the merger's norm, each token's patches side by side"
               : mi.post_layernorm ? ", post_layernorm" : "");
    printf("  projector      %s", !mi.has_projector ? "none" : mi.merge_size ? "the patch merger's MLP" : "LLaVA MLP");
    if (mi.has_projector) printf(" -> %d", mi.lm_dim);
    printf("\n  preprocessing  %s, mean %.4g %.4g %.4g, std %.4g %.4g %.4g\n",
           mi.merge_size ? "smart_resize" : aspects[mi.aspect], mi.image_mean[0],
           mi.image_mean[1], mi.image_mean[2], mi.image_std[0], mi.image_std[1], mi.image_std[2]);
    if (g_info_w) {
        vtc_tiling tl;
        int64_t n = 0;
        int st = vtc_model_image_tokens(m, g_info_w, g_info_h, &tl, &n);
        if (st) {
            vtc_model_free(m);
            return st;
        }
        printf("  a %dx%d image  %lld tokens", g_info_w, g_info_h, (long long)n);
        if (tl.kind == VTC_TILING_ANYRES) {
            printf(": base %dx%d, %dx%d tiles stitched to %dx%d, unpadded to %dx%d", mi.grid_h, mi.grid_w, tl.tiles_h,
                   tl.tiles_w, tl.tiles_h * mi.grid_h, tl.tiles_w * mi.grid_w, tl.unpad_h, tl.unpad_w);
            if (tl.out_h != tl.unpad_h || tl.out_w != tl.unpad_w) printf(", shrunk to %dx%d", tl.out_h, tl.out_w);
            if (tl.newline == VTC_NEWLINE_ROW) printf(", a newline per row");
        }
        printf("\n");
    }
    vtc_model_free(m);
    return 0;
}

static int info_safetensors(const char *path) {
    vtc_st *s = NULL;
    int st = vtc_st_open(path, 1, &s);
    if (st) return st;
    const char *fmt = vtc_st_meta(s, "format");
    int is_tokens = fmt ? 1 : 0;
    if (!is_tokens) {
        vtc_st_close(s);
        struct vtc_model_params mp = vtc_model_params_default();
        if (info_model(path, &mp) == 0) return 0;
        // not a model either: list it as a plain safetensors file
        st = vtc_st_open(path, 1, &s);
        if (st) return st;
        printf("%s: safetensors file (not a vtc token file or a vision model: %s)\n", path, vtc_last_error());
    } else {
        printf("%s: vtc %s file\n", path, strstr(fmt, "tokens") ? "token" : "features");
    }
    for (int i = 0; i < vtc_st_count(s); i++) {
        const vtc_tensor_view *t = vtc_st_tensor(s, i);
        printf("  %-16s %-5s ", t->name, vtc_dtype_name(t->dtype));
        print_shape(t);
        printf("\n");
    }
    // the metadata: the format's keys (docs/formats.md) and any a host added
    for (int i = 0; i < vtc_st_meta_count(s); i++) {
        const char *k, *v;
        if (!vtc_st_meta_at(s, i, &k, &v) && strcmp(k, "format") && v[0]) printf("  %-16s %s\n", k, v);
    }
    vtc_st_close(s);
    return 0;
}

static int info_gguf(const char *path) {
    vtc_gguf *g = NULL;
    int st = vtc_gguf_open(path, 1, &g);
    if (st) return st;
    const char *arch = NULL;
    vtc_gguf_get_str(g, "general.architecture", &arch);
    int is_clip = arch && !strcmp(arch, "clip");
    vtc_gguf_close(g);
    if (is_clip) {
        struct vtc_model_params mp = vtc_model_params_default();
        if (info_model(path, &mp) == 0) return 0;
        return vtc_last_status();
    }
    return info_lm(path);
}

static int info_image(const char *path) {
    struct vtc_sample_params sp = vtc_sample_params_default();
    sp.n_frames = 1;
    vtc_media *m = vtc_media_load(path, sp, NULL);
    if (!m) return vtc_last_status();
    printf("%s: image (%s), %dx%d\n", path, m->codec, m->frames[0]->width, m->frames[0]->height);
    vtc_media_free(m);
    return 0;
}

// The frame count every command samples from, and where it came from (docs/formats.md#media).
static int info_video(const char *path) {
    vtc_video *v = NULL;
    int st = vtc_video_open(path, NULL, vtc_cpu_count(), &v); // the index may decode every frame
    if (st) return st;
    struct vtc_video_info vi;
    vtc_video_get_info(v, &vi);
    printf("%s: video (%s in %s), %dx%d, %lld frames (count from: %s), %.3f fps, %.2f s", path, vi.codec, vi.format,
           vi.width, vi.height, (long long)vi.n_frames, vtc_video_count_source_name(vi.count_source), vi.fps,
           vi.duration);
    if (vi.rotation) printf(", rotated %d degrees", vi.rotation);
    if (vi.vfr) printf(", variable frame rate");
    printf("\n");
    vtc_video_close(v);
    return 0;
}

int cmd_info(int argc, char **argv) {
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs("usage: vtc info FILE [--size WxH] [--heads H] [--image-size S] [--resize-min-pixels N] [--resize-max-pixels N]\n\nSays what FILE is (vision model, language "
              "model, token file, image or video),\nwith its shapes and metadata. For a vision model, --size says how many "
              "tokens\na WxH image gives and how it is tiled; --heads and --image-size complete a\nmodel whose files do "
              "not say them (no config.json).\n",
              stdout);
        return CLI_OK;
    }
    struct vtc_model_params mp = vtc_model_params_default();
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        long long v;
        if (!strcmp(argv[i], "--size")) {
            char tail;
            long long w = 0, h = 0;
            if (i + 1 >= argc) return cli_usage_error("info: --size needs a value");
            if (sscanf(argv[i + 1], "%lldx%lld%c", &w, &h, &tail) != 2 || w < 1 || h < 1 || w > (1 << 24) || h > (1 << 24))
                return cli_usage_error("info: --size: '%s' is not WIDTHxHEIGHT", argv[i + 1]);
            g_info_w = (int32_t)w, g_info_h = (int32_t)h;
            i++;
        } else if (!strcmp(argv[i], "--resize-min-pixels") || !strcmp(argv[i], "--resize-max-pixels")) {
            if (i + 1 >= argc || cli_parse_int(argv[i + 1], 1, 1 << 30, &v))
                return cli_usage_error("info: %s needs a pixel count (1..2^30)", argv[i]);
            *(!strcmp(argv[i], "--resize-min-pixels") ? &mp.min_pixels : &mp.max_pixels) = (int32_t)v;
            i++;
        } else if (!strcmp(argv[i], "--heads") || !strcmp(argv[i], "--image-size")) {
            int heads = !strcmp(argv[i], "--heads");
            if (i + 1 >= argc) return cli_usage_error("info: %s needs a value", argv[i]);
            if (cli_parse_int(argv[i + 1], 1, heads ? 1024 : 8192, &v))
                return cli_usage_error("info: %s: '%s' is not a %s", argv[i], argv[i + 1], heads ? "head count (1..1024)" : "size (1..8192)");
            *(heads ? &mp.heads : &mp.image_size) = (int32_t)v;
            i++;
        } else if (!path) {
            path = argv[i];
        } else {
            return cli_usage_error("info: expected exactly one FILE");
        }
    }
    if (!path) return cli_usage_error("info: expected exactly one FILE");
    struct stat sb;
    if (stat(path, &sb) != 0) return cli_runtime_error("%s: no such file or directory", path);
    if (S_ISDIR(sb.st_mode)) return info_model(path, &mp) == 0 ? CLI_OK : cli_status_error(vtc_last_status(), "info");
    FILE *fp = fopen(path, "rb");
    if (!fp) return cli_runtime_error("%s: cannot open", path);
    unsigned char head[16] = { 0 };
    size_t got = fread(head, 1, sizeof head, fp);
    fclose(fp);
    int st;
    if (got >= 4 && !memcmp(head, "GGUF", 4)) {
        st = info_gguf(path);
    } else if (got >= 8 && (head[0] == 0x89 || (head[0] == 0xff && head[1] == 0xd8))) {
        st = info_image(path);
    } else if (got >= 9 && head[8] == '{') {
        st = info_safetensors(path);
    } else if (got >= 16 && (int32_t)(head[0] | head[1] << 8 | head[2] << 16 | (uint32_t)head[3] << 24) > 0 &&
               vtc_lm_probe(path) == 0) {
        st = info_lm(path);
    } else {
        st = info_video(path);
    }
    return st ? cli_status_error(st, "info") : CLI_OK;
}
