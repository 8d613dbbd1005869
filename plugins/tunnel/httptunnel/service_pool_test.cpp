// ServicePool over loopback: connections kept by service, the caps, the
// idle limit, a connection the peer closes while idle, clear().
#include "service_pool.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <poll.h>

#include <thread>
#include <vector>

namespace mnigs::httptunnel {
namespace {

using namespace std::chrono_literals;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class ServicePoolTest : public ::testing::Test {
 protected:
  // A connected pair: the pool's end, and the service's end kept here.
  tcp::socket connection() {
    tcp::socket client(io_);
    client.connect(acceptor_.local_endpoint());
    services_.push_back(acceptor_.accept());
    return client;
  }
  // Runs the loop until `pred` holds or 5 s pass.
  template <class Pred>
  bool run_until(Pred pred) {
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (!pred() && std::chrono::steady_clock::now() < until) {
      io_.restart();
      io_.run_for(5ms);
    }
    return pred();
  }
  // Whether `s` has something to read (data, a close), within 5 s.
  static bool readable(tcp::socket& s) {
    pollfd p{s.native_handle(), POLLIN, 0};
    return ::poll(&p, 1, 5000) == 1;
  }
  // Whether the pool closed the connection whose service end is services_[i]
  // (a reset where the pool left bytes unread).
  bool closed_by_pool(std::size_t i) {
    if (!readable(services_[i])) return false;
    char c;
    boost::system::error_code ec;
    const std::size_t n = services_[i].read_some(net::buffer(&c, 1), ec);
    return n == 0 && (ec == net::error::eof || ec == net::error::connection_reset);
  }

  net::io_context io_;
  tcp::acceptor acceptor_{io_, {net::ip::make_address("127.0.0.1"), 0}};
  std::vector<tcp::socket> services_;
};

TEST_F(ServicePoolTest, GivesBackTheMostRecentConnectionOfTheServiceAsked) {
  ServicePool pool(io_, {});
  auto a = connection(), b = connection(), c = connection();
  const auto port_of = [](const tcp::socket& s) { return s.local_endpoint().port(); };
  const auto pa = port_of(a), pb = port_of(b), pc = port_of(c);
  pool.give("127.0.0.1:1", std::move(a));
  pool.give("127.0.0.1:1", std::move(b));
  pool.give("127.0.0.1:2", std::move(c));
  EXPECT_EQ(pool.idle(), 3u);
  auto got = pool.take("127.0.0.1:1");
  ASSERT_TRUE(got);
  EXPECT_EQ(port_of(*got), pb);
  got = pool.take("127.0.0.1:1");
  ASSERT_TRUE(got);
  EXPECT_EQ(port_of(*got), pa);
  EXPECT_FALSE(pool.take("127.0.0.1:1"));
  got = pool.take("127.0.0.1:2");
  ASSERT_TRUE(got);
  EXPECT_EQ(port_of(*got), pc);
  EXPECT_EQ(pool.idle(), 0u);
  // A taken connection is the caller's, open and usable.
  EXPECT_TRUE(got->is_open());
  net::write(*got, net::buffer("x", 1));
  char ch = 0;
  net::read(services_[2], net::buffer(&ch, 1));
  EXPECT_EQ(ch, 'x');
}

TEST_F(ServicePoolTest, KeepsNoMoreThanItsCapsAndClosesTheRest) {
  ServicePool pool(io_, {.per_service = 2, .total = 3, .idle = 60s});
  for (int i = 0; i < 3; ++i) pool.give("a:1", connection());
  EXPECT_EQ(pool.idle(), 2u);
  EXPECT_TRUE(closed_by_pool(2));
  pool.give("b:1", connection());
  pool.give("c:1", connection());  // over the total
  EXPECT_EQ(pool.idle(), 3u);
  EXPECT_TRUE(closed_by_pool(4));
  EXPECT_FALSE(pool.take("c:1"));
}

TEST_F(ServicePoolTest, DropsAConnectionIdleForTooLong) {
  ServicePool pool(io_, {.per_service = 8, .total = 8, .idle = 100ms});
  pool.give("a:1", connection());
  EXPECT_TRUE(run_until([&] { return pool.idle() == 0; }));
  EXPECT_TRUE(closed_by_pool(0));
  // Also when asked for before the sweep has run.
  pool.give("a:1", connection());
  std::this_thread::sleep_for(150ms);
  EXPECT_FALSE(pool.take("a:1"));
  EXPECT_TRUE(closed_by_pool(1));
}

TEST_F(ServicePoolTest, GivesOutNoConnectionTheServiceClosedOrTalkedOn) {
  ServicePool pool(io_, {});
  auto quiet = connection(), closed = connection(), talking = connection();
  const auto port = quiet.local_endpoint().port();
  services_[1].close();
  net::write(services_[2], net::buffer("unasked", 7));
  ASSERT_TRUE(readable(closed));
  ASSERT_TRUE(readable(talking));
  pool.give("a:1", std::move(quiet));
  pool.give("a:1", std::move(closed));
  pool.give("a:1", std::move(talking));
  // The newest two are dropped (and closed) on the way to the quiet one.
  auto got = pool.take("a:1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->local_endpoint().port(), port);
  EXPECT_EQ(pool.idle(), 0u);
  EXPECT_TRUE(closed_by_pool(2));
}

TEST_F(ServicePoolTest, ClearClosesEverythingAndNoHandlerRunsAfterThePoolIsGone) {
  {
    ServicePool pool(io_, {.per_service = 8, .total = 8, .idle = 10ms});
    pool.give("a:1", connection());
    pool.give("b:1", connection());
    pool.clear();
    EXPECT_EQ(pool.idle(), 0u);
    EXPECT_TRUE(closed_by_pool(0));
    EXPECT_TRUE(closed_by_pool(1));
    pool.give("a:1", connection());
  }  // destroyed with a connection idle, its watch and sweep pending
  EXPECT_TRUE(closed_by_pool(2));
  io_.restart();
  io_.run_for(50ms);  // what is left runs, finding no pool
}

}  // namespace
}  // namespace mnigs::httptunnel
