// The decode stage of `vtc compress --decoder` (see decode_run.h).
//
// This file calls only libvtc (no CLI helpers), so bench/decode.c can compile
// it in: the benchmark runs the same request the CLI runs, at a real model size.
#include "decode_run.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/flops.h"
#include "base/rng.h"
#include "json_out.h"

#define BOS_TOKEN 1 // llama2.c / SentencePiece Llama vocabularies
#define RMS_SAMPLE_ROWS 4096

// ---------------------------------------------------------------- small helpers

static char *dup_str(const char *s, int *st) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = vtc_alloc(n, 1);
    if (!d) *st = VTC_ERR_NOMEM;
    else memcpy(d, s, n);
    return d;
}

static int is_none(const char *method) { return !method || !method[0] || !strcmp(method, "none"); }

// run.c's safe_printf: a lone byte that is neither printable ASCII nor
// whitespace is a control code or part of a split UTF-8 sequence (as lm/generate.c).
static int printable_piece(const char *piece, size_t len) {
    if (len == 0 || piece[0] == '\0') return 0;
    if (len > 1) return 1;
    unsigned char b = (unsigned char)piece[0];
    return (b >= 0x20 && b < 0x7f) || b == ' ' || (b >= '\t' && b <= '\r');
}

static double rel_diff(double executed, double expected) {
    if (expected == 0) return executed == 0 ? 0 : 1;
    return fabs(executed - expected) / expected;
}

int cli_decode_check_method(const char *method, const char *params) {
    if (is_none(method)) {
        if (params && params[0])
            return vtc_set_error(VTC_ERR_ARG, "decode: parameters \"%s\" given without a decode method", params);
        return 0;
    }
    vtc_lm_policy *p = vtc_lm_policy_new(method, params);
    if (!p) return vtc_last_status();
    vtc_lm_policy_free(p);
    return 0;
}

// ---------------------------------------------------------------- the adapter

// x (n, din), w (dout, din) -> y (n, dout), each row of y rescaled to target_rms.
int cli_decode_adapt(const float *x, int32_t n, int32_t din, float *y, int32_t dout, float target_rms,
                     uint64_t seed) {
    if (!x || !y || n < 0 || din < 1 || dout < 1) return vtc_set_error(VTC_ERR_ARG, "decode: adapter: bad shape");
    if (n == 0) return 0;
    float *w = vtc_alloc((size_t)din * (size_t)dout, sizeof *w);
    if (!w) return VTC_ERR_NOMEM;
    for (size_t i = 0; i < (size_t)din * (size_t)dout; i++)
        w[i] = (float)((double)(vtc_splitmix64(&seed) >> 11) * 0x1.0p-53) - 0.5f;
    vtc_blas_single_thread();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, dout, din, 1.0f, x, din, w, din, 0.0f, y, dout);
    for (int32_t r = 0; r < n; r++) {
        float *row = y + (size_t)r * dout;
        double ss = 0;
        for (int32_t o = 0; o < dout; o++) ss += (double)row[o] * row[o];
        float scale = (float)(target_rms / sqrt(ss / dout + 1e-12));
        for (int32_t o = 0; o < dout; o++) row[o] *= scale;
    }
    free(w);
    return 0;
}

int cli_decode_embedding_rms(const vtc_lm *lm, double *rms) {
    const struct vtc_lm_config *cfg = vtc_lm_get_config(lm);
    int32_t V = cfg->vocab_size, rows = V < RMS_SAMPLE_ROWS ? V : RMS_SAMPLE_ROWS;
    float *e = vtc_alloc((size_t)cfg->dim, sizeof *e);
    if (!e) return VTC_ERR_NOMEM;
    double ss = 0;
    for (int32_t i = 0; i < rows; i++) {
        vtc_lm_token_embedding(lm, (int32_t)((int64_t)i * V / rows), e);
        for (int32_t k = 0; k < cfg->dim; k++) ss += (double)e[k] * e[k];
    }
    free(e);
    *rms = sqrt(ss / ((double)rows * cfg->dim));
    return 0;
}

