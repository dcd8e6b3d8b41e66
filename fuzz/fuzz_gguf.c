// libFuzzer target for the GGUF reader: parse a buffer, then read every key with
// every getter, render every value, touch every tensor byte and convert floats.
// Build (from the repository root):
//   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
//     base/common.c base/tensor.c base/mapfile.c base/gguf.c fuzz/fuzz_gguf.c \
//     -o fuzz_gguf $(pkg-config --libs openblas) -lm
// Run: ./fuzz_gguf -max_total_time=60 corpus/ tests/fixtures/files/ tests/fixtures/files/hostile/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/gguf.h"
#include "base/tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vtc_gguf *g = NULL;
    if (vtc_gguf_open_memory(data, size, &g) != 0) {
        if (g) abort(); // failure must leave *out NULL
        return 0;
    }
    volatile uint8_t sink = 0;
    char buf[160];
    for (int i = 0; i < vtc_gguf_count_kv(g); i++) {
        const char *key = vtc_gguf_key(g, i), *s;
        if (vtc_gguf_find_key(g, key) != i) abort();
        if (vtc_gguf_kv_format(g, i, buf, sizeof buf) != 0 || strlen(buf) >= sizeof buf) abort();
        int64_t iv;
        double dv;
        int bv, n;
        float fa[4];
        int32_t ia[4];
        vtc_gguf_get_int(g, key, &iv);
        vtc_gguf_get_float(g, key, &dv);
        vtc_gguf_get_bool(g, key, &bv);
        if (vtc_gguf_get_str(g, key, &s) == 0) sink ^= (uint8_t)strlen(s);
        vtc_gguf_get_arr_f32(g, key, fa, 4, &n);
        vtc_gguf_get_arr_i32(g, key, ia, 4, &n);
        if (vtc_gguf_kv_arr_type(g, i) == VTC_GGUF_STRING)
            for (int64_t k = 0; k < vtc_gguf_kv_arr_count(g, i); k++) {
                if (vtc_gguf_get_arr_str(g, key, k, &s) != 0) abort();
                sink ^= (uint8_t)strlen(s);
            }
    }
    for (int i = 0; i < vtc_gguf_count_tensors(g); i++) {
        const vtc_tensor_view *t = vtc_gguf_tensor(g, i);
        if (vtc_gguf_find_tensor(g, t->name) != t) abort();
        if (t->nbytes && (t->data < data || t->data + t->nbytes > data + size)) abort();
        for (size_t k = 0; k < t->nbytes; k++) sink ^= t->data[k];
        int64_t n = vtc_tensor_numel(t);
        if (n < 0) abort();
        if (t->dtype == VTC_DT_GGML_QUANT) continue;
        if ((uint64_t)n * vtc_dtype_size(t->dtype) != t->nbytes) abort();
        float *f = malloc((size_t)n * sizeof(float) + 1);
        if (!f) continue;
        int s = vtc_tensor_to_f32(t, f, (size_t)n);
        if (s != 0 && s != VTC_ERR_UNSUPPORTED) abort();
        free(f);
    }
    (void)sink;
    vtc_gguf_close(g);
    return 0;
}
