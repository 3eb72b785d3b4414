#include "data/export.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "data/file_io.h"
#include "data/folder.h"
#include "data/image.h"

namespace ck {

namespace fs = std::filesystem;

std::vector<int> parse_class_list(const std::string& text, int num_classes) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = text.substr(pos, comma - pos);
    pos = comma + 1;
    char* end = nullptr;
    const long k = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0')
      fail("--classes {}: \"{}\" is not a class index (write e.g. --classes 7,9)", text, item);
    if (k < 0 || k >= num_classes)
      fail("--classes {}: class {} is out of range; the data has {} classes (0..{})", text, k,
           num_classes, num_classes - 1);
    if (std::find(out.begin(), out.end(), k) != out.end()) fail("--classes {}: class {} is listed twice", text, k);
    out.push_back(static_cast<int>(k));
  }
  return out;
}

std::vector<double> parse_ratio(const std::string& text, size_t parts) {
  std::vector<double> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t colon = text.find(':', pos);
    if (colon == std::string::npos) colon = text.size();
    const std::string item = text.substr(pos, colon - pos);
    pos = colon + 1;
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !(v > 0) || !std::isfinite(v))
      fail("--imbalance {}: \"{}\" must be a positive number (write e.g. --imbalance 9:1)", text, item);
    out.push_back(v);
  }
  if (out.size() != parts)
    fail("--imbalance {} has {} parts but {} classes are exported; give one share per class, in "
         "--classes order", text, out.size(), parts);
  return out;
}

void check_export_target(const std::string& dir) {
  std::error_code ec;
  const fs::file_status status = fs::status(dir, ec);
  // A FIFO or device is "a file" too, for the user.
  if (!fs::exists(status) || fs::is_directory(status)) return;
  fail("--to {}: it is a file, not a folder; the export writes a folder of class folders: name a "
       "new folder (e.g. --to {}-images), or remove the file first",
       dir, fs::path(dir).replace_extension().string());
}

ExportResult export_images(const Dataset& data, const std::string& dir, const ExportOptions& o) {
  if (!data.is_image() || (!data.is_u8() && !data.streamed()))
    fail("{}: export writes 8-bit images; this data holds {}", data.description,
         data.is_image() ? "float values" : "table rows");
  if (o.format != "png" && o.format != "jpg")
    fail("--format {}: choose png or jpg", o.format);
  check_export_target(dir);
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec))
    fail("--to {}: it exists and is not an empty directory; choose a new directory (convkit never "
         "mixes a new export with old files)", dir);
  std::vector<int> classes = o.classes;
  if (classes.empty())
    for (int k = 0; k < data.num_classes(); ++k) classes.push_back(k);
  std::vector<double> share = o.imbalance.empty() ? std::vector<double>(classes.size(), 1.0) : o.imbalance;
  if (share.size() != classes.size()) fail("--imbalance needs one share per exported class");

  std::vector<std::vector<int64_t>> members(data.num_classes());
  for (int64_t i = 0; i < data.size(); ++i) members[data.label(i)].push_back(i);
  // How many of each class: the shares scaled to --limit, or as large as the
  // rarest class (relative to its share) allows.
  const double total_share = [&] { double s = 0; for (double v : share) s += v; return s; }();
  double scale = 1e300;
  for (size_t j = 0; j < classes.size(); ++j) scale = std::min(scale, members[classes[j]].size() / share[j]);
  if (o.limit > 0) {
    scale = o.limit / total_share;
    for (size_t j = 0; j < classes.size(); ++j)
      if (std::floor(scale * share[j] + 1e-9) > members[classes[j]].size())
        fail("--limit {} with these shares needs {:.0f} images of class {} ({}), but the data has {}; "
             "lower --limit", o.limit, std::floor(scale * share[j] + 1e-9), classes[j],
             data.class_names[classes[j]], members[classes[j]].size());
  }
  // Whole counts: floors, then the remainder to the largest fractions, so
  // --limit is met exactly.
  std::vector<int64_t> counts(classes.size());
  int64_t assigned = 0;
  std::vector<std::pair<double, size_t>> fractions;
  for (size_t j = 0; j < classes.size(); ++j) {
    const double exact = scale * share[j];
    counts[j] = std::min<int64_t>(static_cast<int64_t>(std::floor(exact + 1e-9)), members[classes[j]].size());
    assigned += counts[j];
    fractions.push_back({-(exact - std::floor(exact + 1e-9)), j});
  }
  std::stable_sort(fractions.begin(), fractions.end());
  for (size_t r = 0; o.limit > 0 && assigned < o.limit && r < fractions.size(); ++r) {
    const size_t j = fractions[r].second;
    if (counts[j] < static_cast<int64_t>(members[classes[j]].size())) ++counts[j], ++assigned;
  }
  ExportResult result;
  std::vector<int64_t> chosen;
  for (size_t j = 0; j < classes.size(); ++j) {
    const int k = classes[j];
    const int64_t n = counts[j];
    std::vector<int64_t> pool = members[k];
    Rng rng = Rng::derive(o.seed, 0xe5, static_cast<uint64_t>(k));
    rng.shuffle(std::span<int64_t>(pool));
    pool.resize(n);
    std::sort(pool.begin(), pool.end());
    chosen.insert(chosen.end(), pool.begin(), pool.end());
    result.class_dirs.push_back(class_folder_name(data.class_names, k));
    result.counts.push_back(n);
    fs::create_directories(fs::path(dir) / result.class_dirs.back(), ec);
    if (ec) fail("cannot create {}: {}", (fs::path(dir) / result.class_dirs.back()).string(), ec.message());
  }
  const int H = static_cast<int>(data.sample_shape[0]), W = static_cast<int>(data.sample_shape[1]);
  const int C = static_cast<int>(data.sample_shape[2]);
  const int digits = static_cast<int>(std::to_string(data.size()).size());
  std::atomic<int64_t> written{0};
  std::atomic<bool> stopped{false};
  parallel_for(static_cast<int64_t>(chosen.size()), 8, [&](int64_t begin, int64_t end) {
    std::vector<float> x(data.sample_size());
    for (int64_t c = begin; c < end; ++c) {
      if (stopped || (o.stop_requested && o.stop_requested())) {
        stopped = true;
        return;
      }
      const int64_t i = chosen[c];
      data.copy_sample(i, x.data());
      Image image;
      image.height = H, image.width = W, image.channels = C;
      image.pixels.assign(x.begin(), x.end());
      int h = o.height ? o.height : H, w = o.width ? o.width : W;
      if (o.max_side > 0) {
        Rng rng = Rng::derive(o.seed, 0xe6, static_cast<uint64_t>(i));
        h = o.min_side + static_cast<int>(rng.below(o.max_side - o.min_side + 1));
        w = o.min_side + static_cast<int>(rng.below(o.max_side - o.min_side + 1));
      }
      image = fit_image(image, o.channels ? o.channels : C, h, w, o.method);
      const auto k = std::find(classes.begin(), classes.end(), data.label(i)) - classes.begin();
      const std::string path = (fs::path(dir) / result.class_dirs[k] / fmt::format("{:0{}}.{}", i, digits, o.format)).string();
      if (o.format == "png") write_png(path, image);
      else write_jpg(path, image, o.quality);
      ++written;
    }
  });
  result.files = written;
  result.stopped = stopped;
  if (result.stopped) return result;  // no export.json: it would vouch for a partial folder
  nlohmann::json manifest = {{"source", data.description}, {"format", o.format}, {"seed", o.seed},
                             {"classes", result.class_dirs}, {"counts", result.counts}};
  // The names before they were made safe for a file system, for training on the export.
  std::vector<std::string> names;
  for (int k : classes) names.push_back(data.class_names[k]);
  manifest["class_names"] = names;
  if (o.max_side) manifest["random_size"] = {o.min_side, o.max_side};
  if (o.height) manifest["size"] = {o.height, o.width};
  const std::string text = manifest.dump(2) + "\n";
  write_file_atomically((fs::path(dir) / "export.json").string(), text);
  return result;
}

