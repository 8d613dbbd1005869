// The parts of web_auth.hpp that read what a browser sends, apart so that
// the fuzz target (tests/fuzz/web_login.cpp) needs nothing else.
#include "rpc/web_auth.hpp"
#include "util/json_limits.hpp"

namespace mnigs {

std::string_view WebAuth::cookie_value(std::string_view header, std::string_view name) {
  // "a=1; mnigs_session=abc; b=2" (RFC 6265 section 4.2.1)
  while (!header.empty()) {
    const std::size_t end = std::min(header.find(';'), header.size());
    std::string_view pair = header.substr(0, end);
    header.remove_prefix(std::min(end + 1, header.size()));
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
    std::string_view value = pair.substr(eq + 1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    return value;
  }
  return {};
}

std::optional<WebAuth::Credential> WebAuth::parse_login(std::string_view body) {
  if (body.size() > kMaxLoginBytes) return std::nullopt;
  auto parsed = parse_json_within(
      body, {.max_bytes = kMaxLoginBytes, .max_depth = 2, .max_values = 8, .what = "the login"});
  if (!parsed || !parsed->isObject() || parsed->size() != 1) return std::nullopt;
  const bool password = parsed->isMember("password");
  if (!password && !parsed->isMember("token")) return std::nullopt;
  const Json::Value& secret = (*parsed)[password ? "password" : "token"];
  if (!secret.isString()) return std::nullopt;
  return Credential{password ? Via::password : Via::token, secret.asString()};
}

}  // namespace mnigs
