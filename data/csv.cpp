#include "data/csv.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include "core/error.h"
#include "data/file_io.h"

namespace ck {

int CsvTable::column(const std::string& n) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == n) return static_cast<int>(i);
  return -1;
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string class_list(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < 12; ++i) s += (i ? ", " : "") + names[i];
  return names.size() > 12 ? s + ", ..." : s;
}

std::string quote(std::string_view cell) {
  return fmt::format("\"{}\"", printable_excerpt(cell, 40));
}

}  // namespace

CsvTable parse_csv(std::string_view text, const std::string& name) {
  CsvTable t;
  t.name = name;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  size_t i = 0;
  int64_t line = 1;
  bool have_header = false;
  while (i < text.size()) {
    const int64_t row_line = line;
    std::vector<std::string> cells;
    std::string cell;
    bool quoted = false, any = false;
    // One record: may span lines inside quotes.
    while (true) {
      if (i >= text.size()) {
        if (quoted) fail("{} line {}: a quoted field is never closed", name, row_line);
        break;
      }
      const char ch = text[i];
      if (quoted) {
        if (ch == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') cell += '"', i += 2;
          else quoted = false, ++i;
        } else {
          if (ch == '\n') ++line;
          cell += ch, ++i;
        }
        continue;
      }
      if (ch == '"' && trim(cell).empty()) { cell.clear(), quoted = true, any = true, ++i; continue; }
      if (ch == ',') { cells.push_back(std::move(cell)), cell.clear(), any = true, ++i; continue; }
      if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (ch == '\n' || ch == '\r') { ++i, ++line; break; }
      cell += ch, ++i;
      any = true;
    }
    cells.push_back(std::move(cell));
    const bool blank = !any && trim(cells[0]).empty() && cells.size() == 1;
    if (blank) continue;
    if (!have_header) {
      std::set<std::string> seen;
      for (auto& h : cells) {
        h = std::string(trim(h));
        if (h.empty()) fail("{} line {}: the header has an empty column name", name, row_line);
        if (!seen.insert(h).second) fail("{} line {}: the header names column \"{}\" twice", name, row_line, h);
      }
      t.header = std::move(cells);
      have_header = true;
      continue;
    }
    if (cells.size() != t.header.size())
      fail("{} line {}: {} cells, but the header has {} columns", name, row_line, cells.size(),
           t.header.size());
    t.rows.push_back(std::move(cells));
    t.lines.push_back(row_line);
  }
  if (!have_header) fail("{} is empty: a CSV file needs a header row naming its columns", name);
  return t;
}

CsvTable read_csv(const std::string& path) {
  std::vector<uint8_t> bytes = read_file_bytes(path, int64_t{4} << 30);
  return parse_csv(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path);
}

bool is_missing_cell(std::string_view cell) {
  cell = trim(cell);
  if (cell.empty()) return true;
  std::string lower;
  for (char c : cell) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "nan" || lower == "na" || lower == "n/a" || lower == "null";
}

bool parse_number(std::string_view cell, double& value) {
  const std::string s(trim(cell));
  if (s.empty()) return false;
  char* end = nullptr;
  value = std::strtod(s.c_str(), &end);
  return *end == '\0' && std::isfinite(value);
}

std::vector<int64_t> csv_missing_counts(const CsvTable& table, const std::string& label_column) {
  std::vector<int64_t> counts;
  for (size_t c = 0; c < table.header.size(); ++c) {
    if (table.header[c] == label_column) continue;
    int64_t n = 0;
    for (const auto& row : table.rows) n += is_missing_cell(row[c]);
    counts.push_back(n);
  }
  return counts;
}

