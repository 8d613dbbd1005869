#include "admission.hpp"

namespace mnigs::websocket {

std::string browser_refusal(const Headers& headers) {
  if (!find_header(headers, "Origin")) return "";
  return "a web page may not open the tunnel (the request carries an Origin header, as only "
         "browsers send)";
}

PageCredentialsResult page_credentials(const Headers& headers) {
  constexpr std::string_view session_prefix = "mnigs-session.", token_prefix = "mnigs-token.";
  PageCredentialsResult r;
  auto items = header_items(headers, "Sec-WebSocket-Protocol");
  if (!items) return {std::nullopt, "more than 16 Sec-WebSocket-Protocol items"};
  std::optional<std::string> session, token;
  bool page = false;
  for (const auto& item : *items) {
    std::optional<std::string>* slot = nullptr;
    std::string_view rest;
    if (item.starts_with(session_prefix)) {
      slot = &session;
      rest = std::string_view(item).substr(session_prefix.size());
    } else if (item.starts_with(token_prefix)) {
      slot = &token;
      rest = std::string_view(item).substr(token_prefix.size());
    } else {
      page = page || item == kPageProtocol;
      continue;
    }
    if (*slot) return {std::nullopt, "Sec-WebSocket-Protocol names a session or token twice"};
    *slot = std::string(rest);
  }
  if (!session && !token) return r;
  if (!session || !token || session->empty() || token->empty())
    return {std::nullopt, "Sec-WebSocket-Protocol needs both mnigs-session.<id> and "
                          "mnigs-token.<token>"};
  if (!page)
    return {std::nullopt, std::string("Sec-WebSocket-Protocol must offer ") + kPageProtocol +
                              " beside the session's credentials"};
  r.credentials = PageCredentials{std::move(*session), std::move(*token)};
  return r;
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
