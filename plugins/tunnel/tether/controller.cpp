#include "controller.hpp"

#include <json/reader.h>
#include <json/writer.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include "handshake.hpp"
#include "settings.hpp"

namespace mnigs::tether {

namespace {

// Characters an HTTP token (a WebSocket subprotocol) may hold, and more
// than a session id or token of ours needs.
bool is_plain_token(const std::string& s, std::size_t max) {
  return !s.empty() && s.size() <= max && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
  });
}

bool is_address(const Json::Value& v, bool v6) {
  if (!v.isString()) return false;
  boost::system::error_code ec;
  const auto a = boost::asio::ip::make_address(v.asString(), ec);
  return !ec && a.is_v6() == v6;
}

bool int_in(const Json::Value& v, int low, int high) {
  return v.isInt() && v.asInt() >= low && v.asInt() <= high;
}

std::string compact(const Json::Value& v) {
  Json::StreamWriterBuilder w;
  w["indentation"] = "";
  return Json::writeString(w, v);
}

// "babel-websocket-free" -> {"babel", "websocket", "free"}: the network may
// itself hold '-' (batman-adv), so the parts are taken from the right.
std::pair<std::string, std::string> tunnel_and_payment(const std::string& suite) {
  const auto last = suite.rfind('-');
  if (last == std::string::npos || last == 0) return {};
  const auto before = suite.rfind('-', last - 1);
  if (before == std::string::npos) return {};
  return {suite.substr(before + 1, last - before - 1), suite.substr(last + 1)};
}

}  // namespace

Json::Value Session::to_json() const {
  Json::Value v(Json::objectValue);
  v["gateway"] = gateway;
  v["sessionId"] = id;
  v["secret"] = secret;
  v["expires"] = static_cast<Json::Int64>(expires);
  v["tunnel"] = tunnel;
  return v;
}

std::optional<Session> Session::from_json(const Json::Value& v) {
  if (!v.isObject() || !v["gateway"].isString() || !v["sessionId"].isString() ||
      !v["secret"].isString() || !v["expires"].isInt64())
    return std::nullopt;
  Session s;
  std::string why;
  auto g = normalize_gateway(v["gateway"].asString(), &why);
  if (!g || !is_plain_token(v["sessionId"].asString(), 64) ||
      !is_plain_token(v["secret"].asString(), 256) || !tunnel_refusal(v["tunnel"]).empty())
    return std::nullopt;
  s.gateway = *g;
  s.id = v["sessionId"].asString();
  s.secret = v["secret"].asString();
  s.expires = v["expires"].asInt64();
  s.tunnel = v["tunnel"];
  return s;
}

std::string tunnel_refusal(const Json::Value& t) {
  if (!t.isObject()) return "the answer has no tunnel object: is it a websocket gateway?";
  const Json::Value& path = t["path"];
  if (!path.isString() || path.asString().empty() || path.asString().front() != '/' ||
      path.asString().size() > 256 || !websocket::request_refusal(path.asString()).empty())
    return "the tunnel's path is missing or not a plain absolute path";
  if (!t["token"].isString() || !is_plain_token(t["token"].asString(), 256))
    return "the tunnel's token is missing or holds other than letters, digits and -_.~";
  const bool v4 = t.isMember("address4"), v6 = t.isMember("address6");
  if (!v4 && !v6) return "the gateway gave the session no tunnel address";
  if (v4 && (!is_address(t["address4"], false) ||
             (t.isMember("prefix4") && !int_in(t["prefix4"], 1, 32))))
    return "the tunnel's address4/prefix4 is not an IPv4 address and a prefix length 1..32";
  if (v6 && (!is_address(t["address6"], true) ||
             (t.isMember("prefix6") && !int_in(t["prefix6"], 1, 128))))
    return "the tunnel's address6/prefix6 is not an IPv6 address and a prefix length 1..128";
  if (t.isMember("mtu") && !int_in(t["mtu"], v6 ? 1280 : 576, 65535))
    return "the tunnel's mtu is out of range";
  return "";
}

