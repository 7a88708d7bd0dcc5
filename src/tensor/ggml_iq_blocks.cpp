// Exact dequantisation of ggml's IQ formats, one block at a time, in the
// order of operations of ggml's dequantize_row_iq* (so equal bit for bit).
#include <cstring>

#include "tensor/ggml_blocks.h"
#include "tensor/ggml_iq_grids.h"

namespace dsv3::ggml {
namespace {

inline uint16_t u16_at(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t u32_at(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// +-1.0f from a sign bit, built from bits: a branch on random signs
// mispredicted half the time (10x slower).
inline float unit(uint32_t bit) {
  const uint32_t u = 0x3F800000u | (bit << 31);
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// 8 elements of scale db from a uint8 grid entry and 8 sign bits; times +-1
// as ggml writes it (also equal for a NaN from an infinite scale).
inline void put8(float* y, float db, uint64_t g, uint8_t signs) {
  for (int j = 0; j < 8; ++j) y[j] = db * static_cast<float>(grid_byte(g, j)) * unit((signs >> j) & 1u);
}
// 4 + 4 elements from two uint32 grid entries (IQ3).
inline void put4x2(float* y, float db, uint32_t g1, uint32_t g2, uint8_t signs) {
  put8(y, db, static_cast<uint64_t>(g1) | (static_cast<uint64_t>(g2) << 32), signs);
}

void dq_iq2_xxs(const uint8_t* b, float* y) {
  const float d = half_at(b + IQ2_XXS::d);
  for (int ib = 0; ib < 8; ++ib, y += 32) {
    const uint8_t* q = b + IQ2_XXS::qs + 8 * ib;  // 4 grid indices, then 4x7 sign bits and a 4-bit scale
    const uint32_t aux = u32_at(q + 4);
    const float db = d * (0.5f + static_cast<float>(aux >> 28)) * 0.25f;
    for (int l = 0; l < 4; ++l) put8(y + 8 * l, db, iq2xxs_grid[q[l]], ksigns_iq2xs[(aux >> (7 * l)) & 127]);
  }
}

void dq_iq2_xs(const uint8_t* b, float* y) {
  const float d = half_at(b + IQ2_XS::d);
  for (int ib = 0; ib < 8; ++ib, y += 32) {
    const uint8_t sc = b[IQ2_XS::scales + ib];
    const float db[2] = {d * (0.5f + static_cast<float>(sc & 0xF)) * 0.25f,
                         d * (0.5f + static_cast<float>(sc >> 4)) * 0.25f};
    for (int l = 0; l < 4; ++l) {
      const uint16_t q = u16_at(b + IQ2_XS::qs + 2 * (4 * ib + l));  // 9-bit index, 7 sign bits
      put8(y + 8 * l, db[l / 2], iq2xs_grid[q & 511], ksigns_iq2xs[q >> 9]);
    }
  }
}

void dq_iq2_s(const uint8_t* b, float* y) {
  const float d = half_at(b + IQ2_S::d);
  for (int ib = 0; ib < 8; ++ib, y += 32) {
    const uint8_t sc = b[IQ2_S::scales + ib], qh = b[IQ2_S::qh + ib];
    const float db[2] = {d * (0.5f + static_cast<float>(sc & 0xF)) * 0.25f,
                         d * (0.5f + static_cast<float>(sc >> 4)) * 0.25f};
    for (int l = 0; l < 4; ++l) {
      const int idx = b[IQ2_S::qs + 4 * ib + l] | (((qh >> (2 * l)) & 3) << 8);  // 8 + 2 bits
      put8(y + 8 * l, db[l / 2], iq2s_grid[idx], b[IQ2_S::signs + 4 * ib + l]);
    }
  }
}

void dq_iq3_xxs(const uint8_t* b, float* y) {
  const float d = half_at(b + IQ3_XXS::d);
  for (int ib = 0; ib < 8; ++ib, y += 32) {
    const uint8_t* q = b + IQ3_XXS::qs + 8 * ib;
    const uint32_t aux = u32_at(b + IQ3_XXS::scales_signs + 4 * ib);
    const float db = d * (0.5f + static_cast<float>(aux >> 28)) * 0.5f;
    for (int l = 0; l < 4; ++l)
      put4x2(y + 8 * l, db, iq3xxs_grid[q[2 * l]], iq3xxs_grid[q[2 * l + 1]], ksigns_iq2xs[(aux >> (7 * l)) & 127]);
  }
}

void dq_iq3_s(const uint8_t* b, float* y) {
  const float d = half_at(b + IQ3_S::d);
  for (int ib = 0; ib < 8; ++ib, y += 32) {
    const uint8_t sc = b[IQ3_S::scales + ib / 2], qh = b[IQ3_S::qh + ib];
    const float db = d * static_cast<float>(1 + 2 * (ib % 2 ? sc >> 4 : sc & 0xF));
    const uint8_t* q = b + IQ3_S::qs + 8 * ib;
    for (int l = 0; l < 4; ++l) {
      const int i1 = q[2 * l] | (((qh >> (2 * l)) & 1) << 8), i2 = q[2 * l + 1] | (((qh >> (2 * l + 1)) & 1) << 8);
      put4x2(y + 8 * l, db, iq3s_grid[i1], iq3s_grid[i2], b[IQ3_S::signs + 4 * ib + l]);
    }
  }
}

// IQ1: 8 int8 grid values (-1, 0, 1) shifted by +-1/8.
inline void put8_iq1(float* y, float dl, uint64_t g, float delta) {
  for (int j = 0; j < 8; ++j) y[j] = dl * (static_cast<float>(static_cast<int8_t>(grid_byte(g, j))) + delta);
}
constexpr float kIq1Delta = 0.125f;

void dq_iq1_s(const uint8_t* b, float* y) {
  const float d = half_at(b + IQ1_S::d);
  for (int ib = 0; ib < 8; ++ib, y += 32) {
    const uint16_t qh = u16_at(b + IQ1_S::qh + 2 * ib);  // 4x3 index bits, 3-bit scale, delta sign
    const float dl = d * static_cast<float>(2 * ((qh >> 12) & 7) + 1);
    const float delta = qh & 0x8000 ? -kIq1Delta : kIq1Delta;
    for (int l = 0; l < 4; ++l)
      put8_iq1(y + 8 * l, dl, iq1s_grid[b[IQ1_S::qs + 4 * ib + l] | (((qh >> (3 * l)) & 7) << 8)], delta);
  }
}

void dq_iq1_m(const uint8_t* b, float* y) {
  uint16_t sc[4];
  std::memcpy(sc, b + IQ1_M::scales, 8);
  // the block's f16 scale is spread over the top nibbles of the four scale words
  const uint16_t dh = static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00F0) | ((sc[2] >> 4) & 0x0F00) |
                                            (sc[3] & 0xF000));
  uint8_t dhb[2];
  std::memcpy(dhb, &dh, 2);
  const float d = half_at(dhb);
  for (int ib = 0; ib < 8; ++ib, y += 32) {
    const int shift = 6 * (ib % 2);
    const float dl[2] = {d * static_cast<float>(2 * ((sc[ib / 2] >> shift) & 7) + 1),
                         d * static_cast<float>(2 * ((sc[ib / 2] >> (shift + 3)) & 7) + 1)};
    const uint8_t* q = b + IQ1_M::qs + 4 * ib;
    const uint8_t* qh = b + IQ1_M::qh + 2 * ib;
    for (int l = 0; l < 4; ++l) {
      const uint8_t h = qh[l / 2] >> (4 * (l % 2));  // 3 index bits, then the delta's sign
      put8_iq1(y + 8 * l, dl[l / 2], iq1s_grid[q[l] | ((h & 7) << 8)], h & 8 ? -kIq1Delta : kIq1Delta);
    }
  }
}

void dq_iq4_nl(const uint8_t* b, float* y) {
  const float d = half_at(b + IQ4_NL::d);
  for (int j = 0; j < 16; ++j) {
    const uint8_t q = b[IQ4_NL::qs + j];
    y[j] = d * static_cast<float>(kvalues_iq4nl[q & 0xF]);
    y[j + 16] = d * static_cast<float>(kvalues_iq4nl[q >> 4]);
  }
}

void dq_iq4_xs(const uint8_t* b, float* y) {
  const float d = half_at(b + IQ4_XS::d);
  const uint16_t sh = u16_at(b + IQ4_XS::scales_h);
  for (int ib = 0; ib < 8; ++ib, y += 32) {
    const float dl = d * static_cast<float>(iq4xs_scale(b[IQ4_XS::scales_l + ib / 2], sh, ib) - 32);
    const uint8_t* q = b + IQ4_XS::qs + 16 * ib;
    for (int j = 0; j < 16; ++j) {
      y[j] = dl * static_cast<float>(kvalues_iq4nl[q[j] & 0xF]);
      y[j + 16] = dl * static_cast<float>(kvalues_iq4nl[q[j] >> 4]);
    }
  }
}

}  // namespace

DequantizeBlock iq_dequantizer(DType t) {
  switch (t) {
    case DType::IQ4_XS: return dq_iq4_xs;
    case DType::IQ4_NL: return dq_iq4_nl;
    case DType::IQ2_XXS: return dq_iq2_xxs;
    case DType::IQ1_S: return dq_iq1_s;
    case DType::IQ3_XXS: return dq_iq3_xxs;
    case DType::IQ2_XS: return dq_iq2_xs;
    case DType::IQ1_M: return dq_iq1_m;
    case DType::IQ2_S: return dq_iq2_s;
    case DType::IQ3_S: return dq_iq3_s;
    default: return nullptr;
  }
}

}  // namespace dsv3::ggml
