#include "gateway/uplink.hpp"

#include "util/host_port.hpp"
#include "util/net.hpp"
#include "util/text.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace mnigs {

namespace {
using boost::asio::ip::tcp;
constexpr int kFailedRoundsForDown = 2;
}  // namespace

// One round: a connection attempt to every target at once; the first that
// connects answers the round, the deadline or the last failure ends it.
struct UplinkCheck::Round : std::enable_shared_from_this<UplinkCheck::Round> {
  Round(boost::asio::any_io_executor ex, std::function<void(bool, std::string)> done)
      : ex(ex), deadline(ex), done(std::move(done)) {}

  void start(const std::vector<HostPort>& targets, std::chrono::milliseconds timeout) {
    auto self = shared_from_this();
    pending = targets.size();
    deadline.expires_after(timeout);
    deadline.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->finish(false, "no target answered within " +
                                       std::to_string(self->timeout_ms) + " ms");
    });
    timeout_ms = timeout.count();
    for (const auto& t : targets) {
      auto resolver = std::make_shared<tcp::resolver>(ex);
      auto socket = std::make_shared<tcp::socket>(ex);
      sockets.push_back(socket);
      resolvers.push_back(resolver);
      const std::string name = t.host + ":" + std::to_string(t.port);
      // An address needs no lookup: it must not wait behind a slow name in
      // the resolver's one thread.
      if (auto address = parse_address(t.host)) {
        socket->async_connect(tcp::endpoint(*address, t.port),
                              [self, name](const boost::system::error_code& ec) {
                                if (self->finished) return;
                                if (ec) return self->failed(name + ": " + ec.message());
                                self->finish(true, "");
                              });
        continue;
      }
      resolver->async_resolve(
          t.host, std::to_string(t.port),
          [self, socket, name](const boost::system::error_code& ec, tcp::resolver::results_type r) {
            if (self->finished) return;
            if (ec) return self->failed(name + ": " + ec.message());
            boost::asio::async_connect(*socket, r,
                                       [self, name](const boost::system::error_code& ec,
                                                    const tcp::endpoint&) {
                                         if (self->finished) return;
                                         if (ec) return self->failed(name + ": " + ec.message());
                                         self->finish(true, "");
                                       });
          });
    }
  }
  void failed(const std::string& why) {
    last = why;
    if (--pending == 0) finish(false, last);
  }
  void finish(bool answered, const std::string& why) {
    if (finished) return;
    finished = true;
    deadline.cancel();
    for (auto& r : resolvers) r->cancel();
    for (auto& s : sockets) {
      boost::system::error_code ignored;
      s->close(ignored);
    }
    done(answered, why);
  }

  boost::asio::any_io_executor ex;
  boost::asio::steady_timer deadline;
  std::function<void(bool, std::string)> done;
  std::vector<std::shared_ptr<tcp::socket>> sockets;
  std::vector<std::shared_ptr<tcp::resolver>> resolvers;
  std::size_t pending = 0;
  long timeout_ms = 0;
  bool finished = false;
  std::string last;
};

UplinkCheck::UplinkCheck(boost::asio::io_context& io, const ConfigHolder& config,
                         os::Clock& clock, std::function<void(bool)> on_change)
    : io_(io),
      strand_(boost::asio::make_strand(io)),
      config_(config),
      clock_(clock),
      on_change_(std::move(on_change)),
      timer_(clock.make_timer(strand_)) {}

UplinkCheck::~UplinkCheck() = default;

void UplinkCheck::start() {
  boost::asio::post(strand_, [this] {
    stopped_ = false;
    since_ = clock_.unix_seconds();
    config_changed();
  });
}

void UplinkCheck::stop() {
  boost::asio::post(strand_, [this] {
    stopped_ = true;
    ++generation_;
    timer_->cancel();
  });
}

void UplinkCheck::config_changed() {
  boost::asio::post(strand_, [this] {
    if (stopped_) return;
    ++generation_;
    timer_->cancel();
    auto targets = config_.get()->get_list("gateway", "uplinkCheck");
    checking_ = !targets.empty();
    failed_in_a_row_ = 0;
    answered_streak_ = false;
    if (!checking_) return set_up(true, "no uplink check (gateway.uplinkCheck is empty)");
    log_.info("checking the uplink through ", join(targets, ", ", "none"));
    schedule(std::chrono::milliseconds(0));
  });
}

void UplinkCheck::schedule(std::chrono::milliseconds in) {
  timer_->expires_after(in);
  timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopped_) run_round();
  });
}

void UplinkCheck::run_round() {
  auto config = config_.get();
  const auto interval = std::chrono::milliseconds(config->get_int("gateway", "uplinkInterval"));
  std::vector<HostPort> targets;
  invalid_.clear();
  HostPortRules rules;
  rules.names = true;
  for (const auto& text : config->get_list("gateway", "uplinkCheck")) {
    std::string why;
    if (auto hp = parse_host_port(text, rules, &why))
      targets.push_back(*hp);
    else
      invalid_.push_back(text + ": " + why);
  }
  if (targets.empty()) {
    // A typo must not withdraw the gateway: it is said, and nothing is checked.
    last_failure_ = "no usable target in gateway.uplinkCheck (" + join(invalid_, "; ", "") +
                    "); the uplink is not checked";
    if (!all_invalid_) log_.warn(last_failure_);
    all_invalid_ = true;
    set_up(true, last_failure_);
    return schedule(interval);
  }
  all_invalid_ = false;
  auto generation = generation_;
  auto round = std::make_shared<Round>(
      strand_, [this, generation](bool answered, std::string why) {
        if (generation != generation_ || stopped_) return;
        round_done(answered, why);
      });
  round->start(targets, interval);
  schedule(interval);
}

void UplinkCheck::round_done(bool answered, const std::string& failure) {
  auto now = clock_.now();
  if (!answered) {
    last_failure_ = failure;
    answered_streak_ = false;
    if (++failed_in_a_row_ >= kFailedRoundsForDown && up_.load())
      set_up(false, failure);
    return;
  }
  failed_in_a_row_ = 0;
  if (!answered_streak_) {
    answered_streak_ = true;
    answered_since_ = now;
  }
  const auto stable = std::chrono::seconds(config_.get()->get_int("gateway", "uplinkStable"));
  if (!up_.load() && now - answered_since_ >= stable)
    set_up(true, "targets answered for " + std::to_string(stable.count()) + " s");
}

void UplinkCheck::set_up(bool up, const std::string& why) {
  if (up_.load() == up) return;
  up_.store(up);
  since_ = clock_.unix_seconds();
  if (up)
    log_.info("uplink up again (", why, "): offering this gateway again");
  else
    log_.warn("uplink down (", why, "): offer withdrawn, new sessions refused");
  if (on_change_) on_change_(up);
}

void UplinkCheck::status(std::function<void(Json::Value)> done) {
  boost::asio::post(strand_, [this, done] {
    Json::Value v(Json::objectValue);
    v["state"] = !checking_ || all_invalid_ ? "unchecked" : up_.load() ? "up" : "down";
    v["since"] = static_cast<Json::Int64>(since_);
    Json::Value targets(Json::arrayValue);
    for (const auto& t : config_.get()->get_list("gateway", "uplinkCheck")) targets.append(t);
    v["targets"] = targets;
    v["lastFailure"] = last_failure_;
    Json::Value invalid(Json::arrayValue);
    for (const auto& i : invalid_) invalid.append(i);
    v["invalid"] = invalid;
    done(v);
  });
}

}  // namespace mnigs
