// Model-exact preprocessing: Pillow's bicubic resampling on uint8 RGB, and the
// image processors of CLIP (resize shortest edge + centre crop), SigLIP (resize
// to square) and LLaVA-1.5 (pad to square with the mean colour, then CLIP).
#ifndef VTC_PREPROCESS_H
#define VTC_PREPROCESS_H

#include <stdint.h>

#include "vtc.h"

// RGB8 resize bit-identical to Pillow's img.resize((dw, dh), Image.BICUBIC)
// (separable, antialiased: support 2 x scale when shrinking, a = -0.5, 22-bit
// fixed-point coefficients; horizontal pass first; a pass is skipped when that
// dimension does not change). src stride 3*sw, dst stride 3*dw.
int vtc_resize_bicubic_u8(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh);

// The model input for one RGB8 image: CHW float [3, size, size], normalised.
// aspect is VTC_ASPECT_CROP, _PAD or _RESIZE (see enum vtc_aspect).
int vtc_preprocess_rgb(const uint8_t *rgb, int w, int h, int size, int aspect, const float mean[3],
                       const float std[3], float *out_chw);

#endif
