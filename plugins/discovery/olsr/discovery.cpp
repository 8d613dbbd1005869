#include "discovery.hpp"

#include <boost/asio/post.hpp>
#include <set>
#include <stdexcept>

namespace mnigs::olsr {

namespace {

const char* detail_for(Source s) { return s == Source::olsrd2 ? "olsrd2 node" : "olsr topology"; }

std::size_t count_gateways(const Discovery& d) {
  std::set<std::string> nodes;
  for (const auto& c : d.candidates)
    if (c.gateway) nodes.insert(c.node);
  return nodes.size();
}

std::size_t count_nodes(const Discovery& d) {
  std::set<std::string> nodes;
  for (const auto& c : d.candidates) nodes.insert(c.node);
  return nodes.size();
}

}  // namespace

OlsrDiscovery::OlsrDiscovery(PluginContext& ctx) : ctx_(ctx) {}

OlsrDiscovery::~OlsrDiscovery() { stop(); }

void OlsrDiscovery::start() {
  std::string why;
  auto s = read_settings(ctx_.config(), &why);
  if (!s) throw std::runtime_error(why);
  settings_ = std::move(*s);
  std::string order;
  for (const auto& d : settings_.daemons)
    order += (order.empty() ? "" : ", then ") + std::string(source_name(d.source)) + " on " +
             endpoint_text(d.endpoint);
  ctx_.log().info("asking ", order);
  // One round now, so listPlugins says from the start whether a daemon answers.
  discover([](mnigs::Discovery) {});
}

void OlsrDiscovery::stop() {
  if (stopped_) return;
  stopped_ = true;
  // Dropping the round cancels its exchange; nobody is answered any more.
  if (chain_) chain_->cancel();
  chain_.reset();
  waiting_.clear();
}

void OlsrDiscovery::config_changed() {
  std::string why;
  auto s = read_settings(ctx_.config(), &why);
  if (!s) {
    ctx_.log().error(why, "; keeping the previous settings");
    return;
  }
  // A round in progress finishes with the settings it started with.
  settings_ = std::move(*s);
  ctx_.log().info("settings changed; the next scan asks ",
                  source_name(settings_.daemons.front().source), " on ",
                  endpoint_text(settings_.daemons.front().endpoint), " first");
}

void OlsrDiscovery::discover(std::function<void(Discovery)> done) {
  if (stopped_) return;
  waiting_.push_back(std::move(done));
  if (chain_) return;
  ++rounds_;
  attempts_.clear();
  chain_ = std::make_unique<Chain>(
      ctx_.executor(), settings_, [this](const Outcome& o) { on_attempt(o); },
      [this](Outcome o) { on_done(std::move(o)); });
  chain_->start();
}

void OlsrDiscovery::on_attempt(const Outcome& outcome) {
  attempts_.push_back(
      {source_name(outcome.source), outcome.endpoint, outcome.error, outcome.answered});
  if (!outcome.error.empty())
    ctx_.log().debug(source_name(outcome.source), " on ", outcome.endpoint, ": ", outcome.error);
}

// A daemon that is not there is normal in "auto" (only one of them runs); one
// that answers something unreadable is worth a warning even when another
// daemon's answer was used.
void OlsrDiscovery::log_unusable(const Attempt& a) {
  std::uint64_t held = 0;
  if (!limiter_.allow(a.source + ":unusable", ctx_.now(), &held)) return;
  ctx_.log().warn(a.source, " on ", a.endpoint, " answered, but the answer is unusable: ", a.error,
                  held ? " (" + std::to_string(held) + " like it not logged)" : "");
}

std::string OlsrDiscovery::summary_of_attempts() const {
  std::string summary;
  for (const auto& a : attempts_)
    summary += (summary.empty() ? "" : "; ") + a.source + " on " + a.endpoint + ": " + a.error;
  return summary;
}

void OlsrDiscovery::log_failure() {
  // Once per outage, not per round: the core asks every 30 s.
  if (failure_logged_) return;
  failure_logged_ = true;
  if (last_success_ == 0) {
    // Never had an answer: most likely no olsrd on this node at all.
    ctx_.log().info("no OLSR daemon answers yet (", summary_of_attempts(), ")");
  } else {
    ctx_.log().warn(last_error_);
  }
}

void OlsrDiscovery::log_skipped(const Outcome& outcome) {
  const View& v = outcome.view;
  if (v.skipped_total == 0) return;
  std::uint64_t held = 0;
  if (!limiter_.allow(std::string(source_name(outcome.source)) + ":skipped", ctx_.now(), &held))
    return;
  ctx_.log().warn(source_name(outcome.source), " on ", outcome.endpoint, ": skipped ",
                  v.skipped_total, " malformed entr", v.skipped_total == 1 ? "y" : "ies",
                  " (first: ", v.skipped.front(), ")",
                  held ? "; " + std::to_string(held) + " such replies not logged" : "");
}

void OlsrDiscovery::on_done(Outcome outcome) {
  // The chain is finished; destroy it after this call returns, not inside it.
  auto finished = std::move(chain_);
  Discovery d;
  if (outcome.error.empty()) {
    for (const auto& a : attempts_)
      if (a.answered && !a.error.empty()) log_unusable(a);
    log_skipped(outcome);
    d = to_discovery(outcome.view, detail_for(outcome.source));
    last_ = d;
    last_source_ = source_name(outcome.source);
    last_endpoint_ = outcome.endpoint;
    last_skipped_ = outcome.view.skipped_total;
    last_error_.clear();
    failure_logged_ = false;
    last_success_ =
        std::chrono::duration_cast<std::chrono::seconds>(ctx_.wall_now().time_since_epoch())
            .count();
  } else {
    last_error_ = "no OLSR daemon gave a usable answer (" + summary_of_attempts() + ")";
    log_failure();
    d = last_;  // what it knew before, as the API allows
    d.error = last_error_;
  }
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& done : waiting) done(d);
  boost::asio::post(ctx_.executor(), [gone = std::shared_ptr<Chain>(std::move(finished))] {});
}

Json::Value OlsrDiscovery::status() const {
  Json::Value s(Json::objectValue);
  s["source"] = last_source_;
  s["endpoint"] = last_endpoint_;
  s["nodes"] = static_cast<Json::UInt64>(count_nodes(last_));
  s["gateways"] = static_cast<Json::UInt64>(count_gateways(last_));
  s["candidates"] = static_cast<Json::UInt64>(last_.candidates.size());
  s["links"] = static_cast<Json::UInt64>(last_.links.size());
  s["skipped"] = static_cast<Json::UInt64>(last_skipped_);
  s["lastError"] = last_error_;
  s["error"] = last_error_;  // cleared by the next round that gets an answer
  s["lastSuccess"] = static_cast<Json::Int64>(last_success_);
  s["rounds"] = static_cast<Json::UInt64>(rounds_);
  Json::Value attempts(Json::arrayValue);
  for (const auto& a : attempts_) {
    Json::Value j(Json::objectValue);
    j["source"] = a.source;
    j["endpoint"] = a.endpoint;
    j["error"] = a.error;
    attempts.append(j);
  }
  s["attempts"] = attempts;
  Json::Value order(Json::arrayValue);
  for (const auto& d : settings_.daemons)
    order.append(std::string(source_name(d.source)) + " " + endpoint_text(d.endpoint));
  s["order"] = order;
  return s;
}

}  // namespace mnigs::olsr
