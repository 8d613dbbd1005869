// A peer's answer to the scanner's nodeInfo probe: the reply body read as
// the JSON-RPC client reads it (util/json_limits, with the defaults of
// core/peer/rpc_client.hpp), then scan::check_node_info, and, for a reply
// that passes, the merge and the event the scanner makes of it. First, as
// the subscriber reads a gateway's answer: the key its tunnel is pinned by
// (choose_gateway_key), beside an offer of the identity the reply names.
#include "dht/offer.hpp"
#include "scanner/found.hpp"
#include "subscriber/gateway_key.hpp"
#include "util/json_limits.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const mnigs::JsonLimits limits{
      .max_bytes = 64 << 10, .max_depth = 16, .max_values = 4096, .what = "the reply"};
  const auto v = mnigs::parse_json_within(text, limits);
  if (!v || !v->isObject()) return 0;
  const Json::Value& info = (*v)["result"];
  mnigs::GatewayOffer offer;
  offer.node_id = mnigs::offer_identity(info);
  offer.addresses = {"10.77.1.1"};
  offer.keys["websocket"] = "sha256:" + std::string(64, 'a');
  for (const char* method : {"websocket", "forwarding"}) {
    const auto key = mnigs::choose_gateway_key(method, "10.77.1.1", info,
                                               mnigs::offer_to_json(offer));
    // A key is one the offer's rules allow, and there is none with an error.
    if (!key.key.empty() && !mnigs::check_tunnel_key(method, key.key).empty()) std::abort();
    if (!key.error.empty() && !key.key.empty()) std::abort();
  }
  if (!mnigs::scan::check_node_info(info).empty()) return 0;
  mnigs::scan::Target target;
  target.addresses = {"10.77.1.1", "fd77::1"};
  target.port = 65533;
  target.networks = {"babel"};
  target.mesh_ids = {{"babel", "04:6f:55:44:b2:70:80:e6"}};
  mnigs::scan::Found found;
  mnigs::scan::merge_reply(found, true, target, "10.77.1.1", info, 12);
  mnigs::scan::node_event(found, 1);
  return 0;
}
