// The GGUF container as llama.cpp writes it (versions 2 and 3): a header of
// typed key/value metadata and tensor descriptions, then the tensors' data,
// each at an aligned offset. The file is memory-mapped and read in place;
// every count, length, offset and size is checked against the file, so no
// view reads outside it. This reads the container only; which tensors and
// keys make a DeepSeek model is the loader's business.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "base/mapped_file.h"
#include "base/status.h"

namespace dsv3 {

// A ggml tensor type: elements per block and bytes per block.
struct GgmlType {
  uint32_t id = 0;
  const char* name = "";
  uint32_t block = 1;
  uint32_t bytes = 0;
};
// The type with this id, or null for one this reader does not know.
const GgmlType* ggml_type(uint32_t id);

struct GgufTensor {
  std::string name;
  std::vector<uint64_t> dims;  // ggml order: dims[0] is the contiguous one
  const GgmlType* type = nullptr;
  uint64_t offset = 0;  // from the start of the data section
  const std::byte* data = nullptr;
  uint64_t bytes = 0;
  uint64_t elements() const;
};

// A metadata value for an error message: JSON text, bytes that are not UTF-8
// replaced, cut to 120 characters (a value may be a 100k-entry array).
std::string gguf_value_text(const nlohmann::json& v);

class GgufFile {
 public:
  static Result<GgufFile> open(const std::string& path);
  // Reads an image held elsewhere (fuzzing, tests); it must outlive the result.
  // `name` is only used in messages.
  static Result<GgufFile> parse(std::span<const std::byte> bytes, const std::string& name);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  // Key -> value. Integers, floats, bools, strings (their bytes as stored,
  // not checked as UTF-8) and arrays of these, as JSON values.
  const std::map<std::string, nlohmann::json>& metadata() const { return metadata_; }
  const nlohmann::json* find_key(const std::string& key) const;
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(const std::string& name) const;
  const std::string& name() const { return name_; }

 private:
  MappedFile file_;  // empty for parse()
  std::string name_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::map<std::string, nlohmann::json> metadata_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, std::size_t> by_name_;
};

}  // namespace dsv3
