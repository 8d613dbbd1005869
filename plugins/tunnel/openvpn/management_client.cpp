#include "management_client.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

namespace mnigs::openvpn {

namespace asio = boost::asio;
using boost::system::error_code;

std::shared_ptr<ManagementClient> ManagementClient::create(asio::any_io_executor executor,
                                                           std::string path,
                                                           ClientOptions options) {
  return std::shared_ptr<ManagementClient>(
      new ManagementClient(std::move(executor), std::move(path), options));
}

ManagementClient::ManagementClient(asio::any_io_executor executor, std::string path,
                                   ClientOptions options)
    : executor_(executor),
      path_(std::move(path)),
      options_(options),
      socket_(executor),
      retry_timer_(executor),
      deadline_timer_(executor) {}

void ManagementClient::connect(ConnectHandler done) {
  if (state_ != Phase::idle) {
    asio::post(executor_, [self = shared_from_this(), done = std::move(done)] {
      if (self->state_ != Phase::closed) done(asio::error::already_started);
    });
    return;
  }
  state_ = Phase::connecting;
  on_connected_ = std::move(done);
  connect_deadline_ = std::chrono::steady_clock::now() + options_.connect_timeout;
  deadline_timer_.expires_at(connect_deadline_);
  deadline_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec) self->on_connect_deadline();
  });
  try_connect();
}

void ManagementClient::try_connect() {
  error_code ignored;
  socket_.close(ignored);
  socket_.async_connect(asio::local::stream_protocol::endpoint(path_),
                        [self = shared_from_this()](const error_code& ec) {
                          self->on_connect(ec);
                        });
}

void ManagementClient::on_connect(const error_code& ec) {
  if (state_ != Phase::connecting) return;
  if (ec == asio::error::operation_aborted) return;  // the deadline closed the socket
  if (ec) {
    // ENOENT until openvpn has made the socket, ECONNREFUSED between its
    // bind and its listen, or while another client holds the interface.
    last_connect_error_ = ec;
    auto next = std::chrono::steady_clock::now() + options_.retry_interval;
    if (next >= connect_deadline_) return;  // the deadline reports it
    retry_timer_.expires_at(next);
    retry_timer_.async_wait([self = shared_from_this()](const error_code& wait_ec) {
      if (!wait_ec && self->state_ == Phase::connecting) self->try_connect();
    });
    return;
  }
  state_ = Phase::connected;
  deadline_timer_.cancel();
  auto done = std::move(on_connected_);
  on_connected_ = nullptr;
  do_read();
  write_next();
  if (done) done(error_code{});
}

void ManagementClient::on_connect_deadline() {
  if (state_ != Phase::connecting) return;
  fail(last_connect_error_ ? last_connect_error_ : error_code(asio::error::timed_out));
}

void ManagementClient::send(Command command, ReplyHandler done) {
  auto refuse = [&](error_code ec) {
    asio::post(executor_, [self = shared_from_this(), done = std::move(done), ec] {
      if (self->state_ != Phase::closed) done(ec, Reply{Reply::Kind::error, "", {}});
    });
  };
  if (state_ == Phase::closed) return;
  if (state_ == Phase::ended) return refuse(asio::error::not_connected);
  if (!command) return refuse(asio::error::invalid_argument);
  if (queue_.size() >= options_.max_queued) return refuse(asio::error::no_buffer_space);
  queue_.push_back({std::move(command), std::move(done)});
  write_next();
}

void ManagementClient::write_next() {
  if (state_ != Phase::connected || in_flight_ || queue_.empty()) return;
  in_flight_ = std::move(queue_.front());
  queue_.pop_front();
  const std::uint64_t sequence = ++sequence_;
  // Before the write: the answer may follow it at once.
  if (in_flight_->command.multiline) parser_.expect_lines();
  deadline_timer_.expires_after(options_.command_timeout);
  deadline_timer_.async_wait([self = shared_from_this(), sequence](const error_code& ec) {
    if (!ec) self->on_command_timeout(sequence);
  });
  asio::async_write(socket_, asio::buffer(in_flight_->command.text),
                    [self = shared_from_this()](const error_code& ec, std::size_t) {
                      self->on_write(ec);
                    });
}

void ManagementClient::on_write(const error_code& ec) {
  if (state_ != Phase::connected) return;
  if (ec) fail(ec);
}

void ManagementClient::on_command_timeout(std::uint64_t sequence) {
  if (state_ != Phase::connected || !in_flight_ || sequence != sequence_) return;
  // A late answer would be taken for the next command's: start over.
  fail(asio::error::timed_out);
}

void ManagementClient::do_read() {
  socket_.async_read_some(asio::buffer(read_buffer_),
                          [self = shared_from_this()](const error_code& ec, std::size_t n) {
                            self->on_read(ec, n);
                          });
}

void ManagementClient::on_read(const error_code& ec, std::size_t n) {
  if (state_ != Phase::connected) return;
  if (ec) return fail(ec);
  for (auto& message : parser_.feed(std::string_view(read_buffer_.data(), n))) {
    deliver(std::move(message));
    if (state_ != Phase::connected) return;  // a handler closed us
  }
  do_read();
}

void ManagementClient::deliver(Message&& message) {
  if (auto* reply = std::get_if<Reply>(&message)) {
    if (!in_flight_) {
      // openvpn answers only commands; this one is not ours to take.
      ++unexpected_replies_;
      return;
    }
    auto done = std::move(in_flight_->done);
    in_flight_.reset();
    deadline_timer_.cancel();
    write_next();
    complete(std::move(done), error_code{}, std::move(*reply));
    return;
  }
  if (on_notification_) on_notification_(message);
}

void ManagementClient::complete(ReplyHandler done, const error_code& ec, Reply reply) {
  if (done) done(ec, std::move(reply));
}

void ManagementClient::fail(const error_code& ec) {
  if (closed()) return;
  const bool was_connected = state_ == Phase::connected;
  state_ = Phase::ended;
  error_code ignored;
  socket_.close(ignored);
  retry_timer_.cancel();
  deadline_timer_.cancel();
  parser_.finish();

  // Take everything out first: a handler may call close() or send().
  auto connected_handler = std::move(on_connected_);
  auto end_handler = std::move(on_end_);
  std::deque<Pending> pending;
  if (in_flight_) pending.push_back(std::move(*in_flight_));
  in_flight_.reset();
  for (auto& p : queue_) pending.push_back(std::move(p));
  queue_.clear();
  on_connected_ = nullptr;
  on_end_ = nullptr;

  if (connected_handler) connected_handler(ec);
  for (auto& p : pending) {
    if (state_ == Phase::closed) return;
    complete(std::move(p.done), ec, Reply{Reply::Kind::error, "", {}});
  }
  if (was_connected && end_handler && state_ != Phase::closed) end_handler(ec);
}

void ManagementClient::close() {
  if (state_ == Phase::closed) return;
  state_ = Phase::closed;
  error_code ignored;
  socket_.close(ignored);
  retry_timer_.cancel();
  deadline_timer_.cancel();
  queue_.clear();
  in_flight_.reset();
  on_connected_ = nullptr;
  on_notification_ = nullptr;
  on_end_ = nullptr;
}

}  // namespace mnigs::openvpn
