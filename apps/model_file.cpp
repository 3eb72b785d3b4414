#include "apps/model_file.h"

#include <fmt/format.h>

#include <set>

#include "apps/model_builder.h"
#include "core/error.h"
#include "version.h"

namespace ck {

void save_model(const std::string& path, Model& model, const ModelInfo& info,
                const std::vector<std::pair<std::string, const Tensor*>>& extra,
                const std::map<std::string, std::string>& extra_metadata) {
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  std::vector<std::string> frozen;
  for (Param* p : model.params()) {
    tensors.emplace_back(p->name, &p->value);
    const std::string layer = p->name.substr(0, p->name.find('/'));
    if (!p->trainable && (frozen.empty() || frozen.back() != layer)) frozen.push_back(layer);
  }
  tensors.insert(tensors.end(), extra.begin(), extra.end());
  std::map<std::string, std::string> meta = {
      {"format", "convkit"},
      {"convkit_version", kVersion},
      {"architecture", model.spec()},
      {"input_shape", nlohmann::json(model.input_shape()).dump()},
      {"loss", loss_name(model.loss())},
      {"preprocessing", info.preprocessing.to_json().dump()},
      {"class_names", nlohmann::json(info.class_names).dump()},
      {"training", info.training.dump()},
  };
  if (!frozen.empty()) meta["frozen"] = nlohmann::json(frozen).dump();
  for (const auto& [k, v] : extra_metadata) meta[k] = v;
  write_safetensors(path, tensors, meta);
}

namespace {

nlohmann::json parse_meta(const SafeTensors& file, const std::string& path, const std::string& key) {
  auto it = file.metadata.find(key);
  if (it == file.metadata.end()) fail("{}: the model file lacks its \"{}\" record", path, key);
  try {
    return nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception&) {
    fail("{}: the model file's \"{}\" record is not valid JSON", path, key);
  }
}

}  // namespace

LoadedModel load_model(const std::string& path) {
  SafeTensors file = read_safetensors(path);
  auto format = file.metadata.find("format");
  if (format == file.metadata.end() || format->second != "convkit" ||
      !file.metadata.count("architecture"))
    fail("{} is a safetensors file but not a convkit model (no architecture in its metadata); "
         "to load its weights into a model use --init-from",
         path);
  Shape input;
  LossKind loss;
  ModelInfo info;
  try {
    input = parse_meta(file, path, "input_shape").get<Shape>();
    loss = parse_loss(file.metadata.count("loss") ? file.metadata.at("loss") : "");
    info.preprocessing = Preprocessing::from_json(parse_meta(file, path, "preprocessing"));
    info.class_names = parse_meta(file, path, "class_names").get<std::vector<std::string>>();
    if (file.metadata.count("training")) info.training = parse_meta(file, path, "training");
  } catch (const nlohmann::json::exception& e) {
    fail("{}: the model file's metadata is malformed ({})", path, e.what());
  } catch (const Error& e) {
    fail("{}: {}", path, e.what());
  }
  Model model;
  try {
    model = make_model(file.metadata.at("architecture"), input);
    model.compile(loss);
  } catch (const Error& e) {
    fail("{}: its architecture cannot be built: {}", path, e.what());
  }
  // The recorded preprocessing must produce what the architecture takes.
  const Shape produced = info.preprocessing.input_shape();
  bool fits = produced.size() == input.size();
  for (size_t d = 0; fits && d < input.size(); ++d) fits = input[d] < 0 || input[d] == produced[d];
  if (!fits)
    fail("{}: its preprocessing produces inputs of shape {}, but its architecture takes {}; the "
         "file is inconsistent",
         path, shape_str(produced), shape_str(input));
  const int64_t outputs = model.output_shape()[0];
  if (loss == LossKind::sparse_categorical_crossentropy && !info.class_names.empty() &&
      static_cast<int64_t>(info.class_names.size()) != outputs)
    fail("{}: it names {} classes but the model has {} outputs; the file is inconsistent", path,
         info.class_names.size(), outputs);
  for (Param* p : model.params()) {
    const Tensor* t = file.find(p->name);
    if (!t) fail("{}: tensor \"{}\" is missing; the file does not match its architecture", path, p->name);
    if (t->shape() != p->value.shape())
      fail("{}: tensor \"{}\" has shape {}, but the architecture needs {}", path, p->name,
           shape_str(t->shape()), shape_str(p->value.shape()));
    p->value.copy_from(*t);
  }
  if (file.metadata.count("frozen")) {
    std::set<std::string> frozen;
    try {
      frozen = parse_meta(file, path, "frozen").get<std::set<std::string>>();
    } catch (const nlohmann::json::exception&) {
      fail("{}: the model file's \"frozen\" record is malformed", path);
    }
    for (Param* p : model.params())
      if (frozen.count(p->name.substr(0, p->name.find('/')))) p->trainable = false;
  }
  return {std::move(model), std::move(info), std::move(file)};
}

std::string ImportReport::format() const {
  std::string s = fmt::format("  loaded {} tensors", loaded.size());
  if (!loaded.empty()) s += ": " + fmt::format("{}", fmt::join(loaded, ", "));
  s += "\n";
  for (const std::string& m : shape_mismatch) s += "  shape differs, left as initialized: " + m + "\n";
  if (!not_in_file.empty())
    s += fmt::format("  not in the file, left as initialized: {}\n", fmt::join(not_in_file, ", "));
  if (!unused.empty()) s += fmt::format("  in the file but not in the model: {}\n", fmt::join(unused, ", "));
  return s;
}

ImportReport import_weights(Model& model, const std::string& path) {
  SafeTensors file = read_safetensors(path);
  ImportReport report;
  std::set<std::string> used;
  for (Param* p : model.params()) {
    const Tensor* t = file.find(p->name);
    if (!t) {
      report.not_in_file.push_back(p->name);
      continue;
    }
    used.insert(p->name);
    if (t->shape() != p->value.shape()) {
      report.shape_mismatch.push_back(fmt::format("{}: file {}, model {}", p->name,
                                                  shape_str(t->shape()), shape_str(p->value.shape())));
      continue;
    }
    p->value.copy_from(*t);
    report.loaded.push_back(p->name);
  }
  for (const auto& [name, t] : file.tensors)
    if (!used.count(name) && name.find('/') != std::string::npos &&
        name.rfind("adam/", 0) != 0 && name.rfind("sgd/", 0) != 0)
      report.unused.push_back(name);
  if (report.loaded.empty())
    fail("--init-from {}: no tensor matches the model by name and shape (the model's parameters "
         "are named like conv2d/kernel, conv2d_1/bias, dense/kernel)",
         path);
  return report;
}

namespace {
bool glob_match(const char* pattern, const char* text) {
  if (*pattern == '\0') return *text == '\0';
  if (*pattern == '*') return glob_match(pattern + 1, text) || (*text && glob_match(pattern, text + 1));
  return *text == *pattern && glob_match(pattern + 1, text + 1);
}
}  // namespace

std::vector<std::string> freeze_layers(Model& model, const std::string& patterns,
                                       const ImportReport* report) {
  std::set<std::string> imported;
  if (report)
    for (const std::string& n : report->loaded) imported.insert(n.substr(0, n.find('/')));
  std::vector<std::string> frozen;
  size_t start = 0;
  while (start <= patterns.size()) {
    size_t comma = patterns.find(',', start);
    std::string pattern = patterns.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? patterns.size() + 1 : comma + 1;
    if (pattern.empty()) continue;
    bool matched = false;
    for (const auto& layer : model.layers()) {
      bool hit = pattern == "imported" ? imported.count(layer->name) > 0
                                       : glob_match(pattern.c_str(), layer->name.c_str());
      if (!hit) continue;
      matched = true;
      for (Param* p : layer->params()) p->trainable = false;
      if (std::find(frozen.begin(), frozen.end(), layer->name) == frozen.end())
        frozen.push_back(layer->name);
    }
    if (!matched)
      fail("--freeze {}: no layer matches \"{}\" (layers: {})", patterns, pattern,
           [&] {
             std::vector<std::string> names;
             for (const auto& l : model.layers()) names.push_back(l->name);
             return fmt::format("{}", fmt::join(names, ", "));
           }());
  }
  return frozen;
}

}  // namespace ck
