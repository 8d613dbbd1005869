#include "util/service_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace mnigs {

bool notify_service_manager(std::string_view state, std::string* why) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return true;
  const std::size_t length = std::strlen(path);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if ((path[0] != '/' && path[0] != '@') || length >= sizeof address.sun_path) {
    if (why) *why = "NOTIFY_SOCKET is not a unix socket path or @name";
    return false;
  }
  std::memcpy(address.sun_path, path, length);
  if (path[0] == '@') address.sun_path[0] = '\0';  // the abstract namespace
  // The abstract name's length counts, not a terminating NUL.
  const auto size =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length + (path[0] == '@' ? 0 : 1));
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (why) *why = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  ssize_t sent;
  do {
    sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&address), size);
  } while (sent < 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (sent < 0 || static_cast<std::size_t>(sent) != state.size()) {
    if (why) *why = std::string("sending to ") + path + ": " + std::strerror(err);
    return false;
  }
  return true;
}

}  // namespace mnigs
