#include "gateway.hpp"

#include <algorithm>
#include <utility>

namespace mnigs::forwarding {

// One open_session in progress.
struct Gateway::Opening {
  TunnelSession session;
  Address subscriber;
  std::string uplink;
  OpenDone done;
  CommandQueue::Finished finished;
  bool table_was_present = false;  // before this operation

  void fail(const std::string& error) {
    done("cannot open session " + session.id + " for " + subscriber.text + ": " + error,
         Json::Value());
    finished();
  }
};

Gateway::Gateway(PluginContext& context, CommandQueue& queue, const Settings& settings)
    : context_(context), queue_(queue), settings_(settings) {}

Gateway::~Gateway() = default;

void Gateway::open(const TunnelSession& session, OpenDone done) {
  auto op = std::make_shared<Opening>();
  op->session = session;
  op->done = std::move(done);
  queue_.enqueue(
      [this, op](CommandQueue::Finished finished) {
        op->finished = std::move(finished);
        std::string why;
        auto subscriber = parse_address(op->session.subscriber_address, &why);
        if (!subscriber) {
          op->done("cannot open session " + op->session.id + ": subscriber address " + why,
                   Json::Value());
          op->finished();
          return;
        }
        op->subscriber = *subscriber;
        if (!settings_.uplink.empty()) {
          op->uplink = settings_.uplink;
          install(op, false);
        } else {
          find_uplink(op, false);
        }
      },
      [op](const std::string& reason) { op->done(reason, Json::Value()); });
}

// One interface for both families: an IPv4 default route wins, so the
// uplink does not flip between sessions of either family. Where the two
// defaults leave by different interfaces, forwarding.uplink settles it.
void Gateway::find_uplink(std::shared_ptr<Opening> op, bool try_v6) {
  const Command command = show_default(try_v6 ? Family::v6 : Family::v4);
  queue_.run(command, [this, op, try_v6, command](const CommandOutcome& outcome) {
    if (!succeeded(outcome)) return op->fail(failure_sentence(command, outcome));
    if (auto dev = parse_default_dev(outcome.out)) {
      op->uplink = *dev;
      return install(op, false);
    }
    if (!try_v6) return find_uplink(op, true);
    op->fail("no uplink: the main routing table has no IPv4 or IPv6 default route; set "
             "forwarding.uplink");
  });
}

void Gateway::install(std::shared_ptr<Opening> op, bool retried) {
  op->table_was_present = table_present_;
  if (table_present_ && table_uplink_ == op->uplink) {
    if (shared(op->subscriber, op->session.id)) return enable_forwarding(op);
    const Command command = add_element(op->subscriber);
    queue_.run(command, [this, op, retried, command](const CommandOutcome& outcome) {
      if (succeeded(outcome)) return enable_forwarding(op);
      // The table vanished under us (nft flush ruleset): write it whole once.
      if (already_gone(outcome) && !retried) {
        table_present_ = false;
        return install(op, true);
      }
      op->fail(failure_sentence(command, outcome));
    });
    return;
  }
  // No table yet, or the uplink moved: one transaction replaces the table
  // with every held subscriber plus this one. If it fails the kernel keeps
  // the previous table untouched.
  const Command command = apply_table(spec(op->uplink, &op->subscriber));
  queue_.run(command, [this, op, command](const CommandOutcome& outcome) {
    if (!succeeded(outcome)) return op->fail(failure_sentence(command, outcome));
    if (table_present_ && table_uplink_ != op->uplink)
      context_.log().info("uplink is now ", op->uplink, " (was ", table_uplink_, ")");
    table_present_ = true;
    table_uplink_ = op->uplink;
    enable_forwarding(op);
  });
}

// After the rules, not before: with forwarding on and no table yet the
// restrict rule would not hold for a moment.
void Gateway::enable_forwarding(std::shared_ptr<Opening> op) {
  const Family family = op->subscriber.family;
  if (knobs_[index_of(family)] != Knob::unknown) return opened(op);
  turn_on_knob(queue_, forwarding_sysctl(family), [this, op, family](std::string error, bool on) {
    if (!error.empty()) return undo_and_fail(op, error);
    knobs_[index_of(family)] = on ? Knob::turned_on : Knob::was_on;
    opened(op);
  });
}

void Gateway::undo_and_fail(std::shared_ptr<Opening> op, const std::string& error) {
  bool others = false;
  for (const auto& [id, held] : sessions_) others = others || id != op->session.id;
  Command undo;
  if (!op->table_was_present && !others) {
    // This operation created the table for nobody else: take it away again.
    undo = delete_table();
    table_present_ = false;
  } else if (!shared(op->subscriber, op->session.id) && !sessions_.count(op->session.id)) {
    undo = delete_element(op->subscriber);
  } else {
    return op->fail(error);
  }
  queue_.run(undo, [this, op, error, undo](const CommandOutcome& outcome) {
    if (!acceptable(undo, outcome))
      context_.log().warn("undoing a failed open: ", failure_sentence(undo, outcome));
    op->fail(error);
  });
}

void Gateway::opened(std::shared_ptr<Opening> op) {
  sessions_[op->session.id] = Held{op->session.id, op->subscriber};
  context_.log().info("session ", op->session.id, ": ", op->subscriber.text, " may leave by ",
                      op->uplink);
  Json::Value params(Json::objectValue);
  params["mode"] = "routed";
  params["gatewayAddress"] = op->session.gateway_address;
  params["uplink"] = op->uplink;
  op->done("", params);
  op->finished();
}

void Gateway::close(const TunnelSession& session, TunnelPlugin::Done done) {
  queue_.enqueue(
      [this, session, done](CommandQueue::Finished finished) {
        std::optional<Address> subscriber;
        if (auto it = sessions_.find(session.id); it != sessions_.end()) {
          subscriber = it->second.subscriber;
          sessions_.erase(it);
        } else {
          subscriber = parse_address(session.subscriber_address, nullptr);
        }
        // Nothing to remove, or another session of this subscriber still needs it.
        if (!table_present_ || !subscriber || shared(*subscriber, session.id)) {
          done("");
          return finished();
        }
        const Command command = delete_element(*subscriber);
        queue_.run(command, [this, session, done, finished, command,
                             address = subscriber->text](const CommandOutcome& outcome) {
          if (acceptable(command, outcome)) {
            context_.log().info("session ", session.id, ": ", address, " removed");
            done("");
          } else {
            done("cannot close session " + session.id + ": " + failure_sentence(command, outcome));
          }
          finished();
        });
      },
      [done](const std::string& reason) { done(reason); });
}

void Gateway::reapply() {
  queue_.enqueue(
      [this](CommandQueue::Finished finished) {
        if (!table_present_) return finished();
        const Command command = apply_table(spec(table_uplink_, nullptr));
        queue_.run(command, [this, finished, command](const CommandOutcome& outcome) {
          if (succeeded(outcome))
            context_.log().info("restrict is now ", settings_.restrict ? "on" : "off");
          else
            context_.log().error("cannot apply forwarding.restrict: ",
                                 failure_sentence(command, outcome));
          finished();
        });
      },
      {});
}

void Gateway::removal_commands(std::function<void(std::vector<Command>)> ready) {
  recorded_knobs(queue_, [this, ready](std::vector<std::string> recorded) {
    auto commands = removal_commands_now();
    for (auto family : {Family::v4, Family::v6}) {
      if (knobs_[index_of(family)] == Knob::turned_on) continue;  // already in the list
      const std::string knob = forwarding_sysctl(family);
      if (std::find(recorded.begin(), recorded.end(), knob) != recorded.end())
        commands.push_back(write_knob(knob, false));
    }
    ready(std::move(commands));
  });
}

std::vector<Command> Gateway::removal_commands_now() const {
  std::vector<Command> commands{delete_table()};
  for (auto family : {Family::v4, Family::v6})
    if (knobs_[index_of(family)] == Knob::turned_on)
      commands.push_back(write_knob(forwarding_sysctl(family), false));
  return commands;
}

void Gateway::forget() {
  sessions_.clear();
  table_present_ = false;
  table_uplink_.clear();
  knobs_ = {Knob::unknown, Knob::unknown};
  forget_knobs(context_.store());
}

Json::Value Gateway::status() const {
  Json::Value s(Json::objectValue);
  s["uplink"] = table_present_ ? table_uplink_ : settings_.uplink;
  s["tablePresent"] = table_present_;
  Json::Value list(Json::arrayValue);
  for (const auto& [id, held] : sessions_) {
    Json::Value e(Json::objectValue);
    e["id"] = id;
    e["subscriber"] = held.subscriber.text;
    list.append(e);
  }
  s["sessions"] = list;
  Json::Value knobs(Json::arrayValue);
  for (auto family : {Family::v4, Family::v6})
    if (knobs_[index_of(family)] == Knob::turned_on) knobs.append(forwarding_sysctl(family));
  s["forwardingTurnedOn"] = knobs;
  return s;
}

TableSpec Gateway::spec(const std::string& uplink, const Address* extra) const {
  TableSpec t;
  t.uplink = uplink;
  t.restrict = settings_.restrict;
  auto add = [&t](const Address& a) {
    (a.family == Family::v4 ? t.subscribers4 : t.subscribers6).push_back(a.text);
  };
  for (const auto& [id, held] : sessions_) add(held.subscriber);
  if (extra) add(*extra);
  return t;
}

bool Gateway::shared(const Address& address, const std::string& id) const {
  for (const auto& [other, held] : sessions_)
    if (other != id && held.subscriber.text == address.text) return true;
  return false;
}

}  // namespace mnigs::forwarding
