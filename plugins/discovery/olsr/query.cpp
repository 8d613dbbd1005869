#include "query.hpp"

#include "http_reply.hpp"
#include "jsoninfo.hpp"
#include "olsrd2.hpp"
#include "txtinfo.hpp"

namespace mnigs::olsr {

std::string request_for(Source source) {
  switch (source) {
    case Source::jsoninfo:
      return jsoninfo::request();
    case Source::txtinfo:
      return txtinfo::request();
    case Source::olsrd2:
      return olsrd2::request();
  }
  return {};
}

std::string parse_reply(Source source, std::string_view reply, View& view) {
  switch (source) {
    case Source::jsoninfo:
      return jsoninfo::parse(reply, view);
    case Source::txtinfo:
      return txtinfo::parse(reply, view);
    case Source::olsrd2:
      return olsrd2::parse(reply, view);
  }
  return "unknown source";
}

Chain::Chain(boost::asio::any_io_executor executor, Settings settings, Attempt attempt, Done done)
    : executor_(std::move(executor)),
      settings_(std::move(settings)),
      attempt_(std::move(attempt)),
      done_(std::move(done)) {}

Chain::~Chain() { cancel(); }

void Chain::start() { ask(0); }

void Chain::cancel() {
  *alive_ = false;
  attempt_ = nullptr;
  done_ = nullptr;
  if (current_) current_->cancel();
  current_.reset();
}

void Chain::ask(std::size_t index) {
  const auto& daemon = settings_.daemons[index];
  // olsrd's info plugins close after the reply, but honour Content-Length
  // in case something in between keeps the connection open.
  Exchange::Complete complete;
  if (daemon.source != Source::olsrd2)
    complete = [](std::string_view data) { return http_message_size(data); };
  std::weak_ptr<bool> alive = alive_;
  current_ =
      Exchange::start(executor_, daemon.endpoint, request_for(daemon.source), settings_.limits,
                      std::move(complete), [this, alive, index](ExchangeResult result) {
                        auto still = alive.lock();
                        if (still && *still) on_reply(index, std::move(result));
                      });
}

void Chain::on_reply(std::size_t index, ExchangeResult result) {
  current_.reset();
  const auto& daemon = settings_.daemons[index];
  Outcome outcome;
  outcome.source = daemon.source;
  outcome.endpoint = endpoint_text(daemon.endpoint);
  outcome.answered = !result.reply.empty();
  outcome.error = result.error;
  if (outcome.error.empty()) {
    outcome.error = parse_reply(daemon.source, result.reply, outcome.view);
    if (!outcome.error.empty()) outcome.view = View();
  }
  if (attempt_) attempt_(outcome);
  if (!outcome.error.empty() && index + 1 < settings_.daemons.size()) return ask(index + 1);
  if (auto done = std::move(done_)) {
    done_ = nullptr;
    done(std::move(outcome));
  }
}

}  // namespace mnigs::olsr
