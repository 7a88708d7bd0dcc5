#include "model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>

namespace dsv3 {

using nlohmann::json;

std::string shape_str(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

const TensorView* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  DSV3_ASSIGN_OR_RETURN(MappedFile f, MappedFile::open(path));
  return parse(std::move(f));
}

Result<SafetensorsFile> SafetensorsFile::parse(MappedFile file) {
  SafetensorsFile st;
  st.path_ = std::make_unique<std::string>(file.path());
  const std::string& path = *st.path_;
  const std::size_t size = file.size();
  if (size < 8) return make_error("{}: truncated: {} bytes, too short for the header length", path, size);
  uint64_t header_len = 0;
  std::memcpy(&header_len, file.data(), 8);  // little-endian hosts only (x86-64, aarch64)
  if (header_len > size - 8)
    return make_error("{}: header length {} runs past the end of the file ({} bytes)", path, header_len, size);
  if (header_len > (100u << 20)) return make_error("{}: header length {} exceeds 100 MB", path, header_len);
  const char* hdr = reinterpret_cast<const char*>(file.data()) + 8;
  json j = json::parse(hdr, hdr + header_len, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return make_error("{}: header is not valid JSON", path);
  if (!j.is_object()) return make_error("{}: header is not a JSON object", path);
  const std::byte* base = file.data() + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;

  struct Span {
    uint64_t begin, end;
    const std::string* name;
  };
  std::vector<Span> spans;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") continue;
    const json& e = it.value();
    if (!e.is_object()) return make_error("{}: tensor {}: entry is not an object", path, name);
    auto dt = e.find("dtype");
    auto sh = e.find("shape");
    auto off = e.find("data_offsets");
    if (dt == e.end() || !dt->is_string()) return make_error("{}: tensor {}: missing dtype", path, name);
    if (sh == e.end() || !sh->is_array()) return make_error("{}: tensor {}: missing shape", path, name);
    if (off == e.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      return make_error("{}: tensor {}: data_offsets must be two non-negative integers", path, name);
    auto dtype = dtype_from_name(dt->get<std::string>());
    if (!dtype || is_block_format(*dtype)) return make_error("{}: tensor {}: unknown dtype \"{}\"", path, name, dt->get<std::string>());
    TensorView v;
    v.name = name;
    v.dtype = *dtype;
    uint64_t numel = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned()) return make_error("{}: tensor {}: shape must hold non-negative integers", path, name);
      const uint64_t dim = d.get<uint64_t>();
      if (dim > (uint64_t{1} << 40) || (dim != 0 && numel > (uint64_t{1} << 46) / dim))
        return make_error("{}: tensor {}: shape {} is too large", path, name, sh->dump());
      numel *= dim;
      v.shape.push_back(static_cast<int64_t>(dim));
    }
    const uint64_t begin = (*off)[0].get<uint64_t>(), end = (*off)[1].get<uint64_t>();
    if (begin > end) return make_error("{}: tensor {}: data_offsets [{}, {}] are reversed", path, name, begin, end);
    if (end > data_size)
      return make_error("{}: tensor {}: data_offsets [{}, {}] lie outside the data section ({} bytes; file truncated?)",
                        path, name, begin, end, data_size);
    const uint64_t expect = numel * dtype_size(*dtype);
    if (end - begin != expect)
      return make_error("{}: tensor {}: {} bytes of data for {} {} (needs {})", path, name, end - begin,
                        dtype_name(*dtype), shape_str(v.shape), expect);
    v.data = base + begin;
    v.nbytes = end - begin;
    v.file = st.path_.get();
    auto [pos, inserted] = st.tensors_.emplace(name, std::move(v));
    spans.push_back({begin, end, &pos->first});
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (std::size_t i = 1; i < spans.size(); ++i)
    if (spans[i].begin < spans[i - 1].end && spans[i].begin != spans[i].end)
      return make_error("{}: tensor {}: data overlaps tensor {}", path, *spans[i].name, *spans[i - 1].name);
  st.file_ = std::move(file);
  return st;
}

uint64_t TensorSpec::bytes() const {
  uint64_t n = dtype_size(dtype);
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

namespace {
// The header JSON, padded so the data starts 8-byte aligned.
std::string header_for(const std::vector<TensorSpec>& specs, uint64_t* total) {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& t : specs) {
    const uint64_t n = t.bytes();
    header[t.name] = {{"dtype", std::string(dtype_name(t.dtype))}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string h = header.dump();
  while ((h.size() + 8) % 8 != 0) h.push_back(' ');
  if (total) *total = offset;
  return h;
}
}  // namespace

Result<SafetensorsStreamWriter> SafetensorsStreamWriter::create(const std::string& path,
                                                                const std::vector<TensorSpec>& specs) {
  SafetensorsStreamWriter w;
  w.path_ = path;
  const std::string h = header_for(specs, &w.expected_);
  w.out_ = std::make_unique<std::ofstream>(path, std::ios::binary | std::ios::trunc);
  if (!*w.out_) return make_error("{}: cannot open for writing", path);
  const uint64_t len = h.size();
  w.out_->write(reinterpret_cast<const char*>(&len), 8);
  w.out_->write(h.data(), static_cast<std::streamsize>(h.size()));
  return w;
}

SafetensorsStreamWriter::SafetensorsStreamWriter(SafetensorsStreamWriter&&) noexcept = default;
SafetensorsStreamWriter::~SafetensorsStreamWriter() = default;

Status SafetensorsStreamWriter::append(const void* data, std::size_t bytes) {
  if (written_ + bytes > expected_) return make_error("{}: more data than the header declares", path_);
  out_->write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  written_ += bytes;
  if (!*out_) return make_error("{}: write failed (disk full?)", path_);
  return {};
}

Status SafetensorsStreamWriter::close() {
  if (written_ != expected_) return make_error("{}: {} of {} data bytes written", path_, written_, expected_);
  out_->close();
  if (!*out_) return make_error("{}: write failed", path_);
  return {};
}

Status write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors) {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    uint64_t n = dtype_size(t.dtype);
    for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
    header[t.name] = {{"dtype", std::string(dtype_name(t.dtype))}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string h = header.dump();
  while ((h.size() + 8) % 8 != 0) h.push_back(' ');  // keeps the data 8-byte aligned
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return make_error("{}: cannot open for writing", path);
  const uint64_t len = h.size();
  out.write(reinterpret_cast<const char*>(&len), 8);
  out.write(h.data(), static_cast<std::streamsize>(h.size()));
  for (const auto& t : tensors) {
    uint64_t n = dtype_size(t.dtype);
    for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
    out.write(static_cast<const char*>(t.data), static_cast<std::streamsize>(n));
  }
  out.close();
  if (!out) return make_error("{}: write failed", path);
  return {};
}

}  // namespace dsv3
