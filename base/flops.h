// FLOPs accounting (docs/flops.md): the language model's prefill and decode, the
// literature's per-layer convention, the vision encoder and the projector.
//
// Units. Every function here counts FLOPs = 2 x multiply-accumulates, every
// matmul included, nothing else (norms, softmax, activations, residual adds,
// biases and RoPE are not matmuls and are left out) -- EXCEPT the vtc_flops_paper_*
// functions, which evaluate the published formula 4nd^2 + 2n^2d + 2ndm exactly as
// written (FastV, SparseVLM, PDrop, ... tables). That formula counts q/k/v/o as
// 4nd^2, full (non-causal) attention as 2n^2d and a two-matrix FFN as 2ndm, i.e.
// it is in effect a count of multiply-accumulates that ignores grouped-query
// attention and SwiGLU's third matrix. Its figures are therefore roughly half of
// ours; use them only to hold results against published tables.
//
// Conventions of the "as executed" language-model count (d = hidden,
// d_kv = hidden * kv_heads / heads, m = ffn, V = vocab, L = layers):
// - per layer and per token processed: q and o 2*d*d each, k and v 2*d*d_kv each,
//   SwiGLU gate/up/down 3 * 2*d*m;
// - attention with the causal mask as a kernel that skips masked entries executes
//   it (flash-attention, SDPA with is_causal): query i (1-based) attends to i keys,
//   scores and the weighted sum cost 2*d each per (query, key) pair, so a prefill
//   of n tokens costs 4*d * n(n+1)/2 = 2*d*n*(n+1) per layer;
// - prefill of n tokens ends with the LM head on the last position only (2*d*V):
//   those logits give the first generated token;
// - decode: generating G tokens runs G-1 single-token steps after the prefill;
//   step g (1..G-1) feeds generated token g, which attends over c = n + g cache
//   entries (itself included): per layer the linear part for one token plus 4*d*c,
//   then the LM head (2*d*V). So the LM head runs exactly once per generated token.
// - in-decoder pruning (FastV-style, k_layer > 0): layers [0, k_layer) run on the
//   prompt with all n_visual visual tokens, layers [k_layer, L) with n_kept; their
//   KV caches keep that many entries during decode. The one attention row a
//   FastV-style policy reads at layer k_layer-1 (about 2*d*n) is not counted.
#ifndef VTC_FLOPS_H
#define VTC_FLOPS_H

#include <stdint.h>
#include "vtc.h"

// Largest token count the FLOPs functions accept (prompt, kept or generated).
#define VTC_FLOPS_MAX_TOKENS ((int64_t)1 << 40)

// ---------------------------------------------------------------- language model

// Name of preset i for vtc_lm_preset (0, 1, ...); NULL past the last. Static; thread-safe.
const char *vtc_lm_preset_name(int i);

// 0 if the shape is usable (all fields >= 1, heads divides hidden, kv_heads divides
// heads), else VTC_ERR_ARG with the reason in vtc_last_error(). Thread-safe.
int vtc_lm_shape_check(const struct vtc_lm_shape *lm);

// The functions below assume a shape that passed vtc_lm_shape_check and token
// counts in [0, VTC_FLOPS_MAX_TOKENS]. Pure; thread-safe.

// Linear (token-proportional) FLOPs of one decoder layer for one token:
// 2*(2*d*d + 2*d*d_kv + 3*d*m).
double vtc_flops_lm_layer_linear(const struct vtc_lm_shape *lm);
// One decoder layer over a prefill of n tokens, causal attention as executed.
double vtc_flops_lm_layer_prefill(const struct vtc_lm_shape *lm, int64_t n);
// One decoder layer for one new token attending over c cache entries (itself included).
double vtc_flops_lm_layer_decode(const struct vtc_lm_shape *lm, int64_t c);
// The LM head (hidden -> vocab) on n_tokens positions: 2*d*V*n_tokens.
double vtc_flops_lm_head(const struct vtc_lm_shape *lm, int64_t n_tokens);
// Prefill of n tokens through all layers plus the last position's logits (0 for n = 0).
double vtc_flops_lm_prefill(const struct vtc_lm_shape *lm, int64_t n);
// One decode step at context c through all layers, LM head included.
double vtc_flops_lm_decode_step(const struct vtc_lm_shape *lm, int64_t c);
// The G-1 decode steps that follow a prefill of n_prompt tokens to generate n_gen = G
// tokens (0 when n_gen <= 1).
double vtc_flops_lm_decode(const struct vtc_lm_shape *lm, int64_t n_prompt, int64_t n_gen);

