// `vtc eval`: accuracy against kept visual tokens for every pruning method and
// budget, through vtc's own pipeline: media -> encoder -> method -> projector ->
// the reference Llama decoder (lm/). The C half of the quality benchmark: the
// Python side makes held-out scenes, their questions and a small trained VLM.
//
// A question is answered with one greedy token. The prompt is the one
// `vtc compress --decoder` feeds (decode_run.h): [BOS][K kept visual rows]
// [question tokens] at consecutive positions; the argmax of the last row's
// logits (ties: the lower id) must equal the answer, which is one token.
// With --positions original the kept rows keep the RoPE positions their source
// tokens hold in the unpruned prompt (gaps where tokens were dropped, as FastV
// keeps them) and the question sits where it would unpruned: docs/methods.md#positions,
// "vtc never renumbers silently: the host chooses".
//
// Work is shared as far as it can be: a run of consecutive questions on the same
// media is encoded once and pruned once per (method, budget); only the decoder
// runs per question. `none` runs once (its budget is "all") and is the reference
// the relative accuracies divide by, over the same questions. The in-decoder
// methods (fastv, todre2, dycoke-kv) run on the unpruned tokens. A method that
// cannot run on some media (dycoke on a single image, a budget above the token
// count, a tensor the model lacks) skips those questions with a note.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "api/encode.h"
#include "base/common.h"
#include "decode_run.h"
#include "json_out.h"
#include "base/mapfile.h"
#include "video/source.h"

#define MAX_LIST 64
#define MAX_PARAMS 32
#define MAX_QUESTIONS_BYTES ((size_t)256 << 20)
#define DEFAULT_KEEP "192,128,64,32"

static const char *USAGE =
    "usage: vtc eval --decoder FILE --questions FILE.tsv [--model M] [--tokenizer FILE]\n"
    "                [--methods LIST] [--keep LIST] [--decode-methods LIST] [--frames N] [--pool S]\n"
    "                [--positions compact|original]\n"
    "                [--limit N] [--seed S] [--threads N] [--precision P] [--json] [--no-time]\n"
    "                [--per-question]\n"
    "\n"
    "Accuracy against visual tokens kept, for each pruning method and budget: every\n"
    "question runs [BOS][kept visual tokens][question] through the decoder, and the\n"
    "greedy next token must be the answer.\n"
    "\n"
    "  --model M          vision model (default: the embedded one); its tokens (projector output,\n"
    "                     or encoder features without one) must be as wide as the decoder's\n"
    "                     embeddings\n"
    "  --decoder FILE     llama2.c checkpoint or GGUF llama file\n"
    "  --tokenizer FILE   llama2.c tokenizer.bin (default: the GGUF's vocabulary, or\n"
    "                     tokenizer.bin beside a llama2.c checkpoint)\n"
    "  --questions FILE   UTF-8, one question a line: media<TAB>kind<TAB>question<TAB>answer;\n"
    "                     media relative to the file's folder (image, or video sampled with\n"
    "                     --frames); kind a label accuracy is broken down by; answer a word\n"
    "                     that is one token. '#' lines, empty lines and a first line\n"
    "                     \"media<TAB>kind<TAB>question<TAB>answer\" are skipped\n"
    "  --methods LIST     pruning methods, comma-separated (default: all; dycoke and vq on\n"
    "                     video media only). none always runs, once, as the reference\n"
    "  --keep LIST        budgets: counts, percentages or fractions (default " DEFAULT_KEEP ")\n"
    "  --param [METHOD:]NAME=VALUE  a method knob, for METHOD or every listed method (repeatable)\n"
    "  --decode-methods LIST  in-decoder methods on the unpruned tokens: fastv, todre2, dycoke-kv\n"
    "  --decode-param [METHOD:]NAME=VALUE  their knobs (repeatable)\n"
    "  --frames N         video: frames sampled (default 8)\n"
    "  --pool S           video: S x S average pooling of each frame's tokens after the projector,\n"
    "                     before any method (LLaVA-OneVision's video path; images are not pooled)\n"
    "  --positions P      RoPE positions of the kept visual rows: compact (default; 1..K, the\n"
    "                     question after them, as `vtc compress --decoder`) or original (each\n"
    "                     row where its source token sits unpruned, the question after all N)\n"
    "  --limit N          the first N questions only\n"
    "  --seed S           seed of the seeded methods (random, vq; default 0)\n"
    "  --threads N        worker threads (default: all CPUs)\n"
    "  --precision P      the vision encoder's: f32, bf16 or auto (default; `vtc compress --help`)\n"
    "  --json             one JSON object on stdout instead of the table\n"
    "  --no-time          leave out the times (deterministic output)\n"
    "  --per-question     each question's predicted token, per method and budget\n";

struct opts {
    const char *model, *decoder, *tokenizer, *questions, *methods, *keeps, *decode_methods;
    const char *params[MAX_PARAMS], *decode_params[MAX_PARAMS];
    int n_params, n_decode_params;
    long long limit;
    int threads, frames, pool, original_positions, json, no_time, per_question;
    int precision; // --precision (enum vtc_precision)
    unsigned long long seed;
};

// A comma-separated list, split in a copy of its own.
struct list {
    char *buf;
    const char *item[MAX_LIST];
    int n;
};

struct question {
    int line;
    const char *media, *kind, *text, *answer; // into the questions file's text
    int32_t *ids, n_ids;                      // the question's tokens, without BOS
    int32_t answer_id;
    int kind_idx;
};

// One line of the table: a pruning method at one budget, or an in-decoder method.
struct row {
    const char *method;
    int in_decoder;     // an lm/ policy on the unpruned tokens
    int video_only;     // from the default list: runs on video media only
    const char *budget; // the --keep item as given; "all" for none and in-decoder methods
    struct vtc_prune_params keep; // its budget: n_keep or keep_ratio
    char params[1024];
    int64_t n_run, n_correct, n_none_correct, n_skipped, n_video_skipped, n_not_fired;
    int32_t policy_layer; // the in-decoder method's resolved layer
    double tokens, equiv, flops, ms; // sums over the questions run
    int64_t *kind_run, *kind_correct; // [n_kinds]
    int32_t *pred;      // [n_questions]: predicted id, -1 where not run
    char note[512];     // why questions were skipped (the first reason)
    int other_reasons;  // and some were skipped for another
};

struct eval {
    struct opts o;
    struct question *q;
    int n_q;
    const char *kinds[MAX_LIST * 4];
    int n_kinds;
    char *text; // the questions file, NUL-terminated, split in place
    struct row *rows;
    int n_rows;
    int n_media, n_encodes, max_positions; // distinct media; runs of consecutive questions on one
    int n_video_encodes;                   // encodes of video media
    vtc_lm *lm;
    vtc_tokenizer *tok;
    const char *tokenizer_path;
    char tokenizer_beside[4096];
    vtc_model *model;
    struct vtc_model_info mi;
    int32_t dim;
    double ms_total;
    int precision;      // the encoder's, resolved (vtc_ctx_precision)
    char engine[160];   // and its line
};

