// bench/decode: the reference decoder at Qwen2-0.5B's real size (d 896, SwiGLU
// 4864, 24 layers, 14 heads / 2 KV heads, vocab 151936; random f32 weights —
// timing does not depend on their values) on a LLaVA-style prompt of 576
// visual + 32 text tokens, against the same prompt with 192 / 128 / 64 visual
// tokens kept before the LM and with the in-decoder policies on all 576.
// Prints the measured speed-up of the prefill (and of a decode step) next to
// the FLOPs ratio of base/flops.h's accounting, side by side.
//
//   build/bench/decode [--shape NAME] [--layers N] [--reps R] [--gen G] [--threads N] [--only TEXT]
//   build/bench/decode --write-model DIR [--shape NAME] [--layers N]
//
// --only runs the cases whose label contains TEXT (the first case, the
// baseline of the ratios, always runs). --shape tinyllama-1.1b runs TinyLlama
// 1.1B's shape instead (d 2048, SwiGLU 5632, 22 layers, 32/4 heads, vocab
// 32000). --write-model writes the random model as DIR/model.bin and a
// placeholder vocabulary of its size as DIR/tokenizer.bin (<unk>, BOS, EOS,
// the 256 byte tokens, then distinct pieces), and stops: bench/llama_cpp.sh
// exports them to GGUF for llama.cpp.
//
// The model is written as a llama2.c checkpoint to a temporary file in /tmp
// (about 2 GB for 24 layers), loaded and removed; with less memory available
// than twice the file, 8 layers are used instead (said in the output).
// Correctness first: every run's executed FLOPs must equal the accounting
// (cli_decode_visual fails otherwise) and repeated runs must generate the same
// tokens (greedy); the figures are printed after those checks.
//
// The run itself is the CLI's decode stage, compiled in: the benchmark times
// exactly what `vtc compress --decoder` runs (bench binaries link libvtc only).
#include "base/common.h"
#include "base/flops.h"
#include "base/rng.h"
#include "cli/decode_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct shape {
    int32_t dim, hidden, layers, heads, kv_heads, vocab, seq_len;
};

enum { N_VISUAL = 576, N_TEXT = 32 };

struct bench_case {
    const char *label;
    int32_t n_visual;     // visual rows fed (pruned before the LM below 576)
    const char *method, *params;
};

static const struct bench_case CASES[] = {
    { "576 visual, no pruning", 576, NULL, NULL },
    { "192 kept before the LM", 192, NULL, NULL },
    { "128 kept before the LM", 128, NULL, NULL },
    { "64 kept before the LM", 64, NULL, NULL },
    { "fastv k=2 r=0.5", 576, "fastv", NULL },
    { "fastv k=2 r=0.75", 576, "fastv", "r=0.75" },
    { "todre2 (default tau 0.1)", 576, "todre2", NULL },
    { "todre2 tau=1 (forced drop)", 576, "todre2", "tau=1" },
    { "dycoke-kv l=3 p=0.7", 576, "dycoke-kv", NULL },
};
#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))

static uint64_t model_floats(const struct shape *s) {
    uint64_t d = (uint64_t)s->dim, kv = d / (uint64_t)s->heads * (uint64_t)s->kv_heads, h = (uint64_t)s->hidden,
             L = (uint64_t)s->layers;
    return (uint64_t)s->vocab * d + L * (2 * d + 2 * d * d + 2 * kv * d + 3 * d * h) + d +
           (uint64_t)s->seq_len * (d / (uint64_t)s->heads);
}

// n floats of `kind` to fp: 'r' uniform with standard deviation 0.02 (as the
// usual init), '1' ones (norm weights), '0' zeros (llama2.c's unused freq_cis).
static int write_floats(FILE *fp, uint64_t n, char kind, uint64_t *rng, float *buf, size_t cap) {
    const float a = 0.02f * 1.7320508f; // uniform [-a, a): std 0.02
    while (n > 0) {
        size_t m = n < cap ? (size_t)n : cap;
        for (size_t i = 0; i < m; i++)
            buf[i] = kind == 'r' ? a * (2.0f * (float)((double)(vtc_splitmix64(rng) >> 40) * 0x1.0p-24) - 1.0f)
                                 : kind == '1' ? 1.0f : 0.0f;
        if (fwrite(buf, sizeof *buf, m, fp) != m) return -1;
        n -= m;
    }
    return 0;
}

