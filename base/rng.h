// The one pseudo-random generator of vtc: splitmix64 (Steele, Lea and Flood,
// "Fast splittable pseudorandom number generators", OOPSLA 2014). Seeded
// methods, seeded random models and test data all draw from it, so a seed
// means the same stream everywhere.
#ifndef VTC_RNG_H
#define VTC_RNG_H

#include <stdint.h>

// The next 64 random bits; advances *state.
static inline uint64_t vtc_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// 64 random bits (of this or a method's own generator) to uniform in [0, 1): the top 53.
static inline double vtc_rng_bits_unit(uint64_t bits) { return (double)(bits >> 11) * 0x1.0p-53; }

// Uniform in [0, 1) with 53 random bits.
static inline double vtc_rng_unit(uint64_t *state) { return vtc_rng_bits_unit(vtc_splitmix64(state)); }

#endif
