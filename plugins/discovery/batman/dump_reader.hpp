// Follows one netlink request/answer exchange through the datagrams the
// kernel sends back: data messages of the expected type go to a handler;
// NLMSG_DONE ends a dump (with the dump's own error, if any); NLMSG_ERROR
// ends any request (an acknowledgement when its error is 0). Messages of an
// earlier request (another sequence number) are skipped. A datagram whose
// bytes do not form whole messages ends the exchange as malformed. No I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

struct nlmsghdr;

namespace mnigs::batman {

class DumpReader {
 public:
  using Handler = std::function<void(const nlmsghdr&)>;

  DumpReader(std::uint32_t seq, std::uint16_t type, Handler on_message);

  // Takes one datagram (`data` aligned to 4 bytes). Returns true once the
  // exchange is over; later datagrams are ignored.
  bool feed(const std::uint8_t* data, std::size_t size);

  bool finished() const { return finished_; }
  // After finished(): 0, or the positive errno the kernel answered with
  // (EBADMSG when the answer was malformed).
  int error() const { return error_; }
  // Why the answer was malformed; "" otherwise.
  const std::string& malformed() const { return malformed_; }
  std::size_t messages() const { return messages_; }

 private:
  bool finish(int error);
  bool bad_status(const char* type, int status);
  bool handle(const nlmsghdr& h);

  std::uint32_t seq_;
  std::uint16_t type_;
  Handler on_message_;
  bool finished_ = false;
  int error_ = 0;
  std::string malformed_;
  std::size_t messages_ = 0;
};

}  // namespace mnigs::batman
