// bench/encoder: vtc's encode stage at real ViT sizes (random weights — timing
// does not depend on weight values) in float32 (OpenBLAS) and bfloat16 (oneDNN,
// docs/speed.md#bf16), next to a PyTorch forward of the same blocks in float32
// and bfloat16 (bench/encoder_torch.py, same threads, weights and input cast with
// .to(torch.bfloat16)), and the matrix-product peaks of both engines measured in
// the same run; then (a second table) `vtc compress` stage by stage at ViT-L size,
// float32 against bfloat16.
//
//   build/bench/encoder [--threads N] [--reps R] [--qwen-reps R] [--video-reps R] [--frames N]
//                       [--only TEXT] [--layers N] [--no-torch] [--no-pipeline] [--no-qwen]
//
// Rows of the first table:
//   CLIP ViT-L/14-336 (LLaVA-1.5)   24 blocks, hidden 1024, 16 heads, MLP 4096, 577 tokens
//   CLIP ViT-B/16-224               12 blocks, hidden 768, 12 heads, MLP 3072, 197 tokens
//   SigLIP so400m/14-384            27 blocks, hidden 1152, 16 heads, MLP 4304, 27x27 = 729
//                                   tokens (LLaVA-OneVision's tower): vtc_model_random's CLIP
//                                   tower made SigLIP-shaped here (no class token, no
//                                   pre-LayerNorm, tanh GELU, eps 1e-6, family siglip; features
//                                   the last block's output, no post-LayerNorm, no pooling head)
//   Qwen2.5-VL-7B vision 1024x768   the tower and its patch merger (vtc_model_random_qwen25vl)
// Columns: the FLOPs of one forward (vtc's count); vtc float32 and vtc bfloat16,
// each ms (best of --reps), GFLOP/s and % of its engine's peak (float32: OpenBLAS's
// own threaded sgemm; bfloat16: oneDNN's bf16 matmul through base/matmul.h,
// vtc_mm_linear on weights packed with vtc_mm_pack_add, the rows split over the
// threads by vtc_parallel_for as vision/vit.c's linear splits them; both on the
// tower's fc1/fc2 shapes: M = tokens, K/N = hidden/MLP); PyTorch float32 and
// bfloat16 ms; vtc bfloat16's speed-up over torch bfloat16, torch float32 and vtc
// float32 (> 1: vtc bfloat16 is faster). A line under each row gives the peaks,
// the bf16 features' max difference from the float32 ones (relative to the
// largest float32 value) and the medians. The header line names oneDNN's ISA and
// whether its bf16 is native; where it is emulated, the bf16 columns say nothing
// about a CPU with AVX512-BF16 or AMX.
//
// The second table: the steps `vtc compress INPUT --threads N` takes (cli/cmd_pipeline.c's
// pipeline_encode, its defaults: uniform for an image, divprune for a video,
// a third of the tokens kept; no token file written) on a random ViT-L/14-336
// with LLaVA-1.5-7B's projector (1024 -> 4096 -> 4096, features from the
// penultimate block), one context per precision and input, warmed up with one
// image: samples/astronaut.jpg (best of --reps) and --frames frames of
// samples/vtest.mp4 (default 16; best of --video-reps, default 1), ms per stage:
// decode (a video's frames are decoded on a thread of their own while the
// encoder runs, so the stages add up to more than the total), preprocess,
// encode, project (the projector on every token where the method needs them;
// otherwise vtc_prune projects the kept ones), prune, and the wall total.
//
// --only TEXT runs the rows whose name contains TEXT (the second table's name is
// "compress pipeline"); --no-qwen leaves the Qwen row out (minutes a run on a CPU
// without bf16 units); --no-pipeline leaves the second table out (--pipeline,
// the default, keeps it); --layers N runs N blocks of each tower instead of all (a
// quick check; Qwen keeps its full-attention blocks below N, the pipeline's
// model has at least 2). The Qwen row (about 5.5 TFLOP a forward; minutes a
// forward for bfloat16 on a CPU without bfloat16 arithmetic) times --qwen-reps
// runs (default 1) after the warm-up: vtc's a full forward, torch's a one-window grid.
//
// Correctness first: each of vtc's encoders is checked for finite output and
// against a second run (bit for bit) before timing, and the bfloat16 output
// against the float32 one (max relative difference below 5e-2).
#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/encode.h"
#include "base/common.h"
#include "base/flops.h"
#include "base/matmul.h"
#include "cli/pipeline.h"
#include "vision/family.h"
#include "vision/model.h"
#include "vision/preprocess.h"
#include "vision/vit.h"

