// libFuzzer target: PNG and JPEG decoding through vtc's own path, then
// preprocessing of whatever decoded (all three aspect modes).
#include <stdint.h>
#include <stdlib.h>

#include "vision/preprocess.h"
#include "vtc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct vtc_limits lim = vtc_limits_default();
    lim.max_pixels = 4 << 20; // keep each run fast; the limit path is exercised too
    vtc_image *img = vtc_image_load_memory(data, size, &lim);
    if (!img) {
        if (vtc_last_status() >= 0) abort(); // a failure must say why
        return 0;
    }
    static const float mean[3] = { 0.5f, 0.5f, 0.5f }, std[3] = { 0.5f, 0.5f, 0.5f };
    float px[3 * 16 * 16];
    // preprocessing succeeds, or refuses an absurdly elongated image with a limit error
    for (int mode = VTC_ASPECT_CROP; mode <= VTC_ASPECT_RESIZE; mode++) {
        int st = vtc_preprocess_rgb(img->rgb, img->width, img->height, 16, mode, mean, std, px);
        if (st != 0 && st != VTC_ERR_LIMIT) abort();
    }
    vtc_image_free(img);
    return 0;
}
