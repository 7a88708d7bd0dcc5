#include "model/gguf_writer.h"

#include <cstring>

namespace dsv3 {

namespace {
constexpr uint64_t kAlign = 32;  // general.alignment's default
enum : uint32_t { kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8, kArray = 9 };

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little-endian hosts only, as the reader
  out.append(b, sizeof(T));
}
void put_string(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}
uint64_t padded(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
}  // namespace

Result<GgufWriter> GgufWriter::create(const std::string& path) {
  GgufWriter w;
  w.path_ = path;
  w.out_ = std::make_unique<std::ofstream>(path, std::ios::binary | std::ios::trunc);
  if (!*w.out_) return make_error("{}: cannot create: {}", path, std::strerror(errno));
  return w;
}
GgufWriter::GgufWriter(GgufWriter&&) noexcept = default;
GgufWriter::~GgufWriter() = default;

void GgufWriter::add_u32(const std::string& key, uint32_t v) {
  put_string(kv_, key);
  put<uint32_t>(kv_, kU32);
  put(kv_, v);
  ++kv_count_;
}
void GgufWriter::add_i32(const std::string& key, int32_t v) {
  put_string(kv_, key);
  put<uint32_t>(kv_, kI32);
  put(kv_, v);
  ++kv_count_;
}
void GgufWriter::add_f32(const std::string& key, float v) {
  put_string(kv_, key);
  put<uint32_t>(kv_, kF32);
  put(kv_, v);
  ++kv_count_;
}
void GgufWriter::add_bool(const std::string& key, bool v) {
  put_string(kv_, key);
  put<uint32_t>(kv_, kBool);
  put<uint8_t>(kv_, v ? 1 : 0);
  ++kv_count_;
}
void GgufWriter::add_string(const std::string& key, const std::string& v) {
  put_string(kv_, key);
  put<uint32_t>(kv_, kString);
  put_string(kv_, v);
  ++kv_count_;
}
void GgufWriter::add_strings(const std::string& key, const std::vector<std::string>& v) {
  put_string(kv_, key);
  put<uint32_t>(kv_, kArray);
  put<uint32_t>(kv_, kString);
  put<uint64_t>(kv_, v.size());
  for (const auto& s : v) put_string(kv_, s);
  ++kv_count_;
}
void GgufWriter::add_i32s(const std::string& key, const std::vector<int32_t>& v) {
  put_string(kv_, key);
  put<uint32_t>(kv_, kArray);
  put<uint32_t>(kv_, kI32);
  put<uint64_t>(kv_, v.size());
  for (int32_t x : v) put(kv_, x);
  ++kv_count_;
}

void GgufWriter::add_tensor(const std::string& name, const std::vector<uint64_t>& dims, uint32_t ggml_type,
                            uint64_t bytes) {
  tensors_.push_back({name, dims, ggml_type, bytes, data_bytes_});
  data_bytes_ += padded(bytes);
}

Status GgufWriter::write_header() {
  std::string h;
  h += "GGUF";
  put<uint32_t>(h, 3);
  put<uint64_t>(h, tensors_.size());
  put<uint64_t>(h, kv_count_);
  h += kv_;
  for (const Tensor& t : tensors_) {
    put_string(h, t.name);
    put<uint32_t>(h, static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) put(h, d);
    put(h, t.type);
    put(h, t.offset);
  }
  h.resize(padded(h.size()), '\0');
  out_->write(h.data(), static_cast<std::streamsize>(h.size()));
  if (!*out_) return make_error("{}: write failed: {}", path_, std::strerror(errno));
  return {};
}

Status GgufWriter::append(const void* data, std::size_t bytes) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    if (current_ >= tensors_.size()) return make_error("{}: more data than the tensors declared", path_);
    const Tensor& t = tensors_[current_];
    const uint64_t n = std::min<uint64_t>(bytes, t.bytes - written_);
    out_->write(p, static_cast<std::streamsize>(n));
    p += n;
    bytes -= n;
    written_ += n;
    if (written_ == t.bytes) {  // the padding before the next tensor
      const std::string pad(padded(t.bytes) - t.bytes, '\0');
      out_->write(pad.data(), static_cast<std::streamsize>(pad.size()));
      ++current_;
      written_ = 0;
    }
  }
  if (!*out_) return make_error("{}: write failed: {}", path_, std::strerror(errno));
  return {};
}

Status GgufWriter::close() {
  while (current_ < tensors_.size() && tensors_[current_].bytes == 0) ++current_;
  if (current_ != tensors_.size())
    return make_error("{}: tensor {} got {} of its {} bytes", path_, tensors_[current_].name, written_,
                      tensors_[current_].bytes);
  out_->close();
  if (!*out_) return make_error("{}: write failed: {}", path_, std::strerror(errno));
  return {};
}

}  // namespace dsv3
