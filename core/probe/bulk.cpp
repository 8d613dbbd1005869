#include "probe/bulk.hpp"

#include "util/net.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>
#include <optional>

namespace mnigs::probe {

namespace {
using boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

const std::array<char, 65536> kZeros{};

std::string plain_answer(const char* status) {
  return std::string("HTTP/1.1 ") + status + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
}
}  // namespace

struct BulkService::Transfer : std::enable_shared_from_this<BulkService::Transfer> {
  Transfer(boost::asio::any_io_executor ex, BulkService& service)
      : socket(ex), deadline(ex), service(service) {}

  void begin(std::string first, std::uint64_t down_bytes, std::uint64_t up_limit) {
    down = down_bytes;
    up = up_limit;
    auto self = shared_from_this();
    deadline.expires_after(kDeadline);
    deadline.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->finish();
    });
    out = std::move(first);
    boost::asio::async_write(socket, boost::asio::buffer(out),
                             [self](const boost::system::error_code& ec, std::size_t) {
                               if (ec) return self->finish();
                               self->send_down();
                             });
  }
  // Answers and closes: a refusal.
  void refuse(std::string answer) {
    auto self = shared_from_this();
    out = std::move(answer);
    boost::asio::async_write(socket, boost::asio::buffer(out),
                             [self](const boost::system::error_code&, std::size_t) {
                               self->finish();
                             });
  }
  void send_down() {
    if (down == 0) {
      got = pending_count;
      if (got > up) return finish();
      return receive();
    }
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(down, kZeros.size()));
    down -= n;
    auto self = shared_from_this();
    boost::asio::async_write(socket, boost::asio::buffer(kZeros.data(), n),
                             [self](const boost::system::error_code& ec, std::size_t) {
                               if (ec) return self->finish();
                               self->send_down();
                             });
  }
  void receive() {
    auto self = shared_from_this();
    socket.async_read_some(boost::asio::buffer(in),
                           [self](const boost::system::error_code& ec, std::size_t n) {
                             self->got += n;
                             if (self->got > self->up) return self->finish();
                             if (ec == boost::asio::error::eof) return self->reply();
                             if (ec) return self->finish();
                             self->receive();
                           });
  }
  void reply() {
    out.assign(8, '\0');
    for (int i = 7; i >= 0; --i) out[static_cast<std::size_t>(7 - i)] =
        static_cast<char>((got >> (8 * i)) & 0xff);
    auto self = shared_from_this();
    boost::asio::async_write(socket, boost::asio::buffer(out),
                             [self](const boost::system::error_code&, std::size_t) {
                               self->finish();
                             });
  }
  void finish() {
    if (done) return;
    done = true;
    deadline.cancel();
    boost::system::error_code ignored;
    socket.close(ignored);
    if (counted) boost::asio::post(service.strand_, [&s = service] { s.finished(); });
  }

  tcp::socket socket;
  boost::asio::steady_timer deadline;
  BulkService& service;
  std::string out;
  std::array<char, 65536> in{};
  std::uint64_t down = 0, up = 0, got = 0, pending_count = 0;
  bool done = false;
  bool counted = false;  // holds one of the kMaxAtOnce places
};

BulkService::BulkService(boost::asio::io_context& io, EchoService& echo)
    : io_(io), strand_(boost::asio::make_strand(io)), echo_(echo) {}

void BulkService::serve(HttpUpgrade request) {
  auto address = parse_address(request.remote_address);
  if (!address) {
    ::close(request.fd);
    return;
  }
  echo_.holds(*address, [this, request = std::move(request)](bool holder) mutable {
    boost::asio::post(strand_, [this, request = std::move(request), holder]() mutable {
      start(std::move(request), holder);
    });
  });
}