std::string choose_suite(const Json::Value& suites, std::string* why) {
  bool websocket = false;
  if (suites.isArray())
    for (const auto& s : suites) {
      if (!s.isString() || s.asString().size() > 128) continue;
      auto [tunnel, payment] = tunnel_and_payment(s.asString());
      if (tunnel != "websocket") continue;
      websocket = true;
      if (payment == "free") return s.asString();
    }
  if (why)
    *why = websocket ? "the gateway offers its websocket tunnel only with a payment; the "
                       "tether takes free ones only"
                     : "the gateway offers no websocket tunnel, which is the one a browser "
                       "can carry";
  return "";
}

Controller::Controller(boost::asio::any_io_executor strand, Effects& effects)
    : strand_(strand),
      effects_(effects),
      renew_timer_(strand),
      reopen_timer_(strand),
      retry_timer_(strand) {}

Controller::~Controller() { *alive_ = false; }

void Controller::restore(std::optional<Session> session, std::string remembered_gateway) {
  session_ = std::move(session);
  remembered_ = std::move(remembered_gateway);
}

std::string Controller::gateway() const {
  if (!configured_.empty()) return configured_;
  return remembered_;
}

void Controller::send(const Json::Value& message) {
  if (!page_address_.empty()) effects_.send_to_page(compact(message));
}

void Controller::set_state(std::string state, std::string detail) {
  state_ = std::move(state);
  detail_ = std::move(detail);
  Json::Value m(Json::objectValue);
  m["type"] = "state";
  m["state"] = state_;
  m["detail"] = detail_;
  if (session_) {
    Json::Value s(Json::objectValue);
    s["gateway"] = session_->gateway;
    s["expires"] = static_cast<Json::Int64>(session_->expires);
    s["address4"] = session_->tunnel.get("address4", "");
    s["address6"] = session_->tunnel.get("address6", "");
    m["session"] = s;
  }
  send(m);
}

void Controller::fail(const std::string& why) {
  if (page_address_.empty()) return set_state("waiting for the page", why);
  set_state("failed", why + "; trying again in " + std::to_string(retry_backoff_.count()) + " s");
  // Again later, waiting longer each time: the phone may not have reached
  // the mesh yet, or the gateway may be full or starting.
  retry_timer_.expires_after(retry_backoff_);
  retry_backoff_ = std::min(retry_backoff_ * 2, std::chrono::seconds(60));
  retry_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_),
                           generation = page_generation_](boost::system::error_code ec) {
    if (ec || alive.expired() || generation != page_generation_) return;
    begin();
  });
}

void Controller::page_attached(const std::string& address) {
  // A page that comes while another is attached replaces it (the same
  // user reloading, or a second device with the code).
  if (!page_address_.empty()) page_detached("another page took over");
  page_address_ = address;
  ++page_generation_;
  reopen_backoff_ = std::chrono::seconds(1);
  retry_backoff_ = std::chrono::seconds(5);
  Json::Value hello(Json::objectValue);
  hello["type"] = "hello";
  hello["gateway"] = gateway();
  send(hello);
  begin();
}

void Controller::begin() {
  if (session_) return renew();
  if (gateway().empty()) return set_state("waiting for the gateway's address");
  request(gateway());
}

void Controller::page_detached(const std::string& reason, std::function<void()> torn_down) {
  if (!torn_down) torn_down = [] {};
  if (page_address_.empty()) return torn_down();
  page_address_.clear();
  ++page_generation_;
  link_open_ = false;
  reopen_timer_.cancel();
  retry_timer_.cancel();
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) p.deadline->cancel();
  set_state("waiting for the page", "the page went away: " + reason);
  if (up_ || bringing_up_) {
    up_ = false;
    effects_.tear_down(std::move(torn_down));
  } else {
    torn_down();
  }
  // Calls in flight get no answer now: their callers hear so (a release
  // while tethering is turned off finishes the shutdown).
  for (auto& [id, p] : pending) p.answer("the page went away before it answered", Json::Value());
}

