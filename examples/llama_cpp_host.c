// A VLM host on llama.cpp: vtc encodes an image and prunes its visual tokens,
// llama.cpp runs the language model on [BOS, kept rows, question tokens] and
// answers. The language model is a GGUF file llama.cpp loads, e.g. the one
// `vtc export-lm` writes from the embedded model's decoder:
//
//   build/vtc export-lm samples/vlm/lm.bin -o vlm.gguf
//   build/examples/llama_cpp_host LLAMA_DIR vlm.gguf samples/scene.png "QUESTION" --method divprune --keep 64
//
// LLAMA_DIR is llama.cpp's shared library (libllama.so) or the folder holding
// it and its ggml CPU backends (the npm package @node-llama-cpp/linux-x64's
// bins/linux-x64, see docs/library.md#handing-the-tokens-to-llamacpp). It is
// loaded with dlopen: this program builds without llama.cpp and needs no
// llama.h (no package ships one); it declares the few structures it uses below
// and checks their layout against the library's llama_*_default_params() at
// run time, failing loudly on a build whose layout differs.
//
// How the tokens go in, as docs/library.md describes: one llama_batch is all
// token ids or all embedding rows, so the prompt is three llama_decode calls on
// sequence 0 — [BOS] at position 0, the kept rows (`embd`, already in the LM's
// width) at 1..K, the question's tokens from K + 1 — with llama.cpp's own
// tokenizer for the question. Several questions on one image share the prefix:
// llama_memory_seq_rm drops the previous question before the next. llama.cpp
// requires consecutive positions within a sequence, so `--positions original`
// (each row where its source token sat unpruned, gaps included) is refused by
// llama_decode; the option is here to show that refusal.
//
// Modes:
//   IMAGE QUESTION             answer one question (greedy, -n tokens)
//   --questions FILE.tsv       every question of a `vtc eval` questions file
//                              (media, kind, question, answer), one line per
//                              question, method and budget: the predicted token
//   --time-prefill LIST        prefill time for K random rows of the LM's width
//                              per K in LIST, next to vtc_lm_flops' FLOPs ratio
//                              (bench/llama_cpp.sh)
// --reference runs vtc's reference decoder on the same GGUF file and rows and
// prints the largest difference of the answer's logits, and checks llama.cpp
// tokenizes each question as vtc does. Numerics: one thread, F32 KV cache and
// flash attention off unless --defaults (llama.cpp's own: F16 KV cache, flash
// attention where it can).
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <vtc.h>

// ---------------------------------------------------------------- the part of llama.h used here
//
// Layout of llama.cpp 0ad4a86 ("0.5.0-dev", as built in node-llama-cpp 3.22.1):
// llama_model_params 0x50 bytes, llama_context_params 0xa0, llama_batch 56.
// Each params struct carries spare room after the known fields, so a build
// whose struct is larger is neither overrun when it returns one nor short-read
// when given one back; check_layout() compares the defaults at the offsets
// declared here with what this build returns.

typedef int32_t llama_token;
typedef int32_t llama_pos;
typedef int32_t llama_seq_id;
struct llama_model;
struct llama_context;
struct llama_vocab;
typedef struct llama_memory_i *llama_memory_t;

struct llama_batch {
    int32_t n_tokens;
    llama_token *token;    // all token ids, or NULL
    float *embd;           // or all embedding rows [n_tokens, n_embd]
    llama_pos *pos;
    int32_t *n_seq_id;
    llama_seq_id **seq_id;
    int8_t *logits;        // 1: compute this row's logits
    void *spare_[4];       // zero: fields a later build may add read as NULL
};

struct llama_model_params {
    void *devices;
    const void *tensor_buft_overrides;
    int32_t n_gpu_layers, split_mode, load_mode, lazy_mode, main_gpu;
    const float *tensor_split;
    void *progress_callback, *progress_callback_user_data;
    const void *kv_overrides;
    bool vocab_only, check_tensors, use_extra_bufts, no_host, no_alloc, load_mtp;
    unsigned char spare_[128];
};

struct llama_context_params {
    uint32_t n_ctx, n_batch, n_ubatch, n_seq_max, n_rs_seq, n_outputs_max, n_outputs_max_per_seq;
    int32_t n_threads, n_threads_batch;
    int32_t ctx_type, rope_scaling_type, pooling_type, attention_type, flash_attn_type;
    float rope_freq_base, rope_freq_scale, yarn_ext_factor, yarn_attn_factor, yarn_beta_fast, yarn_beta_slow;
    uint32_t yarn_orig_ctx;
    float defrag_thold;
    void *cb_eval, *cb_eval_user_data;
    int32_t type_k, type_v; // ggml types: 0 F32, 1 F16
    void *abort_callback, *abort_callback_data;
    bool embeddings, offload_kqv, no_perf, op_offload, swa_full, kv_unified;
    void *samplers;
    size_t n_samplers;
    void *ctx_other;
    unsigned char spare_[128];
};

_Static_assert(offsetof(struct llama_batch, logits) == 48, "llama_batch layout");
_Static_assert(offsetof(struct llama_model_params, vocab_only) == 0x48, "llama_model_params layout");
_Static_assert(offsetof(struct llama_context_params, flash_attn_type) == 0x34, "llama_context_params layout");
_Static_assert(offsetof(struct llama_context_params, type_k) == 0x68, "llama_context_params layout");
_Static_assert(offsetof(struct llama_context_params, ctx_other) == 0x98, "llama_context_params layout");

