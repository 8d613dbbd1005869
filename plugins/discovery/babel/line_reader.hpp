// Splits a byte stream into lines of bounded length. A line longer than the
// bound is dropped whole (its beginning cannot be told from garbage), and
// reported once, so a peer that never sends a newline cannot make the
// buffer grow without end.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace mnigs::babel {

class LineReader {
 public:
  // `max_line`: the longest line kept, in bytes before its newline.
  explicit LineReader(std::size_t max_line) : max_line_(max_line) {}

  // Appends `bytes`; calls `line` for each complete line (without "\n" or
  // "\r\n") and `overlong` once for each line that exceeded the bound.
  void feed(std::string_view bytes, const std::function<void(std::string_view)>& line,
            const std::function<void()>& overlong);

  // Bytes of an unfinished line (0 while dropping an overlong one).
  std::size_t pending() const { return partial_.size(); }
  // Forgets the unfinished line, e.g. when the connection closes.
  void reset();

 private:
  std::size_t max_line_;
  std::string partial_;
  bool dropping_ = false;  // inside an overlong line, until its newline
};

}  // namespace mnigs::babel
