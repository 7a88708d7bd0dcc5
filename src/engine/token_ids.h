// Token id sequences as every entry point takes them: checked against the
// vocabulary in one place, and matched against what a cache already holds.
#pragma once
#include <cstdint>
#include <span>

#include "base/status.h"

namespace dsv3 {

// An error naming the first id outside [0, vocab).
Status check_token_ids(std::span<const int32_t> ids, int64_t vocab);

// How much of a cache holding `held` a new prompt can keep: their common
// prefix, at most all but the prompt's last token (which must run to give
// the logits of the next one).
int64_t reusable_prefix(std::span<const int32_t> held, std::span<const int32_t> prompt);

}  // namespace dsv3
