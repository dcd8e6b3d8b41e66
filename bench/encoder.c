// bench/encoder: vtc's encode stage at real ViT sizes (random weights — timing
// does not depend on weight values) next to a PyTorch forward of the same blocks
// (bench/encoder_torch.py, same threads) and the OpenBLAS sgemm peak measured in
// the same run. Rows: CLIP ViT-L/14-336 and ViT-B/16-224 (float32), and
// Qwen2.5-VL-7B's vision tower with its patch merger on a 1024x768 image (vtc
// float32 next to torch float32 and bfloat16; vtc has no bfloat16 path).
//
//   build/bench/encoder [--threads N] [--reps R] [--qwen-reps R] [--only TEXT] [--layers N] [--no-torch]
//
// --only TEXT runs the rows whose name contains TEXT; --layers N runs N blocks of
// each tower instead of all (a quick check; Qwen keeps its full-attention blocks
// below N). The Qwen row (about 5.5 TFLOP a forward; minutes a forward for torch
// bfloat16 on a CPU without bfloat16 arithmetic) times --qwen-reps runs (default 1)
// after the warm-up: vtc's a full forward, torch's a one-window grid.
//
// Correctness first: the C encoder's output is checked for finite values and
// against a second run (determinism) before timing.
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/flops.h"
#include "vision/family.h"
#include "vision/model.h"
#include "vision/preprocess.h"
#include "vision/vit.h"

struct config {
    const char *name;
    int size, patch, hidden, heads, ffn, layers;
};

static const struct config CONFIGS[] = {
    { "CLIP ViT-L/14-336 (LLaVA-1.5)", 336, 14, 1024, 16, 4096, 24 },
    { "CLIP ViT-B/16-224", 224, 16, 768, 12, 3072, 12 },
};

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Best sgemm rate (GFLOP/s) over shapes the encoder actually runs.
// OpenBLAS's own threaded sgemm on the encoder's largest shapes: the peak.
static double sgemm_peak(int n_tok, int d, int ffn, int reps, int threads) {
    openblas_set_num_threads(threads);
    float *a = calloc((size_t)n_tok * ffn, sizeof(float)), *b = calloc((size_t)ffn * d * 4, sizeof(float)),
          *c = calloc((size_t)n_tok * ffn, sizeof(float));
    for (size_t i = 0; i < (size_t)n_tok * ffn; i++) a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)ffn * d * 4; i++) b[i] = (float)(i % 5) * 0.1f;
    const int shapes[2][3] = { { n_tok, ffn, d }, { n_tok, d, ffn } }; // M, N, K: fc1 and fc2
    double best = 0;
    for (int s = 0; s < 2; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int r = 0; r < reps + 1; r++) {
            double t0 = vtc_now_ms();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
            double ms = vtc_now_ms() - t0;
            double g = 2.0 * M * N * K / (ms * 1e6);
            if (r > 0 && g > best) best = g;
        }
    }
    free(a); free(b); free(c);
    openblas_set_num_threads(1); // back to what vtc runs with
    return best;
}

// Runs bench/encoder_torch.py with ARGS; the best and median of its output lines
// `torch_ms <best> <median> ...` in order (n_want of them). 0 when all came.
static int run_torch(const char *args, int threads, int reps, int n_want, double *best, double *median) {
    char cmd[768];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 bench/encoder_torch.py %s --threads %d --reps %d 2>/dev/null", args,
             threads, reps);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[256] = "";
    int got = 0;
    while (got < n_want && fgets(line, sizeof line, p) &&
           sscanf(line, "torch_ms %lf %lf", &best[got], &median[got]) == 2)
        got++;
    pclose(p);
    return got == n_want ? 0 : -1;
}

static void print_row(const char *name, double ms, double gflop, double peak, double torch_ms) {
    char tbuf[16] = "n/a", sbuf[16] = "n/a";
    if (!isnan(torch_ms)) {
        snprintf(tbuf, sizeof tbuf, "%.1f", torch_ms);
        snprintf(sbuf, sizeof sbuf, "%.2fx", torch_ms / ms);
    }
    const double rate = gflop / (ms / 1e3);
    printf("%-32s %9.1f %9.1f %7.1f%% %9s %9s %8.1f\n", name, ms, rate, 100.0 * rate / peak, tbuf, sbuf, gflop);
}

// Qwen2.5-VL's vision tower (transformers' Qwen2_5_VLVisionConfig as released:
// depth 32, hidden 1280, 16 heads, intermediate 3420, window 112, full attention
// in blocks 7, 15, 23, 31, patch 14, temporal patch 2, merge 2) with the 7B's
// merger (out_hidden_size 3584; the 3B's is 2048), on a 1024x768 image resized as
// its processor does (smart_resize, min_pixels 3136, max_pixels 12845056).
static const struct qwen_row {
    const char *name;
    int width, height;
    struct vtc_random_qwen_spec spec;
} QWEN = { "Qwen2.5-VL-7B vision 1024x768", 1024, 768,
           { "Qwen2.5-VL-7B vision", 14, 2, 2, 112, 1280, 16, 3420, 32, 3584, 4, { 7, 15, 23, 31 }, 1 } };

