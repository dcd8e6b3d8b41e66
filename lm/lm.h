// The reference decoder's API is part of the public header (include/vtc.h,
// "the language-model side"); lm/ sources include it through this file, which
// adds what the layers above (the exporter, the CLI) use inside libvtc.
#ifndef VTC_LM_H
#define VTC_LM_H

#include "vtc.h"

// ---------------------------------------------------------------- inside libvtc (not exported)

// A weight of a loaded model under the name llama.cpp's GGUF "llama" files give
// it, row-major: shape [rows, cols] (n_dims 2) or [rows] (n_dims 1). data is
// owned by the model.
struct vtc_lm_weight {
    char name[48];
    int n_dims;
    int64_t shape[2];
    const float *data;
};
// The weights in the order llama.cpp's converters write them: token_embd,
// output_norm, output (only with a separate classifier), then each layer's
// blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate,
// ffn_down, ffn_up}. i in [0, vtc_lm_weight_count). Thread-safe.
int32_t vtc_lm_weight_count(const vtc_lm *lm);
int vtc_lm_weight_get(const vtc_lm *lm, int32_t i, struct vtc_lm_weight *out);

// Vocabulary entry `id` as stored (llama2.c's text: a space is ' '; up to the
// first NUL) and its merge score. Thread-safe.
int vtc_tokenizer_entry(const vtc_tokenizer *t, int32_t id, const char **text, float *score);

// Writes lm and its llama2.c vocabulary tok as a GGUF "llama" file llama.cpp
// loads (lm/export.c says what is written and what is refused): matrices F16
// when f16, else F32; vectors F32. name: general.name (NULL: "llama"). Written
// atomically. 0 or a status: VTC_ERR_UNSUPPORTED for a vocabulary llama.cpp
// cannot take, VTC_ERR_FORMAT for a non-finite weight or one outside F16.
int vtc_lm_export_gguf(const vtc_lm *lm, const vtc_tokenizer *tok, const char *path, int f16, const char *name);

#endif
