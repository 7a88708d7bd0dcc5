// Marks a loop-heavy function to be compiled for AVX-512, AVX2+FMA and the
// baseline; the loader picks the widest clone the CPU runs (GCC on x86-64).
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DSV3_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2,fma", "default")))
#else
#define DSV3_VECTOR_CLONES
#endif
