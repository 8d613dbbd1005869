// Small text helpers for system tests that read logs and files.
#pragma once

#include <cstddef>
#include <fstream>
#include <sstream>
#include <string>

namespace mnigs::test {

// The whole file, or "" when it cannot be read.
inline std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// How many lines of `text` contain `needle`.
inline std::size_t count_lines_with(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) n += line.find(needle) != std::string::npos;
  return n;
}

}  // namespace mnigs::test
