// Two l2 plugin instances on one io_context exchange real announcements over
// a veth pair: each hears the other, reports its addresses, ignores a
// malformed datagram, forgets the other once it stops, and answers a
// newcomer without waiting for its interval.
//
// Loopback cannot carry IPv6 link-local multicast between two sockets, so
// the test builds its own link: a thread moves into a fresh network
// namespace (unshare), where it creates the veth pair and runs the test.
// Nothing leaves that namespace, and it disappears with the thread and its
// sockets. Without the privilege to do that the test is skipped.
#include "l2_discovery.hpp"
#include "test_context.hpp"

#include <gtest/gtest.h>
#include <net/if.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ip/multicast.hpp>
#include <boost/asio/ip/udp.hpp>

#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <thread>

namespace mnigs::l2 {
namespace {

using namespace std::chrono_literals;
using testing::ClockContext;
using testing::l2_config;

// Runs argv (PATH searched) and waits for it; its exit code, or -1. A child
// forked from this thread is in this thread's network namespace.
int run(std::vector<std::string> argv) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

// Runs `body` on a thread of its own in a new network namespace; "" on
// success, else why the namespace could not be made (the body did not run).
std::string in_private_namespace(const std::function<void()>& body) {
  std::string refused;
  std::exception_ptr thrown;
  std::thread worker([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      refused = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
      return;
    }
    try {
      body();
    } catch (...) {
      thrown = std::current_exception();
    }
  });
  worker.join();
  if (thrown) std::rethrow_exception(thrown);
  return refused;
}

// Steps `io` until `done()` holds or 10 s pass; whether it holds.
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(20ms);
  }
  return done();
}

std::vector<std::string> addresses_of(const Discovery& d, const std::string& node) {
  std::vector<std::string> out;
  for (const auto& c : d.candidates)
    if (c.node == node) out.push_back(c.address);
  return out;
}

Discovery discover(L2Discovery& plugin) {
  Discovery out;
  plugin.discover([&](Discovery d) { out = std::move(d); });
  return out;
}

// The link: veth l2a (10.99.0.1, fd99::1) <-> l2b (10.99.0.2, fd99::2).
void make_link() {
  // No duplicate address detection, so the link-local source addresses are
  // usable at once.
  write_file("/proc/sys/net/ipv6/conf/default/accept_dad", "0");
  write_file("/proc/sys/net/ipv6/conf/all/accept_dad", "0");
  ASSERT_EQ(run({"ip", "link", "add", "l2a", "type", "veth", "peer", "name", "l2b"}), 0);
  ASSERT_EQ(run({"ip", "addr", "add", "10.99.0.1/24", "dev", "l2a"}), 0);
  ASSERT_EQ(run({"ip", "addr", "add", "10.99.0.2/24", "dev", "l2b"}), 0);
  ASSERT_EQ(run({"ip", "addr", "add", "fd99::1/64", "dev", "l2a", "nodad"}), 0);
  ASSERT_EQ(run({"ip", "addr", "add", "fd99::2/64", "dev", "l2b", "nodad"}), 0);
  ASSERT_EQ(run({"ip", "link", "set", "l2a", "up"}), 0);
  ASSERT_EQ(run({"ip", "link", "set", "l2b", "up"}), 0);
}

