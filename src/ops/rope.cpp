#include "ops/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace dsv3::ops {

double yarn_mscale(double scale, double m) { return scale <= 1.0 ? 1.0 : 0.1 * m * std::log(scale) + 1.0; }

namespace {
// Frequencies are rounded to f32 as the reference implementations hold them.
// base^(2i/dim), the wavelength divided by 2 pi.
std::vector<float> pos_freqs(int dim, double base) {
  std::vector<float> f(dim / 2);
  for (int i = 0; i < dim / 2; ++i) {
    const float expo = static_cast<float>(2 * i) / static_cast<float>(dim);
    f[i] = std::pow(static_cast<float>(base), expo);
  }
  return f;
}
std::vector<float> base_inv_freq(int dim, double base) {
  std::vector<float> f = pos_freqs(dim, base);
  for (float& v : f) v = 1.0f / v;
  return f;
}

// Dimension index whose wavelength makes num_rotations turns over max_pos.
double correction_dim(double num_rotations, int dim, double base, double max_pos) {
  return (dim * std::log(max_pos / (num_rotations * 2.0 * std::numbers::pi))) / (2.0 * std::log(base));
}
}  // namespace

Rope::Rope(int dim, double base) : dim_(dim), inv_freq_(base_inv_freq(dim, base)) {}

Rope::Rope(int dim, double base, const YarnParams& y) : dim_(dim) {
  const std::vector<float> pf = pos_freqs(dim, base);
  const double max_pos = static_cast<double>(y.original_max_positions);
  double low = std::floor(correction_dim(y.beta_fast, dim, base, max_pos));
  double high = std::ceil(correction_dim(y.beta_slow, dim, base, max_pos));
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;  // avoid a zero-width ramp
  inv_freq_.resize(dim / 2);
  for (int i = 0; i < dim / 2; ++i) {
    // ramp: 0 below low (pure extrapolation), 1 above high (pure interpolation)
    float ramp = static_cast<float>((i - low) / (high - low));
    ramp = std::clamp(ramp, 0.0f, 1.0f);
    const float keep = 1.0f - ramp;  // weight of the original frequency
    const float extra = 1.0f / pf[i];
    const float interp = 1.0f / (static_cast<float>(y.factor) * pf[i]);
    inv_freq_[i] = interp * (1.0f - keep) + extra * keep;
  }
  if (y.mscale_all_dim != 0.0 && y.mscale != 0.0)
    attention_factor_ = static_cast<float>(yarn_mscale(y.factor, y.mscale) / yarn_mscale(y.factor, y.mscale_all_dim));
  else
    attention_factor_ = static_cast<float>(yarn_mscale(y.factor, 1.0));
}

void Rope::apply(float* x, int64_t pos) const {
  const float p = static_cast<float>(pos);
  for (int i = 0; i < dim_ / 2; ++i) {
    const float angle = inv_freq_[i] * p;  // f32 product, as the reference
    const float c = static_cast<float>(std::cos(static_cast<double>(angle))) * attention_factor_;
    const float s = static_cast<float>(std::sin(static_cast<double>(angle))) * attention_factor_;
    const float a = x[2 * i], b = x[2 * i + 1];
    x[2 * i] = a * c - b * s;
    x[2 * i + 1] = b * c + a * s;
  }
}

}  // namespace dsv3::ops
