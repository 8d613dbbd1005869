#include "plugin_host/host.hpp"

#include "plugin_host/context.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <atomic>

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

std::vector<std::shared_ptr<PluginHost::Record>> PluginHost::records_where(
    const std::function<bool(const Record&)>& keep) const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<Record>> out;
  for (const auto& r : records_)
    if (keep(*r)) out.push_back(r);
  return out;
}

void PluginHost::stop(std::function<void()> done) {
  const auto live = records_where([](const Record& r) {
    return r.instance && (r.state == State::running || r.state == State::created);
  });
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
  const auto records = records_where([](const Record&) { return true; });
  Json::Value list(Json::arrayValue);
  list.resize(static_cast<Json::ArrayIndex>(records.size()));
  auto gather = std::make_shared<Gather<Json::Value>>(records.size(), list, std::move(done));
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
      gather->update([&](Json::Value& l) { l[index] = item; });
      gather->answered();
      continue;
    }
    boost::asio::post(r->context->executor(), [r, item, index, gather]() mutable {
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
      gather->update([&](Json::Value& l) { l[index] = std::move(item); });
      gather->answered();
    });
  }
  gather->answered();
}

std::vector<std::string> PluginHost::running() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& r : records_)
    if (r->state == State::running) out.push_back(r->lib.kind + "/" + r->lib.name);
  std::sort(out.begin(), out.end());
  return out;
}

void PluginHost::config_changed(const std::string& section) {
  for (const auto& r : records_where([&](const Record& r) {
         return r.lib.name == section && r.state == State::running;
       }))
    guarded(r, "config_changed", [](Plugin& p) { p.config_changed(); });
}

void PluginHost::when_started(std::function<void()> done) {
  const auto created = records_where([](const Record& r) { return r.context != nullptr; });
  // start() was posted to each strand first, so a later post runs after it.
  auto remaining = std::make_shared<std::atomic<std::size_t>>(created.size() + 1);
  auto finish = std::make_shared<std::function<void()>>(std::move(done));
  auto one = [this, remaining, finish] {
    if (--*remaining == 0) boost::asio::post(io_, *finish);
  };
  for (auto& r : created) boost::asio::post(r->context->executor(), one);
  one();
}

}  // namespace mnigs
