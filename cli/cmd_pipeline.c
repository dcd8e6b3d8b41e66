// `vtc encode` and `vtc compress`: media -> frames -> pixels -> features
// (-> kept tokens) -> token file + report. Both share option parsing and the
// encode half of the pipeline.
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "api/encode.h"
#include "base/mapfile.h"
#include "base/common.h"
#include "decode_run.h"
#include "base/flops.h"
#include "json_out.h"
#include "batch.h"
#include "pipeline.h"
#include "report.h"
#include "viz.h"
#include "video/source.h"

// Batch mode (docs/batch.md), for both commands.
#define BATCH_USAGE(cmd, kind)                                                                                    \
    "\n"                                                                                                          \
    "batch: vtc " cmd " --manifest LIST --out-dir DIR [--shard I/N] [--force] [--max-failures N]\n"              \
    "                 [--workers N] [options above]\n"                                                            \
    "  --manifest LIST  one media path a line (# comments; '-' = stdin), or JSON lines with \"path\"\n"           \
    "                 and optional \"id\", \"keep\", \"method\"; relative paths from LIST's folder\n"              \
    "  --out-dir DIR  DIR/<id or path>" kind ".safetensors, and a line per item in DIR/report.jsonl\n"         \
    "  --shard I/N    only items k with k mod N = I (default: a Slurm array task's)\n"                          \
    "  --force        redo items whose output is already complete (default: skip them)\n"                        \
    "  --max-failures N  stop after N failed items\n"                                                             \
    "  --workers N    encoders in parallel sharing --threads (default: as many as threads, up to 4)\n"           \
    "Exit status 1 when an item failed (its error is in the report); `vtc report DIR` sums a batch.\n"

