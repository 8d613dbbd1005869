// The WebSocket opening handshake from a peer. The first byte picks the side:
//   0: the gateway reads an upgrade request (parse_request, check_upgrade,
//      then the answer it would send);
//   1: the subscriber reads the gateway's answer to its request
//      (parse_response), every "@ACCEPT@" replaced by the right
//      Sec-WebSocket-Accept so that the later checks are reached.
#include "admission.hpp"
#include "handshake.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>

using namespace mnigs::websocket;

namespace {

const std::vector<std::string> kProtocols = {"mnigs-l3", "vpn-ws"};
constexpr std::string_view kKey = "dGhlIHNhbXBsZSBub25jZQ==";

void server(std::string_view data) {
  const RequestHead head = parse_request(data);
  if (!head.ok) {
    if (head.status != 0 && head.error.empty()) std::abort();
    return;
  }
  if (head.consumed > data.size()) std::abort();
  const ServerUpgrade up = check_upgrade(head.method, head.headers, kProtocols);
  if (up.ok != (up.status == 101)) std::abort();
  if (up.ok && mnigs::base64_decode(up.accept) == std::nullopt) std::abort();
  if (up.mac && !is_unicast(*up.mac)) std::abort();
  // A refusal quotes what the peer sent: it must still be one response.
  const std::string answer = response(up);
  if (answer.find("\r\n\r\n") == std::string::npos) std::abort();
  // A page's credentials as subprotocols: both or an error, never half.
  const PageCredentialsResult page = page_credentials(head.headers);
  if (page.credentials && (!page.error.empty() || page.credentials->session.empty() ||
                           page.credentials->token.empty()))
    std::abort();
  find_header(head.headers, "Host");
  has_token(head.headers, "Connection", "upgrade");
}

void client(std::string_view data) {
  static const std::string accept = accept_key(kKey);
  std::string text(data);
  for (auto at = text.find("@ACCEPT@"); at != std::string::npos; at = text.find("@ACCEPT@", at))
    text.replace(at, 8, accept);
  const ClientUpgradeResult r = parse_response(text, kKey, kProtocols);
  if (r.ok && r.status != 101) std::abort();
  if (r.consumed > text.size()) std::abort();
  if (!r.protocol.empty() &&
      std::find(kProtocols.begin(), kProtocols.end(), r.protocol) == kProtocols.end())
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] == 0) server(rest);
  else if (data[0] == 1) client(rest);
  return 0;
}
