// Token files: reading features out of an already-open safetensors file.
#ifndef VTC_TOKENFILE_H
#define VTC_TOKENFILE_H

#include "base/safetensors.h"
#include "vtc.h"

// Validates and copies the tensors of s (docs/formats.md#features-file) (named `path` in messages).
int vtc_features_from_st(const vtc_st *s, const char *path, vtc_features **out);

// A features file written frame by frame (a long video's, never whole in
// memory): the same file vtc_features_save writes for the T frames. `frame` is a
// one-frame vtc_features with the arrays every frame will have (timestamps
// included or not) and the clip's metadata fields. Each frame t in [0, T) is put
// once (any order); commit renames the file into place, abort (or a failed put,
// then abort) leaves nothing at path.
typedef struct vtc_features_stream vtc_features_stream;
int vtc_features_stream_open(const vtc_features *frame, int T, const char *path, const char *const *metadata,
                             vtc_features_stream **out);
int vtc_features_stream_put(vtc_features_stream *s, const vtc_features *frame, int t);
// Ends s (freed either way).
int vtc_features_stream_commit(vtc_features_stream *s);
void vtc_features_stream_abort(vtc_features_stream *s);

#endif