static void usage(int compress) {
    if (compress)
        fputs("usage: vtc compress [--model M] INPUT [--method NAME] [--keep K] [--frames N | --fps F]\n"
              "                    [-o OUT.safetensors] [--report R.json] [--viz V.png] [--lm PRESET]\n"
              "                    [--threads N] [--param NAME=VALUE ...] [--seed S] [--json]\n"
              "                    [--aspect crop|pad|resize] [--layer L] [--text T] [--gen G]\n"
              "                    [--precision f32|bf16|auto]\n"
              "\n"
              "  INPUT          image (PNG, JPEG) or video (anything FFmpeg demuxes)\n"
              "  --model M      HF directory / .safetensors / mmproj .gguf (default: the embedded samples/vlm)\n"
              "  --heads H, --image-size S  the tower's head count and input size, for a model\n"
              "                 whose files do not say them (no config.json); must agree if they do\n"
              "  --resize-min-pixels N, --resize-max-pixels N  a native-resolution model's (Qwen2-VL)\n"
              "                 bounds on the resized image's pixel count, its processor's min_pixels /\n"
              "                 max_pixels (default: its preprocessor_config.json)\n"
              "  --precision P  the encoder's and projector's arithmetic: f32, bf16 (bfloat16 matrix\n"
              "                 products, float32 sums, on oneDNN) or auto (default: bf16 where the CPU\n"
              "                 has AMX-BF16 or AVX512-BF16, else f32); the report says which ran\n"
              "  --method NAME  pruning method (`vtc methods` lists them). Default: uniform for an\n"
              "                 image, divprune for a video, keeping a third of the tokens (the best\n"
              "                 of the quality tables, docs/quality.md); none keeps every token\n"
              "  --keep K       tokens kept: a count (64), a percentage (25%) or a fraction (0.25)\n"
              "  --pack P       anyres images (LLaVA-NeXT/OneVision): native (the model's layout:\n"
              "                 unpadded, image_newline after each row; default), unpad (no\n"
              "                 newlines, as HiRED), spatial (no unpadding, no newlines, as FasterVLM)\n"
              "  --frames N     video: N frames at floor(linspace(0, total-1, N)) (default 8)\n"
              "  --pool S       video: S x S pooling of each frame's tokens after the projector; 1 = none\n"
              "                 (default: the model's rule, 2 for LLaVA-OneVision, else none)\n"
              "  --pool-mode M  avg or bilinear (default: bilinear for LLaVA-OneVision as its\n"
              "                 apply_pooling, else avg)\n"
              "  --fps F        video: F frames per second of video time instead\n"
              "  -o OUT         token file (default INPUT's name + .tokens.safetensors)\n"
              "  --report R     JSON report file;  --json prints it on stdout instead of the summary\n"
              "  --viz V.png    picture of the kept tokens\n"
              "  --lm PRESET    language model for FLOPs (default llava-1.5-7b; `vtc flops --help`)\n"
              "  --text T, --gen G  prompt text tokens and generated tokens for FLOPs (default 64, 128)\n"
              "  --decoder FILE run the kept tokens through a Llama decoder (llama2.c or GGUF file):\n"
              "                 [BOS][visual tokens][prompt], then generate; reports text, time, FLOPs\n"
              "                 executed vs accounted, KV-cache bytes, visual tokens per layer\n"
              "  --tokenizer FILE  llama2.c tokenizer.bin (default: the GGUF's, or tokenizer.bin beside)\n"
              "  --prompt TEXT  text after the visual tokens (default empty)\n"
              "  --decode-method NAME  in-decoder policy: none, fastv, todre2, dycoke-kv (default none)\n"
              "  --decode-param NAME=VALUE  its knobs (repeatable; e.g. k=2, r=0.5)\n"
              "  -n STEPS       tokens to generate (default 32);  --temp T  0 = greedy (default 0)\n"
              "  --positions P  the visual tokens' RoPE positions: compact (default; 1..K, the prompt\n"
              "                 after them) or original (each where its source token sits unpruned,\n"
              "                 the prompt after all N, as FastV keeps them)\n"
              "  --max-pixels N, --max-frames N, --max-tokens N, --max-memory BYTES\n"
              "                 input limits (defaults 67108864 pixels, 4096 frames, 1048576 tokens, 8 GiB)\n",
              stdout);
    else
        fputs("usage: vtc encode [--model M] INPUT -o OUT.safetensors [--frames N | --fps F] [--json]\n"
              "                  [--threads N] [--aspect crop|pad|resize] [--layer L] [--max-* N]\n"
              "                  [--heads H] [--image-size S] [--precision f32|bf16|auto]\n"
              "\n"
              "Writes the full token grid: features, positions, cls, cls_attn, cls_attn_last, keys, embeds.\n",
              stdout);
    fputs(compress ? BATCH_USAGE("compress", ".tokens") : BATCH_USAGE("encode", ".features"), stdout);
}

