// Reports: what ran, what was kept, FLOPs before -> after, time per stage.
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "base/common.h"
#include "decode_run.h"
#include "base/flops.h"
#include "base/mapfile.h"
#include "json_out.h"
#include "video/source.h"

void report_init(struct report *r, const char *input, const char *command) {
    memset(r, 0, sizeof *r);
    r->input = input;
    r->command = command;
}

// what the unpruned model would take (an anyres image: base, window, newlines)
static int64_t n_input(const struct report *r) { return r->tokens ? r->tokens->n_input : r->f ? r->f->n : 0; }
static int64_t n_kept(const struct report *r) { return r->tokens ? r->tokens->n : n_input(r); }

// The projector ran on every token (encode, or methods that need embeddings)
// and/or on the kept tokens inside vtc_prune.
static double projector_flops(const struct report *r) {
    return r->f->flops_projector + (r->tokens ? r->tokens->flops_projector : 0);
}

static void flops_json(const struct report *r, struct vtc_json *j) {
    vtc_json_key(j, "flops");
    vtc_json_begin_object(j);
    vtc_json_kv_double(j, "vision_encoder", r->f->flops_encoder);
    vtc_json_kv_double(j, "projector", projector_flops(r));
    if (r->tokens) {
        struct vtc_flops before, after;
        vtc_lm_flops(&r->lm, n_input(r), r->n_text, r->n_gen, &before);
        vtc_lm_flops(&r->lm, n_kept(r), r->n_text, r->n_gen, &after);
        vtc_json_kv_string(j, "lm", r->lm_name);
        vtc_json_kv_int(j, "text_tokens", r->n_text);
        vtc_json_kv_int(j, "generated_tokens", r->n_gen);
        vtc_json_key(j, "prefill");
        vtc_json_begin_object(j);
        vtc_json_kv_double(j, "before", before.prefill);
        vtc_json_kv_double(j, "after", after.prefill);
        vtc_json_kv_double(j, "paper_before", before.paper_prefill);
        vtc_json_kv_double(j, "paper_after", after.paper_prefill);
        vtc_json_kv_double(j, "ratio", after.prefill / before.prefill);
        vtc_json_end_object(j);
        vtc_json_key(j, "decode");
        vtc_json_begin_object(j);
        vtc_json_kv_double(j, "before", before.decode);
        vtc_json_kv_double(j, "after", after.decode);
        vtc_json_kv_double(j, "per_token_before", before.decode_per_token);
        vtc_json_kv_double(j, "per_token_after", after.decode_per_token);
        vtc_json_end_object(j);
    }
    vtc_json_end_object(j);
}

