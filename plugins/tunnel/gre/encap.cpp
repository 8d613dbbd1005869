#include "encap.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mnigs/log.hpp>
#include <system_error>
#include <utility>

#include "log_limit.hpp"
#include "segment.hpp"

namespace mnigs::gre {

namespace net = boost::asio;

namespace {

// Packets handled per readiness event before the loop turns to the other
// descriptors.
constexpr int kReadsPerWake = 64;
// The largest IP packet, outer header included.
constexpr std::size_t kBufferSize = 65535;
// Socket buffers: a burst of full-size packets while the thread is busy
// with the other direction.
constexpr int kSocketBuffer = 4 << 20;

int open_raw(bool v6, int protocol) {
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) return -1;
  int size = kSocketBuffer;
  // Best effort: net.core.rmem_max caps what is granted.
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  return fd;
}

}  // namespace

struct Encapsulator::Session {
  Endpoint e;
  std::shared_ptr<Device> device;  // the subscriber's own; null on the gateway
};

struct Encapsulator::Socket {
  Socket(net::io_context& io, int fd, bool v6, int protocol)
      : fd(io, fd), v6(v6), protocol(protocol) {}
  net::posix::stream_descriptor fd;
  bool v6;
  int protocol;
  LogLimit errors{4, std::chrono::seconds(60)};
};

struct Encapsulator::Device {
  Device(net::io_context& io, tunnels::TunDevice device)
      : name(device.name()), vnet(device.vnet()), fd(io, device.release()) {}
  std::string name;
  bool vnet;  // a virtio-net header in front of every packet (segment.hpp)
  net::posix::stream_descriptor fd;
  std::weak_ptr<Session> session;  // empty: the gateway's shared device
};

Encapsulator::Encapsulator(net::io_context& io, Encap encap, Logger& log)
    : io_(io), encap_(encap), log_(log), buffer_(tunnels::max_tun_read + 1) {}

Encapsulator::~Encapsulator() { stop(); }

void Encapsulator::start() {
  int opened = 0, error = 0;
  for (bool v6 : {false, true}) {
    for (bool inner_v6 : {false, true}) {
      if (encap_ == Encap::gre && inner_v6) continue;
      const int protocol =
          encap_ == Encap::gre ? kProtoGre : (inner_v6 ? kProtoIpv6 : kProtoIpip);
      int fd = open_raw(v6, protocol);
      if (fd < 0) {
        error = errno;
        continue;
      }
      sockets_[v6][inner_v6] = std::make_shared<Socket>(io_, fd, v6, protocol);
      arm(sockets_[v6][inner_v6]);
      ++opened;
    }
  }
  if (opened == 0)
    throw std::system_error(error, std::generic_category(),
                            std::string("cannot open a raw socket for ") +
                                (encap_ == Encap::gre ? "GRE (protocol 47)"
                                                      : "IP in IP (protocols 4 and 41)"));
}

std::string Encapsulator::sockets() const {
  std::string out;
  for (bool v6 : {false, true}) {
    if (!sockets_[v6][0] && !sockets_[v6][1]) continue;
    if (!out.empty()) out += " ";
    out += v6 ? "ipv6" : "ipv4";
  }
  return out;
}

void Encapsulator::stop() {
  flush_pending();
  stopped_ = true;
  boost::system::error_code ec;
  for (auto& row : sockets_)
    for (auto& s : row) {
      if (s) s->fd.close(ec);
      s.reset();
    }
  if (gateway_device_) gateway_device_->fd.close(ec);
  gateway_device_.reset();
  for (auto& [name, s] : sessions_)
    if (s->device) s->device->fd.close(ec);
  sessions_.clear();
  by_remote_.clear();
  by_inner_.clear();
}

void Encapsulator::arm(const std::shared_ptr<Socket>& socket) {
  std::weak_ptr<Encapsulator> self = weak_from_this();
  socket->fd.async_wait(net::posix::stream_descriptor::wait_read,
                        [self, socket](const boost::system::error_code& ec) {
                          auto me = self.lock();
                          if (ec || !me || me->stopped_) return;
                          me->read_socket(*socket);
                          me->arm(socket);
                        });
}

void Encapsulator::arm(const std::shared_ptr<Device>& device) {
  std::weak_ptr<Encapsulator> self = weak_from_this();
  device->fd.async_wait(net::posix::stream_descriptor::wait_read,
                        [self, device](const boost::system::error_code& ec) {
                          auto me = self.lock();
                          if (ec || !me || me->stopped_ || !device->fd.is_open()) return;
                          me->read_device(*device);
                          if (device->fd.is_open()) me->arm(device);
                        });
}

