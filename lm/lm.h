// The reference decoder's API is part of the public header (include/vtc.h,
// "the language-model side"); lm/ sources include it through this file.
#ifndef VTC_LM_H
#define VTC_LM_H

#include "vtc.h"

#endif
