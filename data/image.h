#pragma once
// Images as decoded from files: 8-bit pixels (H,W,C), any size, 1-4 channels
// (gray, gray+alpha, RGB, RGBA). Decoding goes through stb_image; the header
// is read first and absurd declared sizes are refused before any pixel
// memory is allocated, so a corrupt or hostile file cannot exhaust memory.
#include <cstdint>
#include <string>
#include <vector>

namespace ck {

struct Image {
  int height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;  // (H,W,C), row-major
  int64_t size() const { return int64_t{height} * width * channels; }
};

struct ImageInfo {
  int height = 0, width = 0, channels = 0;
  const char* format = "";  // "JPEG", "PNG", "BMP", "GIF"
};

struct ImageLimits {
  int64_t max_pixels = int64_t{1} << 26;     // 67 megapixels (PIL warns from 89)
  int max_side = 1 << 15;                    // 32768
  int64_t max_file_bytes = int64_t{1} << 30;
};

// The formats convkit decodes, recognized by their first bytes (not by name:
// stb_image would otherwise take many arbitrary files for TGA images).
// Returns "" when the bytes are none of JPEG, PNG, BMP, GIF.
const char* sniff_image_format(const uint8_t* data, size_t size);

// Header only. Throws ck::Error naming the file when it cannot be read, is
// not a JPEG/PNG/BMP/GIF, or declares a size beyond `limits`.
ImageInfo probe_image(const std::string& path, const ImageLimits& limits = {});

// Decodes the whole file (GIF: its first frame) with its own channel count.
// Throws ck::Error naming the file for everything probe_image refuses, and
// for corrupt or truncated data.
Image decode_image(const std::string& path, const ImageLimits& limits = {});
Image decode_image_memory(const uint8_t* data, size_t size, const std::string& name,
                          const ImageLimits& limits = {});

// Channel conversion, as PIL's Image.convert: to gray with ITU-R 601-2 luma
// L = (299 R + 587 G + 114 B) / 1000 (rounded), alpha dropped, gray copied
// to R, G and B, alpha 255 added when asked for. Requires: 1 <= to <= 4.
// in (pixels, from) -> out (pixels, to)
void convert_channels(const uint8_t* in, int64_t pixels, int from, int to, uint8_t* out);
Image convert_channels(const Image& image, int channels);
std::string channels_name(int channels);  // "gray", "gray+alpha", "RGB", "RGBA"
// True when every pixel of an RGB(A) image has R == G == B.
bool is_gray_rgb(const Image& image);

// Encoders; the write_* functions replace `path` atomically (data/file_io.h).
std::vector<uint8_t> encode_png(const Image& image);
std::vector<uint8_t> encode_jpg(const Image& image, int quality);
void write_png(const std::string& path, const Image& image);
void write_jpg(const std::string& path, const Image& image, int quality);

}  // namespace ck