void Encapsulator::set_gateway_device(tunnels::TunDevice device) {
  flush_pending();
  boost::system::error_code ec;
  if (gateway_device_) gateway_device_->fd.close(ec);
  gateway_device_ = std::make_shared<Device>(io_, std::move(device));
  arm(gateway_device_);
}

void Encapsulator::close_gateway_device() {
  flush_pending();
  boost::system::error_code ec;
  if (gateway_device_) gateway_device_->fd.close(ec);
  gateway_device_.reset();
}

void Encapsulator::index(const std::shared_ptr<Session>& s) {
  by_remote_[s->e.remote].push_back(s);
  if (!s->e.gateway) return;
  if (s->e.inner4) by_inner_[*s->e.inner4] = s;
  if (s->e.inner6) by_inner_[*s->e.inner6] = s;
}

void Encapsulator::unindex(const Session& s) {
  if (auto it = by_remote_.find(s.e.remote); it != by_remote_.end()) {
    std::erase_if(it->second, [&](const auto& p) { return p.get() == &s; });
    if (it->second.empty()) by_remote_.erase(it);
  }
  std::erase_if(by_inner_, [&](const auto& entry) { return entry.second.get() == &s; });
}

void Encapsulator::add(Endpoint endpoint, std::optional<tunnels::TunDevice> device) {
  remove(endpoint.name);
  auto s = std::make_shared<Session>();
  s->e = std::move(endpoint);
  if (device) {
    s->device = std::make_shared<Device>(io_, std::move(*device));
    s->device->session = s;
    arm(s->device);
  }
  sessions_[s->e.name] = s;
  index(s);
}

void Encapsulator::remove(const std::string& name) {
  auto it = sessions_.find(name);
  if (it == sessions_.end()) return;
  flush_pending();
  unindex(*it->second);
  if (it->second->device) {
    boost::system::error_code ec;
    it->second->device->fd.close(ec);
  }
  sessions_.erase(it);
}

