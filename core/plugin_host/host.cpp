#include "plugin_host/host.hpp"

#include "store/store.hpp"
#include "util/text.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>

namespace mnigs {

const char* to_string(PluginHost::State state) {
  switch (state) {
    case PluginHost::State::disabled: return "disabled";
    case PluginHost::State::refused: return "refused";
    case PluginHost::State::created: return "created";
    case PluginHost::State::running: return "running";
    case PluginHost::State::failed: return "failed";
    case PluginHost::State::stopped: return "stopped";
  }
  return "?";
}

struct PluginHost::Record {
  PluginLibrary lib;
  State state = State::refused;
  std::string error;
  std::string suite_part;  // network() or method(), cached at start
  // Discovery only: whether its last discover() answered without an error
  // (its routing daemon is there). Networks that are not are left out of
  // the suites this node offers and accepts.
  bool available = true;
  std::unique_ptr<Context> context;
  Plugin* instance = nullptr;
};

class PluginHost::Context final : public PluginContext {
 public:
  Context(PluginHost& host, std::shared_ptr<Record> record)
      : host_(host),
        record_(record),
        name_(record->lib.name),
        strand_(boost::asio::make_strand(host.io_)),
        log_(record->lib.name) {}

  const std::string& name() const override { return name_; }
  boost::asio::any_io_executor executor() override { return strand_; }
  Logger& log() override { return log_; }
  Json::Value config() const override { return host_.config_.get()->section(name_); }
  KeyValueStore& store() override {
    if (!kv_) {
      if (!host_.store_) throw std::logic_error("no database is open for plugin " + name_);
      kv_ = host_.store_->namespaced(name_, strand_, log_);
    }
    return *kv_;
  }
  void register_method(const std::string& method, Access access, MethodHandler handler) override {
    std::weak_ptr<Record> weak = record_;
    PluginHost& host = host_;
    auto strand = strand_;
    std::string full = name_ + "." + method;
    host_.methods_(full, access,
                   [&host, weak, strand, full, handler = std::move(handler)](
                       const Json::Value& params, const CallInfo& caller, Responder reply) {
                     boost::asio::post(strand, [&host, weak, full, handler, params, caller,
                                                reply]() mutable {
                       auto record = weak.lock();
                       if (!record) return reply.error(rpc_error::unavailable, "plugin is gone");
                       {
                         std::lock_guard lock(host.mutex_);
                         if (record->state != State::running)
                           return reply.error(rpc_error::unavailable,
                                              "plugin " + record->lib.name + " is " +
                                                  to_string(record->state) +
                                                  (record->error.empty() ? ""
                                                                         : ": " + record->error));
                       }
                       try {
                         handler(params, caller, reply);
                       } catch (const std::exception& e) {
                         host.fail(*record, full + " threw: " + e.what());
                         reply.error(rpc_error::internal_error, full + " failed: " + e.what());
                       } catch (...) {
                         host.fail(*record, full + " threw an unknown exception");
                         reply.error(rpc_error::internal_error, full + " failed");
                       }
                     });
                   });
  }
  void register_upgrade(const std::string& path, UpgradeHandler handler) override {
    if (!host_.upgrades_) throw std::invalid_argument("this host serves no HTTP upgrades");
    std::weak_ptr<Record> weak = record_;
    PluginHost& host = host_;
    auto strand = strand_;
    host_.upgrades_(path, [&host, weak, strand, path,
                           handler = std::move(handler)](HttpUpgrade request) {
      boost::asio::post(strand, [&host, weak, path, handler,
                                 request = std::move(request)]() mutable {
        auto record = weak.lock();
        bool running = false;
        if (record) {
          std::lock_guard lock(host.mutex_);
          running = record->state == State::running;
        }
        if (!running) {
          // Nobody will speak the protocol: say so in HTTP and hang up.
          static constexpr char refusal[] =
              "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
          [[maybe_unused]] auto n = ::send(request.fd, refusal, sizeof refusal - 1, MSG_NOSIGNAL);
          ::close(request.fd);
          return;
        }
        try {
          handler(std::move(request));
        } catch (const std::exception& e) {
          host.fail(*record, "upgrade on " + path + " threw: " + e.what());
        } catch (...) {
          host.fail(*record, "upgrade on " + path + " threw an unknown exception");
        }
      });
    });
  }
  EventBus& events() override { return bus_; }
  void run(std::vector<std::string> argv, std::string input, std::chrono::milliseconds timeout,
           std::function<void(CommandOutcome)> done) override {
    log_.debug("run: ", join(argv, " "));
    // Plugins tell outcomes apart by the tools' messages ("File exists",
    // "No such process"): those must not depend on the daemon's locale.
    os::Command command{std::move(argv), std::move(input), timeout, {{"LC_ALL", "C"}}};
    std::weak_ptr<Record> weak = record_;
    PluginHost& host = host_;
    auto strand = strand_;
    // The command runs on the runner's thread: the guard keeps io_context::run
    // from returning (at shutdown, say) before its completion is delivered.
    auto guard = boost::asio::make_work_guard(host_.io_);
    host_.commands_.submit(std::move(command), [&host, weak, strand, guard, done = std::move(done)](
                                                   CommandOutcome outcome) mutable {
      boost::asio::post(strand, [&host, weak, done = std::move(done),
                                 outcome = std::move(outcome)]() mutable {
        auto record = weak.lock();
        if (!record || !done) return;
        try {
          done(std::move(outcome));
        } catch (const std::exception& e) {
          host.fail(*record, std::string("command completion threw: ") + e.what());
        }
      });
    });
  }
  std::chrono::system_clock::time_point wall_now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point now() const override {
    return std::chrono::steady_clock::now();
  }

