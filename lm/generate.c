// Text generation as llama2.c's run.c generate(): the same tokens and the same
// printed bytes, with the prompt run as one batched prefill.
#include "lm.h"

#include <stdlib.h>
#include <string.h>

#include "base/common.h"

struct vtc_lm_gen_params vtc_lm_gen_params_default(void) {
    struct vtc_lm_gen_params p = { 256, 1.0f, 0.9f, 1 };
    return p;
}

// run.c's safe_printf: a lone byte that is neither printable ASCII nor
// whitespace (C locale) is a control code or part of a split UTF-8 sequence.
static int printable_piece(const char *piece, size_t len) {
    if (len == 0 || piece[0] == '\0') return 0;
    if (len == 1) {
        unsigned char b = (unsigned char)piece[0];
        int print = b >= 0x20 && b < 0x7f;
        int space = b == ' ' || (b >= '\t' && b <= '\r');
        return print || space;
    }
    return 1;
}

static int emit(const vtc_tokenizer *tok, int32_t prev, int32_t token, vtc_lm_piece_fn fn, void *user) {
    size_t len;
    const char *piece = vtc_tokenizer_decode(tok, prev, token, &len);
    if (!piece) return VTC_ERR_INTERNAL;
    if (!fn || !printable_piece(piece, len)) return 0;
    int st = fn(user, piece, len);
    return st < 0 ? st : 0;
}

int vtc_lm_generate(vtc_lm_ctx *ctx, const vtc_tokenizer *tok, const char *prompt,
                    struct vtc_lm_gen_params params, vtc_lm_piece_fn on_piece, void *user,
                    int32_t *n_generated) {
    if (n_generated) *n_generated = 0;
    if (!ctx || !tok) return vtc_set_error(VTC_ERR_ARG, "lm: generate: no context or tokenizer");
    if (!prompt) prompt = "";
    vtc_lm_ctx_reset(ctx);
    const struct vtc_lm_config *cfg = vtc_lm_get_config(vtc_lm_ctx_model(ctx));
    if (vtc_tokenizer_vocab_size(tok) != cfg->vocab_size)
        return vtc_set_error(VTC_ERR_ARG, "lm: generate: a %d-token tokenizer for a %d-token model",
                             (int)vtc_tokenizer_vocab_size(tok), (int)cfg->vocab_size);
    int32_t steps = params.steps, n_ctx = vtc_lm_ctx_capacity(ctx);
    if (steps <= 0 || steps > n_ctx) steps = n_ctx;
    size_t len = strlen(prompt);
    if (len > (size_t)INT32_MAX - 3) return vtc_set_error(VTC_ERR_LIMIT, "lm: generate: prompt too long");
    int32_t *tokens = vtc_alloc(len + 3, sizeof *tokens);
    if (!tokens) return VTC_ERR_NOMEM;
    int32_t n_prompt = 0, n_gen = 0;
    vtc_sampler *sampler = NULL;
    int st = vtc_tokenizer_encode(tok, prompt, 1, 0, tokens, (int32_t)(len + 3), &n_prompt);
    if (st != 0) goto done;
    sampler = vtc_sampler_new(cfg->vocab_size, params.temperature, params.topp, params.seed);
    if (!sampler) {
        st = vtc_last_status();
        goto done;
    }
    // The prompt positions run.c would reach, in one batch; logits only when
    // generation follows it.
    int32_t n_pre = n_prompt < steps ? n_prompt : steps;
    struct vtc_lm_batch batch = { n_pre, tokens, NULL, NULL,
                                  n_pre == n_prompt ? VTC_LM_LOGITS_LAST : VTC_LM_LOGITS_NONE };
    st = vtc_lm_prefill(ctx, &batch);
    if (st != 0) goto done;
    // run.c's loop: at each position the next token is the prompt's while it
    // lasts, then a sample; BOS ends the text; each token prints after its
    // predecessor is known (decode strips the space after BOS).
    int32_t token = tokens[0];
    for (int32_t pos = 0; pos < steps; pos++) {
        int32_t next;
        if (pos < n_prompt - 1) {
            next = tokens[pos + 1];
        } else {
            if (pos >= n_prompt && (st = vtc_lm_decode(ctx, token, pos)) != 0) goto done;
            next = vtc_sampler_sample(sampler, vtc_lm_logits(ctx, -1));
            n_gen++;
        }
        if (next == 1) break;
        if ((st = emit(tok, token, next, on_piece, user)) != 0) goto done;
        token = next;
    }
done:
    if (n_generated) *n_generated = n_gen;
    vtc_sampler_free(sampler);
    free(tokens);
    return st;
}
