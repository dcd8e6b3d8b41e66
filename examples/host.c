// A VLM host in miniature: encode an image, compress its visual tokens, and
// decode a prompt with the kept tokens through vtc's reference Llama decoder,
// once per in-decoder method, printing tokens kept per layer, FLOPs and time.
//
//   build/examples/host IMAGE LM.bin TOKENIZER.bin [--method M] [--keep K] [--prompt TEXT]
//
// e.g. build/examples/host samples/astronaut.jpg ../shared/models/stories260K.bin
//          ../shared/models/tok512.bin --method divprune --keep 64
//
// How the tokens are wired in (the same as a llama.cpp host filling a
// llama_batch with `embd` rows and `pos` ids):
//   [BOS] [visual tokens ...] [prompt tokens ...]
// Visual rows are fed as embeddings; their position ids keep the original
// raster order of the kept tokens (index order, gaps closed: "renumber"), and
// the text continues after them. The demo vision model's projector width need
// not match a given LM's width; this example then maps embeddings with a fixed
// seeded linear adapter — a stand-in for a trained projector (the demo vision
// weights are random anyway). A real host uses a projector trained for its LM.
#define _POSIX_C_SOURCE 199309L // clock_gettime
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vtc.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// x [n, din] -> y [n, dout] through a seeded Gaussian matrix scaled to keep the
// embedding norm the LM expects (its token embeddings' RMS).
static void adapt(const float *x, int n, int din, float *y, int dout, float target_rms) {
    uint64_t s = 42;
    float *w = malloc(sizeof(float) * din * dout);
    for (int i = 0; i < din * dout; i++) w[i] = (float)((rng_next(&s) >> 11) * (1.0 / 9007199254740992.0)) - 0.5f;
    for (int r = 0; r < n; r++) {
        double ss = 0;
        for (int o = 0; o < dout; o++) {
            float acc = 0;
            for (int i = 0; i < din; i++) acc += x[(size_t)r * din + i] * w[(size_t)o * din + i];
            y[(size_t)r * dout + o] = acc;
            ss += (double)acc * acc;
        }
        float scale = target_rms / (float)sqrt(ss / dout + 1e-12);
        for (int o = 0; o < dout; o++) y[(size_t)r * dout + o] *= scale;
    }
    free(w);
}