static int parse(int argc, char **argv, struct pipeline_opts *o) {
    long long v;
    int r;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED()                                                              \
    do {                                                                    \
        if (!val) return cli_usage_error("%s needs a value", a);            \
        i++;                                                                \
    } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(o->is_compress);
            return -1;
        } else if (!strcmp(a, "--model") || !strcmp(a, "-m")) {
            NEED(); o->model = val;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            NEED(); o->out = val;
        } else if (!strcmp(a, "--frames")) {
            NEED();
            if (cli_parse_int(val, 1, 100000, &v)) return cli_usage_error("--frames: '%s' is not a frame count (1..100000)", val);
            o->frames = (int)v;
        } else if (!strcmp(a, "--fps")) {
            NEED();
            if (cli_parse_double(val, 1e-6, 1000, &o->fps)) return cli_usage_error("--fps: '%s' is not a rate in (0, 1000]", val);
        } else if (!strcmp(a, "--pool")) {
            NEED();
            if (cli_parse_int(val, 1, 8, &v)) return cli_usage_error("--pool: '%s' is not a pool size (1..8)", val);
            o->pool = (int)v;
        } else if (!strcmp(a, "--threads") || !strcmp(a, "-t")) {
            NEED();
            if (cli_parse_int(val, 1, 1024, &v)) return cli_usage_error("--threads: '%s' is not a thread count (1..1024)", val);
            o->threads = (int)v;
        } else if (!strcmp(a, "--precision")) {
            NEED();
            if (cli_parse_precision(val, &o->precision)) return cli_usage_error("--precision: '%s' is not f32, bf16 or auto", val);
        } else if (!strcmp(a, "--layer")) {
            NEED();
            if (cli_parse_int(val, -1024, 1024, &v) || v == 0) return cli_usage_error("--layer: '%s' is not a layer index (-1 last, -2 penultimate, k > 0)", val);
            o->layer = (int)v;
        } else if (!strcmp(a, "--pool-mode")) {
            NEED();
            if (cli_parse_pool_mode(val, &o->pool_mode)) return cli_usage_error("--pool-mode: '%s' is not avg or bilinear", val);
        } else if (!strcmp(a, "--heads")) {
            NEED();
            if (cli_parse_int(val, 1, 1024, &v)) return cli_usage_error("--heads: '%s' is not a head count (1..1024)", val);
            o->heads = (int)v;
        } else if (!strcmp(a, "--resize-min-pixels") || !strcmp(a, "--resize-max-pixels")) {
            NEED();
            if (cli_parse_int(val, 1, 1 << 30, &v)) return cli_usage_error("%s: '%s' is not a pixel count (1..2^30)", a, val);
            *(!strcmp(a, "--resize-min-pixels") ? &o->min_pixels : &o->max_pixels) = (int)v;
        } else if (!strcmp(a, "--image-size")) {
            NEED();
            if (cli_parse_int(val, 1, 8192, &v)) return cli_usage_error("--image-size: '%s' is not an image size (1..8192)", val);
            o->image_size = (int)v;
        } else if (!strcmp(a, "--aspect")) {
            NEED();
            if (!strcmp(val, "crop")) o->aspect = VTC_ASPECT_CROP;
            else if (!strcmp(val, "pad")) o->aspect = VTC_ASPECT_PAD;
            else if (!strcmp(val, "resize")) o->aspect = VTC_ASPECT_RESIZE;
            else return cli_usage_error("--aspect: '%s' is not one of crop, pad, resize", val);
        } else if (!strcmp(a, "--max-pixels") || !strcmp(a, "--max-frames") || !strcmp(a, "--max-tokens") ||
                   !strcmp(a, "--max-memory")) {
            NEED();
            if (cli_parse_int(val, 1, (long long)1 << 50, &v)) return cli_usage_error("%s: '%s' is not a positive integer", a, val);
            if (!strcmp(a, "--max-pixels")) o->limits.max_pixels = (uint64_t)v;
            else if (!strcmp(a, "--max-frames")) o->limits.max_frames = v > INT32_MAX ? INT32_MAX : (int32_t)v;
            else if (!strcmp(a, "--max-tokens")) o->limits.max_tokens = v;
            else o->limits.max_memory = (uint64_t)v;
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--manifest")) {
            NEED(); o->manifest = val;
        } else if (!strcmp(a, "--out-dir")) {
            NEED(); o->out_dir = val;
        } else if (!strcmp(a, "--shard")) {
            NEED();
            if (cli_parse_shard(val, &o->shard_i, &o->shard_n))
                return cli_usage_error("--shard: '%s' is not I/N with 0 <= I < N", val);
        } else if (!strcmp(a, "--force")) {
            o->force = 1;
        } else if (!strcmp(a, "--max-failures")) {
            NEED();
            if (cli_parse_int(val, 1, (long long)1 << 50, &v)) return cli_usage_error("--max-failures: '%s' is not a positive count", val);
            o->max_failures = v;
        } else if (!strcmp(a, "--workers")) {
            NEED();
            if (cli_parse_int(val, 1, 64, &v)) return cli_usage_error("--workers: '%s' is not a worker count (1..64)", val);
            o->workers = (int)v;
        } else if (o->is_compress && (r = cli_prune_option(&o->prune, argc, argv, &i)) >= 0) {
            if (r) return r;
        } else if (o->is_compress && !strcmp(a, "--report")) {
            NEED(); o->report = val;
        } else if (o->is_compress && !strcmp(a, "--viz")) {
            NEED(); o->viz = val;
        } else if (o->is_compress && !strcmp(a, "--lm")) {
            NEED(); o->lm = val;
        } else if (o->is_compress && (!strcmp(a, "--text") || !strcmp(a, "--gen"))) {
            NEED();
            if (cli_parse_int(val, 0, 1 << 24, &v)) return cli_usage_error("%s: '%s' is not a token count", a, val);
            *(!strcmp(a, "--text") ? &o->text : &o->gen) = (int)v;
        } else if (o->is_compress && !strcmp(a, "--decoder")) {
            NEED(); o->decoder = val;
        } else if (o->is_compress && !strcmp(a, "--tokenizer")) {
            NEED(); o->tokenizer = val;
        } else if (o->is_compress && !strcmp(a, "--prompt")) {
            NEED(); o->prompt = val;
        } else if (o->is_compress && !strcmp(a, "--decode-method")) {
            NEED(); o->decode_method = val;
        } else if (o->is_compress && !strcmp(a, "--decode-param")) {
            NEED();
            if (o->n_decode_params == CLI_MAX_PARAMS)
                return cli_usage_error("--decode-param: at most %d parameters", CLI_MAX_PARAMS);
            if (!strchr(val, '=')) return cli_usage_error("--decode-param: '%s' is not NAME=VALUE", val);
            o->decode_params[o->n_decode_params++] = val;
        } else if (o->is_compress && !strcmp(a, "-n")) {
            NEED();
            if (cli_parse_int(val, 0, 1 << 20, &v)) return cli_usage_error("-n: '%s' is not a step count (0..1048576)", val);
            o->steps = (int)v;
        } else if (o->is_compress && !strcmp(a, "--positions")) {
            NEED();
            if (cli_parse_positions(val, &o->original_positions))
                return cli_usage_error("--positions: '%s' is neither compact nor original", val);
            o->positions_given = 1;
        } else if (o->is_compress && !strcmp(a, "--temp")) {
            NEED();
            if (cli_parse_double(val, 0, 100, &o->temp)) return cli_usage_error("--temp: '%s' is not a temperature in [0, 100]", val);
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage_error("%s: unknown option '%s' (see `vtc %s --help`)", argv[0], a, argv[0]);
        } else if (!o->input) {
            o->input = a;
        } else {
            return cli_usage_error("%s: unexpected argument '%s'", argv[0], a);
        }
