#include "rpc/http_server.hpp"

#include "os/clock.hpp"
#include "util/host_port.hpp"
#include "util/json_text.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fcntl.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace mnigs {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

std::string endpoint_text(const tcp::endpoint& ep) {
  auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

const char* mime_type(std::string_view path) {
  auto ext = path.substr(std::min(path.rfind('.'), path.size()));
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".json") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  return "application/octet-stream";
}

// "http://localhost:65533" -> "localhost:65533"
std::string_view origin_host(std::string_view origin) {
  auto p = origin.find("://");
  return p == std::string_view::npos ? origin : origin.substr(p + 3);
}

bool iequals(std::string_view a, std::string_view b);

// "localhost[:port]", or an IP literal ("10.0.0.1:65533", "[fd00::1]:65533").
bool is_local_host_name(std::string_view host) {
  auto parsed = parse_host_port(host, {.default_port = 80, .bare_ipv6 = true, .names = true});
  return parsed && (iequals(parsed->host, "localhost") || parse_address(parsed->host));
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The local CLI and web UI: not limited per source, and they may use the
// connections kept in reserve.
bool is_local_client(const net::ip::address& a) {
  return a == net::ip::make_address("127.0.0.1") || a == net::ip::address_v6::loopback();
}

// Connections are counted per source: an IPv4 address, or an IPv6 /64 (one
// host can hold a whole /64).
std::string source_key(const net::ip::address& a) {
  if (!a.is_v6()) return a.to_string();
  auto bytes = a.to_v6().to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return net::ip::address_v6(bytes).to_string() + "/64";
}

// Connections kept for the local CLI and web UI: the last quarter of
// daemon.rpcMaxClients, at most 16.
std::size_t reserved_connections(std::size_t max_clients) {
  return std::min<std::size_t>(16, max_clients / 4);
}

// Headers a reverse proxy adds. A request relayed by a proxy on this host
// arrives from loopback but was sent by someone else.
bool relayed_by_proxy(const http::request<http::string_body>& req) {
  for (const char* name : {"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP", "Via"})
    if (req.find(name) != req.end()) return true;
  return false;
}

// The Origin of a page on another site than the one named by Host, as a
// browser sends it; "" for the same origin or no Origin (not a browser, or a
// same-origin GET).
std::string foreign_origin(const http::request<http::string_body>& req) {
  auto origin = req[http::field::origin];
  if (origin.empty()) return "";
  auto host = req[http::field::host];
  std::string_view o(origin.data(), origin.size());
  return iequals(origin_host(o), std::string_view(host.data(), host.size())) ? "" : std::string(o);
}

// What a page from another origin may send: only the JSON type. An
// Authorization header (the admin token) is never allowed across origins.
bool only_content_type(std::string_view requested) {
  bool ok = true;
  std::size_t start = 0;
  while (ok && start <= requested.size()) {
    const std::size_t comma = std::min(requested.find(',', start), requested.size());
    std::string_view item = requested.substr(start, comma - start);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    ok = item.empty() || iequals(item, "content-type");
    start = comma + 1;
  }
  return ok;
}

// Refused connections being answered at once: beyond this many, a new one
// is closed without an answer (each is answered within about 4 s).
constexpr std::size_t kMaxRefusing = 64;

// Web UI files larger than this are not served (the UI is a few KiB).
constexpr std::uintmax_t max_web_file_bytes = 8 << 20;

// The host of a Host header, without its port, if it can stand in a CSP
// source (a name or an IPv4 address: CSP has no IPv6 literals); else "".
std::string frame_host(std::string_view header) {
  if (const auto colon = header.find(':'); colon != std::string_view::npos) {
    const auto port = header.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return {};
    header = header.substr(0, colon);
  }
  const bool ok = !header.empty() && header.size() <= 253 &&
                  std::all_of(header.begin(), header.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '.' || c == '-';
                  });
  return ok ? std::string(header) : std::string();
}

bool is_within(const std::filesystem::path& path, const std::filesystem::path& dir) {
  auto [d, p] = std::mismatch(dir.begin(), dir.end(), path.begin(), path.end());
  return d == dir.end();
}

}  // namespace

// ---------------------------------------------------------------- Session