void Controller::shut_down(std::function<void()> done) {
  renew_timer_.cancel();
  reopen_timer_.cancel();
  retry_timer_.cancel();
  auto finish = [this, done] {
    session_.reset();
    effects_.save_session(Json::Value());
    if (!page_address_.empty()) {
      Json::Value close(Json::objectValue);
      close["type"] = "close";
      send(close);
    }
    // "off" once the device and routes are gone, not before.
    page_detached("tethering was turned off", [this, done] {
      state_ = "off";
      detail_.clear();
      done();
    });
  };
  if (!session_ || page_address_.empty()) return finish();
  Json::Value p(Json::objectValue);
  p["sessionId"] = session_->id;
  p["secret"] = session_->secret;
  call("releaseConnection", p, [finish](std::string, const Json::Value&) { finish(); });
}

void Controller::page_text(std::string_view text) {
  Json::Value m;
  std::string errors;
  Json::CharReaderBuilder b;
  b["stackLimit"] = 16;
  b["rejectDupKeys"] = true;
  std::unique_ptr<Json::CharReader> reader(b.newCharReader());
  bool parsed = false;
  try {
    // jsoncpp throws, rather than fail, past its stackLimit.
    parsed = text.size() <= max_text &&
             reader->parse(text.data(), text.data() + text.size(), &m, &errors);
  } catch (const Json::Exception&) {
    parsed = false;
  }
  if (!parsed || !m.isObject() || !m["type"].isString()) {
    ++dropped_;
    return;
  }
  const std::string type = m["type"].asString();
  if (type == "answer") return on_answer(m);
  if (type == "link") return on_link(m);
  if (type == "gateway") {
    if (!configured_.empty() || !m["address"].isString()) {
      ++dropped_;
      return;
    }
    std::string why;
    auto g = normalize_gateway(m["address"].asString(), &why);
    if (!g) return set_state("waiting for the gateway's address", why);
    remembered_ = *g;
    effects_.save_gateway(remembered_);
    if (session_ && session_->gateway != remembered_) {
      // Another gateway: the old session is left to expire there.
      session_.reset();
      effects_.save_session(Json::Value());
      if (up_) {
        up_ = false;
        effects_.tear_down([] {});
      }
    }
    if (!session_) request(remembered_);
    return;
  }
  ++dropped_;
}

void Controller::call(const std::string& method, Json::Value params, Answer answer) {
  const std::string gw = session_ && method != "nodeInfo" && method != "requestConnection"
                             ? session_->gateway
                             : gateway();
  const std::uint64_t id = next_id_++;
  Json::Value body(Json::objectValue);
  body["jsonrpc"] = "2.0";
  body["id"] = static_cast<Json::UInt64>(id);
  body["method"] = method;
  body["params"] = std::move(params);
  Json::Value m(Json::objectValue);
  m["type"] = "call";
  m["id"] = static_cast<Json::UInt64>(id);
  m["url"] = "http://" + gw + "/jsonrpc";
  m["body"] = body;
  auto deadline = std::make_shared<boost::asio::steady_timer>(strand_, call_timeout);
  deadline->async_wait([this, alive = std::weak_ptr<bool>(alive_),
                        id](boost::system::error_code ec) {
    if (ec || alive.expired()) return;
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    auto a = std::move(it->second.answer);
    pending_.erase(it);
    a("the page sent no answer in " + std::to_string(call_timeout.count()) + " s", Json::Value());
  });
  pending_[id] = Pending{std::move(answer), deadline};
  send(m);
}

