// Writes a GGUF file (version 3) as llama.cpp reads it: typed metadata, the
// tensor table, then each tensor's bytes at a 32-byte aligned offset. Tensors
// are declared first and their data appended in the same order, so a file
// larger than memory is written piece by piece.
#pragma once
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace dsv3 {

class GgufWriter {
 public:
  static Result<GgufWriter> create(const std::string& path);
  GgufWriter(GgufWriter&&) noexcept;
  ~GgufWriter();

  void add_u32(const std::string& key, uint32_t v);
  void add_i32(const std::string& key, int32_t v);
  void add_f32(const std::string& key, float v);
  void add_bool(const std::string& key, bool v);
  void add_string(const std::string& key, const std::string& v);
  void add_strings(const std::string& key, const std::vector<std::string>& v);
  void add_i32s(const std::string& key, const std::vector<int32_t>& v);

  // dims in ggml order (dims[0] contiguous); `bytes` its stored size.
  void add_tensor(const std::string& name, const std::vector<uint64_t>& dims, uint32_t ggml_type, uint64_t bytes);

  // Writes the header; then append() the tensors' bytes in declaration order.
  Status write_header();
  Status append(const void* data, std::size_t bytes);
  Status close();  // checks every declared byte was written

 private:
  GgufWriter() = default;
  struct Tensor {
    std::string name;
    std::vector<uint64_t> dims;
    uint32_t type = 0;
    uint64_t bytes = 0, offset = 0;
  };
  std::string path_;
  std::unique_ptr<std::ofstream> out_;
  std::string kv_;  // the encoded key/value pairs
  uint64_t kv_count_ = 0;
  std::vector<Tensor> tensors_;
  uint64_t data_bytes_ = 0;   // declared, with padding
  std::size_t current_ = 0;   // the tensor being appended
  uint64_t written_ = 0;      // of the current tensor
};

}  // namespace dsv3