 private:
  // The plugin's view of the bus: its handlers run on its strand, guarded.
  class Bus final : public EventBus {
   public:
    explicit Bus(Context& ctx) : ctx_(ctx) {}
    void publish(const std::string& topic, Json::Value data) override {
      ctx_.host_.events_.publish(topic, std::move(data));
    }
    Subscription subscribe(const std::string& topic, Handler handler) override {
      std::weak_ptr<Record> weak = ctx_.record_;
      PluginHost& host = ctx_.host_;
      return host.events_.subscribe(
          topic,
          [&host, weak, handler = std::move(handler)](const std::string& t, const Json::Value& d) {
            auto record = weak.lock();
            if (!record) return;
            {
              std::lock_guard lock(host.mutex_);
              if (record->state != State::running) return;
            }
            try {
              handler(t, d);
            } catch (const std::exception& e) {
              host.fail(*record, "event handler for " + t + " threw: " + e.what());
            }
          },
          ctx_.strand_);
    }
    void unsubscribe(Subscription id) override { ctx_.host_.events_.unsubscribe(id); }

   private:
    Context& ctx_;
  };

  PluginHost& host_;
  std::weak_ptr<Record> record_;
  std::string name_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  StderrLogger log_;
  std::unique_ptr<KeyValueStore> kv_;
  Bus bus_{*this};
};

PluginHost::PluginHost(boost::asio::io_context& io, const ConfigHolder& config, Store* store,
                       CoreEventBus& events, MethodSink methods)
    : io_(io), config_(config), store_(store), events_(events), methods_(std::move(methods)) {}

PluginHost::~PluginHost() {
  for (auto& r : records_) {
    if (!r->instance) continue;
    // The shared object stays mapped: code it registered elsewhere (atexit,
    // thread-locals) may still run. Only the object goes.
    try {
      r->lib.info->destroy(r->instance);
    } catch (...) {
    }
    r->instance = nullptr;
  }
}

void PluginHost::start(std::vector<PluginLibrary> libraries) {
  for (auto& lib : libraries) {
    auto record = std::make_shared<Record>();
    record->lib = std::move(lib);
    if (record->lib.disabled) record->state = State::disabled;
    else if (!record->lib.usable()) {
      record->state = State::refused;
      record->error = record->lib.error;
    }
    {
      std::lock_guard lock(mutex_);
      records_.push_back(record);
    }
    if (record->lib.usable()) start_one(record);
  }
}

void PluginHost::start_one(const std::shared_ptr<Record>& record) {
  record->context = std::make_unique<Context>(*this, record);
  char err[512] = {0};
  void* created = record->lib.info->create(static_cast<PluginContext*>(record->context.get()),
                                           err, sizeof err);
  if (!created) {
    std::lock_guard lock(mutex_);
    record->state = State::failed;
    record->error = std::string("creating the plugin failed: ") + err;
    log_.error("plugin ", record->lib.name, ": ", record->error, "; mnigsd goes on without it");
    events_.publish("plugin.failed", Json::Value(record->lib.name));
    return;
  }
  record->instance = static_cast<Plugin*>(created);
  {
    std::lock_guard lock(mutex_);
    record->state = State::created;
  }
  guarded(record, "start", [this, record](Plugin& p) {
    std::string part;
    if (auto* d = p.as_discovery()) part = d->network();
    else if (auto* t = p.as_tunnel()) part = t->method();
    else if (auto* pay = p.as_payment()) part = pay->method();
    const std::string& kind = record->lib.kind;
    bool kind_ok = (kind == "discovery" && p.as_discovery()) ||
                   (kind == "tunnel" && p.as_tunnel()) || (kind == "payment" && p.as_payment());
    if (!kind_ok)
      throw std::runtime_error("declares kind " + kind + " but does not implement that interface");
    p.start();
    std::lock_guard lock(mutex_);
    if (record->state != State::created) return;  // failed meanwhile
    record->state = State::running;
    record->suite_part = part;
    log_.info("plugin ", kind, "/", record->lib.name, " ", record->lib.version, " running");
  });
}

void PluginHost::guarded(const std::shared_ptr<Record>& record, std::string what,
                         std::function<void(Plugin&)> fn) {
  boost::asio::post(record->context->executor(), [this, record, what, fn = std::move(fn)] {
    if (!record->instance) return;
    try {
      fn(*record->instance);
    } catch (const std::exception& e) {
      fail(*record, what + " threw: " + e.what());
    } catch (...) {
      fail(*record, what + " threw an unknown exception");
    }
  });
}

void PluginHost::fail(Record& record, const std::string& why) {
  {
    std::lock_guard lock(mutex_);
    if (record.state == State::failed || record.state == State::stopped) return;
    record.state = State::failed;
    record.error = why;
  }
  log_.error("plugin ", record.lib.name, " failed: ", why, "; mnigsd goes on without it");
  events_.publish("plugin.failed", Json::Value(record.lib.name));
  try {
    if (record.instance) record.instance->stop();
  } catch (const std::exception& e) {
    log_.error("plugin ", record.lib.name, ": stop after failure threw: ", e.what());
  } catch (...) {
  }
}

void PluginHost::stop(std::function<void()> done) {
  std::vector<std::shared_ptr<Record>> live;
  {
    std::lock_guard lock(mutex_);
    for (auto& r : records_)
      if (r->instance && (r->state == State::running || r->state == State::created))
        live.push_back(r);
  }
  if (live.empty()) {
    boost::asio::post(io_, std::move(done));
    return;
  }
  auto remaining = std::make_shared<std::atomic<std::size_t>>(live.size());
  auto finish = std::make_shared<std::function<void()>>(std::move(done));
  for (auto& r : live) {
    boost::asio::post(r->context->executor(), [this, r, remaining, finish] {
      bool was_live;
      {
        std::lock_guard lock(mutex_);
        was_live = r->state == State::running || r->state == State::created;
        if (was_live) r->state = State::stopped;
      }
      if (was_live) {
        try {
          r->instance->stop();
        } catch (const std::exception& e) {
          log_.error("plugin ", r->lib.name, ": stop threw: ", e.what());
        } catch (...) {
          log_.error("plugin ", r->lib.name, ": stop threw an unknown exception");
        }
      }
      if (--*remaining == 0) boost::asio::post(io_, *finish);
    });
  }
}

void PluginHost::describe(std::function<void(Json::Value)> done) const {
  struct Gather {
    std::mutex mutex;
    Json::Value list{Json::arrayValue};
    std::size_t remaining = 0;
    std::function<void(Json::Value)> done;
  };
  auto gather = std::make_shared<Gather>();
  gather->done = std::move(done);
  std::vector<std::shared_ptr<Record>> records;
  {
    std::lock_guard lock(mutex_);
    records = records_;
  }
  gather->list.resize(static_cast<Json::ArrayIndex>(records.size()));
  gather->remaining = records.size() + 1;
  auto finish_one = [gather] {
    std::unique_lock lock(gather->mutex);
    if (--gather->remaining == 0) {
      Json::Value out = std::move(gather->list);
      lock.unlock();
      gather->done(std::move(out));
    }
  };
  for (std::size_t i = 0; i < records.size(); ++i) {
    auto r = records[i];
    Json::Value item(Json::objectValue);
    State state;
    {
      std::lock_guard lock(mutex_);
      state = r->state;
      item["error"] = r->error;
    }
    item["name"] = r->lib.name;
    item["kind"] = r->lib.kind;
    item["version"] = r->lib.version;
    item["summary"] = r->lib.summary;
    item["path"] = r->lib.path;
    item["state"] = to_string(state);
    auto index = static_cast<Json::ArrayIndex>(i);
    if (state != State::running) {
      {
        std::lock_guard lock(gather->mutex);
        gather->list[index] = item;
      }
      finish_one();
      continue;
    }
    boost::asio::post(r->context->executor(), [r, item, index, gather, finish_one]() mutable {
      try {
        item["status"] = r->instance->status();
        // A running plugin that cannot do its work (its daemon unreachable,
        // its file unreadable) says why in status "error": listed as
        // degraded, with that reason, so the plain listing shows it.
        const Json::Value& problem = item["status"]["error"];
        if (item["status"].isObject() && problem.isString() && !problem.asString().empty()) {
          item["state"] = "degraded";
          item["error"] = problem.asString();
        }
      } catch (const std::exception& e) {
        item["status"] = Json::Value(Json::objectValue);
        item["statusError"] = e.what();
      } catch (...) {
        item["status"] = Json::Value(Json::objectValue);
        item["statusError"] = "status() threw an unknown exception";
      }
      {
        std::lock_guard lock(gather->mutex);
        gather->list[index] = item;
      }
      finish_one();
    });
  }
  finish_one();
}

std::vector<std::string> PluginHost::running() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& r : records_)
    if (r->state == State::running) out.push_back(r->lib.kind + "/" + r->lib.name);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> PluginHost::suites() const {
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
  std::vector<std::string> out;
  for (const auto& n : networks)
    for (const auto& t : tunnels)
      for (const auto& p : payments) out.push_back(n + "-" + t + "-" + p);
  return out;
}

