// The pruning stage: one small interface every method implements, and the
// registry the CLI, the API, `vtc methods` and the tests all read. Adding a
// method is adding one file and one line in registry.c.
//
// Methods work on tensors only (vtc_features), never on images or video, so a
// host can run them on features it computed itself. prune/ includes nothing
// from vision/ or video/.
#ifndef VTC_PRUNE_H
#define VTC_PRUNE_H

#include "common.h"

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
    int keep_given;     // 0 when the caller asked for no budget (keep = n then);
                        // methods with their own budget (dycoke, pool, vq) use theirs
    uint64_t seed;
    const struct vtc_param_values *p;
    int n_threads;      // threads a method may use (the ctx's)
};

struct vtc_method {
    const char *name;
    const char *summary;
    unsigned needs;     // VTC_F_* fields the method cannot run without
    unsigned uses;      // VTC_F_* fields it prefers when present (e.g. embeds)
    int space;          // enum vtc_space of the tokens it outputs when f->embeds exists
    const struct vtc_param_def *params;
    int n_params;
    // Fills *out (allocated with vtc_tokens_alloc) or returns a negative status
    // with vtc_set_error. Sets out->note when it ran differently from the usual
    // (fallbacks, per-frame counts).
    int (*run)(const struct vtc_prune_input *in, vtc_tokens **out);
};

// Registry lookups. NULL (and an error naming the methods) when unknown.
const struct vtc_method *vtc_method_find(const char *name);
int vtc_method_index(const char *name);

// Parses "name=value,name=value" against m's table; defaults for the rest.
int vtc_params_parse(const struct vtc_method *m, const char *text, struct vtc_param_values *out);

// Runs method m with everything checked (fields present, budget valid).
int vtc_prune_run(const struct vtc_method *m, const vtc_features *f, const struct vtc_prune_params *p,
                  int n_threads, vtc_tokens **out);

// ---------------------------------------------------------------- helpers for methods

// n tokens of width dim, arrays uninitialised except codes = NULL, note = "".
vtc_tokens *vtc_tokens_alloc(int32_t n, int32_t dim);

// The rows a method in `space` reads: f->embeds for VTC_SPACE_EMBEDS when
// present, else f->features. *dim gets their width, *space_out the space used.
const float *vtc_prune_rows(const vtc_features *f, int space, int32_t *dim, int *space_out);

// Tokens made of source rows idx[0..k) of `rows` (width dim), weight 1, index
// and (t, y, x) from the grid. idx may be in any order; it is kept.
int vtc_tokens_gather(const vtc_features *f, const float *rows, int32_t dim, int space, const int32_t *idx, int32_t k,
                      vtc_tokens **out);

// (t, y, x) of flat index i in f's grid.
void vtc_grid_pos(const vtc_features *f, int32_t i, int32_t pos[3]);

// Indices of the k largest scores (ties: lower index first), written to idx in
// ascending index order.
int vtc_topk_indices(const float *score, int32_t n, int32_t k, int32_t *idx);

// The n x n matrix of dot products of the unit rows xn (cosine similarities),
// computed in row blocks on n_threads threads; NULL (no error) when it would
// exceed max_bytes, so callers fall back to one row per step.
float *vtc_similarity_matrix(const float *xn, int32_t n, int32_t d, int n_threads, size_t max_bytes);

// Unit-length copies of n rows of width d (a zero row stays zero); caller frees.
float *vtc_normalized_rows(const float *x, int32_t n, int32_t d);

// s x s average pooling of a [T, H, W, d] grid into [T, ceil(H/s), ceil(W/s), d];
// edge windows average the tokens they have.
void vtc_pool_grid(const float *in, int32_t T, int32_t H, int32_t W, int32_t d, int32_t s, float *out);

// ascending int32 sort
void vtc_sort_i32(int32_t *v, int32_t n);

// The seeded generator every random method uses: splitmix64 (Steele et al.).
static inline uint64_t vtc_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif
