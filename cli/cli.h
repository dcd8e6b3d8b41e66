// Shared helpers of the vtc command-line tool. Exit codes (docs/cli.md#exit-status): 0 ok,
// 1 runtime or input error, 2 usage error; errors are one line
// "vtc: error: <what>: <why>" on stderr.
#ifndef VTC_CLI_H
#define VTC_CLI_H

#include "vtc.h"

#define CLI_OK 0
#define CLI_RUNTIME 1
#define CLI_USAGE 2

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

// Print "vtc: error: <message>" and return the matching exit code.
int cli_usage_error(const char *fmt, ...) CLI_PRINTF(1, 2);
int cli_runtime_error(const char *fmt, ...) CLI_PRINTF(1, 2);
// Maps a library status to an exit code (VTC_ERR_ARG -> 2, other errors -> 1)
// and prints "vtc: error: <what>: <vtc_last_error()>".
int cli_status_error(int status, const char *what);
// The same "<what>: <why>" text into buf, printing nothing (a batch's report line).
void cli_status_text(int status, const char *what, char *buf, size_t cap);

// Strict number parsing: the whole string must be a number in range. 0 on success.
int cli_parse_int(const char *s, long long lo, long long hi, long long *out);
int cli_parse_double(const char *s, double lo, double hi, double *out);

// --keep: "64" (a count), "25%" (a percentage) or "0.25" (a fraction) into
// p->n_keep or p->keep_ratio, clearing the other ("100%" clears both: every token).
int cli_parse_keep(const char *s, struct vtc_prune_params *p);

// The pruning options `vtc compress` and `vtc prune` share: --method NAME,
// --keep K, --param NAME=VALUE (repeatable), --seed S.
#define CLI_MAX_PARAMS 32
struct cli_prune_opts {
    const char *method;              // NULL when --method was not given
    int have_keep;                   // 1 when --keep was given
    struct vtc_prune_params budget;  // its n_keep / keep_ratio
    const char *params[CLI_MAX_PARAMS];
    int n_params;
    uint64_t seed;
    int pack;                        // --pack: enum vtc_pack (0: native)
    char joined[2048];               // the --param values, comma-joined
};
// When argv[*i] is one of those options: takes its value (advancing *i) and
// returns 0, or prints the usage error and returns CLI_USAGE. -1 when it is not one.
int cli_prune_option(struct cli_prune_opts *o, int argc, char **argv, int *i);
// The vtc_prune_params they give for `method` (pointing into o), checked against
// the registry: 0, or the error printed ("vtc: error: <what>: ...") and its exit code.
int cli_prune_params(struct cli_prune_opts *o, const char *method, const char *what, struct vtc_prune_params *out);
// The same without printing: a vtc status, the reason in vtc_last_error().
int cli_prune_params_check(struct cli_prune_opts *o, const char *method, struct vtc_prune_params *out);

// `vtc compress` without --method: the method and budget that hold up best in
// the quality tables (docs/quality.md) for the kind of input: uniform for an
// image, divprune for a video, each keeping a third of the tokens unless --keep
// says otherwise. `--method none` is the unpruned baseline.
#define CLI_DEFAULT_METHOD_IMAGE "uniform"
#define CLI_DEFAULT_METHOD_VIDEO "divprune"
#define CLI_DEFAULT_KEEP_RATIO (1.0 / 3.0)

// One input of `vtc encode`, `compress`, `eval` and `frames`: an image decoded
// whole, or a video opened and sampled (its frame index settled) whose frames
// are decoded one by one while they are encoded, so memory does not grow with
// the frames sampled (video/source.h).
typedef struct vtc_video_source vtc_video_source;
struct cli_input {
    vtc_media *image;        // an image (one frame), or
    vtc_video_source *video; // a video
    double ms_open;          // opening it: an image's decode, a video's frame index
};
// Opens path as vtc_media_load would read it, n_threads decoding threads for a
// video. 0, or a vtc status (error in vtc_last_error()); on failure *in is empty.
int cli_input_open(const char *path, struct vtc_sample_params sp, const struct vtc_limits *limits, int n_threads,
                   struct cli_input *in);
void cli_input_close(struct cli_input *in);
// Milliseconds spent decoding: the open, and a video's frames so far.
double cli_input_ms_decode(const struct cli_input *in);
// Sampled frame t (0 for an image) as the encoder got it, a video's decoded again:
// *img caller frees with vtc_image_free.
int cli_input_frame(struct cli_input *in, int t, vtc_image **img);

// Encodes an input (an image, tiled when the model tiles; a video's frames
// streamed through vtc_encode_source) and pools each frame's grid pool x pool
// after the projector: pool 0 and pool_mode -1 take the model's rule
// (LLaVA-OneVision video: 2, bilinear; else none), pool 1 none. The one encode
// path of `vtc encode`, `compress` and `eval`. A video's frames are read once:
// encode an input once. *out: caller frees with vtc_features_free. A vtc status
// (error in vtc_last_error()).
int cli_encode_input(vtc_ctx *ctx, struct cli_input *in, int pool, int pool_mode, vtc_features **out);
// --pool-mode avg|bilinear -> enum vtc_pool_mode; -1 if neither.
int cli_parse_pool_mode(const char *s, int *mode);

// --positions: "compact" -> 0, "original" -> 1 (decode_run.h). 0 on success, -1 else.
int cli_parse_positions(const char *s, int *original);
// --precision: f32, bf16 or auto -> enum vtc_precision; -1 if none of them.
int cli_parse_precision(const char *s, int *precision);

// The tokenizer.bin beside a llama2.c checkpoint (the default of --tokenizer):
// lm_path's folder + "tokenizer.bin" into buf[cap]. 0, or -1 when it does not fit.
int cli_tokenizer_beside(const char *lm_path, char *buf, size_t cap);

// Joins --param values with commas, the form vtc_prune_params.params takes.
// 0, or -1 when they do not fit in cap bytes.
int cli_join_params(const char *const *list, int n, char *buf, size_t cap);

// The whole tool: argv as main() gets it; returns the exit code. main() adds
// only the signal handlers (fuzz/fuzz_cli.c calls this directly).
int vtc_cli_main(int argc, char **argv);

// Subcommands: each parses its own argv (argv[0] is the subcommand name).
int cmd_compress(int argc, char **argv);
int cmd_encode(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_flops(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_frames(int argc, char **argv);
int cmd_methods(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_export_lm(int argc, char **argv);

// Language-model files for `vtc info` (cmd_generate.c): 0 or a negative status.
int vtc_lm_probe(const char *path);
int info_lm(const char *path);

#endif