void Encapsulator::read_socket(Socket& socket) {
  // What joined in the coalescer (a copy) is written once this wake is
  // done, however it ends: longer runs join than per recvmmsg.
  struct Flush {
    Encapsulator* e;
    ~Flush() { e->flush_pending(); }
  } flush{this};
  if (receive_buffers_.empty())
    receive_buffers_.assign(kReceiveBatch, std::vector<std::uint8_t>(kBufferSize));
  sockaddr_storage from[kReceiveBatch];
  iovec iov[kReceiveBatch];
  mmsghdr msgs[kReceiveBatch];
  for (int round = 0; round < kReadsPerWake; round += static_cast<int>(kReceiveBatch)) {
    for (std::size_t i = 0; i < kReceiveBatch; ++i) {
      iov[i] = {receive_buffers_[i].data(), receive_buffers_[i].size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    // One system call for up to kReceiveBatch datagrams.
    int n = ::recvmmsg(socket.fd.native_handle(), msgs, kReceiveBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        std::uint64_t held = 0;
        if (socket.errors.allow(std::chrono::steady_clock::now(), &held))
          log_.warn("raw socket (protocol ", socket.protocol, "): ", std::strerror(errno));
      }
      return;
    }
    for (int i = 0; i < n; ++i) {
      const msghdr& msg = msgs[i].msg_hdr;
      // A datagram larger than the buffer cannot be whole: IP's own limit.
      if (msg.msg_flags & MSG_TRUNC) {
        drop(Drop::malformed);
        continue;
      }
      std::optional<Ip> source;
      if (socket.v6 && from[i].ss_family == AF_INET6) {
        Ip ip;
        ip.v6 = true;
        std::memcpy(ip.bytes.data(), &reinterpret_cast<sockaddr_in6&>(from[i]).sin6_addr, 16);
        source = ip;
      }
      receive({receive_buffers_[i].data(), msgs[i].msg_len}, socket.v6, socket.protocol, source);
    }
    if (static_cast<std::size_t>(n) < kReceiveBatch) return;  // drained
  }
}

void Encapsulator::receive(std::span<const std::uint8_t> packet, bool outer_v6, int protocol,
                           const std::optional<Ip>& from) {
  Drop why = Drop::none;
  std::optional<Ip> source = from;
  std::span<const std::uint8_t> payload = packet;
  if (!outer_v6) {
    auto outer = parse_outer_v4(packet, &why);
    if (!outer) return drop(why);
    if (outer->protocol != protocol) return drop(Drop::malformed);
    source = outer->source;
    payload = outer->payload;
  }
  if (!source) return drop(Drop::malformed);
  bool inner_v6 = protocol == kProtoIpv6;
  std::optional<std::uint32_t> key;
  if (encap_ == Encap::gre) {
    auto gre = parse_gre(payload, &why);
    if (!gre) return drop(why);
    inner_v6 = gre->protocol == kEtherIpv6;
    key = gre->key;
    payload = gre->payload;
  }
  auto it = by_remote_.find(*source);
  if (it == by_remote_.end()) return drop(Drop::unknown_sender);
  auto inner = parse_inner(payload, inner_v6, &why);
  if (!inner) return drop(why);
  bool key_matched = false;
  for (const auto& s : it->second) {
    if (encap_ == Encap::gre && key != s->e.key) continue;
    key_matched = true;
    const auto& own = inner_v6 ? s->e.inner6 : s->e.inner4;
    // The gateway takes what the subscriber sends from its tunnel address;
    // the subscriber what the gateway sends to it.
    const Ip& address = s->e.gateway ? inner->source : inner->destination;
    if (own && *own == address) return deliver(*s, payload);
  }
  drop(key_matched ? Drop::spoofed : Drop::wrong_key);
}

void Encapsulator::deliver(Session& s, std::span<const std::uint8_t> packet) {
  Device* device = s.e.gateway ? gateway_device_.get() : s.device.get();
  if (!device || !device->fd.is_open()) return drop(Drop::send_failed);
  ++s.e.traffic->rx_packets;
  s.e.traffic->rx_bytes += packet.size();
  if (device->vnet) {
    // Joined with what came before it in this batch where it can be
    // (coalesce.hpp), written when the batch is done.
    if (pending_ != device) flush_pending();
    if (coalescer_.add(packet)) {
      pending_ = device;
      return;
    }
    flush_pending();
    if (!coalescer_.add(packet)) return drop(Drop::send_failed);  // over 64 KiB: cannot be
    pending_ = device;
    return;
  }
  ssize_t n;
  do n = ::write(device->fd.native_handle(), packet.data(), packet.size());
  while (n < 0 && errno == EINTR);
  if (n < 0) drop(Drop::send_failed);
}

void Encapsulator::flush_pending() {
  Device* device = pending_;
  pending_ = nullptr;
  const std::size_t segments = coalescer_.segments();
  const auto bytes = coalescer_.flush();
  if (!device || bytes.empty()) return;
  ssize_t n;
  do n = ::write(device->fd.native_handle(), bytes.data(), bytes.size());
  while (n < 0 && errno == EINTR);
  if (n < 0)
    for (std::size_t i = 0; i < segments; ++i) drop(Drop::send_failed);
}

void Encapsulator::read_device(Device& device) {
  auto owner = device.session.lock();
  const bool shared = device.session.expired() && &device == gateway_device_.get();
  if (!owner && !shared) return;
  const std::size_t header = device.vnet ? tunnels::vnet_header_size : 0;
  for (int i = 0; i < kReadsPerWake; ++i) {
    ssize_t n = ::read(device.fd.native_handle(), buffer_.data(), buffer_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      // The device is gone (deleted under the descriptor): stop reading it.
      log_.warn("tun device ", device.name, ": ", std::strerror(errno), "; no longer read");
      boost::system::error_code ec;
      device.fd.close(ec);
      return;
    }
    // A read that fills the buffer may have been cut short.
    if (static_cast<std::size_t>(n) <= header || static_cast<std::size_t>(n) >= buffer_.size()) {
      drop(Drop::malformed);
      continue;
    }
    std::span<std::uint8_t> packet(buffer_.data() + header, static_cast<std::size_t>(n) - header);
    const int version = ip_version(packet);
    if (version == 0) {
      drop(Drop::not_ip);
      continue;
    }
    Session* to = owner.get();
    if (!to) {
      Drop why = Drop::none;
      auto inner = parse_inner(packet, version == 6, &why);
      if (!inner) {
        drop(why);
        continue;
      }
      auto it = by_inner_.find(inner->destination);
      if (it == by_inner_.end()) {
        drop(Drop::no_session);
        continue;
      }
      to = it->second.get();
    }
    // What the kernel left to do (segmentation, the checksum), done here.
    tunnels::VnetHeader vnet;
    if (header) vnet = read_vnet_host(buffer_.data());
    if (!segment(vnet, packet, segment_store_, segments_).empty()) {
      drop(Drop::malformed);
      continue;
    }
    send(*to, segments_, version == 6);
  }
}

void Encapsulator::send(Session& s, const std::vector<Segment>& segments, bool inner_v6) {
  const bool outer_v6 = s.e.remote.v6;
  const auto& socket = sockets_[outer_v6][encap_ == Encap::gre ? 0 : inner_v6];
  if (!socket) return drop(Drop::send_failed);
  const auto header = gre_header(inner_v6 ? kEtherIpv6 : kEtherIpv4, s.e.key);
  sockaddr_storage to{};
  socklen_t to_len;
  if (outer_v6) {
    auto& a = reinterpret_cast<sockaddr_in6&>(to);
    a.sin6_family = AF_INET6;
    std::memcpy(&a.sin6_addr, s.e.remote.bytes.data(), 16);
    to_len = sizeof a;
  } else {
    auto& a = reinterpret_cast<sockaddr_in&>(to);
    a.sin_family = AF_INET;
    std::memcpy(&a.sin_addr, s.e.remote.bytes.data(), 4);
    to_len = sizeof a;
  }
  // The session's own address as the source: the far end accepts only it.
  alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  std::size_t control_len = 0;
  if (s.e.local && s.e.local->v6 == outer_v6) {
    cmsghdr* c = reinterpret_cast<cmsghdr*>(control);
    if (outer_v6) {
      in6_pktinfo info{};
      std::memcpy(&info.ipi6_addr, s.e.local->bytes.data(), 16);
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof info);
      std::memcpy(CMSG_DATA(c), &info, sizeof info);
      control_len = CMSG_SPACE(sizeof info);
    } else {
      in_pktinfo info{};
      std::memcpy(&info.ipi_spec_dst, s.e.local->bytes.data(), 4);
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof info);
      std::memcpy(CMSG_DATA(c), &info, sizeof info);
      control_len = CMSG_SPACE(sizeof info);
    }
  }
  // In batches of kMaxBatch (a 64 KiB packet cut at a small MSS is more).
  for (std::size_t first = 0; first < segments.size(); first += kMaxBatch) {
    const std::size_t count = std::min(kMaxBatch, segments.size() - first);
    send_batch(*socket, s, std::span(segments).subspan(first, count), header, &to, to_len,
               control_len ? control : nullptr, control_len);
  }
}