#define BF16_MAX_REL_DIFF 5e-2

struct config {
    const char *name;
    int size, patch, hidden, heads, ffn, layers;
    int siglip; // the random CLIP tower made SigLIP-shaped
};

static const struct config CONFIGS[] = {
    { "CLIP ViT-L/14-336 (LLaVA-1.5)", 336, 14, 1024, 16, 4096, 24, 0 },
    { "CLIP ViT-B/16-224", 224, 16, 768, 12, 3072, 12, 0 },
    { "SigLIP so400m/14-384", 384, 14, 1152, 16, 4304, 27, 1 },
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

struct mm_job {
    vtc_mm *mm;
    const vtc_mm_weight *w;
    const float *x;
    float *y;
    int in, out;
    atomic_int status;
};

static void mm_rows(void *p, int begin, int end) {
    struct mm_job *j = p;
    int st = vtc_mm_linear(j->mm, j->w, j->x + (size_t)begin * j->in, end - begin, NULL, j->y + (size_t)begin * j->out,
                           0);
    if (st) atomic_store(&j->status, st);
}

// Best bf16 matmul rate (GFLOP/s) on the same shapes, as the encoder reaches it:
// weights packed for about m_hint rows (vtc_model_pack_bf16's hint), the rows
// split over `threads` by vtc_parallel_for, each chunk one vtc_mm_linear on its
// thread. NAN (the error printed) when oneDNN fails.
static double bf16_peak(int n_tok, int d, int ffn, int m_hint, int reps, int threads) {
    vtc_mm_pack *pack = vtc_mm_pack_new();
    vtc_mm *mm = vtc_mm_new();
    float *w1 = malloc(sizeof(float) * ffn * d), *w2 = malloc(sizeof(float) * d * ffn);
    float *x = malloc(sizeof(float) * n_tok * ffn), *y = malloc(sizeof(float) * n_tok * ffn);
    double best = NAN;
    if (!pack || !mm || !w1 || !w2 || !x || !y) {
        fprintf(stderr, "bench: bf16 peak: out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < (size_t)ffn * d; i++) w1[i] = (float)(i % 5) * 0.01f, w2[i] = (float)(i % 3) * 0.01f;
    for (size_t i = 0; i < (size_t)n_tok * ffn; i++) x[i] = (float)(i % 7) * 0.1f;
    if (vtc_mm_pack_add(pack, w1, ffn, d, m_hint) || vtc_mm_pack_add(pack, w2, d, ffn, m_hint)) {
        fprintf(stderr, "bench: bf16 peak: %s\n", vtc_last_error());
        goto done;
    }
    const float *ws[2] = { w1, w2 };
    const int io[2][2] = { { d, ffn }, { ffn, d } }; // in, out: fc1 and fc2
    best = 0;
    for (int s = 0; s < 2; s++) {
        struct mm_job j = { mm, vtc_mm_pack_find(pack, ws[s]), x, y, io[s][0], io[s][1], VTC_OK };
        for (int r = 0; r < reps + 1; r++) {
            double t0 = vtc_now_ms();
            vtc_parallel_for(threads, n_tok, mm_rows, &j);
            double ms = vtc_now_ms() - t0;
            if (atomic_load(&j.status)) {
                fprintf(stderr, "bench: bf16 peak: oneDNN failed (status %d)\n", atomic_load(&j.status));
                best = NAN;
                goto done;
            }
            double g = 2.0 * n_tok * io[s][0] * io[s][1] / (ms * 1e6);
            if (r > 0 && g > best) best = g;
        }
    }
done:
    free(w1); free(w2); free(x); free(y);
    vtc_mm_free(mm);
    vtc_mm_pack_free(pack);
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

// One row's numbers: ms best and median per engine (NAN: not run), the peaks.
enum { VTC_F32, VTC_BF16, TORCH_F32, TORCH_BF16, N_ENGINES };
struct row {
    double gflop;
    double best[N_ENGINES], median[N_ENGINES];
    double sgemm_peak, bf16_peak;
    double rel_diff; // bf16 features vs f32: max |diff| / max |f32|
};

static void row_init(struct row *r) {
    memset(r, 0, sizeof *r);
    for (int e = 0; e < N_ENGINES; e++) r->best[e] = r->median[e] = NAN;
    r->sgemm_peak = r->bf16_peak = r->rel_diff = NAN;
}

// v printed with format into buf, or "n/a" when v is NAN (not run, or failed).
static const char *fmt(char *buf, size_t cap, const char *format, double v) {
    if (isnan(v)) snprintf(buf, cap, "n/a");
    else snprintf(buf, cap, format, v);
    return buf;
}

#define NAME_W 32

static void print_header(void) {
    printf("%-*s %7s  %-26s  %-26s  %-17s  %s\n", NAME_W, "", "", "------- vtc float32 ------",
           "------ vtc bfloat16 ------", "-- PyTorch ms ---", "vtc bf16 speed-up vs");
    printf("%-*s %7s  %8s %8s %8s  %8s %8s %8s  %8s %8s  %7s %7s %7s\n", NAME_W, "encoder (all blocks)", "GFLOP",
           "ms", "GFLOP/s", "% peak", "ms", "GFLOP/s", "% peak", "float32", "bfloat16", "t bf16", "t f32", "vtc f32");
}

static void print_row(const char *name, const struct row *r) {
    char b[16][16];
    const double f32 = r->best[VTC_F32], bf = r->best[VTC_BF16];
    const double rf = r->gflop / (f32 / 1e3), rb = r->gflop / (bf / 1e3);
    printf("%-*s %7.1f  %8s %8s %8s  %8s %8s %8s  %8s %8s  %7s %7s %7s\n", NAME_W, name, r->gflop,
           fmt(b[0], 16, "%.1f", f32), fmt(b[1], 16, "%.1f", rf), fmt(b[2], 16, "%.1f%%", 100.0 * rf / r->sgemm_peak),
           fmt(b[3], 16, "%.1f", bf), fmt(b[4], 16, "%.1f", rb), fmt(b[5], 16, "%.1f%%", 100.0 * rb / r->bf16_peak),
           fmt(b[6], 16, "%.1f", r->best[TORCH_F32]), fmt(b[7], 16, "%.1f", r->best[TORCH_BF16]),
           fmt(b[8], 16, "%.2fx", r->best[TORCH_BF16] / bf), fmt(b[9], 16, "%.2fx", r->best[TORCH_F32] / bf),
           fmt(b[10], 16, "%.2fx", f32 / bf));
}

// The lines under a row: peaks, the bf16 check, medians.
static void print_notes(const struct row *r, int threads, int reps) {
    char b[4][16];
    printf("%-*s peaks (fc1/fc2 shapes, same run): sgemm %.1f GFLOP/s (OpenBLAS, %d threads of its own), "
           "bf16 %s GFLOP/s (oneDNN, %d row chunks)\n", NAME_W, "", r->sgemm_peak, threads,
           fmt(b[0], 16, "%.1f", r->bf16_peak), threads);
    printf("%-*s bf16 vs float32 output: max |diff| / max |float32| = %.1e\n", NAME_W, "", r->rel_diff);
    if (reps > 1)
        printf("%-*s medians ms: vtc float32 %.1f, vtc bfloat16 %.1f, torch float32 %s, torch bfloat16 %s\n", NAME_W,
               "", r->median[VTC_F32], r->median[VTC_BF16], fmt(b[1], 16, "%.1f", r->median[TORCH_F32]),
               fmt(b[2], 16, "%.1f", r->median[TORCH_BF16]));
}

// max |a - b| / max |a| over n values.
static double rel_diff(const float *a, const float *b, size_t n) {
    double d = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        const double x = fabs((double)a[i] - b[i]), y = fabs((double)a[i]);
        if (x > d) d = x;
        if (y > scale) scale = y;
    }
    return scale > 0 ? d / scale : d;
}

// Finite and bit-identical to the first run: 0, else 1 (printed).
static int check_repeat(const char *what, const float *first, const float *again, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(first[i]) || first[i] != again[i]) {
            fprintf(stderr, "bench: %s output not finite or not deterministic at %zu\n", what, i);
            return 1;
        }
    return 0;
}

// A bf16 engine for m: its weights packed (once per model), a primitive cache.
// 0, or 1 (printed).
static int bf16_engine(struct vtc_model *m, struct vtc_bf16 *bf) {
    if (vtc_model_pack_bf16(m) || !(bf->mm = vtc_mm_new())) {
        fprintf(stderr, "bench: bf16: %s\n", vtc_last_error());
        return 1;
    }
    bf->pack = m->bf16_pack;
    return 0;
}

// One tower on one engine (bf NULL: float32): a warm-up into `first`, a second
// run into `again` that must repeat it, then reps timed runs. 0, or 1 (printed).
static int time_vit(const struct vtc_model *m, struct vtc_bf16 *bf, const float *px, int threads, int reps,
                    float *first, float *again, double *best, double *median, double *flops) {
    const char *what = bf ? "bf16 encoder" : "float32 encoder";
    vtc_vit_scratch *s = vtc_vit_scratch_new(m, threads, bf);
    double *ms = malloc(sizeof(double) * reps);
    int rc = 1;
    if (!s || !ms) {
        fprintf(stderr, "bench: %s: %s\n", what, s ? "out of memory" : vtc_last_error());
        goto done;
    }
    struct vtc_vit_out o1 = { .features = first }, o2 = { .features = again };
    if (vtc_vit_forward(m, s, px, threads, &o1) || vtc_vit_forward(m, s, px, threads, &o2)) {
        fprintf(stderr, "bench: %s: %s\n", what, vtc_last_error());
        goto done;
    }
    if (check_repeat(what, first, again, (size_t)m->grid_h * m->grid_w * m->feature_dim)) goto done;
    for (int r = 0; r < reps; r++) {
        double t0 = vtc_now_ms();
        if (vtc_vit_forward(m, s, px, threads, &o2)) {
            fprintf(stderr, "bench: %s: %s\n", what, vtc_last_error());
            goto done;
        }
        ms[r] = vtc_now_ms() - t0;
    }
    qsort(ms, reps, sizeof(double), cmp_double);
    *best = ms[0], *median = ms[reps / 2], *flops = o1.flops;
    rc = 0;
done:
    free(ms);
    vtc_vit_scratch_free(s);
    return rc;
}

// A CLIP / SigLIP row. 0, or 1 on a failed check.
static int bench_vit(const struct config *c, int threads, int reps, int layers, int torch) {
    const int n_layers = layers && layers < c->layers ? layers : c->layers;
    struct vtc_model_params mp = vtc_model_params_default();
    mp.feature_layer = -1; // every block, like the PyTorch peer
    struct vtc_random_spec spec = { c->name, c->size, c->patch, c->hidden, c->heads, c->ffn, n_layers, 0, 1 };
    struct vtc_model *m = vtc_model_random(&spec, mp);
    if (!m) {
        fprintf(stderr, "bench: %s\n", vtc_last_error());
        return 1;
    }
    if (c->siglip) { // SigLIP's tower (vision/family_siglip.c): the position table's first P rows are used
        m->family = vtc_family_named("siglip");
        m->has_cls = 0, m->has_pre_ln = 0;
        m->act = VTC_ACT_GELU_TANH;
        m->eps = 1e-6f;
    }
    const int P = m->grid_h * m->grid_w, n_tok = P + m->has_cls;
    const size_t n_out = (size_t)P * m->feature_dim;
    float *px = malloc(sizeof(float) * 3 * c->size * c->size);
    float *f32 = malloc(sizeof(float) * n_out), *bf = malloc(sizeof(float) * n_out),
          *again = malloc(sizeof(float) * n_out);
    struct vtc_bf16 engine = { 0 };
    struct row r;
    row_init(&r);
    int rc = 1;
    if (!px || !f32 || !bf || !again) {
        fprintf(stderr, "bench: out of memory\n");
        goto done;
    }
    for (int i = 0; i < 3 * c->size * c->size; i++) px[i] = sinf(i * 0.001f);
    double flops = 0;
    if (time_vit(m, NULL, px, threads, reps, f32, again, &r.best[VTC_F32], &r.median[VTC_F32], &flops) ||
        bf16_engine(m, &engine) ||
        time_vit(m, &engine, px, threads, reps, bf, again, &r.best[VTC_BF16], &r.median[VTC_BF16], &flops))
        goto done;
    r.rel_diff = rel_diff(f32, bf, n_out);
    if (!(r.rel_diff < BF16_MAX_REL_DIFF)) {
        fprintf(stderr, "bench: %s: bf16 output differs from float32 by %.2e (max |diff| / max |f32|), over %.0e\n",
                c->name, r.rel_diff, BF16_MAX_REL_DIFF);
        goto done;
    }
    r.gflop = flops / 1e9;
    r.sgemm_peak = sgemm_peak(n_tok, c->hidden, c->ffn, 3, threads);
    r.bf16_peak = bf16_peak(n_tok, c->hidden, c->ffn, n_tok, 3, threads);
    char args[256];
    snprintf(args, sizeof args, "--arch %s --size %d --patch %d --hidden %d --heads %d --ffn %d --layers %d",
             c->siglip ? "siglip" : "clip", c->size, c->patch, c->hidden, c->heads, c->ffn, n_layers);
    if (torch && run_torch(args, threads, reps, 2, r.best + TORCH_F32, r.median + TORCH_F32))
        r.best[TORCH_F32] = r.best[TORCH_BF16] = r.median[TORCH_F32] = r.median[TORCH_BF16] = NAN;
    print_row(c->name, &r);
    printf("%-*s %d tokens (%d patches%s), %d blocks\n", NAME_W, "", n_tok, P, m->has_cls ? " + CLS" : ", no CLS",
           n_layers);
    print_notes(&r, threads, reps);
    rc = 0;
done:
    free(px); free(f32); free(bf); free(again);
    vtc_mm_free(engine.mm);
    vtc_model_free(m);
    return rc;
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

// One Qwen forward on one engine (bf NULL: float32): the tower, then the merger
// MLP (the projector) -> emb [n_tok, lm_dim]. 0, or 1 (printed).
static int qwen_forward(const struct vtc_model *m, struct vtc_bf16 *bf, vtc_vit_scratch *s, const float *px,
                        const int grid[3], int n_tok, float *feat, float *tmp, float *emb, int threads,
                        double *flops) {
    struct vtc_vit_out o = { .features = feat };
    double pf = 0;
    if (m->family->forward_grid(m, s, px, grid, threads, &o) || vtc_project(m, bf, feat, n_tok, tmp, emb, threads, &pf)) {
        fprintf(stderr, "bench: Qwen %s: %s\n", bf ? "bf16" : "float32", vtc_last_error());
        return 1;
    }
    *flops = o.flops + pf;
    return 0;
}

// The Qwen row: vtc's forward_grid and the merger MLP (vtc_project) in float32
// and bf16, next to the PyTorch peer in float32 and bfloat16. 0, or 1 on a failed check.
static int bench_qwen(int threads, int reps, int layers, int torch) {
    struct vtc_random_qwen_spec spec = QWEN.spec;
    if (layers && layers < spec.layers) { // a quick check: the first `layers` blocks
        int n = 0;
        for (int i = 0; i < spec.n_full; i++)
            if (spec.full_blocks[i] < layers) spec.full_blocks[n++] = spec.full_blocks[i];
        spec.n_full = n, spec.layers = layers;
    }
    struct vtc_model *m = vtc_model_random_qwen25vl(&spec, vtc_model_params_default());
    int rh, rw;
    if (!m || vtc_smart_resize(QWEN.height, QWEN.width, spec.patch_size * spec.merge, m->native.min_pixels,
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
    float *e32 = malloc(sizeof(float) * n_tok * L), *ebf = malloc(sizeof(float) * n_tok * L),
          *again = malloc(sizeof(float) * n_tok * L);
    double *ms = malloc(sizeof(double) * reps);
    struct vtc_bf16 engine = { 0 };
    struct row r;
    row_init(&r);
    int rc = 1;
    if (!px || !feat || !tmp || !e32 || !ebf || !again || !ms) {
        fprintf(stderr, "bench: out of memory\n");
        goto fail;
    }
    for (size_t i = 0; i < P * K; i++) px[i] = sinf(i * 0.001f);
    for (int e = VTC_F32; e <= VTC_BF16; e++) {
        struct vtc_bf16 *bf = e == VTC_BF16 ? &engine : NULL;
        if (bf && bf16_engine(m, bf)) goto fail;
        vtc_vit_scratch *s = m->family->scratch_new(m, threads, bf);
        if (!s) {
            fprintf(stderr, "bench: %s\n", vtc_last_error());
            goto fail;
        }
        float *first = bf ? ebf : e32;
        double flops = 0;
        int bad = qwen_forward(m, bf, s, px, grid, n_tok, feat, tmp, first, threads, &flops); // the warm-up
        for (int i = 0; i < reps && !bad; i++) { // whose output the timed runs must repeat
            const double t0 = vtc_now_ms();
            bad = qwen_forward(m, bf, s, px, grid, n_tok, feat, tmp, again, threads, &flops);
            ms[i] = vtc_now_ms() - t0;
            bad = bad || check_repeat(bf ? "Qwen bf16" : "Qwen float32", first, again, n_tok * L);
        }
        m->family->scratch_free(s);
        if (bad) goto fail;
        qsort(ms, reps, sizeof(double), cmp_double);
        r.best[e] = ms[0], r.median[e] = ms[reps / 2], r.gflop = flops / 1e9;
    }
    r.rel_diff = rel_diff(e32, ebf, n_tok * L);
    if (!(r.rel_diff < BF16_MAX_REL_DIFF)) {
        fprintf(stderr, "bench: %s: bf16 output differs from float32 by %.2e (max |diff| / max |f32|), over %.0e\n",
                QWEN.name, r.rel_diff, BF16_MAX_REL_DIFF);
        goto fail;
    }
    r.sgemm_peak = sgemm_peak(P, spec.hidden, spec.ffn, 2, threads);
    r.bf16_peak = bf16_peak(P, spec.hidden, spec.ffn, 1024, 2, threads); // vtc_model_pack_bf16's hint for Qwen
    free(px), free(feat), free(tmp), free(e32), free(ebf), free(again), free(ms);
    vtc_mm_free(engine.mm);
    vtc_model_free(m); // its 2.7 GB (and 1.4 GB of bf16) back before PyTorch builds its own
    char args[256];
    snprintf(args, sizeof args, "--arch qwen2.5vl --grid %d,%d,%d --patch %d --tp %d --merge %d --window %d "
             "--hidden %d --heads %d --ffn %d --layers %d --out %d --full ", grid[0], grid[1], grid[2], spec.patch_size,
             spec.temporal_patch, spec.merge, spec.window, spec.hidden, spec.heads, spec.ffn, spec.layers, spec.lm_dim);
    for (int i = 0; i < spec.n_full; i++)
        snprintf(args + strlen(args), sizeof args - strlen(args), "%s%d", i ? "," : "", spec.full_blocks[i]);
    if (!spec.n_full) snprintf(args + strlen(args), sizeof args - strlen(args), "''");
    if (torch && run_torch(args, threads, reps, 2, r.best + TORCH_F32, r.median + TORCH_F32))
        r.best[TORCH_F32] = r.best[TORCH_BF16] = r.median[TORCH_F32] = r.median[TORCH_BF16] = NAN;
    print_row(QWEN.name, &r);
    printf("%-*s tower + merger; %dx%d -> %dx%d px, grid %dx%dx%d: %d patches, %d tokens; %d blocks\n", NAME_W, "",
           QWEN.width, QWEN.height, rw, rh, grid[0], grid[1], grid[2], P, n_tok, spec.layers);
    print_notes(&r, threads, reps);
    return 0;
fail:
    free(px), free(feat), free(tmp), free(e32), free(ebf), free(again), free(ms);
    vtc_mm_free(engine.mm);
    vtc_model_free(m);
    return rc;
}

// ---------------------------------------------------------------- the compress pipeline

#define PIPELINE_NAME "compress pipeline"

enum { ST_DECODE, ST_PREPROCESS, ST_ENCODE, ST_PROJECT, ST_PRUNE, ST_TOTAL, N_STAGES };
struct stages {
    double ms[N_STAGES];
    int n_input, n_kept;
};

// One `vtc compress INPUT` on ctx as cli/cmd_pipeline.c runs it (open the input,
// pipeline_encode: encode and prune), no file written; its stages in *out. 0, or 1 (printed).
static int compress_once(vtc_ctx *ctx, const vtc_model *m, const char *path, int frames, int threads,
                         struct stages *out) {
    struct pipeline_opts o = { 0 };
    o.input = path, o.frames = frames, o.threads = threads, o.is_compress = 1, o.pool_mode = -1;
    struct cli_prune_opts po = { 0 };
    struct cli_input in = { 0 };
    struct report r;
    report_init(&r, path, "compress");
    r.model = m;
    vtc_features *f = NULL;
    vtc_tokens *tok = NULL;
    const char *what = "reading input";
    const struct vtc_limits limits = vtc_limits_default();
    const double t0 = vtc_now_ms();
    int st = cli_input_open(path, vtc_sample_for_model(m, pipeline_sample_params(&o)), &limits, threads, &in);
    if (!st) {
        struct vtc_prune_params pp;
        st = pipeline_prune_params(&po, pipeline_default_method(in.video != NULL), &pp);
        if (!st) st = pipeline_encode(ctx, &o, &in, pp, &r, &f, &tok, &what, NULL);
    }
    const double total = vtc_now_ms() - t0;
    if (st) {
        fprintf(stderr, "bench: compress %s: %s: %s\n", path, what, vtc_last_error());
    } else {
        *out = (struct stages){ { r.ms_decode, f->ms_preprocess, f->ms_encode, f->ms_project, r.ms_prune, total },
                                f->n, tok->n };
    }
    vtc_tokens_free(tok);
    vtc_features_free(f);
    cli_input_close(&in);
    return st ? 1 : 0;
}

// The second table. 0, or 1 on a failure.
static int bench_pipeline(int threads, int reps, int video_reps, int frames, int layers) {
    const int n_layers = layers ? (layers < 2 ? 2 : layers < 24 ? layers : 24) : 24;
    struct vtc_model_params mp = vtc_model_params_default(); // features: the penultimate block's, as LLaVA-1.5
    struct vtc_random_spec spec = { "ViT-L/14-336 + LLaVA-1.5-7B projector", 336, 14, 1024, 16, 4096, n_layers,
                                    4096, 1 };
    vtc_model *m = vtc_model_random(&spec, mp);
    if (!m) {
        fprintf(stderr, "bench: %s\n", vtc_last_error());
        return 1;
    }
    static const char *const IMAGE = "samples/astronaut.jpg", *const VIDEO = "samples/vtest.mp4";
    printf("\n%s: `vtc compress INPUT --threads %d` (cli/cmd_pipeline.c's steps, its default method, a third "
           "kept, no file written)\non a random CLIP ViT-L/14-336 (%d blocks) + LLaVA-1.5-7B projector "
           "(1024 -> 4096 -> 4096); image best of %d, video best of %d, after one image; ms:\n",
           PIPELINE_NAME, threads, n_layers, reps, video_reps);
    printf("%-34s %-5s %8s %8s %9s %8s %8s %9s %12s %8s\n", "input", "", "decode", "preproc", "encode", "project",
           "prune", "total", "tokens", "vs f32");
    char video_name[64];
    snprintf(video_name, sizeof video_name, "vtest.mp4, %d frames (divprune)", frames);
    const struct { const char *path, *name; int is_video; } inputs[2] = {
        { IMAGE, "astronaut.jpg (uniform)", 0 },
        { VIDEO, video_name, 1 },
    };
    char engines[2][256] = { "", "" }; // vtc_ctx_precision's lines
    int rc = 1;
    for (int k = 0; k < 2; k++) {
        double f32_total = NAN;
        for (int e = 0; e < 2; e++) {
            struct pipeline_opts o = { 0 };
            o.threads = threads, o.is_compress = 1;
            struct vtc_ctx_params cp = pipeline_ctx_params(&o, pipeline_default_method(inputs[k].is_video), m);
            cp.precision = e ? VTC_PRECISION_BF16 : VTC_PRECISION_F32;
            vtc_ctx *ctx = vtc_ctx_new(m, cp);
            if (!ctx) {
                fprintf(stderr, "bench: %s\n", vtc_last_error());
                goto done;
            }
            const char *line = "";
            vtc_ctx_precision(ctx, &line);
            snprintf(engines[e], sizeof engines[e], "%s", line);
            struct stages best, s;
            memset(&best, 0, sizeof best);
            best.ms[ST_TOTAL] = INFINITY;
            int bad = compress_once(ctx, m, IMAGE, frames, threads, &s); // the warm-up
            const int n = inputs[k].is_video ? video_reps : reps;
            for (int i = 0; i < n && !bad; i++) {
                bad = compress_once(ctx, m, inputs[k].path, frames, threads, &s);
                if (!bad && s.ms[ST_TOTAL] < best.ms[ST_TOTAL]) best = s;
            }
            vtc_ctx_free(ctx);
            if (bad) goto done;
            char tokens[32];
            snprintf(tokens, sizeof tokens, "%d->%d", best.n_input, best.n_kept);
            printf("%-34s %-5s %8.1f %8.1f %9.1f %8.1f %8.1f %9.1f %12s", e ? "" : inputs[k].name, e ? "bf16" : "f32",
                   best.ms[ST_DECODE], best.ms[ST_PREPROCESS], best.ms[ST_ENCODE], best.ms[ST_PROJECT],
                   best.ms[ST_PRUNE], best.ms[ST_TOTAL], tokens);
            if (e) printf(" %7.2fx\n", f32_total / best.ms[ST_TOTAL]);
            else printf("\n"), f32_total = best.ms[ST_TOTAL];
        }
    }
    printf("%-34s f32: %s; bf16: %s\n", "engines", engines[0], engines[1]);
    rc = 0;
done:
    vtc_model_free(m);
    return rc;
}

int main(int argc, char **argv) {
    int threads = 2, reps = 5, qwen_reps = 1, video_reps = 1, frames = 16, torch = 1, layers = 0, pipeline = 1, qwen = 1;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--qwen-reps") && i + 1 < argc) qwen_reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--video-reps") && i + 1 < argc) video_reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--frames") && i + 1 < argc) frames = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--layers") && i + 1 < argc) layers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-torch")) torch = 0;
        else if (!strcmp(argv[i], "--no-pipeline")) pipeline = 0;
        else if (!strcmp(argv[i], "--no-qwen")) qwen = 0;
        else if (!strcmp(argv[i], "--pipeline")) pipeline = 1;
        else {
            fprintf(stderr, "usage: %s [--threads N] [--reps R] [--qwen-reps R] [--video-reps R] [--frames N] "
                    "[--only TEXT] [--layers N] [--no-torch] [--no-pipeline] [--no-qwen]\n", argv[0]);
            return 2;
        }
    }
    if (threads < 1 || reps < 1 || qwen_reps < 1 || video_reps < 1 || frames < 1 || layers < 0) return 2;
    vtc_blas_single_thread();
    const int native = vtc_mm_bf16_native();
    printf("bench/encoder: %d thread(s), best of %d (Qwen: of %d) after one warm-up; OpenBLAS %s; oneDNN ISA %s, "
           "bf16 %s; random weights\n", threads, reps, qwen_reps, openblas_get_config(), vtc_mm_isa(),
           native ? "native" : "emulated");
    if (!native)
        printf("note: oneDNN's ISA here (%s) has no bf16 units: vtc's bf16 (and torch's bfloat16) run emulated, "
               "slower than float32;\n      the bf16 columns say nothing about a CPU with AVX512-BF16 or AMX\n",
               vtc_mm_isa());
    int header = 0;
    for (size_t ci = 0; ci < sizeof CONFIGS / sizeof CONFIGS[0]; ci++) {
        const struct config *c = &CONFIGS[ci];
        if (only && !strstr(c->name, only)) continue;
        if (!header++) print_header();
        if (bench_vit(c, threads, reps, layers, torch)) return 1;
    }
    if (qwen && (!only || strstr(QWEN.name, only))) {
        if (!header++) print_header();
        if (bench_qwen(threads, qwen_reps, layers, torch)) return 1;
    }
    if (pipeline && (!only || strstr(PIPELINE_NAME, only)))
        return bench_pipeline(threads, reps, video_reps, frames, layers);
    return 0;
}
