// The pruning stage: one small interface every method implements, and the
// registry the CLI, the API, `vtc methods` and the tests all read. Adding a
// method is adding one file (defining `const struct vtc_method vtc_method_NAME`)
// and its name on METHOD_LIST in registry.c.
//
// Methods work on tensors only (vtc_features), never on images or video, so a
// host can run them on features it computed itself. prune/ includes nothing
// from vision/ or video/.
//
// The flow (vtc_prune_run): look the method up, check that the fields it needs
// are present (VTC_ERR_NEEDS "method X needs Y, which these features lack"),
// parse its "name=value,..." parameters against its table, resolve the budget
// against f->n (vtc_prune_keep_count), then call run(). A method that cannot
// reach the budget on this input (too few tokens or frames) says VTC_ERR_NEEDS;
// a parameter that contradicts the budget is VTC_ERR_ARG. A method fills a vtc_tokens in
// its own space: VTC_SPACE_FEATURES for methods that select or merge encoder
// features, projected afterwards by the caller (none of prune/ projects);
// VTC_SPACE_EMBEDS for methods defined on post-projector embeddings, which fall
// back to the encoder features (and say VTC_SPACE_FEATURES) when f->embeds is
// NULL (docs/methods.md#token-spaces: "encoder output if no projector"). Every token carries index
// (source t*H*W + y*W + x, or -1 for a synthetic token), pos (t, y, x) of itself
// or its representative, and weight (source tokens it stands for); out->note
// says how it ran when that is not the usual (fallbacks, splits, per-frame counts).
#ifndef VTC_PRUNE_H
#define VTC_PRUNE_H

#include "base/common.h"
#include "base/rng.h"

#define VTC_PARAM_MAX 8

// One knob of a method: `--param name=value`.
struct vtc_param_def {
    const char *name;
    const char *def;   // default, as text ("0.7")
    const char *help;
    double lo, hi;     // accepted range, inclusive
    int integer;       // 1 if the value must be whole
};

// Parsed values, in the order of the method's table; `given` has bit i set
// when parameter i was given explicitly.
struct vtc_param_values {
    double v[VTC_PARAM_MAX];
    unsigned given;
};

struct vtc_prune_input {
    const vtc_features *f;
    int64_t keep;       // tokens to keep, resolved against f->n: in [1, n]
    int keep_given;     // 0 when the caller gave no budget (keep = n then);
                        // methods with their own budget (dycoke, pool, vq) use theirs
    uint64_t seed;      // for the seeded methods (random, todre without CLS, vq)
    const struct vtc_param_values *p;
    int n_threads;      // threads a method may use (the ctx's)
};

struct vtc_method {
    const char *name;
    const char *summary; // one line, for `vtc methods`
    unsigned needs;      // VTC_F_* fields the method cannot run without
    unsigned uses;       // VTC_F_* fields it reads when present (embeds, CLS, last-layer attention)
    int space;           // enum vtc_space of the tokens it outputs when f->embeds exists
    const struct vtc_param_def *params;
    int n_params;        // at most VTC_PARAM_MAX
    // Fills *out (allocated with vtc_tokens_alloc; n_input, grid and method are
    // set by vtc_prune_run) or returns a negative status with vtc_set_error,
    // leaving *out NULL or for the caller to free. Sets out->note when it ran
    // differently from the usual. Must not keep pointers into `in`.
    int (*run)(const struct vtc_prune_input *in, vtc_tokens **out);
};

// Registry lookups. NULL (and an error naming the methods) when unknown.
const struct vtc_method *vtc_method_find(const char *name);
int vtc_method_index(const char *name);

// Parses "name=value,name=value" against m's table; defaults for the rest. A
// name must be one of the table's, exactly, and given once; a value the whole
// text of a finite number within [lo, hi], whole where the table says so.
// Otherwise VTC_ERR_ARG naming the method and listing its parameters.
int vtc_params_parse(const struct vtc_method *m, const char *text, struct vtc_param_values *out);

// Runs method m with everything checked (fields present, parameters, budget);
// n_threads for the methods that parallelise (<= 1: the calling thread only).
// *out receives new tokens in the method's space; caller frees with vtc_tokens_free.
int vtc_prune_run(const struct vtc_method *m, const vtc_features *f, const struct vtc_prune_params *p,
                  int n_threads, vtc_tokens **out);

// ---------------------------------------------------------------- helpers for methods

// n tokens of width dim (prune/tokens.c), arrays uninitialised except codes =
// NULL, note = "". NULL (and an error set) on failure. Free with vtc_tokens_free.
vtc_tokens *vtc_tokens_alloc(int32_t n, int32_t dim);

// The rows a method in `space` reads: f->embeds for VTC_SPACE_EMBEDS when
// present, else f->features. *dim gets their width, *space_out the space used.
const float *vtc_prune_rows(const vtc_features *f, int space, int32_t *dim, int *space_out);

// Tokens made of source rows idx[0..k) of `rows` (width dim), weight 1, index
// and (t, y, x) from the grid. idx may be in any order; it is kept.
int vtc_tokens_gather(const vtc_features *f, const float *rows, int32_t dim, int space, const int32_t *idx, int32_t k,
                      vtc_tokens **out);
// The same over the encoder features (VTC_SPACE_FEATURES): the selections
// (none, cls, random, uniform), which the caller projects.
int vtc_tokens_gather_features(const vtc_features *f, const int32_t *idx, int32_t k, vtc_tokens **out);

// (t, y, x) of flat index i in f's grid.
void vtc_grid_pos(const vtc_features *f, int32_t i, int32_t pos[3]);

// Indices of the k largest scores (ties: lower index first), written to idx in
// ascending index order.
int vtc_topk_indices(const float *score, int32_t n, int32_t k, int32_t *idx);

// Cosine similarities of the unit rows xn (n, d), divprune.c: the upper
// triangle of the n x n matrix by sgemm tiles on n_threads threads into sim
// (n*n floats, caller's); nn (optional, n floats) gets each row's nearest
// other similarity. vtc_similarity_row reads row i of the whole matrix back.
int vtc_similarity_tiles(const float *xn, int32_t n, int32_t d, int n_threads, float *sim, float *nn);
void vtc_similarity_row(const float *sim, int32_t n, int32_t i, float *row);

// Unit-length copies of n rows of width d (a zero row stays zero); caller frees.
float *vtc_normalized_rows(const float *x, int32_t n, int32_t d);

// s x s average pooling of a [T, H, W, d] grid into [T, ceil(H/s), ceil(W/s), d];
// edge windows average the tokens they have.
void vtc_pool_grid(const float *in, int32_t T, int32_t H, int32_t W, int32_t d, int32_t s, float *out);

// ascending int32 sort
void vtc_sort_i32(int32_t *v, int32_t n);

#endif