void exchange() {
  make_link();
  if (::testing::Test::HasFatalFailure()) return;

  boost::asio::io_context io;
  ClockContext ctx_a(io), ctx_b(io);
  ctx_a.config_ = l2_config({"l2a"}, 1, 2);
  ctx_b.config_ = l2_config({"l2b"}, 1, 2);
  auto a = std::make_shared<L2Discovery>(ctx_a);
  auto b = std::make_shared<L2Discovery>(ctx_b);
  a->start();
  b->start();
  ASSERT_NE(a->node_id(), b->node_id());

  const std::string id_a = a->node_id(), id_b = b->node_id();
  ASSERT_TRUE(run_until(io,
                        [&] {
                          return !addresses_of(discover(*a), id_b).empty() &&
                                 !addresses_of(discover(*b), id_a).empty();
                        }))
      << "a: " << a->status().toStyledString() << "b: " << b->status().toStyledString();

  EXPECT_EQ(addresses_of(discover(*a), id_b), (std::vector<std::string>{"10.99.0.2", "fd99::2"}));
  EXPECT_EQ(addresses_of(discover(*b), id_a), (std::vector<std::string>{"10.99.0.1", "fd99::1"}));
  EXPECT_EQ(discover(*a).candidates[0].detail, "l2 l2a");
  Json::Value status = a->status();
  EXPECT_EQ(status["interfaces"].size(), 1u);
  EXPECT_EQ(status["interfaces"][0].asString(), "l2a");
  EXPECT_GE(status["sent"].asUInt64(), 1u);
  EXPECT_GE(status["received"].asUInt64(), 1u);
  EXPECT_EQ(status["bad"].asUInt64(), 0u);
  const std::string source = status["peers"][0]["links"][0]["source"].asString();
  EXPECT_EQ(source.rfind("fe80::", 0), 0u) << source;
  EXPECT_NE(source.find("%l2a"), std::string::npos) << source;

  // Someone else on the link sends junk, and something too big, to the group.
  {
    using boost::asio::ip::udp;
    udp::socket junk(io, udp::v6());
    const unsigned index = ::if_nametoindex("l2b");
    junk.set_option(boost::asio::ip::multicast::outbound_interface(index));
    const udp::endpoint group(
        boost::asio::ip::address_v6(boost::asio::ip::make_address_v6("ff02::ed6e:6967").to_bytes(),
                                    index),
        65532);
    junk.send_to(boost::asio::buffer(std::string("{\"mnigs\":\"l2\",\"v\":7}")), group);
    junk.send_to(boost::asio::buffer(std::string(3000, ' ')), group);
  }
  ASSERT_TRUE(run_until(io, [&] { return a->status()["bad"].asUInt64() == 2; }))
      << a->status().toStyledString();
  EXPECT_TRUE(ctx_a.log_.saw("unsupported version 7"));
  EXPECT_EQ(addresses_of(discover(*a), id_b).size(), 2u);  // b is still there

  // b stops: a forgets it after its holdtime, and says so.
  b->stop();
  ASSERT_TRUE(run_until(io, [&] { return discover(*a).candidates.empty(); }))
      << a->status().toStyledString();
  EXPECT_TRUE(ctx_a.log_.saw("node " + id_b + " no longer heard"));
  a->stop();
}

// a announces first, before b listens, and then not for a minute: b learns
// of a only because a answers b's first announcement at once.
void newcomer() {
  make_link();
  if (::testing::Test::HasFatalFailure()) return;

  boost::asio::io_context io;
  ClockContext ctx_a(io), ctx_b(io);
  ctx_a.config_ = l2_config({"l2a"}, 60);
  ctx_b.config_ = l2_config({"l2b"}, 60);
  auto a = std::make_shared<L2Discovery>(ctx_a);
  a->start();
  ASSERT_TRUE(run_until(io, [&] { return a->status()["sent"].asUInt64() == 1; }));
  auto b = std::make_shared<L2Discovery>(ctx_b);
  b->start();
  EXPECT_TRUE(run_until(io,
                        [&] {
                          return !addresses_of(discover(*b), a->node_id()).empty() &&
                                 !addresses_of(discover(*a), b->node_id()).empty();
                        }))
      << "a: " << a->status().toStyledString() << "b: " << b->status().toStyledString();
  EXPECT_EQ(a->status()["sent"].asUInt64(), 2u);  // its first, and the answer to b
  a->stop();
  b->stop();
}

TEST(L2Exchange, TwoNodesOnALinkHearEachOtherAndForgetASilentOne) {
  std::string refused = in_private_namespace(exchange);
  if (!refused.empty()) GTEST_SKIP() << "needs a network namespace of its own: " << refused;
}

TEST(L2Exchange, ANewcomerIsAnsweredAtOnce) {
  std::string refused = in_private_namespace(newcomer);
  if (!refused.empty()) GTEST_SKIP() << "needs a network namespace of its own: " << refused;
}

}  // namespace
}  // namespace mnigs::l2
