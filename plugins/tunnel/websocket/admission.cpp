#include "admission.hpp"

namespace mnigs::websocket {

std::string browser_refusal(const Headers& headers) {
  if (!find_header(headers, "Origin")) return "";
  return "a web page may not open the tunnel (the request carries an Origin header, as only "
         "browsers send)";
}

bool constant_time_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::optional<std::string> l2_session(std::span<const SessionKey> sessions,
                                      const std::string* session_header, const std::string& token,
                                      const std::string& remote) {
  if (!token.empty()) {
    // Every session is compared, matching or not, so the time taken does
    // not tell which token came close.
    std::optional<std::string> found;
    for (const auto& s : sessions) {
      const bool named = !session_header || *session_header == s.id;
      if (constant_time_equal(token, s.token) && named && !s.token.empty()) found = s.id;
    }
    return found;
  }
  std::optional<std::string> found;
  for (const auto& s : sessions)
    if (!remote.empty() && s.subscriber == remote) found = s.id;
  return found;
}

}  // namespace mnigs::websocket
