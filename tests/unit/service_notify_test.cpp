// Telling systemd the daemon is ready (Type=notify) without libsystemd: the
// datagram arrives on the socket $NOTIFY_SOCKET names, a path or an
// abstract "@name", and nothing is sent without it.
#include "util/service_notify.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "test_util.hpp"

namespace mnigs {
namespace {

// A datagram socket bound like systemd's notify socket; unbound on exit.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, name.data(), name.size());
    if (name[0] == '@') a.sun_path[0] = '\0';
    const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() +
                                             (name[0] == '@' ? 0 : 1));
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), size), 0) << std::strerror(errno);
    timeval tv{2, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  }
  ~NotifySocket() {
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd_);
  }
  std::string receive() {
    char buf[512];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n < 0 ? "" : std::string(buf, static_cast<std::size_t>(n));
  }

 private:
  int fd_ = -1;
};

TEST(ServiceNotify, ReachesAPathSocket) {
  test::TempDir dir;
  NotifySocket socket(dir.file("notify"));
  std::string why;
  ASSERT_TRUE(notify_service_manager("READY=1\nSTATUS=serving", &why)) << why;
  EXPECT_EQ(socket.receive(), "READY=1\nSTATUS=serving");
}

TEST(ServiceNotify, ReachesAnAbstractSocket) {
  NotifySocket socket("@mnigs-test-notify-" + std::to_string(::getpid()));
  std::string why;
  ASSERT_TRUE(notify_service_manager("STOPPING=1", &why)) << why;
  EXPECT_EQ(socket.receive(), "STOPPING=1");
}

TEST(ServiceNotify, WithoutNotifySocketNothingIsSentAndThatIsFine) {
  ::unsetenv("NOTIFY_SOCKET");
  std::string why;
  EXPECT_TRUE(notify_service_manager("READY=1", &why));
  EXPECT_EQ(why, "");
}

TEST(ServiceNotify, ABadOrAbsentSocketIsSaid) {
  std::string why;
  ::setenv("NOTIFY_SOCKET", "relative/path", 1);
  EXPECT_FALSE(notify_service_manager("READY=1", &why));
  EXPECT_NE(why.find("NOTIFY_SOCKET"), std::string::npos) << why;
  ::setenv("NOTIFY_SOCKET", "/nonexistent/mnigs-notify", 1);
  EXPECT_FALSE(notify_service_manager("READY=1", &why));
  EXPECT_NE(why.find("/nonexistent/mnigs-notify"), std::string::npos) << why;
  ::unsetenv("NOTIFY_SOCKET");
}

}  // namespace
}  // namespace mnigs
