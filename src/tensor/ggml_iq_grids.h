// The lookup tables that define ggml's IQ ("importance", lattice) formats,
// with ggml's names and values (see ggml_iq_grids.cpp). A grid entry packs
// 8 (uint64_t) or 4 (uint32_t) byte-sized lattice values, byte j (little
// end first) being element j; IQ1_S/IQ1_M read theirs as int8_t.
#pragma once
#include <cstdint>

namespace dsv3::ggml {

extern const uint64_t iq2xxs_grid[256];
extern const uint64_t iq2xs_grid[512];
extern const uint64_t iq2s_grid[1024];
extern const uint32_t iq3xxs_grid[256];
extern const uint32_t iq3s_grid[512];
extern const uint64_t iq1s_grid[2048];
// 7 stored sign bits -> 8 (the eighth makes the count of minus signs even)
extern const uint8_t ksigns_iq2xs[128];
// IQ4_NL/IQ4_XS: the 16 non-linear 4-bit levels
extern const int8_t kvalues_iq4nl[16];

// Byte j of a grid entry.
inline uint8_t grid_byte(uint64_t g, int j) { return static_cast<uint8_t>(g >> (8 * j)); }

}  // namespace dsv3::ggml