// ---------------------------------------------------------------- one run

// What the policy did, as a layer split: layers [0, prune_layer) attend to all
// K visual tokens, [prune_layer, L) to n_kept_late; then base/flops.h's account
// of those sizes, and the cache figures.
static int account(struct cli_decode_result *r) {
    int32_t K = r->n_visual, L = r->shape.layers;
    const struct vtc_lm_policy_report *p = &r->policy;
    int decode_only = 0; // dycoke-kv: the prefill saw every visual token, the decode steps a selection
    r->prune_layer = L;
    r->n_kept_late = K;
    if (r->has_policy && p->fired) {
        if (!strcmp(p->name, "todre2")) {
            if (p->dropped_all) r->prune_layer = p->layer + 1, r->n_kept_late = 0;
        } else {
            r->prune_layer = p->layer, r->n_kept_late = p->n_kept;
            decode_only = !strcmp(p->name, "dycoke-kv");
        }
    }
    if (r->prune_layer >= L) r->prune_layer = L, r->n_kept_late = K;
    for (int32_t l = 0; l < L; l++) r->visual_per_layer[l] = l < r->prune_layer ? K : r->n_kept_late;
    r->equiv_tokens = vtc_flops_equiv_tokens(K, r->n_kept_late, r->prune_layer, L);

    int64_t nt = r->n_text, ng = r->n_gen_accounted;
    int st = vtc_lm_flops_split(&r->shape, K, r->n_kept_late, r->prune_layer, nt, ng, &r->expected);
    if (!st && decode_only) {
        struct vtc_flops full;
        st = vtc_lm_flops_split(&r->shape, K, K, 0, nt, ng, &full);
        r->expected.prefill = full.prefill;
        r->expected.paper_prefill = full.paper_prefill;
    }
    if (!st) st = vtc_lm_flops(&r->shape, r->n_visual_input, nt, ng, &r->uncompressed);
    if (st) return st;
    double dp = rel_diff(r->stats.flops_prefill, r->expected.prefill);
    double dd = rel_diff(r->stats.flops_decode, r->expected.decode);
    r->flops_rel_diff = dp > dd ? dp : dd;

    size_t per_entry = 2 * (size_t)r->shape.hidden / (size_t)r->shape.heads * (size_t)r->shape.kv_heads * sizeof(float);
    size_t slots = (size_t)r->stats.n_cache - (size_t)K + (size_t)r->n_visual_input;
    r->kv_bytes_uncompressed = slots * (size_t)L * per_entry;
    size_t hidden = 0;
    for (int32_t l = 0; l < L; l++) hidden += (size_t)(K - r->visual_per_layer[l]);
    r->kv_bytes_attended = r->stats.kv_bytes_full - hidden * per_entry;
    if (r->flops_rel_diff > CLI_DECODE_FLOPS_TOLERANCE)
        return vtc_set_error(VTC_ERR_INTERNAL,
                             "decode: executed FLOPs (prefill %.6g, decode %.6g) differ from the account "
                             "(prefill %.6g, decode %.6g) by %.3g%%",
                             r->stats.flops_prefill, r->stats.flops_decode, r->expected.prefill, r->expected.decode,
                             100 * r->flops_rel_diff);
    return 0;
}