void Encapsulator::send_batch(Socket& socket, Session& s, std::span<const Segment> segments,
                              std::span<const std::uint8_t> header, sockaddr_storage* to,
                              socklen_t to_len, void* control, std::size_t control_len) {
  const std::size_t count = segments.size();
  std::size_t bytes[kMaxBatch];
  for (std::size_t i = 0; i < count; ++i) {
    iovec* iov = iovecs_[i];
    std::size_t parts = 0;
    if (encap_ == Encap::gre)
      iov[parts++] = {const_cast<std::uint8_t*>(header.data()), header.size()};
    const Segment& seg = segments[i];
    if (!seg.header.empty())
      iov[parts++] = {const_cast<std::uint8_t*>(seg.header.data()), seg.header.size()};
    iov[parts++] = {const_cast<std::uint8_t*>(seg.payload.data()), seg.payload.size()};
    bytes[i] = seg.header.size() + seg.payload.size();
    msghdr& msg = messages_[i].msg_hdr;
    msg = {};
    msg.msg_name = to;
    msg.msg_namelen = to_len;
    msg.msg_iov = iov;
    msg.msg_iovlen = parts;
    if (control_len) {
      msg.msg_control = control;
      msg.msg_controllen = control_len;
    }
  }
  std::size_t sent = 0;
  while (sent < count) {
    int n = ::sendmmsg(socket.fd.native_handle(), messages_ + sent,
                       static_cast<unsigned>(count - sent), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
      // This message is refused (too big, no route); the next are tried.
      drop(errno == EMSGSIZE ? Drop::too_big : Drop::send_failed);
      ++sent;
      continue;
    }
    if (n <= 0) {
      // The socket's buffer is full: the rest is dropped, as a full queue
      // would drop it, rather than tried message by message.
      for (; sent < count; ++sent) drop(Drop::send_failed);
      break;
    }
    for (int k = 0; k < n; ++k) {
      ++s.e.traffic->tx_packets;
      s.e.traffic->tx_bytes += bytes[sent + static_cast<std::size_t>(k)];
    }
    sent += static_cast<std::size_t>(n);
  }
}

}  // namespace mnigs::gre
