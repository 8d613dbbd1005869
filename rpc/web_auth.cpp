#include "rpc/web_auth.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/post.hpp>

#include "auth/password.hpp"
#include "util/token.hpp"

namespace mnigs {

using std::chrono::seconds;
using std::chrono::steady_clock;

namespace {

seconds ceil_seconds(steady_clock::duration d) {
  return std::max(seconds(1), std::chrono::ceil<seconds>(d));
}

}  // namespace

WebAuth::WebAuth(const ConfigHolder& config, std::string password_file, TokenCheck is_admin_token,
                 Logger& log, Clock clock)
    : config_(config),
      password_file_(std::move(password_file)),
      is_admin_token_(std::move(is_admin_token)),
      log_(log),
      clock_(clock ? std::move(clock) : Clock([] { return steady_clock::now(); })) {}

WebAuth::~WebAuth() { hashing_.join(); }

seconds WebAuth::idle_limit() const {
  return seconds(config_.get()->get_int("daemon", "webuiLoginIdle"));
}
seconds WebAuth::max_limit() const {
  return seconds(config_.get()->get_int("daemon", "webuiLoginMax"));
}

WebAuth::Stamp WebAuth::stamp() const {
  struct stat st {};
  Stamp s;
  if (::stat(password_file_.c_str(), &st) != 0) return s;
  s.exists = true;
  s.inode = st.st_ino;
  s.size = static_cast<std::uint64_t>(st.st_size);
  s.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return s;
}

bool WebAuth::password_set() const {
  try {
    return read_password_hash(password_file_).has_value();
  } catch (const std::exception&) {
    return false;
  }
}

std::size_t WebAuth::sessions() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

bool WebAuth::refuse_locked(const std::string& source, Outcome& out, bool everyone) {
  const auto now = clock_();
  while (!recent_failures_.empty() && now - recent_failures_.front() >= std::chrono::minutes(1))
    recent_failures_.pop_front();
  if (auto it = sources_.find(source); it != sources_.end()) {
    if (it->second.locked_until > now) {
      out.status = 429;
      out.retry_after = ceil_seconds(it->second.locked_until - now);
      out.error = "too many wrong logins from " + source + "; try again in " +
                  std::to_string(out.retry_after.count()) + " s";
      return true;
    }
    // Old mistakes are forgiven: a typo a month later starts afresh.
    if (now - it->second.last_failure >= kForgetAfter) sources_.erase(it);
  }
  if (everyone && recent_failures_.size() >= kFailuresPerMinute) {
    out.status = 429;
    out.retry_after = ceil_seconds(recent_failures_.front() + std::chrono::minutes(1) - now);
    out.error = "too many wrong logins from everywhere; try again in " +
                std::to_string(out.retry_after.count()) + " s (the admin token still logs in)";
    return true;
  }
  return false;
}

void WebAuth::record_failure(const std::string& source, bool everyone) {
  const auto now = clock_();
  ++counters_.failures;
  if (everyone) recent_failures_.push_back(now);
  if (sources_.size() >= kMaxSources && !sources_.count(source)) {
    // Full: forget the sources not locked now. Whoever is forgotten gets
    // 5 free tries again, within the limit for all sources together.
    std::erase_if(sources_, [&](const auto& s) { return s.second.locked_until <= now; });
    if (sources_.size() >= kMaxSources) sources_.clear();
  }
  Source& s = sources_[source];
  ++s.failures;
  s.last_failure = now;
  if (s.failures >= kFreeFailures) {
    const unsigned doublings = std::min(s.failures - kFreeFailures, 16u);
    const seconds lock = std::min(kMaxLock, seconds(std::int64_t{1} << doublings));
    s.locked_until = now + lock;
    log_.warn("web UI: ", s.failures, " wrong logins from ", source, "; the next waits ",
              lock.count(), " s");
  } else {
    log_.info("web UI: wrong login from ", source);
  }
}

WebAuth::Outcome WebAuth::open_session(const std::string& source, Via via, const Stamp& stamp) {
  Outcome out;
  out.id = random_hex(32);
  out.csrf = random_hex(32);
  out.max_age = max_limit();
  const auto now = clock_();
  std::lock_guard lock(mutex_);
  sources_.erase(source);
  // Ended sessions first, then the one unused longest, make room.
  const seconds idle = idle_limit(), most = max_limit();
  std::erase_if(sessions_, [&](const auto& s) {
    return now - s.second.used >= idle || now - s.second.created >= most;
  });
  if (sessions_.size() >= kMaxSessions) {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(),
                                   [](auto& a, auto& b) { return a.second.used < b.second.used; });
    sessions_.erase(oldest);
  }
  sessions_[out.id] = Session{source, out.csrf, via, stamp, now, now};
  ++counters_.logins;
  log_.info("web UI: login from ", source, " with the ",
            via == Via::password ? "password" : "admin token");
  return out;
}

