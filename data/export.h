#pragma once
// Writes an in-memory image dataset (IDX, synthetic...) as an image folder,
// DIR/<class>/<index>.<png|jpg>, optionally a subset of classes, imbalanced,
// resized to a fixed or random size: how convkit makes the JPEG folders the
// tutorial experiments need from real data, with no download.
// Deterministic for a seed (selection, sizes and encoder are all seeded or
// deterministic); every file is written atomically.
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/resize.h"

namespace ck {

struct ExportOptions {
  std::string format = "png";          // png or jpg
  int quality = 90;                    // JPEG quality
  int64_t limit = 0;                   // images in all (0: as many as the classes allow)
  std::vector<int> classes;            // source class indices to keep (empty: all)
  std::vector<double> imbalance;       // relative share of each kept class (empty: equal)
  int height = 0, width = 0;           // fixed output size (0: as stored)
  int min_side = 0, max_side = 0;      // random size: each side uniform in [min, max]
  int channels = 0;                    // 0: as stored; 1 or 3
  ResizeMethod method = ResizeMethod::bilinear;
  uint64_t seed = 42;
};

struct ExportResult {
  std::vector<std::string> class_dirs;  // per kept class
  std::vector<int64_t> counts;          // per kept class
  int64_t files = 0;
};

// "7,9" -> {7, 9}; "9:1" -> {9, 1}. Throw ck::Error naming the flag.
std::vector<int> parse_class_list(const std::string& text, int num_classes);
std::vector<double> parse_ratio(const std::string& text, size_t parts);

// Writes into `dir` (created; must not exist or be empty). Throws ck::Error
// for a non-empty directory, a streamed or float dataset, bad options.
ExportResult export_images(const Dataset& data, const std::string& dir, const ExportOptions& options);

}  // namespace ck
