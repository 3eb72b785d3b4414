#include "data/image.h"

#include <stb_image.h>
#include <stb_image_write.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/atomic_file.h"
#include "core/error.h"
#include "data/file_io.h"

namespace ck {

namespace {

uint32_t le32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t{p[3]} << 24); }

void check_declared(const std::string& name, int w, int h, const ImageLimits& limits) {
  if (w <= 0 || h <= 0) fail("{} declares an empty image ({}x{}); it is corrupt", name, w, h);
  if (w > limits.max_side || h > limits.max_side ||
      int64_t{w} * h > limits.max_pixels)
    fail("{} declares {}x{} pixels ({:.0f} megapixels); convkit refuses images over {} pixels a "
         "side or {:.0f} megapixels (the file is corrupt, or far too large to train on)",
         name, w, h, double(w) * h / 1e6, limits.max_side, limits.max_pixels / 1e6);
}

// Truncation checks stb_image does not make: it pads a short JPEG, BMP or
// GIF with zeros and reports success, which would silently train on gray.
void check_complete(const uint8_t* d, size_t n, const char* format, const std::string& name) {
  if (std::strcmp(format, "JPEG") == 0) {
    // An end-of-image marker (FF D9) must follow the last start-of-scan (FF DA).
    // Neither can occur inside entropy-coded data, where FF is escaped as FF 00.
    size_t last_sos = 0;
    bool has_sos = false, has_eoi = false;
    for (size_t i = 0; i + 1 < n; ++i) {
      if (d[i] != 0xFF) continue;
      if (d[i + 1] == 0xDA) has_sos = true, last_sos = i, has_eoi = false;
      else if (d[i + 1] == 0xD9 && has_sos && i > last_sos) has_eoi = true;
    }
    if (!has_eoi) fail("{} is truncated: its JPEG data ends without an end-of-image marker", name);
  } else if (std::strcmp(format, "GIF") == 0) {
    bool trailer = false;  // 0x3B, possibly followed by padding zeros
    for (size_t i = n; i-- > 0;) {
      if (d[i] == 0) continue;
      trailer = d[i] == 0x3B;
      break;
    }
    if (!trailer) fail("{} is truncated: its GIF data ends without a trailer byte", name);
  } else if (std::strcmp(format, "BMP") == 0 && n >= 34) {
    const uint32_t offset = le32(d + 10), compression = le32(d + 30);
    const int32_t w = static_cast<int32_t>(le32(d + 18)), h = static_cast<int32_t>(le32(d + 22));
    const int bpp = d[28] | (d[29] << 8);
    if ((compression == 0 || compression == 3) && w > 0 && bpp > 0) {
      const uint64_t row = ((uint64_t(bpp) * w + 31) / 32) * 4;
      const uint64_t need = offset + row * uint64_t(h < 0 ? -int64_t{h} : h);
      if (n < need) fail("{} is truncated: its BMP header declares {} bytes, the file has {}", name, need, n);
    }
  }
}

[[noreturn]] void stb_failed(const std::string& name, const char* format) {
  const std::string why = stbi_failure_reason() ? stbi_failure_reason() : "unknown error";
  if (why == "too large")  // stb_image's own limit on the declared size
    fail("{} declares an image too large to decode; it is corrupt, or far too large to train on", name);
  fail("{} is a corrupt {} file ({})", name, format, why);
}

}  // namespace

const char* sniff_image_format(const uint8_t* d, size_t n) {
  if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return "JPEG";
  if (n >= 8 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return "PNG";
  if (n >= 6 && (std::memcmp(d, "GIF87a", 6) == 0 || std::memcmp(d, "GIF89a", 6) == 0)) return "GIF";
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return "BMP";
  return "";
}

ImageInfo probe_image(const std::string& path, const ImageLimits& limits) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    fail("{} is not a regular file", path);  // a FIFO would block the open
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!file) fail("cannot open {}: {}", path, std::strerror(errno));
  uint8_t head[16] = {};
  const size_t got = std::fread(head, 1, sizeof head, file.get());
  if (got == 0) fail("{} is empty (0 bytes)", path);
  ImageInfo info;
  info.format = sniff_image_format(head, got);
  if (!*info.format)
    fail("{} is not a JPEG, PNG, BMP or GIF file (it starts with {:02x} {:02x} {:02x} {:02x})",
         path, head[0], head[1], head[2], head[3]);
  std::rewind(file.get());
  if (!stbi_info_from_file(file.get(), &info.width, &info.height, &info.channels))
    stb_failed(path, info.format);
  check_declared(path, info.width, info.height, limits);
  return info;
}

