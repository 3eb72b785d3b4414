#pragma once
// Resolves what a user passes as --data into datasets. load_data() is the one
// dispatcher; every source lands in a Dataset (data/dataset.h).
//   fashion-mnist        Fashion-MNIST from Debian's dataset-fashion-mnist package (default)
//   DIR of IDX files     train-images-idx3-ubyte[.gz], train-labels-... (+ t10k-... as test)
//   DIR of class folders DIR/<class>/<images> (with DIR/train and DIR/test: the two splits)
//   FILE.csv             a table with a header; the label column chosen by name
//   FILE (other)         a list file of "path,label" lines
//   synthetic:...        random data as the articles make it (data/synthetic.h)
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "data/dataset.h"
#include "data/folder.h"

namespace ck {

enum class SplitsToRead { both, train, test };

struct SourceOptions {
  int channels = 0;                                 // images: 0 = as the source
  std::optional<std::pair<int, int>> resize;        // images: --resize HxW
  ResizeMethod resize_method = ResizeMethod::bilinear;
  bool skip_bad_images = false;                     // --on-bad-image skip
  bool mixed_sizes_ok = false;                      // data stats: no --resize needed
  int64_t cache_limit_bytes = int64_t{2} << 30;     // image folders kept decoded up to this
  std::string label_column = "label";               // CSV
  std::optional<Shape> image_shape;                 // CSV rows of pixels
  bool regression = false;                          // CSV: numeric targets
  bool allow_missing = false;                       // CSV: an imputer will fill gaps
  // A folder of train/ and test/ folders: read only one of them (evaluate
  // reads the split it evaluates); with `test`, DataSplits::train is empty.
  SplitsToRead read_splits = SplitsToRead::both;
  // A test source must match the training data: its classes and stored shape.
  std::vector<std::string> class_names;
  std::optional<Shape> stored_shape;
  std::vector<std::string> columns;
  // A saved model's data (evaluate): there is no --resize to suggest.
  bool for_saved_model = false;
};

struct DataSplits {
  Dataset train;
  std::optional<Dataset> test;  // when the source has a separate test set
  std::string name;             // for messages: "Fashion-MNIST"
  std::string kind;             // "idx", "images", "table", "synthetic"
  ImageLoadReport images;       // image files: sizes, channels, formats (training split)
  std::vector<int64_t> missing; // tables: missing cells per feature column (training split)
  std::vector<std::string> warnings, notes;
};

// Throws ck::Error with what was expected when `spec` is none of the above,
// and for every problem in the data it names (file, line, column).
DataSplits load_data(const std::string& spec, const SourceOptions& options = {});

// Relabels `data` to the training classes `names`, matching by name (classes
// named "0".."K-1" match by index). Throws for a class training never saw.
void match_classes(Dataset& data, const std::vector<std::string>& names);

// Keeps the first `limit` samples (0 = all).
void limit_samples(Dataset& data, int64_t limit);

}  // namespace ck