void Controller::on_answer(const Json::Value& m) {
  if (!m["id"].isUInt64()) {
    ++dropped_;
    return;
  }
  auto it = pending_.find(m["id"].asUInt64());
  if (it == pending_.end()) {
    ++dropped_;
    return;
  }
  auto answer = std::move(it->second.answer);
  it->second.deadline->cancel();
  pending_.erase(it);
  if (m["error"].isString())
    return answer("the page could not reach the gateway: " + m["error"].asString().substr(0, 200),
                  Json::Value());
  const Json::Value& r = m["response"];
  if (!r.isObject())
    return answer("the gateway's answer is not a JSON-RPC response", Json::Value());
  if (r.isMember("error")) {
    const Json::Value& e = r["error"];
    // Anything may come here: index only what is an object.
    const bool object = e.isObject();
    std::string text = object && e["message"].isString()
                           ? e["message"].asString().substr(0, 300)
                           : std::string("an error without a message");
    if (object && e["code"].isInt()) text += " (" + std::to_string(e["code"].asInt()) + ")";
    return answer(text, e);
  }
  answer("", r["result"]);
}

void Controller::on_link(const Json::Value& m) {
  if (!m["open"].isBool()) {
    ++dropped_;
    return;
  }
  if (m["open"].asBool()) {
    link_open_ = true;
    reopen_backoff_ = std::chrono::seconds(1);
    if (up_) set_state("connected");
    return;
  }
  link_open_ = false;
  const std::string reason = m["reason"].isString() ? m["reason"].asString().substr(0, 200) : "";
  if (!session_ || !up_) return;
  set_state("reconnecting", "the page's link to the gateway closed" +
                                (reason.empty() ? std::string() : ": " + reason));
  // The session may have ended at the gateway: renewing says so; if it
  // lives, the link is opened again, waiting longer each time.
  reopen_timer_.expires_after(reopen_backoff_);
  reopen_backoff_ = std::min(reopen_backoff_ * 2, std::chrono::seconds(30));
  reopen_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_),
                            generation = page_generation_](boost::system::error_code ec) {
    if (ec || alive.expired() || generation != page_generation_) return;
    renew();
  });
}

void Controller::request(const std::string& gw) {
  set_state("asking " + gw + " for a session");
  const std::uint64_t generation = page_generation_;
  call("nodeInfo", Json::Value(Json::objectValue),
       [this, gw, generation](std::string error, const Json::Value& info) {
         if (generation != page_generation_) return;
         if (!error.empty()) return fail(error);
         if (!info.isObject()) return fail("the gateway's nodeInfo answer is not an object");
         std::string why;
         const std::string suite = choose_suite(info["suites"], &why);
         if (suite.empty()) return fail(why);
         Json::Value p(Json::objectValue);
         p["suite"] = suite;
         p["name"] = "tether";
         call("requestConnection", p,
              [this, gw, generation](std::string error, const Json::Value& r) {
                if (generation != page_generation_) return;
                if (!error.empty()) return fail("requestConnection: " + error);
                if (!r.isObject()) return fail("the gateway's session answer is not an object");
                Session s;
                s.gateway = gw;
                s.id = r["sessionId"].isString() ? r["sessionId"].asString() : "";
                s.secret = r["secret"].isString() ? r["secret"].asString() : "";
                s.expires = r["expires"].isInt64() ? r["expires"].asInt64() : 0;
                s.tunnel = r["tunnel"];
                if (!is_plain_token(s.id, 64) || !is_plain_token(s.secret, 256))
                  return fail("the gateway's answer has no usable sessionId and secret");
                if (auto why = tunnel_refusal(s.tunnel); !why.empty()) return fail(why);
                ++sessions_;
                granted(std::move(s));
              });
       });
}

