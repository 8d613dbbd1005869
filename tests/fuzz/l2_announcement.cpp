// An l2 discovery announcement: a UDP datagram from anyone on the link
// (l2::decode). One that decodes must encode again, and decode to the same
// announcement.
#include "plugins/discovery/l2/announcement.hpp"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto result = mnigs::l2::decode(std::string_view(reinterpret_cast<const char*>(data), size));
  auto* a = std::get_if<mnigs::l2::Announcement>(&result);
  if (!a) {
    if (std::get<mnigs::l2::Rejection>(result).reason.empty()) std::abort();
    return 0;
  }
  if (!mnigs::l2::valid_node_id(a->node_id)) std::abort();
  for (const auto& addr : a->addresses)
    if (mnigs::l2::announceable_address(addr) != addr) std::abort();  // canonical
  const std::string again = mnigs::l2::encode(*a);
  if (again.size() > mnigs::l2::kMaxDatagram) std::abort();
  auto back = mnigs::l2::decode(again);
  auto* b = std::get_if<mnigs::l2::Announcement>(&back);
  if (!b || !(*b == *a)) std::abort();
  return 0;
}