// ---------------------------------------------------------------- options

static int split_list(const char *what, const char *s, struct list *l) {
    memset(l, 0, sizeof *l);
    l->buf = malloc(strlen(s) + 1);
    if (!l->buf) return cli_runtime_error("%s: out of memory", what);
    strcpy(l->buf, s);
    for (char *p = l->buf, *end; p; p = end ? end + 1 : NULL) {
        end = strchr(p, ',');
        if (end) *end = '\0';
        if (!*p) return cli_usage_error("%s: empty item in '%s'", what, s);
        for (int i = 0; i < l->n; i++)
            if (!strcmp(l->item[i], p)) return cli_usage_error("%s: '%s' is listed twice", what, p);
        if (l->n == MAX_LIST) return cli_usage_error("%s: at most %d items", what, MAX_LIST);
        l->item[l->n++] = p;
    }
    return 0;
}

// The knobs of `method` among [METHOD:]NAME=VALUE items, comma-joined into buf.
// 0, or a usage error when they do not fit in cap bytes.
static int params_for(const char *method, const char *const *given, int n, char *buf, size_t cap) {
    const char *mine[MAX_PARAMS];
    int n_mine = 0;
    for (int i = 0; i < n; i++) { // n <= MAX_PARAMS, the size of the option arrays
        const char *p = given[i], *colon = strchr(p, ':'), *eq = strchr(p, '=');
        if (colon && colon < eq) {
            if (strlen(method) != (size_t)(colon - p) || strncmp(method, p, (size_t)(colon - p))) continue;
            p = colon + 1;
        }
        mine[n_mine++] = p;
    }
    if (cli_join_params(mine, n_mine, buf, cap))
        return cli_usage_error("--param: the knobs of %s take more than %zu characters", method, cap - 1);
    return 0;
}

// Every METHOD: prefix must name a listed method.
static int check_prefixes(const char *opt, const char *const *given, int n, const struct list *l) {
    for (int i = 0; i < n; i++) {
        const char *colon = strchr(given[i], ':'), *eq = strchr(given[i], '=');
        if (!colon || colon > eq) continue;
        int found = 0;
        for (int k = 0; k < l->n; k++)
            found |= strlen(l->item[k]) == (size_t)(colon - given[i]) &&
                     !strncmp(l->item[k], given[i], (size_t)(colon - given[i]));
        if (!found)
            return cli_usage_error("%s: '%.*s' in '%s' is not a listed method", opt, (int)(colon - given[i]), given[i],
                                   given[i]);
    }
    return 0;
}

static int parse(int argc, char **argv, struct opts *o) {
    long long v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED()                                                              \
    do {                                                                    \
        if (!val) return cli_usage_error("eval: %s needs a value", a);      \
        i++;                                                                \
    } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(USAGE, stdout);
            return -1;
        } else if (!strcmp(a, "--model") || !strcmp(a, "-m")) {
            NEED(); o->model = val;
        } else if (!strcmp(a, "--decoder")) {
            NEED(); o->decoder = val;
        } else if (!strcmp(a, "--tokenizer")) {
            NEED(); o->tokenizer = val;
        } else if (!strcmp(a, "--questions")) {
            NEED(); o->questions = val;
        } else if (!strcmp(a, "--methods")) {
            NEED(); o->methods = val;
        } else if (!strcmp(a, "--keep")) {
            NEED(); o->keeps = val;
        } else if (!strcmp(a, "--decode-methods")) {
            NEED(); o->decode_methods = val;
        } else if (!strcmp(a, "--param") || !strcmp(a, "--decode-param")) {
            NEED();
            int dec = !strcmp(a, "--decode-param");
            int *n = dec ? &o->n_decode_params : &o->n_params;
            if (*n == MAX_PARAMS) return cli_usage_error("%s: at most %d parameters", a, MAX_PARAMS);
            const char *eq = strchr(val, '='), *colon = strchr(val, ':');
            if (!eq || eq == val || (colon && colon < eq && (colon == val || colon + 1 == eq)) || strchr(val, ','))
                return cli_usage_error("%s: '%s' is not [METHOD:]NAME=VALUE", a, val);
            (dec ? o->decode_params : o->params)[(*n)++] = val;
        } else if (!strcmp(a, "--frames")) {
            NEED();
            if (cli_parse_int(val, 1, 100000, &v)) return cli_usage_error("--frames: '%s' is not a frame count (1..100000)", val);
            o->frames = (int)v;
        } else if (!strcmp(a, "--pool")) {
            NEED();
            if (cli_parse_int(val, 1, 8, &v)) return cli_usage_error("--pool: '%s' is not a pool size (1..8)", val);
            o->pool = (int)v;
        } else if (!strcmp(a, "--positions")) {
            NEED();
            if (cli_parse_positions(val, &o->original_positions))
                return cli_usage_error("--positions: '%s' is neither compact nor original", val);
        } else if (!strcmp(a, "--limit")) {
            NEED();
            if (cli_parse_int(val, 1, (long long)1 << 40, &o->limit)) return cli_usage_error("--limit: '%s' is not a positive count", val);
        } else if (!strcmp(a, "--seed")) {
            NEED();
            if (cli_parse_int(val, 0, (long long)1 << 62, &v)) return cli_usage_error("--seed: '%s' is not a non-negative integer", val);
            o->seed = (unsigned long long)v;
        } else if (!strcmp(a, "--threads") || !strcmp(a, "-t")) {
            NEED();
            if (cli_parse_int(val, 1, 1024, &v)) return cli_usage_error("--threads: '%s' is not a thread count (1..1024)", val);
            o->threads = (int)v;
        } else if (!strcmp(a, "--precision")) {
            NEED();
            if (cli_parse_precision(val, &o->precision)) return cli_usage_error("--precision: '%s' is not f32, bf16 or auto", val);
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--no-time")) {
            o->no_time = 1;
        } else if (!strcmp(a, "--per-question")) {
            o->per_question = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage_error("eval: unknown option '%s' (see `vtc eval --help`)", a);
        } else {
            return cli_usage_error("eval: unexpected argument '%s'", a);
        }
#undef NEED
    }
    if (!o->decoder) return cli_usage_error("eval: --decoder FILE is required");
    if (!o->questions) return cli_usage_error("eval: --questions FILE.tsv is required");
    if (o->n_decode_params && !o->decode_methods)
        return cli_usage_error("eval: --decode-param needs --decode-methods LIST");
    return 0;
}

