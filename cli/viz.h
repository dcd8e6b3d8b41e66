// --viz: a PNG of what the method kept, on the model's view of each frame.
#ifndef VTC_CLI_VIZ_H
#define VTC_CLI_VIZ_H

#include "vtc.h"

struct cli_input;

// tok may be NULL (everything kept). aspect as vtc_preprocess (0 = model default).
int viz_write(const char *path, const vtc_model *model, struct cli_input *in, const vtc_features *f,
              const vtc_tokens *tok, int aspect);

#endif
