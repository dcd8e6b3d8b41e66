// libFuzzer target: the token-file reader (safetensors + the checks of docs/formats.md),
// then a prune of what loaded, so methods see every shape a file can claim.
#include <stdint.h>
#include <stdlib.h>

#include "base/safetensors.h"
#include "api/tokenfile.h"
#include "vtc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vtc_st *s = NULL;
    if (vtc_st_open_memory(data, size, &s) != 0) return 0;
    vtc_features *f = NULL;
    if (vtc_features_from_st(s, "<fuzz>", &f) == 0) {
        if (f->n <= 4096) {
            const char *methods[] = { "none", "random", "uniform", "cls" };
            for (int i = 0; i < 4; i++) {
                struct vtc_prune_params p = vtc_prune_params_default();
                p.method = methods[i];
                p.keep_ratio = f->n > 1 ? 0.5 : 0;
                vtc_tokens *t = NULL;
                if (vtc_prune(NULL, f, p, &t) == 0) vtc_tokens_free(t);
            }
        }
        vtc_features_free(f);
    }
    vtc_st_close(s);
    return 0;
}
