// libFuzzer target: video demux and decode through a custom AVIOContext over the
// fuzz buffer: open (one or two decoding threads, by the input's length), sample 3
// frames, plan them (non-reference frames skipped), decode them.
#include <stdint.h>
#include <stdlib.h>

#include "video/video.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct vtc_limits lim = vtc_limits_default();
    lim.max_pixels = 1 << 20;
    lim.max_frames = 16;
    vtc_video *v = NULL;
    if (vtc_video_open_memory(data, size, &lim, 1 + (int)(size & 1), &v) != 0) return 0;
    int64_t *idx = NULL;
    int32_t n = 0;
    if (vtc_video_sample(v, 3, 0, 0, &idx, &n) == 0 && vtc_video_plan(v, idx, n) == 0) {
        for (int i = 0; i < n; i++) {
            vtc_image *img = NULL;
            double ts;
            if (vtc_video_read(v, idx[i], &img, &ts) != 0) break;
            vtc_image_free(img);
        }
        free(idx);
    }
    vtc_video_close(v);
    return 0;
}
