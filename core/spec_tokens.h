#pragma once
// The little language of specs a person types on the command line: tokens
// `name` or `name(arg, arg, key=value)` separated by spaces, e.g.
//
//   --model   "conv2d(32,3,relu) maxpool(2) flatten dense(10,softmax)"
//   --augment "flip(horizontal) rotation(0.2) zoom(0.2)"
//
// One tokenizer and one error format for every such spec: the message quotes
// the spec and points at the token at fault.
#include <string>
#include <utility>
#include <vector>

namespace ck {

struct SpecToken {
  std::string name;               // lowercased
  std::vector<std::string> args;  // trimmed, in order; "a,,b" keeps the empty one
  size_t begin = 0, end = 0;      // [begin, end) in the spec
  std::string text;               // the token as written
};

// Splits `spec`; throws (spec_error) on a '(' that is never closed.
// `what` names the spec in messages: "model spec", "--augment".
std::vector<SpecToken> tokenize_spec(const std::string& spec, const std::string& what);

// Throws ck::Error:
//   in <what>:
//     conv2d(32,3) maxpol(2) flatten
//                  ^^^^^^^^^
//   <message>
[[noreturn]] void spec_error(const std::string& what, const std::string& spec, size_t begin,
                             size_t end, const std::string& message);
[[noreturn]] void spec_error(const std::string& what, const std::string& spec,
                             const SpecToken& token, const std::string& message);

// "key=value" -> {"key", "value"}; "value" -> {"", "value"}; both trimmed.
std::pair<std::string, std::string> split_key_value(const std::string& arg);

// The candidate nearest to `word` by edit distance, if fewer than
// `max_distance` edits away (ties: the first); "" otherwise. For "did you
// mean" hints on typed names (layers, command-line options).
std::string closest_word(const std::string& word, const std::vector<std::string>& candidates,
                         size_t max_distance = 3);

}  // namespace ck