enum { LOG_ERROR = 4, LOG_CONT = 5 }; // enum ggml_log_level

static struct llama_api {
    void (*backend_init)(void);
    void (*backend_free)(void);
    void (*load_backends)(const char *dir); // ggml_backend_load_all_from_path (libggml)
    void (*log_set)(void (*cb)(int level, const char *text, void *user), void *user);
    struct llama_model_params (*model_default_params)(void);
    struct llama_context_params (*context_default_params)(void);
    struct llama_model *(*model_load_from_file)(const char *path, struct llama_model_params p);
    void (*model_free)(struct llama_model *m);
    struct llama_context *(*init_from_model)(struct llama_model *m, struct llama_context_params p);
    void (*free)(struct llama_context *c);
    const struct llama_vocab *(*model_get_vocab)(const struct llama_model *m);
    int32_t (*model_n_embd)(const struct llama_model *m);
    int32_t (*model_n_layer)(const struct llama_model *m);
    int32_t (*model_n_head)(const struct llama_model *m);
    int32_t (*model_n_head_kv)(const struct llama_model *m);
    int32_t (*model_meta_val_str)(const struct llama_model *m, const char *key, char *buf, size_t size);
    int32_t (*vocab_n_tokens)(const struct llama_vocab *v);
    llama_token (*vocab_bos)(const struct llama_vocab *v);
    llama_token (*vocab_eos)(const struct llama_vocab *v);
    int32_t (*tokenize)(const struct llama_vocab *v, const char *text, int32_t len, llama_token *out, int32_t cap,
                        bool add_special, bool parse_special);
    int32_t (*token_to_piece)(const struct llama_vocab *v, llama_token t, char *buf, int32_t len, int32_t lstrip,
                              bool special);
    int32_t (*decode)(struct llama_context *c, struct llama_batch b);
    void (*synchronize)(struct llama_context *c);
    float *(*get_logits_ith)(struct llama_context *c, int32_t i);
    llama_memory_t (*get_memory)(const struct llama_context *c);
    void (*memory_clear)(llama_memory_t m, bool data);
    bool (*memory_seq_rm)(llama_memory_t m, llama_seq_id s, llama_pos p0, llama_pos p1);
} L;

// ---------------------------------------------------------------- small helpers

static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("llama_cpp_host: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// llama.cpp's log: kept quiet, the errors since the last call collected (and
// everything printed with --verbose)
static char g_log[4096];
static int g_verbose, g_in_error;
static void on_log(int level, const char *text, void *user) {
    (void)user;
    if (g_verbose) fputs(text, stderr);
    g_in_error = level == LOG_ERROR || (level == LOG_CONT && g_in_error);
    if (g_in_error) {
        size_t used = strlen(g_log);
        snprintf(g_log + used, sizeof g_log - used, "%s", text);
    }
}

// What llama.cpp logged as errors, on one line.
static const char *llama_said(void) {
    static char out[sizeof g_log];
    snprintf(out, sizeof out, "%s", g_log[0] ? g_log : "(nothing logged)");
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == ' ')) out[--n] = '\0';
    for (char *p = out; *p; p++)
        if (*p == '\n') *p = ' ';
    return out;
}

// ---------------------------------------------------------------- loading llama.cpp

// LLAMA_DIR: a libllama file, or a folder with libllama.so or libllama.<version>.so.
static void *open_llama(const char *where, char *dir, size_t cap) {
    struct stat st;
    char path[4096] = "";
    if (stat(where, &st) != 0) {
        fail("%s: no such file or folder", where);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(dir, cap, "%s", where);
        snprintf(path, sizeof path, "%s/libllama.so", where);
        if (stat(path, &st) != 0) {
            DIR *d = opendir(where);
            struct dirent *e;
            path[0] = '\0';
            while (d && (e = readdir(d)))
                if (!strncmp(e->d_name, "libllama.", 9) && strstr(e->d_name, ".so")) {
                    snprintf(path, sizeof path, "%s/%s", where, e->d_name);
                    break;
                }
            if (d) closedir(d);
            if (!path[0]) {
                fail("%s: no libllama.so in this folder", where);
                return NULL;
            }
        }
    } else {
        snprintf(path, sizeof path, "%s", where);
        const char *slash = strrchr(where, '/');
        snprintf(dir, cap, "%.*s", slash ? (int)(slash - where) : 1, slash ? where : ".");
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) fail("%s", dlerror());
    return h;
}

