// SessionManager's half about money: vouchers (created, listed, revoked,
// redeemed), what each session may do because of them (its MeterPolicy),
// and the GatewayPayments calls of payment plugins.
#include "gateway/sessions.hpp"

#include "store/sqlite.hpp"
#include "util/net.hpp"
#include "util/text.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace mnigs {

namespace {

constexpr std::size_t kMaxVouchers = 100'000;
constexpr std::int64_t kMaxListed = 10'000;

bool same(const std::string& a, const std::string& b) {
  auto x = parse_address(a), y = parse_address(b);
  return x && y && unmap(*x) == unmap(*y);
}

}  // namespace

std::vector<Voucher> load_vouchers(sqlite3* db, std::vector<std::string>* bad) {
  std::vector<Voucher> out;
  Statement st(db,
               "SELECT id, code, minutes, bytes, rate_down, rate_up, devices, valid_until, note, "
               "created, first_used, used_bytes, revoked FROM vouchers ORDER BY id");
  while (st.step()) {
    Voucher v;
    v.id = st.column_int64(0);
    v.code = st.column_text(1);
    v.terms.minutes = st.column_int64(2);
    v.terms.bytes = st.column_int64(3);
    v.terms.rate_down = st.column_int64(4);
    v.terms.rate_up = st.column_int64(5);
    v.terms.devices = st.column_int64(6);
    v.terms.valid_until = st.column_int64(7);
    v.terms.note = st.column_text(8);
    v.created = st.column_int64(9);
    v.first_used = st.column_int64(10);
    v.used_bytes = st.column_int64(11);
    v.revoked = st.column_int64(12) != 0;
    auto code = normalize_voucher_code(v.code, nullptr);
    const bool sane = code && *code == v.code && v.terms.minutes >= 0 && v.terms.bytes >= 0 &&
                      v.terms.rate_down >= 0 && v.terms.rate_up >= 0 && v.terms.devices >= 1 &&
                      v.terms.valid_until >= 0 && v.first_used >= 0 && v.used_bytes >= 0;
    if (!sane) {
      // Left where it is for the operator to look at, and never honoured.
      if (bad)
        bad->push_back("voucher row " + std::to_string(v.id) +
                       " in the database is damaged; it is not used (fix or delete the row)");
      continue;
    }
    out.push_back(std::move(v));
  }
  return out;
}

MeterPolicy SessionManager::policy_of(const GatewaySession& s, std::int64_t now,
                                      std::vector<MeterAccount>* accounts) const {
  MeterPolicy p;
  std::vector<const Voucher*> live, out_of_bytes;
  for (auto id : s.vouchers) {
    auto it = vouchers_.find(id);
    if (it == vouchers_.end()) continue;
    const Voucher& v = it->second;
    if (v.spent(now).empty()) {
      live.push_back(&v);
    } else if (!v.revoked && v.out_of_bytes() && !(v.ends() && now >= v.ends())) {
      out_of_bytes.push_back(&v);
    }
  }
  // kbit/s to bytes/s.
  const std::int64_t throttle = config_.get()->get_int("gateway", "throttleKbit") * 1000 / 8;
  auto draw_on = [&](const std::vector<const Voucher*>& list) {
    for (const Voucher* v : list) {
      p.accounts.push_back(v->id);
      if (accounts) accounts->push_back({v->id, v->terms.bytes, v->used_bytes});
    }
  };
  if (live.empty()) {
    if (!s.charged) return p;  // a free session whose vouchers lapsed is free again
    if (throttle > 0 && !out_of_bytes.empty()) {
      // Spent, but the operator throttles rather than cuts off.
      draw_on(out_of_bytes);
      p.throttle = throttle;
      return p;
    }
    p.paid = false;
    p.portal_port = s.portal_port;
    return p;
  }
  const bool unlimited =
      std::any_of(live.begin(), live.end(), [](const Voucher* v) { return v->terms.bytes == 0; });
  if (!unlimited) draw_on(live);
  // The voucher redeemed last sets the rates.
  p.rate_down = live.back()->terms.rate_down / 8;
  p.rate_up = live.back()->terms.rate_up / 8;
  p.throttle = throttle;
  return p;
}

