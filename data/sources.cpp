#include "data/sources.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "core/error.h"
#include "data/csv.h"
#include "data/file_io.h"
#include "data/idx.h"
#include "data/synthetic.h"

namespace ck {

namespace fs = std::filesystem;

namespace {

const char* kForms =
    "fashion-mnist, a directory of IDX files, an image folder (DIR/<class>/<images>), a .csv "
    "file, a list file of \"path,label\" lines, or synthetic:images=100,shape=32x32x3,values=0-255,classes=10";

bool exists_any(const fs::path& dir, const std::string& stem) {
  std::error_code ec;
  return fs::exists(dir / stem, ec) || fs::exists(dir / (stem + ".gz"), ec);
}

std::string ext_lower(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  for (char& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

// A table or list file must be text: a model file or an image read as lines
// would only yield nonsense (and raw bytes in the message).
void require_text_file(const std::string& spec, const char* expected) {
  constexpr size_t kSniffed = 4096;
  std::error_code ec;
  const uint64_t size = fs::file_size(spec, ec);
  switch (sniff_file_kind(read_file_head(spec, kSniffed), ec ? 0 : size)) {
    case FileKind::text:
      return;
    case FileKind::safetensors:
      fail("--data {} is a model file (safetensors), not data: evaluate it with "
           "`convkit evaluate {} --data DATA`, or use it with `convkit predict --model {} "
           "IMAGES`; --data takes {}",
           spec, spec, spec, kForms);
    case FileKind::binary:
      fail("--data {} is not a text file, so it cannot be {}; --data takes {}", spec, expected,
           kForms);
  }
}

// In-memory image data brought to the asked channels and size (or, for a
// test source, to the training data's stored shape).
void fit_geometry(Dataset& d, const SourceOptions& o, DataSplits& out, bool is_test) {
  if (!d.is_image()) {
    if (o.resize || o.channels) fail("{}: --resize and --channels apply to images; this data has {} features",
                                     d.description, d.sample_size());
    return;
  }
  int h = static_cast<int>(d.sample_shape[0]), w = static_cast<int>(d.sample_shape[1]);
  int c = static_cast<int>(d.sample_shape[2]);
  const int h0 = h, w0 = w, c0 = c;
  if (o.stored_shape) {
    h = static_cast<int>((*o.stored_shape)[0]), w = static_cast<int>((*o.stored_shape)[1]);
    c = static_cast<int>((*o.stored_shape)[2]);
    if ((h != h0 || w != w0) && !o.resize && o.for_saved_model)
      fail("{} holds {}x{} images but the model takes {}x{}; its preprocessing records no resize "
           "(the training images were all {}x{}), so convkit will not guess one: resize the "
           "images to {}x{}, or retrain with --resize {}x{}",
           d.description, h0, w0, h, w, h, w, h, w, h, w);
    if ((h != h0 || w != w0) && !o.resize)
      fail("{} holds {}x{} images but the training images are {}x{}; pass --resize {}x{} to "
           "resize both", d.description, h0, w0, h, w, h, w);
  } else {
    if (o.resize) h = o.resize->first, w = o.resize->second;
    if (o.channels) c = o.channels;
  }
  if (h == h0 && w == w0 && c == c0) return;
  reshape_images(d, c, h, w, o.resize_method);
  if (!is_test && (h != h0 || w != w0))
    out.notes.push_back(fmt::format("resized from {}x{} to {}x{} ({})", h0, w0, h, w,
                                    resize_method_name(o.resize_method)));
  if (!is_test && c != c0) out.notes.push_back(fmt::format("channels: {} converted to {}", c0, c));
}

Dataset load_folder(const ImageList& list, const SourceOptions& o, ImageLoadReport& report) {
  ImageLoadOptions io;
  io.channels = o.stored_shape ? static_cast<int>((*o.stored_shape)[2]) : o.channels;
  if (o.stored_shape)
    io.size = std::make_pair(static_cast<int>((*o.stored_shape)[0]), static_cast<int>((*o.stored_shape)[1]));
  else if (o.resize)
    io.size = o.resize;
  io.resize = o.resize.has_value();
  io.method = o.resize_method;
  io.skip_bad = o.skip_bad_images;
  io.mixed_sizes_ok = o.mixed_sizes_ok;
  io.cache_limit_bytes = o.cache_limit_bytes;
  return load_images(list, io, report);
}

// A test table's feature columns, put in the training order (matched by name).
void align_columns(Dataset& d, const SourceOptions& o) {
  if (o.columns.empty() || d.columns == o.columns) return;
  if (d.is_image()) fail("{}: its columns differ from the training file's", d.description);
  std::vector<size_t> from;
  for (const std::string& name : o.columns) {
    auto it = std::find(d.columns.begin(), d.columns.end(), name);
    if (it == d.columns.end())
      fail("{} has no column \"{}\", a feature of the training data", d.description, name);
    from.push_back(static_cast<size_t>(it - d.columns.begin()));
  }
  if (d.columns.size() != o.columns.size())
    fail("{} has {} feature columns, the training data {}", d.description, d.columns.size(), o.columns.size());
  const size_t D = from.size();
  std::vector<float> values(d.values.size());
  for (size_t r = 0; r < values.size() / D; ++r)
    for (size_t j = 0; j < D; ++j) values[r * D + j] = d.values[r * D + from[j]];
  d.values = std::move(values);
  d.columns = o.columns;
}

}  // namespace

DataSplits load_data(const std::string& spec, const SourceOptions& o) {
  DataSplits out;
  if (spec.empty()) fail("--data is empty; pass {}", kForms);
  if (spec == "fashion-mnist" || spec == "fmnist") {
    out.train = load_idx_dir(kFashionMnistDir, true, kFashionMnistClasses);
    out.test = load_idx_dir(kFashionMnistDir, false, kFashionMnistClasses);
    out.name = "Fashion-MNIST";
    out.kind = "idx";
  } else if (is_synthetic_spec(spec)) {
    const SyntheticSpec s = parse_synthetic(spec);
    out.train = make_synthetic(s, s.images, 0);
    if (s.test) out.test = make_synthetic(s, s.test, 1);
    out.name = "synthetic";
    out.kind = "synthetic";
  } else {
    std::error_code ec;
    if (!fs::exists(spec, ec)) fail("--data {}: no such file or directory; pass {}", spec, kForms);
    const fs::path path(spec);
    out.name = spec;
    if (fs::is_directory(path, ec)) {
      if (exists_any(path, "train-images-idx3-ubyte")) {
        out.kind = "idx";
        out.train = load_idx_dir(spec, true);
        if (exists_any(path, "t10k-images-idx3-ubyte"))
          out.test = load_idx_dir(spec, false, out.train.class_names);
      } else {
        out.kind = "images";
        const bool splits = fs::is_directory(path / "train", ec) && fs::is_directory(path / "test", ec);
        const std::string train_root = splits ? (path / "train").string() : spec;
        const bool test_only = splits && o.read_splits == SplitsToRead::test;
        const ImageList list =
            scan_image_folder(test_only ? (path / "test").string() : train_root, o.class_names);
        if (test_only)
          out.test = load_folder(list, o, out.images);
        else
          out.train = load_folder(list, o, out.images);
        if (splits && o.read_splits == SplitsToRead::both) {
          out.notes.push_back(fmt::format("{} has train/ and test/ folders: used as the training and test splits", spec));
          SourceOptions t = o;
          t.class_names = out.train.class_names;
          t.stored_shape = out.train.sample_shape;
          ImageLoadReport test_report;
          out.test = load_folder(scan_image_folder((path / "test").string(), t.class_names), t, test_report);
          for (auto& w : test_report.warnings) out.warnings.push_back(w);
        }
        for (auto& w : out.images.warnings) out.warnings.push_back(w);
        for (auto& n : out.images.notes) out.notes.push_back(n);
        if (!list.note.empty()) out.notes.push_back(list.note);
        if (list.ignored)
          out.notes.push_back(fmt::format("ignored {} files that are not regular .jpg .jpeg .png .bmp .gif files", list.ignored));
      }
    } else if (ext_lower(spec) == ".csv") {
      require_text_file(spec, "a .csv table");
      out.kind = "table";
      CsvOptions c;
      c.label_column = o.label_column;
      c.image_shape = o.image_shape;
      c.regression = o.regression;
      c.allow_missing = o.allow_missing;
      c.class_names = o.class_names;
      const CsvTable table = read_csv(spec);
      out.train = csv_dataset(table, c);
      out.missing = csv_missing_counts(table, o.label_column);
      align_columns(out.train, o);
    } else if (has_image_extension(spec)) {
      fail("--data {} is a single image; pass a folder of class folders (DIR/<class>/<images>) or "
           "a list file of \"path,label\" lines", spec);
    } else {
      require_text_file(spec, "a list file of \"path,label\" lines");
      out.kind = "images";
      out.train = load_folder(read_image_list(spec, o.class_names), o, out.images);
      for (auto& w : out.images.warnings) out.warnings.push_back(w);
      for (auto& n : out.images.notes) out.notes.push_back(n);
    }
  }
  if (out.kind != "images") {
    fit_geometry(out.train, o, out, !o.class_names.empty());
    if (out.test) {
      SourceOptions t = o;
      t.stored_shape = out.train.sample_shape;
      fit_geometry(*out.test, t, out, true);
    }
  }
  if (!o.class_names.empty()) {
    // Only the splits asked for: evaluating the test split of Fashion-MNIST
    // must not be refused over the train split (a source without a test split
    // is evaluated on its train split).
    const bool test_used = out.test && o.read_splits != SplitsToRead::train;
    if (o.read_splits != SplitsToRead::test || !test_used) match_classes(out.train, o.class_names);
    if (test_used) match_classes(*out.test, o.class_names);
    // A split not asked for is not handed out unmatched (as for folders, see
    // SourceOptions::read_splits).
    if (o.read_splits == SplitsToRead::train) out.test.reset();
    if (o.read_splits == SplitsToRead::test && test_used) out.train = Dataset{};
  }
  return out;
}

void match_classes(Dataset& data, const std::vector<std::string>& names) {
  if (data.class_names == names) return;
  std::vector<float> map(data.class_names.size());
  for (size_t k = 0; k < data.class_names.size(); ++k) {
    int j = find_class_folder(data.class_names[k], names);
    if (j < 0) {  // a model trained on an export of this data names its classes by folder
      const auto it = std::find(names.begin(), names.end(),
                                class_folder_name(data.class_names, static_cast<int>(k)));
      if (it != names.end()) j = static_cast<int>(it - names.begin());
    }
    // A model trained on an export without its export.json names class k
    // "T-shirt-top" (its folder "0-T-shirt-top" without the index): the same
    // folder name at the same index.
    if (j < 0 && k < names.size() && data.class_names.size() == names.size() &&
        class_folder_name(data.class_names, static_cast<int>(k)) ==
            class_folder_name(names, static_cast<int>(k)))
      j = static_cast<int>(k);
    if (j < 0) {
      // Unnamed classes ("0".."9") are matched by index when the counts agree.
      const std::string& n = data.class_names[k];
      const bool numeric = !n.empty() && std::all_of(n.begin(), n.end(), ::isdigit);
      if (numeric && data.class_names.size() == names.size()) {
        map[k] = static_cast<float>(k);
        continue;
      }
      std::string expected;
      for (size_t i = 0; i < names.size() && i < 12; ++i) expected += (i ? ", " : "") + names[i];
      fail("{}: class \"{}\" is not one of the training classes ({}{}); a model knows only "
           "those: give data whose classes are among them",
           data.description, n, expected, names.size() > 12 ? ", ..." : "");
    }
    map[k] = static_cast<float>(j);
  }
  for (int64_t i = 0; i < data.size(); ++i) data.targets[i * data.target_size] = map[data.label(i)];
  data.class_names = names;
}

void limit_samples(Dataset& data, int64_t limit) {
  if (limit < 0) fail("--limit must be 0 (all) or a positive count, got {}", limit);
  if (limit == 0 || limit >= data.size()) return;
  std::vector<int64_t> first(limit);
  for (int64_t i = 0; i < limit; ++i) first[i] = i;
  data = data.subset(first);
}

}  // namespace ck