static int bind_api(void *h) {
    static const struct {
        const char *name;
        size_t at;
    } syms[] = {
#define SYM(field, name) { name, offsetof(struct llama_api, field) }
        SYM(backend_init, "llama_backend_init"), SYM(backend_free, "llama_backend_free"),
        SYM(load_backends, "ggml_backend_load_all_from_path"), SYM(log_set, "llama_log_set"),
        SYM(model_default_params, "llama_model_default_params"),
        SYM(context_default_params, "llama_context_default_params"),
        SYM(model_load_from_file, "llama_model_load_from_file"), SYM(model_free, "llama_model_free"),
        SYM(init_from_model, "llama_init_from_model"), SYM(free, "llama_free"),
        SYM(model_get_vocab, "llama_model_get_vocab"), SYM(model_n_embd, "llama_model_n_embd"),
        SYM(model_n_layer, "llama_model_n_layer"), SYM(model_n_head, "llama_model_n_head"),
        SYM(model_n_head_kv, "llama_model_n_head_kv"), SYM(model_meta_val_str, "llama_model_meta_val_str"),
        SYM(vocab_n_tokens, "llama_vocab_n_tokens"), SYM(vocab_bos, "llama_vocab_bos"),
        SYM(vocab_eos, "llama_vocab_eos"), SYM(tokenize, "llama_tokenize"),
        SYM(token_to_piece, "llama_token_to_piece"), SYM(decode, "llama_decode"),
        SYM(synchronize, "llama_synchronize"), SYM(get_logits_ith, "llama_get_logits_ith"),
        SYM(get_memory, "llama_get_memory"), SYM(memory_clear, "llama_memory_clear"),
        SYM(memory_seq_rm, "llama_memory_seq_rm"),
#undef SYM
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *f = dlsym(h, syms[i].name);
        if (!f) return fail("this llama.cpp has no %s", syms[i].name);
        memcpy((char *)&L + syms[i].at, &f, sizeof f);
    }
    return 0;
}