static struct row *add_row(struct eval *e) {
    struct row *grown = realloc(e->rows, (size_t)(e->n_rows + 1) * sizeof *grown);
    if (!grown) return NULL;
    e->rows = grown;
    struct row *w = &e->rows[e->n_rows++];
    memset(w, 0, sizeof *w);
    return w;
}

// The rows: none first, then each method at each budget, then the in-decoder
// methods. Names and knobs are checked here (usage errors, before any work).
static int plan_rows(struct eval *e, struct list *methods, struct list *keeps, struct list *decoders) {
    const struct opts *o = &e->o;
    int rc;
    if (o->methods) {
        if ((rc = split_list("--methods", o->methods, methods)) != 0) return rc;
    } else {
        memset(methods, 0, sizeof *methods);
        for (int32_t i = 0; i < vtc_method_count() && i < MAX_LIST; i++) methods->item[methods->n++] = vtc_method_name(i);
    }
    if ((rc = split_list("--keep", o->keeps ? o->keeps : DEFAULT_KEEP, keeps)) != 0) return rc;
    if (o->decode_methods && (rc = split_list("--decode-methods", o->decode_methods, decoders)) != 0) return rc;
    if ((rc = check_prefixes("--param", o->params, o->n_params, methods)) != 0) return rc;
    if ((rc = check_prefixes("--decode-param", o->decode_params, o->n_decode_params, decoders)) != 0) return rc;
    struct vtc_prune_params keep[MAX_LIST];
    for (int k = 0; k < keeps->n; k++)
        if (cli_parse_keep(keeps->item[k], &keep[k]))
            return cli_usage_error("--keep: '%s' is not a token count, percentage or fraction", keeps->item[k]);

    struct row *none = add_row(e);
    if (!none) return cli_runtime_error("eval: out of memory");
    none->method = "none";
    none->budget = "all";
    for (int m = 0; m < methods->n; m++) {
        const char *name = methods->item[m];
        char params[1024];
        if (params_for(name, o->params, o->n_params, params, sizeof params)) return CLI_USAGE;
        struct vtc_prune_params pp = vtc_prune_params_default();
        pp.method = name;
        pp.params = params;
        int st = vtc_prune_validate(pp);
        if (st) return cli_status_error(st, "--methods");
        if (!strcmp(name, "none")) {
            snprintf(none->params, sizeof none->params, "%s", params);
            continue;
        }
        for (int k = 0; k < keeps->n; k++) {
            struct row *w = add_row(e);
            if (!w) return cli_runtime_error("eval: out of memory");
            w->method = name;
            w->budget = keeps->item[k];
            w->keep = keep[k];
            // temporal methods: a clip's frames are what they merge (dycoke), or share one codebook (vq)
            w->video_only = !o->methods && (!strcmp(name, "dycoke") || !strcmp(name, "vq"));
            snprintf(w->params, sizeof w->params, "%s", params);
        }
    }
    for (int d = 0; decoders && d < decoders->n; d++) {
        char params[1024];
        if (params_for(decoders->item[d], o->decode_params, o->n_decode_params, params, sizeof params))
            return CLI_USAGE;
        int st = cli_decode_check_method(decoders->item[d], params);
        if (st) return cli_status_error(st, "--decode-methods");
        if (!strcmp(decoders->item[d], "none"))
            return cli_usage_error("--decode-methods: 'none' is not an in-decoder method (fastv, todre2, dycoke-kv)");
        struct row *w = add_row(e);
        if (!w) return cli_runtime_error("eval: out of memory");
        w->method = decoders->item[d];
        w->in_decoder = 1;
        w->budget = "all";
        snprintf(w->params, sizeof w->params, "%s", params);
    }
    return 0;
}

// ---------------------------------------------------------------- the questions file

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static int read_questions(struct eval *e) {
    const char *path = e->o.questions;
    vtc_file f;
    int st = vtc_file_open(path, 0, &f);
    if (st) return cli_status_error(st == VTC_ERR_ARG ? VTC_ERR_IO : st, "reading questions");
    if (f.size > MAX_QUESTIONS_BYTES) {
        vtc_file_close(&f);
        return cli_runtime_error("%s: %zu bytes is too large for a questions file", path, f.size);
    }
    e->text = malloc(f.size + 1);
    if (!e->text) {
        vtc_file_close(&f);
        return cli_runtime_error("eval: out of memory");
    }
    memcpy(e->text, f.data, f.size);
    e->text[f.size] = '\0';
    size_t size = f.size;
    vtc_file_close(&f);
    if (memchr(e->text, '\0', size)) return cli_runtime_error("%s: a NUL byte: not a text file", path);

    int line = 0, cap = 0, first = 1;
    for (char *p = e->text, *next; p && *p; p = next) {
        line++;
        char *nl = strchr(p, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl) *nl = '\0';
        size_t len = strlen(p);
        if (len && p[len - 1] == '\r') p[--len] = '\0';
        if (line == 1 && !strncmp(p, "\xef\xbb\xbf", 3)) p += 3, len -= 3; // a byte-order mark
        if (!len || p[0] == '#') continue;
        if (first && !strcmp(p, "media\tkind\tquestion\tanswer")) { // a header line
            first = 0;
            continue;
        }
        first = 0;
        if (e->o.limit && e->n_q == e->o.limit) break;
        for (size_t i = 0, n; i < len; i += n)
            if (!(n = vtc_utf8_len((const unsigned char *)p + i, len - i)))
                return cli_runtime_error("%s:%d: not UTF-8 text", path, line);
        char *col[4];
        int n_col = 0;
        for (char *c = p, *tab; c; c = tab ? tab + 1 : NULL) {
            tab = strchr(c, '\t');
            if (tab) *tab = '\0';
            if (n_col < 4) col[n_col] = c;
            n_col++;
        }
        if (n_col != 4)
            return cli_runtime_error("%s:%d: %d tab-separated columns, want 4 (media, kind, question, answer)", path,
                                     line, n_col);
        static const char *const names[] = { "media", "kind", "question", "answer" };
        for (int c = 0; c < 4; c++)
            if (!col[c][0]) return cli_runtime_error("%s:%d: the %s column is empty", path, line, names[c]);
        if (e->n_q == cap) {
            cap = cap ? 2 * cap : 64;
            struct question *grown = realloc(e->q, (size_t)cap * sizeof *grown);
            if (!grown) return cli_runtime_error("eval: out of memory");
            e->q = grown;
        }
        struct question *q = &e->q[e->n_q++];
        memset(q, 0, sizeof *q);
        q->line = line;
        q->media = col[0], q->kind = col[1], q->text = col[2], q->answer = col[3];
        q->kind_idx = -1;
        for (int k = 0; k < e->n_kinds; k++)
            if (!strcmp(e->kinds[k], q->kind)) q->kind_idx = k;
        if (q->kind_idx < 0) {
            if (e->n_kinds == (int)(sizeof e->kinds / sizeof e->kinds[0]))
                return cli_runtime_error("%s:%d: more than %d kinds", path, line, e->n_kinds);
            q->kind_idx = e->n_kinds;
            e->kinds[e->n_kinds++] = q->kind;
        }
    }
    if (e->n_q == 0) return cli_runtime_error("%s: no questions", path);
    const char **sorted = malloc((size_t)e->n_q * sizeof *sorted);
    if (!sorted) return cli_runtime_error("eval: out of memory");
    for (int i = 0; i < e->n_q; i++) {
        e->n_encodes += i == 0 || strcmp(e->q[i].media, e->q[i - 1].media);
        sorted[i] = e->q[i].media;
    }
    qsort(sorted, (size_t)e->n_q, sizeof *sorted, cmp_str);
    for (int i = 0; i < e->n_q; i++) e->n_media += i == 0 || strcmp(sorted[i], sorted[i - 1]);
    free(sorted);
    return 0;
}

