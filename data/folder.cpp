#include "data/folder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/parallel.h"
#include "data/file_io.h"

namespace ck {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

std::string list_names(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < 12; ++i) s += (i ? ", " : "") + names[i];
  return names.size() > 12 ? s + ", ..." : s;
}

bool hidden(const fs::path& p) { return p.filename().string().starts_with("."); }

// Characters a file system may refuse, made '-': the name part of an exported folder.
std::string safe_folder_part(std::string name) {
  for (char& c : name)
    if (c == '/' || c == '\\' || c == ':' || c == '\0' || c == '*' || c == '?' || c == '"' ||
        c == '<' || c == '>' || c == '|')
      c = '-';
  return name;
}

// The digits before the first dash of "<index>-<name>" ("" when not so).
std::string index_part(const std::string& folder) {
  const size_t dash = folder.find('-');
  if (dash == 0 || dash == std::string::npos || dash + 1 == folder.size() ||
      !std::all_of(folder.begin(), folder.begin() + dash,
                   [](unsigned char c) { return std::isdigit(c) != 0; }))
    return "";
  return folder.substr(0, dash);
}

// The class names of folders `convkit data export` wrote, aligned with the
// sorted `folders`; empty for any other folders (they name themselves).
// Users' own folders often start with digits ("1-apple", "2019-trip"), so
// only two strict cases count as an export:
// 1. an export.json beside them lists exactly these folders (any order:
//    --classes 9,7 lists them so), each "<index>-<recorded name, made safe>",
//    indices distinct and of one width: the recorded names ("T-shirt/top").
//    This is how a subset (--classes 5,7,9: "5-Sandal") is recognized.
// 2. no usable export.json, but a whole export's exact pattern: "0-T-shirt-top",
//    "1-Trouser", ... indices 0..K-1 padded as class_folder_name pads them:
//    the part after the dash ("T-shirt-top"). A subset's folders without
//    export.json keep their folder names ("5-Sandal").
// find_class_folder() and scan_image_folder() map the folders back to these
// names, so a test split or evaluate --data reads the same folders.
std::vector<std::string> exported_class_names(const fs::path& root,
                                              const std::vector<std::string>& folders) {
  std::vector<std::string> names;
  for (const std::string& folder : folders)
    if (index_part(folder).empty()) return {};
  auto distinct = [](const std::vector<std::string>& v) {
    return std::set<std::string>(v.begin(), v.end()).size() == v.size();
  };
  // export.json keeps the names before they were made safe ("T-shirt/top").
  try {
    const std::vector<uint8_t> bytes = read_file_bytes((root / "export.json").string(), 1 << 20);
    const nlohmann::json manifest = nlohmann::json::parse(bytes.begin(), bytes.end());
    const auto listed = manifest.at("classes").get<std::vector<std::string>>();
    const auto recorded = manifest.at("class_names").get<std::vector<std::string>>();
    if (listed.size() == folders.size() && recorded.size() == folders.size()) {
      std::vector<std::string> indices;
      for (const std::string& folder : folders) {
        const size_t i = std::find(listed.begin(), listed.end(), folder) - listed.begin();
        if (i == listed.size() || recorded[i].empty() ||
            folder != index_part(folder) + "-" + safe_folder_part(recorded[i]))
          break;
        names.push_back(recorded[i]);
        indices.push_back(index_part(folder));
      }
      if (names.size() == folders.size() && distinct(names) && distinct(indices) &&
          std::all_of(indices.begin(), indices.end(),
                      [&](const std::string& i) { return i.size() == indices[0].size(); }))
        return names;
    }
  } catch (const std::exception&) {
    // No export.json, an older one or edited by hand: only the whole-export pattern counts.
  }
  names.clear();
  for (const std::string& folder : folders) names.push_back(folder.substr(folder.find('-') + 1));
  for (size_t k = 0; k < folders.size(); ++k)
    if (class_folder_name(names, static_cast<int>(k)) != folders[k]) return {};
  return distinct(names) ? names : std::vector<std::string>{};
}

}  // namespace

bool has_image_extension(const std::string& path) {
  const std::string ext = lower(fs::path(path).extension().string());
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".gif";
}

std::string class_folder_name(const std::vector<std::string>& class_names, int k) {
  const size_t classes = std::max<size_t>(class_names.size(), 1);
  const int width = static_cast<int>(std::to_string(classes - 1).size());
  return fmt::format("{:0{}}-{}", k, width, safe_folder_part(class_names[k]));
}

int find_class_folder(const std::string& folder, const std::vector<std::string>& class_names) {
  const auto named = std::find(class_names.begin(), class_names.end(), folder);
  if (named != class_names.end()) return static_cast<int>(named - class_names.begin());
  for (size_t k = 0; k < class_names.size(); ++k)
    if (class_folder_name(class_names, static_cast<int>(k)) == folder) return static_cast<int>(k);
  return -1;
}

