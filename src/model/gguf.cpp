#include "model/gguf.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <type_traits>

namespace dsv3 {
namespace {

// Block sizes of ggml's types (ggml.c's type traits); ids 4 and 5 are retired.
constexpr std::array<GgmlType, 29> kTypes{{
    {0, "F32", 1, 4},         {1, "F16", 1, 2},          {2, "Q4_0", 32, 18},      {3, "Q4_1", 32, 20},
    {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},       {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 36},
    {10, "Q2_K", 256, 84},    {11, "Q3_K", 256, 110},    {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292},    {16, "IQ2_XXS", 256, 66}, {17, "IQ2_XS", 256, 74},
    {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},    {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},
    {22, "IQ2_S", 256, 82},   {23, "IQ4_XS", 256, 136},  {24, "I8", 1, 1},         {25, "I16", 1, 2},
    {26, "I32", 1, 4},        {27, "I64", 1, 8},         {28, "F64", 1, 8},        {29, "IQ1_M", 256, 56},
    {30, "BF16", 1, 2},
}};

constexpr uint32_t kMaxDims = 4;                   // GGML_MAX_DIMS
constexpr uint64_t kMaxStringBytes = 1ull << 30;   // any one key or string value
constexpr int kMaxArrayNesting = 4;                 // arrays of arrays of ...

enum ValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

// Smallest encoded size of one value of a type (bounds an array's count by the bytes left).
uint64_t min_size(uint32_t t) {
  switch (t) {
    case kU8: case kI8: case kBool: return 1;
    case kU16: case kI16: return 2;
    case kU32: case kI32: case kF32: return 4;
    case kU64: case kI64: case kF64: case kString: return 8;
    case kArray: return 12;
    default: return 0;
  }
}

// Little-endian reads from the header, each checked against the bytes left;
// the first failure is kept and every later read fails too.
class Reader {
 public:
  Reader(std::span<const std::byte> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  template <class T>
  bool read(T& out, const char* what) {
    if (!need(sizeof(T), what)) return false;
    std::memcpy(&out, bytes_.data() + pos_, sizeof(T));  // little-endian hosts only (x86-64, aarch64)
    pos_ += sizeof(T);
    return true;
  }
  bool string(std::string& out, const char* what) {
    uint64_t n = 0;
    if (!read(n, what)) return false;
    if (n > kMaxStringBytes) return fail(fmt::format("{}: {} bytes long, more than the 1 GiB allowed", what, n));
    if (!need(n, what)) return false;
    out.assign(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<std::size_t>(n));
    pos_ += n;
    return true;
  }
  bool need(uint64_t n, const char* what) {
    if (failed()) return false;
    if (n > bytes_.size() - pos_)
      return fail(fmt::format("{}: needs {} bytes at offset {}, past the end of the file ({} bytes)", what, n, pos_,
                              bytes_.size()));
    return true;
  }
  bool fail(std::string why) {
    if (!failed()) error_ = fmt::format("{}: {}", name_, why);
    return false;
  }
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return bytes_.size() - pos_; }