// The Qwen row: vtc's forward_grid and the merger MLP (vtc_project), float32, next
// to the PyTorch peer in float32 and bfloat16. 0, or 1 on a failed check.
static int bench_qwen(int threads, int reps, int layers, int torch) {
    struct vtc_random_qwen_spec spec = QWEN.spec;
    if (layers && layers < spec.layers) { // a quick check: the first `layers` blocks
        int n = 0;
        for (int i = 0; i < spec.n_full; i++)
            if (spec.full_blocks[i] < layers) spec.full_blocks[n++] = spec.full_blocks[i];
        spec.n_full = n, spec.layers = layers;
    }
    struct vtc_model *m = vtc_model_random_qwen25vl(&spec, vtc_model_params_default());
    vtc_vit_scratch *s = m ? m->family->scratch_new(m, threads, NULL) : NULL;
    int rh, rw;
    if (!s || vtc_smart_resize(QWEN.height, QWEN.width, spec.patch_size * spec.merge, m->native.min_pixels,
                               m->native.max_pixels, &rh, &rw)) {
        fprintf(stderr, "bench: %s\n", vtc_last_error());
        return 1;
    }
    const int grid[3] = { 1, rh / spec.patch_size, rw / spec.patch_size }; // an image: one temporal slice
    const int P = grid[0] * grid[1] * grid[2], unit = spec.merge * spec.merge, n_tok = P / unit;
    const size_t K = (size_t)3 * spec.temporal_patch * spec.patch_size * spec.patch_size;
    const size_t FD = (size_t)m->feature_dim, L = (size_t)m->lm_dim;
    float *px = malloc(sizeof(float) * P * K), *feat = malloc(sizeof(float) * n_tok * FD);
    float *tmp = malloc(sizeof(float) * n_tok * vtc_project_hidden(m));
    float *e1 = malloc(sizeof(float) * n_tok * L), *e2 = malloc(sizeof(float) * n_tok * L);
    double *ms = malloc(sizeof(double) * reps);
    if (!px || !feat || !tmp || !e1 || !e2 || !ms) return fprintf(stderr, "bench: out of memory\n"), 1;
    for (size_t i = 0; i < P * K; i++) px[i] = sinf(i * 0.001f);
    // one forward: the tower, then the merger MLP (the projector) -> embeds [n_tok, L]
    double flops = 0;
    for (int r = -1; r < reps; r++) { // r = -1: the warm-up, whose output the timed runs must repeat
        float *emb = r < 0 ? e1 : e2;
        struct vtc_vit_out o = { .features = feat };
        const double t0 = vtc_now_ms();
        if (m->family->forward_grid(m, s, px, grid, threads, &o)) {
            fprintf(stderr, "bench: %s\n", vtc_last_error());
            return 1;
        }
        double pf = 0;
        vtc_project(m, NULL, feat, n_tok, tmp, emb, threads, &pf); // f32: cannot fail
        flops = o.flops + pf;
        if (r >= 0) ms[r] = vtc_now_ms() - t0;
        for (size_t i = 0; r >= 0 && i < n_tok * L; i++)
            if (!isfinite(e1[i]) || e1[i] != e2[i]) {
                fprintf(stderr, "bench: Qwen output not finite or not deterministic at %zu\n", i);
                return 1;
            }
    }
    qsort(ms, reps, sizeof(double), cmp_double);
    const double peak = sgemm_peak(P, spec.hidden, spec.ffn, 2, threads);
    const double best = ms[0], median = ms[reps / 2];
    free(px), free(feat), free(tmp), free(e1), free(e2), free(ms);
    m->family->scratch_free(s);
    vtc_model_free(m); // its 2.7 GB back before PyTorch builds its own
    double tb[2] = { NAN, NAN }, tm[2];
    char args[256];
    snprintf(args, sizeof args, "--arch qwen2.5vl --grid %d,%d,%d --patch %d --tp %d --merge %d --window %d "
             "--hidden %d --heads %d --ffn %d --layers %d --out %d --full ", grid[0], grid[1], grid[2], spec.patch_size,
             spec.temporal_patch, spec.merge, spec.window, spec.hidden, spec.heads, spec.ffn, spec.layers, spec.lm_dim);
    for (int i = 0; i < spec.n_full; i++)
        snprintf(args + strlen(args), sizeof args - strlen(args), "%s%d", i ? "," : "", spec.full_blocks[i]);
    if (!spec.n_full) snprintf(args + strlen(args), sizeof args - strlen(args), "''");
    if (torch && run_torch(args, threads, reps, 2, tb, tm)) tb[0] = tb[1] = NAN;
    print_row(QWEN.name, best, flops / 1e9, peak, tb[0]);
    printf("%-32s tower + merger; %dx%d -> %dx%d px, grid %dx%dx%d: %d patches, %d tokens; %d blocks\n", "", QWEN.width,
           QWEN.height, rw, rh, grid[0], grid[1], grid[2], P, n_tok, spec.layers);
    if (!isnan(tb[1]))
        printf("%-32s torch bfloat16 %.1f ms (vtc float32 %.2fx)\n", "", tb[1], tb[1] / best);
    if (reps > 1 && !isnan(tb[1]))
        printf("%-32s medians: vtc %.1f, torch float32 %.1f, torch bfloat16 %.1f ms\n", "", median, tm[0], tm[1]);
    printf("%-32s sgemm peak %.1f GFLOP/s (fc1/fc2 shapes, same run)\n", "", peak);
    return 0;
}