void BulkService::start(HttpUpgrade request, bool holder) {
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  if (::getsockname(request.fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) {
    ::close(request.fd);
    return;
  }
  auto t = std::make_shared<Transfer>(boost::asio::any_io_executor(strand_), *this);
  boost::system::error_code ec;
  t->socket.assign(local.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), request.fd, ec);
  if (ec) {
    ::close(request.fd);
    return;
  }
  std::uint64_t down = 0, up = 0;
  if (!holder) {
    ++refused_;
    return t->refuse(plain_answer("403 Forbidden"));
  }
  // Only holders take a place; finished() gives it back.
  t->counted = true;
  ++active_;
  if (active_ > kMaxAtOnce) {
    ++refused_;
    return t->refuse(plain_answer("503 Service Unavailable"));
  }
  if (request.method != "GET" || !parse_bulk_query(request.target, down, up)) {
    ++refused_;
    return t->refuse(plain_answer("400 Bad Request"));
  }
  ++served_;
  t->pending_count = request.pending.size();
  t->begin("HTTP/1.1 101 Switching Protocols\r\nUpgrade: mnigs-bulk\r\nConnection: Upgrade\r\n\r\n",
           down, up);
}

void BulkService::finished() { --active_; }

void BulkService::status(std::function<void(Json::Value)> done) {
  boost::asio::post(strand_, [this, done] {
    Json::Value v(Json::objectValue);
    v["served"] = static_cast<Json::UInt64>(served_);
    v["refused"] = static_cast<Json::UInt64>(refused_);
    v["active"] = active_;
    done(v);
  });
}

namespace {

// One direction of run_bulk on its own connection.
struct Leg : std::enable_shared_from_this<Leg> {
  Leg(boost::asio::any_io_executor ex, bool download, std::uint64_t bytes,
      std::chrono::milliseconds limit, std::function<void(std::string, BulkFigures)> done)
      : socket(ex), timer(ex), download(download), bytes(bytes), limit(limit),
        done(std::move(done)) {}