// The decoder and its tokenizer, then every question and answer tokenized as
// `vtc compress --decoder` tokenizes its prompt (dummy-prefix space, no BOS).
static int load_decoder(struct eval *e) {
    e->lm = vtc_lm_load(e->o.decoder, vtc_lm_params_default());
    if (!e->lm) return cli_status_error(vtc_last_status(), "loading decoder");
    const struct vtc_lm_config *cfg = vtc_lm_get_config(e->lm);
    e->tokenizer_path = e->o.tokenizer;
    if (!e->tokenizer_path && strcmp(cfg->format, "gguf")) { // llama2.c: tokenizer.bin next to the checkpoint
        if (cli_tokenizer_beside(e->o.decoder, e->tokenizer_beside, sizeof e->tokenizer_beside))
            return cli_runtime_error("loading tokenizer: %s: path too long", e->o.decoder);
        e->tokenizer_path = e->tokenizer_beside;
    }
    e->tok = e->tokenizer_path ? vtc_tokenizer_load(e->tokenizer_path, cfg->vocab_size)
                               : vtc_tokenizer_load_gguf(e->o.decoder);
    if (!e->tok) return cli_status_error(vtc_last_status(), "loading tokenizer");
    for (int i = 0; i < e->n_q; i++) {
        struct question *q = &e->q[i];
        size_t cap = strlen(q->text) + strlen(q->answer) + 6; // each text needs at most its length + 3
        int32_t n;
        q->ids = vtc_alloc(cap, sizeof *q->ids);
        if (!q->ids) return cli_runtime_error("eval: out of memory");
        int st = vtc_tokenizer_encode(e->tok, q->text, 0, 0, q->ids, (int32_t)cap, &q->n_ids);
        if (st) return cli_runtime_error("%s:%d: question: %s", e->o.questions, q->line, vtc_last_error());
        // the answer's tokens go after the question's, where they are not used
        st = vtc_tokenizer_encode(e->tok, q->answer, 0, 0, q->ids + q->n_ids, (int32_t)(cap - (size_t)q->n_ids), &n);
        if (st) return cli_runtime_error("%s:%d: answer: %s", e->o.questions, q->line, vtc_last_error());
        if (n != 1)
            return cli_runtime_error("%s:%d: the answer '%s' is %d tokens, not one, for this tokenizer", e->o.questions,
                                     q->line, q->answer, n);
        q->answer_id = q->ids[q->n_ids];
    }
    return 0;
}

static int load_model(struct eval *e) {
    struct vtc_model_params mp = vtc_model_params_default();
    e->model = e->o.model ? vtc_model_load(e->o.model, mp) : vtc_model_default(mp);
    if (!e->model) return cli_status_error(vtc_last_status(), "loading model");
    vtc_model_get_info(e->model, &e->mi);
    e->dim = e->mi.has_projector ? e->mi.lm_dim : e->mi.hidden;
    int32_t lm_dim = vtc_lm_get_config(e->lm)->dim;
    if (e->dim != lm_dim) // compress --decoder would bridge this with a random adapter: no accuracy to measure
        return cli_runtime_error("eval: the vision model's tokens are %d wide (%s) but the decoder's embeddings %d: "
                                 "eval needs a projector made for this decoder",
                                 e->dim, e->mi.has_projector ? "projector output" : "encoder features, no projector",
                                 lm_dim);
    return 0;
}

// ---------------------------------------------------------------- running

static void skip(struct row *w, int64_t n, const char *why, int video) {
    w->n_skipped += n;
    if (video) w->n_video_skipped += n;
    why = why && why[0] ? why : "cannot run";
    if (!w->note[0]) snprintf(w->note, sizeof w->note, "%s", why);
    else if (strncmp(w->note, why, sizeof w->note - 1)) w->other_reasons = 1;
}

// Counts question qi's answer pred, given on n_tokens visual tokens, in row w.
static void tally(struct eval *e, struct row *w, int qi, int32_t pred, int32_t n_tokens, uint8_t *none_correct) {
    const struct question *q = &e->q[qi];
    int correct = pred == q->answer_id;
    if (w == &e->rows[0]) none_correct[qi] = (uint8_t)correct; // none runs first on every media
    w->pred[qi] = pred;
    w->n_run++;
    w->n_correct += correct;
    w->n_none_correct += none_correct[qi];
    w->kind_run[q->kind_idx]++;
    w->kind_correct[q->kind_idx] += correct;
    w->tokens += n_tokens;
}

// One question on kept tokens (or the unpruned ones with an in-decoder method) into row w.
static int ask(struct eval *e, struct row *w, int qi, const vtc_tokens *t, uint8_t *none_correct) {
    const struct question *q = &e->q[qi];
    struct cli_decode_request req = {
        e->lm, t->data, t->n, t->n_input, q->ids, q->n_ids, w->in_decoder ? w->method : NULL,
        w->in_decoder && w->params[0] ? w->params : NULL,
        1,    // one token: the argmax of the prefill's last row
        0.0f, // greedy, the first maximum
        1, e->o.threads, 0,
        NULL, 0, // the unpruned tokens (in-decoder methods): their positions are 1..N either way
    };
    struct cli_decode_result r;
    int st = cli_decode_visual(&req, &r);
    if (st) {
        cli_decode_result_free(&r);
        return cli_runtime_error("%s:%d: %s (budget %s): %s", e->o.questions, q->line, w->method, w->budget,
                                 vtc_last_error());
    }
    tally(e, w, qi, r.tokens[0], t->n, none_correct);
    w->equiv += r.equiv_tokens;
    w->flops += r.stats.flops_prefill;
    w->ms += r.ms_prefill;
    w->n_not_fired += r.has_policy && !r.policy.fired;
    if (r.has_policy) w->policy_layer = r.policy.layer;
    int positions = 1 + t->n + q->n_ids;
    if (positions > e->max_positions) e->max_positions = positions;
    cli_decode_result_free(&r);
    return 0;
}

