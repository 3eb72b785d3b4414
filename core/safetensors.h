#pragma once
// safetensors (https://github.com/huggingface/safetensors), the ecosystem's
// weight format, F32 tensors only:
//
//   8 bytes   N, the header length, unsigned little-endian
//   N bytes   JSON: {"<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
//                    ..., "__metadata__": {"<key>": "<string>", ...}}
//   rest      the data buffer; offsets are relative to its start
//
// Reading treats the file as hostile: every length, offset and shape is
// checked against the actual file size before anything is allocated.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace ck {

struct SafeTensors {
  std::map<std::string, std::string> metadata;
  std::vector<std::pair<std::string, Tensor>> tensors;  // in file order

  // Requires nothing; returns null when there is no tensor of that name.
  const Tensor* find(const std::string& name) const;
};

// Writes atomically: a temporary file in the same directory, fsync, rename,
// fsync of the directory. A crash at any moment leaves either the old file or
// the complete new one, never a partial file. Tensors are stored in the order
// given; names must be unique.
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata);

// Throws ck::Error naming the file and the problem: truncated, header length
// past the end, malformed JSON, a dtype other than F32, a shape whose size
// disagrees with its offsets, offsets out of range, overlapping or leaving
// gaps, or more than 4 GiB declared.
SafeTensors read_safetensors(const std::string& path);

// The same, from bytes in memory (`what` names the source in errors).
SafeTensors parse_safetensors(const std::string& bytes, const std::string& what);

}  // namespace ck
