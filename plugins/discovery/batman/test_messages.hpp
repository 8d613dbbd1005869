// For the tests: netlink messages as the kernel sends them, built with libnl
// (nlmsg_alloc, genlmsg_put, nla_put), so the parsers are fed the exact
// bytes of batman-adv's dumps.
#pragma once

#include "messages.hpp"

#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include <cstring>
#include <initializer_list>
#include <memory>
#include <stdexcept>

namespace mnigs::batman::testing {

inline const nlmsghdr& header(const Bytes& b) { return *reinterpret_cast<const nlmsghdr*>(b.data()); }

// One generic netlink message, as a dump part (NLM_F_MULTI) by default.
class Genl {
 public:
  Genl(std::uint16_t family, std::uint8_t cmd, std::uint32_t seq, int flags = NLM_F_MULTI)
      : msg_(nlmsg_alloc(), &nlmsg_free) {
    if (!msg_ || !genlmsg_put(msg_.get(), 0, seq, family, 0, flags, cmd, 1))
      throw std::runtime_error("genlmsg_put failed");
  }
  Genl& mac(int type, const Mac& m) { return check(nla_put(msg_.get(), type, 6, m.data())); }
  Genl& u8(int type, std::uint8_t v) { return check(nla_put_u8(msg_.get(), type, v)); }
  Genl& u16(int type, std::uint16_t v) { return check(nla_put_u16(msg_.get(), type, v)); }
  Genl& u32(int type, std::uint32_t v) { return check(nla_put_u32(msg_.get(), type, v)); }
  Genl& flag(int type) { return check(nla_put_flag(msg_.get(), type)); }
  Genl& string(int type, const char* s) { return check(nla_put_string(msg_.get(), type, s)); }
  Genl& raw(int type, std::initializer_list<std::uint8_t> data) {
    Bytes b(data);
    return check(nla_put(msg_.get(), type, static_cast<int>(b.size()), b.data()));
  }
  Bytes bytes() const {
    const nlmsghdr* h = nlmsg_hdr(msg_.get());
    const auto* p = reinterpret_cast<const std::uint8_t*>(h);
    return Bytes(p, p + h->nlmsg_len);
  }

 private:
  Genl& check(int err) {
    if (err < 0) throw std::runtime_error("nla_put failed");
    return *this;
  }
  std::unique_ptr<nl_msg, void (*)(nl_msg*)> msg_;
};

// NLMSG_DONE ending a dump; `status` is the dump's outcome (0 or -errno).
inline Bytes done(std::uint32_t seq, int status = 0) {
  Bytes b(NLMSG_HDRLEN + sizeof(int));
  auto* h = reinterpret_cast<nlmsghdr*>(b.data());
  h->nlmsg_len = static_cast<std::uint32_t>(b.size());
  h->nlmsg_type = NLMSG_DONE;
  h->nlmsg_flags = NLM_F_MULTI;
  h->nlmsg_seq = seq;
  std::memcpy(b.data() + NLMSG_HDRLEN, &status, sizeof status);
  return b;
}

// NLMSG_ERROR answering a request; `status` 0 is an acknowledgement.
inline Bytes error(std::uint32_t seq, int status) {
  Bytes b(NLMSG_HDRLEN + sizeof(nlmsgerr));
  auto* h = reinterpret_cast<nlmsghdr*>(b.data());
  h->nlmsg_len = static_cast<std::uint32_t>(b.size());
  h->nlmsg_type = NLMSG_ERROR;
  h->nlmsg_seq = seq;
  std::memcpy(b.data() + NLMSG_HDRLEN, &status, sizeof status);
  return b;
}

// Several messages in one datagram, as the kernel packs a dump.
inline Bytes datagram(std::initializer_list<Bytes> messages) {
  Bytes out;
  for (const auto& m : messages) out.insert(out.end(), m.begin(), m.end());
  return out;
}

}  // namespace mnigs::batman::testing
