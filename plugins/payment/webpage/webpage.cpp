// payment/webpage: the gateway's own payment page. Sessions of a suite with
// "webpage" are granted at once but go no further than the gateway until a
// voucher is redeemed on this page (the core meters and limits them: see
// core/gateway/meter.hpp); a payment backend may mint vouchers through the
// signed webhook. README.md tells the keys, the page and the webhook.
#include "attempts.hpp"
#include "page.hpp"
#include "server.hpp"
#include "settings.hpp"
#include "webhook.hpp"

#include <mnigs/plugin_entry.hpp>

#include <json/writer.h>

#include <boost/asio/ip/address.hpp>

#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace {

using namespace mnigs;
using namespace mnigs::webpage;

constexpr std::size_t kMaxTemplate = 256 * 1024;

std::string read_small_file(const std::string& path, std::size_t limit, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string(what) + " " + path + " cannot be read");
  std::string content(limit + 1, '\0');
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  content.resize(static_cast<std::size_t>(in.gcount()));
  if (content.size() > limit)
    throw std::runtime_error(std::string(what) + " " + path + " is larger than " +
                             std::to_string(limit) + " bytes");
  return content;
}

std::string path_of(const std::string& target) { return target.substr(0, target.find('?')); }

bool loopback(const std::string& address) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(address, ec);
  return !ec && a.is_loopback();
}

std::string json_text(const Json::Value& v) {
  Json::StreamWriterBuilder w;
  w["indentation"] = "";
  return Json::writeString(w, v);
}

Response json_response(int status, const Json::Value& v) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = json_text(v) + "\n";
  return r;
}

Response json_error(int status, const std::string& message) {
  Json::Value v(Json::objectValue);
  v["error"] = message;
  return json_response(status, v);
}

class Webpage final : public PaymentPlugin {
 public:
  static void declare(ConfigDeclarer& d) { webpage::declare(d); }

  explicit Webpage(PluginContext& ctx) : ctx_(ctx) {}

  void start() override {
    std::string why;
    auto s = read_settings(ctx_.config(), &why);
    if (!s) throw std::runtime_error(why);
    settings_ = *s;
    template_ = settings_.template_path.empty()
                    ? builtin_template()
                    : read_small_file(settings_.template_path, kMaxTemplate, "webpage.template");
    if (template_.find("{{action}}") == std::string::npos)
      ctx_.log().warn("webpage.template has no {{action}}: its form cannot redeem vouchers");
    if (!settings_.webhook_secret_file.empty()) {
      key_ = webhook_key(read_small_file(settings_.webhook_secret_file, 4096,
                                         "webpage.webhookSecretFile"));
      if (!key_)
        throw std::runtime_error("webpage.webhookSecretFile holds no usable secret (empty, or "
                                 "whsec_ followed by bad base64)");
    }
    attempts_.set_limits(settings_.wrong_code_burst,
                         std::chrono::seconds(settings_.wrong_code_refill_seconds));
    // Confirmations taken shortly before a restart stay refused: the page
    // listens only once they are known.
    ctx_.store().list("webhook/", [this](std::vector<KeyValueStore::Row> rows) {
      const std::int64_t now = unix_now();
      for (const auto& [key, value] : rows) {
        const std::int64_t at = std::atoll(value.c_str());
        if (at < now - 2 * kTolerance) ctx_.store().erase(key);
        else seen_.add(key.substr(8), at);
      }
      seen_loaded_ = true;
      if (offered_) offered(true);
    });
  }

  void stop() override { server_.reset(); }

  // The page listens only while this gateway offers the method.
  void offered(bool yes) override {
    offered_ = yes;
    if (yes && !seen_loaded_) return;  // listens once the ids are loaded
    if (!yes) {
      if (server_) ctx_.log().info("payment page closed: webpage is not offered");
      server_.reset();
      listen_error_.clear();
      return;
    }
    if (server_) return;
    server_ = std::make_unique<Server>(ctx_.executor(), ctx_.log(),
                                       [this](Request r, std::function<void(Response)> reply) {
                                         handle(std::move(r), std::move(reply));
                                       });
    listen_error_ = server_->listen(settings_.listen, settings_.port);
    if (!listen_error_.empty()) ctx_.log().error("the payment page: ", listen_error_);
    if (server_->listening()) ctx_.log().info("payment page on port ", settings_.port);
  }

