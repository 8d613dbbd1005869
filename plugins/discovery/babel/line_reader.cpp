#include "line_reader.hpp"

namespace mnigs::babel {

void LineReader::feed(std::string_view bytes, const std::function<void(std::string_view)>& line,
                      const std::function<void()>& overlong) {
  while (!bytes.empty()) {
    auto newline = bytes.find('\n');
    bool complete = newline != std::string_view::npos;
    auto chunk = bytes.substr(0, newline);
    bytes = complete ? bytes.substr(newline + 1) : std::string_view();

    // The bound counts every byte before the newline, a "\r" included.
    if (!dropping_ && partial_.size() + chunk.size() > max_line_) {
      dropping_ = true;
      partial_.clear();
      overlong();
    }
    if (!dropping_) partial_.append(chunk);
    if (!complete) return;

    if (!dropping_) {
      if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
      line(partial_);
    }
    partial_.clear();
    dropping_ = false;
  }
}

void LineReader::reset() {
  partial_.clear();
  dropping_ = false;
}

}  // namespace mnigs::babel
