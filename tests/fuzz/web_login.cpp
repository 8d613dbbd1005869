// What a browser, or anyone pretending to be one, sends to the web UI's
// logins: the Cookie header (WebAuth::cookie_value) and the POST /login body
// (WebAuth::parse_login). The input is the header, a NUL, then the body.
// Checks that a cookie value found lies inside the header and holds no ';',
// and that a credential comes only from a body within the size limit.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "rpc/web_auth.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string_view header = input.substr(0, nul);
  const std::string_view body =
      nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);

  const std::string_view value = mnigs::WebAuth::cookie_value(header, mnigs::WebAuth::kCookie);
  if (!value.empty()) {
    if (value.data() < header.data() || value.data() + value.size() > header.data() + header.size())
      std::abort();
    if (value.find(';') != std::string_view::npos) std::abort();
  }
  if (auto credential = mnigs::WebAuth::parse_login(body)) {
    if (body.size() > mnigs::WebAuth::kMaxLoginBytes) std::abort();
    if (credential->secret.size() > body.size()) std::abort();
  }
  return 0;
}
