// A gateway's answer to requestConnection or renewConnection: the reply body
// within the limits the JSON-RPC client reads it with (util/json_limits,
// the defaults of core/peer/rpc_client.hpp), then the subscriber's checks of
// what a gateway grants (core/subscriber/grant.hpp), with what it says it
// metered and what payment it waits for.
#include "subscriber/grant.hpp"
#include "util/json_limits.hpp"

#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const mnigs::JsonLimits limits{
      .max_bytes = 64 << 10, .max_depth = 16, .max_values = 4096, .what = "the reply"};
  auto reply = mnigs::parse_json_within(text, limits);
  if (!reply || !reply->isObject()) return 0;
  const Json::Value& result = (*reply)["result"];
  // The subscriber reads "used" and "payment" of a result that passed
  // check_renewal or check_grant, an object.
  if (mnigs::check_renewal(result).empty()) {
    mnigs::check_metered(result["used"], 1'800'000'000);
    mnigs::check_payment(result["payment"]);
  }
  if (!mnigs::check_grant(result).empty()) return 0;
  mnigs::check_tunnel_params(result["tunnel"], "10.77.1.1", {"10.77.2.2", "fd77::2"});
  return 0;
}