// Every question of one media on the kept tokens t of a pruning row: the
// prefix [BOS, visual] is prefilled once and each question continues it after
// vtc_lm_ctx_truncate back to the prefix — the same logits as a whole prefill
// per question (tests/test_lm.c), at a fifth of the cost for five questions.
// FLOPs are those executed: the prefix's plus the question's, as one prefill
// of the whole sequence would count them.
static int ask_shared(struct eval *e, struct row *w, int q0, int q1, const vtc_tokens *t, uint8_t *none_correct) {
    int32_t longest = 0;
    for (int qi = q0; qi < q1; qi++) longest = e->q[qi].n_ids > longest ? e->q[qi].n_ids : longest;
    struct vtc_lm_ctx_params cp = vtc_lm_ctx_params_default();
    cp.n_ctx = 1 + t->n + longest;
    cp.n_threads = e->o.threads;
    vtc_lm_ctx *c = vtc_lm_ctx_new(e->lm, cp);
    int32_t *rows = malloc(sizeof *rows * (size_t)(1 + t->n));
    int32_t *pos = NULL, *qpos = NULL, text_at = 1 + t->n; // positions NULL: consecutive
    if (e->o.original_positions) {
        pos = malloc(sizeof *pos * (size_t)(1 + t->n));
        qpos = malloc(sizeof *qpos * (size_t)(longest ? longest : 1));
    }
    int32_t V = vtc_lm_get_config(e->lm)->vocab_size;
    if (!c || !rows || (e->o.original_positions && (!pos || !qpos))) {
        vtc_lm_ctx_free(c);
        free(rows);
        free(pos);
        free(qpos);
        return cli_status_error(c ? VTC_ERR_NOMEM : vtc_last_status(), "eval: decoder context");
    }
    if (pos) { // BOS at 0, then cli_decode_original_positions
        pos[0] = 0;
        text_at = cli_decode_original_positions(t, pos + 1);
        if (text_at < 0) {
            vtc_lm_ctx_free(c);
            free(rows);
            free(pos);
            free(qpos);
            return cli_status_error(text_at, "eval");
        }
        for (int32_t j = 0; j < longest; j++) qpos[j] = text_at + j;
    }
    rows[0] = 1; // BOS, as cli_decode_visual
    for (int32_t i = 0; i < t->n; i++) rows[1 + i] = VTC_LM_EMBED;
    struct vtc_lm_batch prefix = { 1 + t->n, rows, t->data, pos, VTC_LM_LOGITS_NONE };
    double t0 = vtc_now_ms();
    int st = vtc_lm_prefill(c, &prefix);
    double ms_prefix = vtc_now_ms() - t0;
    struct vtc_lm_stats before, after;
    vtc_lm_get_stats(c, &before);
    const double prefix_flops = before.flops_prefill;
    for (int qi = q0; qi < q1 && !st; qi++) {
        const struct question *q = &e->q[qi];
        vtc_lm_get_stats(c, &before);
        t0 = vtc_now_ms();
        if (!(st = vtc_lm_ctx_truncate(c, 1 + t->n))) {
            struct vtc_lm_batch qb = { q->n_ids, q->ids, NULL, qpos, VTC_LM_LOGITS_LAST };
            st = vtc_lm_prefill(c, &qb);
        }
        if (st) break;
        double ms = vtc_now_ms() - t0;
        vtc_lm_get_stats(c, &after);
        const float *logits = vtc_lm_logits(c, -1);
        int32_t pred = 0;
        for (int32_t i = 1; i < V; i++)
            if (logits[i] > logits[pred]) pred = i; // the first maximum, as the greedy sampler
        tally(e, w, qi, pred, t->n, none_correct);
        w->equiv += t->n;
        w->flops += prefix_flops + (after.flops_prefill - before.flops_prefill);
        w->ms += ms_prefix / (q1 - q0) + ms;
        int positions = text_at + q->n_ids;
        if (positions > e->max_positions) e->max_positions = positions;
    }
    vtc_lm_ctx_free(c);
    free(rows);
    free(pos);
    free(qpos);
    if (st)
        return cli_runtime_error("%s:%d: %s (budget %s): %s", e->o.questions, e->q[q0].line, w->method, w->budget,
                                 vtc_last_error());
    return 0;
}

// Questions [q0, q1) on one media: load, encode once, prune once per row.
static int run_media(struct eval *e, vtc_ctx *ctx, int q0, int q1, uint8_t *none_correct) {
    const struct question *first = &e->q[q0];
    char path[4096];
    const char *slash = strrchr(e->o.questions, '/');
    int dir = first->media[0] == '/' || !slash ? 0 : (int)(slash + 1 - e->o.questions);
    if ((size_t)snprintf(path, sizeof path, "%.*s%s", dir, e->o.questions, first->media) >= sizeof path)
        return cli_runtime_error("%s:%d: media path too long", e->o.questions, first->line);
    struct vtc_sample_params sp = vtc_sample_params_default();
    if (e->o.frames) sp.n_frames = e->o.frames;
    sp = vtc_sample_for_model(e->model, sp);
    struct vtc_limits limits = vtc_limits_default();
    struct cli_input in;
    if (cli_input_open(path, sp, &limits, e->o.threads ? e->o.threads : vtc_cpu_count(), &in))
        return cli_runtime_error("%s:%d: media: %s", e->o.questions, first->line, vtc_last_error());
    const int is_video = in.video != NULL;
    vtc_features *f = NULL;
    vtc_tokens *unpruned = NULL;
    int rc = 0;
    // --pool is LLaVA-OneVision's video pooling: the images of a mixed set stay whole
    int st = cli_encode_input(ctx, &in, is_video ? e->o.pool : 1, -1, &f);
    if (st && is_video && vtc_video_source_failed(in.video)) { // a frame did not decode
        rc = cli_runtime_error("%s:%d: media: %s", e->o.questions, first->line, vtc_last_error());
        goto done;
    }
    if (st) {
        rc = cli_runtime_error("%s:%d: encoding %s: %s", e->o.questions, first->line, first->media, vtc_last_error());
        goto done;
    }
    if (is_video) e->n_video_encodes++;
    for (int ri = 0; ri < e->n_rows && !rc; ri++) {
        struct row *w = &e->rows[ri];
        vtc_tokens *t = unpruned;
        if (!w->in_decoder) {
            if (w->video_only && !is_video) {
                skip(w, q1 - q0, "video media only", 1);
                continue;
            }
            struct vtc_prune_params pp = vtc_prune_params_default();
            pp.method = w->method;
            pp.n_keep = w->keep.n_keep;
            pp.keep_ratio = w->keep.keep_ratio;
            pp.params = w->params[0] ? w->params : NULL;
            pp.seed = e->o.seed;
            t = NULL;
            st = vtc_prune(ctx, f, pp, &t);
            if (st == VTC_ERR_NEEDS) { // this method cannot run on these features or at this budget
                skip(w, q1 - q0, vtc_last_error(), 0);
                continue;
            }
            if (st) {
                rc = cli_runtime_error("%s:%d: pruning %s with %s: %s", e->o.questions, first->line, first->media,
                                       w->method, vtc_last_error());
                break;
            }
            if (t->dim != e->dim) {
                rc = cli_runtime_error("eval: %s gave tokens %d wide, not %d", w->method, t->dim, e->dim);
                vtc_tokens_free(t);
                break;
            }
        }
        if (w->in_decoder)
            for (int qi = q0; qi < q1 && !rc; qi++) rc = ask(e, w, qi, t, none_correct);
        else
            rc = ask_shared(e, w, q0, q1, t, none_correct);
        if (ri == 0) unpruned = t; // the in-decoder methods' input
        else if (!w->in_decoder) vtc_tokens_free(t);
    }
done:
    vtc_tokens_free(unpruned);
    vtc_features_free(f);
    cli_input_close(&in);
    return rc;
}

