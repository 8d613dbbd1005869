// The byte stream from babeld's socket, split into lines by LineReader. The
// first byte sets the longest line kept and the size of each read. Lines
// must come out the same however the stream is cut, none longer than the
// bound, and the unfinished line never grows past it.
#include "plugins/discovery/babel/line_reader.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

using mnigs::babel::LineReader;

namespace {

struct Out {
  std::vector<std::string> lines;
  std::size_t overlong = 0;
  bool operator==(const Out&) const = default;
};

Out split(std::string_view text, std::size_t max_line, std::size_t chunk) {
  LineReader reader(max_line);
  Out out;
  for (std::size_t at = 0; at < text.size(); at += chunk) {
    reader.feed(
        text.substr(at, chunk),
        [&](std::string_view line) {
          if (line.size() > max_line) std::abort();
          out.lines.emplace_back(line);
        },
        [&] { ++out.overlong; });
    if (reader.pending() > max_line) std::abort();
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t max_line = data[0] % 32 + 1;
  const std::size_t chunk = data[0] / 32 + 1;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const Out pieces = split(text, max_line, chunk);
  const Out whole = split(text, max_line, text.size() + 1);
  if (!(pieces == whole)) std::abort();
  return 0;
}
