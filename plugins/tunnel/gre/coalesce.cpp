#include "coalesce.hpp"

#include <algorithm>
#include <cstring>

#include "tun_device.hpp"
#include "wire.hpp"

namespace mnigs::gre {

namespace {

constexpr std::size_t kHeader = tunnels::vnet_header_size;
constexpr std::size_t kMaxPacket = 65535;
constexpr std::uint8_t kAck = 0x10, kPsh = 0x08;

// The pseudo-header's sum for a TCP segment of `tcp_length` bytes.
std::uint64_t pseudo(const std::uint8_t* ip, bool v6, std::size_t tcp_length) {
  std::uint64_t sum = v6 ? ones_sum(0, {ip + 8, 32}) : ones_sum(0, {ip + 12, 8});
  return sum + 6 + tcp_length;
}

// The layout of a packet that may join: IP and TCP header lengths and the
// payload's, or nothing when it may not (not TCP, options or fragments,
// flags other than ACK and PSH, no payload, a wrong checksum).
struct Layout {
  bool v6 = false;
  std::size_t ip_len = 0, headers = 0, payload = 0;
};

bool layout(std::span<const std::uint8_t> p, Layout* out) {
  if (p.size() < 40) return false;
  const int version = p[0] >> 4;
  Layout l;
  if (version == 4) {
    if ((p[0] & 0x0f) != 5 || load16(p.data() + 2) != p.size() || p[9] != 6) return false;
    // DF and no fragment: cut again, the IP ids the kernel gives cannot
    // clash with anyone's fragments.
    if ((load16(p.data() + 6) & 0x7fff) != 0x4000) return false;
    // A header damaged on the way is not made whole by a new checksum.
    if (fold(ones_sum(0, {p.data(), 20})) != 0xffff) return false;
    l.ip_len = 20;
  } else if (version == 6) {
    if (p.size() < 60 || p[6] != 6 || 40u + load16(p.data() + 4) != p.size()) return false;
    l.v6 = true;
    l.ip_len = 40;
  } else {
    return false;
  }
  const std::uint8_t* tcp = p.data() + l.ip_len;
  const std::size_t tcp_len = std::size_t(tcp[12] >> 4) * 4;
  l.headers = l.ip_len + tcp_len;
  if (tcp_len < 20 || l.headers >= p.size()) return false;
  if ((tcp[13] & ~kPsh) != kAck || load16(tcp + 18) != 0) return false;
  l.payload = p.size() - l.headers;
  // The checksum this segment came with must hold: a joined packet's is
  // the kernel's to trust.
  const std::size_t tcp_total = p.size() - l.ip_len;
  if (fold(ones_sum(pseudo(p.data(), l.v6, tcp_total), {tcp, tcp_total})) != 0xffff) return false;
  *out = l;
  return true;
}

}  // namespace

Coalescer::Coalescer() : buffer_(kHeader + kMaxPacket) {}

bool Coalescer::add(std::span<const std::uint8_t> p) {
  if (p.size() > kMaxPacket) return false;
  if (count_ == 0) {
    std::memcpy(buffer_.data() + kHeader, p.data(), p.size());
    length_ = p.size();
    count_ = 1;
    Layout l;
    closed_ = !layout(p, &l);
    if (closed_) return true;
    v6_ = l.v6;
    ip_len_ = l.ip_len;
    headers_ = l.headers;
    mss_ = l.payload;
    next_seq_ = load32(p.data() + ip_len_ + 4) + static_cast<std::uint32_t>(l.payload);
    closed_ = (p[ip_len_ + 13] & kPsh) != 0;
    return true;
  }
  if (closed_) return false;
  Layout l;
  if (!layout(p, &l) || l.v6 != v6_ || l.headers != headers_ || l.payload > mss_ ||
      length_ + l.payload > kMaxPacket)
    return false;
  const std::uint8_t* first = buffer_.data() + kHeader;
  // The same flow and IP header fields (the lengths, IPv4 id and checksum
  // aside), and the same TCP header but for the sequence number, PSH and
  // the checksum.
  if (v6_) {
    if (std::memcmp(first, p.data(), 4) != 0 || first[7] != p[7] ||
        std::memcmp(first + 8, p.data() + 8, 32) != 0)
      return false;
  } else {
    if (first[1] != p[1] || (first[6] & 0x40) != (p[6] & 0x40) || first[8] != p[8] ||
        std::memcmp(first + 12, p.data() + 12, 8) != 0)
      return false;
  }
  const std::uint8_t* a = first + ip_len_;
  const std::uint8_t* b = p.data() + ip_len_;
  if (std::memcmp(a, b, 4) != 0 || std::memcmp(a + 8, b + 8, 5) != 0 ||
      std::memcmp(a + 14, b + 14, 2) != 0 ||
      std::memcmp(a + 20, b + 20, headers_ - ip_len_ - 20) != 0)
    return false;
  if (load32(b + 4) != next_seq_) return false;
  std::memcpy(buffer_.data() + kHeader + length_, p.data() + headers_, l.payload);
  length_ += l.payload;
  ++count_;
  next_seq_ += static_cast<std::uint32_t>(l.payload);
  if (b[13] & kPsh) buffer_[kHeader + ip_len_ + 13] |= kPsh;
  // A shorter segment or PSH ends what may join, as in the kernel.
  closed_ = l.payload < mss_ || (b[13] & kPsh);
  return true;
}

std::span<const std::uint8_t> Coalescer::flush() {
  if (count_ == 0) return {};
  std::uint8_t* h = buffer_.data();
  std::memset(h, 0, kHeader);
  if (count_ > 1) {
    std::uint8_t* ip = h + kHeader;
    if (v6_) {
      store16(ip + 4, static_cast<std::uint16_t>(length_ - 40));
    } else {
      store16(ip + 2, static_cast<std::uint16_t>(length_));
      store16(ip + 10, 0);
      store16(ip + 10, internet_checksum({ip, 20}));
    }
    // Left to the kernel as GRO leaves it: the pseudo-header's sum in the
    // field, the rest to add from csum_start on.
    std::uint8_t* tcp = ip + ip_len_;
    store16(tcp + 16, fold(pseudo(ip, v6_, length_ - ip_len_)));
    tunnels::VnetHeader v;
    v.flags = 1;  // NEEDS_CSUM
    v.gso_type = v6_ ? 4 : 1;
    v.hdr_len = static_cast<std::uint16_t>(headers_);
    v.gso_size = static_cast<std::uint16_t>(mss_);
    v.csum_start = static_cast<std::uint16_t>(ip_len_);
    v.csum_offset = 16;
    // Host order, as the tun device reads it.
    h[0] = v.flags;
    h[1] = v.gso_type;
    std::memcpy(h + 2, &v.hdr_len, 2);
    std::memcpy(h + 4, &v.gso_size, 2);
    std::memcpy(h + 6, &v.csum_start, 2);
    std::memcpy(h + 8, &v.csum_offset, 2);
  }
  std::span<const std::uint8_t> out(buffer_.data(), kHeader + length_);
  count_ = 0;
  length_ = 0;
  closed_ = false;
  return out;
}

}  // namespace mnigs::gre