// A llama2.c v0 checkpoint (shared classifier) with random weights, in run.c's order.
static int write_model(const char *path, const struct shape *s) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    int32_t h[7] = { s->dim, s->hidden, s->layers, s->heads, s->kv_heads, s->vocab, s->seq_len };
    uint64_t d = (uint64_t)s->dim, kv = d / (uint64_t)s->heads * (uint64_t)s->kv_heads, hd = (uint64_t)s->hidden,
             L = (uint64_t)s->layers, rng = 1234;
    size_t cap = 1 << 20;
    float *buf = malloc(cap * sizeof *buf);
    struct {
        uint64_t n;
        char kind;
    } parts[] = {
        { (uint64_t)s->vocab * d, 'r' }, { L * d, '1' },      { L * d * d, 'r' },  { L * kv * d, 'r' },
        { L * kv * d, 'r' },             { L * d * d, 'r' },  { L * d, '1' },      { L * hd * d, 'r' },
        { L * d * hd, 'r' },             { L * hd * d, 'r' }, { d, '1' },          { (uint64_t)s->seq_len * (d / (uint64_t)s->heads), '0' },
    };
    int st = buf && fwrite(h, sizeof h, 1, fp) == 1 ? 0 : -1;
    for (size_t i = 0; !st && i < sizeof parts / sizeof parts[0]; i++)
        st = write_floats(fp, parts[i].n, parts[i].kind, &rng, buf, cap);
    free(buf);
    if (fclose(fp) != 0) st = -1;
    return st;
}

// A llama2.c tokenizer.bin of `vocab` entries: <unk>, "\n<s>\n", "\n</s>\n"
// (as llama2.c's exporter writes them), <0x00>..<0xFF>, then "p<i>" pieces.
static int write_tokenizer(const char *path, int32_t vocab) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    int32_t max_len = 16;
    int st = fwrite(&max_len, 4, 1, fp) == 1 ? 0 : -1;
    for (int32_t i = 0; !st && i < vocab; i++) {
        char piece[32];
        if (i < 3) snprintf(piece, sizeof piece, "%s", i == 0 ? "<unk>" : i == 1 ? "\n<s>\n" : "\n</s>\n");
        else if (i < 259) snprintf(piece, sizeof piece, "<0x%02X>", i - 3);
        else snprintf(piece, sizeof piece, "p%d", (int)i);
        float score = i < 259 ? 0.0f : -(float)(i - 259);
        int32_t len = (int32_t)strlen(piece);
        st = fwrite(&score, 4, 1, fp) == 1 && fwrite(&len, 4, 1, fp) == 1 && fwrite(piece, 1, (size_t)len, fp) == (size_t)len
                 ? 0 : -1;
    }
    if (fclose(fp) != 0) st = -1;
    return st;
}

static uint64_t mem_available(void) {
    FILE *fp = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    while (fp && fgets(line, sizeof line, fp))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    if (fp) fclose(fp);
    return (uint64_t)kb * 1024;
}

static double best(const double *v, int n) {
    double b = v[0];
    for (int i = 1; i < n; i++) b = v[i] < b ? v[i] : b;
    return b;
}

struct figures {
    double prefill_ms, decode_ms_tok;
    struct cli_decode_result r; // the last repetition's
};

// One case, `reps` times (after one untimed warm-up): best times (the least
// disturbed by other work on the machine), counters checked against each other.
static int run_case(const vtc_lm *lm, const struct bench_case *c, const float *visual, const int32_t *text,
                    int reps, int gen, int threads, struct figures *out) {
    // Kept before the LM: every (576 / n)-th row, as a uniform grid would keep them.
    float *rows = malloc((size_t)c->n_visual * (size_t)vtc_lm_get_config(lm)->dim * sizeof *rows);
    double *pre = malloc((size_t)reps * sizeof *pre), *dec = malloc((size_t)reps * sizeof *dec);
    int st = rows && pre && dec ? 0 : VTC_ERR_NOMEM;
    int32_t dim = vtc_lm_get_config(lm)->dim;
    for (int32_t i = 0; !st && i < c->n_visual; i++)
        memcpy(rows + (size_t)i * dim, visual + (size_t)((int64_t)i * N_VISUAL / c->n_visual) * dim,
               (size_t)dim * sizeof *rows);
    struct cli_decode_request q = { lm, rows, c->n_visual, N_VISUAL, text, N_TEXT, c->method, c->params,
                                    gen, 0.0f, 1, threads, 0, NULL, 0 };
    memset(&out->r, 0, sizeof out->r);
    for (int rep = -1; !st && rep < reps; rep++) {
        struct cli_decode_result r;
        st = cli_decode_visual(&q, &r);
        if (!st && out->r.tokens && (r.n_tokens != out->r.n_tokens ||
                                     memcmp(r.tokens, out->r.tokens, (size_t)r.n_tokens * sizeof *r.tokens) ||
                                     r.stats.flops_prefill != out->r.stats.flops_prefill))
            st = vtc_set_error(VTC_ERR_INTERNAL, "%s: a repetition generated other tokens or counted other FLOPs",
                               c->label);
        if (!st && rep >= 0) {
            pre[rep] = r.ms_prefill;
            dec[rep] = r.n_tokens > 1 ? r.ms_decode / (r.n_tokens - 1) : 0; // per decode step
        }
        cli_decode_result_free(&out->r);
        out->r = r;
    }
    if (!st) {
        out->prefill_ms = best(pre, reps);
        out->decode_ms_tok = best(dec, reps);
    }
    free(rows);
    free(pre);
    free(dec);
    return st;
}