void PluginHost::discover_all(std::chrono::milliseconds timeout,
                              std::function<void(std::vector<Discovered>)> done) {
  std::vector<std::shared_ptr<Record>> live;
  {
    std::lock_guard lock(mutex_);
    for (auto& r : records_)
      if (r->state == State::running && r->lib.kind == "discovery") live.push_back(r);
  }
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

void PluginHost::payment_terms(std::function<void(Json::Value)> done) const {
  std::vector<std::shared_ptr<Record>> live;
  {
    std::lock_guard lock(mutex_);
    for (auto& r : records_)
      if (r->state == State::running && r->lib.kind == "payment") live.push_back(r);
  }
  struct Gather {
    std::mutex mutex;
    Json::Value terms{Json::objectValue};
    std::size_t remaining = 0;
    std::function<void(Json::Value)> done;
  };
  auto gather = std::make_shared<Gather>();
  gather->done = std::move(done);
  gather->remaining = live.size() + 1;
  auto finish_one = [gather] {
    std::unique_lock lock(gather->mutex);
    if (--gather->remaining == 0) {
      Json::Value out = std::move(gather->terms);
      lock.unlock();
      gather->done(std::move(out));
    }
  };
  for (auto& r : live) {
    boost::asio::post(r->context->executor(), [r, gather, finish_one] {
      Json::Value terms;
      try {
        if (r->instance)
          if (auto* p = r->instance->as_payment()) terms = p->terms();
      } catch (...) {
        // A plugin whose terms() throws offers nothing this time; its
        // listPlugins status shows what is wrong with it.
      }
      if (!terms.isNull()) {
        std::lock_guard lock(gather->mutex);
        gather->terms[r->suite_part] = terms;
      }
      finish_one();
    });
  }
  finish_one();
}

void PluginHost::config_changed(const std::string& section) {
  std::shared_ptr<Record> target;
  {
    std::lock_guard lock(mutex_);
    for (auto& r : records_)
      if (r->lib.name == section && r->state == State::running) target = r;
  }
  if (target) guarded(target, "config_changed", [](Plugin& p) { p.config_changed(); });
}

void PluginHost::when_started(std::function<void()> done) {
  std::vector<std::shared_ptr<Record>> created;
  {
    std::lock_guard lock(mutex_);
    for (auto& r : records_)
      if (r->context) created.push_back(r);
  }
  // start() was posted to each strand first, so a later post runs after it.
  auto remaining = std::make_shared<std::atomic<std::size_t>>(created.size() + 1);
  auto finish = std::make_shared<std::function<void()>>(std::move(done));
  auto one = [this, remaining, finish] {
    if (--*remaining == 0) boost::asio::post(io_, *finish);
  };
  for (auto& r : created) boost::asio::post(r->context->executor(), one);
  one();
}

void PluginHost::with_tunnel(const std::string& method,
                             std::function<void(TunnelPlugin*)> fn) {
  std::shared_ptr<Record> target;
  {
    std::lock_guard lock(mutex_);
    for (auto& r : records_)
      if (r->state == State::running && r->lib.kind == "tunnel" && r->suite_part == method)
        target = r;
  }
  if (!target) {
    boost::asio::post(io_, [fn = std::move(fn)] { fn(nullptr); });
    return;
  }
  // `fn` is called exactly once: with the plugin while it runs, else (failed
  // meanwhile, or throwing) with nullptr, so the caller's request never hangs.
  // Callers guard their own completions with once(): a plugin that throws
  // after completing must not complete twice.
  boost::asio::post(target->context->executor(), [this, target, method, fn = std::move(fn)] {
    {
      std::lock_guard lock(mutex_);
      if (target->state != State::running || !target->instance) return fn(nullptr);
    }
    try {
      fn(target->instance->as_tunnel());
    } catch (const std::exception& e) {
      fail(*target, "tunnel " + method + " threw: " + e.what());
      fn(nullptr);
    } catch (...) {
      fail(*target, "tunnel " + method + " threw an unknown exception");
      fn(nullptr);
    }
  });
}

void PluginHost::for_each_tunnel(
    std::function<void(TunnelPlugin&, std::function<void()> next)> fn, std::function<void()> done) {
  std::vector<std::string> methods;
  {
    std::lock_guard lock(mutex_);
    for (auto& r : records_)
      if (r->state == State::running && r->lib.kind == "tunnel") methods.push_back(r->suite_part);
  }
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
