// bench/video: decoding the frames vtc samples, next to the ffmpeg CLI decoding
// the same frames (`ffmpeg -i IN -vf select=... -f null -`) in the same run; then
// end-to-end compression of the clip with the temporal methods (frames/s,
// tokens in -> out, LLM prefill FLOPs before -> after), on the demo model.
//
//   build/bench/video [VIDEO] [--frames N] [--reps R]     (default samples/vtest.mp4, 16)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "video/video.h"
#include "vtc.h"

static double best_of(double *ms, int n) {
    double b = ms[0];
    for (int i = 1; i < n; i++) b = ms[i] < b ? ms[i] : b;
    return b;
}

int main(int argc, char **argv) {
    const char *path = "samples/vtest.mp4";
    int n_frames = 16, reps = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--frames") && i + 1 < argc) n_frames = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (argv[i][0] != '-') path = argv[i];
        else {
            fprintf(stderr, "usage: %s [VIDEO] [--frames N] [--reps R]\n", argv[0]);
            return 2;
        }
    }
    if (n_frames < 1 || reps < 1 || reps > 100) return 2;
    vtc_video *v = NULL;
    if (vtc_video_open(path, NULL, &v)) {
        fprintf(stderr, "bench: %s\n", vtc_last_error());
        return 1;
    }
    struct vtc_video_info info;
    vtc_video_get_info(v, &info);
    int64_t *idx = NULL;
    int32_t n = 0;
    vtc_video_sample(v, n_frames, 0, &idx, &n);
    vtc_video_close(v);
    printf("bench/video: %s (%s %dx%d, %lld frames, %.2f fps); %d frames sampled; best of %d\n", path, info.codec,
           info.width, info.height, (long long)info.n_frames, info.fps, n, reps);

    // 1. decode: vtc (seek + decode + RGB) vs the CLI selecting the same frames
    double *ms = calloc((size_t)reps, sizeof(double));
    int64_t decoded = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = vtc_now_ms();
        vtc_video_open(path, NULL, &v);
        for (int i = 0; i < n; i++) {
            vtc_image *img = NULL;
            double ts;
            if (i > 0 && idx[i] == idx[i - 1]) continue;
            if (vtc_video_read(v, idx[i], &img, &ts)) {
                fprintf(stderr, "bench: %s\n", vtc_last_error());
                return 1;
            }
            vtc_image_free(img);
        }
        decoded = vtc_video_decoded_count(v);
        vtc_video_close(v);
        ms[r] = vtc_now_ms() - t0;
    }
    double vtc_ms = best_of(ms, reps);
    char select[4096] = "";
    for (int i = 0; i < n && strlen(select) < sizeof select - 32; i++)
        snprintf(select + strlen(select), sizeof select - strlen(select), "%seq(n\\,%lld)", i ? "+" : "",
                 (long long)idx[i]);
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -threads 1 -i '%s' -vf 'select=%s' -vsync 0 -pix_fmt rgb24 -f null - 2>/dev/null", path,
             select);
    double cli_ms = NAN;
    for (int r = 0; r < reps; r++) {
        double t0 = vtc_now_ms();
        int rc = system(cmd);
        ms[r] = vtc_now_ms() - t0;
        if (rc != 0) {
            ms[r] = NAN;
            break;
        }
    }
    if (!isnan(ms[0])) cli_ms = best_of(ms, reps);
    printf("\n%-40s %10s %12s %14s\n", "decode the sampled frames", "ms", "frames/s", "frames decoded");
    printf("%-40s %10.1f %12.1f %14lld\n", "vtc (seek to keyframes, decode, RGB)", vtc_ms, n / (vtc_ms / 1e3),
           (long long)decoded);
    if (!isnan(cli_ms))
        printf("%-40s %10.1f %12.1f %14lld\n", "ffmpeg -vf select (decodes all; 1 thread)", cli_ms, n / (cli_ms / 1e3),
               (long long)info.n_frames);
    else
        printf("%-40s %10s\n", "ffmpeg CLI", "n/a (not installed)");

    // 2. end to end on the demo model
    vtc_model *m = vtc_model_default(vtc_model_params_default());
    struct vtc_lm_shape lm;
    vtc_lm_preset("llava-onevision-7b", &lm);
    printf("\n%-10s %9s %9s %11s %9s %24s\n", "method", "total ms", "frames/s", "tokens", "ratio",
           "prefill TFLOP (ov-7b)");
    const char *methods[] = { "none", "dycoke", "vq", "cls", "random" };
    for (int k = 0; k < 5; k++) {
        double t0 = vtc_now_ms();
        struct vtc_sample_params sp = vtc_sample_params_default();
        sp.n_frames = n_frames;
        vtc_media *media = vtc_media_load(path, sp, NULL);
        struct vtc_ctx_params cp = vtc_ctx_params_default();
        unsigned needs = 0;
        vtc_method_needs(methods[k], &needs);
        cp.want_embeds = (needs & VTC_F_EMBEDS) != 0;
        vtc_ctx *ctx = vtc_ctx_new(m, cp);
        vtc_features *f = NULL;
        vtc_tokens *t = NULL;
        struct vtc_prune_params pp = vtc_prune_params_default();
        pp.method = methods[k];
        pp.keep_ratio = (!strcmp(methods[k], "cls") || !strcmp(methods[k], "random")) ? 0.3 : 0;
        if (!media || vtc_encode_frames(ctx, (const vtc_image *const *)media->frames, media->n_frames,
                                        media->timestamps, &f) ||
            vtc_prune(ctx, f, pp, &t)) {
            fprintf(stderr, "bench: %s: %s\n", methods[k], vtc_last_error());
            return 1;
        }
        double total = vtc_now_ms() - t0;
        struct vtc_flops before, after;
        vtc_lm_flops(&lm, f->n, 32, 0, &before);
        vtc_lm_flops(&lm, t->n, 32, 0, &after);
        char tok[32];
        snprintf(tok, sizeof tok, "%d -> %d", f->n, t->n);
        printf("%-10s %9.1f %9.1f %11s %9.3f %11.1f -> %8.1f\n", methods[k], total, n / (total / 1e3), tok,
               (double)t->n / f->n, before.prefill / 1e12, after.prefill / 1e12);
        vtc_tokens_free(t);
        vtc_features_free(f);
        vtc_ctx_free(ctx);
        vtc_media_free(media);
    }
    vtc_model_free(m);
    free(ms);
    free(idx);
    return 0;
}