int report_write_json(const struct report *r, FILE *fp, int pretty) {
    struct vtc_json j;
    vtc_json_init_file(&j, fp, pretty);
    struct vtc_model_info mi;
    vtc_model_get_info(r->model, &mi);
    vtc_json_begin_object(&j);
    vtc_json_kv_string(&j, "command", r->command);
    vtc_json_kv_string(&j, "input", r->input);
    vtc_json_kv_string(&j, "output", r->output);
    if (r->status) {
        vtc_json_kv_string(&j, "id", r->id);
        vtc_json_kv_string(&j, "path", r->path);
        vtc_json_kv_string(&j, "status", r->status);
        if (r->error) vtc_json_kv_string(&j, "error", r->error);
    }
    if (!r->f) { // a batch's failed or skipped item
        if (r->file_method) vtc_json_kv_string(&j, "method", r->file_method);
        if (r->file_n_input) {
            vtc_json_kv_int(&j, "n_input", r->file_n_input);
            vtc_json_kv_int(&j, "n_kept", r->file_n_kept);
        }
        vtc_json_end_object(&j);
        return vtc_json_finish(&j);
    }
    vtc_json_key(&j, "model");
    vtc_json_begin_object(&j);
    vtc_json_kv_string(&j, "name", mi.name);
    vtc_json_kv_string(&j, "format", mi.format);
    vtc_json_kv_string(&j, "arch", mi.arch);
    vtc_json_kv_bool(&j, "random_weights", mi.random_weights);
    vtc_json_kv_int(&j, "image_size", mi.image_size);
    vtc_json_kv_int(&j, "patch_size", mi.patch_size);
    vtc_json_kv_int(&j, "hidden", mi.hidden);
    vtc_json_kv_int(&j, "layers", mi.n_layers);
    vtc_json_kv_int(&j, "feature_layer", mi.feature_layer);
    vtc_json_kv_int(&j, "lm_dim", mi.lm_dim);
    vtc_json_end_object(&j);
    if (r->in) {
        // an image's own, or what the video source read and the features hold
        const struct cli_input *in = r->in;
        struct vtc_video_info vi;
        int32_t n = 1;
        const int64_t *idx = NULL;
        if (in->video) {
            vtc_video_source_info(in->video, &vi);
            idx = vtc_video_source_indices(in->video, &n);
        }
        vtc_json_key(&j, "media");
        vtc_json_begin_object(&j);
        vtc_json_kv_string(&j, "kind", in->video ? "video" : "image");
        vtc_json_kv_string(&j, "codec", in->video ? vi.codec : in->image->codec);
        vtc_json_kv_int(&j, "width", in->video ? vi.width : in->image->frames[0]->width);
        vtc_json_kv_int(&j, "height", in->video ? vi.height : in->image->frames[0]->height);
        vtc_json_kv_int(&j, "total_frames", in->video ? vi.n_frames : 1);
        vtc_json_kv_double(&j, "fps", in->video ? vi.fps : 0);
        vtc_json_key(&j, "frame_index");
        vtc_json_begin_array(&j);
        for (int i = 0; i < n; i++) vtc_json_int(&j, idx ? idx[i] : 0);
        vtc_json_end_array(&j);
        vtc_json_key(&j, "timestamps");
        vtc_json_begin_array(&j);
        int32_t n_ts = 0; // a video's frames as its source handed them out (a Qwen2-VL slice holds two)
        const double *ts = in->video ? vtc_video_source_timestamps(in->video, &n_ts) : NULL;
        for (int i = 0; i < n; i++) vtc_json_double(&j, ts && i < n_ts ? ts[i] : 0);
        vtc_json_end_array(&j);
        vtc_json_end_object(&j);
    }
    vtc_json_key(&j, "grid");
    vtc_json_begin_array(&j);
    vtc_json_int(&j, r->f->T);
    vtc_json_int(&j, r->f->H);
    vtc_json_int(&j, r->f->W);
    vtc_json_end_array(&j);
    if (r->tokens) {
        vtc_json_kv_string(&j, "method", r->prune.method);
        vtc_json_kv_bool(&j, "method_default", r->default_method);
        vtc_json_kv_string(&j, "parameters", r->prune.params ? r->prune.params : "");
        // the budget as given: a count, a fraction, or 0 for every token
        vtc_json_kv_double(&j, "keep", r->prune.n_keep ? (double)r->prune.n_keep : r->prune.keep_ratio);
        vtc_json_kv_string(&j, "space", r->tokens->space == VTC_SPACE_EMBEDS ? "embeds" : "features");
        vtc_json_kv_string(&j, "note", r->tokens->note);
    }
    vtc_json_kv_int(&j, "n_input", n_input(r));
    vtc_json_kv_int(&j, "n_kept", n_kept(r));
    vtc_json_kv_double(&j, "retained_ratio", (double)n_kept(r) / (double)n_input(r));
    flops_json(r, &j);
    if (r->decode) cli_decode_write_json(r->decode, &j);
    if (r->ctx) {
        const char *engine;
        const int p = vtc_ctx_precision(r->ctx, &engine);
        vtc_json_kv_string(&j, "precision", p == VTC_PRECISION_BF16 ? "bf16" : "f32");
        vtc_json_kv_string(&j, "engine", engine);
    }
    vtc_json_key(&j, "timings_ms");
    vtc_json_begin_object(&j);
    vtc_json_kv_double(&j, "load", r->ms_load);
    vtc_json_kv_double(&j, "decode", r->ms_decode);
    vtc_json_kv_double(&j, "preprocess", r->f->ms_preprocess);
    vtc_json_kv_double(&j, "encode", r->f->ms_encode);
    vtc_json_kv_double(&j, "project", r->f->ms_project);
    vtc_json_kv_double(&j, "prune", r->ms_prune);
    vtc_json_kv_double(&j, "write", r->ms_write);
    vtc_json_end_object(&j);
    vtc_json_end_object(&j);
    return vtc_json_finish(&j);
}