int32_t cli_decode_original_positions(const vtc_tokens *t, int32_t *pos) {
    const vtc_tiling *tl = &t->tiling;
    if (tl->kind == VTC_TILING_ANYRES && t->pack == VTC_PACK_SPATIAL)
        return vtc_set_error(VTC_ERR_ARG, "original positions: spatially packed tokens (--pack spatial) have no place "
                             "in the model's own sequence outside unpad_image's window; pack native or unpad");
    if (tl->kind == VTC_TILING_ANYRES) {
        // the model's own sequence: the base tile, then the stitched window row by
        // row, each row ending with its newline (pos are window cells; docs/methods.md)
        const int32_t hw = t->grid[1] * t->grid[2], nl = tl->newline == VTC_NEWLINE_ROW, row = tl->out_w + nl;
        for (int32_t i = 0; i < t->n; i++) {
            const int32_t *p = t->pos + 3 * i, tile = t->tile ? t->tile[i] : 0;
            if (tile >= 0 && (p[1] < 0 || p[2] < 0)) // a CLS token: its predecessor's place
                pos[i] = i ? pos[i - 1] : 1;
            else
                pos[i] = 1 + (tile == 0 ? p[1] * t->grid[2] + p[2] : hw + p[1] * row + (p[2] < 0 ? tl->out_w : p[2]));
        }
        return 1 + t->n_input;
    }
    const int64_t grid = (int64_t)t->grid[0] * t->grid[1] * t->grid[2];
    for (int32_t i = 0; i < t->n; i++) {
        const int32_t *p = t->pos + 3 * i;
        // a OneVision video's newline comes after every frame; a CLS token takes its predecessor's place
        pos[i] = t->tile && t->tile[i] < 0 ? 1 + (int32_t)grid
                 : p[1] < 0 || p[2] < 0    ? (i ? pos[i - 1] : 1)
                                           : 1 + (p[0] * t->grid[1] + p[1]) * t->grid[2] + p[2];
    }
    return 1 + (int32_t)(grid > t->n_input ? grid : t->n_input);
}

