// What the benchmarks share on the command line: reading flags, their values
// and comma-separated lists, and main()'s frame (usage errors, the root
// check, failures). Header only; each benchmark includes it.
#pragma once

#include <unistd.h>

#include <charconv>
#include <exception>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mnigs::test::bench {

// Walks argv: `while (args.next())`, then `args.flag()` is the argument and
// value(), number(), list() and numbers() take the one after it. Every
// problem is a std::invalid_argument that says what is wrong.
class Args {
 public:
  Args(int argc, char** argv) : argc_(argc), argv_(argv) {}

  bool next() {
    if (++at_ >= argc_) return false;
    flag_ = argv_[at_];
    return true;
  }
  const std::string& flag() const { return flag_; }

  std::string value() {
    if (at_ + 1 >= argc_) throw std::invalid_argument(flag() + " needs a value");
    return argv_[++at_];
  }
  // A whole number, e.g. "--runs 3".
  int number() { return to_int(value()); }
  // "a,b,c"; empty items are dropped.
  std::vector<std::string> list() {
    std::vector<std::string> out;
    std::istringstream in(value());
    for (std::string item; std::getline(in, item, ',');)
      if (!item.empty()) out.push_back(item);
    return out;
  }
  // "10,20,40".
  std::vector<int> numbers() {
    std::vector<int> out;
    for (const auto& item : list()) out.push_back(to_int(item));
    return out;
  }

  [[noreturn]] void unknown(std::string_view usage) const {
    throw std::invalid_argument("unknown argument " + flag() + " (use " + std::string(usage) + ")");
  }

 private:
  int to_int(const std::string& text) const {
    int n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size())
      throw std::invalid_argument(flag() + " takes whole numbers (got \"" + text + "\")");
    return n;
  }

  int argc_;
  char** argv_;
  int at_ = 0;
  std::string flag_;  // the argument next() stopped at
};

// main() of a benchmark named `name`: `parse(argc, argv)` reads the options
// (whatever it throws is a usage error: exit code 2), the benchmark needs
// root for its network namespaces (2 without), then `run(options)` returns
// the exit code (1 when it throws).
template <class Parse, class Run>
int bench_main(const char* name, int argc, char** argv, Parse parse, Run run) {
  std::optional<decltype(parse(argc, argv))> options;
  try {
    options.emplace(parse(argc, argv));
  } catch (const std::exception& e) {
    std::cerr << name << ": " << e.what() << "\n";
    return 2;
  }
  if (::geteuid() != 0) {
    std::cerr << name << " needs root: it creates network namespaces\n";
    return 2;
  }
  try {
    return run(*options);
  } catch (const std::exception& e) {
    std::cerr << name << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace mnigs::test::bench
