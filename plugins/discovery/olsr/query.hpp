// Asking one OLSR daemon interface for its view of the mesh, and asking a
// list of them in turn until one answers.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "exchange.hpp"
#include "settings.hpp"
#include "view.hpp"

namespace mnigs::olsr {

struct Outcome {
  Source source = Source::jsoninfo;
  std::string endpoint;   // "127.0.0.1:9090"
  bool answered = false;  // something came back (even if it could not be read)
  std::string error;      // "" when `view` holds the daemon's answer
  View view;
};

// The request for `source` and a reader for its reply.
std::string request_for(Source source);
// Parses a reply of `source` into `view`; "" or why it could not be read.
std::string parse_reply(Source source, std::string_view reply, View& view);

// Asks the daemons of `settings` in order until one gives a readable answer.
// `attempt` is called after each daemon asked (for logging), `done` once
// with the last outcome (the answer, or the last failure). Everything runs
// on `executor`. Destroying the Chain, or calling cancel(), drops both
// callbacks.
class Chain {
 public:
  using Attempt = std::function<void(const Outcome&)>;
  using Done = std::function<void(Outcome)>;

  Chain(boost::asio::any_io_executor executor, Settings settings, Attempt attempt, Done done);
  ~Chain();
  Chain(const Chain&) = delete;
  Chain& operator=(const Chain&) = delete;

  void start();
  void cancel();

 private:
  void ask(std::size_t index);
  void on_reply(std::size_t index, ExchangeResult result);

  boost::asio::any_io_executor executor_;
  Settings settings_;
  Attempt attempt_;
  Done done_;
  std::shared_ptr<Exchange> current_;
  // Handlers of exchanges check it, so a destroyed Chain is never touched.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace mnigs::olsr