void Controller::renew() {
  if (!session_ || page_address_.empty()) return;
  Json::Value p(Json::objectValue);
  p["sessionId"] = session_->id;
  p["secret"] = session_->secret;
  const std::uint64_t generation = page_generation_;
  const std::string id = session_->id;
  call("renewConnection", p, [this, generation, id](std::string error, const Json::Value& r) {
    if (generation != page_generation_ || !session_ || session_->id != id) return;
    if (error.empty() && !r.isObject()) error = "the renewal's answer is not an object";
    if (!error.empty()) {
      // Gone at the gateway (expired, released, or the gateway restarted
      // without it): a new one. Anything else is tried again later.
      if (error.find("(-32004)") != std::string::npos ||
          error.find("(-32001)") != std::string::npos) {
        session_.reset();
        effects_.save_session(Json::Value());
        if (up_) {
          up_ = false;
          effects_.tear_down([] {});
        }
        if (!gateway().empty()) return request(gateway());
        return set_state("waiting for the gateway's address", error);
      }
      // Anything else is tried again soon: the tunnel may be down meanwhile.
      set_state(state_, "renewing failed: " + error + "; trying again in 5 s");
      return schedule_renewal(std::chrono::seconds(5));
    }
    ++renewals_;
    retry_backoff_ = std::chrono::seconds(5);
    if (r["expires"].isInt64()) session_->expires = r["expires"].asInt64();
    effects_.save_session(session_->to_json());
    schedule_renewal();
    if (!up_ && !bringing_up_) return granted(*session_);
    if (!link_open_) open_link();
  });
}

void Controller::granted(Session s) {
  session_ = std::move(s);
  effects_.save_session(session_->to_json());
  schedule_renewal();
  if (up_) return open_link();
  bringing_up_ = true;
  set_state("bringing the tunnel up");
  const std::uint64_t generation = page_generation_;
  effects_.bring_up(*session_, page_address_,
                    [this, alive = std::weak_ptr<bool>(alive_), generation](std::string error) {
                      if (alive.expired()) return;
                      bringing_up_ = false;
                      if (generation != page_generation_) {
                        // The page went away meanwhile, which took the
                        // device down again after this. A page that came
                        // since gets it brought up anew.
                        if (!page_address_.empty() && session_ && !up_) granted(*session_);
                        return;
                      }
                      if (!error.empty()) {
                        effects_.tear_down([] {});
                        return fail(error);
                      }
                      up_ = true;
                      retry_backoff_ = std::chrono::seconds(5);
                      open_link();
                    });
}

void Controller::open_link() {
  if (!session_ || page_address_.empty()) return;
  Json::Value m(Json::objectValue);
  m["type"] = "open";
  m["url"] = "ws://" + session_->gateway + session_->tunnel["path"].asString();
  Json::Value protocols(Json::arrayValue);
  protocols.append("mnigs-l3");
  protocols.append("mnigs-session." + session_->id);
  protocols.append("mnigs-token." + session_->tunnel["token"].asString());
  m["protocols"] = protocols;
  send(m);
  set_state("opening the page's link to " + session_->gateway);
}

void Controller::schedule_renewal(std::optional<std::chrono::seconds> soon) {
  if (!session_) return;
  // A third of what is left, so two renewals may fail before it expires.
  // (expires comes from the gateway: compared first, never subtracted past
  // the range.)
  const std::int64_t now = effects_.unix_now();
  const std::int64_t left = session_->expires > now ? session_->expires - now : 0;
  const auto after =
      soon ? *soon : std::chrono::seconds(std::clamp<std::int64_t>(left / 3, 2, 3600));
  renew_timer_.expires_after(after);
  renew_timer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
        if (ec || alive.expired()) return;
        renew();
      });
}

Json::Value Controller::status() const {
  Json::Value s(Json::objectValue);
  s["state"] = state_;
  s["detail"] = detail_;
  s["page"] = page_address_;
  s["gatewayLink"] = link_open_;
  s["tunnelUp"] = up_;
  s["gateway"] = gateway();
  if (session_) {
    Json::Value v(Json::objectValue);
    v["gateway"] = session_->gateway;
    v["sessionId"] = session_->id;
    v["expires"] = static_cast<Json::Int64>(session_->expires);
    v["address4"] = session_->tunnel.get("address4", "");
    v["address6"] = session_->tunnel.get("address6", "");
    s["session"] = v;
  }
  s["sessionsRequested"] = static_cast<Json::UInt64>(sessions_);
  s["renewals"] = static_cast<Json::UInt64>(renewals_);
  s["pageMessagesDropped"] = static_cast<Json::UInt64>(dropped_);
  return s;
}

}  // namespace mnigs::tether
