// Asking the running plugins: the suites they make up, every discovery
// plugin's candidates at once (with a deadline), the payment plugins' terms,
// the tunnel plugins' keys, the services plugins announce, and a call into
// one tunnel plugin or each in turn.
#include "plugin_host/context.hpp"

#include "dht/offer.hpp"
#include "util/text.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <set>

namespace mnigs {

std::vector<std::string> PluginHost::suites() const { return make_suites(nullptr); }

std::vector<std::string> PluginHost::offered_suites(
    const std::vector<std::string>& payments) const {
  return make_suites(&payments);
}

std::vector<std::string> PluginHost::make_suites(const std::vector<std::string>* offered) const {
  std::set<std::string> networks, tunnels, payments;
  {
    std::lock_guard lock(mutex_);
    for (const auto& r : records_) {
      if (r->state != State::running || r->suite_part.empty()) continue;
      if (r->lib.kind == "discovery" && r->available) networks.insert(r->suite_part);
      else if (r->lib.kind == "tunnel") tunnels.insert(r->suite_part);
      else if (r->lib.kind == "payment") payments.insert(r->suite_part);
    }
  }
  // A gateway's payment methods in its order of preference, those running.
  std::vector<std::string> order(payments.begin(), payments.end());
  if (offered) {
    order.clear();
    for (const auto& p : *offered)
      if (payments.count(p) && std::find(order.begin(), order.end(), p) == order.end())
        order.push_back(p);
  }
  // Tunnels in gateway.tunnels' order, then the others alphabetically.
  std::vector<std::string> tunnel_order;
  for (const auto& t : config_.get()->get_list("gateway", "tunnels"))
    if (tunnels.count(t) &&
        std::find(tunnel_order.begin(), tunnel_order.end(), t) == tunnel_order.end())
      tunnel_order.push_back(t);
  for (const auto& t : tunnels)
    if (std::find(tunnel_order.begin(), tunnel_order.end(), t) == tunnel_order.end())
      tunnel_order.push_back(t);
  std::vector<std::string> out;
  for (const auto& n : networks)
    for (const auto& t : tunnel_order)
      for (const auto& p : order) out.push_back(n + "-" + t + "-" + p);
  return out;
}

void PluginHost::discover_all(std::chrono::milliseconds timeout,
                              std::function<void(std::vector<Discovered>)> done) {
  const auto live = records_where(
      [](const Record& r) { return r.state == State::running && r.lib.kind == "discovery"; });
  // Answers arrive on the plugins' strands; the first of "all answered" and
  // the deadline completes, once.
  struct Gather {
    std::mutex mutex;
    std::vector<Discovered> results;
    std::vector<bool> answered;
    std::size_t remaining = 0;
    bool finished = false;
    std::function<void(std::vector<Discovered>)> done;
    boost::asio::steady_timer deadline;
    explicit Gather(boost::asio::io_context& io) : deadline(io) {}
  };
  auto gather = std::make_shared<Gather>(io_);
  gather->done = std::move(done);
  gather->results.resize(live.size());
  gather->answered.assign(live.size(), false);
  gather->remaining = live.size();
  for (std::size_t i = 0; i < live.size(); ++i) {
    gather->results[i].plugin = live[i]->lib.name;
    gather->results[i].network = live[i]->suite_part;
    gather->results[i].found.error =
        "did not answer within " + std::to_string(timeout.count()) + " ms";
  }
  auto finish = [this, gather, live] {  // with gather->mutex held
    if (gather->finished) return;
    gather->finished = true;
    gather->deadline.cancel();
    {
      std::lock_guard lock(mutex_);
      for (std::size_t i = 0; i < live.size(); ++i)
        live[i]->available = gather->results[i].found.error.empty();
    }
    boost::asio::post(io_, [gather] { gather->done(std::move(gather->results)); });
  };
  if (live.empty()) {
    std::lock_guard lock(gather->mutex);
    return finish();
  }
  gather->deadline.expires_after(timeout);
  gather->deadline.async_wait([gather, finish](const boost::system::error_code& ec) {
    if (ec) return;
    std::lock_guard lock(gather->mutex);
    finish();
  });
  for (std::size_t i = 0; i < live.size(); ++i) {
    auto answer = [gather, finish, i](Discovery found) {
      std::lock_guard lock(gather->mutex);
      if (gather->finished || gather->answered[i]) return;
      gather->answered[i] = true;
      gather->results[i].found = std::move(found);
      if (--gather->remaining == 0) finish();
    };
    guarded(live[i], "discover", [answer](Plugin& p) {
      if (auto* d = p.as_discovery()) {
        d->discover(answer);
      } else {
        Discovery none;
        none.error = "not a discovery plugin";
        answer(std::move(none));
      }
    });
  }
}

void PluginHost::payment_terms(const std::vector<std::string>& offered,
                               std::function<void(Json::Value)> done) const {
  const auto live = records_where([&](const Record& r) {
    return r.state == State::running && r.lib.kind == "payment" &&
           std::find(offered.begin(), offered.end(), r.suite_part) != offered.end();
  });
  auto gather = std::make_shared<Gather<Json::Value>>(
      live.size(), Json::Value(Json::objectValue), std::move(done));
  for (auto& r : live) {
    boost::asio::post(r->context->executor(), [r, gather] {
      Json::Value terms;
      try {
        if (r->instance)
          if (auto* p = r->instance->as_payment()) terms = p->terms();
      } catch (...) {
        // A plugin whose terms() throws offers nothing this time; its
        // listPlugins status shows what is wrong with it.
      }
      if (!terms.isNull()) gather->update([&](Json::Value& all) { all[r->suite_part] = terms; });
      gather->answered();
    });
  }
  gather->answered();
}

void PluginHost::tunnel_keys(const std::vector<std::string>& suites,
                             std::function<void(std::map<std::string, std::string>)> done) {
  std::set<std::string> methods;
  for (const auto& s : suites) methods.insert(suite_part(s, 1));
  auto live = records_where([&](const Record& r) {
    return r.state == State::running && r.lib.kind == "tunnel" && methods.count(r.suite_part);
  });
  // By method, so that the keys kept when there are too many are always the same.
  std::stable_sort(live.begin(), live.end(),
                   [](const auto& a, const auto& b) { return a->suite_part < b->suite_part; });
  // What each plugin said, by its place in `live`; checked once all have.
  using Said = std::vector<std::string>;
  auto gather = std::make_shared<Gather<Said>>(
      live.size(), Said(live.size()), [this, live, done = std::move(done)](Said said) {
        std::map<std::string, std::string> keys;
        for (std::size_t i = 0; i < live.size(); ++i) {
          const std::string& method = live[i]->suite_part;
          std::string problem = said[i].empty() ? "" : check_tunnel_key(method, said[i]);
          if (!said[i].empty() && problem.empty() && keys.size() >= max_tunnel_keys &&
              !keys.count(method))
            problem = "more tunnels than the " + std::to_string(max_tunnel_keys) +
                      " an offer may name have a key";
          note_offer_problem(*live[i], &Record::key_problem, "its gateway key", problem);
          if (!said[i].empty() && problem.empty()) keys[method] = said[i];
        }
        done(std::move(keys));
      });
  for (std::size_t i = 0; i < live.size(); ++i) {
    auto r = live[i];
    boost::asio::post(r->context->executor(), [r, i, gather] {
      std::string key;
      try {
        if (r->instance)
          if (auto* t = r->instance->as_tunnel()) key = t->gateway_key();
      } catch (...) {
        // As with terms(): a plugin whose gateway_key() throws names no key
        // this time.
      }
      gather->update([&](Said& all) { all[i] = std::move(key); });
      gather->answered();
    });
  }
  gather->answered();
}

void PluginHost::services(std::function<void(std::map<std::string, std::string>)> done) {
  auto live = records_where([](const Record& r) { return r.state == State::running; });
  // By name, so that the services kept when there are too many are always the same.
  std::stable_sort(live.begin(), live.end(),
                   [](const auto& a, const auto& b) { return a->lib.name < b->lib.name; });
  using Said = std::vector<std::string>;
  auto gather = std::make_shared<Gather<Said>>(
      live.size(), Said(live.size()), [this, live, done = std::move(done)](Said said) {
        std::map<std::string, std::string> services;
        for (std::size_t i = 0; i < live.size(); ++i) {
          const std::string& name = live[i]->lib.name;
          std::string problem = said[i].empty() ? "" : check_service(name, said[i]);
          if (!said[i].empty() && problem.empty() && services.size() >= max_services)
            problem = "more plugins than the " + std::to_string(max_services) +
                      " services an offer may name announce one";
          note_offer_problem(*live[i], &Record::service_problem, "its service", problem);
          if (!said[i].empty() && problem.empty()) services[name] = said[i];
        }
        done(std::move(services));
      });
  for (std::size_t i = 0; i < live.size(); ++i) {
    auto r = live[i];
    boost::asio::post(r->context->executor(), [r, i, gather] {
      std::string where;
      try {
        if (r->instance) where = r->instance->announce();
      } catch (...) {
        // As with gateway_key(): a plugin whose announce() throws announces
        // nothing this time.
      }
      gather->update([&](Said& all) { all[i] = std::move(where); });
      gather->answered();
    });
  }
  gather->answered();
}

void PluginHost::note_offer_problem(Record& record, std::string Record::*last, const char* what,
                                    const std::string& problem) {
  {
    std::lock_guard lock(mutex_);
    if (record.*last == problem) return;
    record.*last = problem;
  }
  if (!problem.empty())
    log_.warn("plugin ", record.lib.name, ": ", what, " is not published: ", problem);
}

void PluginHost::offer_payments(const std::vector<std::string>& offered) {
  const auto live = records_where(
      [](const Record& r) { return r.state == State::running && r.lib.kind == "payment"; });
  for (auto& r : live) {
    const bool yes = std::find(offered.begin(), offered.end(), r->suite_part) != offered.end();
    guarded(r, "offered()", [yes](Plugin& p) {
      if (auto* pay = p.as_payment()) pay->offered(yes);
    });
  }
}

void PluginHost::with_tunnel(const std::string& method,
                             std::function<void(TunnelPlugin*)> fn) {
  with_part("tunnel", method,
            [fn = std::move(fn)](Plugin* p) { fn(p ? p->as_tunnel() : nullptr); });
}

void PluginHost::with_payment(const std::string& method,
                              std::function<void(PaymentPlugin*)> fn) {
  with_part("payment", method,
            [fn = std::move(fn)](Plugin* p) { fn(p ? p->as_payment() : nullptr); });
}

void PluginHost::with_part(const std::string& kind, const std::string& part,
                           std::function<void(Plugin*)> fn) {
  const auto found = records_where([&](const Record& r) {
    return r.state == State::running && r.lib.kind == kind && r.suite_part == part;
  });
  const std::shared_ptr<Record> target = found.empty() ? nullptr : found.back();
  if (!target) {
    boost::asio::post(io_, [fn = std::move(fn)] { fn(nullptr); });
    return;
  }
  // `fn` is called exactly once: with the plugin while it runs, else (failed
  // meanwhile, or throwing) with nullptr, so the caller's request never hangs.
  // Callers guard their own completions with once(): a plugin that throws
  // after completing must not complete twice.
  boost::asio::post(target->context->executor(), [this, target, kind, part, fn = std::move(fn)] {
    {
      std::lock_guard lock(mutex_);
      if (target->state != State::running || !target->instance) return fn(nullptr);
    }
    try {
      fn(target->instance);
    } catch (const std::exception& e) {
      fail(*target, kind + " " + part + " threw: " + e.what());
      fn(nullptr);
    } catch (...) {
      fail(*target, kind + " " + part + " threw an unknown exception");
      fn(nullptr);
    }
  });
}

void PluginHost::for_each_tunnel(
    std::function<void(TunnelPlugin&, std::function<void()> next)> fn, std::function<void()> done) {
  std::vector<std::string> methods;
  for (const auto& r : records_where(
           [](const Record& r) { return r.state == State::running && r.lib.kind == "tunnel"; }))
    methods.push_back(r->suite_part);
  // One after the other: each plugin says when it is done with `next`.
  auto step = std::make_shared<std::function<void(std::size_t)>>();
  *step = [this, methods, fn, done, step](std::size_t i) {
    if (i >= methods.size()) {
      boost::asio::post(io_, done);
      *step = nullptr;  // break the cycle
      return;
    }
    with_tunnel(methods[i], [fn, step, i](TunnelPlugin* t) {
      auto next = [step, i] {
        if (*step) (*step)(i + 1);
      };
      if (t) fn(*t, next);
      else next();
    });
  };
  (*step)(0);
}

}  // namespace mnigs
