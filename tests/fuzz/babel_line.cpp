// Lines from babeld's local interface (babel::parse_line), which repeat
// what babel neighbours announced: prefixes, router ids, metrics. Each line
// of the input also goes to a GreetingReader, as the first lines of a
// session do, and to the prefix and router-id parsers on their own.
#include "plugins/discovery/babel/parser.hpp"

#include <cstdint>
#include <cstdlib>

using namespace mnigs::babel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  GreetingReader greeting;
  bool greeted = false;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    const Line parsed = parse_line(line);
    if (const auto* m = std::get_if<Malformed>(&parsed); m && m->why.empty()) std::abort();
    if (const auto* u = std::get_if<Update>(&parsed)) {
      if (const auto* r = std::get_if<Route>(&u->object)) {
        const unsigned max = r->prefix.address.is_v4() ? 32 : 128;
        if (r->prefix.length > max) std::abort();
      }
    }
    if (!greeted) {
      std::string why;
      const auto step = greeting.feed(line, &why);
      greeted = step != GreetingReader::Step::more;
      if (step == GreetingReader::Step::failed && why.empty()) std::abort();
    }
    if (auto p = parse_prefix(line)) {
      if (parse_prefix(p->str()) != p) std::abort();
    }
    if (auto id = parse_router_id(line)) {
      if (parse_router_id(*id) != id) std::abort();
    }
    start = end + 1;
  }
  return 0;
}
