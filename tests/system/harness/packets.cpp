#include "harness/packets.hpp"

#include <arpa/inet.h>

#include <cstdint>
#include <stdexcept>

namespace mnigs::test {

std::string ipv4_udp(const std::string& source, const std::string& destination,
                     std::size_t size) {
  if (size < 28 || size > 65535) throw std::invalid_argument("ipv4_udp: size 28..65535");
  std::string p(size, '\0');
  auto* ip = reinterpret_cast<unsigned char*>(p.data());
  ip[0] = 0x45;
  ip[2] = static_cast<unsigned char>(size >> 8);
  ip[3] = static_cast<unsigned char>(size & 0xff);
  ip[8] = 64;
  ip[9] = 17;
  if (::inet_pton(AF_INET, source.c_str(), ip + 12) != 1 ||
      ::inet_pton(AF_INET, destination.c_str(), ip + 16) != 1)
    throw std::invalid_argument("ipv4_udp: not IPv4 addresses: " + source + ", " + destination);
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < 20; i += 2) sum += (ip[i] << 8) | ip[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  sum = ~sum & 0xffff;
  ip[10] = static_cast<unsigned char>(sum >> 8);
  ip[11] = static_cast<unsigned char>(sum & 0xff);
  ip[21] = 9;  // source port
  ip[23] = 9;  // destination port
  const std::size_t udp = size - 20;
  ip[24] = static_cast<unsigned char>(udp >> 8);
  ip[25] = static_cast<unsigned char>(udp & 0xff);
  return p;
}

}  // namespace mnigs::test