#undef NEED
    }
    if (o->manifest) { // batch mode (docs/batch.md)
        if (o->input) return cli_usage_error("%s: give INPUT or --manifest, not both", argv[0]);
        if (!o->out_dir) return cli_usage_error("%s: --manifest needs --out-dir DIR", argv[0]);
        if (o->out || o->report || o->viz || o->decoder)
            return cli_usage_error("%s: -o, --report, --viz and --decoder take one INPUT, not a --manifest", argv[0]);
    } else if (o->out_dir || o->shard_n || o->force || o->max_failures || o->workers) {
        return cli_usage_error("%s: --out-dir, --shard, --force, --max-failures and --workers need --manifest LIST",
                               argv[0]);
    }
    if (!o->input && !o->manifest)
        return cli_usage_error("%s: no INPUT given (see `vtc %s --help`)", argv[0], argv[0]);
    if (!o->is_compress && !o->out && !o->manifest) return cli_usage_error("encode: -o OUT.safetensors is required");
    if (o->frames && o->fps > 0) return cli_usage_error("%s: give --frames or --fps, not both", argv[0]);
    if (o->prune.n_params && !o->prune.method)
        return cli_usage_error("%s: --param names a knob of --method, which is not given", argv[0]);
    if (!o->decoder && (o->tokenizer || o->prompt || o->decode_method || o->n_decode_params || o->steps >= 0 ||
                        o->temp >= 0 || o->positions_given))
        return cli_usage_error("%s: --tokenizer, --prompt, --decode-method, --decode-param, -n, --temp and --positions "
                               "need --decoder FILE",
                               argv[0]);
    return 0;
}

