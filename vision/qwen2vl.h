// The Qwen2-VL / Qwen2.5-VL vision tower (qwen2vl.c): its loader, forward pass
// and scratch, behind the family interface (family.h, family_qwen2vl.c).
#ifndef VTC_QWEN2VL_H
#define VTC_QWEN2VL_H

#include "vit.h"

struct vtc_load;

// Fills m (whose family is set: qwen2vl, or qwen2.5vl with its gated MLP) from
// ld: Hugging Face safetensors with the `visual.*` (or `model.visual.*`)
// tensors, or a llama.cpp mmproj GGUF of projector type qwen2vl_merger /
// qwen2.5vl_merger (docs/formats.md#gguf-mmproj-files).
int vtc_qwen2vl_load(struct vtc_model *m, struct vtc_load *ld);
// 1 when ld holds a Qwen2-VL (gated = 0) / Qwen2.5-VL (gated = 1) tower.
int vtc_qwen2vl_claims(const struct vtc_load *ld, int gated);

vtc_vit_scratch *vtc_qwen2vl_scratch_new(const struct vtc_model *m, int n_threads, struct vtc_bf16 *bf);
void vtc_qwen2vl_scratch_free(vtc_vit_scratch *s);
// family.h's forward_grid.
int vtc_qwen2vl_forward(const struct vtc_model *m, vtc_vit_scratch *s, const float *patches, const int grid[3],
                        int n_threads, struct vtc_vit_out *out);

#endif
