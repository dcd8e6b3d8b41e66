// Laying kept tokens out as the language model takes them (pack.c).
#ifndef VTC_PACK_H
#define VTC_PACK_H

#include "vtc.h"

// Reorders t (a method's output on f, in whatever space) into the model's
// sequence and adds image_newline rows, per f->tiling and `pack` (enum
// vtc_pack): an anyres image's base tokens, then its stitched grid; a
// OneVision video's trailing newline. t->tile is set whenever f has a layout;
// t->note says what packing dropped or could not do. No-op for plain frames.
// newline [lm_dim] is the image_newline embedding (f->newline, or the model's
// when f was encoded without embeddings), NULL when there is none.
int vtc_pack_tokens(const vtc_features *f, vtc_tokens *t, int pack, const float *newline, int32_t lm_dim);

// 1 when tl describes a layout of a T x H x W grid of tiles (anyres: T = 1 +
// tiles, the window inside the stitched grid, the output grid non-empty when
// it shrinks), or no layout; 0 otherwise.
int vtc_tiling_fits(const vtc_tiling *tl, int32_t T, int32_t H, int32_t W);

#endif