  void config_changed() override {
    std::string why;
    auto s = read_settings(ctx_.config(), &why);
    if (!s) return ctx_.log().error(why, "; the previous value stays");
    // Port, addresses, template and secret take a restart.
    const Settings kept = settings_;
    settings_ = *s;
    settings_.port = kept.port;
    settings_.listen = kept.listen;
    settings_.template_path = kept.template_path;
    settings_.webhook_secret_file = kept.webhook_secret_file;
    attempts_.set_limits(settings_.wrong_code_burst,
                         std::chrono::seconds(settings_.wrong_code_refill_seconds));
  }

  std::string method() const override { return "webpage"; }
  bool charges() const override { return true; }
  std::string portal(const std::string& gateway_address) const override {
    return portal_url(gateway_address, settings_.port);
  }
  std::uint16_t portal_port() const override { return settings_.port; }

  Json::Value terms() const override {
    Json::Value t(Json::objectValue);
    t["method"] = "webpage";
    // The offer's "price" (what subscriber.maxPrice is compared with) is
    // the price of an hour.
    t["price"] = settings_.price_per_hour;
    t["pricePerHour"] = settings_.price_per_hour;
    t["pricePerGB"] = settings_.price_per_gb;
    t["currency"] = settings_.currency;
    t["voucherOnly"] = settings_.voucher_only;
    t["charges"] = true;
    t["note"] = describe_prices(settings_);
    return t;
  }

  Json::Value status() const override {
    Json::Value v = terms();
    v["port"] = settings_.port;
    v["offered"] = server_ != nullptr;
    v["listening"] = static_cast<Json::UInt64>(server_ ? server_->listening() : 0);
    v["webhook"] = key_.has_value();
    v["addressesWithWrongCodes"] = static_cast<Json::UInt64>(attempts_.tracked());
    if (!listen_error_.empty()) v["error"] = listen_error_;
    return v;
  }

 private:
  std::int64_t unix_now() const {
    return std::chrono::duration_cast<std::chrono::seconds>(
               ctx_.wall_now().time_since_epoch())
        .count();
  }

  PageView view(const PaymentState& st, std::string message) const {
    PageView v;
    v.title = settings_.title;
    v.terms = settings_.terms;
    v.prices = describe_prices(settings_);
    v.status = describe_state(st);
    v.message = std::move(message);
    v.paid = st.paid;
    return v;
  }

  void handle(Request r, std::function<void(Response)> reply) {
    const std::string path = path_of(r.target);
    if (path == "/webhook") {
      if (r.method != "POST") return reply(text(405, "POST a signed payment confirmation here."));
      return webhook(r, reply);
    }
    ctx_.payments().session_at(r.peer, [this, r, path, reply](PaymentState st) {
      if (st.session_id.empty() && !loopback(r.peer))
        return reply(text(403,
                          "This page is for the subscribers of this gateway: connect to it "
                          "first."));
      const std::string address = st.session_id.empty() ? r.local : st.gateway_address;
      const std::string url = portal_url(address, settings_.port);
      if (wants_captive_json(r.accept)) return reply(captive_json(st, url));
      // HTTP meant for somewhere else, redirected here by the gateway.
      if (r.host != portal_host(address, settings_.port) &&
          r.host != portal_host(r.local, settings_.port))
        return reply(redirect(url));
      if (path == "/" && (r.method == "GET" || r.method == "HEAD"))
        return reply(page(template_, view(st, "")));
      if (path == "/redeem") {
        if (r.method != "POST") return reply(redirect("/", 303));
        // Only the page's own form: another site's page must not post codes
        // (burning the wrong-code allowance, or redeeming its own voucher
        // on this session). Browsers send Origin with every form post.
        if (!r.origin.empty() && r.origin != "http://" + r.host)
          return reply(text(403, "Codes are taken from this gateway's own page only."));
        return redeem(r, st, reply);
      }
      reply(text(404, "Not here: the page is at " + url));
    });
  }

