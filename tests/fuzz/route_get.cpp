// `ip -j route get` and `ip -j route show default` output as the tunnel
// plugins read it (netcmd::parse_route_get, parse_default_dev). Local
// program output, but it names routes and devices that babel or olsr
// installed from what the mesh announced. The first byte picks the
// gateway's family.
#include "routes.hpp"

#include <cstdint>
#include <cstdlib>

using namespace mnigs::netcmd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string json(reinterpret_cast<const char*>(data + 1), size - 1);
  const Address gateway = data[0] & 1 ? Address{Family::v6, "fd77::1"}
                                      : Address{Family::v4, "10.77.1.1"};
  std::string why;
  if (auto hop = parse_route_get(json, gateway, 0x6d6e, &why)) {
    if (hop->dev.empty() || hop->via.empty()) std::abort();
  } else if (why.empty()) {
    std::abort();
  }
  if (auto dev = parse_default_dev(json); dev && dev->empty()) std::abort();
  why.clear();
  parse_address(json, &why);
  return 0;
}
