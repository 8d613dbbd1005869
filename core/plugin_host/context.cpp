#include "plugin_host/context.hpp"

#include "config/schema.hpp"
#include "store/store.hpp"
#include "util/text.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <sys/socket.h>
#include <unistd.h>

namespace mnigs {

KeyValueStore& PluginHost::Context::store() {
  if (!kv_) {
    if (!host_.store_) throw std::logic_error("no database is open for plugin " + name_);
    kv_ = host_.store_->namespaced(name_, strand_, log_);
  }
  return *kv_;
}

void PluginHost::Context::register_method(const std::string& method, Access access,
                                         MethodHandler handler) {
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

void PluginHost::Context::register_upgrade(const std::string& path, UpgradeHandler handler) {
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

void PluginHost::Context::run(std::vector<std::string> argv, std::string input,
                              std::chrono::milliseconds timeout,
                              std::function<void(CommandOutcome)> done) {
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

EventBus::Subscription PluginHost::Context::Bus::subscribe(const std::string& topic,
                                                           Handler handler) {
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

void PluginHost::Context::deliver(std::string what, std::function<void()> fn) {
  std::weak_ptr<Record> weak = record_;
  PluginHost& host = host_;
  boost::asio::post(strand_, [&host, weak, what = std::move(what), fn = std::move(fn)] {
    auto record = weak.lock();
    if (!record) return;
    {
      std::lock_guard lock(host.mutex_);
      if (record->state != State::running) return;
    }
    try {
      fn();
    } catch (const std::exception& e) {
      host.fail(*record, what + " threw: " + e.what());
    }
  });
}

Json::Value PluginHost::Context::core_config(const std::string& section) const {
  static const Schema core = [] {
    Schema s;
    declare_core_keys(s);
    return s;
  }();
  if (!core.section(section)) return Json::Value();
  return host_.config_.get()->section(section);
}

void PluginHost::Context::gateways(std::function<void(Json::Value)> done) {
  auto back = [this, done = std::move(done)](Json::Value list) {
    deliver("the answer to gateways()", [done, list = std::move(list)] { done(list); });
  };
  if (!host_.gateway_source_) return back(Json::Value(Json::arrayValue));
  host_.gateway_source_(std::move(back));
}

namespace {

PaymentState no_sessions() {
  PaymentState s;
  s.error = "this node serves no gateway sessions";
  return s;
}

}  // namespace

void PluginHost::Context::Payments::session_at(const std::string& address,
                                               std::function<void(PaymentState)> done) {
  auto back = [this, done](PaymentState s) {
    ctx_.deliver("the answer to session_at", [done, s] { done(s); });
  };
  if (!ctx_.host_.payments_) return back(no_sessions());
  ctx_.host_.payments_->session_at(address, back);
}

void PluginHost::Context::Payments::redeem(const std::string& address,
                                           const std::string& session_id,
                                           const std::string& code,
                                           std::function<void(PaymentState)> done) {
  auto back = [this, done](PaymentState s) {
    ctx_.deliver("the answer to redeem", [done, s] { done(s); });
  };
  if (!ctx_.host_.payments_) return back(no_sessions());
  ctx_.host_.payments_->redeem(address, session_id, code, back);
}

void PluginHost::Context::Payments::create_vouchers(
    const Json::Value& params, std::function<void(std::string, Json::Value)> done) {
  auto back = [this, done](std::string error, Json::Value v) {
    ctx_.deliver("the answer to create_vouchers", [done, error, v] { done(error, v); });
  };
  if (!ctx_.host_.payments_) return back(no_sessions().error, Json::Value());
  ctx_.host_.payments_->create_vouchers(params, back);
}

}  // namespace mnigs