int report_write_file(const struct report *r, const char *path) {
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) return vtc_set_error(VTC_ERR_NOMEM, "%s: cannot build report", path);
    int st = report_write_json(r, mem, 1);
    fclose(mem);
    if (!st) st = vtc_write_file_atomic(path, buf, len);
    free(buf);
    return st;
}

static void human_flops(double v, char *out, size_t cap) {
    if (v >= 1e12) snprintf(out, cap, "%.2f TFLOP", v / 1e12);
    else if (v >= 1e9) snprintf(out, cap, "%.2f GFLOP", v / 1e9);
    else snprintf(out, cap, "%.2f MFLOP", v / 1e6);
}

void report_print_summary(const struct report *r, FILE *fp) {
    struct vtc_model_info mi;
    vtc_model_get_info(r->model, &mi);
    char a[32], b[32];
    fprintf(fp, "input     %s (%s, %d frame%s, grid %dx%dx%d)\n", r->input,
            r->in && r->in->video ? "video" : "image", r->f->T, r->f->T == 1 ? "" : "s", r->f->T, r->f->H,
            r->f->W);
    fprintf(fp, "model     %s [%s]%s\n", mi.name, mi.format, mi.random_weights ? " - random weights (demo)" : "");
    if (r->tokens && r->default_method)
        fprintf(fp, "method    %s, keeping %s (the default for %s; --method none keeps every token)\n", r->prune.method,
                r->prune.n_keep || r->prune.keep_ratio != CLI_DEFAULT_KEEP_RATIO ? "the --keep budget" : "a third",
                r->in && r->in->video ? "video" : "images");
    else if (r->tokens)
        fprintf(fp, "method    %s%s%s%s\n", r->prune.method, r->prune.params ? " (" : "",
                r->prune.params ? r->prune.params : "", r->prune.params ? ")" : "");
    if (r->tokens && r->tokens->note[0]) fprintf(fp, "note      %s\n", r->tokens->note);
    fprintf(fp, "tokens    %lld -> %lld  (retained ratio %.4f)\n", (long long)n_input(r), (long long)n_kept(r),
            (double)n_kept(r) / (double)n_input(r));
    human_flops(r->f->flops_encoder, a, sizeof a);
    human_flops(projector_flops(r), b, sizeof b);
    fprintf(fp, "encoder   %s, projector %s\n", a, b);
    if (r->ctx) {
        const char *engine;
        vtc_ctx_precision(r->ctx, &engine);
        fprintf(fp, "precision %s\n", engine);
    }
    if (r->tokens) {
        struct vtc_flops before, after;
        vtc_lm_flops(&r->lm, n_input(r), r->n_text, r->n_gen, &before);
        vtc_lm_flops(&r->lm, n_kept(r), r->n_text, r->n_gen, &after);
        human_flops(before.prefill, a, sizeof a);
        human_flops(after.prefill, b, sizeof b);
        fprintf(fp, "prefill   %s -> %s  (%.1f%%, %s, %d text tokens)\n", a, b, 100.0 * after.prefill / before.prefill,
                r->lm_name, r->n_text);
        human_flops(before.decode, a, sizeof a);
        human_flops(after.decode, b, sizeof b);
        fprintf(fp, "decode    %s -> %s  (%d tokens)\n", a, b, r->n_gen);
    }
    fprintf(fp, "time ms   load %.1f, decode %.1f, preprocess %.1f, encode %.1f, project %.1f, prune %.1f, write %.1f\n",
            r->ms_load, r->ms_decode, r->f->ms_preprocess, r->f->ms_encode, r->f->ms_project, r->ms_prune, r->ms_write);
    if (r->decode) cli_decode_print(r->decode, fp);
    if (r->output) fprintf(fp, "wrote     %s\n", r->output);
}