static int print_piece(void *user, const char *piece, size_t len) {
    (void)user;
    fwrite(piece, 1, len, stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s IMAGE LM.bin TOKENIZER.bin [--method M] [--keep K] [--prompt TEXT] [-n STEPS]\n",
                argv[0]);
        return 2;
    }
    const char *image_path = argv[1], *lm_path = argv[2], *tok_path = argv[3];
    const char *method = "divprune", *prompt = "Once upon a time";
    double keep = 64;
    int steps = 48;
    for (int i = 4; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--method")) method = argv[i + 1];
        else if (!strcmp(argv[i], "--keep")) keep = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--prompt")) prompt = argv[i + 1];
        else if (!strcmp(argv[i], "-n")) steps = atoi(argv[i + 1]);
    }
    int rc = 1;
    vtc_model *vm = vtc_model_default(vtc_model_params_default());
    vtc_ctx *vctx = vm ? vtc_ctx_new(vm, vtc_ctx_params_default()) : NULL;
    vtc_image *img = vtc_image_load(image_path, NULL);
    vtc_features *f = NULL;
    vtc_tokens *kept = NULL;
    vtc_lm *lm = vtc_lm_load(lm_path, vtc_lm_params_default());
    vtc_tokenizer *tok = lm ? vtc_tokenizer_load(tok_path, vtc_lm_get_config(lm)->vocab_size) : NULL;
    if (!vctx || !img || !lm || !tok) {
        fprintf(stderr, "host: %s\n", vtc_last_error());
        goto done;
    }
    struct vtc_prune_params pp = vtc_prune_params_default();
    pp.method = method;
    if (keep >= 1) pp.n_keep = (int32_t)keep; // a count
    else pp.keep_ratio = keep;                 // a fraction
    double t0 = now_ms();
    if (vtc_encode_image(vctx, img, &f) || vtc_prune(vctx, f, pp, &kept)) {
        fprintf(stderr, "host: %s\n", vtc_ctx_error(vctx));
        goto done;
    }
    printf("vision: %d tokens -> %d kept by %s (%.1f ms)\n", f->n, kept->n, method, now_ms() - t0);

    const struct vtc_lm_config *cfg = vtc_lm_get_config(lm);
    float *vis = malloc(sizeof(float) * kept->n * cfg->dim);
    float *emb = malloc(sizeof(float) * cfg->dim);
    double rms = 0;
    for (int t = 0; t < 64 && t < cfg->vocab_size; t++) { // the LM's own embedding scale
        vtc_lm_token_embedding(lm, t, emb);
        for (int i = 0; i < cfg->dim; i++) rms += (double)emb[i] * emb[i];
    }
    rms = sqrt(rms / (64.0 * cfg->dim));
    adapt(kept->data, kept->n, kept->dim, vis, cfg->dim, (float)rms);

    int32_t ptoks[1024], n_prompt = 0;
    if (vtc_tokenizer_encode(tok, prompt, 0, 0, ptoks, 1024, &n_prompt)) {
        fprintf(stderr, "host: %s\n", vtc_last_error());
        goto done;
    }
    const char *policies[] = { "none", "fastv", "todre2", "dycoke-kv" };
    struct vtc_lm_ctx_params cp = vtc_lm_ctx_params_default();
    for (int pi = 0; pi < 4; pi++) {
        vtc_lm_ctx *ctx = vtc_lm_ctx_new(lm, cp);
        vtc_lm_policy *pol = pi ? vtc_lm_policy_new(policies[pi], NULL) : NULL;
        int n = 1 + kept->n + n_prompt;
        int32_t *rows = malloc(sizeof(int32_t) * n);
        rows[0] = 1; // BOS
        for (int i = 0; i < kept->n; i++) rows[1 + i] = VTC_LM_EMBED;
        memcpy(rows + 1 + kept->n, ptoks, sizeof(int32_t) * n_prompt);
        if (pol) vtc_lm_policy_begin(pol, ctx, 1, 1 + kept->n);
        struct vtc_lm_batch b = { n, rows, vis, NULL, VTC_LM_LOGITS_LAST };
        double ts = now_ms();
        int st = vtc_lm_prefill(ctx, &b);
        double t_prefill = now_ms() - ts;
        vtc_sampler *smp = vtc_sampler_new(cfg->vocab_size, 0.0f, 0.9f, 1);
        printf("\n[%s] ", policies[pi]);
        int32_t prev = rows[n - 1];
        for (int s = 0; !st && s < steps && n + s < vtc_lm_ctx_capacity(ctx); s++) {
            int32_t next = vtc_sampler_sample(smp, vtc_lm_logits(ctx, -1));
            if (next == 1) break;
            size_t len;
            const char *piece = vtc_tokenizer_decode(tok, prev, next, &len);
            if (piece) print_piece(NULL, piece, len);
            prev = next;
            st = vtc_lm_decode(ctx, next, -1);
        }
        double t_total = now_ms() - ts;
        struct vtc_lm_stats stats;
        vtc_lm_get_stats(ctx, &stats);
        printf("\n  prefill %.2f ms, total %.2f ms; FLOPs prefill %.4g, decode %.4g; KV %zu of %zu bytes",
               t_prefill, t_total, stats.flops_prefill, stats.flops_decode, stats.kv_bytes, stats.kv_bytes_full);
        if (pol) {
            struct vtc_lm_policy_report rep;
            vtc_lm_policy_get_report(pol, &rep);
            printf("\n  %s: layer %d, visual tokens seen by later layers %d of %d", rep.name, rep.layer, rep.n_kept,
                   rep.n_visual);
        }
        printf("\n  equivalent rows per layer %.1f (of %d)\n", (double)stats.layer_rows / cfg->n_layers / 1.0, n);
        if (st) fprintf(stderr, "host: %s\n", vtc_last_error());
        vtc_sampler_free(smp);
        free(rows);
        vtc_lm_policy_free(pol);
        vtc_lm_ctx_free(ctx);
    }
    free(vis);
    free(emb);
    rc = 0;
done:
    vtc_tokenizer_free(tok);
    vtc_lm_free(lm);
    vtc_tokens_free(kept);
    vtc_features_free(f);
    vtc_image_free(img);
    vtc_ctx_free(vctx);
    vtc_model_free(vm);
    return rc;
}
