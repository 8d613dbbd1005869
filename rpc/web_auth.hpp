// Logins to the web UI from outside daemon.authorizedNetworks. The password
// (mnigs-cli --set-password, auth/password.hpp) or the admin token buys a
// session: a random id in an HttpOnly, SameSite=Strict cookie, bound to the
// exact address it logged in from, that ends after daemon.webuiLoginIdle without
// use or daemon.webuiLoginMax in all, when the password changes, and when
// mnigsd stops. Admin calls with the cookie must also carry the session's
// CSRF token in the X-Mnigs-CSRF header, which only the web UI's own pages
// can read (GET /session) and send.
//
// Guessing is limited: per source address 5 wrong tries are free, then
// each waits twice as long as the one before, from 1 s up to 5 min (wrong
// tries are forgotten a day later); one password check at a time per
// source; all sources together get 30 wrong passwords a minute; at most 4
// password checks (deliberately slow hashing) wait or run at a time. The
// right admin token always logs in: it cannot be guessed, so the owner
// cannot be locked out by others' guessing.
#pragma once

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <mnigs/log.hpp>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "config/config.hpp"

namespace mnigs {

class WebAuth {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  using TokenCheck = std::function<bool(std::string_view token)>;

  static constexpr unsigned kFreeFailures = 5;
  static constexpr std::chrono::seconds kMaxLock{300};
  static constexpr unsigned kFailuresPerMinute = 30;
  static constexpr std::size_t kMaxPending = 4;
  static constexpr std::size_t kMaxSessions = 16;
  static constexpr std::size_t kMaxSources = 4096;
  // Wrong tries older than this, with no wait running, are forgotten.
  static constexpr std::chrono::hours kForgetAfter{24};
  static constexpr const char* kCookie = "mnigs_session";
  static constexpr const char* kCsrfHeader = "X-Mnigs-CSRF";

  // `password_file`: "<dataDir>/webui.password". `clock`: steady_clock::now
  // when empty.
  WebAuth(const ConfigHolder& config, std::string password_file, TokenCheck is_admin_token,
          Logger& log, Clock clock = {});
  ~WebAuth();  // waits for password checks still running
  WebAuth(const WebAuth&) = delete;
  WebAuth& operator=(const WebAuth&) = delete;

  enum class Via { password, token };
  struct Outcome {
    int status = 200;                     // 200; 401 wrong; 409 no password set; 429; 500; 503 busy
    std::string error;                    // for the user, when not 200
    std::chrono::seconds retry_after{0};  // 429 and 503
    std::string id, csrf;                 // 200
    std::chrono::seconds max_age{0};      // 200: the cookie's lifetime
  };
  // Checks `secret` from `source` (see source_key) and, when right, opens a
  // session. `done` runs once, on this thread or on the hashing thread.
  void login(const std::string& source, Via via, std::string secret,
             std::function<void(Outcome)> done);

  enum class State {
    none,     // no session cookie
    valid,    // a live session, and the CSRF token (when asked for) matches
    expired,  // the cookie names no live session of this source
    csrf,     // a live session, but the CSRF token is missing or wrong
  };
  struct Check {
    State state = State::none;
    Via via = Via::password;
    std::string csrf;                    // valid, csrf: the session's token
    std::chrono::seconds expires_in{0};  // valid, csrf: until the idle limit
  };
  // The session named by the cookie value `id` ("" when there was none) for
  // a call from `source`. With `require_csrf`, `csrf` must be its token.
  // A valid check counts as use (the idle limit starts again).
  Check check(std::string_view id, std::string_view csrf, const std::string& source,
              bool require_csrf = true);
  // Ends the session named by `id`, if any.
  void logout(std::string_view id);

  // Whether a password is set (the file exists and holds a hash).
  bool password_set() const;
  std::size_t sessions() const;

  struct Counters {
    std::atomic<std::uint64_t> logins{0}, failures{0}, refused{0};
  };
  const Counters& counters() const { return counters_; }

  // The value of cookie `name` in a Cookie header; "" when absent.
  static std::string_view cookie_value(std::string_view header, std::string_view name);

  // A POST /login body: {"password": "..."} or {"token": "..."}, exactly
  // one string, the whole body at most kMaxLoginBytes. Nullopt when it is
  // not one.
  static constexpr std::size_t kMaxLoginBytes = 1024;
  struct Credential {
    Via via;
    std::string secret;
  };
  static std::optional<Credential> parse_login(std::string_view body);

 private:
  struct Stamp {
    bool exists = false;
    std::uint64_t inode = 0, size = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const Stamp&) const = default;
  };
  struct Session {
    std::string source, csrf;
    Via via = Via::password;
    Stamp stamp;  // of the password file at login (Via::password)
    std::chrono::steady_clock::time_point created, used;
  };
  struct Source {
    unsigned failures = 0;
    std::chrono::steady_clock::time_point last_failure, locked_until;
  };

  Stamp stamp() const;
  // With mutex_ held: whether `source` may not try now (then status 429 and
  // why in `out`); `everyone`: the limit for all sources together applies.
  bool refuse_locked(const std::string& source, Outcome& out, bool everyone);
  // With mutex_ held; `everyone`: counts for all sources together too.
  void record_failure(const std::string& source, bool everyone);
  Outcome open_session(const std::string& source, Via via, const Stamp& stamp);
  std::chrono::seconds idle_limit() const;
  std::chrono::seconds max_limit() const;

  const ConfigHolder& config_;
  const std::string password_file_;
  TokenCheck is_admin_token_;
  Logger& log_;
  Clock clock_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Session> sessions_;
  std::unordered_map<std::string, Source> sources_;
  std::deque<std::chrono::steady_clock::time_point> recent_failures_;  // last minute
  std::size_t pending_ = 0;                   // password checks waiting or running
  std::unordered_set<std::string> checking_;  // sources with one waiting or running
  Counters counters_;
  boost::asio::thread_pool hashing_{1};
};

}  // namespace mnigs