int main(int argc, char **argv) {
    static const struct {
        const char *name, *label;
        struct shape s;
    } shapes[] = {
        { "qwen2-0.5b", "Qwen2-0.5B", { 896, 4864, 24, 14, 2, 151936, 1024 } },
        { "tinyllama-1.1b", "TinyLlama-1.1B", { 2048, 5632, 22, 32, 4, 32000, 2048 } },
    };
    int shape = 0, layers = 0;
    int reps = 3, gen = 8, threads = 0;
    const char *only = NULL, *write_dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && !strcmp(a, "--shape")) {
            for (shape = 0; shape < 2 && strcmp(v, shapes[shape].name); shape++) {}
            if (shape == 2) return fprintf(stderr, "bench/decode: --shape qwen2-0.5b or tinyllama-1.1b\n"), 2;
            i++;
        } else if (v && !strcmp(a, "--write-model")) write_dir = v, i++;
        else if (v && !strcmp(a, "--layers")) layers = atoi(v), i++;
        else if (v && !strcmp(a, "--reps")) reps = atoi(v), i++;
        else if (v && !strcmp(a, "--gen")) gen = atoi(v), i++;
        else if (v && !strcmp(a, "--threads")) threads = atoi(v), i++;
        else if (v && !strcmp(a, "--only")) only = v, i++;
        else {
            fprintf(stderr, "usage: %s [--shape NAME] [--layers N] [--reps R] [--gen G] [--threads N] [--only TEXT]\n"
                            "       %s --write-model DIR [--shape NAME] [--layers N]\n", argv[0], argv[0]);
            return 2;
        }
    }
    struct shape s = shapes[shape].s;
    if (layers) s.layers = layers;
    if (s.layers < 1 || s.layers > 64 || reps < 1 || gen < 2 || threads < 0) {
        fprintf(stderr, "bench/decode: --layers 1..64, --reps >= 1, --gen >= 2, --threads >= 0\n");
        return 2;
    }
    if (write_dir) { // the model and a vocabulary for it, for bench/llama_cpp.sh
        char mp[4096], tp[4096];
        snprintf(mp, sizeof mp, "%s/model.bin", write_dir);
        snprintf(tp, sizeof tp, "%s/tokenizer.bin", write_dir);
        if (write_model(mp, &s) || write_tokenizer(tp, s.vocab)) {
            fprintf(stderr, "bench/decode: cannot write %s\n", mp);
            return 1;
        }
        printf("bench/decode: wrote %s (%s shape, %d layers, random f32 weights, %.2f GB) and %s\n", mp,
               shapes[shape].label, s.layers, model_floats(&s) * 4.0 / 1e9, tp);
        return 0;
    }
    uint64_t bytes = model_floats(&s) * sizeof(float), avail = mem_available();
    const char *note = "";
    if (avail && avail < 2 * bytes + (1ull << 30) && s.layers > 8) { // file in the page cache + loaded copy
        s.layers = 8;
        bytes = model_floats(&s) * sizeof(float);
        note = " -- 8 LAYERS ONLY: not enough memory for all";
    }
    char path[] = "/tmp/vtc-bench-decode-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("bench/decode: mkstemp");
        return 1;
    }
    close(fd);
    printf("bench/decode: %s shape (d %d, SwiGLU %d, %d layers, %d/%d heads, vocab %d), random f32 "
           "weights%s\n", shapes[shape].label, s.dim, s.hidden, s.layers, s.heads, s.kv_heads, s.vocab, note);
    double t0 = vtc_now_ms();
    int wst = write_model(path, &s);
    double t_write = vtc_now_ms() - t0;
    vtc_lm *lm = NULL;
    if (!wst) {
        t0 = vtc_now_ms();
        lm = vtc_lm_load(path, vtc_lm_params_default());
    }
    unlink(path);
    if (wst || !lm) {
        fprintf(stderr, "bench/decode: %s: %s\n", path, wst ? "cannot write the model" : vtc_last_error());
        vtc_lm_free(lm);
        return 1;
    }
    printf("  %.2f GB llama2.c file in /tmp: written in %.1f s, loaded in %.1f s, removed\n", bytes / 1e9,
           t_write / 1e3, (vtc_now_ms() - t0) / 1e3);
    int n_cpu = vtc_cpu_count();
    printf("  prompt [BOS][visual][%d text]; %d generated (greedy); best of %d runs after a warm-up; %d threads of "
           "%d CPUs\n", N_TEXT, gen, reps, threads ? threads : n_cpu, n_cpu);

    // Visual rows at the scale of the LM's embeddings, text ids past the specials.
    int rc = 1;
    struct figures fig[N_CASES];
    memset(fig, 0, sizeof fig);
    float *visual = malloc((size_t)N_VISUAL * s.dim * sizeof *visual);
    int32_t text[N_TEXT];
    uint64_t rng = 99;
    double rms = 0;
    if (!visual || cli_decode_embedding_rms(lm, &rms)) goto done;
    for (size_t i = 0; i < (size_t)N_VISUAL * s.dim; i++)
        visual[i] = (float)(rms * 1.7320508 * (2.0 * (double)(vtc_splitmix64(&rng) >> 11) * 0x1.0p-53 - 1.0));
    for (int i = 0; i < N_TEXT; i++) text[i] = 3 + (int32_t)(vtc_splitmix64(&rng) % (uint64_t)(s.vocab - 3));

    double worst = 0;
    for (int c = 0; c < N_CASES; c++) {
        if (c > 0 && only && !strstr(CASES[c].label, only)) continue;
        fprintf(stderr, "  running %s ...\n", CASES[c].label);
        if (run_case(lm, &CASES[c], visual, text, reps, gen, threads, &fig[c])) {
            fprintf(stderr, "bench/decode: %s: %s\n", CASES[c].label, vtc_last_error());
            goto done;
        }
        if (fig[c].r.flops_rel_diff > worst) worst = fig[c].r.flops_rel_diff;
    }
    printf("  check: every run's executed FLOPs = base/flops.h's account (largest relative difference %.2g); "
           "repetitions generate identical tokens\n\n", worst);

    const struct figures *b = &fig[0];
    printf("%-28s %9s %6s | %10s %8s %9s %8s %8s %6s | %9s %8s %8s | %7s\n", "", "visual", "equiv", "prefill",
           "measured", "prefill", "FLOPs", "paper", "probe", "decode", "measured", "FLOPs", "KV");
    printf("%-28s %9s %6s | %10s %8s %9s %8s %8s %6s | %9s %8s %8s | %7s\n", "run", "tokens", "tokens", "ms",
           "speed-up", "GFLOP", "ratio", "ratio", "GFLOP", "ms/step", "speed-up", "ratio", "MB");
    for (int c = 0; c < N_CASES; c++) {
        const struct cli_decode_result *r = &fig[c].r;
        if (!r->visual_per_layer) continue; // not run (--only)
        char vis[32];
        if (r->n_kept_late != r->n_visual) snprintf(vis, sizeof vis, "%d>%d", r->n_visual, r->n_kept_late);
        else snprintf(vis, sizeof vis, "%d", r->n_visual);
        double steps = (double)r->stats.n_decode_steps, bsteps = (double)b->r.stats.n_decode_steps;
        printf("%-28s %9s %6.1f | %10.1f %7.2fx %9.1f %7.2fx %7.2fx %6.2f | %9.1f %7.2fx %7.2fx | %7.1f\n",
               CASES[c].label, vis, r->equiv_tokens, fig[c].prefill_ms, b->prefill_ms / fig[c].prefill_ms,
               r->stats.flops_prefill / 1e9, b->r.stats.flops_prefill / r->stats.flops_prefill,
               b->r.expected.paper_prefill / r->expected.paper_prefill, r->stats.flops_probe / 1e9, fig[c].decode_ms_tok, b->decode_ms_tok / fig[c].decode_ms_tok,
               (b->r.stats.flops_decode / bsteps) / (r->stats.flops_decode / steps), r->kv_bytes_attended / 1e6);
    }
    printf("\n  visual tokens: fed > seen by the later layers; equiv: layer-averaged (docs/flops.md). Ratios and speed-ups\n"
           "  are against the first row. FLOPs ratio: executed, 2 x MACs, causal attention, LM head once per token;\n"
           "  paper: 4nd^2 + 2n^2d + 2ndm per layer. probe: the attention a policy reads (not in the model's count,\n"
           "  but in the measured time). decode: per step over %d steps, incl. the LM head (%.2f GFLOP);\n"
           "  KV: cache entries the last step attends to.\n",
           gen - 1, vtc_flops_lm_head(&b->r.shape, 1) / 1e9);
    rc = 0;
done:
    for (int c = 0; c < N_CASES; c++) cli_decode_result_free(&fig[c].r);
    free(visual);
    vtc_lm_free(lm);
    return rc;
}
