// An HTTP/1.1 message read as it arrives, for the paths that stream: its
// head as a Beast header, then its body's bytes as they come (chunked
// framing already taken off), then its end. Beast's parser does the
// parsing; this only hands the pieces on instead of keeping the body, so
// a body of any size passes through a bounded buffer.
//
// Bounds: the head at most `header_limit` bytes and kMaxFields fields; the
// body unbounded (the caller's flow control bounds what it holds).
//
// Threading: one thread; the callbacks run inside feed().
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/message.hpp>

#include <cstdint>
#include <limits>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

namespace mnigs::httptunnel {

namespace http = boost::beast::http;

template <bool isRequest>
class MessageReader : public http::basic_parser<isRequest> {
 public:
  static constexpr std::size_t kMaxFields = 100;
  struct Events {
    std::function<void()> on_head;                  // header() is complete
    std::function<void(std::string_view)> on_body;  // body bytes, unframed
    std::function<void()> on_done;                  // the message is complete
  };

  MessageReader(std::uint32_t header_limit, Events events) : events_(std::move(events)) {
    this->header_limit(header_limit);
    // Not boost::none: Boost 1.74 compares a length with an empty limit as
    // "over" (basic_parser.ipp), so no limit is the largest one.
    this->body_limit(std::numeric_limits<std::uint64_t>::max());
    this->eager(true);
  }

  http::header<isRequest>& header() { return header_; }
  // The body's length when the head gives it (Content-Length), else nullopt.
  std::optional<std::uint64_t> length() const {
    auto n = this->content_length();
    return n ? std::optional<std::uint64_t>(*n) : std::nullopt;
  }

  // Parses what it can of `bytes`; returns how many it took. The rest must
  // be offered again with more after it (an incomplete head or chunk
  // line). Errors (a bad message, a head over the limit) set `ec`.
  std::size_t feed(std::span<const std::uint8_t> bytes, boost::beast::error_code& ec) {
    std::size_t used = 0;
    while (used < bytes.size() && !this->is_done()) {
      const bool had_head = this->is_header_done();
      const std::size_t n = this->put(
          boost::asio::const_buffer(bytes.data() + used, bytes.size() - used), ec);
      used += n;
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) break;
      if (n == 0) break;
      // Not eager: the body waits until the owner asks for it.
      if (!had_head && this->is_header_done() && !this->eager()) break;
    }
    return used;
  }
  // The peer closed: a body that runs to the end of the connection ends here.
  void finish(boost::beast::error_code& ec) { this->put_eof(ec); }

 private:
  void on_request_impl(http::verb method, boost::beast::string_view method_str,
                       boost::beast::string_view target, int version,
                       boost::beast::error_code& ec) override {
    if constexpr (isRequest) {
      if (method == http::verb::unknown) header_.method_string(method_str);
      else header_.method(method);
      header_.target(target);
      header_.version(version);
    } else {
      (void)method, (void)method_str, (void)target, (void)version;
      ec = http::error::bad_method;
    }
  }
  void on_response_impl(int code, boost::beast::string_view reason, int version,
                        boost::beast::error_code& ec) override {
    if constexpr (!isRequest) {
      header_.result(static_cast<unsigned>(code));
      header_.reason(reason);
      header_.version(version);
    } else {
      (void)code, (void)reason, (void)version;
      ec = http::error::bad_status;
    }
  }
  void on_field_impl(http::field name, boost::beast::string_view name_string,
                     boost::beast::string_view value, boost::beast::error_code& ec) override {
    if (++fields_ > kMaxFields) {
      ec = http::error::header_limit;
      return;
    }
    if (name == http::field::unknown) header_.insert(name_string, value);
    else header_.insert(name, value);
  }
  void on_header_impl(boost::beast::error_code&) override {
    if (events_.on_head) events_.on_head();
  }
  void on_body_init_impl(const boost::optional<std::uint64_t>&,
                         boost::beast::error_code&) override {}
  std::size_t on_body_impl(boost::beast::string_view body, boost::beast::error_code&) override {
    if (events_.on_body && !body.empty()) events_.on_body({body.data(), body.size()});
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view,
                            boost::beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                                 boost::beast::error_code&) override {
    if (events_.on_body && !body.empty()) events_.on_body({body.data(), body.size()});
    return body.size();
  }
  void on_finish_impl(boost::beast::error_code&) override {
    if (events_.on_done) events_.on_done();
  }

  Events events_;
  http::header<isRequest> header_;
  std::size_t fields_ = 0;
};

}  // namespace mnigs::httptunnel
