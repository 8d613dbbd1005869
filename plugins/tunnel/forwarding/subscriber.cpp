#include "subscriber.hpp"

#include <utility>

namespace mnigs::forwarding {

namespace {

// session.params["routing"], "default" when the daemon did not say.
std::string routing_of(const TunnelSession& session) {
  const auto& r = session.params.isObject() ? session.params["routing"] : Json::Value();
  return r.isString() ? r.asString() : "default";
}

}  // namespace

// One connect in progress.
struct Subscriber::Connecting {
  TunnelSession session;
  Link link;
  TunnelPlugin::Done done;
  CommandQueue::Finished finished;
  bool added_suppress = false;    // this operation added the rule at P
  std::optional<Link> previous;   // the session whose route table T held before

  void fail(const std::string& error) {
    done("cannot route through gateway " + link.gateway.text + ": " + error);
    finished();
  }
};

Subscriber::Subscriber(PluginContext& context, CommandQueue& queue, const Settings& settings)
    : context_(context), queue_(queue), settings_(settings) {}

void Subscriber::connect(const TunnelSession& session, TunnelPlugin::Done done) {
  auto op = std::make_shared<Connecting>();
  op->session = session;
  op->done = std::move(done);
  queue_.enqueue(
      [this, op](CommandQueue::Finished finished) {
        op->finished = std::move(finished);
        const std::string routing = routing_of(op->session);
        std::string why;
        auto gateway = parse_address(op->session.gateway_address, &why);
        if (routing != "default" && routing != "none")
          why = "routing \"" + routing + "\" is neither \"default\" nor \"none\"";
        else if (!gateway)
          why = "gateway address " + why;
        if (!why.empty()) {
          op->done("cannot connect session " + op->session.id + ": " + why);
          return op->finished();
        }
        op->link = Link{op->session.id, *gateway, routing == "default", {}};
        if (!op->link.routed) {
          links_[op->session.id] = op->link;
          op->done("");
          return op->finished();
        }
        const auto& owner = owner_[index_of(gateway->family)];
        if (!owner.empty() && links_.count(owner)) op->previous = links_[owner];

        const Command get = route_get(*gateway);
        queue_.run(get, [this, op, get](const CommandOutcome& outcome) {
          if (!succeeded(outcome)) return op->fail(failure_sentence(get, outcome));
          std::string why;
          auto hop = parse_route_get(outcome.out, op->link.gateway, settings_.table, &why);
          if (!hop) return op->fail(why);
          op->link.hop = *hop;
          add_route(op);
        });
      },
      [op](const std::string& reason) { op->done(reason); });
}

// Route first, rules after: table T is consulted only once the rule at P+1
// exists, and that comes last, so a half-finished connect diverts nothing.
void Subscriber::add_route(std::shared_ptr<Connecting> op) {
  const Command command =
      replace_default(op->link.gateway.family, op->link.hop, settings_.table);
  queue_.run(command, [this, op, command](const CommandOutcome& outcome) {
    if (!succeeded(outcome)) return undo_and_fail(op, failure_sentence(command, outcome));
    add_rules(op, false);
  });
}

void Subscriber::add_rules(std::shared_ptr<Connecting> op, bool second) {
  const Family family = op->link.gateway.family;
  const Command command = second
                              ? add_table_rule(family, settings_.priority + 1, settings_.table)
                              : add_suppress_rule(family, settings_.priority);
  queue_.run(command, [this, op, second, command](const CommandOutcome& outcome) {
    // "File exists": the rule is there from an earlier session; leave it be
    // and do not take it away on undo.
    if (!succeeded(outcome) && !already_there(outcome))
      return undo_and_fail(op, failure_sentence(command, outcome));
    if (second) return connected(op);
    op->added_suppress = succeeded(outcome);
    add_rules(op, true);
  });
}

void Subscriber::undo_and_fail(std::shared_ptr<Connecting> op, const std::string& error) {
  const Family family = op->link.gateway.family;
  std::vector<Command> undo;
  if (op->added_suppress) undo.push_back(delete_suppress_rule(family, settings_.priority));
  // Table T is this plugin's alone: give it back to the session that had it,
  // or empty it.
  if (op->previous)
    undo.push_back(replace_default(family, op->previous->hop, settings_.table));
  else
    undo.push_back(flush_table(family, settings_.table));
  queue_.run_all(std::move(undo), false, [this, op, error](std::string undo_error) {
    if (!undo_error.empty()) context_.log().warn("undoing a failed connect: ", undo_error);
    op->fail(error);
  });
}

void Subscriber::connected(std::shared_ptr<Connecting> op) {
  const Link& link = op->link;
  links_[link.id] = link;
  owner_[index_of(link.gateway.family)] = link.id;
  context_.log().info("session ", link.id, ": ", family_name(link.gateway.family),
                      " default route via ", link.hop.via, " dev ", link.hop.dev, " in table ",
                      settings_.table);
  op->done("");
  op->finished();
}

void Subscriber::disconnect(const TunnelSession& session, TunnelPlugin::Done done) {
  queue_.enqueue(
      [this, session, done](CommandQueue::Finished finished) {
        bool routed = false;
        std::optional<Address> gateway;
        if (auto it = links_.find(session.id); it != links_.end()) {
          routed = it->second.routed;
          gateway = it->second.gateway;
          links_.erase(it);
        } else {
          // Not ours (yet): trust the daemon's view of the session.
          routed = routing_of(session) != "none";
          gateway = parse_address(session.gateway_address, nullptr);
        }
        if (!routed || !gateway) {
          done("");
          return finished();
        }
        auto& owner = owner_[index_of(gateway->family)];
        if (!owner.empty() && owner != session.id) {
          done("");  // a newer session's route is in table T now
          return finished();
        }
        owner.clear();
        const Family family = gateway->family;
        std::vector<Command> removal{
            delete_suppress_rule(family, settings_.priority),
            delete_table_rule(family, settings_.priority + 1, settings_.table),
            flush_table(family, settings_.table)};
        queue_.run_all(std::move(removal), false, [this, session, done, finished](std::string error) {
          if (error.empty()) {
            context_.log().info("session ", session.id, ": routes removed");
            done("");
          } else {
            done("cannot remove the routes of session " + session.id + ": " + error);
          }
          finished();
        });
      },
      [done](const std::string& reason) { done(reason); });
}

std::vector<Command> Subscriber::removal_commands(unsigned repeat) const {
  std::vector<Command> commands;
  for (auto family : {Family::v4, Family::v6}) {
    commands.push_back(delete_rules_at(family, settings_.priority, repeat));
    commands.push_back(delete_rules_at(family, settings_.priority + 1, repeat));
    commands.push_back(flush_table(family, settings_.table));
  }
  return commands;
}

void Subscriber::forget() {
  links_.clear();
  owner_ = {};
}

Json::Value Subscriber::status() const {
  Json::Value list(Json::arrayValue);
  for (const auto& [id, link] : links_) {
    Json::Value e(Json::objectValue);
    e["id"] = id;
    e["gateway"] = link.gateway.text;
    e["routing"] = link.routed ? "default" : "none";
    if (link.routed) {
      e["via"] = link.hop.via;
      e["dev"] = link.hop.dev;
      e["onlink"] = link.hop.onlink;
      e["active"] = owner_[index_of(link.gateway.family)] == id;
    }
    list.append(e);
  }
  Json::Value s(Json::objectValue);
  s["sessions"] = list;
  return s;
}

}  // namespace mnigs::forwarding
