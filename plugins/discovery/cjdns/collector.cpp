#include "collector.hpp"

#include <cstdio>

namespace mnigs::cjdns {

namespace {

using Status = AdminClient::Reply::Status;

std::string seconds(std::chrono::milliseconds ms) {
  if (ms.count() % 1000 == 0) return std::to_string(ms.count() / 1000) + " s";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g s", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

// Walks the pages of one function after the other.
class Round : public std::enable_shared_from_this<Round> {
 public:
  Round(std::shared_ptr<AdminClient> client, std::chrono::milliseconds timeout,
        std::size_t max_pages, std::function<void(Collected)> done)
      : client_(std::move(client)),
        timeout_(timeout),
        max_pages_(max_pages),
        done_(std::move(done)) {}

  void start() { fetch(kDumpTable, 0); }

 private:
  void fetch(const std::string& function, std::int64_t page) {
    auto args = bencode::Value::dict();
    args.d["page"] = bencode::Value::integer(page);
    client_->call(function, std::move(args),
                  [self = shared_from_this(), function, page](AdminClient::Reply reply) {
                    self->on_page(function, page, std::move(reply));
                  });
  }

  void on_page(const std::string& function, std::int64_t page, AdminClient::Reply reply) {
    if (reply.status != Status::ok) {
      // An old or trimmed cjdroute without peerStats still has a node store
      // worth reporting; everything else (password, silence) ends the round.
      if (function == kPeerStats && reply.status == Status::remote_error) {
        result_.peers_note = describe(reply, function, client_->target(), timeout_);
        peers_.clear();
        return finish();
      }
      result_.error = describe(reply, function, client_->target(), timeout_);
      return done_(std::move(result_));
    }
    ++result_.pages;
    const char* key = list_key(function);
    const bencode::Value* list = reply.value.find(key);
    if (!list || !list->is_list()) {
      result_.error = "cjdroute admin at " + client_->target().endpoint() + " sent a " + function +
                      " reply without a \"" + key + "\" list";
      return done_(std::move(result_));
    }
    auto& into = function == kPeerStats ? peers_ : table_;
    into.insert(into.end(), list->l.begin(), list->l.end());
    if (reply.value.find("more")) {
      if (result_.pages >= max_pages_) {
        result_.error = "cjdroute admin at " + client_->target().endpoint() +
                        " still announced more pages of " + function + " after " +
                        std::to_string(max_pages_) + " pages";
        return done_(std::move(result_));
      }
      return fetch(function, page + 1);
    }
    if (function == kDumpTable) return fetch(kPeerStats, 0);
    finish();
  }

  void finish() {
    result_.nodes = interpret(table_, peers_);
    done_(std::move(result_));
  }

  std::shared_ptr<AdminClient> client_;
  std::chrono::milliseconds timeout_;
  std::size_t max_pages_;
  std::function<void(Collected)> done_;
  std::vector<bencode::Value> table_, peers_;
  Collected result_;
};

}  // namespace

void collect(std::shared_ptr<AdminClient> client, std::chrono::milliseconds timeout,
             std::size_t max_pages, std::function<void(Collected)> done) {
  std::make_shared<Round>(std::move(client), timeout, max_pages, std::move(done))->start();
}

std::string describe(const AdminClient::Reply& reply, const std::string& function,
                     const AdminTarget& target, std::chrono::milliseconds timeout) {
  const std::string at = "cjdroute admin at " + target.endpoint();
  switch (reply.status) {
    case Status::ok:
      return "";
    case Status::auth_failed:
      return at + " refused the password from " + target.source + " (" + reply.error + ")";
    case Status::remote_error:
      return at + " answered " + function + " with an error: " + reply.error;
    case Status::timeout:
      return "no reply from " + at + " within " + seconds(timeout);
    case Status::refused:
      return at + " is not answering (connection refused); is cjdroute running?";
    case Status::io_error:
      return "cannot talk to " + at + ": " + reply.error;
  }
  return at + ": unknown failure";
}

}  // namespace mnigs::cjdns