int main(int argc, char **argv) {
    int threads = 2, reps = 5, qwen_reps = 1, torch = 1, layers = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--qwen-reps") && i + 1 < argc) qwen_reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--layers") && i + 1 < argc) layers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-torch")) torch = 0;
        else {
            fprintf(stderr, "usage: %s [--threads N] [--reps R] [--qwen-reps R] [--only TEXT] [--layers N] "
                    "[--no-torch]\n", argv[0]);
            return 2;
        }
    }
    if (threads < 1 || reps < 1 || qwen_reps < 1 || layers < 0) return 2;
    printf("bench/encoder: %d thread(s), best of %d (Qwen: of %d) after one warm-up; OpenBLAS %s; random weights\n",
           threads, reps, qwen_reps, openblas_get_config());
    printf("%-32s %9s %9s %8s %9s %9s %8s\n", "encoder (all blocks)", "vtc ms", "GFLOP/s", "% peak", "torch ms",
           "speed-up", "GFLOP");
    for (size_t ci = 0; ci < sizeof CONFIGS / sizeof CONFIGS[0]; ci++) {
        const struct config *c = &CONFIGS[ci];
        if (only && !strstr(c->name, only)) continue;
        const int n_layers = layers && layers < c->layers ? layers : c->layers;
        struct vtc_model_params mp = vtc_model_params_default();
        mp.feature_layer = -1; // every block, like the PyTorch peer
        struct vtc_random_spec spec = { c->name, c->size, c->patch, c->hidden, c->heads, c->ffn, n_layers, 0, 1 };
        struct vtc_model *m = vtc_model_random(&spec, mp);
        vtc_vit_scratch *s = m ? vtc_vit_scratch_new(m, threads, NULL) : NULL;
        if (!s) {
            fprintf(stderr, "bench: %s\n", vtc_last_error());
            return 1;
        }
        const int P = m->grid_h * m->grid_w;
        float *px = malloc(sizeof(float) * 3 * c->size * c->size);
        float *f1 = malloc(sizeof(float) * P * c->hidden), *f2 = malloc(sizeof(float) * P * c->hidden);
        for (int i = 0; i < 3 * c->size * c->size; i++) px[i] = sinf(i * 0.001f);
        struct vtc_vit_out o1 = { .features = f1 }, o2 = { .features = f2 };
        vtc_vit_forward(m, s, px, threads, &o1); // warm-up and correctness
        vtc_vit_forward(m, s, px, threads, &o2);
        for (int i = 0; i < P * c->hidden; i++)
            if (!isfinite(f1[i]) || f1[i] != f2[i]) {
                fprintf(stderr, "bench: encoder output not finite or not deterministic at %d\n", i);
                return 1;
            }
        double *ms = malloc(sizeof(double) * reps);
        for (int r = 0; r < reps; r++) {
            double t0 = vtc_now_ms();
            vtc_vit_forward(m, s, px, threads, &o1);
            ms[r] = vtc_now_ms() - t0;
        }
        qsort(ms, reps, sizeof(double), cmp_double);
        double gflop = o1.flops / 1e9;
        double peak = sgemm_peak(P + 1, c->hidden, c->ffn, 3, threads);
        double tb = NAN, tm = NAN;
        char args[256];
        snprintf(args, sizeof args, "--size %d --patch %d --hidden %d --heads %d --ffn %d --layers %d", c->size,
                 c->patch, c->hidden, c->heads, c->ffn, n_layers);
        if (torch && run_torch(args, threads, reps, 1, &tb, &tm)) tb = NAN;
        print_row(c->name, ms[0], gflop, peak, tb);
        printf("%-32s sgemm peak %.1f GFLOP/s (fc1/fc2 shapes, same run); vtc median %.1f ms\n", "", peak,
               ms[reps / 2]);
        free(ms); free(px); free(f1); free(f2);
        vtc_vit_scratch_free(s);
        vtc_model_free(m);
    }
    if (!only || strstr(QWEN.name, only)) return bench_qwen(threads, qwen_reps, layers, torch);
    return 0;
}
