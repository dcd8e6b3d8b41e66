// The decode stage of `vtc compress --decoder`: the kept visual tokens through
// the reference Llama decoder (lm/lm.h), optionally with an in-decoder policy
// (fastv, todre2, dycoke-kv), and what that cost, measured and accounted.
//
// The prompt is wired as a VLM host wires it (llama.cpp's llama_batch with
// `embd` rows, LLaVA's input_embeds):
//   [BOS] [visual rows at positions 1..K] [prompt tokens at K+1, ...]
// Visual rows enter as embeddings; pruned tokens are renumbered (gaps closed),
// the text continues after them. Or, when the caller asks (`--positions
// original`), each visual row keeps the position its source token holds in the
// unpruned prompt and the text starts where it would unpruned, at 1 + N
// (cli_decode_original_positions). Then `steps` tokens are generated.
//
// Reported beside each other: the decoder's executed FLOPs (vtc_lm_get_stats)
// and base/flops.h's account of the same sizes (vtc_lm_flops_split; they agree
// to rounding, the run fails the 1% check otherwise), the account for the
// uncompressed token count, KV-cache bytes, visual tokens per layer and the
// layer-averaged equivalent token count (docs/flops.md#layer-averaged-equivalent).
//
// Errors as in the library: 0 or a negative enum vtc_status, the reason in
// vtc_last_error(). Nothing here prints except cli_decode_print / the `human`
// stream given to cli_decode_run, and nothing exits.
#ifndef VTC_CLI_DECODE_RUN_H
#define VTC_CLI_DECODE_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lm/lm.h"
#include "vtc.h"

struct vtc_json;

// One run on a loaded model, everything in memory (used by cli_decode_exec and bench/decode.c).
struct cli_decode_request {
    const vtc_lm  *lm;
    const float   *visual;         // [n_visual, dim] rows already in the LM's width
    int32_t        n_visual;       // >= 1
    int32_t        n_visual_input; // visual tokens before any compression, for the
                                   // "uncompressed" figures; 0 = n_visual
    const int32_t *text;           // [n_text] prompt token ids after the visual rows (no BOS)
    int32_t        n_text;
    const char    *method;         // NULL or "none", or a policy of lm/lm.h
    const char    *params;         // policy knobs "k=2,r=0.5"; NULL = defaults
    int32_t        steps;          // tokens to generate, >= 0
    float          temperature;    // 0 = greedy
    uint64_t       seed;           // sampler seed (temperature > 0)
    int32_t        n_threads;      // 0 = all CPUs
    int32_t        stop_at_bos;    // 1: a sampled BOS ends the text (run.c); 0: run all steps
    const int32_t *visual_pos;     // [n_visual] RoPE positions of the visual rows; NULL = 1..K
    int32_t        text_pos;       // with visual_pos: the first text row's position (above them all)
};

// What a run did. Everything is owned by the result (cli_decode_result_free).
struct cli_decode_result {
    char    *decoder, *tokenizer, *prompt; // copies; NULL where not applicable
    char    *method, *params;              // copies; method "none" without a policy
    struct vtc_lm_shape shape;
    int32_t  trained_ctx;     // the model's seq_len (the prompt may exceed it)
    int32_t  in_dim;          // width of the tokens handed over (cli_decode_exec)
    int32_t  adapted;         // 1 when cli_decode_adapt mapped in_dim to the LM's width
    int32_t  n_visual;        // visual rows fed (K)
    int32_t  n_visual_input;  // visual tokens before compression
    int32_t  n_text;          // text rows of the prompt: BOS + prompt tokens
    int32_t  original_positions; // 1: visual rows at their unpruned positions (request.visual_pos)
    int32_t  text_pos;        // position of the first text row (1 + K when compact)
    int32_t *tokens;          // [n_tokens] generated ids (a stopping BOS not included)
    int32_t  n_tokens;
    char    *text;            // their text, NUL-terminated (cli_decode_exec only, else NULL)
    const char *stop;         // "steps" or "bos"
    double   ms_prefill, ms_decode; // wall time of the prefill call, and of the decode steps + sampling
    struct vtc_lm_stats stats;      // the decoder's counters after the run
    int32_t  n_gen_accounted; // LM-head evaluations = tokens sampled = decode steps + 1
    struct vtc_flops expected;      // base/flops.h's account of this run's sizes
    struct vtc_flops uncompressed;  // the same with n_visual_input visual tokens and no policy
    double   flops_rel_diff;  // max of |executed - expected| / expected over prefill and decode
    int32_t  has_policy;
    struct vtc_lm_policy_report policy; // valid when has_policy
    int32_t  prune_layer;     // first layer that sees n_kept_late visual tokens (layers when none)
    int32_t  n_kept_late;     // visual tokens layers >= prune_layer attend to
    int32_t *visual_per_layer;// [layers] visual tokens each layer attends to at the end of the run
    double   equiv_tokens;    // layer-averaged visual token count (vtc_flops_equiv_tokens)
    size_t   kv_bytes_uncompressed; // the cache of the same run with n_visual_input visual tokens
    size_t   kv_bytes_attended;     // entries the last step's layers attend to (dycoke-kv masks
                                    // without dropping: then below stats.kv_bytes)
};