int cli_decode_visual(const struct cli_decode_request *q, struct cli_decode_result *r) {
    memset(r, 0, sizeof *r);
    if (!q || !q->lm || !q->visual || q->n_visual < 1 || q->n_text < 0 || (q->n_text > 0 && !q->text) ||
        q->steps < 0 || q->n_visual_input < 0)
        return vtc_set_error(VTC_ERR_ARG, "decode: bad request (no model, no visual rows or a negative count)");
    const struct vtc_lm_config *cfg = vtc_lm_get_config(q->lm);
    int st = 0;
    r->method = dup_str(is_none(q->method) ? "none" : q->method, &st);
    r->params = dup_str(q->params ? q->params : "", &st);
    vtc_lm_get_shape(q->lm, &r->shape);
    r->trained_ctx = cfg->seq_len;
    r->in_dim = cfg->dim;
    r->n_visual = q->n_visual;
    r->n_visual_input = q->n_visual_input > 0 ? q->n_visual_input : q->n_visual;
    r->n_text = 1 + q->n_text;
    r->stop = "steps";
    int32_t K = q->n_visual;
    int64_t n_prompt = 1 + (int64_t)K + q->n_text, n_ctx = n_prompt + q->steps;
    if (n_ctx > INT32_MAX) return vtc_set_error(VTC_ERR_LIMIT, "decode: %lld positions", (long long)n_ctx);
    int64_t text_at = 1 + (int64_t)K; // the first text row's position
    if (q->visual_pos) {
        for (int32_t i = 0; i < K; i++)
            if (q->visual_pos[i] < 1 || q->visual_pos[i] >= q->text_pos)
                return vtc_set_error(VTC_ERR_ARG, "decode: visual row %d at position %d, outside 1..%d", i,
                                     q->visual_pos[i], q->text_pos - 1);
        text_at = q->text_pos;
    }
    if (text_at + q->n_text + q->steps > INT32_MAX)
        return vtc_set_error(VTC_ERR_LIMIT, "decode: positions past %d", INT32_MAX);
    r->original_positions = q->visual_pos != NULL;
    r->text_pos = (int32_t)text_at;

    int32_t *rows = vtc_alloc((size_t)n_prompt, sizeof *rows);
    int32_t *pos = q->visual_pos ? vtc_alloc((size_t)n_prompt, sizeof *pos) : NULL;
    r->tokens = vtc_alloc((size_t)(q->steps ? q->steps : 1), sizeof *r->tokens);
    r->visual_per_layer = vtc_alloc((size_t)cfg->n_layers, sizeof *r->visual_per_layer);
    vtc_lm_policy *pol = NULL;
    vtc_lm_ctx *ctx = NULL;
    vtc_sampler *smp = NULL;
    if (st || !rows || !r->tokens || !r->visual_per_layer || (q->visual_pos && !pos)) {
        st = VTC_ERR_NOMEM;
        goto done;
    }
    if (!is_none(q->method)) {
        pol = vtc_lm_policy_new(q->method, q->params);
        if (!pol) {
            st = vtc_last_status();
            goto done;
        }
        r->has_policy = 1;
    }
    struct vtc_lm_ctx_params cp = vtc_lm_ctx_params_default();
    cp.n_ctx = (int32_t)n_ctx;
    cp.n_threads = q->n_threads;
    ctx = vtc_lm_ctx_new(q->lm, cp);
    smp = ctx ? vtc_sampler_new(cfg->vocab_size, q->temperature, 0.9f, q->seed) : NULL;
    if (!smp) {
        st = vtc_last_status();
        goto done;
    }
    rows[0] = BOS_TOKEN;
    for (int32_t i = 0; i < K; i++) rows[1 + i] = VTC_LM_EMBED;
    if (q->n_text) memcpy(rows + 1 + K, q->text, (size_t)q->n_text * sizeof *rows);
    if (pos) { // BOS at 0, the visual rows where the caller put them, the text from text_pos
        pos[0] = 0;
        memcpy(pos + 1, q->visual_pos, (size_t)K * sizeof *pos);
        for (int32_t j = 0; j < q->n_text; j++) pos[1 + K + j] = (int32_t)text_at + j;
    }
    if (pol && (st = vtc_lm_policy_begin(pol, ctx, 1, 1 + K)) != 0) goto done;

    struct vtc_lm_batch batch = { (int32_t)n_prompt, rows, q->visual, pos, VTC_LM_LOGITS_LAST };
    double t0 = vtc_now_ms();
    st = vtc_lm_prefill(ctx, &batch);
    r->ms_prefill = vtc_now_ms() - t0;
    if (st) goto done;
    // Generated token s comes from the logits of the previous call; it is fed
    // back only when another token is wanted (G tokens: G - 1 decode steps).
    t0 = vtc_now_ms();
    for (int32_t s = 0; s < q->steps; s++) {
        // a fed-back token goes after the text (not after the largest visual
        // position: with no text those differ)
        if (s > 0 && (st = vtc_lm_decode(ctx, r->tokens[s - 1], (int32_t)(text_at + q->n_text + s - 1))) != 0) break;
        int32_t next = vtc_sampler_sample(smp, vtc_lm_logits(ctx, -1));
        if (q->stop_at_bos && next == BOS_TOKEN) {
            r->stop = "bos";
            break;
        }
        r->tokens[r->n_tokens++] = next;
    }
    r->ms_decode = vtc_now_ms() - t0;
    if (st) goto done;
    vtc_lm_get_stats(ctx, &r->stats);
    r->n_gen_accounted = (int32_t)r->stats.n_decode_steps + 1;
    if (pol) vtc_lm_policy_get_report(pol, &r->policy);
    st = account(r);
done:
    vtc_sampler_free(smp);
    vtc_lm_ctx_free(ctx);
    vtc_lm_policy_free(pol);
    free(rows);
    free(pos);
    return st;
}

// ---------------------------------------------------------------- from files

// The generated pieces as run.c prints them, NUL-terminated.
static char *detokenize(const vtc_tokenizer *tok, int32_t prev, const int32_t *ids, int32_t n) {
    size_t total = 1, len;
    for (int pass = 0; pass < 2; pass++) {
        char *text = pass ? vtc_alloc(total, 1) : NULL;
        if (pass && !text) return NULL;
        size_t at = 0;
        for (int32_t i = 0, p = prev; i < n; p = ids[i++]) {
            const char *piece = vtc_tokenizer_decode(tok, p, ids[i], &len);
            if (!piece || !printable_piece(piece, len)) continue;
            if (pass) memcpy(text + at, piece, len);
            at += len;
        }
        if (pass) {
            text[at] = '\0';
            return text;
        }
        total = at + 1;
    }
    return NULL;
}

