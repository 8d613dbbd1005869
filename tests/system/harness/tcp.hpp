// Raw TCP on a socket a test made itself (often inside a namespace, see
// run_in_netns_thread), for tests that play a hostile or third-party peer.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace mnigs::test {

// Sends all of `bytes` on `fd` (made non-blocking per call) before `end`;
// false once the connection fails (the peer closed it) or the time is up.
bool send_all(int fd, std::string_view bytes, std::chrono::steady_clock::time_point end);

// Reads until the peer closes, `max` bytes have come, or `end`.
std::string read_until_closed(int fd, std::chrono::steady_clock::time_point end,
                              std::size_t max = 1 << 20);

}  // namespace mnigs::test