// Largest relative difference between executed and accounted FLOPs the run accepts.
#define CLI_DECODE_FLOPS_TOLERANCE 0.01

// 0 when `method` (NULL, "none" or a policy name) and its "name=value,..."
// params are valid; else VTC_ERR_ARG with the reason. For usage errors before any work.
int cli_decode_check_method(const char *method, const char *params);

// Maps x [n, din] to y [n, dout] through a fixed seeded linear map, each output
// row rescaled to RMS `target_rms`. A stand-in for a projector trained for the
// LM, when the vision model's tokens are not as wide as its embeddings: it keeps distinct
// tokens distinct and their scale the one the LM's embeddings have. The matrix
// has entries uniform in [-0.5, 0.5) from splitmix64(seed) in (out, in) order,
// so a given seed gives the same map everywhere. 0 or VTC_ERR_NOMEM.
// (examples/host.c carries an inline copy of the idea: same generator and seed
// 42, target RMS from the first 64 embeddings only.)
int cli_decode_adapt(const float *x, int32_t n, int32_t din, float *y, int32_t dout, float target_rms,
                     uint64_t seed);

// RMS of the LM's token embeddings, over at most 4096 rows spread evenly
// across the vocabulary: the scale visual rows should enter with. 0 or VTC_ERR_NOMEM.
int cli_decode_embedding_rms(const vtc_lm *lm, double *rms);

// --positions original: the RoPE position of each kept token t->data[i] in the
// unpruned prompt [BOS, T*H*W visual rows, text], 1 + (t*H + y)*W + x from its
// (t, y, x) (a merged token's representative), into pos[0..t->n); a token with
// no grid position (VisionZip's contextual tokens, a CLS) shares the position of
// the one before it (1 for the first); an anyres image's tokens sit where the
// model's own sequence has them (base, then window rows with their newlines), a
// OneVision video's newline after every frame. Returns the position of the first
// text row, 1 + max(T*H*W, t->n_input), or a negative status for spatially
// packed anyres tokens (they have no such place).
int32_t cli_decode_original_positions(const vtc_tokens *t, int32_t *pos);

// Runs one request. *out is filled (zeroed first); free it with
// cli_decode_result_free whatever the return value. VTC_ERR_INTERNAL when the
// executed FLOPs and the account differ by more than CLI_DECODE_FLOPS_TOLERANCE.
int cli_decode_visual(const struct cli_decode_request *req, struct cli_decode_result *out);

// The whole stage from files: loads the LM (llama2.c or GGUF) and its
// tokenizer (tokenizer_path NULL: the GGUF's vocabulary, or tokenizer.bin
// beside a llama2.c checkpoint), maps `kept` into the LM's width (adapter when
// kept->dim differs), encodes the prompt, runs cli_decode_visual with seed 1
// (at the kept tokens' original positions when original_positions is 1) and
// decodes the generated text. *out as for cli_decode_visual.
int cli_decode_exec(const char *lm_path, const char *tokenizer_path, const char *prompt,
                    const char *decode_method, const char *decode_params, int steps, float temp,
                    const vtc_tokens *kept, int original_positions, int n_threads, struct cli_decode_result *out);

// Writes the member "decode": {...} into an object open in j. Returns j's status.
int cli_decode_write_json(const struct cli_decode_result *r, struct vtc_json *j);
// A few lines of human summary.
void cli_decode_print(const struct cli_decode_result *r, FILE *fp);
void cli_decode_result_free(struct cli_decode_result *r);

// cli_decode_exec, then the "decode" member into json (an object open in it;
// may be NULL) and the summary to human (may be NULL). For callers that own
// the document the decode figures go into while the run happens; `vtc
// compress` keeps the result in its report instead (report.h).
int cli_decode_run(const char *lm_path, const char *tokenizer_path, const char *prompt,
                   const char *decode_method, const char *decode_params, int steps, float temp,
                   const vtc_tokens *kept, int original_positions, int n_threads, struct vtc_json *json,
                   FILE *human);

#endif