void SessionManager::apply_policies(std::function<void()> done) {
  // One count for each change sent to the meter, and one for this call.
  auto pending = std::make_shared<std::size_t>(1);
  // Counted on the manager's strand only.
  auto one_done = [this, pending, done] {
    if (--*pending == 0 && done) boost::asio::post(strand_, done);
  };
  if (stopped_ || !ready_) return one_done();
  const std::int64_t now = clock_();
  std::int64_t next = 0;
  for (auto& [id, s] : sessions_) {
    std::vector<MeterAccount> accounts;
    MeterPolicy p = policy_of(s, now, &accounts);
    if (!(p == s.applied)) {
      log_.info("session ", id, (p.paid ? " may use the uplink" : " waits for payment"),
                p.accounts.empty() ? "" : ", on its vouchers' quotas");
      s.applied = p;
      if (meter_) {
        ++*pending;
        meter_->update(id, p, std::move(accounts), [this, one_done](const std::string&) {
          boost::asio::post(strand_, one_done);
        });
      }
    }
    for (auto vid : s.vouchers) {
      auto it = vouchers_.find(vid);
      if (it == vouchers_.end() || !it->second.spent(now).empty()) continue;
      if (const std::int64_t end = it->second.ends(); end > now && (!next || end < next))
        next = end;
    }
  }
  policy_timer_.cancel();
  one_done();
  if (!next) return;
  policy_timer_.expires_after(std::chrono::seconds(next - now));
  policy_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) apply_policies();
  });
}

void SessionManager::policies_changed() {
  boost::asio::post(strand_, [this] { apply_policies(); });
}

void SessionManager::payments_changed() {
  boost::asio::post(strand_, [this] {
    if (stopped_ || !ready_) return;
    const auto offered = config_.get()->get_list("gateway", "payments");
    // A session keeps the terms it was granted under only while they are
    // offered: one whose page closed could never be paid, one that became
    // charged was granted free.
    std::vector<GatewaySession> ended;
    for (const auto& [id, s] : sessions_)
      if (std::find(offered.begin(), offered.end(), suite_part(s.suite, 2)) == offered.end())
        ended.push_back(s);
    for (const auto& s : ended) {
      sessions_.erase(s.id);
      end_session(s, "its payment method " + suite_part(s.suite, 2) + " is no longer offered");
    }
    if (!ended.empty()) schedule_expiry();
  });
}

PaymentState SessionManager::state_of(const GatewaySession& s, std::int64_t now) const {
  PaymentState st;
  st.session_id = s.id;
  st.gateway_address = s.gateway_address;
  st.paid = policy_of(s, now, nullptr).paid;
  std::vector<const Voucher*> live;
  for (auto id : s.vouchers)
    if (auto it = vouchers_.find(id); it != vouchers_.end() && it->second.spent(now).empty())
      live.push_back(&it->second);
  if (live.empty()) {
    st.seconds_remaining = st.bytes_remaining = s.charged ? 0 : -1;
    return st;
  }
  st.seconds_remaining = 0;
  st.bytes_remaining = 0;
  for (const Voucher* v : live) {
    const std::int64_t secs = v->seconds_left(now), bytes = v->bytes_left();
    st.seconds_remaining =
        (secs < 0 || st.seconds_remaining < 0) ? -1 : std::max(st.seconds_remaining, secs);
    st.bytes_remaining = (bytes < 0 || st.bytes_remaining < 0) ? -1 : st.bytes_remaining + bytes;
  }
  return st;
}

Json::Value SessionManager::payment_of(const GatewaySession& s, std::int64_t now) const {
  const PaymentState st = state_of(s, now);
  Json::Value p(Json::objectValue);
  p["required"] = s.charged && !st.paid;
  p["paid"] = st.paid;
  if (!s.portal.empty()) p["url"] = s.portal;
  p["secondsRemaining"] = static_cast<Json::Int64>(st.seconds_remaining);
  p["bytesRemaining"] = static_cast<Json::Int64>(st.bytes_remaining);
  p["vouchers"] = static_cast<Json::UInt64>(s.vouchers.size());
  return p;
}

GatewaySession* SessionManager::session_holding(const std::string& address) {
  for (auto& [id, s] : sessions_) {
    if (same(s.subscriber_address, address)) return &s;
    for (const char* key : {"address4", "address6"})
      if (s.tunnel[key].isString() && same(s.tunnel[key].asString(), address)) return &s;
  }
  return nullptr;
}

void SessionManager::persist_voucher(const Voucher& v) {
  store_.post([v](sqlite3* db) {
    Statement st(db,
                 "UPDATE vouchers SET first_used = ?, used_bytes = ?, revoked = ? WHERE id = ?");
    st.bind_int64(1, v.first_used).bind_int64(2, v.used_bytes).bind_int64(3, v.revoked ? 1 : 0);
    st.bind_int64(4, v.id);
    st.step();
  });
}

