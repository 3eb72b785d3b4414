#pragma once
// CSV tables with a header row, as written by spreadsheets and pandas:
// comma-separated, fields optionally "quoted" ("" is a quote inside quotes),
// \n or \r\n line ends, a UTF-8 byte-order mark ignored, blank lines skipped.
// Missing values: empty cells and NaN, nan, NA, N/A, null (any case).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/dataset.h"

namespace ck {

struct CsvTable {
  std::string name;                          // the file, for messages
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int64_t> lines;                // line number (1-based) of each row
  int column(const std::string& name) const;  // index, or -1
};

// Throws ck::Error naming the file and line: a ragged row (with both cell
// counts), an unterminated quote, no header, duplicate or empty column names.
CsvTable parse_csv(std::string_view text, const std::string& name);
CsvTable read_csv(const std::string& path);

bool is_missing_cell(std::string_view cell);
// A finite number filling the whole cell (spaces around it allowed).
bool parse_number(std::string_view cell, double& value);

struct CsvOptions {
  std::string label_column = "label";
  std::optional<Shape> image_shape;        // rows of pixels, e.g. (8,8,1)
  bool regression = false;                 // the label column holds numeric targets
  bool allow_missing = false;              // an imputer will fill missing features
  std::vector<std::string> class_names;    // fixed (a test file): labels must be among them
};

// A table -> a dataset: the label column becomes the targets, every other
// column a numeric feature (missing cells become NaN when allowed). Classes:
// integer labels 0..K-1 are class indices; other labels are class names, in
// sorted order. Pixel rows (image_shape) of integers 0..255 with no gaps are
// stored as 8-bit images. Throws ck::Error naming file, line and column for
// every cell it cannot use.
Dataset csv_dataset(const CsvTable& table, const CsvOptions& options);
Dataset load_csv(const std::string& path, const CsvOptions& options);

// Missing cells per feature column of `table` (label column excluded).
std::vector<int64_t> csv_missing_counts(const CsvTable& table, const std::string& label_column);

}  // namespace ck
