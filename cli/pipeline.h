// `vtc encode` and `vtc compress`: their options, and the steps one input takes
// through them. A single run (cmd_pipeline.c) and a batch (batch.c) go through the
// same functions, so a batch writes byte-identical token files.
#ifndef VTC_CLI_PIPELINE_H
#define VTC_CLI_PIPELINE_H

#include "cli.h"
#include "report.h"

struct pipeline_opts {
    const char *model, *input, *out, *report, *viz, *lm;
    struct cli_prune_opts prune; // --method, --keep, --param, --seed
    int frames, threads, layer, aspect, json, text, gen, pool;
    int precision;             // --precision (enum vtc_precision; default auto)
    int pool_mode;             // --pool-mode (-1: the model's rule)
    int heads, image_size;     // --heads, --image-size: for a tower whose files do not say (0: the files')
    int min_pixels, max_pixels;// --resize-min-pixels, --resize-max-pixels: a native-resolution model's bounds (0: its config's)
    double fps;
    int is_compress;
    struct vtc_limits limits;
    // --decoder: the kept tokens through the reference decoder (decode_run.h)
    const char *decoder, *tokenizer, *prompt, *decode_method;
    const char *decode_params[CLI_MAX_PARAMS];
    int n_decode_params, steps;
    int original_positions, positions_given; // --positions
    double temp;
    // batch mode (batch.c): --manifest LIST --out-dir DIR
    const char *manifest, *out_dir;
    int shard_i, shard_n;      // --shard I/N (shard_n 0: not given)
    int force, workers;        // --force, --workers (0: not given)
    long long max_failures;    // --max-failures (0: no limit)
};

// The token budget of a compress run: the default keep (a third) when neither
// --method nor --keep is given, then the parameters for `method` checked against
// the registry. A vtc status, the reason in vtc_last_error() (nothing printed).
int pipeline_prune_params(struct cli_prune_opts *po, const char *method, struct vtc_prune_params *out);
// The method compress runs on media without --method (cli.h: by the input's kind).
const char *pipeline_default_method(int is_video);

struct vtc_model_params pipeline_model_params(const struct pipeline_opts *o);
struct vtc_sample_params pipeline_sample_params(const struct pipeline_opts *o);
// The context a method runs in: embeddings for every token only when they are
// written (encode) or the method needs them (divprune, todre, pool, ...).
struct vtc_ctx_params pipeline_ctx_params(const struct pipeline_opts *o, const char *method, const vtc_model *model);

// Encode (and for compress prune with pp) one opened input, filling r's features,
// tokens and timings. 0, or a vtc status with *what naming the stage that failed.
// save_to (may be NULL): where `vtc encode` writes the features; a video's go
// there frame by frame as they are encoded (memory holds one frame's tokens),
// r->streamed set and *f only the summary, when nothing else needs the whole
// grid (no pooling, no --viz).
int pipeline_encode(vtc_ctx *ctx, const struct pipeline_opts *o, struct cli_input *in,
                    struct vtc_prune_params pp, struct report *r, vtc_features **f, vtc_tokens **tok,
                    const char **what, const char *save_to);
// Writes the token file (compress) or features file (encode) atomically, unless
// the encode streamed it; times it in r.
int pipeline_save(const struct pipeline_opts *o, struct report *r, const vtc_features *f, const vtc_tokens *tok,
                  const char *path);

#endif
