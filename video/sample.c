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