// A progress bar on stderr, only when it is a terminal and there is more than one frame.
static void progress_bar(void *user, int32_t done, int32_t total) {
    (void)user;
    if (total < 2) return;
    int width = 30, fill = (int)((int64_t)done * width / total);
    fprintf(stderr, "\rencoding [%.*s%*s] %d/%d frames", fill, "##############################", width - fill, "", done,
            total);
    if (done == total) fputs("\r\033[K", stderr);
    fflush(stderr);
}

// "clip.mp4" -> "clip.tokens.safetensors" in the current directory.
static void default_output(const char *input, char *out, size_t cap) {
    const char *base = strrchr(input, '/');
    base = base ? base + 1 : input;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    snprintf(out, cap, "%.*s.tokens.safetensors", (int)len, base);
}

// ---------------------------------------------------------------- the steps a batch shares

int pipeline_prune_params(struct cli_prune_opts *po, const char *method, struct vtc_prune_params *out) {
    if (!po->method && !po->have_keep) po->budget.keep_ratio = CLI_DEFAULT_KEEP_RATIO;
    return cli_prune_params_check(po, method, out);
}

const char *pipeline_default_method(int is_video) {
    return is_video ? CLI_DEFAULT_METHOD_VIDEO : CLI_DEFAULT_METHOD_IMAGE;
}

struct vtc_model_params pipeline_model_params(const struct pipeline_opts *o) {
    struct vtc_model_params mp = vtc_model_params_default();
    mp.feature_layer = o->layer;
    mp.aspect = o->aspect;
    mp.heads = o->heads;
    mp.image_size = o->image_size;
    mp.min_pixels = o->min_pixels;
    mp.max_pixels = o->max_pixels;
    mp.limits = o->limits;
    return mp;
}

struct vtc_sample_params pipeline_sample_params(const struct pipeline_opts *o) {
    struct vtc_sample_params sp = vtc_sample_params_default();
    if (o->frames) sp.n_frames = o->frames;
    if (o->fps > 0) sp.n_frames = 0, sp.fps = o->fps;
    return sp;
}

// LLaVA-OneVision pools a video's frames (apply_pooling) unless --pool says otherwise.
static int pools_video(const vtc_model *model) {
    struct vtc_model_info mi;
    return !vtc_model_get_info(model, &mi) && !strcmp(mi.layout, "anyres_max");
}

struct vtc_ctx_params pipeline_ctx_params(const struct pipeline_opts *o, const char *method, const vtc_model *model) {
    struct vtc_ctx_params cp = vtc_ctx_params_default();
    cp.n_threads = o->threads;
    cp.precision = o->precision;
    unsigned needs = 0;
    if (o->is_compress) vtc_method_needs(method, &needs);
    // pooling follows the projector: given, or LLaVA-OneVision's own for a video
    const int model_pools = !o->pool && pools_video(model);
    cp.want_embeds = !o->is_compress || (needs & VTC_F_EMBEDS) || o->pool > 1 || model_pools;
    return cp;
}

