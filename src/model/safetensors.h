// The safetensors format: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}}, then the data. Every
// field is checked against the file so that no view reads outside it.
#pragma once
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/mapped_file.h"
#include "base/status.h"
#include "tensor/dtype.h"

namespace dsv3 {

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;
  std::size_t nbytes = 0;
  const std::string* file = nullptr;  // path of the file that holds it

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

std::string shape_str(const std::vector<int64_t>& shape);

class SafetensorsFile {
 public:
  static Result<SafetensorsFile> open(const std::string& path);
  // Parses an in-memory image (tests); `path` is only used in messages.
  static Result<SafetensorsFile> parse(MappedFile file);

  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const TensorView* find(const std::string& name) const;
  const std::string& path() const { return *path_; }

 private:
  MappedFile file_;
  std::unique_ptr<std::string> path_;  // stable address for TensorView::file
  std::map<std::string, TensorView> tensors_;
};

// Writes F32/I32/... tensors to a safetensors file.
struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void* data;
};
Status write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors);

// Writes a safetensors file whose tensors are produced piece by piece, so a
// checkpoint larger than memory can be written: the header comes first from
// the declared specs, then the data in declaration order.
struct TensorSpec {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t bytes() const;
};
class SafetensorsStreamWriter {
 public:
  static Result<SafetensorsStreamWriter> create(const std::string& path, const std::vector<TensorSpec>& specs);
  SafetensorsStreamWriter(SafetensorsStreamWriter&&) noexcept;
  ~SafetensorsStreamWriter();
  Status append(const void* data, std::size_t bytes);
  Status close();  // checks that every declared byte was written

 private:
  SafetensorsStreamWriter() = default;
  std::unique_ptr<std::ofstream> out_;
  std::string path_;
  uint64_t expected_ = 0, written_ = 0;
};

}  // namespace dsv3