static int run_all(struct eval *e) {
    for (int ri = 0; ri < e->n_rows; ri++) {
        struct row *w = &e->rows[ri];
        w->kind_run = calloc((size_t)e->n_kinds, sizeof *w->kind_run);
        w->kind_correct = calloc((size_t)e->n_kinds, sizeof *w->kind_correct);
        w->pred = malloc((size_t)e->n_q * sizeof *w->pred);
        if (!w->kind_run || !w->kind_correct || !w->pred) return cli_runtime_error("eval: out of memory");
        for (int i = 0; i < e->n_q; i++) w->pred[i] = -1;
    }
    uint8_t *none_correct = calloc((size_t)e->n_q, 1);
    struct vtc_ctx_params cp = vtc_ctx_params_default();
    cp.n_threads = e->o.threads;
    cp.precision = e->o.precision;
    cp.want_embeds = 1;
    vtc_ctx *ctx = none_correct ? vtc_ctx_new(e->model, cp) : NULL;
    if (!ctx) {
        free(none_correct);
        return cli_status_error(none_correct ? vtc_last_status() : VTC_ERR_NOMEM, "creating context");
    }
    const char *engine;
    e->precision = vtc_ctx_precision(ctx, &engine);
    snprintf(e->engine, sizeof e->engine, "%s", engine);
    int tty = isatty(STDERR_FILENO), rc = 0, done_media = 0;
    double t0 = vtc_now_ms();
    for (int q0 = 0, q1; q0 < e->n_q && !rc; q0 = q1) {
        for (q1 = q0 + 1; q1 < e->n_q && !strcmp(e->q[q1].media, e->q[q0].media);) q1++;
        if (tty) fprintf(stderr, "\reval: media %d/%d, questions %d/%d", done_media + 1, e->n_encodes, q1, e->n_q);
        rc = run_media(e, ctx, q0, q1, none_correct);
        done_media++;
    }
    if (tty) fputs("\r\033[K", stderr);
    e->ms_total = vtc_now_ms() - t0;
    vtc_ctx_free(ctx);
    free(none_correct);
    return rc;
}

// ---------------------------------------------------------------- output

static int shown(const struct row *w) { return !(w->video_only && w->n_run == 0 && w->n_video_skipped == w->n_skipped); }
static double pct(int64_t num, int64_t den) { return den ? 100.0 * (double)num / (double)den : 0; }

// A token's text after the question, printable: control bytes as \xNN.
static void token_text(const struct eval *e, const struct question *q, int32_t id, char *out, size_t cap) {
    size_t len = 0, at = 0;
    const char *piece = vtc_tokenizer_decode(e->tok, q->ids[q->n_ids - 1], id, &len);
    out[0] = '\0';
    for (size_t i = 0; piece && i < len && at + 5 < cap; i++) {
        unsigned char b = (unsigned char)piece[i];
        if (b < 0x20 || b == 0x7f || b == '"' || b == '\\') at += (size_t)snprintf(out + at, cap - at, "\\x%02x", b);
        else out[at++] = (char)b, out[at] = '\0';
    }
}

// Notes: skipped questions, policies that did not act, prompts past the trained context.
static int collect_notes(const struct eval *e, char notes[][640], int cap) {
    int n = 0, layers = vtc_lm_get_config(e->lm)->n_layers;
    char video[256] = "";
    for (int ri = 0; ri < e->n_rows; ri++) {
        const struct row *w = &e->rows[ri];
        if (!shown(w)) {
            if (!strstr(video, w->method) && strlen(video) + strlen(w->method) + 3 < sizeof video)
                snprintf(video + strlen(video), sizeof video - strlen(video), "%s%s", video[0] ? ", " : "", w->method);
            continue;
        }
        if (w->n_skipped && n < cap)
            snprintf(notes[n++], sizeof notes[0], "%s %s: skipped on %lld of %d questions: %s%s", w->method, w->budget,
                     (long long)w->n_skipped, e->n_q, w->note, w->other_reasons ? " (and for other reasons)" : "");
        if (w->n_not_fired && n < cap) {
            char why[128] = "";
            if (!strcmp(w->method, "dycoke-kv"))
                snprintf(why, sizeof why, " (it acts in decode steps; a one-token answer comes from the prefill)");
            else if (w->policy_layer >= layers)
                snprintf(why, sizeof why, " (it acts from layer %d; the decoder has %d)", w->policy_layer, layers);
            snprintf(notes[n++], sizeof notes[0], "%s did not act on %lld of %lld questions%s", w->method,
                     (long long)w->n_not_fired, (long long)w->n_run, why);
        }
    }
    if (video[0] && n < cap)
        snprintf(notes[n++], sizeof notes[0], "%s: video methods, and no media was a video (name them in --methods "
                 "to run them on images)", video);
    int32_t seq = vtc_lm_get_config(e->lm)->seq_len;
    if (e->max_positions > seq && n < cap)
        snprintf(notes[n++], sizeof notes[0], "prompts reach %d positions, past the decoder's trained context of %d",
                 e->max_positions, seq);
    return n;
}

