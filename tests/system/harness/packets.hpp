// Raw packets the system tests hand to a tunnel themselves, as a hostile
// or third-party peer would.
#pragma once

#include <cstddef>
#include <string>

namespace mnigs::test {

// An IPv4/UDP packet of `size` bytes (at least 28) from `source` to
// `destination`, ports 9 (discard), header checksum filled in, UDP
// checksum 0 (none).
std::string ipv4_udp(const std::string& source, const std::string& destination,
                     std::size_t size = 28);

}  // namespace mnigs::test