void WebAuth::login(const std::string& source, Via via, std::string secret,
                    std::function<void(Outcome)> done) {
  // The admin token is 256 random bits: no one guesses it, so the right one
  // always logs in, whatever others did meanwhile; a wrong one counts
  // against its own source only.
  if (via == Via::token) {
    Outcome out;
    if (is_admin_token_(secret)) return done(open_session(source, via, Stamp{}));
    {
      std::lock_guard lock(mutex_);
      if (refuse_locked(source, out, false)) {
        ++counters_.refused;
      } else {
        record_failure(source, false);
        out.status = 401;
        out.error = "wrong admin token";
      }
    }
    return done(std::move(out));
  }

  Outcome out;
  bool refused = false;
  {
    std::lock_guard lock(mutex_);
    if (refuse_locked(source, out, true)) {
      refused = true;
    } else if (checking_.count(source)) {
      // One password check at a time per source: guesses sent together
      // would otherwise all be tried before the first failure counts.
      refused = true;
      out.status = 429;
      out.retry_after = seconds(1);
      out.error = "a login from " + source + " is being checked; try again in a second";
    } else if (pending_ >= kMaxPending) {
      refused = true;
      out.status = 503;
      out.retry_after = seconds(1);
      out.error = "other logins are being checked; try again in a second";
    } else {
      ++pending_;
      checking_.insert(source);
    }
    if (refused) ++counters_.refused;
  }
  if (refused) return done(std::move(out));

  // The password: read and checked on the hashing thread, which may take a
  // good part of a second on a router.
  boost::asio::post(
      hashing_, [this, source, secret = std::move(secret), done = std::move(done)]() mutable {
        Outcome result;
        try {
          const Stamp before = stamp();
          std::optional<std::string> hash;
          std::string problem;
          try {
            hash = read_password_hash(password_file_);
          } catch (const std::exception& e) {
            problem = e.what();
          }
          std::optional<bool> right;
          if (hash) right = verify_password(secret, *hash);
          std::fill(secret.begin(), secret.end(), '\0');
          if (!problem.empty()) {
            log_.error("web UI: ", problem);
            result.status = 500;
            result.error = "the password file cannot be used: " + problem;
          } else if (!hash) {
            result.status = 409;
            result.error =
                "no password is set: set one with mnigs-cli --set-password on this node, or log in "
                "with the admin token (the file admin.token in daemon.dataDir)";
          } else if (!right) {
            // crypt() could not compute (out of memory, a method this C library
            // lacks): not a wrong password, and not counted as one.
            log_.error("web UI: the C library cannot check the password hash in ", password_file_);
            result.status = 500;
            result.error = "this node cannot check its password hash now; see its log";
          } else if (!*right) {
            std::lock_guard lock(mutex_);
            record_failure(source, true);
            result.status = 401;
            result.error = "wrong password";
          } else {
            result = open_session(source, Via::password, before);
          }
        } catch (const std::exception& e) {
          result = Outcome{};
          result.status = 500;
          result.error = std::string("the login failed: ") + e.what();
        }
        {
          std::lock_guard lock(mutex_);
          --pending_;
          checking_.erase(source);
        }
        done(std::move(result));
      });
}

WebAuth::Check WebAuth::check(std::string_view id, std::string_view csrf, const std::string& source,
                              bool require_csrf) {
  Check out;
  if (id.empty()) return out;
  const Stamp now_stamp = stamp();
  const auto now = clock_();
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(std::string(id));
  out.state = State::expired;
  if (it == sessions_.end()) return out;
  Session& s = it->second;
  // Another address holding the cookie gets nothing, and cannot end it.
  if (s.source != source) return out;
  if (now - s.used >= idle_limit() || now - s.created >= max_limit() ||
      (s.via == Via::password && !(s.stamp == now_stamp))) {
    sessions_.erase(it);
    return out;
  }
  out.via = s.via;
  out.csrf = s.csrf;
  if (require_csrf && !constant_time_equal(csrf, s.csrf)) {
    out.state = State::csrf;
  } else {
    out.state = State::valid;
    s.used = now;
  }
  const auto left = std::min(idle_limit() - (now - s.used), max_limit() - (now - s.created));
  out.expires_in = std::chrono::floor<seconds>(left);
  return out;
}

void WebAuth::logout(std::string_view id) {
  std::lock_guard lock(mutex_);
  sessions_.erase(std::string(id));
}

}  // namespace mnigs