int cli_decode_exec(const char *lm_path, const char *tokenizer_path, const char *prompt,
                    const char *decode_method, const char *decode_params, int steps, float temp,
                    const vtc_tokens *kept, int original_positions, int n_threads, struct cli_decode_result *out) {
    memset(out, 0, sizeof *out);
    if (!lm_path || !kept || kept->n < 1 || kept->dim < 1 || !kept->data || steps < 0)
        return vtc_set_error(VTC_ERR_ARG, "decode: no decoder file, no kept tokens or a negative step count");
    int st = cli_decode_check_method(decode_method, decode_params);
    if (st) return st;
    if (!prompt) prompt = "";
    vtc_tokenizer *tok = NULL;
    float *adapted = NULL;
    int32_t *ids = NULL, n_ids = 0, *vpos = NULL, text_pos = 0;
    char beside[4096];
    vtc_lm *lm = vtc_lm_load(lm_path, vtc_lm_params_default());
    if (!lm) return vtc_last_status();
    const struct vtc_lm_config *cfg = vtc_lm_get_config(lm);
    if (!tokenizer_path && strcmp(cfg->format, "gguf")) { // llama2.c: tokenizer.bin next to the checkpoint
        const char *slash = strrchr(lm_path, '/');
        int dir = slash ? (int)(slash + 1 - lm_path) : 0;
        if ((size_t)snprintf(beside, sizeof beside, "%.*stokenizer.bin", dir, lm_path) >= sizeof beside) {
            st = vtc_set_error(VTC_ERR_ARG, "decode: %s: path too long", lm_path);
            goto done;
        }
        tokenizer_path = beside;
    }
    tok = tokenizer_path ? vtc_tokenizer_load(tokenizer_path, cfg->vocab_size) : vtc_tokenizer_load_gguf(lm_path);
    size_t cap = strlen(prompt) + 3;
    ids = tok && cap < INT32_MAX ? vtc_alloc(cap, sizeof *ids) : NULL;
    if (!ids) {
        st = tok && cap >= INT32_MAX ? vtc_set_error(VTC_ERR_LIMIT, "decode: prompt too long") : vtc_last_status();
        goto done;
    }
    if ((st = vtc_tokenizer_encode(tok, prompt, 0, 0, ids, (int32_t)cap, &n_ids)) != 0) goto done;

    const float *visual = kept->data;
    if (kept->dim != cfg->dim) {
        double rms;
        adapted = vtc_alloc((size_t)kept->n * (size_t)cfg->dim, sizeof *adapted);
        if (!adapted) {
            st = VTC_ERR_NOMEM;
            goto done;
        }
        if ((st = cli_decode_embedding_rms(lm, &rms)) != 0 ||
            (st = cli_decode_adapt(kept->data, kept->n, kept->dim, adapted, cfg->dim, (float)rms, 42)) != 0)
            goto done;
        visual = adapted;
    }
    if (original_positions) {
        if (!kept->pos) {
            st = vtc_set_error(VTC_ERR_ARG, "decode: the kept tokens carry no positions");
            goto done;
        }
        if (!(vpos = vtc_alloc((size_t)kept->n, sizeof *vpos))) {
            st = VTC_ERR_NOMEM;
            goto done;
        }
        text_pos = cli_decode_original_positions(kept, vpos);
        if (text_pos < 0) {
            st = text_pos;
            goto done;
        }
    }
    struct cli_decode_request q = { lm, visual, kept->n, kept->n_input, ids, n_ids, decode_method, decode_params,
                                    steps, temp, 1, n_threads, 1, vpos, text_pos };
    st = cli_decode_visual(&q, out);
    out->in_dim = kept->dim;
    out->adapted = adapted != NULL;
    int dst = 0;
    out->decoder = dup_str(lm_path, &dst);
    out->tokenizer = dup_str(tokenizer_path, &dst);
    out->prompt = dup_str(prompt, &dst);
    if (out->tokens) {
        out->text = detokenize(tok, n_ids ? ids[n_ids - 1] : BOS_TOKEN, out->tokens, out->n_tokens);
        if (!out->text) dst = VTC_ERR_NOMEM;
    }
    if (!st) st = dst;
done:
    free(adapted);
    free(ids);
    free(vpos);
    vtc_tokenizer_free(tok);
    vtc_lm_free(lm);
    return st;
}