std::string SessionManager::redeem_for(GatewaySession& s, const std::string& typed,
                                       std::function<void()> applied) {
  const std::int64_t now = clock_();
  std::string why;
  auto refuse = [&](std::string text) {
    applied();
    return text;
  };
  auto code = normalize_voucher_code(typed, &why);
  if (!code) return refuse(why);
  auto found = voucher_codes_.find(*code);
  if (found == voucher_codes_.end()) return refuse("no such voucher on this gateway");
  Voucher& v = vouchers_.at(found->second);
  if (auto spent = v.spent(now); !spent.empty()) return refuse(spent);
  if (std::find(s.vouchers.begin(), s.vouchers.end(), v.id) != s.vouchers.end())
    return refuse("");
  std::int64_t holders = 0;
  for (const auto& [id, other] : sessions_)
    holders += std::count(other.vouchers.begin(), other.vouchers.end(), v.id) > 0;
  if (holders >= v.terms.devices)
    return refuse("this voucher is in use on " + std::to_string(holders) + " device" +
                  (holders == 1 ? "" : "s") + ", as many as it allows");
  if (!v.first_used) {
    // Time bought on top of time still running starts when that ends, so a
    // second hour adds an hour.
    std::int64_t start = now;
    if (v.terms.minutes > 0) {
      for (auto id : s.vouchers) {
        auto other = vouchers_.find(id);
        if (other == vouchers_.end() || !other->second.spent(now).empty()) continue;
        if (other->second.terms.minutes > 0 && other->second.first_used > 0)
          start = std::max(start, other->second.ends());
      }
    }
    v.first_used = start;
  }
  persist_voucher(v);
  s.vouchers.push_back(v.id);
  persist(s);
  log_.info("session ", s.id, " of ", s.subscriber_address, " redeemed voucher ", v.id);
  apply_policies(std::move(applied));
  return "";
}

void SessionManager::session_at(const std::string& address,
                                std::function<void(PaymentState)> done) {
  boost::asio::post(strand_, [this, address, done] {
    GatewaySession* s = ready_ ? session_holding(address) : nullptr;
    if (!s) {
      PaymentState none;
      none.error = "no session from " + address + ": connect to this gateway first";
      return done(none);
    }
    done(state_of(*s, clock_()));
  });
}

void SessionManager::redeem(const std::string& address, const std::string& session_id,
                            const std::string& code, std::function<void(PaymentState)> done) {
  boost::asio::post(strand_, [this, address, session_id, code, done] {
    GatewaySession* s = nullptr;
    if (ready_ && !stopped_) {
      if (!address.empty()) s = session_holding(address);
      else if (auto it = sessions_.find(session_id); it != sessions_.end()) s = &it->second;
    }
    if (!s) {
      PaymentState none;
      none.error = address.empty() ? "no session " + session_id + " here"
                                   : "no session from " + address + ": connect first";
      return done(none);
    }
    // Answered once the kernel has the change: a page that says "paid" must
    // not race the rule that lets the traffic through.
    const std::string id = s->id;
    auto error = std::make_shared<std::string>();
    *error = redeem_for(*s, code, [this, id, error, done] {
      boost::asio::post(strand_, [this, id, error, done] {
        auto it = sessions_.find(id);
        PaymentState st;
        if (it != sessions_.end()) st = state_of(it->second, clock_());
        st.error = it == sessions_.end() ? "the session ended" : *error;
        done(st);
      });
    });
  });
}

