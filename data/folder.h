#pragma once
// Image files as a dataset: a folder of class folders (root/<class>/<images>,
// class indices in sorted name order, as Keras's image_dataset_from_directory
// and torchvision's ImageFolder), or a list file of "path,label" lines.
//
// Loading reads every header first (sizes, channels, unreadable files), then
// decodes every image in parallel: corrupt files are found before training
// starts, never in the middle of an epoch.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "data/dataset.h"
#include "data/image.h"
#include "data/resize.h"

namespace ck {

struct ImageList {
  std::vector<std::string> paths;
  std::vector<int> labels;
  std::vector<std::string> class_names;
  std::string description;      // "image folder data/pets (2 classes)"
  int64_t ignored = 0;          // files skipped for their extension
  bool sorted_by_class = false;
  std::string note;             // where the class names came from, when not the folder names
};

// The image extensions Keras accepts: .jpg .jpeg .png .bmp .gif (any case).
bool has_image_extension(const std::string& path);

// The folder `convkit data export` writes class k of `class_names` to:
// "<k>-<name>", k zero-padded so sorted order is class order, characters a
// file system may refuse replaced by '-' ("0-T-shirt-top").
// Requires: 0 <= k < class_names.size().
std::string class_folder_name(const std::vector<std::string>& class_names, int k);
// The class a folder named `folder` holds: the class of that name, else the
// class whose class_folder_name() it is; -1 when neither.
int find_class_folder(const std::string& folder, const std::vector<std::string>& class_names);

// root/<class>/**/<image>. `class_names` fixes the classes (a test split):
// folders must be among them, by name, as exported (find_class_folder), or
// as the export they are part of names them ("7-Sneaker" is "Sneaker").
// Without them, the folder names are the class names, except for folders
// recognizably written by `convkit data export`, which stand for the
// exported names: listed by the export.json beside them ("5-Sandal" of a
// --classes 5,7,9 export is "Sandal"; "0-T-shirt-top" is "T-shirt/top"), or,
// without it, a whole export's folders ("0-T-shirt-top", "1-Trouser", ...
// indices 0..K-1 in order: "T-shirt-top"). Other folders starting with
// digits ("1-apple") keep their names.
// Throws ck::Error for a root without class folders, an empty class folder,
// or an unknown class (listing the expected names).
ImageList scan_image_folder(const std::string& root,
                            const std::vector<std::string>& class_names = {});
// "path,label" per line (# comments and blank lines skipped, an optional
// "path,label" header); relative paths are relative to the list file. Labels
// are integers 0..K-1 or class names (sorted). Throws naming the line.
ImageList read_image_list(const std::string& path,
                          const std::vector<std::string>& class_names = {});

struct ImageLoadOptions {
  int channels = 0;                        // 0: as the first image
  std::optional<std::pair<int, int>> size; // fixed (H, W): --resize, or a test split
  bool resize = false;                     // size came from --resize (else sizes must match)
  ResizeMethod method = ResizeMethod::bilinear;
  bool skip_bad = false;                   // skip unreadable images with a warning
  bool mixed_sizes_ok = false;             // sizes differ, no size given: store at the median size
  int64_t cache_limit_bytes = int64_t{2} << 30;  // decoded size kept in memory
  ImageLimits limits;
};

// What loading saw, for messages and `convkit data stats`.
struct ImageLoadReport {
  std::map<std::pair<int, int>, int64_t> sizes;  // (H, W) -> files, as stored in the files
  std::map<int, int64_t> channels;               // channels in the files -> files
  std::map<std::string, int64_t> formats;
  std::vector<std::string> warnings;
  std::vector<std::string> notes;                // channel choice, resizing, streaming
  int64_t skipped = 0;
};

// Decodes `list` into a dataset of (H,W,C) 8-bit samples: in memory when the
// decoded images fit in options.cache_limit_bytes, else streamed (decoded
// again each time a batch needs them). Throws ck::Error: a bad image (unless
// skip_bad), sizes that differ with no --resize (stating the range).
Dataset load_images(const ImageList& list, const ImageLoadOptions& options, ImageLoadReport& report);

}  // namespace ck