void cli_decode_result_free(struct cli_decode_result *r) {
    if (!r) return;
    free(r->decoder);
    free(r->tokenizer);
    free(r->prompt);
    free(r->method);
    free(r->params);
    free(r->tokens);
    free(r->text);
    free(r->visual_per_layer);
    memset(r, 0, sizeof *r);
}

// ---------------------------------------------------------------- output

int cli_decode_write_json(const struct cli_decode_result *r, struct vtc_json *j) {
    vtc_json_key(j, "decode");
    vtc_json_begin_object(j);
    vtc_json_kv_string(j, "decoder", r->decoder);
    vtc_json_kv_string(j, "tokenizer", r->tokenizer);
    vtc_json_key(j, "lm");
    vtc_json_begin_object(j);
    vtc_json_kv_int(j, "layers", r->shape.layers);
    vtc_json_kv_int(j, "hidden", r->shape.hidden);
    vtc_json_kv_int(j, "ffn", r->shape.ffn);
    vtc_json_kv_int(j, "heads", r->shape.heads);
    vtc_json_kv_int(j, "kv_heads", r->shape.kv_heads);
    vtc_json_kv_int(j, "vocab", r->shape.vocab);
    vtc_json_kv_int(j, "trained_context", r->trained_ctx);
    vtc_json_end_object(j);
    vtc_json_kv_string(j, "method", r->method);
    vtc_json_kv_string(j, "parameters", r->params);
    vtc_json_kv_string(j, "prompt", r->prompt);
    vtc_json_kv_string(j, "positions", r->original_positions ? "original" : "compact");
    vtc_json_kv_int(j, "visual_tokens", r->n_visual);
    vtc_json_kv_int(j, "visual_tokens_uncompressed", r->n_visual_input);
    vtc_json_kv_int(j, "text_tokens", r->n_text);
    vtc_json_kv_int(j, "input_dim", r->in_dim);
    vtc_json_kv_bool(j, "adapter", r->adapted);
    vtc_json_kv_int(j, "generated_tokens", r->n_tokens);
    vtc_json_kv_string(j, "stop", r->stop);
    vtc_json_kv_string(j, "text", r->text);
    vtc_json_key(j, "tokens");
    vtc_json_begin_array(j);
    for (int32_t i = 0; i < r->n_tokens; i++) vtc_json_int(j, r->tokens[i]);
    vtc_json_end_array(j);
    vtc_json_key(j, "timings_ms");
    vtc_json_begin_object(j);
    vtc_json_kv_double(j, "prefill", r->ms_prefill);
    vtc_json_kv_double(j, "decode", r->ms_decode);
    vtc_json_kv_double(j, "per_token", r->n_tokens ? r->ms_decode / r->n_tokens : 0);
    vtc_json_end_object(j);

    vtc_json_key(j, "flops");
    vtc_json_begin_object(j);
    vtc_json_key(j, "prefill");
    vtc_json_begin_object(j);
    vtc_json_kv_double(j, "executed", r->stats.flops_prefill);
    vtc_json_kv_double(j, "accounted", r->expected.prefill);
    vtc_json_kv_double(j, "uncompressed", r->uncompressed.prefill);
    vtc_json_kv_double(j, "ratio", r->uncompressed.prefill > 0 ? r->stats.flops_prefill / r->uncompressed.prefill : 0);
    vtc_json_kv_double(j, "paper", r->expected.paper_prefill);
    vtc_json_kv_double(j, "paper_uncompressed", r->uncompressed.paper_prefill);
    vtc_json_end_object(j);
    vtc_json_key(j, "decode");
    vtc_json_begin_object(j);
    vtc_json_kv_double(j, "executed", r->stats.flops_decode);
    vtc_json_kv_double(j, "accounted", r->expected.decode);
    vtc_json_kv_double(j, "uncompressed", r->uncompressed.decode);
    vtc_json_kv_double(j, "per_token", r->expected.decode_per_token);
    vtc_json_kv_int(j, "steps", r->stats.n_decode_steps);
    vtc_json_end_object(j);
    vtc_json_kv_double(j, "probe", r->stats.flops_probe);
    vtc_json_kv_int(j, "generated_accounted", r->n_gen_accounted);
    vtc_json_kv_double(j, "rel_diff", r->flops_rel_diff);
    vtc_json_kv_bool(j, "agree", r->flops_rel_diff <= CLI_DECODE_FLOPS_TOLERANCE);
    vtc_json_end_object(j);

    vtc_json_key(j, "kv_cache_bytes");
    vtc_json_begin_object(j);
    vtc_json_kv_int(j, "uncompressed", (int64_t)r->kv_bytes_uncompressed);
    vtc_json_kv_int(j, "full", (int64_t)r->stats.kv_bytes_full);
    vtc_json_kv_int(j, "held", (int64_t)r->stats.kv_bytes);
    vtc_json_kv_int(j, "attended", (int64_t)r->kv_bytes_attended);
    vtc_json_kv_int(j, "allocated", (int64_t)r->stats.kv_bytes_alloc);
    vtc_json_end_object(j);
    vtc_json_key(j, "visual_per_layer");
    vtc_json_begin_array(j);
    for (int32_t l = 0; r->visual_per_layer && l < r->shape.layers; l++) vtc_json_int(j, r->visual_per_layer[l]);
    vtc_json_end_array(j);
    vtc_json_kv_int(j, "prune_layer", r->prune_layer);
    vtc_json_kv_double(j, "equiv_tokens", r->equiv_tokens);
    if (r->has_policy) {
        const struct vtc_lm_policy_report *p = &r->policy;
        vtc_json_key(j, "policy");
        vtc_json_begin_object(j);
        vtc_json_kv_string(j, "name", p->name);
        vtc_json_kv_int(j, "layer", p->layer);
        vtc_json_kv_int(j, "n_visual", p->n_visual);
        vtc_json_kv_int(j, "n_kept", p->n_kept);
        vtc_json_kv_bool(j, "fired", p->fired);
        if (!strcmp(p->name, "todre2")) {
            vtc_json_kv_double(j, "alpha_tv", p->alpha_tv);
            vtc_json_kv_double(j, "alpha_vt", p->alpha_vt);
            vtc_json_kv_bool(j, "dropped_all", p->dropped_all);
        } else if (!strcmp(p->name, "dycoke-kv")) {
            vtc_json_kv_int(j, "steps", p->n_steps);
            vtc_json_kv_int(j, "reselections", p->n_reselect);
            vtc_json_kv_double(j, "similarity", p->similarity);
        }
        vtc_json_end_object(j);
    }
    vtc_json_end_object(j);
    return j->status;
}