  void start(const tcp::endpoint& to, const std::string& device) {
    auto self = shared_from_this();
    boost::system::error_code ec;
    socket.open(to.protocol(), ec);
    if (!ec && !device.empty() &&
        ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_BINDTODEVICE, device.c_str(),
                     static_cast<socklen_t>(device.size())) != 0)
      ec.assign(errno, boost::system::system_category());
    if (ec) return end("cannot connect to " + to.address().to_string() + ": " + ec.message());
    timer.expires_after(std::chrono::seconds(3));  // to connect and be answered
    timer.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->end("the gateway did not answer the throughput test in time");
    });
    socket.async_connect(to, [self, to](const boost::system::error_code& ec) {
      if (ec) return self->end("cannot connect to " + to.address().to_string() + ": " +
                               ec.message());
      self->request = "GET " + std::string(kBulkPath) + "?" +
                      (self->download ? "down=" : "up=") + std::to_string(self->bytes) +
                      " HTTP/1.1\r\nHost: " + to.address().to_string() +
                      "\r\nUpgrade: mnigs-bulk\r\nConnection: Upgrade\r\n\r\n";
      boost::asio::async_write(self->socket, boost::asio::buffer(self->request),
                               [self](const boost::system::error_code& ec, std::size_t) {
                                 if (ec) return self->end("sending the request: " + ec.message());
                                 self->read_answer();
                               });
    });
  }
  void read_answer() {
    auto self = shared_from_this();
    boost::asio::async_read_until(
        socket, boost::asio::dynamic_buffer(head, 4096), "\r\n\r\n",
        [self](const boost::system::error_code& ec, std::size_t n) {
          if (ec) return self->end("reading the answer: " + ec.message());
          std::string status = self->head.substr(0, self->head.find("\r\n"));
          if (status.rfind("HTTP/1.1 101", 0) != 0)
            return self->end("the gateway answered \"" + status.substr(0, 64) + "\"");
          const std::size_t extra = self->head.size() - n;  // bytes past the headers
          self->figures.bytes = self->download ? extra : 0;
          self->began = Clock::now();
          self->timer.expires_after(self->limit);
          self->timer.async_wait([self](const boost::system::error_code& ec) {
            if (ec) return;
            // Time is up: what arrived (or went) so far counts.
            if (self->download) return self->end("");
            boost::system::error_code ignored;
            self->socket.shutdown(tcp::socket::shutdown_send, ignored);
          });
          if (self->download) return self->read_down();
          self->write_up();
        });
  }
  void read_down() {
    if (figures.bytes >= bytes) return end("");
    auto self = shared_from_this();
    socket.async_read_some(boost::asio::buffer(buffer),
                           [self](const boost::system::error_code& ec, std::size_t n) {
                             self->figures.bytes += n;
                             if (ec && ec != boost::asio::error::eof)
                               return self->end("downloading: " + ec.message());
                             if (ec) return self->end(self->figures.bytes >= self->bytes
                                                          ? ""
                                                          : "the gateway closed early");
                             self->read_down();
                           });
  }
  void write_up() {
    if (sent >= bytes || stopped_sending) return finish_up();
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(bytes - sent, kZeros.size()));
    auto self = shared_from_this();
    boost::asio::async_write(socket, boost::asio::buffer(kZeros.data(), n),
                             [self](const boost::system::error_code& ec, std::size_t n) {
                               self->sent += n;
                               if (ec) {
                                 self->stopped_sending = true;  // the deadline shut it
                                 return self->finish_up();
                               }
                               self->write_up();
                             });
  }
  void finish_up() {
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    auto self = shared_from_this();
    timer.expires_after(std::chrono::seconds(2));  // for the count to come back
    timer.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->end("the gateway did not confirm the upload");
    });
    boost::asio::async_read(socket, boost::asio::buffer(count),
                            [self](const boost::system::error_code& ec, std::size_t) {
                              if (ec) return self->end("no upload count: " + ec.message());
                              std::uint64_t got = 0;
                              for (unsigned char c : self->count) got = (got << 8) | c;
                              // The gateway's word, but never more than went.
                              self->figures.bytes = std::min(got, self->sent);
                              self->end("");
                            });
  }
  void end(const std::string& error) {
    if (ended) return;
    ended = true;
    if (began != Clock::time_point{})
      figures.seconds = std::chrono::duration<double>(Clock::now() - began).count();
    timer.cancel();
    boost::system::error_code ignored;
    socket.close(ignored);
    done(error, figures);
  }

  tcp::socket socket;
  boost::asio::steady_timer timer;
  bool download;
  std::uint64_t bytes, sent = 0;
  std::chrono::milliseconds limit;
  std::function<void(std::string, BulkFigures)> done;
  std::string request, head;
  std::array<char, 65536> buffer{};
  std::array<unsigned char, 8> count{};
  BulkFigures figures;
  Clock::time_point began{};
  bool ended = false, stopped_sending = false;
};

}  // namespace

void run_bulk(boost::asio::any_io_executor ex, tcp::endpoint to, const std::string& device,
              std::uint64_t down, std::uint64_t up, std::chrono::milliseconds limit,
              std::function<void(BulkResult)> done) {
  auto result = std::make_shared<BulkResult>();
  auto down_leg = std::make_shared<Leg>(
      ex, true, down, limit,
      [ex, to, device, up, limit, result, done](std::string error, BulkFigures f) {
        result->down = f;
        if (!error.empty()) {
          result->error = error;
          return boost::asio::post(ex, [done, result] { done(*result); });
        }
        auto up_leg = std::make_shared<Leg>(
            ex, false, up, limit, [ex, result, done](std::string error, BulkFigures f) {
              result->up = f;
              result->error = error;
              boost::asio::post(ex, [done, result] { done(*result); });
            });
        up_leg->start(to, device);
      });
  down_leg->start(to, device);
}

}  // namespace mnigs::probe
