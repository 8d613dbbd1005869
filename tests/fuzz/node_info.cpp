// A peer's answer to the scanner's nodeInfo probe: the reply body read as
// the JSON-RPC client reads it (core/peer/rpc_client.cpp: jsoncpp's default
// reader), then scan::check_node_info, and, for a reply that passes, the
// merge and the event the scanner makes of it.
#include "scanner/found.hpp"

#include <json/reader.h>

#include <cstdint>
#include <memory>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const char* text = reinterpret_cast<const char*>(data);
  Json::CharReaderBuilder builder;
  std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value v;
  std::string errs;
  try {
    if (!reader->parse(text, text + size, &v, &errs)) return 0;
  } catch (const Json::Exception&) {
    return 0;  // as the client: past jsoncpp's stack limit
  }
  if (!v.isObject()) return 0;
  const Json::Value& info = v["result"];
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
