#include "core/spec_tokens.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace ck {

namespace {
std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}
bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
}  // namespace

void spec_error(const std::string& what, const std::string& spec, size_t begin, size_t end,
                const std::string& message) {
  std::string marker(begin, ' ');
  marker += std::string(std::max<size_t>(end - begin, 1), '^');
  fail("in {}:\n  {}\n  {}\n{}", what, spec, marker, message);
}

void spec_error(const std::string& what, const std::string& spec, const SpecToken& token,
                const std::string& message) {
  spec_error(what, spec, token.begin, token.end, message);
}

std::vector<SpecToken> tokenize_spec(const std::string& spec, const std::string& what) {
  std::vector<SpecToken> tokens;
  size_t i = 0;
  while (i < spec.size()) {
    if (is_space(spec[i])) {
      ++i;
      continue;
    }
    SpecToken t;
    t.begin = i;
    while (i < spec.size() && !is_space(spec[i]) && spec[i] != '(')
      t.name += static_cast<char>(std::tolower(static_cast<unsigned char>(spec[i++])));
    if (i < spec.size() && spec[i] == '(') {
      const size_t close = spec.find(')', i);
      if (close == std::string::npos)
        spec_error(what, spec, t.begin, spec.size(),
                   fmt::format("\"{}(\" is never closed", t.name));
      const std::string inner = spec.substr(i + 1, close - i - 1);
      size_t start = 0;
      while (true) {
        const size_t comma = inner.find(',', start);
        std::string arg = trim(
            inner.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (!arg.empty() || comma != std::string::npos) t.args.push_back(arg);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      i = close + 1;
    }
    t.end = i;
    t.text = spec.substr(t.begin, t.end - t.begin);
    tokens.push_back(std::move(t));
  }
  return tokens;
}

std::pair<std::string, std::string> split_key_value(const std::string& arg) {
  const size_t eq = arg.find('=');
  if (eq == std::string::npos) return {"", trim(arg)};
  return {trim(arg.substr(0, eq)), trim(arg.substr(eq + 1))};
}

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string closest_word(const std::string& word, const std::vector<std::string>& candidates,
                         size_t max_distance) {
  std::string best;
  for (const std::string& candidate : candidates) {
    const size_t d = edit_distance(word, candidate);
    if (d < max_distance) max_distance = d, best = candidate;
  }
  return best;
}

}  // namespace ck