void SessionManager::create_vouchers(const Json::Value& params,
                                     std::function<void(std::string, Json::Value)> done) {
  boost::asio::post(strand_, [this, params, done] {
    if (!ready_ || stopped_) return done("the gateway is starting or stopping", Json::Value());
    const std::int64_t now = clock_();
    std::int64_t count = 1;
    std::string why;
    auto terms = parse_voucher_terms(params, now, &count, &why);
    if (!terms) return done(why, Json::Value());
    std::size_t usable = 0;
    for (const auto& [id, v] : vouchers_) usable += v.spent(now).empty();
    if (usable + static_cast<std::size_t>(count) > kMaxVouchers)
      return done("this gateway holds " + std::to_string(usable) +
                      " usable vouchers; at most " + std::to_string(kMaxVouchers) +
                      " may be: revoke some first",
                  Json::Value());
    std::vector<Voucher> fresh;
    std::set<std::string> taken;
    while (fresh.size() < static_cast<std::size_t>(count)) {
      Voucher v;
      v.code = new_voucher_code();
      if (voucher_codes_.count(v.code) || !taken.insert(v.code).second) continue;
      v.terms = *terms;
      v.created = now;
      fresh.push_back(std::move(v));
    }
    store_.query<std::vector<Voucher>>(
        [fresh](sqlite3* db) mutable {
          Transaction t(db);
          Statement st(db,
                       "INSERT INTO vouchers (code, minutes, bytes, rate_down, rate_up, devices, "
                       "valid_until, note, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
          for (auto& v : fresh) {
            st.reset();
            st.bind_text(1, v.code)
                .bind_int64(2, v.terms.minutes)
                .bind_int64(3, v.terms.bytes)
                .bind_int64(4, v.terms.rate_down)
                .bind_int64(5, v.terms.rate_up)
                .bind_int64(6, v.terms.devices)
                .bind_int64(7, v.terms.valid_until)
                .bind_text(8, v.terms.note)
                .bind_int64(9, v.created);
            st.step();
            v.id = sqlite3_last_insert_rowid(db);
          }
          t.commit();
          return fresh;
        },
        strand_,
        [this, done, now](std::vector<Voucher> made) {
          Json::Value list(Json::arrayValue);
          for (auto& v : made) {
            list.append(v.describe(now, true));
            voucher_codes_[v.code] = v.id;
            vouchers_[v.id] = std::move(v);
          }
          log_.info(made.size(), " voucher", made.size() == 1 ? "" : "s", " created");
          Json::Value r(Json::objectValue);
          r["vouchers"] = list;
          done("", r);
        },
        [done](std::string error) { done("the vouchers could not be stored: " + error, {}); });
  });
}

void SessionManager::create_vouchers(const Json::Value& params, Responder reply) {
  create_vouchers(params, [reply](std::string error, Json::Value r) {
    if (!error.empty()) return reply.error(rpc_error::invalid_params, error);
    reply.result(r);
  });
}

void SessionManager::list_vouchers(const Json::Value& params, Responder reply) {
  boost::asio::post(strand_, [this, params, reply] {
    if (!params.isNull() && !params.isObject())
      return reply.error(rpc_error::invalid_params,
                         "params must be an object: {\"state\", \"limit\"}");
    std::string state;
    if (params.isObject() && params.isMember("state")) {
      state = params["state"].isString() ? params["state"].asString() : "?";
      if (state != "new" && state != "in use" && state != "spent")
        return reply.error(rpc_error::invalid_params,
                           "state must be \"new\", \"in use\" or \"spent\"");
    }
    std::int64_t limit = 1000;
    if (params.isObject() && params.isMember("limit")) {
      if (!params["limit"].isInt64() || params["limit"].asInt64() < 1 ||
          params["limit"].asInt64() > kMaxListed)
        return reply.error(rpc_error::invalid_params, "limit must be 1.." +
                                                          std::to_string(kMaxListed));
      limit = params["limit"].asInt64();
    }
    const std::int64_t now = clock_();
    Json::Value list(Json::arrayValue);
    std::int64_t matched = 0;
    // Newest first.
    for (auto it = vouchers_.rbegin(); it != vouchers_.rend(); ++it) {
      Json::Value v = it->second.describe(now, true);
      if (!state.empty() && v["state"].asString() != state) continue;
      ++matched;
      if (static_cast<std::int64_t>(list.size()) < limit) list.append(v);
    }
    Json::Value r(Json::objectValue);
    r["vouchers"] = list;
    r["count"] = static_cast<Json::Int64>(matched);
    reply.result(r);
  });
}

void SessionManager::revoke_voucher(const Json::Value& params, Responder reply) {
  boost::asio::post(strand_, [this, params, reply] {
    if (!params.isObject() || !params["code"].isString())
      return reply.error(rpc_error::invalid_params, "revokeVoucher needs {\"code\": string}");
    std::string why;
    auto code = normalize_voucher_code(params["code"].asString(), &why);
    if (!code) return reply.error(rpc_error::invalid_params, why);
    auto found = voucher_codes_.find(*code);
    if (found == voucher_codes_.end())
      return reply.error(rpc_error::not_found, "no such voucher on this gateway");
    Voucher& v = vouchers_.at(found->second);
    if (!v.revoked) {
      v.revoked = true;
      persist_voucher(v);
      log_.info("voucher ", v.id, " revoked");
      apply_policies();
    }
    Json::Value r(Json::objectValue);
    r["revoked"] = true;
    r["voucher"] = v.describe(clock_(), true);
    reply.result(r);
  });
}

}  // namespace mnigs