ImageList scan_image_folder(const std::string& root, const std::vector<std::string>& class_names) {
  ImageList list;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) fail("{} is not a directory", root);
  std::vector<std::string> classes;
  int64_t loose_images = 0;
  try {
    for (const auto& entry : fs::directory_iterator(root)) {
      if (hidden(entry.path())) continue;  // .ipynb_checkpoints, .git: never classes
      if (entry.is_directory()) classes.push_back(entry.path().filename().string());
      else if (has_image_extension(entry.path().string())) ++loose_images;
    }
  } catch (const fs::filesystem_error& e) {
    fail("cannot read the folder {}: {}", root, e.code().message());
  }
  std::sort(classes.begin(), classes.end());
  if (classes.empty())
    fail("{} has no class folders{}; an image folder is laid out as {}/<class name>/<images> "
         "(an IDX dataset as train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]), "
         "or pass a list file of \"path,label\" lines",
         root, loose_images ? fmt::format(" (it holds {} images directly)", loose_images) : "", root);
  const std::vector<std::string> exported = exported_class_names(root, classes);
  list.class_names = class_names;
  if (list.class_names.empty()) {
    list.class_names = exported;
    if (!list.class_names.empty())
      list.note = fmt::format("class names from the folders `convkit data export` wrote (\"{}\" is "
                              "\"{}\")", classes[0], list.class_names[0]);
    else
      list.class_names = classes;
  }
  for (size_t f = 0; f < classes.size(); ++f) {
    const std::string& name = classes[f];
    int label = find_class_folder(name, list.class_names);
    // An export's folder ("7-Sneaker" of a --classes 5,7,9 export) is the
    // class it stands for, under its recorded name or as made safe.
    for (size_t k = 0; label < 0 && !exported.empty() && k < list.class_names.size(); ++k)
      if (safe_folder_part(list.class_names[k]) == safe_folder_part(exported[f]))
        label = static_cast<int>(k);
    if (label < 0)
      fail(
          "{}: class folder \"{}\" is not one of the training classes ({}), nor a folder name "
          "`convkit data export` gives them (\"{}\", ...)",
          root, name, list_names(list.class_names), class_folder_name(list.class_names, 0));
    std::vector<std::string> files;
    try {
      for (auto i = fs::recursive_directory_iterator(fs::path(root) / name);
           i != fs::recursive_directory_iterator(); ++i) {
        if (hidden(i->path())) {
          if (i->is_directory()) i.disable_recursion_pending();
          continue;
        }
        if (i->is_directory()) continue;
        if (has_image_extension(i->path().string()) && !i->is_symlink() && !i->is_regular_file())
          ++list.ignored;  // a FIFO or device named like an image
        else if (has_image_extension(i->path().string())) files.push_back(i->path().string());
        else ++list.ignored;
      }
    } catch (const fs::filesystem_error& e) {
      fail("cannot read the folder {}: {}", (fs::path(root) / name).string(), e.code().message());
    }
    if (files.empty())
      fail("{}: class folder \"{}\" holds no images (.jpg .jpeg .png .bmp .gif); a class with no "
           "images can never be learned: add images or remove the folder", root, name);
    std::sort(files.begin(), files.end());
    for (auto& f : files) list.paths.push_back(std::move(f)), list.labels.push_back(label);
  }
  list.sorted_by_class = true;
  list.description = fmt::format("image folder {} ({} classes)", root, classes.size());
  return list;
}

ImageList read_image_list(const std::string& path, const std::vector<std::string>& class_names) {
  const std::vector<uint8_t> bytes = read_file_bytes(path, int64_t{1} << 30);
  const std::string text(bytes.begin(), bytes.end());
  const fs::path base = fs::path(path).parent_path();
  ImageList list;
  std::vector<std::string> raw_labels;
  std::vector<int64_t> lines;
  size_t pos = 0;
  for (int64_t line = 1; pos < text.size(); ++line) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string row = trim(text.substr(pos, end - pos));
    pos = end + 1;
    if (row.empty() || row[0] == '#') continue;
    const size_t comma = row.rfind(',');  // paths may hold commas, labels do not
    if (comma == std::string::npos)
      fail("{} line {}: expected \"path,label\", got \"{}\"", path, line,
           printable_excerpt(row, 60));
    const std::string file = trim(row.substr(0, comma)), label = trim(row.substr(comma + 1));
    if (raw_labels.empty() && lower(file) == "path" && lower(label) == "label") continue;
    if (file.empty() || label.empty())
      fail("{} line {}: expected \"path,label\", got \"{}\"", path, line,
           printable_excerpt(row, 60));
    list.paths.push_back(fs::path(file).is_absolute() ? file : (base / file).string());
    raw_labels.push_back(label);
    lines.push_back(line);
  }
  if (list.paths.empty()) fail("{} lists no images (expected \"path,label\" lines)", path);
  bool integers = true;
  for (const auto& l : raw_labels)
    integers = integers && std::all_of(l.begin(), l.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  if (!class_names.empty()) {
    list.class_names = class_names;
  } else if (integers) {
    int64_t max_label = 0;
    for (size_t i = 0; i < raw_labels.size(); ++i) {
      if (raw_labels[i].size() > 6)
        fail("{} line {}: label {} is out of range", path, lines[i], raw_labels[i]);
      max_label = std::max<int64_t>(max_label, std::stoll(raw_labels[i]));
    }
    for (int64_t k = 0; k <= max_label; ++k) list.class_names.push_back(std::to_string(k));
  } else {
    std::set<std::string> names(raw_labels.begin(), raw_labels.end());
    list.class_names.assign(names.begin(), names.end());
  }
  for (size_t i = 0; i < raw_labels.size(); ++i) {
    std::string key = raw_labels[i];
    if (integers && key.size() <= 6) key = std::to_string(std::stoll(key));  // "007" is class 7
    auto it = std::find(list.class_names.begin(), list.class_names.end(), key);
    if (it == list.class_names.end())
      fail("{} line {}: label \"{}\" is {} ({})", path, lines[i],
           printable_excerpt(raw_labels[i], 40),
           integers ? "out of range for the training classes" : "not one of the training classes",
           list_names(list.class_names));
    list.labels.push_back(static_cast<int>(it - list.class_names.begin()));
  }
  list.description = fmt::format("list file {} ({} images, {} classes)", path, list.paths.size(),
                                 list.class_names.size());
  return list;
}

}  // namespace ck
