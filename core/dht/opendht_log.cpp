#include "dht/opendht_log.hpp"

#include <cstdio>
#include <string_view>

namespace mnigs {
namespace {

bool starts_with(const char* text, std::string_view prefix) {
  return text && std::string_view(text).substr(0, prefix.size()) == prefix;
}

}  // namespace

OpenDhtLogEvent classify_opendht_log(const char* format) {
  if (starts_with(format, "Signature verification failed") ||
      starts_with(format, "Edition forbidden: signature verification failed"))
    return OpenDhtLogEvent::bad_signature;
  // OpenDHT 2.4 says "not signed or wrong owner", older ones "owner changed".
  if (starts_with(format, "Edition forbidden: not signed or wrong owner") ||
      starts_with(format, "Edition forbidden: owner changed"))
    return OpenDhtLogEvent::forged;
  return OpenDhtLogEvent::other;
}

std::string format_opendht_log(const char* format, va_list args) {
  if (!format) return "";
  va_list copy;
  va_copy(copy, args);
  char small[512];
  const int n = std::vsnprintf(small, sizeof small, format, copy);
  va_end(copy);
  std::string out;
  if (n < 0) {
    out = format;
  } else if (static_cast<std::size_t>(n) < sizeof small) {
    out.assign(small, static_cast<std::size_t>(n));
  } else {
    out.assign(static_cast<std::size_t>(n) + 1, '\0');
    std::vsnprintf(out.data(), out.size(), format, args);
    out.resize(static_cast<std::size_t>(n));
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace mnigs
