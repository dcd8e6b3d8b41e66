// bench/prune: every method in the registry, time per call, next to the time
// of the vision encode it follows (CLIP ViT-L/14-336, random weights, measured
// in the same run), as a percentage. Features are random with every field a
// method may read (CLS attention, keys, embeddings).
//
//   build/bench/prune [--threads N] [--reps R]
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "model.h"
#include "vision/vit.h"
#include "vtc.h"

static uint64_t rng = 12345;
static float frand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) - 0.5f;
}

static vtc_features *random_features(int T, int G, int D) {
    vtc_features *f = vtc_features_new(T, G, G, D, 64, D,
                                       VTC_F_FEATURES | VTC_F_CLS | VTC_F_CLS_ATTN | VTC_F_CLS_ATTN_LAST | VTC_F_KEYS |
                                           VTC_F_EMBEDS);
    for (size_t i = 0; i < (size_t)f->n * D; i++) f->features[i] = frand(), f->embeds[i] = frand();
    for (size_t i = 0; i < (size_t)f->n * 64; i++) f->keys[i] = frand();
    for (size_t i = 0; i < (size_t)T * D; i++) f->cls[i] = frand();
    for (int i = 0; i < f->n; i++) f->cls_attn[i] = frand() + 0.5f, f->cls_attn_last[i] = frand() + 0.5f;
    return f;
}

// Encode time of one image at ViT-L/14 (image_size 336 or 224), best of reps.
static double encode_ms(int size, int threads, int reps) {
    struct vtc_model_params mp = vtc_model_params_default();
    struct vtc_random_spec spec = { "ViT-L/14", size, 14, 1024, 16, 4096, 24, 0, 1 };
    struct vtc_model *m = vtc_model_random(&spec, mp);
    vtc_vit_scratch *s = vtc_vit_scratch_new(m, threads);
    float *px = calloc((size_t)3 * size * size, sizeof(float));
    float *feat = malloc(sizeof(float) * m->grid * m->grid * 1024);
    struct vtc_vit_out o = { .features = feat };
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t0 = vtc_now_ms();
        vtc_vit_forward(m, s, px, threads, &o);
        double ms = vtc_now_ms() - t0;
        if (ms < best) best = ms;
    }
    free(px);
    free(feat);
    vtc_vit_scratch_free(s);
    vtc_model_free(m);
    return best;
}

int main(int argc, char **argv) {
    int threads = 2, reps = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--threads N] [--reps R]\n", argv[0]);
            return 2;
        }
    }
    if (threads < 1 || reps < 1) return 2;
    double enc336 = encode_ms(336, threads, 2), enc224 = encode_ms(224, threads, 2);
    printf("bench/prune: %d thread(s), best of %d; encode (ViT-L/14, random weights, same run): "
           "336px %.0f ms/image, 224px %.0f ms/frame\n\n", threads, reps, enc336, enc224);
    struct { int T, G, D; double enc; const char *label; } cfg[] = {
        { 1, 24, 1024, enc336, "N=576 D=1024" },
        { 1, 24, 4096, enc336, "N=576 D=4096" },
        { 32, 14, 1024, 32 * enc224, "N=6272 (32x196) D=1024" },
    };
    for (int c = 0; c < 3; c++) {
        vtc_features *f = random_features(cfg[c].T, cfg[c].G, cfg[c].D);
        printf("%s — encode %.0f ms\n%-10s %8s %10s %9s\n", cfg[c].label, cfg[c].enc, "method", "kept", "ms/call",
               "% encode");
        for (int m = 0; m < vtc_method_count(); m++) {
            struct vtc_prune_params p = vtc_prune_params_default();
            p.method = vtc_method_name(m);
            p.keep = !strcmp(p.method, "dycoke") ? 0 : f->n / 9; // 576 -> 64
            if (!strcmp(p.method, "vq")) p.params = "k=64";
            double best = INFINITY;
            int kept = 0;
            for (int r = 0; r < reps; r++) {
                vtc_tokens *t = NULL;
                double t0 = vtc_now_ms();
                int st = vtc_prune(NULL, NULL, f, p, &t);
                double ms = vtc_now_ms() - t0;
                if (st) {
                    fprintf(stderr, "bench: %s: %s\n", p.method, vtc_last_error());
                    return 1;
                }
                kept = t->n;
                vtc_tokens_free(t);
                if (ms < best) best = ms;
            }
            printf("%-10s %8d %10.2f %8.2f%%\n", p.method, kept, best, 100.0 * best / cfg[c].enc);
        }
        printf("\n");
        vtc_features_free(f);
    }
    return 0;
}