Image decode_image_memory(const uint8_t* data, size_t size, const std::string& name,
                          const ImageLimits& limits) {
  if (size == 0) fail("{} is empty (0 bytes)", name);
  const char* format = sniff_image_format(data, size);
  if (!*format)
    fail("{} is not a JPEG, PNG, BMP or GIF file (it starts with {:02x} {:02x} {:02x} {:02x})",
         name, data[0], size > 1 ? data[1] : 0, size > 2 ? data[2] : 0, size > 3 ? data[3] : 0);
  if (size > static_cast<size_t>(INT32_MAX)) fail("{} is too large to decode", name);
  const int n = static_cast<int>(size);
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(data, n, &w, &h, &c)) stb_failed(name, format);
  check_declared(name, w, h, limits);
  check_complete(data, size, format, name);
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load_from_memory(data, n, &w, &h, &c, 0),
                                                   stbi_image_free);
  if (!pixels) stb_failed(name, format);
  Image image;
  image.height = h, image.width = w, image.channels = c;
  image.pixels.assign(pixels.get(), pixels.get() + image.size());
  return image;
}

Image decode_image(const std::string& path, const ImageLimits& limits) {
  std::vector<uint8_t> bytes = read_file_bytes(path, limits.max_file_bytes);
  return decode_image_memory(bytes.data(), bytes.size(), path, limits);
}

void convert_channels(const uint8_t* in, int64_t pixels, int from, int to, uint8_t* out) {
  if (from < 1 || from > 4 || to < 1 || to > 4)
    fail("cannot convert {} channels to {}: images have 1 to 4 channels", from, to);
  for (int64_t p = 0; p < pixels; ++p, in += from, out += to) {
    const bool color = from >= 3;
    uint8_t gray = in[0];
    if (color && to <= 2) gray = static_cast<uint8_t>((299 * in[0] + 587 * in[1] + 114 * in[2] + 500) / 1000);
    const uint8_t alpha = (from == 2 || from == 4) ? in[from - 1] : 255;
    switch (to) {
      case 1: out[0] = gray; break;
      case 2: out[0] = gray, out[1] = alpha; break;
      default:
        out[0] = in[0];
        out[1] = color ? in[1] : in[0];
        out[2] = color ? in[2] : in[0];
        if (to == 4) out[3] = alpha;
    }
  }
}

Image convert_channels(const Image& image, int channels) {
  if (image.channels == channels) return image;
  Image out;
  out.height = image.height, out.width = image.width, out.channels = channels;
  out.pixels.resize(out.size());
  convert_channels(image.pixels.data(), int64_t{image.height} * image.width, image.channels,
                   channels, out.pixels.data());
  return out;
}

std::string channels_name(int channels) {
  switch (channels) {
    case 1: return "gray";
    case 2: return "gray+alpha";
    case 3: return "RGB";
    case 4: return "RGBA";
  }
  return std::to_string(channels) + " channels";
}

bool is_gray_rgb(const Image& image) {
  if (image.channels < 3) return false;
  const int64_t n = int64_t{image.height} * image.width;
  for (int64_t p = 0; p < n; ++p) {
    const uint8_t* px = image.pixels.data() + p * image.channels;
    if (px[0] != px[1] || px[0] != px[2]) return false;
  }
  return true;
}

namespace {
void append(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}
void check_encodable(const Image& image) {
  if (image.width <= 0 || image.height <= 0 || image.channels < 1 || image.channels > 4 ||
      static_cast<int64_t>(image.pixels.size()) != image.size())
    fail("cannot encode a {}x{}x{} image", image.height, image.width, image.channels);
}
}  // namespace

std::vector<uint8_t> encode_png(const Image& image) {
  check_encodable(image);
  std::vector<uint8_t> out;
  if (!stbi_write_png_to_func(append, &out, image.width, image.height, image.channels,
                              image.pixels.data(), image.width * image.channels))
    fail("PNG encoding failed for a {}x{} image", image.height, image.width);
  return out;
}

std::vector<uint8_t> encode_jpg(const Image& image, int quality) {
  check_encodable(image);
  if (quality < 1 || quality > 100) fail("JPEG quality must be 1..100, got {}", quality);
  std::vector<uint8_t> out;
  if (!stbi_write_jpg_to_func(append, &out, image.width, image.height, image.channels,
                              image.pixels.data(), quality))
    fail("JPEG encoding failed for a {}x{} image", image.height, image.width);
  return out;
}

void write_png(const std::string& path, const Image& image) {
  const std::vector<uint8_t> bytes = encode_png(image);
  write_file_atomically(path, {reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

void write_jpg(const std::string& path, const Image& image, int quality) {
  const std::vector<uint8_t> bytes = encode_jpg(image, quality);
  write_file_atomically(path, {reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

}  // namespace ck
