#pragma once
// Errors are values a user can act on. Every failure a user can cause is thrown
// as ck::Error with a message that says what is wrong and, where possible, what
// to do; apps/main.cpp prints it as "convkit: <message>" and exits non-zero.
#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace ck {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace ck