Dataset csv_dataset(const CsvTable& t, const CsvOptions& o) {
  const int label_col = t.column(o.label_column);
  if (label_col < 0) {
    std::string names;
    for (const auto& h : t.header) names += (names.empty() ? "" : ", ") + h;
    fail("{} has no column \"{}\" for the labels; its columns are: {} (choose one with --label-column)",
         t.name, o.label_column, names);
  }
  if (t.rows.empty()) fail("{} has a header but no rows", t.name);
  Dataset d;
  d.description = t.name;
  std::vector<int> features;
  for (int c = 0; c < static_cast<int>(t.header.size()); ++c)
    if (c != label_col) features.push_back(c), d.columns.push_back(t.header[c]);
  if (features.empty()) fail("{} has only the label column \"{}\"; there are no features", t.name, o.label_column);
  const int64_t D = static_cast<int64_t>(features.size());
  if (o.image_shape) {
    if (shape_size(*o.image_shape) != D)
      fail("{} has {} feature columns, but --image-shape {} needs {}", t.name, D,
           shape_compact(*o.image_shape), shape_size(*o.image_shape));
    d.sample_shape = *o.image_shape;
  } else {
    d.sample_shape = {D};
  }
  const int64_t n = static_cast<int64_t>(t.rows.size());
  d.values.resize(n * D);
  // Pixel rows that fit in 8 bits are stored as bytes, unless an imputer is
  // asked for: it is fitted on the float values (and serves inference gaps).
  bool bytes = o.image_shape.has_value() && !o.allow_missing;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < D; ++j) {
      const std::string& cell = t.rows[r][features[j]];
      double v;
      if (is_missing_cell(cell)) {
        if (!o.allow_missing)
          fail("{} line {}, column \"{}\": {} is a missing value; convkit will not feed NaN to a "
               "model: choose an imputer (--impute mean, median, most-frequent or constant:VALUE)",
               t.name, t.lines[r], t.header[features[j]], cell.empty() ? "the empty cell" : quote(cell));
        v = std::nan("");
        bytes = false;
      } else if (!parse_number(cell, v)) {
        fail("{} line {}, column \"{}\": {} is not a number", t.name, t.lines[r], t.header[features[j]],
             quote(cell));
      }
      if (bytes && !(v >= 0 && v <= 255 && v == std::floor(v))) bytes = false;
      d.values[r * D + j] = static_cast<float>(v);
    }
  if (bytes) {
    d.pixels.assign(d.values.begin(), d.values.end());
    d.values.clear();
  }
  // Labels.
  auto where = [&](int64_t r) {
    return fmt::format("{} line {}, column \"{}\"", t.name, t.lines[r], o.label_column);
  };
  d.targets.resize(n);
  if (o.regression) {
    d.target_name = o.label_column;
    for (int64_t r = 0; r < n; ++r) {
      double v;
      const std::string& cell = t.rows[r][label_col];
      if (is_missing_cell(cell)) fail("{}: the target is missing; rows without a target cannot be used", where(r));
      if (!parse_number(cell, v)) fail("{}: {} is not a number (--regression needs numeric targets)", where(r), quote(cell));
      d.targets[r] = static_cast<float>(v);
    }
    return d;
  }
  bool integers = true;
  for (int64_t r = 0; r < n; ++r) {
    const std::string& cell = t.rows[r][label_col];
    if (is_missing_cell(cell)) fail("{}: the label is missing; rows without a label cannot be used", where(r));
    double v;
    if (!parse_number(cell, v)) { integers = false; continue; }
    if (v != std::floor(v))
      fail("{}: label {} is not a class (classes are integers 0..K-1 or names); for numeric "
           "targets pass --regression", where(r), quote(cell));
    if (v < 0 || v > 1e6) fail("{}: label {} is out of range; class indices run from 0", where(r), quote(cell));
  }
  const bool fixed = !o.class_names.empty();
  std::map<std::string, int> index;
  if (fixed) {
    for (size_t k = 0; k < o.class_names.size(); ++k) index[o.class_names[k]] = static_cast<int>(k);
  } else if (!integers) {
    std::set<std::string> names;
    for (const auto& row : t.rows) names.insert(std::string(trim(row[label_col])));
    for (const auto& name : names) index[name] = static_cast<int>(d.class_names.size()), d.class_names.push_back(name);
  }
  int max_label = 0;
  for (int64_t r = 0; r < n; ++r) {
    std::string key(trim(t.rows[r][label_col]));
    double v = 0;
    const bool numeric = parse_number(key, v);
    if (numeric) key = std::to_string(static_cast<int64_t>(v));  // "1.0" names class "1"
    int label;
    if (integers && !fixed) {
      label = static_cast<int>(v);
    } else {
      auto it = index.find(key);
      if (it == index.end()) {
        if (numeric && fixed)
          fail("{}: label {} is out of range: the training data has {} classes ({})", where(r), key,
               o.class_names.size(), class_list(o.class_names));
        fail("{}: label {} is not one of the training classes ({})", where(r), quote(key),
             class_list(o.class_names));
      }
      label = it->second;
    }
    max_label = std::max(max_label, label);
    d.targets[r] = static_cast<float>(label);
  }
  if (fixed) d.class_names = o.class_names;
  else if (integers)
    for (int k = 0; k <= max_label; ++k) d.class_names.push_back(std::to_string(k));
  return d;
}

Dataset load_csv(const std::string& path, const CsvOptions& options) {
  return csv_dataset(read_csv(path), options);
}

}  // namespace ck
