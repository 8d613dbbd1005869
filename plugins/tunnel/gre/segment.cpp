#include "segment.hpp"

#include "wire.hpp"

#include <cstring>

namespace mnigs::gre {

namespace {

constexpr std::uint8_t kNeedsCsum = 1;
// linux/virtio_net.h
constexpr std::uint8_t kGsoTcp4 = 1, kGsoTcp6 = 4, kGsoEcn = 0x80;
// TCP flags that belong to one segment only.
constexpr std::uint8_t kFin = 0x01, kPsh = 0x08, kCwr = 0x80;

// The checksum field's value for a sum (RFC 1071).
std::uint16_t complement(std::uint64_t sum) { return static_cast<std::uint16_t>(~fold(sum)); }

}  // namespace

tunnels::VnetHeader read_vnet_host(const std::uint8_t* p) {
  tunnels::VnetHeader h;
  h.flags = p[0];
  h.gso_type = p[1];
  std::memcpy(&h.hdr_len, p + 2, 2);
  std::memcpy(&h.gso_size, p + 4, 2);
  std::memcpy(&h.csum_start, p + 6, 2);
  std::memcpy(&h.csum_offset, p + 8, 2);
  return h;
}

std::string segment(const tunnels::VnetHeader& h, std::span<std::uint8_t> p,
                    std::vector<std::uint8_t>& store, std::vector<Segment>& out) {
  out.clear();
  const std::uint8_t type = h.gso_type & ~kGsoEcn;
  if (type == 0) {
    if (h.flags & kNeedsCsum) {
      // The field holds the pseudo-header's sum already: summing from
      // csum_start over it gives the checksum.
      const std::size_t field = std::size_t(h.csum_start) + h.csum_offset;
      if (h.csum_start >= p.size() || field + 2 > p.size())
        return "checksum offsets point outside the packet";
      // 0 would mean "no checksum" to UDP: the kernel writes 0xffff then.
      const std::uint16_t sum = complement(ones_sum(0, p.subspan(h.csum_start)));
      store16(p.data() + field, sum == 0 ? 0xffff : sum);
    }
    out.push_back({{}, p});
    return "";
  }
  if (type != kGsoTcp4 && type != kGsoTcp6)
    return "segmentation type " + std::to_string(type) + " is not TCP";
  const bool v6 = type == kGsoTcp6;
  if (p.empty() || (p[0] >> 4) != (v6 ? 6 : 4)) return "the packet is not the IP version it says";
  const std::size_t ip_len = v6 ? 40 : std::size_t(p[0] & 0x0f) * 4;
  // The TCP header starts where the checksum does, right after the IP
  // header (no IPv6 extension headers: the kernel puts none there).
  if (ip_len < 20 || h.csum_start != ip_len || p.size() < ip_len + 20)
    return "the TCP header is not where the virtio-net header says";
  if (!v6 && p[9] != 6) return "not TCP";
  if (v6 && p[6] != 6) return "not TCP (or behind IPv6 extension headers)";
  const std::size_t tcp_len = std::size_t(p[ip_len + 12] >> 4) * 4;
  const std::size_t headers = ip_len + tcp_len;
  if (tcp_len < 20 || headers > p.size()) return "the TCP header is longer than the packet";
  const std::size_t mss = h.gso_size;
  if (mss == 0) return "segment size 0";
  const std::size_t payload = p.size() - headers;
  const std::size_t count = payload == 0 ? 1 : (payload + mss - 1) / mss;

  store.resize(count * headers);
  out.reserve(count);
  const std::uint32_t seq = load32(p.data() + ip_len + 4);
  const std::uint16_t id = v6 ? 0 : load16(p.data() + 4);
  const std::uint8_t flags = p[ip_len + 13];
  for (std::size_t i = 0; i < count; ++i) {
    std::uint8_t* hd = store.data() + i * headers;
    std::memcpy(hd, p.data(), headers);
    const std::size_t offset = i * mss;
    const std::size_t size = std::min(mss, payload - std::min(payload, offset));
    const auto body = p.subspan(headers + offset, size);
    std::uint8_t* tcp = hd + ip_len;
    store32(tcp + 4, seq + static_cast<std::uint32_t>(offset));
    std::uint8_t f = flags;
    if (i + 1 < count) f &= static_cast<std::uint8_t>(~(kFin | kPsh));
    if (i > 0) f &= static_cast<std::uint8_t>(~kCwr);
    tcp[13] = f;
    const std::size_t segment_tcp = tcp_len + size;
    if (v6) {
      store16(hd + 4, static_cast<std::uint16_t>(segment_tcp));
    } else {
      store16(hd + 2, static_cast<std::uint16_t>(ip_len + segment_tcp));
      store16(hd + 4, static_cast<std::uint16_t>(id + i));
      store16(hd + 10, 0);
      store16(hd + 10, internet_checksum({hd, ip_len}));
    }
    // Pseudo-header, TCP header with a zero checksum, payload.
    store16(tcp + 16, 0);
    std::uint64_t sum = v6 ? ones_sum(0, {hd + 8, 32}) : ones_sum(0, {hd + 12, 8});
    sum += 6 + segment_tcp;
    sum = ones_sum(sum, {tcp, tcp_len});
    sum = ones_sum(sum, body);
    store16(tcp + 16, complement(sum));
    out.push_back({{hd, headers}, body});
  }
  return "";
}

}  // namespace mnigs::gre