 private:
  std::span<const std::byte> bytes_;
  const std::string& name_;
  uint64_t pos_ = 0;
  std::string error_;
};

bool read_value(Reader& r, uint32_t type, nlohmann::json& out, const std::string& key, int depth);

template <class T>
bool read_number(Reader& r, nlohmann::json& out, const std::string& key) {
  T v{};
  if (!r.read(v, key.c_str())) return false;
  if constexpr (std::is_floating_point_v<T>) {
    out = static_cast<double>(v);
  } else {
    out = v;
  }
  return true;
}

bool read_array(Reader& r, nlohmann::json& out, const std::string& key, int depth) {
  if (depth >= kMaxArrayNesting) return r.fail(fmt::format("key {}: arrays nested deeper than {}", key, kMaxArrayNesting));
  uint32_t type = 0;
  uint64_t count = 0;
  if (!r.read(type, key.c_str()) || !r.read(count, key.c_str())) return false;
  const uint64_t each = min_size(type);
  if (each == 0) return r.fail(fmt::format("key {}: array of unknown value type {}", key, type));
  if (count > r.left() / each)
    return r.fail(fmt::format("key {}: {} array items cannot fit in the {} bytes left", key, count, r.left()));
  out = nlohmann::json::array();
  out.get_ref<nlohmann::json::array_t&>().reserve(static_cast<std::size_t>(count));
  for (uint64_t i = 0; i < count; ++i) {
    nlohmann::json v;
    if (!read_value(r, type, v, key, depth + 1)) return false;
    out.push_back(std::move(v));
  }
  return true;
}

bool read_value(Reader& r, uint32_t type, nlohmann::json& out, const std::string& key, int depth) {
  switch (type) {
    case kU8: return read_number<uint8_t>(r, out, key);
    case kI8: return read_number<int8_t>(r, out, key);
    case kU16: return read_number<uint16_t>(r, out, key);
    case kI16: return read_number<int16_t>(r, out, key);
    case kU32: return read_number<uint32_t>(r, out, key);
    case kI32: return read_number<int32_t>(r, out, key);
    case kU64: return read_number<uint64_t>(r, out, key);
    case kI64: return read_number<int64_t>(r, out, key);
    case kF32: return read_number<float>(r, out, key);
    case kF64: return read_number<double>(r, out, key);
    case kBool: {
      uint8_t b = 0;
      if (!r.read(b, key.c_str())) return false;
      if (b > 1) return r.fail(fmt::format("key {}: bool value {} is neither 0 nor 1", key, b));
      out = b == 1;
      return true;
    }
    case kString: {
      std::string s;
      if (!r.string(s, key.c_str())) return false;
      out = std::move(s);
      return true;
    }
    case kArray: return read_array(r, out, key, depth);
    default: return r.fail(fmt::format("key {}: unknown value type {}", key, type));
  }
}

}  // namespace

std::string gguf_value_text(const nlohmann::json& v) {
  std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > 120) s = s.substr(0, 117) + "...";
  return s;
}

const GgmlType* ggml_type(uint32_t id) {
  for (const GgmlType& t : kTypes)
    if (t.id == id) return &t;
  return nullptr;
}

uint64_t GgufTensor::elements() const {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  return n;
}

const nlohmann::json* GgufFile::find_key(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const GgufTensor* GgufFile::find_tensor(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

Result<GgufFile> GgufFile::open(const std::string& path) {
  DSV3_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path));
  const std::span<const std::byte> bytes(file.data(), file.size());
  DSV3_ASSIGN_OR_RETURN(GgufFile g, parse(bytes, path));
  g.file_ = std::move(file);  // the views point into the mapping, which a move keeps
  return g;
}

