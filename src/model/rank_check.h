// What the ranks of a split job check before their first pass: that every
// rank loaded its part, and that they loaded the same model (config, tensor
// names, shapes and dtypes) with the same binary, layout and kernels, since
// ranks that disagree would compute different routings and silent nonsense.
#pragma once
#include <cstdint>
#include <string_view>

#include "base/status.h"
#include "dist/communicator.h"
#include "model/model.h"

namespace dsv3 {

// A digest of the model's config and tensor table, and of `build` (the
// binary's version, the layout, the kernels' instruction set).
uint64_t model_digest(const Model& model, std::string_view build);

// Every rank's outcome compared (collective): an error naming the first rank
// that failed to load, or whose digest differs from rank 0's. Every rank gets
// the same answer; rank 0 reports it.
Status check_ranks_agree(dist::Communicator& comm, const Status& loaded, uint64_t digest);

}  // namespace dsv3
