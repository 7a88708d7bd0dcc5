// Random blocks of ggml's IQ formats (which dsv3 cannot quantise to): every
// byte from splitmix64, then the block's f16 scale made finite. The same
// stream fed ggml's own dequantize_row_iq* for the golden hashes in
// tests/tensor/ggml_iq_blocks_test.cpp, so it must not change.
#pragma once
#include <cstdint>
#include <cstring>

#include "tensor/dtype.h"

namespace dsv3::test {

inline uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// max_exp caps the scale's f16 exponent field (31: any finite half).
inline void random_iq_blocks(DType t, uint8_t* out, int64_t nblocks, uint64_t seed, int max_exp = 31) {
  const int64_t bb = dtype_block_bytes(t);
  uint64_t s = seed;
  for (int64_t i = 0; i < nblocks * bb; ++i) out[i] = static_cast<uint8_t>(splitmix64(s) >> 56);
  for (int64_t i = 0; i < nblocks; ++i) {
    uint8_t* b = out + i * bb;
    uint16_t h;
    do h = static_cast<uint16_t>(splitmix64(s) >> 48);
    while (((h >> 10) & 31) >= max_exp);
    if (t == DType::IQ1_M) {  // the scale's four nibbles top the four 16-bit scale words (bytes 49, 51, 53, 55)
      for (int k = 0; k < 4; ++k)
        b[49 + 2 * k] = static_cast<uint8_t>((b[49 + 2 * k] & 0x0F) | (((h >> (4 * k)) & 0xF) << 4));
    } else {
      std::memcpy(b, &h, 2);
    }
  }
}

}  // namespace dsv3::test
