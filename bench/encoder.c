// bench/encoder: vtc's encode stage at real ViT sizes (random weights — timing
// does not depend on weight values) next to a PyTorch float32 forward of the
// same blocks and the OpenBLAS sgemm peak measured in the same run.
//
//   build/bench/encoder [--threads N] [--reps R] [--no-torch]
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
#include "vision/model.h"
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

static int run_torch(const struct config *c, int threads, int reps, double *best, double *median) {
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 bench/encoder_torch.py --size %d --patch %d --hidden %d --heads %d --ffn %d "
             "--layers %d --threads %d --reps %d 2>/dev/null",
             c->size, c->patch, c->hidden, c->heads, c->ffn, c->layers, threads, reps);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[256] = "";
    int ok = fgets(line, sizeof line, p) && sscanf(line, "torch_ms %lf %lf", best, median) == 2;
    pclose(p);
    return ok ? 0 : -1;
}

int main(int argc, char **argv) {
    int threads = 2, reps = 5, torch = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-torch")) torch = 0;
        else {
            fprintf(stderr, "usage: %s [--threads N] [--reps R] [--no-torch]\n", argv[0]);
            return 2;
        }
    }
    if (threads < 1 || reps < 1) return 2;
    printf("bench/encoder: %d thread(s), best of %d after one warm-up; OpenBLAS %s; random weights\n", threads, reps,
           openblas_get_config());
    printf("%-32s %9s %9s %8s %9s %9s %8s\n", "encoder (all blocks)", "vtc ms", "GFLOP/s", "% peak", "torch ms",
           "speed-up", "GFLOP");
    for (size_t ci = 0; ci < sizeof CONFIGS / sizeof CONFIGS[0]; ci++) {
        const struct config *c = &CONFIGS[ci];
        struct vtc_model_params mp = vtc_model_params_default();
        mp.feature_layer = -1; // every block, like the PyTorch peer
        struct vtc_random_spec spec = { c->name, c->size, c->patch, c->hidden, c->heads, c->ffn, c->layers, 0, 1 };
        struct vtc_model *m = vtc_model_random(&spec, mp);
        vtc_vit_scratch *s = m ? vtc_vit_scratch_new(m, threads) : NULL;
        if (!s) {
            fprintf(stderr, "bench: %s\n", vtc_last_error());
            return 1;
        }
        const int P = m->grid * m->grid;
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
        double gflop = o1.flops / 1e9, rate = gflop / (ms[0] / 1e3);
        double peak = sgemm_peak(P + 1, c->hidden, c->ffn, 3, threads);
        double tb = NAN, tm = NAN;
        if (torch && run_torch(c, threads, reps, &tb, &tm)) tb = NAN;
        char tbuf[16] = "n/a", sbuf[16] = "n/a";
        if (!isnan(tb)) {
            snprintf(tbuf, sizeof tbuf, "%.1f", tb);
            snprintf(sbuf, sizeof sbuf, "%.2fx", tb / ms[0]);
        }
        printf("%-32s %9.1f %9.1f %7.1f%% %9s %9s %8.1f\n", c->name, ms[0], rate, 100.0 * rate / peak, tbuf, sbuf,
               gflop);
        printf("%-32s sgemm peak %.1f GFLOP/s (fc1/fc2 shapes, same run); vtc median %.1f ms\n", "", peak,
               ms[reps / 2]);
        free(ms); free(px); free(f1); free(f2);
        vtc_vit_scratch_free(s);
        vtc_model_free(m);
    }
    return 0;
}
