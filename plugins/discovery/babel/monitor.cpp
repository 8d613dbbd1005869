#include "monitor.hpp"

#include <sys/un.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <cctype>

namespace mnigs::babel {

namespace {

// "Connection refused" -> "connection refused", to go after a colon.
std::string lower_first(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

// A line quoted in the log, cut so one bad line cannot fill it.
std::string quote(std::string_view line) {
  constexpr std::size_t kShown = 120;
  std::string out = "\"" + std::string(line.substr(0, kShown)) + "\"";
  if (line.size() > kShown) out += " (" + std::to_string(line.size()) + " bytes)";
  return out;
}

}  // namespace

std::string Settings::describe() const {
  if (!socket.empty()) return socket;
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(address, ec);
  std::string host = !ec && a.is_v6() ? "[" + address + "]" : address;
  return host + ":" + std::to_string(port);
}

std::optional<Settings> read_settings(const Json::Value& config, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<Settings> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  Settings s;
  s.socket = config.get("socket", "").asString();
  s.address = config.get("address", "::1").asString();
  Json::Int64 port = config.get("port", 33123).asInt64();
  Json::Int64 timeout = config.get("timeout", 5000).asInt64();
  if (port < 1 || port > 65535)
    return fail("babel.port must be 1..65535 (got " + std::to_string(port) + ")");
  if (timeout < 1) return fail("babel.timeout must be a positive number of milliseconds");
  s.port = static_cast<std::uint16_t>(port);
  s.timeout = std::chrono::milliseconds(timeout);
  if (!s.socket.empty()) {
    if (s.socket.size() >= sizeof(sockaddr_un::sun_path))
      return fail("babel.socket \"" + s.socket + "\" is longer than " +
                  std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
    return s;
  }
  if (s.address.empty())
    return fail(
        "babel.address and babel.socket are both empty: set one to babeld's local "
        "interface (e.g. address \"::1\" with babeld's local-port 33123)");
  boost::system::error_code ec;
  boost::asio::ip::make_address(s.address, ec);
  if (ec) return fail("babel.address \"" + s.address + "\" is not an IP address");
  return s;
}

Monitor::Monitor(PluginContext& context, Settings settings, Listener& listener)
    : ctx_(context),
      settings_(std::move(settings)),
      listener_(&listener),
      socket_(context.executor()),
      deadline_(context.executor()),
      retry_(context.executor()) {}

void Monitor::start() { connect(); }

void Monitor::stop() {
  close();
  phase_ = Phase::stopped;
  listener_ = nullptr;
}

void Monitor::reconfigure(const Settings& settings) {
  if (settings == settings_) return;
  settings_ = settings;
  if (phase_ == Phase::stopped) return;
  ctx_.log().info("babeld's local interface is now ", settings_.describe(), "; reconnecting");
  close();
  last_error_.clear();
  outage_logged_ = false;
  backoff_ = kRetryMin;
  connect();
}

std::string Monitor::error() const {
  if (phase_ == Phase::live) return "";
  std::string why = last_error_;
  if (why.empty()) why = phase_ == Phase::stopped ? "the plugin is stopped" : "still connecting";
  return "babeld's local interface at " + settings_.describe() + ": " + why;
}

void Monitor::connect() {
  close();
  phase_ = Phase::connecting;
  lines_.reset();
  greeting_reader_ = GreetingReader();
  incoming_.clear();
  boost::asio::generic::stream_protocol::endpoint endpoint;
  try {
    if (!settings_.socket.empty()) {
      endpoint = boost::asio::local::stream_protocol::endpoint(settings_.socket);
    } else {
      endpoint = boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address(settings_.address),
                                                settings_.port);
    }
  } catch (const std::exception& e) {
    return fail(lower_first(e.what()));
  }
  boost::system::error_code ec;
  socket_.open(endpoint.protocol(), ec);
  if (ec) return fail("cannot open a socket: " + lower_first(ec.message()));
  auto attempt = attempt_;
  socket_.async_connect(endpoint,
                        [self = shared_from_this(), attempt](const boost::system::error_code& ec) {
                          self->on_connect(attempt, ec);
                        });
  arm_deadline(settings_.timeout);
}

void Monitor::on_connect(std::uint64_t attempt, const boost::system::error_code& ec) {
  if (attempt != attempt_ || phase_ != Phase::connecting) return;
  if (ec) return fail(lower_first(ec.message()));
  phase_ = Phase::greeting;
  last_heard_ = ctx_.now();
  read();
}

void Monitor::read() {
  auto attempt = attempt_;
  socket_.async_read_some(
      boost::asio::buffer(read_buffer_),
      [self = shared_from_this(), attempt](const boost::system::error_code& ec, std::size_t n) {
        self->on_read(attempt, ec, n);
      });
}

void Monitor::on_read(std::uint64_t attempt, const boost::system::error_code& ec, std::size_t n) {
  if (attempt != attempt_ || phase_ == Phase::stopped || phase_ == Phase::waiting) return;
  if (ec) {
    if (ec != boost::asio::error::eof) return fail(lower_first(ec.message()));
    // babeld serves a few clients at once (4 in 1.12) and closes the others.
    return fail(phase_ == Phase::greeting
                    ? "babeld closed the connection before its greeting (too many clients?)"
                    : "babeld closed the connection");
  }
  last_heard_ = ctx_.now();
  lines_.feed(
      std::string_view(read_buffer_.data(), n),
      [this, attempt](std::string_view line) {
        if (attempt == attempt_) on_line(line);
      },
      [this, attempt] {
        if (attempt == attempt_)
          note_malformed("", "longer than " + std::to_string(kMaxLine) + " bytes");
      });
  if (attempt != attempt_) return;  // a line ended this connection
  if (changed_) {
    changed_ = false;
    if (listener_) listener_->updated();
  }
  if (attempt == attempt_) read();
}

void Monitor::on_line(std::string_view line) {
  switch (phase_) {
    case Phase::greeting:
      return on_greeting_line(line);
    case Phase::dumping:
      return on_dump_line(line, parse_line(line));
    case Phase::live:
      return on_live_line(line, parse_line(line));
    default:
      return;
  }
}

void Monitor::on_greeting_line(std::string_view line) {
  std::string why;
  switch (greeting_reader_.feed(line, &why)) {
    case GreetingReader::Step::more:
      return;
    case GreetingReader::Step::failed:
      return fail(why);
    case GreetingReader::Step::done:
      break;
  }
  greeting_ = greeting_reader_.greeting();
  phase_ = Phase::dumping;
  // The dump, then every change as it happens. Read-only access is enough.
  send("monitor\n");
}

void Monitor::on_dump_line(std::string_view raw, const Line& line) {
  if (auto* u = std::get_if<Update>(&line)) return incoming_.apply(*u);
  if (auto* m = std::get_if<Malformed>(&line)) return note_malformed(raw, m->why);
  if (auto* k = std::get_if<Unknown>(&line))
    return ctx_.log().debug("babeld reports a \"", k->kind, "\", which this plugin ignores");
  const auto& reply = std::get<Reply>(line);
  if (reply.kind != Reply::Kind::ok)
    return fail(std::string("babeld refused \"monitor\" (") +
                (reply.kind == Reply::Kind::bad ? "bad" : "no " + reply.message) + ")");

  // The dump is complete: it replaces what the last connection left.
  table_ = std::move(incoming_);
  incoming_.clear();
  phase_ = Phase::live;
  ++connections_;
  backoff_ = kRetryMin;
  auto how = outage_logged_ ? "connected again to " : "connected to ";
  ctx_.log().info(how, greeting_.version.empty() ? "babeld" : greeting_.version, " at ",
                  settings_.describe(), " (my-id ", greeting_.my_id, ", ", table_.routes(),
                  " route(s), ", table_.neighbours(), " neighbour(s))");
  outage_logged_ = false;
  keepalive_sent_ = false;
  changed_ = false;
  arm_deadline(settings_.keepalive_idle);
  if (listener_) listener_->synced();
}

void Monitor::on_live_line(std::string_view raw, const Line& line) {
  if (auto* u = std::get_if<Update>(&line)) {
    table_.apply(*u);
    changed_ = true;
    return;
  }
  if (auto* m = std::get_if<Malformed>(&line)) return note_malformed(raw, m->why);
  if (auto* k = std::get_if<Unknown>(&line))
    return ctx_.log().debug("babeld reports a \"", k->kind, "\", which this plugin ignores");
  // "ok" answers a keepalive; anything else is odd but harmless.
  const auto& reply = std::get<Reply>(line);
  if (reply.kind != Reply::Kind::ok) note_malformed(raw, "an answer to no request");
}

void Monitor::send(std::string text) {
  outgoing_.push_back(std::move(text));
  if (!writing_) write_next();
}

void Monitor::write_next() {
  if (outgoing_.empty()) {
    writing_ = false;
    return;
  }
  writing_ = true;
  auto attempt = attempt_;
  boost::asio::async_write(
      socket_, boost::asio::buffer(outgoing_.front()),
      [self = shared_from_this(), attempt](const boost::system::error_code& ec, std::size_t) {
        if (attempt != self->attempt_ || self->phase_ == Phase::stopped) return;
        if (ec) return self->fail("cannot send to babeld: " + lower_first(ec.message()));
        self->outgoing_.pop_front();
        self->write_next();
      });
}

void Monitor::arm_deadline(std::chrono::steady_clock::duration after) {
  deadline_.expires_after(after);
  auto attempt = attempt_;
  deadline_.async_wait([self = shared_from_this(), attempt](const boost::system::error_code& ec) {
    if (ec || attempt != self->attempt_) return;
    self->on_deadline(attempt);
  });
}

void Monitor::on_deadline(std::uint64_t) {
  const auto t = ms(settings_.timeout);
  switch (phase_) {
    case Phase::connecting:
      return fail("no connection within " + t);
    case Phase::greeting:
      return fail("no greeting within " + t + " (is this babeld's local interface?)");
    case Phase::dumping:
      return fail("the dump did not end within " + t);
    case Phase::live:
      break;
    default:
      return;
  }
  // Live: babeld talks every few seconds while it has neighbours; when it has
  // been silent, an empty request proves it is still there (it answers "ok").
  auto now = ctx_.now();
  if (keepalive_sent_) {
    if (last_heard_ < keepalive_at_) return fail("no answer to a keepalive within " + t);
    keepalive_sent_ = false;
  }
  auto idle = now - last_heard_;
  if (idle >= settings_.keepalive_idle) {
    keepalive_sent_ = true;
    keepalive_at_ = now;
    send("\n");
    return arm_deadline(settings_.timeout);
  }
  arm_deadline(settings_.keepalive_idle - idle);
}

void Monitor::fail(std::string reason) {
  if (phase_ == Phase::stopped) return;
  close();
  last_error_ = std::move(reason);
  auto sentence = error();
  if (!outage_logged_) {
    // Once per outage: retries that fail the same way are not news.
    outage_logged_ = true;
    ctx_.log().warn(sentence, "; retrying every ", kRetryMin.count() / 1000, " to ",
                    kRetryMax.count() / 1000, " s");
  } else {
    ctx_.log().debug(sentence);
  }
  retry_later();
  if (listener_) listener_->lost();
}

void Monitor::close() {
  ++attempt_;
  deadline_.cancel();
  retry_.cancel();
  boost::system::error_code ignored;
  socket_.close(ignored);
  outgoing_.clear();
  writing_ = false;
  keepalive_sent_ = false;
  changed_ = false;
  if (phase_ != Phase::stopped) phase_ = Phase::waiting;
}

void Monitor::retry_later() {
  phase_ = Phase::waiting;
  retry_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, kRetryMax);
  auto attempt = attempt_;
  retry_.async_wait([self = shared_from_this(), attempt](const boost::system::error_code& ec) {
    if (ec || attempt != self->attempt_ || self->phase_ != Phase::waiting) return;
    self->connect();
  });
}

void Monitor::note_malformed(std::string_view line, const std::string& why) {
  ++malformed_;
  std::uint64_t held_back = 0;
  if (!malformed_log_.allow(ctx_.now(), &held_back)) return;
  std::string more =
      held_back ? " (" + std::to_string(held_back) + " more not shown since the last)" : "";
  if (line.empty())
    ctx_.log().warn("skipped a line from babeld at ", settings_.describe(), ": ", why, more);
  else
    ctx_.log().warn("skipped a line from babeld at ", settings_.describe(), ": ", why, ": ",
                    quote(line), more);
}

const char* Monitor::phase_name(Phase phase) {
  switch (phase) {
    case Phase::stopped:
      return "stopped";
    case Phase::connecting:
      return "connecting";
    case Phase::greeting:
      return "greeting";
    case Phase::dumping:
      return "dumping";
    case Phase::live:
      return "live";
    case Phase::waiting:
      return "waiting";
  }
  return "?";
}

}  // namespace mnigs::babel