Result<GgufFile> GgufFile::parse(std::span<const std::byte> bytes, const std::string& name) {
  GgufFile g;
  g.name_ = name;
  Reader r(bytes, g.name_);
  char magic[4] = {};
  if (!r.read(magic, "magic")) return make_error("{}", r.error());
  if (std::memcmp(magic, "GGUF", 4) != 0) return make_error("{}: not a GGUF file (no \"GGUF\" magic)", name);
  uint64_t n_tensors = 0, n_keys = 0;
  if (!r.read(g.version_, "version")) return make_error("{}", r.error());
  if (g.version_ != 2 && g.version_ != 3)
    return make_error("{}: GGUF version {} is not supported (2 or 3)", name, g.version_);
  if (!r.read(n_tensors, "tensor count") || !r.read(n_keys, "metadata count")) return make_error("{}", r.error());
  // each key takes at least 12 bytes, each tensor description at least 28
  if (n_keys > r.left() / 12) return make_error("{}: {} metadata keys cannot fit in the file", name, n_keys);
  for (uint64_t i = 0; i < n_keys; ++i) {
    std::string key;
    uint32_t type = 0;
    nlohmann::json value;
    if (!r.string(key, "metadata key") || !r.read(type, "metadata value type") || !read_value(r, type, value, key, 0))
      return make_error("{}", r.error());
    if (!g.metadata_.emplace(key, std::move(value)).second) return make_error("{}: key {} appears twice", name, key);
  }
  if (const nlohmann::json* a = g.find_key("general.alignment")) {
    if (!a->is_number_unsigned() || a->get<uint64_t>() == 0 || (a->get<uint64_t>() & (a->get<uint64_t>() - 1)) != 0 ||
        a->get<uint64_t>() > (1u << 20))
      return make_error("{}: general.alignment {} is not a power of two up to 1 MiB", name,
                        a->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));  // strings may not be UTF-8
    g.alignment_ = a->get<uint64_t>();
  }
  if (n_tensors > r.left() / 28) return make_error("{}: {} tensors cannot fit in the file", name, n_tensors);
  g.tensors_.reserve(static_cast<std::size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    uint32_t n_dims = 0, type = 0;
    if (!r.string(t.name, "tensor name") || !r.read(n_dims, "tensor dimensions")) return make_error("{}", r.error());
    if (n_dims == 0 || n_dims > kMaxDims)
      return make_error("{}: tensor {}: {} dimensions (1 to {})", name, t.name, n_dims, kMaxDims);
    t.dims.resize(n_dims);
    for (uint64_t& d : t.dims)
      if (!r.read(d, "tensor shape")) return make_error("{}", r.error());
    if (!r.read(type, "tensor type") || !r.read(t.offset, "tensor offset")) return make_error("{}", r.error());
    t.type = ggml_type(type);
    if (t.type == nullptr) return make_error("{}: tensor {}: unknown ggml type {}", name, t.name, type);
    uint64_t elements = 1;
    for (uint64_t d : t.dims) {
      if (d == 0 || elements > std::numeric_limits<uint64_t>::max() / d)
        return make_error("{}: tensor {}: shape has a zero or overflowing dimension", name, t.name);
      elements *= d;
    }
    if (t.dims[0] % t.type->block != 0)
      return make_error("{}: tensor {}: first dimension {} is not a whole number of {} blocks of {}", name, t.name,
                        t.dims[0], t.type->name, t.type->block);
    if (elements / t.type->block > std::numeric_limits<uint64_t>::max() / t.type->bytes)
      return make_error("{}: tensor {}: too large", name, t.name);
    t.bytes = elements / t.type->block * t.type->bytes;
    if (t.offset % g.alignment_ != 0)
      return make_error("{}: tensor {}: offset {} is not a multiple of the alignment {}", name, t.name, t.offset,
                        g.alignment_);
    if (!g.by_name_.emplace(t.name, g.tensors_.size()).second)
      return make_error("{}: tensor {} appears twice", name, t.name);
    g.tensors_.push_back(std::move(t));
  }
  // the data section starts at the next multiple of the alignment
  const uint64_t start = (r.pos() + g.alignment_ - 1) / g.alignment_ * g.alignment_;
  if (start > bytes.size() && !g.tensors_.empty())
    return make_error("{}: the data section starts at {}, past the end of the file ({} bytes)", name, start, bytes.size());
  const uint64_t data_size = start <= bytes.size() ? bytes.size() - start : 0;
  std::vector<const GgufTensor*> by_offset;
  for (GgufTensor& t : g.tensors_) {
    if (t.offset > data_size || t.bytes > data_size - t.offset)
      return make_error("{}: tensor {}: {} bytes at offset {} lie outside the data section ({} bytes; file truncated?)",
                        name, t.name, t.bytes, t.offset, data_size);
    t.data = bytes.data() + start + t.offset;
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (std::size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i - 1]->offset + by_offset[i - 1]->bytes > by_offset[i]->offset)
      return make_error("{}: tensor {}: data overlaps tensor {}", name, by_offset[i]->name, by_offset[i - 1]->name);
  return g;
}

}  // namespace dsv3