class HttpServer::Session : public std::enable_shared_from_this<Session> {
 public:
  // `refusal`: why the connection gets a 503 and is closed; "" to serve it.
  Session(tcp::socket&& socket, const net::ip::address& remote, HttpServer& server,
          std::string refusal)
      : stream_(std::move(socket)),
        server_(server),
        config_(server.config_.get()),
        connections_(server.connections_),
        sources_(server.sources_),
        refusing_(server.refusing_),
        refusal_(std::move(refusal)),
        remote_(remote),
        source_(source_key(remote)),
        local_client_(is_local_client(remote)) {
    // A refused connection takes no place: it is answered and closed
    // within a few seconds, and the refusals in flight are bounded apart.
    if (refusal_.empty()) {
      ++*connections_;
      std::lock_guard lock(sources_->mutex);
      ++sources_->count[source_];
    } else {
      ++*refusing_;
    }
    beast::error_code ec;
    auto local = stream_.socket().local_endpoint(ec);
    if (!ec) local_ = unmap(local.address());
  }
  ~Session() {
    if (!refusal_.empty()) {
      --*refusing_;
      return;
    }
    --*connections_;
    std::lock_guard lock(sources_->mutex);
    auto it = sources_->count.find(source_);
    if (it != sources_->count.end() && --it->second == 0) sources_->count.erase(it);
  }

  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->refusal_.empty()) {
        self->stream_.expires_after(std::chrono::seconds(2));
        return self->send_error(http::status::service_unavailable, 11, self->refusal_, false);
      }
      self->do_read();
    });
  }

  // For making room when every connection is taken: since when this
  // connection from the mesh has been waiting for a request (none yet, an
  // incomplete one, or the next on a kept-alive connection), as a
  // steady-clock count; 0 when it is not one.
  std::int64_t waiting_since() const {
    return local_client_ || !refusal_.empty() ? 0 : waiting_since_.load();
  }
  const std::string& source() const { return source_; }
  // Closes it, unless it has meanwhile received its request; true if so.
  bool evict() {
    std::int64_t since = waiting_since_.load();
    if (since == 0 || !waiting_since_.compare_exchange_strong(since, 0)) return false;
    close();
    return true;
  }

  void close() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.close();
    });
  }

 private:
  std::chrono::seconds timeout() const {
    return std::chrono::seconds(config_->get_int("daemon", "rpcTimeout"));
  }

  void do_read() {
    config_ = server_.config_.get();  // each request sees the current limits
    parser_.emplace();
    parser_->header_limit(header_limit);
    parser_->body_limit(static_cast<std::uint64_t>(config_->get_int("daemon", "rpcMaxBodyBytes")));
    stream_.expires_after(timeout());
    waiting_since_ = std::chrono::steady_clock::now().time_since_epoch().count();
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    // Evicted meanwhile (waiting_since_ already 0): the read ends in an
    // error, closed below like any other.
    waiting_since_ = 0;
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted)
      return do_close();
    if (ec == beast::error::timeout) return do_close();  // slow or idle client
    if (ec == http::error::body_limit)
      return send_error(http::status::payload_too_large, 11,
                        "request body is larger than daemon.rpcMaxBodyBytes (" +
                            std::to_string(config_->get_int("daemon", "rpcMaxBodyBytes")) +
                            " bytes)",
                        false);
    if (ec == http::error::header_limit)
      return send_error(http::status::request_header_fields_too_large, 11,
                        "request headers are larger than " + std::to_string(header_limit) +
                            " bytes",
                        false);
    if (ec) {
      server_.log_.debug("rpc ", remote_.to_string(), ": bad HTTP request: ", ec.message());
      return send_error(http::status::bad_request, 11, "bad HTTP request: " + ec.message(), false);
    }
    handle(parser_->release());
  }

  void handle(http::request<http::string_body> req) {
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    std::string_view target(req.target().data(), req.target().size());
    std::string_view path = target.substr(0, target.find('?'));

    if (!req[http::field::upgrade].empty())
      if (auto handler = server_.find_upgrade(path)) return hand_over(std::move(req), *handler);

    if (path == "/jsonrpc") {
      if (req.method() == http::verb::options) return preflight(req, version, keep_alive);
      if (req.method() != http::verb::post)
        return send_error(http::status::method_not_allowed, version,
                          "use POST for /jsonrpc", keep_alive, "POST, OPTIONS");
      // Required, not only checked when present: a page on another site can
      // send a typeless body without the browser asking this server first.
      auto ctype = req[http::field::content_type];
      if (!std::string_view(ctype.data(), ctype.size()).starts_with("application/json"))
        return send_error(http::status::unsupported_media_type, version,
                          "send JSON-RPC with Content-Type: application/json", keep_alive);
      Caller caller = make_caller(req);
      // A page from another origin reads the answer only when allowed; it
      // reached mesh methods alone (Caller::admin).
      std::string allow_origin = foreign_origin(req);
      if (!cors_allowed(allow_origin)) allow_origin.clear();
      server_.dispatcher_.handle(
          req.body(), caller,
          [self = shared_from_this(), version, keep_alive,
           allow_origin = std::move(allow_origin)](std::optional<std::string> body) mutable {
            net::post(self->stream_.get_executor(), [self, version, keep_alive,
                                                     allow_origin = std::move(allow_origin),
                                                     body = std::move(body)]() mutable {
              http::response<http::string_body> res{
                  body ? http::status::ok : http::status::no_content, version};
              if (!allow_origin.empty()) {
                res.set(http::field::access_control_allow_origin, allow_origin);
                res.set(http::field::vary, "Origin");
              }
              res.keep_alive(keep_alive);
              if (body) {
                res.set(http::field::content_type, "application/json");
                res.body() = std::move(*body);
                res.prepare_payload();
              }
              self->send(std::move(res));
            });
          });
      return;
    }
    if (server_.auth_ && (path == "/login" || path == "/logout" || path == "/session"))
      return web_login(req, path, version, keep_alive);
    if (req.method() != http::verb::get && req.method() != http::verb::head)
      return send_error(http::status::method_not_allowed, version, "only GET here", keep_alive,
                        "GET, HEAD");
    const auto host = req[http::field::host];
    serve_file(std::string(path), std::string_view(host.data(), host.size()),
               req.method() == http::verb::head, version, keep_alive);
  }

  // The web UI's logins (rpc/web_auth.hpp): only for its own pages, never
  // for another origin's, and never answered with CORS headers.
  void web_login(const http::request<http::string_body>& req, std::string_view path,
                 unsigned version, bool keep_alive) {
    WebAuth& auth = *server_.auth_;
    if (!foreign_origin(req).empty())
      return send_json(http::status::forbidden, version, keep_alive,
                       error_json("a page from another origin may not log in here"));
    const auto cookie_field = req[http::field::cookie];
    const std::string_view cookie = WebAuth::cookie_value(
        std::string_view(cookie_field.data(), cookie_field.size()), WebAuth::kCookie);
    if (path == "/session") {
      if (req.method() != http::verb::get && req.method() != http::verb::head)
        return send_error(http::status::method_not_allowed, version, "use GET for /session",
                          keep_alive, "GET, HEAD");
      return send_json(http::status::ok, version, keep_alive, session_json(req, cookie), "", 0,
                       req.method() == http::verb::head);
    }
    if (req.method() != http::verb::post)
      return send_error(http::status::method_not_allowed, version,
                        "use POST for " + std::string(path), keep_alive, "POST");
    if (path == "/logout") {
      const auto csrf = req[WebAuth::kCsrfHeader];
      const auto check =
          auth.check(cookie, std::string_view(csrf.data(), csrf.size()), login_source());
      if (check.state == WebAuth::State::csrf)
        return send_json(http::status::forbidden, version, keep_alive,
                         error_json("log out with the X-Mnigs-CSRF header of the login"));
      if (check.state == WebAuth::State::valid) auth.logout(cookie);
      Json::Value ok(Json::objectValue);
      ok["ok"] = true;
      return send_json(http::status::ok, version, keep_alive, ok,
                       std::string(WebAuth::kCookie) +
                           "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    }
    // POST /login {"password": "..."} or {"token": "..."}
    auto ctype = req[http::field::content_type];
    if (!std::string_view(ctype.data(), ctype.size()).starts_with("application/json"))
      return send_json(http::status::unsupported_media_type, version, keep_alive,
                       error_json("send the login as JSON (Content-Type: application/json)"));
    auto credential = WebAuth::parse_login(req.body());
    if (!credential)
      return send_json(http::status::bad_request, version, keep_alive,
                       error_json("send {\"password\": \"...\"} or {\"token\": \"...\"}: one "
                                  "string, in at most " +
                                  std::to_string(WebAuth::kMaxLoginBytes) + " bytes"));
    auth.login(login_source(), credential->via, std::move(credential->secret),
               [self = shared_from_this(), version, keep_alive](WebAuth::Outcome out) {
                 net::post(self->stream_.get_executor(), [self, version, keep_alive,
                                                          out = std::move(out)] {
                   self->login_answer(out, version, keep_alive);
                 });
               });
  }

  void login_answer(const WebAuth::Outcome& out, unsigned version, bool keep_alive) {
    if (out.status != 200) {
      Json::Value e = error_json(out.error);
      if (out.retry_after.count() > 0) e["retryAfter"] = Json::Int64(out.retry_after.count());
      return send_json(static_cast<http::status>(out.status), version, keep_alive, e, "",
                       out.retry_after.count());
    }
    Json::Value ok(Json::objectValue);
    ok["ok"] = true;
    ok["csrf"] = out.csrf;
    send_json(http::status::ok, version, keep_alive, ok,
              std::string(WebAuth::kCookie) + "=" + out.id +
                  "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                  std::to_string(out.max_age.count()));
  }

  // Logins are bound to, and guesses counted per, the exact address: every
  // host of an IPv6 LAN shares its /64.
  std::string login_source() const { return remote_.to_string(); }

  // What the web UI needs to know before its first call.
  Json::Value session_json(const http::request<http::string_body>& req, std::string_view cookie) {
    WebAuth& auth = *server_.auth_;
    Caller caller = make_caller(req);
    const auto check = auth.check(cookie, "", login_source(), false);
    Json::Value out(Json::objectValue);
    const bool logged_in = check.state == WebAuth::State::valid;
    out["admin"] = caller.admin() || (logged_in && !caller.cross_origin);
    out["via"] = caller.from_authorized_network        ? "network"
                 : caller.token == Caller::Token::valid ? "token"
                 : logged_in                            ? "login"
                                                        : "none";
    out["login"] = logged_in                                   ? "valid"
                   : check.state == WebAuth::State::expired ? "expired"
                                                               : "none";
    if (logged_in) {
      out["csrf"] = check.csrf;
      out["expiresIn"] = Json::Int64(check.expires_in.count());
    }
    out["passwordSet"] = auth.password_set();
    out["address"] = remote_.to_string();
    out["time"] = Json::Int64(os::real_clock().unix_seconds());
    out["version"] = MNIGS_VERSION;
    return out;
  }

  static Json::Value error_json(const std::string& message) {
    Json::Value e(Json::objectValue);
    e["error"] = message;
    return e;
  }

  void send_json(http::status status, unsigned version, bool keep_alive, const Json::Value& body,
                 const std::string& set_cookie = "", std::int64_t retry_after = 0,
                 bool head_only = false) {
    http::response<http::string_body> res{status, version};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    if (!set_cookie.empty()) res.set(http::field::set_cookie, set_cookie);
    if (retry_after > 0) res.set(http::field::retry_after, std::to_string(retry_after));
    res.keep_alive(keep_alive);
    res.body() = to_json_text(body);
    res.prepare_payload();
    if (head_only) res.body().clear();
    send(std::move(res));
  }

  // Whether a page of `origin` (another origin) may read answers here.
  bool cors_allowed(const std::string& origin) const {
    std::vector<Prefix> allowed;
    for (const auto& text : config_->get_list("daemon", "rpcCorsOrigins"))
      if (auto p = parse_prefix(text)) allowed.push_back(*p);
    return origin_allowed(origin, allowed);
  }

  // A browser asks before a page from another origin may POST JSON here
  // (CORS). Allowed for pages served from an address of
  // daemon.rpcCorsOrigins: POST with Content-Type alone, no credentials; the
  // calls then reach mesh methods only.
  void preflight(const http::request<http::string_body>& req, unsigned version, bool keep_alive) {
    const std::string origin = foreign_origin(req);
    if (origin.empty()) {
      http::response<http::string_body> res{http::status::no_content, version};
      res.set(http::field::allow, "POST, OPTIONS");
      res.keep_alive(keep_alive);
      return send(std::move(res));
    }
    if (!cors_allowed(origin))
      return send_error(http::status::forbidden, version,
                        "pages of " + origin.substr(0, 200) +
                            " may not call here: only pages served from an address in "
                            "daemon.rpcCorsOrigins",
                        keep_alive);
    auto method = req[http::field::access_control_request_method];
    if (std::string_view(method.data(), method.size()) != "POST")
      return send_error(http::status::method_not_allowed, version,
                        "only POST is allowed from other origins", keep_alive, "POST, OPTIONS");
    auto headers = req[http::field::access_control_request_headers];
    if (!only_content_type(std::string_view(headers.data(), headers.size())))
      return send_error(http::status::forbidden, version,
                        "a page from another origin may send Content-Type only: no "
                        "Authorization, and no admin method answers it",
                        keep_alive);
    http::response<http::string_body> res{http::status::no_content, version};
    res.set(http::field::access_control_allow_origin, origin);
    res.set(http::field::access_control_allow_methods, "POST");
    res.set(http::field::access_control_allow_headers, "Content-Type");
    res.set(http::field::access_control_max_age, "600");
    res.set(http::field::vary, "Origin");
    res.keep_alive(keep_alive);
    send(std::move(res));
  }

  // The connection leaves the HTTP server: its socket, the request and what
  // was read past the headers go to the plugin that took the path.
  void hand_over(http::request<http::string_body> req, const UpgradeHandler& handler) {
    HttpUpgrade up;
    up.method = std::string(req.method_string());
    up.target = std::string(req.target());
    for (const auto& field : req)
      up.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    Caller caller = make_caller(req);
    up.admin = caller.admin();
    up.remote_address = remote_.to_string();
    up.local_address = local_.to_string();
    beast::error_code ec;
    up.remote_port = stream_.socket().remote_endpoint(ec).port();
    up.pending = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    stream_.expires_never();
    up.fd = stream_.socket().release(ec);
    if (ec) {
      server_.log_.warn("rpc ", up.remote_address, ": cannot hand over the connection for ",
                        up.target, ": ", ec.message());
      return do_close();
    }
    int flags = ::fcntl(up.fd, F_GETFL);
    if (flags >= 0) ::fcntl(up.fd, F_SETFL, flags | O_NONBLOCK);
    handler(std::move(up));
  }

  Caller make_caller(const http::request<http::string_body>& req) const {
    Caller caller;
    caller.address = remote_;
    caller.local = local_;
    std::vector<Prefix> networks;
    for (const auto& text : config_->get_list("daemon", "authorizedNetworks"))
      if (auto p = parse_prefix(text)) networks.push_back(*p);
    caller.from_authorized_network = any_contains(networks, remote_);
    // A web page from another origin can make a browser POST here. Its
    // Origin then names a different host than Host: such a call gets no
    // admin rights at all (Caller::admin).
    caller.cross_origin = !foreign_origin(req).empty();
    auto host_field = req[http::field::host];
    std::string_view host(host_field.data(), host_field.size());
    // A page whose origin and Host agree on a name may be another site's
    // made to resolve here (DNS rebinding): it acts as a page, not as the
    // host's own user (CallInfo::cross_origin), though it cannot read any
    // CORS header and gets no admin rights by address (below).
    caller.page_by_name =
        req.find(http::field::origin) != req.end() && !is_local_host_name(host);
    // DNS rebinding: a page from evil.example whose name now resolves to
    // 127.0.0.1 sends Host and Origin evil.example. A browser that talks to
    // mnigsd itself names it by address or as localhost.
    if (caller.from_authorized_network && !host.empty() && !is_local_host_name(host))
      caller.from_authorized_network = false;
    // A reverse proxy on this host relays others' requests from loopback
    // (and often rewrites Host to the address it calls): the address says
    // nothing about who sent it. README: "Behind a reverse proxy".
    if (caller.from_authorized_network && relayed_by_proxy(req))
      caller.from_authorized_network = false;
    if (server_.auth_) {
      const auto cookie = req[http::field::cookie];
      const auto csrf = req[WebAuth::kCsrfHeader];
      const auto check = server_.auth_->check(
          WebAuth::cookie_value(std::string_view(cookie.data(), cookie.size()), WebAuth::kCookie),
          std::string_view(csrf.data(), csrf.size()), login_source());
      caller.login = check.state == WebAuth::State::valid     ? Caller::Login::valid
                     : check.state == WebAuth::State::expired ? Caller::Login::expired
                     : check.state == WebAuth::State::csrf    ? Caller::Login::csrf
                                                              : Caller::Login::none;
    }
    auto auth = req[http::field::authorization];
    std::string_view a(auth.data(), auth.size());
    if (a.size() > 7 && iequals(a.substr(0, 7), "Bearer ")) {
      caller.token = server_.check_token_(a.substr(7));
    } else if (!a.empty()) {
      caller.token = Caller::Token::invalid;
    }
    return caller;
  }

  // Only regular files inside daemon.webuiDir once every symlink is
  // resolved, never one inside daemon.dataDir (the admin token lives there),
  // and none larger than max_web_file_bytes.
  void serve_file(std::string path, std::string_view host_header, bool head_only,
                  unsigned version, bool keep_alive) {
    namespace fs = std::filesystem;
    auto not_found = [&] {
      send_error(http::status::not_found, version, "not found", keep_alive);
    };
    const std::string root_text = config_->get_string("daemon", "webuiDir");
    if (root_text.empty() || path.empty() || path.front() != '/' ||
        path.find('\0') != std::string::npos || path.find("..") != std::string::npos)
      return not_found();
    if (path.back() == '/') path += "index.html";
    std::error_code ec;
    const fs::path root = fs::canonical(root_text, ec);
    if (ec) return not_found();
    const fs::path file = fs::canonical(root / fs::path(path).relative_path(), ec);
    if (ec || !is_within(file, root)) return not_found();
    if (const fs::path data = fs::canonical(config_->data_dir(), ec); !ec && is_within(file, data)) {
      server_.log_.warn("rpc ", remote_.to_string(), ": refused ", path,
                        ": daemon.webuiDir must not hold daemon.dataDir");
      return not_found();
    }
    if (!fs::is_regular_file(file, ec) || fs::file_size(file, ec) > max_web_file_bytes || ec)
      return not_found();
    std::ifstream in(file, std::ios::binary);
    if (!in) return not_found();
    std::ostringstream buf;
    buf << in.rdbuf();
    http::response<http::string_body> res{http::status::ok, version};
    res.set(http::field::content_type, mime_type(path));
    res.set(http::field::cache_control, "no-cache");
    res.set("X-Content-Type-Options", "nosniff");
    // The web UI runs only its own files and talks only to this daemon; no
    // other site may frame it (clickjacking). With daemon.webuiFrameSameHost,
    // pages of the host the browser asked for, on its default web ports, may:
    // LuCI on the same router.
    std::string ancestors = "'self'";
    const auto host = frame_host(host_header);
    const bool same_host = config_->get_bool("daemon", "webuiFrameSameHost") && !host.empty();
    if (same_host) ancestors += " http://" + host + " https://" + host;
    res.set("Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors " +
                ancestors);
    // Older browsers know only this header, which cannot name another port.
    if (!same_host) res.set("X-Frame-Options", "SAMEORIGIN");
    res.set("Referrer-Policy", "no-referrer");
    res.keep_alive(keep_alive);
    res.body() = buf.str();
    res.prepare_payload();
    if (head_only) res.body().clear();
    send(std::move(res));
  }

  void send_error(http::status status, unsigned version, const std::string& message,
                  bool keep_alive, const char* allow = nullptr) {
    http::response<http::string_body> res{status, version};
    res.set(http::field::content_type, "application/json");
    if (allow) res.set(http::field::allow, allow);
    res.keep_alive(keep_alive);
    res.body() = Dispatcher::error_body(rpc_error::invalid_request, message);
    res.prepare_payload();
    send(std::move(res));
  }

  void send(http::response<http::string_body> res) {
    res.set(http::field::server, "mnigsd/" MNIGS_VERSION);
    response_ = std::make_shared<http::response<http::string_body>>(std::move(res));
    stream_.expires_after(timeout());
    http::async_write(stream_, *response_,
                      beast::bind_front_handler(&Session::on_write, shared_from_this(),
                                                response_->need_eof()));
  }

  void on_write(bool close, beast::error_code ec, std::size_t) {
    response_.reset();
    if (ec) return do_close();
    if (close) return do_linger();
    do_read();
  }

  // Closing a socket with unread input makes the kernel send a reset, and the
  // client may lose the error response we just sent (a 413 while it is still
  // sending its body). So: stop sending, then read and drop what is still
  // coming, for a bounded time and amount, then close.
  void do_linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(2));
    linger_budget_ = 1 << 20;
    do_drain();
  }
  void do_drain() {
    stream_.async_read_some(net::buffer(drain_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec || n >= self->linger_budget_) return self->do_close();
                              self->linger_budget_ -= n;
                              self->do_drain();
                            });
  }

  void do_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  HttpServer& server_;
  std::shared_ptr<const Config> config_;
  std::shared_ptr<std::atomic<std::size_t>> connections_;
  std::shared_ptr<Sources> sources_;
  std::shared_ptr<std::atomic<std::size_t>> refusing_;
  std::string refusal_;
  net::ip::address remote_;
  std::string source_;
  const bool local_client_;
  std::atomic<std::int64_t> waiting_since_{0};
  net::ip::address local_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> response_;
  std::array<char, 4096> drain_;
  std::size_t linger_budget_ = 0;
};