static int write_json(const struct eval *e, char notes[][640], int n_notes) {
    const struct row *none = &e->rows[0];
    struct vtc_json j;
    vtc_json_init_file(&j, stdout, 1);
    vtc_json_begin_object(&j);
    vtc_json_kv_string(&j, "command", "eval");
    vtc_json_kv_string(&j, "model", e->o.model ? e->o.model : "(embedded)");
    vtc_json_kv_string(&j, "model_name", e->mi.name);
    vtc_json_kv_string(&j, "token_source", e->mi.has_projector ? "projector output" : "encoder features");
    vtc_json_kv_string(&j, "precision", e->precision == VTC_PRECISION_BF16 ? "bf16" : "f32");
    vtc_json_kv_string(&j, "engine", e->engine);
    vtc_json_kv_int(&j, "token_dim", e->dim);
    vtc_json_kv_string(&j, "decoder", e->o.decoder);
    vtc_json_kv_string(&j, "tokenizer", e->tokenizer_path ? e->tokenizer_path : e->o.decoder);
    struct vtc_lm_shape s;
    vtc_lm_get_shape(e->lm, &s);
    vtc_json_key(&j, "lm");
    vtc_json_begin_object(&j);
    vtc_json_kv_int(&j, "layers", s.layers);
    vtc_json_kv_int(&j, "hidden", s.hidden);
    vtc_json_kv_int(&j, "ffn", s.ffn);
    vtc_json_kv_int(&j, "heads", s.heads);
    vtc_json_kv_int(&j, "kv_heads", s.kv_heads);
    vtc_json_kv_int(&j, "vocab", s.vocab);
    vtc_json_kv_int(&j, "trained_context", vtc_lm_get_config(e->lm)->seq_len);
    vtc_json_end_object(&j);
    vtc_json_kv_string(&j, "questions_file", e->o.questions);
    vtc_json_kv_int(&j, "questions", e->n_q);
    vtc_json_kv_int(&j, "media", e->n_media);
    vtc_json_kv_int(&j, "encodes", e->n_encodes);
    vtc_json_kv_int(&j, "frames", e->o.frames ? e->o.frames : vtc_sample_params_default().n_frames);
    vtc_json_kv_int(&j, "pool", e->o.pool > 1 ? e->o.pool : 1);
    vtc_json_kv_string(&j, "positions", e->o.original_positions ? "original" : "compact");
    vtc_json_kv_int(&j, "seed", (int64_t)e->o.seed);
    vtc_json_kv_double(&j, "unpruned_accuracy", pct(none->n_correct, none->n_run));
    vtc_json_key(&j, "kinds");
    vtc_json_begin_object(&j);
    for (int k = 0; k < e->n_kinds; k++) vtc_json_kv_int(&j, e->kinds[k], none->kind_run[k]);
    vtc_json_end_object(&j);
    vtc_json_key(&j, "rows");
    vtc_json_begin_array(&j);
    for (int ri = 0; ri < e->n_rows; ri++) {
        const struct row *w = &e->rows[ri];
        if (!shown(w)) continue;
        double n = (double)w->n_run;
        vtc_json_begin_object(&j);
        vtc_json_kv_string(&j, "method", w->method);
        vtc_json_kv_bool(&j, "in_decoder", w->in_decoder);
        vtc_json_kv_string(&j, "budget", w->budget);
        vtc_json_kv_double(&j, "keep", w->keep.n_keep ? (double)w->keep.n_keep : w->keep.keep_ratio);
        vtc_json_kv_string(&j, "parameters", w->params);
        vtc_json_kv_int(&j, "questions", w->n_run);
        vtc_json_kv_int(&j, "skipped", w->n_skipped);
        if (w->n_skipped) vtc_json_kv_string(&j, "note", w->note);
        if (w->n_run) {
            vtc_json_kv_double(&j, "tokens", w->tokens / n);
            vtc_json_kv_double(&j, "equiv_tokens", w->equiv / n);
            vtc_json_kv_int(&j, "correct", w->n_correct);
            vtc_json_kv_double(&j, "accuracy", pct(w->n_correct, w->n_run));
            if (w->n_none_correct) vtc_json_kv_double(&j, "relative", pct(w->n_correct, w->n_none_correct));
            else vtc_json_kv_null(&j, "relative");
            vtc_json_kv_double(&j, "prefill_flops", w->flops / n);
        } else {
            const char *keys[] = { "tokens", "equiv_tokens", "correct", "accuracy", "relative", "prefill_flops" };
            for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) vtc_json_kv_null(&j, keys[k]);
        }
        vtc_json_key(&j, "per_kind");
        vtc_json_begin_object(&j);
        for (int k = 0; k < e->n_kinds; k++) {
            vtc_json_key(&j, e->kinds[k]);
            vtc_json_begin_object(&j);
            vtc_json_kv_int(&j, "questions", w->kind_run[k]);
            vtc_json_kv_int(&j, "correct", w->kind_correct[k]);
            if (w->kind_run[k]) vtc_json_kv_double(&j, "accuracy", pct(w->kind_correct[k], w->kind_run[k]));
            else vtc_json_kv_null(&j, "accuracy");
            vtc_json_end_object(&j);
        }
        vtc_json_end_object(&j);
        if (e->o.per_question) {
            vtc_json_key(&j, "predictions");
            vtc_json_begin_array(&j);
            for (int qi = 0; qi < e->n_q; qi++) {
                if (w->pred[qi] < 0) {
                    vtc_json_null(&j);
                    continue;
                }
                size_t len;
                const char *piece = vtc_tokenizer_decode(e->tok, e->q[qi].ids[e->q[qi].n_ids - 1], w->pred[qi], &len);
                vtc_json_begin_object(&j);
                vtc_json_kv_int(&j, "token", w->pred[qi]);
                vtc_json_key(&j, "text");
                vtc_json_string_n(&j, piece ? piece : "", piece ? len : 0);
                vtc_json_kv_bool(&j, "correct", w->pred[qi] == e->q[qi].answer_id);
                vtc_json_end_object(&j);
            }
            vtc_json_end_array(&j);
        }
        vtc_json_end_object(&j);
    }
    vtc_json_end_array(&j);
    if (e->o.per_question) {
        vtc_json_key(&j, "question_list");
        vtc_json_begin_array(&j);
        for (int qi = 0; qi < e->n_q; qi++) {
            const struct question *q = &e->q[qi];
            vtc_json_begin_object(&j);
            vtc_json_kv_int(&j, "line", q->line);
            vtc_json_kv_string(&j, "media", q->media);
            vtc_json_kv_string(&j, "kind", q->kind);
            vtc_json_kv_string(&j, "question", q->text);
            vtc_json_kv_string(&j, "answer", q->answer);
            vtc_json_kv_int(&j, "answer_token", q->answer_id);
            vtc_json_kv_int(&j, "question_tokens", q->n_ids);
            vtc_json_end_object(&j);
        }
        vtc_json_end_array(&j);
    }
    vtc_json_key(&j, "notes");
    vtc_json_begin_array(&j);
    for (int i = 0; i < n_notes; i++) vtc_json_string(&j, notes[i]);
    vtc_json_end_array(&j);
    if (!e->o.no_time) { // apart from everything else: the one part of the output that varies
        vtc_json_key(&j, "timings_ms");
        vtc_json_begin_object(&j);
        vtc_json_kv_double(&j, "total", e->ms_total);
        vtc_json_key(&j, "prefill_per_question");
        vtc_json_begin_array(&j);
        for (int ri = 0; ri < e->n_rows; ri++)
            if (shown(&e->rows[ri]))
                e->rows[ri].n_run ? vtc_json_double(&j, e->rows[ri].ms / (double)e->rows[ri].n_run) : vtc_json_null(&j);
        vtc_json_end_array(&j);
        vtc_json_end_object(&j);
    }
    vtc_json_end_object(&j);
    return vtc_json_finish(&j);
}

