// The sampling rules of sample.h.
#include "sample.h"

#include <math.h>
#include <stdlib.h>

#include "base/common.h"

#define TIME_EPS 1e-3 // seconds: timestamps this close count as equal (Matroska stores ms)

void vtc_sample_uniform(int64_t total, int32_t n, int64_t *out) {
    // numpy.linspace(0, total-1, n, dtype=int): i * step with step = (total-1)/(n-1),
    // the last one exactly total-1, then floor
    const double step = n > 1 ? (double)(total - 1) / (double)(n - 1) : 0;
    for (int32_t i = 0; i < n; i++) {
        out[i] = i == n - 1 && n > 1 ? total - 1 : (int64_t)floor((double)i * step);
        if (out[i] > total - 1) out[i] = total - 1;
    }
}

int vtc_sample_rate(int64_t total, vtc_frame_time_fn time, const void *ctx, double fps, int32_t max_samples,
                    int64_t **out, int32_t *n) {
    *out = NULL;
    *n = 0;
    if (total < 1 || !(fps > 0 && fps <= 1e6)) return VTC_ERR_ARG;
    const int64_t last = total - 1;
    const double t_last = time(ctx, last);
    // the sample counter j must stay exact in a double (a crafted timestamp gap
    // would otherwise stall j++ and the loop with it)
    if (!(t_last * fps < 0x1p52)) return VTC_ERR_LIMIT;
    int32_t cap = 16, count = 0;
    int64_t *idx = vtc_alloc((size_t)cap, sizeof *idx);
    if (!idx) return VTC_ERR_NOMEM;
    int64_t k = 0;
    for (double j = 0;; j++) {
        const double t = j / fps;
        if (t > t_last + TIME_EPS) break;
        while (k < last && time(ctx, k) < t - TIME_EPS) k++; // the first frame at or after t
        if (count > 0 && idx[count - 1] == k) continue;         // fps above the video's rate
        if (count == max_samples) {
            free(idx);
            return VTC_ERR_LIMIT;
        }
        if (count == cap) {
            int64_t *grown = vtc_realloc(idx, (size_t)cap * 2, sizeof *idx);
            if (!grown) {
                free(idx);
                return VTC_ERR_NOMEM;
            }
            idx = grown;
            cap *= 2;
        }
        idx[count++] = k;
        // skip targets that would pick this frame again (keeps the loop O(frames) for a huge fps)
        const double next = floor((time(ctx, k) + TIME_EPS) * fps);
        if (next > j) j = next;
    }
    *out = idx;
    *n = count;
    return VTC_OK;
}

int vtc_sample_qwen(int64_t total, double video_fps, int32_t n_frames, double fps, int factor, int min_frames,
                    int max_frames, int32_t max_samples, int64_t **out, int32_t *n) {
    *out = NULL;
    *n = 0;
    if (total < 1 || factor < 1) return VTC_ERR_ARG;
    double count;
    if (n_frames > 0) {
        count = nearbyint((double)n_frames / factor) * factor; // round half to even (the default rounding mode)
    } else {
        if (!(fps > 0) || !(video_fps > 0)) return VTC_ERR_ARG;
        const double cap = floor((double)(max_frames < total ? max_frames : total) / factor) * factor;
        count = (double)total / video_fps * fps;
        if (count < min_frames) count = min_frames;
        if (count > cap) count = cap;
        if (count > (double)total) count = (double)total;
        count = floor(count / factor) * factor;
    }
    if (!(count >= 1)) return VTC_ERR_ARG;
    if (count > (double)total) return VTC_ERR_UNSUPPORTED;
    const double step = (double)total / count;
    const double size_d = ceil((double)total / step);
    if (size_d > max_samples) return VTC_ERR_LIMIT;
    const int32_t size = (int32_t)size_d;
    int64_t *idx = vtc_alloc((size_t)size, sizeof *idx);
    if (!idx) return VTC_ERR_NOMEM;
    enum { LANES = 8 }; // Vectorized<float>::size() on x86's AVX2 kernels; two vectors a loop
    const int32_t vec_end = size / (2 * LANES) * (2 * LANES);
    for (int32_t i = 0; i < size; i++) {
        float v;
        if (i < vec_end) { // Vectorized<float>::arange(base, step): base + j * step in double, to float
            const int32_t i0 = i / LANES * LANES;
            const float base = (float)(step * (double)i0);
            const double lane = (double)(i - i0) * step; // its own statement: never fused into an FMA
            v = (float)((double)base + lane);
        } else {
            v = (float)(step * (double)i);
        }
        const int64_t k = (int64_t)v; // .int(): truncation
        if (k > total - 1) { // rounded past the end: the processor's video[indices] raises
            free(idx);
            return VTC_ERR_UNSUPPORTED;
        }
        idx[i] = k;
    }
    *out = idx;
    *n = size;
    return VTC_OK;
}
