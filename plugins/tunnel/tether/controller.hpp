// What the laptop does with a paired page: the session with the gateway,
// asked for and renewed through the page (the laptop has no route of its
// own to the gateway), the tunnel brought up when the page opens its link
// to the gateway and torn down when the page goes away. Kept apart from
// sockets and commands (Effects), so its rules are tested on their own.
//
// The page and the laptop speak JSON text messages over the local
// WebSocket, beside the packets (binary messages, relayed untouched):
//   laptop -> page
//     {"type":"hello","gateway":G}          G: "" when the page must ask its user
//     {"type":"call","id":N,"url":U,"body":B}  POST B (a JSON-RPC call) to U
//     {"type":"open","url":U,"protocols":[..]} open the gateway's tunnel
//     {"type":"close"}                      close it
//     {"type":"state","state":S,"detail":D,"session":{..}}  for its user
//   page -> laptop
//     {"type":"gateway","address":A}        what its user typed (or remembered)
//     {"type":"answer","id":N,"response":R} the JSON-RPC response, or
//     {"type":"answer","id":N,"error":E}    why there is none (fetch failed)
//     {"type":"link","open":true}           the tunnel to the gateway is open
//     {"type":"link","open":false,"reason":E}
// Everything the page sends, and the gateway's answers it carries, is
// checked before use; a message that is not one of these is counted and
// dropped.
//
// Threading: the plugin's strand; Effects are called there.
#pragma once

#include <json/value.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mnigs::tether {

// A session the gateway granted, as the laptop keeps it (and stores it, so
// a restart of mnigsd finds it again).
struct Session {
  std::string gateway;  // ADDRESS:PORT of its RPC port
  std::string id, secret;
  std::int64_t expires = 0;  // Unix time
  Json::Value tunnel;        // the websocket tunnel's parameters, checked
  Json::Value to_json() const;
  static std::optional<Session> from_json(const Json::Value& v);
};

class Effects {
 public:
  virtual ~Effects() = default;
  virtual void send_to_page(const std::string& text) = 0;
  // The tun device with the session's addresses, and the default route
  // into it (subscriber.routing); `via` is the page's address, which must
  // stay outside. done("") when up.
  virtual void bring_up(const Session& session, const std::string& via,
                        std::function<void(std::string error)> done) = 0;
  // Routes and device gone; then done().
  virtual void tear_down(std::function<void()> done) = 0;
  // Keeps the session (null: forgets it) and the gateway a page named.
  virtual void save_session(const Json::Value& session) = 0;
  virtual void save_gateway(const std::string& gateway) = 0;
  virtual std::int64_t unix_now() const = 0;
};

// Checks a requestConnection or renewConnection result's tunnel part (the
// websocket suite's): "" when usable, else what is wrong.
std::string tunnel_refusal(const Json::Value& tunnel);

// The websocket suite to ask for, of those a gateway offers: the first
// whose tunnel is websocket and payment free, else "" (and `why`).
std::string choose_suite(const Json::Value& suites, std::string* why);

class Controller {
 public:
  static constexpr std::size_t max_text = 64 * 1024;  // a longer message is dropped
  static constexpr std::chrono::seconds call_timeout{20};

  Controller(boost::asio::any_io_executor strand, Effects& effects);
  ~Controller();

  // tether.gateway ("" when the page is to ask); a change applies to the
  // next session.
  void set_configured_gateway(std::string gateway) { configured_ = std::move(gateway); }
  // What the store held at start: the session and the gateway a page named.
  void restore(std::optional<Session> session, std::string remembered_gateway);

  // A paired page is attached from `address` (replacing any other).
  void page_attached(const std::string& address);
  void page_text(std::string_view text);
  // The page is gone (closed, reloaded, silent): the tunnel goes down; the
  // session is kept for when a page comes back. `torn_down`, when given,
  // runs once the device and routes are gone (at once if they were).
  void page_detached(const std::string& reason, std::function<void()> torn_down = {});
  // Tethering is turned off: the session is released through the page
  // when one is attached, then everything goes. done() once down.
  void shut_down(std::function<void()> done);

  Json::Value status() const;
  bool page() const { return !page_address_.empty(); }

 private:
  using Answer = std::function<void(std::string error, const Json::Value& result)>;
  void call(const std::string& method, Json::Value params, Answer answer);
  void on_answer(const Json::Value& message);
  void on_link(const Json::Value& message);
  void begin();
  void request(const std::string& gateway);
  void renew();
  void granted(Session session);
  void open_link();
  // After a third of what is left of the session, or after `soon`.
  void schedule_renewal(std::optional<std::chrono::seconds> soon = std::nullopt);
  void set_state(std::string state, std::string detail = "");
  void fail(const std::string& why);
  void send(const Json::Value& message);
  std::string gateway() const;

  boost::asio::any_io_executor strand_;
  Effects& effects_;
  std::string configured_, remembered_;
  std::optional<Session> session_;
  std::string page_address_;  // "" when no page is attached
  std::uint64_t page_generation_ = 0;
  bool up_ = false;  // the tunnel device and routes are up
  bool bringing_up_ = false;
  bool link_open_ = false;  // the page's link to the gateway
  std::string state_ = "waiting for the page", detail_;
  std::uint64_t next_id_ = 1;
  struct Pending {
    Answer answer;
    std::shared_ptr<boost::asio::steady_timer> deadline;
  };
  std::map<std::uint64_t, Pending> pending_;
  boost::asio::steady_timer renew_timer_, reopen_timer_, retry_timer_;
  std::chrono::seconds reopen_backoff_{1};
  std::chrono::seconds retry_backoff_{5};  // after a failure, until begin() runs again
  std::uint64_t dropped_ = 0;              // messages from the page refused
  std::uint64_t sessions_ = 0, renewals_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace mnigs::tether