static void human_flops(double v, char *out, size_t cap) {
    if (v >= 1e12) snprintf(out, cap, "%.2f TFLOP", v / 1e12);
    else if (v >= 1e9) snprintf(out, cap, "%.2f GFLOP", v / 1e9);
    else snprintf(out, cap, "%.2f MFLOP", v / 1e6);
}

void cli_decode_print(const struct cli_decode_result *r, FILE *fp) {
    char a[32], b[32], c[32];
    const char *base = r->decoder ? strrchr(r->decoder, '/') : NULL;
    base = base ? base + 1 : r->decoder ? r->decoder : "(in memory)";
    fprintf(fp, "decoder   %s (%d layers, width %d, vocab %d), method %s%s%s%s\n", base, r->shape.layers,
            r->shape.hidden, r->shape.vocab, r->method, r->params[0] ? " (" : "", r->params, r->params[0] ? ")" : "");
    fprintf(fp, "prompt    BOS + %d visual", r->n_visual);
    if (r->adapted) fprintf(fp, " (width %d -> %d, seeded adapter)", r->in_dim, r->shape.hidden);
    fprintf(fp, " + %d text tokens", r->n_text - 1);
    if (r->original_positions) fprintf(fp, ", visual tokens at their original positions");
    int64_t total = (int64_t)r->text_pos + r->n_text - 1 + r->n_tokens;
    if (total > r->trained_ctx) fprintf(fp, " (%lld positions: past the model's %d)", (long long)total, r->trained_ctx);
    fputc('\n', fp);
    fputs("output    ", fp);
    for (const char *s = r->text ? r->text : ""; *s; s++) {
        fputc(*s, fp);
        if (*s == '\n' && s[1] && s[1] != '\n') fputs("          ", fp); // indent continued lines
    }
    fprintf(fp, "\n          (%d tokens, stop: %s)\n", r->n_tokens, r->stop);
    fprintf(fp, "time ms   prefill %.2f, decode %.2f (%.3f per token)\n", r->ms_prefill, r->ms_decode,
            r->n_tokens ? r->ms_decode / r->n_tokens : 0.0);
    fputs("visual    per layer", fp);
    for (int32_t l = 0; l < r->shape.layers; l++) fprintf(fp, " %d", r->visual_per_layer[l]);
    fprintf(fp, " = %.1f equivalent tokens (%d uncompressed)\n", r->equiv_tokens, r->n_visual_input);
    const struct vtc_lm_policy_report *p = &r->policy;
    if (r->has_policy && !p->fired)
        fprintf(fp, "policy    %s did not run (layer %d of %d, or no decode step)\n", p->name, p->layer,
                r->shape.layers);
    else if (r->has_policy && !strcmp(p->name, "todre2"))
        fprintf(fp, "policy    todre2 at layer %d: alpha_tv %.4f, alpha_vt %.4f -> %s\n", p->layer, p->alpha_tv,
                p->alpha_vt, !p->dropped_all ? "visual tokens kept" : r->n_kept_late == 0 ? "all visual tokens dropped"
                                                                                     : "dropped after the last layer");
    else if (r->has_policy && !strcmp(p->name, "dycoke-kv"))
        fprintf(fp, "policy    dycoke-kv from layer %d: %d of %d visual tokens, %d selections in %d steps "
                    "(last similarity %.4f)\n",
                p->layer, p->n_kept, p->n_visual, p->n_reselect, p->n_steps, p->similarity);
    else if (r->has_policy)
        fprintf(fp, "policy    %s from layer %d: %d of %d visual tokens\n", p->name, p->layer, p->n_kept, p->n_visual);
    human_flops(r->stats.flops_prefill, a, sizeof a);
    human_flops(r->expected.prefill, b, sizeof b);
    human_flops(r->uncompressed.prefill, c, sizeof c);
    fprintf(fp, "prefill   %s executed, %s accounted (uncompressed %s: %.1f%%)\n", a, b, c,
            r->uncompressed.prefill > 0 ? 100 * r->stats.flops_prefill / r->uncompressed.prefill : 0.0);
    human_flops(r->stats.flops_decode, a, sizeof a);
    human_flops(r->expected.decode, b, sizeof b);
    human_flops(r->uncompressed.decode, c, sizeof c);
    fprintf(fp, "decode    %s executed, %s accounted (uncompressed %s), %lld steps; agree within %.2g%%\n", a, b, c,
            (long long)r->stats.n_decode_steps, 100 * r->flops_rel_diff);
    fprintf(fp, "KV cache  %zu bytes held, %zu attended (%zu without drops, %zu uncompressed)\n", r->stats.kv_bytes,
            r->kv_bytes_attended, r->stats.kv_bytes_full, r->kv_bytes_uncompressed);
}

int cli_decode_run(const char *lm_path, const char *tokenizer_path, const char *prompt,
                   const char *decode_method, const char *decode_params, int steps, float temp,
                   const vtc_tokens *kept, int original_positions, int n_threads, struct vtc_json *json,
                   FILE *human) {
    struct cli_decode_result r;
    int st = cli_decode_exec(lm_path, tokenizer_path, prompt, decode_method, decode_params, steps, temp, kept,
                             original_positions, n_threads, &r);
    if (!st && json) st = cli_decode_write_json(&r, json);
    if (!st && human) cli_decode_print(&r, human);
    cli_decode_result_free(&r);
    return st;
}
