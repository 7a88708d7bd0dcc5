#include "model/forward_pass.h"

namespace dsv3 {

Result<int64_t> check_batch(const ModelConfig& c, std::span<const SequenceChunk> batch) {
  int64_t n = 0;
  for (std::size_t k = 0; k < batch.size(); ++k) {
    const SequenceChunk& s = batch[k];
    if (s.start < 0) return make_error("forward: negative start position {}", s.start);
    if (!s.cache || s.cache->layers() != c.num_hidden_layers || s.cache->width() != c.cache_width())
      return make_error("forward: cache shape does not match the model");
    for (std::size_t j = 0; j < k; ++j)
      if (batch[j].cache == s.cache && !s.ids.empty() && !batch[j].ids.empty())
        return make_error("forward: one cache appears twice in a batch");
    for (int32_t id : s.ids)
      if (id < 0 || id >= c.vocab_size) return make_error("token id {} is out of range [0, {})", id, c.vocab_size);
    if (!s.ids.empty() && s.start > s.cache->rows().written())
      return make_error("forward: start position {} leaves a gap: the cache holds positions [0, {})", s.start,
                        s.cache->rows().written());
    n += static_cast<int64_t>(s.ids.size());
  }
  return n;
}

void mark_written(std::span<const SequenceChunk> batch) {
  for (const SequenceChunk& s : batch)
    if (!s.ids.empty()) s.cache->rows().mark_written(s.start + static_cast<int64_t>(s.ids.size()));
}

}  // namespace dsv3