// The defaults this build returns, at the offsets declared above.
static int check_layout(const struct llama_model_params *m, const struct llama_context_params *c) {
    const struct {
        const char *what;
        int ok;
    } checks[] = {
        { "model: devices, overrides, tensor_split, callbacks NULL",
          !m->devices && !m->tensor_buft_overrides && !m->tensor_split && !m->progress_callback && !m->kv_overrides },
        { "model: split_mode LAYER (1), main_gpu 0", m->split_mode == 1 && m->main_gpu == 0 },
        { "model: vocab_only 0, use_extra_bufts 1", !m->vocab_only && m->use_extra_bufts },
        { "context: n_ctx 512, n_batch 2048, n_ubatch 512, n_seq_max 1",
          c->n_ctx == 512 && c->n_batch == 2048 && c->n_ubatch == 512 && c->n_seq_max == 1 },
        { "context: n_threads, n_threads_batch > 0", c->n_threads > 0 && c->n_threads_batch > 0 },
        { "context: flash_attn_type AUTO (-1), rope_freq_base 0, yarn_ext_factor -1",
          c->flash_attn_type == -1 && c->rope_freq_base == 0.0f && c->yarn_ext_factor == -1.0f },
        { "context: type_k, type_v F16 (1)", c->type_k == 1 && c->type_v == 1 },
        { "context: cb_eval, abort_callback NULL", !c->cb_eval && !c->abort_callback },
        { "context: offload_kqv 1, embeddings 0", c->offload_kqv && !c->embeddings },
        { "context: samplers NULL, n_samplers 0, ctx_other NULL", !c->samplers && !c->n_samplers && !c->ctx_other },
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        if (!checks[i].ok)
            return fail("this llama.cpp's default parameters do not match the layout declared here "
                        "(llama.cpp 0ad4a86, node-llama-cpp 3.22.1): expected %s; declare the structures from "
                        "this build's llama.h",
                        checks[i].what);
    return 0;
}

// ---------------------------------------------------------------- the session

struct opts {
    const char *lib, *gguf, *image, *question, *questions, *model, *methods, *keeps, *time_list;
    int original, reference, defaults, threads, steps, n_text, reps;
};

struct host {
    struct opts o;
    struct llama_model *model;
    struct llama_context *ctx;
    const struct llama_vocab *vocab;
    llama_memory_t mem;
    int32_t n_embd, n_vocab, n_ctx;
    // one batch's arrays, n_ctx rows
    llama_pos *pos;
    int32_t *n_seq_id;
    llama_seq_id seq0, **seq_ids;
    int8_t *want;
    // --reference
    vtc_lm *ref;
    vtc_lm_ctx *ref_ctx;
    vtc_tokenizer *ref_tok;
    double worst_diff;
    int n_token_mismatch;
};

// Rows [n] at positions pos[] (NULL: p0, p0 + 1, ...) on sequence 0: token ids
// or embedding rows; the last row's logits when `logits`.
static int feed(struct host *h, llama_token *tokens, float *embd, int32_t n, const llama_pos *pos, llama_pos p0,
                int logits) {
    if (n > h->n_ctx) return fail("%d rows do not fit the context of %d", n, h->n_ctx);
    for (int32_t i = 0; i < n; i++) {
        h->pos[i] = pos ? pos[i] : p0 + i;
        h->n_seq_id[i] = 1;
        h->seq_ids[i] = &h->seq0;
        h->want[i] = logits && i == n - 1;
    }
    struct llama_batch b = { n, tokens, embd, h->pos, h->n_seq_id, h->seq_ids, h->want, { NULL } };
    g_log[0] = '\0';
    int32_t rc = L.decode(h->ctx, b);
    if (rc) return fail("llama_decode returned %d: %s", rc, llama_said());
    return 0;
}

static int32_t argmax(const float *x, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i; // the first maximum, as vtc's greedy sampler
    return best;
}

// llama.cpp's tokens of `text` (no BOS; SentencePiece's leading space) into
// *ids (malloc'ed); their count, or -1.
static int32_t tokenize(struct host *h, const char *text, llama_token **ids) {
    int32_t len = (int32_t)strlen(text), cap = len + 8;
    *ids = malloc(sizeof **ids * (size_t)cap);
    int32_t n = *ids ? L.tokenize(h->vocab, text, len, *ids, cap, false, false) : -1;
    if (n < 0) {
        free(*ids);
        *ids = NULL;
        fail("llama_tokenize failed on \"%s\"", text);
    }
    return n;
}

// The positions of `kept` rows: compact 1..K, or (original) where each source
// token sits in the unpruned prompt [BOS, T*H*W rows, text], a token without a
// grid position sharing the one before it. Returns where the text starts.
static llama_pos row_positions(const struct host *h, const vtc_tokens *kept, llama_pos *pos) {
    if (!h->o.original) {
        for (int32_t i = 0; i < kept->n; i++) pos[i] = 1 + i;
        return 1 + kept->n;
    }
    int64_t grid = (int64_t)kept->grid[0] * kept->grid[1] * kept->grid[2];
    for (int32_t i = 0; i < kept->n; i++) {
        const int32_t *p = kept->pos + 3 * i;
        pos[i] = p[1] < 0 || p[2] < 0 ? (i ? pos[i - 1] : 1) : 1 + (p[0] * kept->grid[1] + p[1]) * kept->grid[2] + p[2];
    }
    return 1 + (llama_pos)(grid > kept->n_input ? grid : kept->n_input);
}

// --reference: the same rows through vtc's decoder; the largest |logit difference|.
static int reference_prefix(struct host *h, const vtc_tokens *kept, const llama_pos *pos) {
    int32_t n = 1 + kept->n, *rows = malloc(sizeof *rows * (size_t)n), *rpos = malloc(sizeof *rpos * (size_t)n);
    int st = rows && rpos ? 0 : VTC_ERR_NOMEM;
    if (!st) {
        rows[0] = L.vocab_bos(h->vocab);
        rpos[0] = 0;
        for (int32_t i = 0; i < kept->n; i++) rows[1 + i] = VTC_LM_EMBED, rpos[1 + i] = pos[i];
        struct vtc_lm_batch b = { n, rows, kept->data, rpos, VTC_LM_LOGITS_NONE };
        vtc_lm_ctx_reset(h->ref_ctx);
        st = vtc_lm_prefill(h->ref_ctx, &b);
    }
    free(rows);
    free(rpos);
    return st ? fail("vtc's decoder: %s", vtc_last_error()) : 0;
}

static int reference_compare(struct host *h, const vtc_tokens *kept, const char *text, const llama_token *ids,
                             int32_t n_ids, llama_pos text_at, const float *logits, double *diff) {
    int32_t cap = (int32_t)strlen(text) + 8, n_ref = 0;
    int32_t *ref_ids = malloc(sizeof *ref_ids * (size_t)cap), *qpos = malloc(sizeof *qpos * (size_t)(n_ids + 1));
    int st = ref_ids && qpos ? vtc_tokenizer_encode(h->ref_tok, text, 0, 0, ref_ids, cap, &n_ref) : VTC_ERR_NOMEM;
    if (!st && (n_ref != n_ids || memcmp(ref_ids, ids, sizeof *ids * (size_t)n_ids))) h->n_token_mismatch++;
    for (int32_t j = 0; j < n_ids; j++) qpos[j] = text_at + j;
    struct vtc_lm_batch b = { n_ids, ids, NULL, qpos, VTC_LM_LOGITS_LAST };
    if (!st) st = vtc_lm_ctx_truncate(h->ref_ctx, 1 + kept->n);
    if (!st) st = vtc_lm_prefill(h->ref_ctx, &b);
    free(ref_ids);
    free(qpos);
    if (st) return fail("vtc's decoder: %s", vtc_last_error());
    const float *r = vtc_lm_logits(h->ref_ctx, -1);
    *diff = 0;
    for (int32_t i = 0; i < h->n_vocab; i++) {
        double d = fabs((double)r[i] - logits[i]);
        if (d > *diff || isnan(d)) *diff = d;
    }
    if (*diff > h->worst_diff || isnan(*diff)) h->worst_diff = *diff;
    return 0;
}

// One question after the prefix [BOS, kept rows]: its tokens from text_at, then
// up to `steps` greedy tokens; the first one into *answer, the text to `out`.
static int ask(struct host *h, const vtc_tokens *kept, const char *text, llama_pos text_at, int steps,
               llama_token *answer, double *diff, char *out, size_t cap) {
    llama_token *ids;
    int32_t n = tokenize(h, text, &ids);
    if (n < 0) return 1;
    if (n == 0) {
        free(ids);
        return fail("the question \"%s\" has no tokens", text);
    }
    L.memory_seq_rm(h->mem, 0, text_at, -1); // the previous question, if any
    int rc = feed(h, ids, NULL, n, NULL, text_at, 1);
    const float *logits = rc ? NULL : L.get_logits_ith(h->ctx, -1);
    if (!rc && !logits) rc = fail("llama_get_logits_ith: no logits: %s", llama_said());
    *diff = NAN;
    if (!rc) *answer = argmax(logits, h->n_vocab);
    if (!rc && h->ref) rc = reference_compare(h, kept, text, ids, n, text_at, logits, diff);
    size_t used = 0;
    out[0] = '\0';
    llama_token t = rc ? 0 : *answer;
    for (int s = 0; !rc && s < steps; s++) {
        if (s > 0 && t == L.vocab_eos(h->vocab)) break;
        char piece[256];
        int32_t len = L.token_to_piece(h->vocab, t, piece, sizeof piece, 0, false);
        if (len > 0 && used + (size_t)len < cap) memcpy(out + used, piece, (size_t)len), used += (size_t)len, out[used] = '\0';
        if (s + 1 == steps) break;
        if ((rc = feed(h, &t, NULL, 1, NULL, text_at + n + s, 1)) != 0) break;
        const float *next = L.get_logits_ith(h->ctx, -1);
        if (!next) rc = fail("llama_get_logits_ith: no logits: %s", llama_said());
        else t = argmax(next, h->n_vocab);
    }
    free(ids);
    return rc;
}

// The prefix [BOS, kept rows] into a cleared cache; the text's first position into *text_at.
static int feed_prefix(struct host *h, const vtc_tokens *kept, llama_pos *text_at) {
    if (kept->dim != h->n_embd)
        return fail("the vision model's tokens are %d wide but the LM's embeddings %d: it needs a projector made "
                    "for this LM",
                    kept->dim, h->n_embd);
    llama_pos *pos = malloc(sizeof *pos * (size_t)kept->n);
    if (!pos) return fail("out of memory");
    *text_at = row_positions(h, kept, pos);
    llama_token bos = L.vocab_bos(h->vocab);
    L.memory_clear(h->mem, true);
    int rc = feed(h, &bos, NULL, 1, NULL, 0, 0);
    if (!rc) rc = feed(h, NULL, kept->data, kept->n, pos, 0, 0);
    if (!rc && h->ref) rc = reference_prefix(h, kept, pos);
    free(pos);
    return rc;
}

// ---------------------------------------------------------------- the runs: (method, budget) pairs

struct run {
    char method[64], budget[32];
    struct vtc_prune_params pp;
};

// --methods LIST x --keep LIST; none once, at "all".
static int plan(const struct opts *o, struct run **runs, int *n) {
    char *ms = strdup(o->methods), *save = NULL;
    *runs = NULL, *n = 0;
    for (char *m = strtok_r(ms, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        char *ks = strdup(!strcmp(m, "none") ? "all" : o->keeps), *save2 = NULL;
        for (char *k = strtok_r(ks, ",", &save2); k; k = strtok_r(NULL, ",", &save2)) {
            struct run *grown = realloc(*runs, sizeof **runs * (size_t)(*n + 1));
            if (!grown) break;
            *runs = grown;
            struct run *r = &(*runs)[(*n)++];
            snprintf(r->method, sizeof r->method, "%s", m);
            snprintf(r->budget, sizeof r->budget, "%s", k);
            r->pp = vtc_prune_params_default();
            r->pp.method = r->method;
            char *end;
            double v = strtod(k, &end);
            if (!strcmp(k, "all")) continue;
            if (*end == '%' && !end[1] && v > 0 && v <= 100) r->pp.keep_ratio = v / 100;
            else if (!*end && strchr(k, '.') && v > 0 && v <= 1) r->pp.keep_ratio = v;
            else if (!*end && v >= 1 && v == floor(v)) r->pp.n_keep = (int32_t)v;
            else {
                free(ks);
                free(ms);
                fprintf(stderr, "llama_cpp_host: --keep: '%s' is not a count, percentage or fraction\n", k);
                return 2;
            }
            if (vtc_prune_validate(r->pp)) {
                free(ks);
                free(ms);
                fprintf(stderr, "llama_cpp_host: --method: %s\n", vtc_last_error());
                return 2;
            }
        }
        free(ks);
    }
    free(ms);
    for (int i = 0; i < *n; i++) (*runs)[i].pp.method = (*runs)[i].method; // the array has moved since
    return *n ? 0 : 2;
}

static int encode_image(vtc_ctx *vctx, const char *path, vtc_features **f) {
    vtc_image *img = vtc_image_load(path, NULL);
    int st = img ? vtc_encode_image(vctx, img, f) : vtc_last_status();
    vtc_image_free(img);
    return st ? fail("%s: %s", path, vtc_last_error()) : 0;
}

// One image, one question, every run: the answers.
static int run_image(struct host *h, vtc_ctx *vctx, const struct run *runs, int n_runs) {
    vtc_features *f = NULL;
    int rc = encode_image(vctx, h->o.image, &f);
    for (int r = 0; r < n_runs && !rc; r++) {
        vtc_tokens *kept = NULL;
        if (vtc_prune(vctx, f, runs[r].pp, &kept)) {
            rc = fail("%s: %s", runs[r].method, vtc_last_error());
            break;
        }
        llama_pos text_at;
        llama_token first;
        double diff;
        char answer[4096];
        rc = feed_prefix(h, kept, &text_at);
        if (!rc) rc = ask(h, kept, h->o.question, text_at, h->o.steps, &first, &diff, answer, sizeof answer);
        if (!rc) {
            printf("%s %s: %d of %d tokens -> \"%s\"", runs[r].method, runs[r].budget, kept->n, kept->n_input, answer);
            if (h->ref) printf("  (largest logit difference from vtc's decoder %.3g)", diff);
            putchar('\n');
        }
        vtc_tokens_free(kept);
    }
    vtc_features_free(f);
    return rc;
}

// A questions file (media, kind, question, answer a line): one output line per
// question and run, the media encoded once per run of questions on it.
static int run_questions(struct host *h, vtc_ctx *vctx, const struct run *runs, int n_runs) {
    FILE *fp = fopen(h->o.questions, "r");
    if (!fp) return fail("%s: cannot open", h->o.questions);
    const char *slash = strrchr(h->o.questions, '/');
    int dir = slash ? (int)(slash + 1 - h->o.questions) : 0;
    struct q {
        int line;
        char *media, *text;
    } *qs = NULL;
    int n_q = 0, line = 0, rc = 0;
    char buf[8192];
    while (fgets(buf, sizeof buf, fp)) {
        line++;
        buf[strcspn(buf, "\r\n")] = '\0';
        if (!buf[0] || buf[0] == '#' || !strcmp(buf, "media\tkind\tquestion\tanswer")) continue;
        char *media = buf, *kind = strchr(media, '\t'), *text = kind ? strchr(kind + 1, '\t') : NULL;
        char *answer = text ? strchr(text + 1, '\t') : NULL;
        if (!answer) {
            rc = fail("%s:%d: want media, kind, question, answer separated by tabs", h->o.questions, line);
            break;
        }
        *kind = *text = *answer = '\0';
        struct q *grown = realloc(qs, sizeof *qs * (size_t)(n_q + 1));
        if (!grown) {
            rc = fail("out of memory");
            break;
        }
        qs = grown;
        qs[n_q].line = line;
        qs[n_q].media = malloc(strlen(media) + (size_t)dir + 1);
        qs[n_q].text = strdup(text + 1);
        if (qs[n_q].media) sprintf(qs[n_q].media, "%.*s%s", media[0] == '/' ? 0 : dir, h->o.questions, media);
        if (!qs[n_q++].media || !qs[n_q - 1].text) {
            rc = fail("out of memory");
            break;
        }
    }
    fclose(fp);
    printf("# line\tmethod\tbudget\ttokens\tanswer_id\tanswer%s\n", h->ref ? "\tlogit_diff" : "");
    int n_answers = 0;
    for (int q0 = 0, q1; q0 < n_q && !rc; q0 = q1) {
        for (q1 = q0 + 1; q1 < n_q && !strcmp(qs[q1].media, qs[q0].media);) q1++;
        vtc_features *f = NULL;
        rc = encode_image(vctx, qs[q0].media, &f);
        for (int r = 0; r < n_runs && !rc; r++) {
            vtc_tokens *kept = NULL;
            if (vtc_prune(vctx, f, runs[r].pp, &kept)) {
                rc = fail("%s:%d: %s %s: %s", h->o.questions, qs[q0].line, runs[r].method, runs[r].budget,
                          vtc_last_error());
                break;
            }
            llama_pos text_at;
            rc = feed_prefix(h, kept, &text_at);
            for (int qi = q0; qi < q1 && !rc; qi++) {
                llama_token id;
                double diff;
                char answer[256];
                rc = ask(h, kept, qs[qi].text, text_at, 1, &id, &diff, answer, sizeof answer);
                if (rc) break;
                printf("%d\t%s\t%s\t%d\t%d\t%s", qs[qi].line, runs[r].method, runs[r].budget, kept->n, id, answer);
                if (h->ref) printf("\t%.3g", diff);
                putchar('\n');
                n_answers++;
            }
            vtc_tokens_free(kept);
        }
        vtc_features_free(f);
    }
    if (!rc) {
        printf("# %d answers from llama.cpp", n_answers);
        if (h->ref)
            printf("; largest |logit difference| from vtc's reference decoder %.3g; tokenization differs on %d", h->worst_diff,
                   h->n_token_mismatch);
        putchar('\n');
    }
    for (int i = 0; i < n_q; i++) free(qs[i].media), free(qs[i].text);
    free(qs);
    return rc;
}

// --time-prefill: [BOS, K random rows, n_text tokens] per K, the best of reps
// rounds; the speed-up against the first K next to vtc_lm_flops' prefill ratio.
static int time_prefill(struct host *h) {
    int32_t ks[32], n_k = 0, max_k = 0;
    char *list = strdup(h->o.time_list), *save = NULL;
    for (char *k = strtok_r(list, ",", &save); k && n_k < 32; k = strtok_r(NULL, ",", &save)) {
        ks[n_k] = atoi(k);
        if (ks[n_k] < 1) {
            free(list);
            return fail("--time-prefill: '%s' is not a row count", k);
        }
        max_k = ks[n_k] > max_k ? ks[n_k] : max_k;
        n_k++;
    }
    free(list);
    if (1 + max_k + h->o.n_text > h->n_ctx) return fail("--time-prefill: the context holds %d rows", h->n_ctx);
    struct vtc_lm_shape shape = { L.model_n_layer(h->model), h->n_embd, 0, L.model_n_head(h->model),
                                  L.model_n_head_kv(h->model), h->n_vocab };
    char ffn[32] = "";
    L.model_meta_val_str(h->model, "llama.feed_forward_length", ffn, sizeof ffn);
    shape.ffn = atoi(ffn);
    float *rows = malloc(sizeof *rows * (size_t)max_k * (size_t)h->n_embd);
    llama_token *text = malloc(sizeof *text * (size_t)(h->o.n_text + 1));
    if (!rows || !text) return fail("out of memory");
    uint64_t s = 1;
    for (size_t i = 0; i < (size_t)max_k * (size_t)h->n_embd; i++) { // uniform, standard deviation 0.02
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        rows[i] = 0.02f * 1.7320508f * (2.0f * (float)(s >> 40) / 16777216.0f - 1.0f);
    }
    for (int32_t j = 0; j < h->o.n_text; j++) text[j] = 3 + j % (h->n_vocab - 3);
    printf("llama.cpp: %d layers, d %d, SwiGLU %d, %d/%d heads, vocab %d; %s; %d thread(s)\n", shape.layers,
           shape.hidden, shape.ffn, shape.heads, shape.kv_heads, shape.vocab,
           h->o.defaults ? "F16 KV cache, flash attention auto" : "F32 KV cache, no flash attention", h->o.threads);
    printf("prefill of [BOS, K visual rows, %d text tokens]: the best of %d rounds over every K after a warm-up "
           "round; FLOPs ratio: vtc_lm_flops\n", h->o.n_text, h->o.reps);
    printf("%8s %12s %10s %12s\n", "K", "prefill ms", "speed-up", "FLOPs ratio");
    // rounds over every K (the first a warm-up): a machine shared with other work
    // disturbs each K alike, and the best round of each is the least disturbed
    double best[32] = { 0 };
    int rc = 0;
    llama_token bos = L.vocab_bos(h->vocab);
    for (int rep = -1; rep < h->o.reps && !rc; rep++)
        for (int ki = 0; ki < n_k && !rc; ki++) {
            L.memory_clear(h->mem, true);
            double t0 = now_ms();
            rc = feed(h, &bos, NULL, 1, NULL, 0, 0);
            if (!rc) rc = feed(h, NULL, rows, ks[ki], NULL, 1, 0);
            if (!rc) rc = feed(h, text, NULL, h->o.n_text, NULL, 1 + ks[ki], 1);
            if (!rc) L.synchronize(h->ctx);
            double ms = now_ms() - t0;
            if (rep >= 0 && (best[ki] == 0 || ms < best[ki])) best[ki] = ms;
        }
    double base_flops = 0;
    for (int ki = 0; ki < n_k && !rc; ki++) {
        struct vtc_flops fl;
        if (vtc_lm_flops(&shape, ks[ki], 1 + h->o.n_text, 1, &fl)) rc = fail("vtc_lm_flops: %s", vtc_last_error());
        if (rc) break;
        if (ki == 0) base_flops = fl.prefill;
        printf("%8d %12.1f %9.2fx %11.2fx\n", ks[ki], best[ki], best[0] / best[ki], base_flops / fl.prefill);
    }
    free(rows);
    free(text);
    return rc;
}

// ---------------------------------------------------------------- main

static const char *USAGE =
    "usage: llama_cpp_host LLAMA_DIR MODEL.gguf IMAGE QUESTION [options]\n"
    "       llama_cpp_host LLAMA_DIR MODEL.gguf --questions FILE.tsv [options]\n"
    "       llama_cpp_host LLAMA_DIR MODEL.gguf --time-prefill K1,K2,... [--text T] [--reps R]\n"
    "\n"
    "LLAMA_DIR: llama.cpp's libllama.so, or the folder with it and its ggml backends.\n"
    "  --model M            vision model (default: vtc's embedded one); its tokens must be as\n"
    "                       wide as MODEL.gguf's embeddings\n"
    "  --method LIST        pruning methods, comma-separated (default divprune)\n"
    "  --keep LIST          budgets: counts, percentages or fractions (default 64)\n"
    "  --positions compact|original  the rows' positions (default compact; llama.cpp refuses original)\n"
    "  -n N                 tokens to generate for QUESTION (default 1)\n"
    "  --threads N          llama.cpp's threads (default 1)\n"
    "  --reference          also run vtc's reference decoder on MODEL.gguf: logit differences\n"
    "  --defaults           llama.cpp's own F16 KV cache and flash attention (default: F32 cache, off)\n"
    "  --verbose            llama.cpp's log on stderr\n";

static int parse(int argc, char **argv, struct opts *o) {
    *o = (struct opts){ .methods = "divprune", .keeps = "64", .threads = 1, .steps = 1, .n_text = 16, .reps = 3 };
    int pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = !strcmp(a, "--model") || !strcmp(a, "--method") || !strcmp(a, "--methods") ||
                    !strcmp(a, "--keep") || !strcmp(a, "--positions") || !strcmp(a, "-n") || !strcmp(a, "--threads") ||
                    !strcmp(a, "--questions") || !strcmp(a, "--time-prefill") || !strcmp(a, "--text") ||
                    !strcmp(a, "--reps");
        if (takes && !v) return fprintf(stderr, "llama_cpp_host: %s needs a value\n", a), 2;
        if (takes) i++;
        if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--method") || !strcmp(a, "--methods")) o->methods = v;
        else if (!strcmp(a, "--keep")) o->keeps = v;
        else if (!strcmp(a, "--questions")) o->questions = v;
        else if (!strcmp(a, "--time-prefill")) o->time_list = v;
        else if (!strcmp(a, "--positions")) {
            if (strcmp(v, "compact") && strcmp(v, "original"))
                return fprintf(stderr, "llama_cpp_host: --positions: compact or original\n"), 2;
            o->original = !strcmp(v, "original");
        } else if (!strcmp(a, "-n") || !strcmp(a, "--threads") || !strcmp(a, "--text") || !strcmp(a, "--reps")) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 4096) return fprintf(stderr, "llama_cpp_host: %s: '%s' is not a count\n", a, v), 2;
            int *field = !strcmp(a, "-n") ? &o->steps : !strcmp(a, "--threads") ? &o->threads
                         : !strcmp(a, "--text") ? &o->n_text : &o->reps;
            *field = (int)n;
        } else if (!strcmp(a, "--reference")) o->reference = 1;
        else if (!strcmp(a, "--defaults")) o->defaults = 1;
        else if (!strcmp(a, "--verbose")) g_verbose = 1;
        else if (a[0] == '-' && a[1]) return fprintf(stderr, "llama_cpp_host: unknown option %s\n%s", a, USAGE), 2;
        else if (pos == 0) o->lib = a, pos++;
        else if (pos == 1) o->gguf = a, pos++;
        else if (pos == 2) o->image = a, pos++;
        else if (pos == 3) o->question = a, pos++;
        else return fprintf(stderr, "llama_cpp_host: unexpected argument %s\n", a), 2;
    }
    int modes = !!o->image + !!o->questions + !!o->time_list;
    if (!o->gguf || modes != 1 || (o->image && !o->question)) return fputs(USAGE, stderr), 2;
    return 0;
}