static void print_table(const struct eval *e, char notes[][640], int n_notes) {
    const struct row *none = &e->rows[0];
    printf("vtc eval: model %s, decoder %s, questions %s\n", e->o.model ? e->o.model : "(embedded default model)",
           e->o.decoder, e->o.questions);
    printf("%d questions on %d media (%d encodes); unpruned accuracy %.1f%% (%lld of %lld)\n", e->n_q, e->n_media,
           e->n_encodes,
           pct(none->n_correct, none->n_run), (long long)none->n_correct, (long long)none->n_run);
    if (e->n_video_encodes) {
        int fr = e->o.frames ? e->o.frames : vtc_sample_params_default().n_frames;
        if (e->o.pool > 1)
            printf("video: %d frames sampled, each frame's tokens pooled %dx%d after the projector\n", fr, e->o.pool, e->o.pool);
        else
            printf("video: %d frames sampled, every frame's tokens\n", fr);
    }
    if (e->precision == VTC_PRECISION_BF16) printf("precision: %s\n", e->engine); // f32 is the default reference
    if (e->o.original_positions)
        printf("positions: original (kept visual rows at their unpruned RoPE positions, the question after all)\n");
    // the FLOPs column in one unit, the one that suits the unpruned prefill
    static const char *const units[] = { "", "k", "M", "G", "T", "P" };
    double scale = 1, top = none->n_run ? none->flops / (double)none->n_run : 0;
    int u = 0;
    while (u < 5 && top / scale >= 1000) scale *= 1000, u++;
    int mw = 6, bw = 6;
    for (int ri = 0; ri < e->n_rows; ri++) {
        int m = (int)strlen(e->rows[ri].method), b = (int)strlen(e->rows[ri].budget);
        mw = m > mw ? m : mw, bw = b > bw ? b : bw;
    }
    char flops_head[32];
    snprintf(flops_head, sizeof flops_head, "prefill %sFLOPs", units[u]);
    printf("\n%-*s  %-*s  %7s  %6s  %6s", mw, "method", bw, "budget", "tokens", "acc %", "rel %");
    for (int k = 0; k < e->n_kinds; k++) printf("  %6s", e->kinds[k]);
    printf("  %15s", flops_head);
    if (!e->o.no_time) printf("  %8s", "ms/q");
    putchar('\n');
    for (int ri = 0; ri < e->n_rows; ri++) {
        const struct row *w = &e->rows[ri];
        if (!shown(w)) continue;
        double n = (double)w->n_run;
        printf("%-*s  %-*s", mw, w->method, bw, w->budget);
        if (!w->n_run) printf("  %7s  %6s  %6s", "-", "-", "-");
        else if (!w->n_none_correct) printf("  %7.1f  %6.1f  %6s", w->equiv / n, pct(w->n_correct, w->n_run), "-");
        else
            printf("  %7.1f  %6.1f  %6.1f", w->equiv / n, pct(w->n_correct, w->n_run),
                   pct(w->n_correct, w->n_none_correct));
        for (int k = 0; k < e->n_kinds; k++) {
            int width = (int)strlen(e->kinds[k]) > 6 ? (int)strlen(e->kinds[k]) : 6;
            if (w->kind_run[k]) printf("  %*.1f", width, pct(w->kind_correct[k], w->kind_run[k]));
            else printf("  %*s", width, "-");
        }
        if (w->n_run) printf("  %15.3f", w->flops / n / scale);
        else printf("  %15s", "-");
        if (!e->o.no_time) {
            if (w->n_run) printf("  %8.3f", w->ms / n);
            else printf("  %8s", "-");
        }
        if (w->n_skipped && w->n_run) putchar('*');
        putchar('\n');
    }
    printf("\ntokens: visual tokens handed to the decoder (in-decoder methods: the layer-averaged equivalent);\n"
           "rel %%: accuracy relative to none's on the same questions; * some questions skipped (see notes)\n");
    for (int i = 0; i < n_notes; i++) printf("note: %s\n", notes[i]);
    if (!e->o.per_question) return;
    printf("\nper question (line, method, budget: predicted, answer):\n");
    for (int qi = 0; qi < e->n_q; qi++) {
        const struct question *q = &e->q[qi];
        char want[160], got[160];
        token_text(e, q, q->answer_id, want, sizeof want);
        for (int ri = 0; ri < e->n_rows; ri++) {
            const struct row *w = &e->rows[ri];
            if (!shown(w)) continue;
            printf("%5d  %-*s  %-*s  ", q->line, mw, w->method, bw, w->budget);
            if (w->pred[qi] < 0) {
                printf("skipped\n");
                continue;
            }
            token_text(e, q, w->pred[qi], got, sizeof got);
            printf("%d \"%s\"  %d \"%s\"  %s\n", w->pred[qi], got, q->answer_id, want,
                   w->pred[qi] == q->answer_id ? "right" : "wrong");
        }
    }
}

// ---------------------------------------------------------------- the command

int cmd_eval(int argc, char **argv) {
    struct eval e;
    memset(&e, 0, sizeof e);
    struct list methods = { 0 }, keeps = { 0 }, decoders = { 0 };
    int rc = parse(argc, argv, &e.o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if ((rc = plan_rows(&e, &methods, &keeps, &decoders)) != 0) goto done;
    if ((rc = read_questions(&e)) != 0) goto done;
    if ((rc = load_decoder(&e)) != 0) goto done;
    if ((rc = load_model(&e)) != 0) goto done;
    if ((rc = run_all(&e)) != 0) goto done;
    char notes[64][640];
    int n_notes = collect_notes(&e, notes, 64);
    int st = 0;
    if (e.o.json) st = write_json(&e, notes, n_notes);
    else print_table(&e, notes, n_notes);
    if (st || fflush(stdout) || ferror(stdout)) rc = cli_runtime_error("eval: writing the output failed");
done:
    for (int ri = 0; ri < e.n_rows; ri++) {
        free(e.rows[ri].kind_run);
        free(e.rows[ri].kind_correct);
        free(e.rows[ri].pred);
    }
    free(e.rows);
    for (int i = 0; i < e.n_q; i++) free(e.q[i].ids);
    free(e.q);
    free(e.text);
    vtc_model_free(e.model);
    vtc_tokenizer_free(e.tok);
    vtc_lm_free(e.lm);
    free(methods.buf);
    free(keeps.buf);
    free(decoders.buf);
    return rc;
}
