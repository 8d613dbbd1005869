// A datagram of netlink answers, as the batman-adv plugin reads them from
// the kernel: DumpReader cuts it into messages, and every data message goes
// through each reply parser (family lookup, originators, gateways,
// translation table, neighbours). The reader follows the first message's
// sequence number and type, as if it were the request's answer.
#include "plugins/discovery/batman/dump_reader.hpp"
#include "plugins/discovery/batman/messages.hpp"

#include <linux/netlink.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace mnigs::batman;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 65536) return 0;  // one receive buffer
  // The kernel's datagrams are 4-byte aligned in the receive buffer.
  std::vector<std::uint32_t> buffer((size + 3) / 4);
  if (size) std::memcpy(buffer.data(), data, size);
  std::uint32_t seq = 0;
  std::uint16_t type = NLMSG_MIN_TYPE;
  if (size >= sizeof(nlmsghdr)) {
    const auto* first = reinterpret_cast<const nlmsghdr*>(buffer.data());
    seq = first->nlmsg_seq;
    if (first->nlmsg_type >= NLMSG_MIN_TYPE) type = first->nlmsg_type;
  }
  DumpReader reader(seq, type, [](const nlmsghdr& h) {
    std::string why;
    parse_family_id(h, &why);
    parse_originator(h, &why);
    parse_gateway(h, &why);
    parse_client(h, &why);
    parse_neighbour(h, &why);
    genl_command(h);
  });
  if (reader.feed(reinterpret_cast<const std::uint8_t*>(buffer.data()), size) !=
      reader.finished())
    std::abort();
  return 0;
}