// ---------------------------------------------------------------- Listener

class HttpServer::Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(HttpServer& server, const tcp::endpoint& endpoint)
      : server_(server), acceptor_(net::make_strand(server.io_)), retry_(acceptor_.get_executor()) {
    auto fail = [&](const char* what, beast::error_code ec) {
      throw std::runtime_error("cannot " + std::string(what) + " " + endpoint_text(endpoint) +
                               ": " + ec.message());
    };
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (ec) fail("open a socket for", ec);
    acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    // "::" must not also take the IPv4 port that daemon.listenIpv4 binds.
    if (endpoint.address().is_v6()) acceptor_.set_option(net::ip::v6_only(true), ec);
    acceptor_.bind(endpoint, ec);
    if (ec) fail("listen on", ec);
    acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) fail("listen on", ec);
    name_ = endpoint_text(acceptor_.local_endpoint());
  }

  void run() { do_accept(); }
  void stop() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->acceptor_.close(ec);
    });
  }
  const std::string& name() const { return name_; }

 private:
  void do_accept() {
    acceptor_.async_accept(net::make_strand(server_.io_),
                           beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of file descriptors and the like: wait a little instead of
      // spinning on the same error.
      server_.log_.warn("rpc: accept on ", name_, " failed: ", ec.message());
      retry_.expires_after(std::chrono::milliseconds(200));
      retry_.async_wait([self = shared_from_this()](beast::error_code e) {
        if (!e && self->acceptor_.is_open()) self->do_accept();
      });
      return;
    } else {
      beast::error_code peer_ec;
      const auto remote = unmap(socket.remote_endpoint(peer_ec).address());
      std::string refusal = admission(remote);
      if (!refusal.empty() && *server_.refusing_ >= kMaxRefusing) {
        // Refusals already fill their own budget: closed without a word.
        beast::error_code close_ec;
        socket.close(close_ec);
        return do_accept();
      }
      auto session =
          std::make_shared<Session>(std::move(socket), remote, server_, std::move(refusal));
      {
        std::lock_guard lock(*server_.sessions_mutex_);
        auto& list = *server_.sessions_;
        std::erase_if(list, [](const std::weak_ptr<Session>& w) { return w.expired(); });
        list.push_back(session);
      }
      session->run();
    }
    do_accept();
  }

  // "" when a connection from `remote` may be served, else why not. One
  // neighbour must not take every connection: the local CLI, renewals and
  // tunnel upgrades need room too.
  std::string admission(const net::ip::address& remote) {
    const auto config = server_.config_.get();
    const auto limit = static_cast<std::size_t>(config->get_int("daemon", "rpcMaxClients"));
    const auto per_source =
        static_cast<std::size_t>(config->get_int("daemon", "rpcMaxClientsPerSource"));
    const bool local = is_local_client(remote);
    const std::string source = source_key(remote);
    std::size_t held = 0;  // by the newcomer's source
    if (!local) {
      std::lock_guard lock(server_.sources_->mutex);
      const auto it = server_.sources_->count.find(source);
      if (it != server_.sources_->count.end()) held = it->second;
      if (held >= per_source)
        return "too many connections from " + source +
               " (daemon.rpcMaxClientsPerSource); try again later";
    }
    const std::size_t open = *server_.connections_;
    const bool full = open >= limit || (!local && open >= limit - reserved_connections(limit));
    // Full: a source holding more connections than the newcomer's gives one
    // up, the one that has waited longest without a complete request
    // (daemon.rpcEvictAfter at least). Sources that connect and send
    // nothing, or a header a byte at a time, from many addresses, then hold
    // places only until someone with fewer needs one, and cannot take them
    // back from each other.
    const auto evict_after = std::chrono::seconds(config->get_int("daemon", "rpcEvictAfter"));
    if (full && (evict_after.count() == 0 || !evict_for(held, evict_after)))
      return "too many connections (daemon.rpcMaxClients); try again later";
    return "";
  }

  // Closes one connection from the mesh that has waited for a request since
  // `evict_after` or longer, of the source holding the most connections
  // (at least 2 more than `held`); the oldest of them. True if it did.
  bool evict_for(std::size_t held, std::chrono::seconds evict_after) {
    const auto before =
        (std::chrono::steady_clock::now() - evict_after).time_since_epoch().count();
    // Bounded: a candidate that got its request meanwhile is skipped and the
    // search made again, at most 4 times.
    for (int attempt = 0; attempt < 4; ++attempt) {
      // Copied out first: the last reference to a session may go here, and
      // its destructor takes the sources' lock.
      std::vector<std::shared_ptr<Session>> waiting;
      {
        std::lock_guard lock(*server_.sessions_mutex_);
        for (const auto& w : *server_.sessions_)
          if (auto s = w.lock()) {
            const std::int64_t since = s->waiting_since();
            if (since != 0 && since < before) waiting.push_back(std::move(s));
          }
      }
      std::shared_ptr<Session> chosen;
      std::size_t chosen_count = held + 1;
      std::int64_t chosen_since = 0;
      {
        std::lock_guard lock(server_.sources_->mutex);
        for (const auto& s : waiting) {
          const std::int64_t since = s->waiting_since();
          const auto it = server_.sources_->count.find(s->source());
          const std::size_t count = it == server_.sources_->count.end() ? 0 : it->second;
          if (since != 0 &&
              (count > chosen_count || (count == chosen_count && chosen && since < chosen_since))) {
            chosen = s;
            chosen_count = count;
            chosen_since = since;
          }
        }
      }
      if (!chosen) return false;
      if (chosen->evict()) {
        ++server_.evicted_;
        return true;
      }
    }
    return false;
  }

  HttpServer& server_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_;
  std::string name_;
};