namespace {

// The entries of `dir`, none if it cannot be read (never throws).
std::vector<fs::path> entries_of(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    out.push_back(it->path());
  return out;
}

}  // namespace

ExportRollback::ExportRollback(std::string dir) : dir_(std::move(dir)) {
  std::error_code ec;
  // Anything there (a file given as --to, an unreadable path) counts as
  // existing: undo() then removes at most what was added inside it.
  existed_ = fs::symlink_status(dir_, ec).type() != fs::file_type::not_found;
  for (const fs::path& entry : entries_of(dir_)) {
    entries_before_.push_back(entry.filename().string());
    if (fs::is_directory(entry, ec) && fs::is_empty(entry, ec))
      empty_dirs_before_.push_back(entries_before_.back());
  }
}

ExportRollback::~ExportRollback() {
  try {
    undo();
  } catch (...) {
    // Only formatting the note can throw (out of memory); a destructor must not.
  }
}

std::string ExportRollback::undo() {
  if (finished_) return "";
  finished_ = true;
  std::error_code ec;
  if (!existed_) {
    if (!fs::exists(dir_, ec)) return "";
    fs::remove_all(dir_, ec);
    return ec ? fmt::format(
                    "could not remove the partial export {} ({}): delete it before using it", dir_,
                    ec.message())
              : fmt::format("removed {}, so no partial export is left", dir_);
  }
  auto listed = [](const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  std::error_code failed;
  std::vector<fs::path> added;
  for (const fs::path& entry : entries_of(dir_)) {
    const std::string name = entry.filename().string();
    if (!listed(entries_before_, name)) {
      added.push_back(entry);
    } else if (listed(empty_dirs_before_, name)) {
      for (const fs::path& inner : entries_of(entry)) added.push_back(inner);
    }
  }
  if (added.empty()) return "";
  for (const fs::path& path : added) {
    fs::remove_all(path, ec);
    if (ec) failed = ec;
  }
  return failed ? fmt::format("could not remove all it wrote in {} ({}): delete it before using it",
                              dir_, failed.message())
                : fmt::format("removed what it wrote in {}, so no partial export is left", dir_);
}

}  // namespace ck
