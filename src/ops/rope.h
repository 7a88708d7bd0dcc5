// Rotary position embedding on interleaved pairs (x[2i], x[2i+1]), with the
// YaRN frequency blend (Peng et al. 2023) when a scaling factor is given.
#pragma once
#include <cstdint>
#include <vector>

namespace dsv3::ops {

struct YarnParams {
  double factor = 1.0;
  int64_t original_max_positions = 4096;
  double beta_fast = 32.0, beta_slow = 1.0;
  double mscale = 1.0, mscale_all_dim = 0.0;  // 0: absent
};

// yarn_mscale(s, m) = 0.1 * m * ln(s) + 1 for s > 1, else 1.
double yarn_mscale(double scale, double m);

class Rope {
 public:
  Rope() = default;
  // Plain RoPE: inv_freq[i] = base^(-2i/dim).
  Rope(int dim, double base);
  // YaRN: frequencies blended between extrapolation and interpolation.
  Rope(int dim, double base, const YarnParams& yarn);

  int dim() const { return dim_; }
  float attention_factor() const { return attention_factor_; }
  const std::vector<float>& inv_freq() const { return inv_freq_; }
  // Rotates x[0:dim] in place for position pos.
  void apply(float* x, int64_t pos) const;

 private:
  int dim_ = 0;
  std::vector<float> inv_freq_;
  float attention_factor_ = 1.0f;  // multiplies cos and sin
};

}  // namespace dsv3::ops