int pipeline_encode(vtc_ctx *ctx, const struct pipeline_opts *o, struct cli_input *in,
                    struct vtc_prune_params pp, struct report *r, vtc_features **f, vtc_tokens **tok,
                    const char **what, const char *save_to) {
    int st;
    if (save_to && !o->is_compress && in->video && !o->viz &&
        (o->pool == 1 || (!o->pool && !pools_video(r->model)))) {
        st = vtc_encode_video_save(ctx, in->video, save_to, NULL, f); // written as it is encoded
        r->streamed = !st;
    } else {
        st = cli_encode_input(ctx, in, o->pool, o->pool_mode, f);
    }
    r->ms_decode = cli_input_ms_decode(in);
    // a video's frames are read while they are encoded: say which of the two failed
    *what = in->video && vtc_video_source_failed(in->video) ? "reading input" : "encoding";
    if (st) return st;
    r->f = *f;
    if (!o->is_compress) return VTC_OK;
    *what = "pruning";
    double t0 = vtc_now_ms();
    st = vtc_prune(ctx, *f, pp, tok);
    r->ms_prune = vtc_now_ms() - t0;
    if (st) return st;
    r->tokens = *tok;
    r->prune = pp;
    return VTC_OK;
}

int pipeline_save(const struct pipeline_opts *o, struct report *r, const vtc_features *f, const vtc_tokens *tok,
                  const char *path) {
    if (r->streamed) return VTC_OK;
    double t0 = vtc_now_ms();
    int st = o->is_compress ? vtc_tokens_save(tok, path, NULL) : vtc_features_save(f, path, NULL);
    r->ms_write = vtc_now_ms() - t0;
    return st;
}

// ---------------------------------------------------------------- one input