// The full account with optional in-decoder pruning: layers [0, k_layer) see
// n_visual visual tokens, layers [k_layer, L) see n_kept (k_layer = 0: pruning
// before the LM, all layers see n_kept; k_layer = L or n_kept = n_visual: none).
// Fills every field of *out; paper_prefill is vtc_flops_paper_prefill_split.
// decode_per_token is decode / (n_gen - 1), or when no decode step runs (n_gen <= 1)
// the cost the first step would have. VTC_ERR_ARG on a bad shape, a negative or
// too large count, n_kept > n_visual, k_layer outside [0, L], or an empty prompt.
// vtc_lm_flops(lm, nv, nt, ng, out) is vtc_lm_flops_split(lm, nv, nv, 0, nt, ng, out).
// Thread-safe.
int vtc_lm_flops_split(const struct vtc_lm_shape *lm, int64_t n_visual, int64_t n_kept,
                       int32_t k_layer, int64_t n_text, int64_t n_gen, struct vtc_flops *out);

// ---------------------------------------------------------------- the paper convention

// f(n) = 4*n*d^2 + 2*n^2*d + 2*n*d*m, exactly as published (see the units note above).
double vtc_flops_paper_layer(const struct vtc_lm_shape *lm, int64_t n);
// L * f(n).
double vtc_flops_paper_prefill(const struct vtc_lm_shape *lm, int64_t n);
// K * f(n) + (L - K) * f(n_hat): n tokens in the first K layers, n_hat after
// (FastV's "K" is the layer after which it prunes). K is clamped to [0, L].
double vtc_flops_paper_prefill_split(const struct vtc_lm_shape *lm, int64_t n, int64_t n_hat, int K);

// The layer-averaged equivalent token count of in-decoder pruning (docs/flops.md):
// (K * n + (L - K) * n_hat) / L -- what FastV/SparseVLM tables call "64 tokens".
// K is clamped to [0, L]; 0 if L <= 0.
double vtc_flops_equiv_tokens(int64_t n, int64_t n_hat, int K, int L);

// ---------------------------------------------------------------- vision encoder, projector

// The dimensions of a ViT (CLIP / SigLIP) that its FLOPs depend on. Input is RGB.
struct vtc_vit_dims {
    int32_t hidden;     // D
    int32_t ffn;        // F, the MLP's inner width (two matrices, GELU between)
    int32_t patch_size; // p: each patch is a 3*p*p vector
};

// Patch embedding (the stride-p convolution as a matmul): 2 * n_patches * 3p^2 * D.
double vtc_flops_vit_patch_embed(const struct vtc_vit_dims *v, int64_t n_patches);
// One full encoder block over n_tokens tokens (patches + CLS if any): q, k, v, o
// 4 * 2*n*D^2, full bidirectional attention 4*n^2*D (scores and weighted sum,
// summed over heads), MLP 2 * 2*n*D*F.
double vtc_flops_vit_block(const struct vtc_vit_dims *v, int64_t n_tokens);
// One image through the encoder as executed: patch embedding of n_patches patches,
// then n_blocks full blocks over n_tokens tokens (e.g. LLaVA-1.5: 576 patches,
// 577 tokens, 23 blocks -- the penultimate layer's output is the feature).
// Multiply by the frame count for a clip.
double vtc_flops_vit(const struct vtc_vit_dims *v, int64_t n_patches, int64_t n_tokens, int32_t n_blocks);
// LLaVA's two-layer MLP projector on n tokens: in_dim -> mid_dim -> out_dim,
// 2*n*(in_dim*mid_dim + mid_dim*out_dim).
double vtc_flops_projector(int64_t n, int32_t in_dim, int32_t mid_dim, int32_t out_dim);

#endif
