#pragma once
// Writes an in-memory image dataset (IDX, synthetic...) as an image folder,
// DIR/<class>/<index>.<png|jpg>, optionally a subset of classes, imbalanced,
// resized to a fixed or random size: how convkit makes the JPEG folders the
// tutorial experiments need from real data, with no download.
// Deterministic for a seed (selection, sizes and encoder are all seeded or
// deterministic); every file is written atomically.
#include <cstdint>
#include <functional>
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
  // Asked before each file, from worker threads (an interrupt); once it
  // returns true no more files are written and the result is `stopped`.
  std::function<bool()> stop_requested;
};

struct ExportResult {
  std::vector<std::string> class_dirs;  // per kept class
  std::vector<int64_t> counts;          // per kept class, as planned
  int64_t files = 0;                    // written
  bool stopped = false;                 // stop_requested() ended it early; no export.json
};

// "7,9" -> {7, 9}; "9:1" -> {9, 1}. Throw ck::Error naming the flag.
std::vector<int> parse_class_list(const std::string& text, int num_classes);
std::vector<double> parse_ratio(const std::string& text, size_t parts);

// Throws ck::Error when `dir` exists and is not a directory (a file given
// as --to), saying so and what to give instead.
void check_export_target(const std::string& dir);

// Writes into `dir` (created; must not exist or be empty). Throws ck::Error
// for a non-empty directory, a streamed or float dataset, bad options, or a
// file that cannot be written (files already written stay: see ExportRollback).
ExportResult export_images(const Dataset& data, const std::string& dir, const ExportOptions& options);

// Makes an export all or nothing. Unless keep() is called, undo() or the
// destructor removes what was written under `dir` since construction: `dir`
// itself when it did not exist, else every entry added to it and the
// contents of the directories in it that were empty (an export fills only
// new or empty directories). Entries it held before are left alone.
class ExportRollback {
 public:
  explicit ExportRollback(std::string dir);
  ~ExportRollback();
  ExportRollback(const ExportRollback&) = delete;
  ExportRollback& operator=(const ExportRollback&) = delete;

  // The export finished: keep everything.
  void keep() { finished_ = true; }
  // Removes what the export wrote (once; later calls do nothing) and says
  // what happened, for the user: "removed DIR, ...", what could not be
  // removed, or "" when there was nothing to remove.
  std::string undo();

 private:
  std::string dir_;
  bool existed_ = false, finished_ = false;
  std::vector<std::string> entries_before_, empty_dirs_before_;
};

}  // namespace ck
