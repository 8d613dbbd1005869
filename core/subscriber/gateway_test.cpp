// testGateway: a gateway measured through a real tunnel (connection.hpp).
#include "probe/bulk.hpp"
#include "probe/reach.hpp"
#include "store/sqlite.hpp"
#include "subscriber/connection.hpp"
#include "util/json_text.hpp"
#include "util/net.hpp"
#include "util/once.hpp"
#include "util/text.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cmath>

namespace mnigs {

void ConnectionManager::test_gateway(const Json::Value& params, Responder reply) {
  boost::asio::post(strand_, [this, params, reply] {
    auto gateway = gateway_params(params, reply, "testGateway");
    if (!gateway) return;
    if (testing_) return reply.error(rpc_error::conflict, "a gateway test is running; wait for it");
    const std::string wanted = gateway->address;
    if (state_ == State::connected && connection_ && connection_->gateway_address == wanted) {
      testing_ = true;
      return measure(*connection_, std::nullopt, false, reply);
    }
    if (state_ == State::connected && connection_) return test_beside(*gateway, params, reply);
    if (state_ != State::idle)
      return reply.error(rpc_error::conflict,
                         std::string(to_string(state_)) +
                             (connection_ ? " to " + connection_->gateway_address : "") +
                             ": only the current gateway can be tested now");
    testing_ = testing_temporary_ = true;
    auto began = std::chrono::steady_clock::now();
    std::weak_ptr<int> alive = alive_;
    Responder connected([this, alive, reply, began](bool ok, Json::Value payload) {
      if (alive.expired()) return;
      boost::asio::post(strand_, [this, reply, began, ok, payload] {
        if (!ok || !connection_ || state_ != State::connected) {
          testing_ = testing_temporary_ = false;
          schedule_consider(std::chrono::milliseconds(0));
          return reply.error(rpc_error::failed,
                             "the test could not connect: " + payload["message"].asString());
        }
        double setup = std::chrono::duration<double, std::milli>(
                           std::chrono::steady_clock::now() - began)
                           .count();
        measure(*connection_, setup, true, reply);
      });
    });
    start_connect(params, connected, false);
  });
}

void ConnectionManager::test_beside(const GatewayParams& gateway, const Json::Value& params,
                                    Responder reply) {
  const std::string method = connection_->tunnel_method();
  plugins_.with_tunnel(method, [this, gateway, params, reply](TunnelPlugin* t) {
    const bool supported = t && t->supports_standby();
    boost::asio::post(strand_, [this, gateway, params, reply, supported] {
      if (testing_)
        return reply.error(rpc_error::conflict, "a gateway test is running; wait for it");
      if (state_ != State::connected || !connection_)
        return reply.error(rpc_error::conflict, "the connection changed meanwhile; try again");
      if (!supported)
        return reply.error(rpc_error::conflict,
                           "connected to " + connection_->gateway_address + " through the " +
                               connection_->tunnel_method() +
                               " tunnel, which holds one session at a time: only that gateway "
                               "can be tested now (or disconnect first)");
      // One tunnel plugin holds both sessions: the suite's tunnel must be
      // the connection's.
      const std::string suite = params["suite"].isString() ? params["suite"].asString() : "";
      if (!suite.empty() && suite_part(suite, 1) != connection_->tunnel_method())
        return reply.error(rpc_error::conflict,
                           "while connected through the " + connection_->tunnel_method() +
                               " tunnel, other gateways are tested through it too; suite \"" +
                               suite + "\" is another tunnel's");
      testing_ = true;
      // The standby is measured on its own session.
      if (standby_ && standby_->c.gateway_address == gateway.address)
        return measure(standby_->c, std::nullopt, false, reply);
      const auto began = std::chrono::steady_clock::now();
      Connection c;
      c.gateway_address = gateway.address;
      c.gateway_port = gateway.port;
      if (!test_retry_) test_retry_ = timers_.make_timer(strand_);
      acquire(
          c, suite.empty() ? connection_->suite : suite, *test_retry_,
          [this, reply, began](std::optional<Connection> c, int, std::string error) {
            if (!c) {
              testing_ = false;
              // The connection may have ended meanwhile: auto mode goes on.
              schedule_consider(std::chrono::milliseconds(0));
              return reply.error(rpc_error::failed, "the test could not get a session: " + error);
            }
            if (stopped_) {
              testing_ = false;
              give_back(*c);
              return reply.error(rpc_error::unavailable, "mnigsd is shutting down");
            }
            plugins_.with_tunnel(c->tunnel_method(), [this, c = *c, reply, began](TunnelPlugin* t) {
              auto finish = once([this, c, reply, began](std::string error,
                                                          std::string device) mutable {
                c.device = std::move(device);
                boost::asio::post(strand_, [this, c, reply, began, error] {
                  if (!error.empty() || stopped_) {
                    testing_ = false;
                    give_back(c);
                    if (stopped_) {
                      plugins_.with_tunnel(c.tunnel_method(), [this, c](TunnelPlugin* t) {
                        if (t) t->disconnect(tunnel_session(c, true), [](std::string) {});
                      });
                      return reply.error(rpc_error::unavailable, "mnigsd is shutting down");
                    }
                    schedule_consider(std::chrono::milliseconds(0));
                    return reply.error(rpc_error::failed,
                                       "the test could not bring the tunnel up: " + error);
                  }
                  beside_ = c;
                  const double setup = std::chrono::duration<double, std::milli>(
                                           std::chrono::steady_clock::now() - began)
                                           .count();
                  measure(c, setup, false, reply);
                });
              });
              if (!t) return finish("tunnel " + c.tunnel_method() + " is not running", "");
              // Beside the active connection: routes untouched.
              open_tunnel(t, c.tunnel_method(), tunnel_session(c, true), finish);
            });
          });
    });
  });
}

void ConnectionManager::measure(Connection c, std::optional<double> setup_ms, bool temporary,
                                Responder reply) {
  constexpr int kProbes = 25;
  constexpr auto kSpacing = std::chrono::milliseconds(50);
  auto target = probe_target(c);
  Json::Value result(Json::objectValue);
  result["address"] = c.gateway_address;
  result["port"] = c.gateway_port;
  result["name"] = c.gateway_name;
  result["suite"] = c.suite;
  result["time"] = static_cast<Json::Int64>(clock_());
  result["current"] = !temporary && connection_ &&
                      connection_->gateway_address == c.gateway_address &&
                      connection_->session_id == c.session_id;
  result["setupMs"] = setup_ms ? Json::Value(std::round(*setup_ms * 10) / 10) : Json::Value();
  if (!target) return finish_test(c, temporary, result, reply);
  probe::ProberOptions o;
  o.interval = kSpacing;
  o.window = kProbes;
  o.count = kProbes;
  o.device = c.device;
  test_prober_ = std::make_unique<probe::Prober>(
      strand_, probe_clock(),
      boost::asio::ip::udp::endpoint(*target, static_cast<std::uint16_t>(c.gateway_port)), o,
      nullptr);
  if (auto error = test_prober_->start(); !error.empty()) {
    test_prober_.reset();
    result["error"] = error;
    return finish_test(c, temporary, result, reply);
  }
  // kProbes probes, then a second for the last answers.
  test_timer_ = probe_clock().make_timer(strand_);
  test_timer_->expires_after(kProbes * kSpacing + std::chrono::seconds(1));
  test_timer_->async_wait([this, c, temporary, result, reply,
                           target](const boost::system::error_code& ec) mutable {
    if (ec || !test_prober_) return;
    Json::Value f = test_prober_->figures();
    test_prober_.reset();
    result["probes"] = f["sent"];
    result["received"] = f["received"];
    result["loss"] = f["loss"];
    if (f.isMember("rttMs")) result["rttMs"] = f["rttMs"];
    // A bounded burst each way: 4 MiB or 2 s, whichever comes first.
    probe::run_bulk(
        strand_,
        boost::asio::ip::tcp::endpoint(*target, static_cast<std::uint16_t>(c.gateway_port)),
        c.device, 4 << 20, 4 << 20, std::chrono::seconds(2),
        [this, c, temporary, result, reply](probe::BulkResult b) mutable {
          auto figures = [](const probe::BulkFigures& f) {
            Json::Value v(Json::objectValue);
            v["bytes"] = static_cast<Json::UInt64>(f.bytes);
            v["seconds"] = std::round(f.seconds * 1000) / 1000;
            v["mbitPerS"] = std::round(f.mbit_per_s() * 10) / 10;
            return v;
          };
          result["download"] = figures(b.down);
          result["upload"] = figures(b.up);
          if (!b.error.empty()) result["throughputError"] = b.error;
          auto targets = config_.get()->get_list("subscriber", "checkTargets");
          // Targets beyond the gateway are reached by the routes: through
          // another gateway than this one, unless it carries the traffic.
          if (!result["current"].asBool() && !temporary) {
            result["checks"] = Json::Value();
            if (!targets.empty())
              result["checksSkipped"] =
                  "the check targets are reached through the current gateway, not this one";
            return finish_test(c, temporary, result, reply);
          }
          probe::check_reach(strand_, targets, std::chrono::seconds(3),
                             [this, c, temporary, result,
                              reply](std::vector<probe::Reach> reach) mutable {
                               result["checks"] = probe::to_json(reach);
                               finish_test(c, temporary, result, reply);
                             });
        });
  });
}

void ConnectionManager::finish_test(const Connection& c, bool temporary, Json::Value result,
                                    Responder reply) {
  // The same measure auto mode ranks by (choice.hpp): round trip plus loss.
  if (result["rttMs"].isObject()) {
    const double median = result["rttMs"]["median"].asDouble(), loss = result["loss"].asDouble();
    result["score"] = std::round((median + 1000 * loss) * 10) / 10;
    if (quality_.size() >= 256) quality_.clear();
    quality_[c.gateway_address] = GatewayQuality{median, loss};
  } else {
    result["score"] = Json::Value();
  }
  store_.post([result, address = c.gateway_address](sqlite3* db) {
    Statement ins(db, "INSERT INTO gateway_tests (address, time, result) VALUES (?, ?, ?)");
    ins.bind_text(1, address)
        .bind_int64(2, result["time"].asInt64())
        .bind_text(3, to_json_text(result));
    ins.step();
    // The last 20 of each gateway.
    Statement trim(db,
                   "DELETE FROM gateway_tests WHERE address = ? AND id NOT IN (SELECT id FROM "
                   "gateway_tests WHERE address = ? ORDER BY time DESC, id DESC LIMIT 20)");
    trim.bind_text(1, address).bind_text(2, address);
    trim.step();
  });
  auto answer = [this, reply, result] {
    testing_ = testing_temporary_ = false;
    reply.result(result);
    schedule_consider(std::chrono::milliseconds(0));
  };
  if (beside_ && beside_->gateway_address == c.gateway_address &&
      beside_->session_id == c.session_id) {
    // A session of the test's own beside the connection: given back.
    const Connection side = *beside_;
    beside_.reset();
    plugins_.with_tunnel(side.tunnel_method(), [this, side](TunnelPlugin* t) {
      if (t) t->disconnect(tunnel_session(side, true), [](std::string) {});
    });
    give_back(side);
    return answer();
  }
  if (!temporary || state_ != State::connected || !connection_ ||
      connection_->session_id != c.session_id)
    return answer();
  const std::string kept = last_error_;
  give_back(c);
  tear_down("the gateway test is over", [this, kept, answer] {
    last_error_ = kept;
    answer();
  });
}

}  // namespace mnigs
