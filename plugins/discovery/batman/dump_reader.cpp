#include "dump_reader.hpp"

#include <linux/netlink.h>
#include <netlink/msg.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace mnigs::batman {

DumpReader::DumpReader(std::uint32_t seq, std::uint16_t type, Handler on_message)
    : seq_(seq), type_(type), on_message_(std::move(on_message)) {}

bool DumpReader::finish(int error) {
  finished_ = true;
  error_ = error;
  return true;
}

bool DumpReader::feed(const std::uint8_t* data, std::size_t size) {
  if (finished_) return true;
  if (size > static_cast<std::size_t>(INT32_MAX)) size = INT32_MAX;
  int rem = static_cast<int>(size);
  auto* h = reinterpret_cast<nlmsghdr*>(const_cast<std::uint8_t*>(data));
  for (; nlmsg_ok(h, rem); h = nlmsg_next(h, &rem))
    if (handle(*h)) return true;
  if (rem > 0) {
    malformed_ = std::to_string(rem) + " byte(s) of a datagram do not form a netlink message";
    return finish(EBADMSG);
  }
  return false;
}

// INT_MIN is no negative errno: it has no positive counterpart.
bool DumpReader::bad_status(const char* type, int status) {
  malformed_ = std::string(type) + " with error code " + std::to_string(status);
  return finish(EBADMSG);
}

// True when `h` ends the exchange.
bool DumpReader::handle(const nlmsghdr& h) {
  if (h.nlmsg_seq != seq_) return false;  // a late answer to an earlier request
  const std::size_t payload = h.nlmsg_len - NLMSG_HDRLEN;
  switch (h.nlmsg_type) {
    case NLMSG_NOOP:
      return false;
    case NLMSG_DONE: {
      // The kernel puts the dump's outcome after the header: 0, or a
      // negative errno when the dump function failed (no such interface...).
      int status = 0;
      if (payload >= sizeof status) std::memcpy(&status, NLMSG_DATA(&h), sizeof status);
      if (status == INT_MIN) return bad_status("NLMSG_DONE", status);
      return finish(status < 0 ? -status : 0);
    }
    case NLMSG_ERROR: {
      int status = 0;
      if (payload < sizeof status) {
        malformed_ = "NLMSG_ERROR without an error code";
        return finish(EBADMSG);
      }
      std::memcpy(&status, NLMSG_DATA(&h), sizeof status);
      if (status == INT_MIN) return bad_status("NLMSG_ERROR", status);
      return finish(status < 0 ? -status : status);
    }
    case NLMSG_OVERRUN:
      malformed_ = "the kernel reported an overrun";
      return finish(EBADMSG);
    default:
      if (h.nlmsg_type == type_) {
        ++messages_;
        on_message_(h);
      }
      return false;
  }
}

}  // namespace mnigs::batman