  void redeem(const Request& r, const PaymentState& st, std::function<void(Response)> reply) {
    const auto now = std::chrono::steady_clock::now();
    if (const long long wait = attempts_.wait(r.peer, now); wait > 0) {
      Response res = page(template_,
                          view(st, "Too many wrong codes: try again in " + std::to_string(wait) +
                                       " s."),
                          429);
      res.headers.emplace_back("Retry-After", std::to_string(wait));
      return reply(res);
    }
    if (r.content_type.rfind("application/x-www-form-urlencoded", 0) != 0)
      return reply(page(template_, view(st, "Send the form on this page."), 400));
    auto form = parse_form(r.body);
    if (!form) return reply(page(template_, view(st, "The form could not be read."), 400));
    if ((*form)["accept"].empty())
      return reply(page(template_, view(st, "Accept the terms to go online."), 400));
    const std::string code = (*form)["code"];
    ctx_.payments().redeem(r.peer, "", code, [this, r, reply](PaymentState after) {
      if (!after.error.empty()) {
        if (!after.session_id.empty()) attempts_.failed(r.peer, std::chrono::steady_clock::now());
        ctx_.log().info("voucher refused for ", r.peer, ": ", after.error);
        return reply(page(template_, view(after, after.error), 400));
      }
      // Post, then redirect, then get: a reload does not post again.
      reply(redirect("/", 303));
    });
  }

  void webhook(const Request& r, std::function<void(Response)> reply) {
    if (!key_) return reply(json_error(404, "this gateway takes no payment confirmations"));
    const std::int64_t now = unix_now();
    const std::string why =
        verify_webhook(*key_, r.webhook_id, r.webhook_timestamp, r.webhook_signature, r.body, now);
    if (!why.empty()) {
      ctx_.log().warn("payment confirmation from ", r.peer, " refused: ", why);
      return reply(json_error(401, why));
    }
    if (seen_.seen(r.webhook_id, now))
      return reply(json_error(409, "this confirmation (webhook-id) was already taken"));
    auto body = parse_confirmation(r.body);
    if (!body)
      return reply(json_error(400, "the body must be {\"voucher\": {\"minutes\", \"bytes\", "
                                   "...}, \"session\": optional session id}"));
    if (!seen_.add(r.webhook_id, now))
      return reply(json_error(503, "too many confirmations at once; try again later"));
    ctx_.store().put("webhook/" + r.webhook_id, std::to_string(now));
    Json::Value terms = body->voucher;
    terms["count"] = 1;
    const std::string session = body->session;
    const std::string id = r.webhook_id;
    ctx_.payments().create_vouchers(
        terms, [this, reply, session, id](std::string error, Json::Value made) {
          if (!error.empty()) {
            // Not taken: the backend may send it again, or a corrected one.
            ctx_.store().erase("webhook/" + id);
            seen_.erase(id);
            return reply(json_error(400, error));
          }
          const std::string code = made["vouchers"][0]["code"].asString();
          ctx_.log().info("payment confirmation ", id, ": voucher ",
                          made["vouchers"][0]["id"].asInt64(), " minted");
          Json::Value out(Json::objectValue);
          out["code"] = code;
          if (session.empty()) return reply(json_response(200, out));
          ctx_.payments().redeem("", session, code, [reply, out](PaymentState st) mutable {
            Json::Value s(Json::objectValue);
            s["paid"] = st.paid;
            s["secondsRemaining"] = static_cast<Json::Int64>(st.seconds_remaining);
            s["bytesRemaining"] = static_cast<Json::Int64>(st.bytes_remaining);
            if (!st.error.empty()) s["error"] = st.error;
            out["session"] = s;
            reply(json_response(200, out));
          });
        });
  }

  PluginContext& ctx_;
  Settings settings_;
  std::string template_;
  std::optional<std::string> key_;
  Attempts attempts_{5, std::chrono::seconds(20)};
  SeenIds seen_;
  bool seen_loaded_ = false;
  bool offered_ = false;
  std::unique_ptr<Server> server_;
  std::string listen_error_;
};

}  // namespace

MNIGS_PLUGIN(Webpage, "payment", "webpage", "1.0",
             "Payment page on the gateway: vouchers, RFC 8908, signed payment confirmations")