// ---------------------------------------------------------------- HttpServer

HttpServer::HttpServer(net::io_context& io, const ConfigHolder& config, Dispatcher& dispatcher,
                       TokenCheck check_token, Logger& log, WebAuth* auth)
    : io_(io),
      config_(config),
      dispatcher_(dispatcher),
      check_token_(std::move(check_token)),
      log_(log),
      auth_(auth) {}

HttpServer::~HttpServer() = default;

void HttpServer::listen(const tcp::endpoint& endpoint) {
  auto listener = std::make_shared<Listener>(*this, endpoint);
  listeners_.push_back(listener);
  listener->run();
  log_.info("JSON-RPC listening on http://", listener->name(), "/jsonrpc");
}

void HttpServer::stop() {
  for (auto& l : listeners_) l->stop();
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard lock(*sessions_mutex_);
    for (auto& w : *sessions_)
      if (auto s = w.lock()) open.push_back(s);
    sessions_->clear();
  }
  for (auto& s : open) s->close();
}

void HttpServer::add_upgrade(const std::string& path, UpgradeHandler handler) {
  if (path.empty() || path.front() != '/' || path.find('?') != std::string::npos)
    throw std::invalid_argument("upgrade path \"" + path + "\" must be an absolute path without a query");
  if (path == "/jsonrpc") throw std::invalid_argument("upgrade path /jsonrpc is the RPC endpoint");
  std::lock_guard lock(upgrades_mutex_);
  if (upgrades_.count(path)) throw std::invalid_argument("upgrade path " + path + " is taken");
  upgrades_.emplace(path, std::make_shared<const UpgradeHandler>(std::move(handler)));
}

std::shared_ptr<const UpgradeHandler> HttpServer::find_upgrade(std::string_view path) const {
  std::lock_guard lock(upgrades_mutex_);
  auto it = upgrades_.find(path);
  return it == upgrades_.end() ? nullptr : it->second;
}

std::vector<std::string> HttpServer::listening() const {
  std::vector<std::string> out;
  for (const auto& l : listeners_) out.push_back(l->name());
  return out;
}

}  // namespace mnigs
