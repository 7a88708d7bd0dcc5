#include "model/head_dtype.h"

#include "base/thread_pool.h"
#include "ops/matrix.h"
#include "tensor/ggml_blocks.h"

namespace dsv3 {

Status restore_head(Model& model, DType type, ThreadPool* pool) {
  ops::Matrix& head = model.weights.lm_head;
  if (head.dtype == type) return {};
  if (type != DType::Q8_0 && type != DType::Q6_K)
    return make_error("--head-dtype {} is not supported (q8_0 or q6_k)", dtype_name(type));
  if (head.cols % dtype_block(type) != 0)
    return make_error("--head-dtype {}: the head's rows ({} values) are not whole {}-value blocks", dtype_name(type),
                      head.cols, dtype_block(type));
  const int64_t rb = dtype_row_bytes(type, head.cols);
  model.owned_head.assign(static_cast<std::size_t>(head.rows * rb), 0);
  const ops::Matrix src = head;
  const auto convert = [&](int64_t b, int64_t e, int) {
    std::vector<float> row(static_cast<std::size_t>(src.cols));
    for (int64_t r = b; r < e; ++r) {
      ops::dequantize_row(src, r, row.data());
      quantize_blocks(type, row.data(), model.owned_head.data() + r * rb, src.cols);
    }
  };
  if (pool != nullptr) pool->parallel_for(src.rows, convert);
  else convert(0, src.rows, 0);
  ops::Matrix q;
  q.dtype = type;
  q.rows = src.rows;
  q.cols = src.cols;
  q.data = model.owned_head.data();
  head = q;
  return {};
}

}  // namespace dsv3