int main(int argc, char **argv) {
    struct host h = { 0 };
    int rc = parse(argc, argv, &h.o);
    if (rc) return rc;
    struct run *runs = NULL;
    int n_runs = 0;
    if (!h.o.time_list && (rc = plan(&h.o, &runs, &n_runs)) != 0) {
        free(runs);
        return rc;
    }

    char dir[4096];
    void *lib = open_llama(h.o.lib, dir, sizeof dir);
    if (!lib || bind_api(lib)) return 1;
    L.log_set(on_log, NULL);
    L.load_backends(dir); // the CPU backends live beside libllama as loadable variants
    L.backend_init();
    struct llama_model_params mp = L.model_default_params();
    struct llama_context_params cp = L.context_default_params();
    if (check_layout(&mp, &cp)) return 1;
    vtc_model *vmodel = NULL;
    vtc_ctx *vctx = NULL;
    if (!(h.model = L.model_load_from_file(h.o.gguf, mp))) {
        rc = fail("%s: llama.cpp cannot load it: %s", h.o.gguf, llama_said());
        goto done;
    }
    h.vocab = L.model_get_vocab(h.model);
    h.n_embd = L.model_n_embd(h.model);
    h.n_vocab = L.vocab_n_tokens(h.vocab);
    h.n_ctx = h.o.time_list ? 4096 : 2048;
    cp.n_ctx = cp.n_batch = cp.n_ubatch = (uint32_t)h.n_ctx; // one prompt, one graph
    cp.n_threads = cp.n_threads_batch = h.o.threads;
    if (!h.o.defaults) cp.type_k = cp.type_v = 0, cp.flash_attn_type = 0; // F32 KV cache, no flash attention
    if (!(h.ctx = L.init_from_model(h.model, cp))) {
        rc = fail("llama_init_from_model failed: %s", llama_said());
        goto done;
    }
    h.mem = L.get_memory(h.ctx);
    h.pos = malloc(sizeof *h.pos * (size_t)h.n_ctx);
    h.n_seq_id = malloc(sizeof *h.n_seq_id * (size_t)h.n_ctx);
    h.seq_ids = malloc(sizeof *h.seq_ids * (size_t)h.n_ctx);
    h.want = malloc((size_t)h.n_ctx);
    if (!h.pos || !h.n_seq_id || !h.seq_ids || !h.want) {
        rc = fail("out of memory");
        goto done;
    }
    if (h.o.time_list) {
        rc = time_prefill(&h);
        goto done;
    }
    if (h.o.reference) {
        struct vtc_lm_ctx_params lp = vtc_lm_ctx_params_default();
        lp.n_ctx = h.n_ctx;
        lp.n_threads = 1;
        if (!(h.ref = vtc_lm_load(h.o.gguf, vtc_lm_params_default())) || !(h.ref_ctx = vtc_lm_ctx_new(h.ref, lp)) ||
            !(h.ref_tok = vtc_tokenizer_load_gguf(h.o.gguf))) {
            rc = fail("vtc's decoder on %s: %s", h.o.gguf, vtc_last_error());
            goto done;
        }
    }
    vmodel = h.o.model ? vtc_model_load(h.o.model, vtc_model_params_default()) : vtc_model_default(vtc_model_params_default());
    vctx = vmodel ? vtc_ctx_new(vmodel, vtc_ctx_params_default()) : NULL;
    if (!vctx) {
        rc = fail("vision model: %s", vtc_last_error());
        goto done;
    }
    rc = h.o.questions ? run_questions(&h, vctx, runs, n_runs) : run_image(&h, vctx, runs, n_runs);
done:
    vtc_ctx_free(vctx);
    vtc_model_free(vmodel);
    vtc_tokenizer_free(h.ref_tok);
    vtc_lm_ctx_free(h.ref_ctx);
    vtc_lm_free(h.ref);
    free(h.pos);
    free(h.n_seq_id);
    free(h.seq_ids);
    free(h.want);
    free(runs);
    if (h.ctx) L.free(h.ctx);
    if (h.model) L.model_free(h.model);
    L.backend_free();
    return rc;
}
