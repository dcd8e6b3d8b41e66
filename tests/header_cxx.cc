// The public header compiles as C++ (hosts include it from C++) and links.
#include "vtc.h"

#include <cstdio>

int main() {
    vtc_prune_params p = vtc_prune_params_default();
    vtc_limits lim = vtc_limits_default();
    vtc_model_params mp = vtc_model_params_default();
    vtc_ctx_params cp = vtc_ctx_params_default();
    int n = vtc_method_count();
    if (n <= 0 || !p.method || lim.max_pixels == 0 || mp.use_mmap != 1 || cp.want_embeds != 1) return 1;
    p.keep_ratio = 0.25;
    if (vtc_prune_keep_count(p, 576) != 144) return 1;
    std::printf("header_cxx: vtc %s, %d methods: 1 passed, 0 failed\n", VTC_VERSION, n);
    return 0;
}
