// `vtc generate`: the reference decoder on a text prompt; also `vtc info` for
// language-model files.
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "base/flops.h"
#include "lm/lm.h"

static int print_piece(void *user, const char *piece, size_t len) {
    (void)user;
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return 0;
}

int cmd_generate(int argc, char **argv) {
    const char *lm_path = NULL, *tok_path = NULL, *prompt = NULL;
    struct vtc_lm_gen_params gp = vtc_lm_gen_params_default();
    long long v;
    double d;
    int threads = 0, stats = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = strcmp(a, "--stats") && strcmp(a, "-h") && strcmp(a, "--help");
        if (takes && a[0] == '-' && !val) return cli_usage_error("generate: %s needs a value", a);
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs("usage: vtc generate --lm FILE [--tokenizer FILE] --prompt TEXT [-n STEPS] [--temp T]\n"
                  "                    [--topp P] [--seed S] [--threads N] [--stats]\n"
                  "\n"
                  "  --lm FILE         llama2.c checkpoint or GGUF llama file\n"
                  "  --tokenizer FILE  llama2.c tokenizer.bin (default: the GGUF's vocabulary, or\n"
                  "                    tokenizer.bin beside a llama2.c checkpoint)\n"
                  "  -n STEPS          positions to run, prompt included, as llama2.c's -n (default 256)\n"
                  "  --temp T          0 = greedy (default 1.0);  --topp P  nucleus (default 0.9)\n"
                  "  --stats           print FLOPs, tokens and KV-cache bytes on stderr\n",
                  stdout);
            return CLI_OK;
        } else if (!strcmp(a, "--lm")) {
            lm_path = val, i++;
        } else if (!strcmp(a, "--tokenizer") || !strcmp(a, "-z")) {
            tok_path = val, i++;
        } else if (!strcmp(a, "--prompt") || !strcmp(a, "-i")) {
            prompt = val, i++;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--steps")) {
            if (cli_parse_int(val, 0, 1 << 24, &v)) return cli_usage_error("-n: '%s' is not a step count", val);
            gp.steps = (int32_t)v, i++;
        } else if (!strcmp(a, "--temp") || !strcmp(a, "-t")) {
            if (cli_parse_double(val, 0, 100, &d)) return cli_usage_error("--temp: '%s' is not a temperature in [0, 100]", val);
            gp.temperature = (float)d, i++;
        } else if (!strcmp(a, "--topp") || !strcmp(a, "-p")) {
            if (cli_parse_double(val, 0, 1, &d)) return cli_usage_error("--topp: '%s' is not in [0, 1]", val);
            gp.topp = (float)d, i++;
        } else if (!strcmp(a, "--seed") || !strcmp(a, "-s")) {
            if (cli_parse_int(val, 0, (long long)1 << 62, &v)) return cli_usage_error("--seed: '%s' is not a non-negative integer", val);
            gp.seed = (uint64_t)v, i++;
        } else if (!strcmp(a, "--threads")) {
            if (cli_parse_int(val, 1, 1024, &v)) return cli_usage_error("--threads: '%s' is not a thread count", val);
            threads = (int)v, i++;
        } else if (!strcmp(a, "--stats")) {
            stats = 1;
        } else {
            return cli_usage_error("generate: unknown argument '%s' (see `vtc generate --help`)", a);
        }
    }
    if (!lm_path) return cli_usage_error("generate: --lm FILE is required");
    if (!prompt) prompt = "";
    int rc = CLI_OK;
    vtc_lm *lm = vtc_lm_load(lm_path, vtc_lm_params_default());
    if (!lm) return cli_status_error(vtc_last_status(), "loading language model");
    const struct vtc_lm_config *cfg = vtc_lm_get_config(lm);
    vtc_tokenizer *tok = NULL;
    vtc_lm_ctx *ctx = NULL;
    char beside[4096];
    if (!tok_path && strcmp(cfg->format, "gguf")) { // llama2.c: tokenizer.bin next to the checkpoint
        if (cli_tokenizer_beside(lm_path, beside, sizeof beside)) {
            rc = cli_runtime_error("loading tokenizer: %s: path too long", lm_path);
            goto done;
        }
        tok_path = beside;
    }
    tok = tok_path ? vtc_tokenizer_load(tok_path, cfg->vocab_size) : vtc_tokenizer_load_gguf(lm_path);
    if (!tok) {
        rc = cli_status_error(vtc_last_status(), "loading tokenizer");
        goto done;
    }
    struct vtc_lm_ctx_params cp = vtc_lm_ctx_params_default();
    cp.n_threads = threads;
    ctx = vtc_lm_ctx_new(lm, cp);
    if (!ctx) {
        rc = cli_status_error(vtc_last_status(), "creating decoder context");
        goto done;
    }
    int32_t n_gen = 0;
    int st = vtc_lm_generate(ctx, tok, prompt, gp, print_piece, NULL, &n_gen);
    printf("\n");
    if (st) {
        rc = cli_status_error(st, "generating");
        goto done;
    }
    if (stats) {
        struct vtc_lm_stats s;
        vtc_lm_get_stats(ctx, &s);
        fprintf(stderr, "generated %d tokens; FLOPs prefill %.4g, decode %.4g; KV cache %zu bytes\n", n_gen,
                s.flops_prefill, s.flops_decode, s.kv_bytes);
    }
done:
    vtc_lm_ctx_free(ctx);
    vtc_tokenizer_free(tok);
    vtc_lm_free(lm);
    return rc;
}

int vtc_lm_probe(const char *path) {
    vtc_lm *lm = vtc_lm_load(path, vtc_lm_params_default());
    if (!lm) return vtc_last_status();
    vtc_lm_free(lm);
    return 0;
}

int info_lm(const char *path) {
    vtc_lm *lm = vtc_lm_load(path, vtc_lm_params_default());
    if (!lm) return vtc_last_status();
    const struct vtc_lm_config *c = vtc_lm_get_config(lm);
    printf("%s: language model (%s, Llama architecture)\n", path, c->format);
    printf("  layers %d, width %d, SwiGLU %d, heads %d (kv %d) x %d, vocab %d, context %d%s\n", c->n_layers, c->dim,
           c->hidden_dim, c->n_heads, c->n_kv_heads, c->head_dim, c->vocab_size, c->seq_len,
           c->shared_classifier ? ", tied classifier" : "");
    vtc_lm_free(lm);
    return 0;
}
