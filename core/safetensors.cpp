#include "core/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"

namespace ck {

namespace {

constexpr uint64_t kMaxHeader = 100 << 20;            // the format's own limit
constexpr uint64_t kMaxData = uint64_t{4} << 30;      // 4 GiB: more is not a convkit model

std::string errno_text() { return std::strerror(errno); }

// For a file that is no safetensors file at all: what it seems to be instead.
std::string what_it_holds(const std::string& bytes) {
  if (bytes.size() < 9)
    return fmt::format(
        "it is {} bytes long, shorter than the 8-byte header length and a JSON header",
        bytes.size());
  const size_t head = std::min<size_t>(bytes.size(), 4096);
  const bool text =
      std::all_of(bytes.begin(), bytes.begin() + static_cast<int64_t>(head), [](char c) {
        const auto b = static_cast<unsigned char>(c);
        return b >= 0x20 || b == '\t' || b == '\n' || b == '\r';
      });
  return text ? "it is a text file" : "it does not start with a safetensors header";
}

}  // namespace

const Tensor* SafeTensors::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::set<std::string> names;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__" || !names.insert(name).second)
      fail("cannot save two tensors named \"{}\"", name);
    const uint64_t bytes = static_cast<uint64_t>(t->size()) * sizeof(float);
    header[name] = {{"dtype", "F32"}, {"shape", t->shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json = header.dump();
  // Pad with spaces to a multiple of 8 so the data buffer is aligned (as the
  // reference implementation does).
  json.append((8 - json.size() % 8) % 8, ' ');

  write_file_atomically(path, [&](const WriteBytes& write) {
    uint8_t length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(json.size() >> (8 * i));
    write(reinterpret_cast<const char*>(length), 8);
    write(json.data(), json.size());
    for (const auto& [name, t] : tensors)
      write(reinterpret_cast<const char*>(t->data()), t->size() * sizeof(float));
  });
}

SafeTensors parse_safetensors(const std::string& bytes, const std::string& what) {
  // The format requires the JSON header to begin with '{' right after its
  // length: without one the file is something else (a CSV, an image), and
  // its first bytes read as a length would only make a baffling message.
  if (bytes.size() < 9 || bytes[8] != '{')
    fail(
        "{} is not a convkit model file ({}; model files are the safetensors files `convkit train "
        "--save` writes)",
        what, what_it_holds(bytes));
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  if (n > kMaxHeader)
    fail("{} is not a valid safetensors file: its header length {} exceeds the format's 100 MB limit",
         what, n);
  if (n > bytes.size() - 8)
    fail(
        "{} is truncated or corrupt: its header length {} goes past the end of the file ({} "
        "bytes); was its copy or download interrupted?",
        what, n, bytes.size());
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<int64_t>(n));
  } catch (const nlohmann::json::exception& e) {
    fail("{} is corrupt: its header is not valid JSON ({})", what, e.what());
  }
  if (!header.is_object()) fail("{} is corrupt: its header is not a JSON object", what);

  const uint64_t data_size = bytes.size() - 8 - n;
  const char* data = bytes.data() + 8 + n;
  SafeTensors out;
  struct Entry {
    uint64_t begin, end;
    std::string name;
    Tensor tensor;
  };
  std::vector<Entry> entries;
  for (auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail("{} is corrupt: __metadata__ is not an object", what);
      for (auto& [key, value] : entry.items()) {
        if (!value.is_string()) fail("{} is corrupt: metadata \"{}\" is not a string", what, key);
        out.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& why) { fail("{}: tensor \"{}\" {}", what, name, why); };
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets"))
      bad("lacks dtype, shape or data_offsets");
    if (!entry["dtype"].is_string()) bad("has a dtype that is not a string");
    const std::string dtype = entry["dtype"].get<std::string>();
    if (dtype != "F32")
      bad("has dtype " + dtype + "; convkit reads F32 tensors (convert with numpy: .astype('float32'))");
    const auto& shape_json = entry["shape"];
    if (!shape_json.is_array() || shape_json.size() > 8) bad("has a malformed shape");
    Shape shape;
    uint64_t count = 1;
    for (const auto& d : shape_json) {
      if (!d.is_number_unsigned()) bad("has a malformed shape");
      const uint64_t dim = d.get<uint64_t>();
      if (dim > kMaxData || (dim && count > kMaxData / dim)) bad("declares more than 4 GiB");
      count *= dim;
      shape.push_back(static_cast<int64_t>(dim));
    }
    const auto& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
      bad("has malformed data_offsets");
    const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    if (begin > end || end > data_size)
      bad(
          fmt::format("has data_offsets [{}, {}] outside the {}-byte data buffer: the file is "
                      "cut short or corrupt (was its copy or download interrupted?)",
                      begin, end, data_size));
    if (end - begin != count * sizeof(float))
      bad(fmt::format("has shape {} ({} bytes as F32) but data_offsets span {} bytes",
                      shape_str(shape), count * sizeof(float), end - begin));
    Tensor t(shape);
    if (count) std::memcpy(t.data(), data + begin, count * sizeof(float));
    entries.push_back({begin, end, name, std::move(t)});
  }
  // The tensors must tile the buffer exactly: no overlaps, no gaps, nothing
  // after. Sorted by offset, which is also the order convkit writes them in.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  for (Entry& e : entries) {
    if (e.begin < expected)
      fail("{} is corrupt: tensor \"{}\" overlaps another tensor's data", what, e.name);
    if (e.begin > expected)
      fail("{} is corrupt: a gap of {} bytes precedes tensor \"{}\"", what, e.begin - expected,
           e.name);
    expected = e.end;
    out.tensors.emplace_back(std::move(e.name), std::move(e.tensor));
  }
  if (expected != data_size)
    fail("{} is corrupt: {} bytes follow the last tensor's data", what, data_size - expected);
  return out;
}

SafeTensors read_safetensors(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec))
    fail("{} not found; check the path (model files are the .safetensors files `convkit train "
         "--save FILE` writes)", path);
  if (fs::is_directory(path, ec))
    fail("{} is a directory, not a model file; give a .safetensors file (as `convkit train --save "
         "FILE` writes)", path);
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) fail("cannot read {}: {}", path, ec.message());
  if (size > kMaxData + kMaxHeader + 8) fail("{} is larger than 4 GiB; it is not a convkit model", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read {}: {}", path, errno_text());
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<uintmax_t>(in.gcount()) != size) fail("cannot read {}: short read", path);
  return parse_safetensors(bytes, path);
}

}  // namespace ck
