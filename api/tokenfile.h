// Token files: reading features out of an already-open safetensors file.
#ifndef VTC_TOKENFILE_H
#define VTC_TOKENFILE_H

#include "base/safetensors.h"
#include "vtc.h"

// Validates and copies the tensors of s (docs/formats.md#features-file) (named `path` in messages).
int vtc_features_from_st(const vtc_st *s, const char *path, vtc_features **out);

#endif