static int run(int argc, char **argv, int is_compress) {
    struct pipeline_opts o = { 0 };
    o.is_compress = is_compress;
    o.limits = vtc_limits_default();
    o.text = 64;
    o.gen = 128;
    o.steps = -1; // -n and --temp not given
    o.pool_mode = -1; // --pool-mode not given: the model's rule
    o.temp = -1;
    int pr = parse(argc, argv, &o);
    if (pr) return pr < 0 ? CLI_OK : pr;
    struct vtc_lm_shape lm;
    const char *lm_name = o.lm ? o.lm : "llava-1.5-7b";
    if (is_compress && vtc_lm_preset(lm_name, &lm)) return cli_usage_error("--lm: unknown preset '%s' (see `vtc flops --help`)", lm_name);
    // Validate what can be checked before any work: method name, parameters,
    // budget. Without --method the input's kind picks the method (cli.h), each
    // default taking the same budget.
    struct vtc_prune_params pp = vtc_prune_params_default();
    if (is_compress) {
        int st = pipeline_prune_params(&o.prune, o.prune.method ? o.prune.method : CLI_DEFAULT_METHOD_IMAGE, &pp);
        if (st) return cli_status_error(st, "compress");
    }
    if (o.manifest) return batch_run(&o);

    char outbuf[4096], decode_params[2048];
    if (!o.out) {
        default_output(o.input, outbuf, sizeof outbuf);
        o.out = outbuf;
    }
    if (cli_join_params(o.decode_params, o.n_decode_params, decode_params, sizeof decode_params))
        return cli_usage_error("--decode-param: more than %zu characters in all", sizeof decode_params - 1);
    if (o.steps < 0) o.steps = 32;
    if (o.temp < 0) o.temp = 0;
    if (is_compress && o.decoder) {
        int st = cli_decode_check_method(o.decode_method, o.n_decode_params ? decode_params : NULL);
        if (st) return cli_status_error(st, "--decode-method");
    }

    struct report r;
    report_init(&r, o.input, is_compress ? "compress" : "encode");
    r.lm = lm;
    r.lm_name = lm_name;
    r.n_text = o.text;
    r.n_gen = o.gen;
    int rc = CLI_OK;
    vtc_model *model = NULL;
    struct cli_input in = { 0 };
    vtc_ctx *ctx = NULL;
    vtc_features *f = NULL;
    vtc_tokens *tok = NULL;
    struct cli_decode_result dec = { 0 };

    struct vtc_model_params mp = pipeline_model_params(&o);
    double t0 = vtc_now_ms();
    model = o.model ? vtc_model_load(o.model, mp) : vtc_model_default(mp);
    r.ms_load = vtc_now_ms() - t0;
    if (!model) {
        rc = cli_status_error(vtc_last_status(), "loading model");
        goto done;
    }
    r.model = model;

    int st = cli_input_open(o.input, vtc_sample_for_model(model, pipeline_sample_params(&o)), &mp.limits, o.threads ? o.threads : vtc_cpu_count(),
                            &in);
    r.ms_decode = in.ms_open;
    if (st) {
        rc = cli_status_error(st, "reading input");
        goto done;
    }
    r.in = &in;
    if (is_compress && !o.prune.method) {
        pp.method = pipeline_default_method(in.video != NULL);
        r.default_method = 1;
    }

    struct vtc_ctx_params cp = pipeline_ctx_params(&o, pp.method, model);
    if (isatty(STDERR_FILENO)) cp.progress = progress_bar;
    ctx = vtc_ctx_new(model, cp);
    if (!ctx) {
        rc = cli_status_error(vtc_last_status(), "creating context");
        goto done;
    }
    r.ctx = ctx;
    // A failed command leaves no output behind and the previous one in place: with
    // --viz or --report the token file is written under a temporary name and
    // takes its own once they are written too.
    char staged[sizeof outbuf + 16];
    const char *write_to = o.out;
    if (o.viz || o.report) {
        if ((st = vtc_output_replaceable(o.out))) { // the staged file is renamed over it at the end
            rc = cli_status_error(st, "writing");
            goto done;
        }
        if ((size_t)snprintf(staged, sizeof staged, "%s.vtc-staged", o.out) >= sizeof staged) {
            rc = cli_usage_error("-o: path too long");
            goto done;
        }
        write_to = staged;
    }
    const char *what;
    st = pipeline_encode(ctx, &o, &in, pp, &r, &f, &tok, &what, write_to);
    if (st) {
        if (cp.progress && in.video && !f) fputs("\r\033[K", stderr); // the error gets a line of its own
        rc = cli_status_error(st, what);
        goto done;
    }
    if (is_compress && o.decoder) { // before anything is written: a failed decode leaves no output behind
        st = cli_decode_exec(o.decoder, o.tokenizer, o.prompt, o.decode_method,
                             o.n_decode_params ? decode_params : NULL, o.steps, (float)o.temp, tok,
                             o.original_positions, o.threads, &dec);
        if (st) {
            rc = cli_status_error(st, "decoding");
            goto done;
        }
        r.decode = &dec;
    }

    st = pipeline_save(&o, &r, f, tok, write_to);
    if (st) {
        rc = cli_status_error(st, "writing");
        goto done;
    }
    r.output = o.out;
    if (o.viz) {
        st = viz_write(o.viz, model, &in, f, tok, o.aspect);
        if (st) {
            unlink(write_to);
            rc = cli_status_error(st, "writing picture");
            goto done;
        }
    }
    if (o.report) {
        st = report_write_file(&r, o.report);
        if (st) {
            unlink(write_to);
            if (o.viz) unlink(o.viz);
            rc = cli_status_error(st, "writing report");
            goto done;
        }
    }
    if (write_to != o.out && rename(write_to, o.out) != 0) {
        rc = cli_runtime_error("%s: %s", o.out, strerror(errno));
        unlink(write_to);
        if (o.viz) unlink(o.viz);
        if (o.report) unlink(o.report);
        goto done;
    }
    if (o.json) report_write_json(&r, stdout, 1);
    else report_print_summary(&r, stdout);

done:
    cli_decode_result_free(&dec);
    vtc_tokens_free(tok);
    vtc_features_free(f);
    vtc_ctx_free(ctx);
    cli_input_close(&in);
    vtc_model_free(model);
    return rc;
}

int cmd_encode(int argc, char **argv) { return run(argc, argv, 0); }
int cmd_compress(int argc, char **argv) { return run(argc, argv, 1); }
