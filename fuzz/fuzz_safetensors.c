// libFuzzer target for the safetensors reader: parse a buffer, then touch every
// tensor byte, convert every float tensor and look every name and key up again.
// Build (from the repository root):
//   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude $(pkg-config --cflags libcjson) \
//     base/common.c base/tensor.c base/mapfile.c base/safetensors.c fuzz/fuzz_safetensors.c \
//     -o fuzz_safetensors $(pkg-config --libs libcjson openblas) -lm
// Run: ./fuzz_safetensors -max_total_time=60 corpus/ tests/fixtures/files/ tests/fixtures/files/hostile/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/safetensors.h"
#include "base/tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vtc_st *st = NULL;
    if (vtc_st_open_memory(data, size, &st) != 0) {
        if (st) abort(); // failure must leave *out NULL
        return 0;
    }
    volatile uint8_t sink = 0;
    for (int i = 0; i < vtc_st_count(st); i++) {
        const vtc_tensor_view *t = vtc_st_tensor(st, i);
        if (vtc_st_find(st, t->name) != t) abort();
        int64_t n = vtc_tensor_numel(t);
        if (n < 0 || (uint64_t)n * vtc_dtype_size(t->dtype) != t->nbytes) abort();
        if (t->nbytes && (t->data < data || t->data + t->nbytes > data + size)) abort();
        for (size_t k = 0; k < t->nbytes; k++) sink ^= t->data[k];
        float *f = malloc((size_t)n * sizeof(float) + 1);
        if (!f) continue;
        int s = vtc_tensor_to_f32(t, f, (size_t)n);
        if (s != 0 && s != VTC_ERR_UNSUPPORTED) abort();
        free(f);
    }
    for (int i = 0; i < vtc_st_meta_count(st); i++) {
        const char *k, *v;
        if (vtc_st_meta_at(st, i, &k, &v) != 0 || !vtc_st_meta(st, k)) abort();
        sink ^= (uint8_t)strlen(v);
    }
    (void)sink;
    vtc_st_close(st);
    return 0;
}
