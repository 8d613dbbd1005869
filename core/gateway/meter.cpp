#include "gateway/meter.hpp"

#include "util/json_limits.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <memory>
#include <set>
#include <sstream>

namespace mnigs {

namespace {

constexpr const char* kTable = "inet mnigs_meter";
// Bytes a limit lets through at once: enough for a TCP window's burst at the
// rates routers shape to, so TCP is not pushed far below the rate.
constexpr std::int64_t kMinBurst = 16 * 1024;

std::string out_chain(const std::string& id) { return "o_" + id; }
std::string in_chain(const std::string& id) { return "i_" + id; }
std::string portal_chain(const std::string& id) { return "p_" + id; }
std::string quota_name(std::int64_t account) { return "q_" + std::to_string(account); }
std::string account_counter(std::int64_t account) { return "a_" + std::to_string(account); }

std::string limit_over(std::int64_t bytes_per_second) {
  // A tenth of a second's worth as the burst, at least kMinBurst.
  const std::int64_t burst = std::max(kMinBurst, bytes_per_second / 10);
  return "limit rate over " + std::to_string(bytes_per_second) + " bytes/second burst " +
         std::to_string(burst) + " bytes drop";
}

// The rules of one direction's chain.
std::vector<std::string> chain_rules(const MeteredSession& s, bool out) {
  const std::string counter = "counter name \"" + (out ? out_chain(s.id) : in_chain(s.id)) + "\"";
  const MeterPolicy& p = s.policy;
  std::vector<std::string> rules;
  if (!p.paid) {
    // Name lookups answer, so a browser gets as far as the payment page.
    rules.push_back(std::string("meta l4proto { tcp, udp } th ") + (out ? "dport" : "sport") +
                    " 53 " + counter + " return");
    if (out) rules.push_back("tcp dport 443 reject with tcp reset");
    rules.push_back("drop");
    return rules;
  }
  if (std::int64_t rate = out ? p.rate_up : p.rate_down; rate > 0)
    rules.push_back(limit_over(rate));
  if (p.accounts.empty()) {
    rules.push_back(counter);
    return rules;
  }
  for (std::int64_t a : p.accounts)
    rules.push_back("quota name \"" + quota_name(a) + "\" " + counter + " counter name \"" +
                    account_counter(a) + "\" return");
  if (p.throttle > 0) {
    rules.push_back(limit_over(p.throttle));
    rules.push_back(counter);
  } else {
    rules.push_back("drop");
  }
  return rules;
}

void write_chain_body(std::ostream& s, const MeteredSession& session, bool out) {
  for (const auto& rule : chain_rules(session, out))
    s << "add rule " << kTable << " " << (out ? out_chain(session.id) : in_chain(session.id))
      << " " << rule << "\n";
}

// The session's nat chain: while unpaid, HTTP to anywhere goes to the page.
void write_portal_body(std::ostream& s, const MeteredSession& session) {
  if (session.policy.paid || !session.policy.portal_port) return;
  s << "add rule " << kTable << " " << portal_chain(session.id) << " tcp dport 80 redirect to :"
    << session.policy.portal_port << "\n";
}

// "add element inet mnigs_meter out4 { 10.0.0.2 : jump o_ID }" for each
// address, or "delete element ..." (no verdict).
void write_elements(std::ostream& s, const MeteredSession& session, bool add) {
  for (const auto& a : session.addresses) {
    const char* family = a.is_v4() ? "4" : "6";
    const std::pair<const char*, std::string> maps[] = {{"out", out_chain(session.id)},
                                                        {"in", in_chain(session.id)},
                                                        {"portal", portal_chain(session.id)}};
    for (const auto& [map, chain] : maps) {
      s << (add ? "add" : "delete") << " element " << kTable << " " << map << family << " { "
        << a.to_string();
      if (add) s << " : jump " << chain;
      s << " }\n";
    }
  }
}

std::string account_object(const MeterAccount& a) {
  const std::int64_t limit = std::max<std::int64_t>(0, a.limit);
  // The kernel refuses a quota that has used more than its limit.
  const std::int64_t used = std::clamp<std::int64_t>(a.used, 0, limit);
  return "{ until " + std::to_string(limit) + " bytes used " + std::to_string(used) + " bytes }";
}

bool table_missing(const std::string& error) {
  return error.find("No such file or directory") != std::string::npos;
}

std::string sentence(const os::Command& c, const CommandOutcome& o) {
  std::string argv;
  for (const auto& a : c.argv) argv += (argv.empty() ? "" : " ") + a;
  std::string why = o.err.empty() ? o.out : o.err;
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  if (o.exit_code == -1) return "`" + argv + "` could not be run: " + why;
  if (o.timed_out) return "`" + argv + "` did not finish in time";
  return "`" + argv + "` failed (exit " + std::to_string(o.exit_code) + ")" +
         (why.empty() ? "" : ": " + why);
}

}  // namespace

std::string meter_add_script(const MeteredSession& s) {
  std::ostringstream out;
  for (const auto& c : {out_chain(s.id), in_chain(s.id)}) {
    out << "add counter " << kTable << " " << c << "\n";
    out << "add chain " << kTable << " " << c << "\n";
  }
  out << "add chain " << kTable << " " << portal_chain(s.id) << "\n";
  write_chain_body(out, s, true);
  write_chain_body(out, s, false);
  write_portal_body(out, s);
  write_elements(out, s, true);
  return out.str();
}

std::string meter_policy_script(const MeteredSession& s) {
  std::ostringstream out;
  out << "flush chain " << kTable << " " << out_chain(s.id) << "\n";
  out << "flush chain " << kTable << " " << in_chain(s.id) << "\n";
  out << "flush chain " << kTable << " " << portal_chain(s.id) << "\n";
  write_chain_body(out, s, true);
  write_chain_body(out, s, false);
  write_portal_body(out, s);
  return out.str();
}

std::string meter_remove_script(const MeteredSession& s) {
  std::ostringstream out;
  write_elements(out, s, false);
  for (const auto& c : {out_chain(s.id), in_chain(s.id)}) {
    out << "flush chain " << kTable << " " << c << "\n";
    out << "delete chain " << kTable << " " << c << "\n";
    out << "delete counter " << kTable << " " << c << "\n";
  }
  out << "flush chain " << kTable << " " << portal_chain(s.id) << "\n";
  out << "delete chain " << kTable << " " << portal_chain(s.id) << "\n";
  return out.str();
}

std::string meter_account_script(const MeterAccount& a, bool exists) {
  const std::string q = quota_name(a.id);
  if (exists) {
    // "add" on an existing quota takes the new limit and keeps what the
    // kernel counted.
    return "add quota " + std::string(kTable) + " " + q + " { until " +
           std::to_string(std::max<std::int64_t>(0, a.limit)) + " bytes }\n";
  }
  return "add quota " + std::string(kTable) + " " + q + " " + account_object(a) +
         "\nadd counter " + kTable + " " + account_counter(a.id) + "\n";
}

std::string meter_delete_account_script(std::int64_t id) {
  return "delete quota " + std::string(kTable) + " " + quota_name(id) + "\ndelete counter " +
         kTable + " " + account_counter(id) + "\n";
}

std::string meter_table_script(const std::vector<MeteredSession>& sessions,
                               const std::vector<MeterAccount>& accounts) {
  std::ostringstream s;
  // Declaring the table first makes the delete valid when it does not exist.
  s << "table " << kTable << "\n";
  s << "delete table " << kTable << "\n";
  s << "table " << kTable << " {\n";
  for (const char* map : {"out4", "in4", "portal4"})
    s << "  map " << map << " {\n    type ipv4_addr : verdict\n  }\n";
  for (const char* map : {"out6", "in6", "portal6"})
    s << "  map " << map << " {\n    type ipv6_addr : verdict\n  }\n";
  s << "  chain forward {\n";
  s << "    type filter hook forward priority filter + 10; policy accept;\n";
  s << "    ip saddr vmap @out4\n    ip daddr vmap @in4\n";
  s << "    ip6 saddr vmap @out6\n    ip6 daddr vmap @in6\n";
  s << "  }\n";
  s << "  chain prerouting {\n";
  s << "    type nat hook prerouting priority dstnat; policy accept;\n";
  s << "    ip saddr vmap @portal4\n    ip6 saddr vmap @portal6\n";
  s << "  }\n}\n";
  for (const auto& a : accounts) s << meter_account_script(a, false);
  for (const auto& session : sessions) s << meter_add_script(session);
  return s.str();
}

std::optional<MeterReading> parse_meter_reading(const std::string& json, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<MeterReading> {
    if (error) *error = why;
    return std::nullopt;
  };
  // nft's own output, but a table of many sessions is large: 1 MiB (what a
  // command's output is cut to) holds about 3500 sessions' counters.
  JsonLimits limits;
  limits.max_bytes = 1 << 20;
  limits.max_depth = 8;
  limits.max_values = 1 << 17;
  limits.what = "nft's output";
  std::string why;
  auto parsed = parse_json_within(json, limits, &why);
  if (!parsed) return fail(why);
  const Json::Value& doc = *parsed;
  if (!doc.isObject() || !doc["nftables"].isArray())
    return fail("nft's output has no \"nftables\" array");
  MeterReading r;
  for (const auto& item : doc["nftables"]) {
    if (!item.isObject() || !item.isMember("counter")) continue;
    const Json::Value& c = item["counter"];
    if (!c["name"].isString() || !c["bytes"].isInt64() || c["bytes"].asInt64() < 0)
      return fail("a counter in nft's output has no name or byte count");
    const std::string name = c["name"].asString();
    const std::int64_t bytes = c["bytes"].asInt64();
    if (name.size() < 3 || name[1] != '_') continue;
    const std::string rest = name.substr(2);
    if (name[0] == 'o' || name[0] == 'i') {
      Traffic& t = r.sessions[rest];
      (name[0] == 'o' ? t.out : t.in) += bytes;
    } else if (name[0] == 'a' && rest.find_first_not_of("0123456789") == std::string::npos &&
               rest.size() <= 18) {
      r.accounts[std::stoll(rest)] += bytes;
    }
  }
  return r;
}

Meter::Meter(boost::asio::io_context& io, Run run)
    : strand_(boost::asio::make_strand(io)), run_(std::move(run)) {}

void Meter::exec(std::string script, std::function<void(std::string)> done) {
  os::Command c;
  c.argv = {"nft", "-f", "-"};
  c.input = std::move(script);
  run_(c, [this, c, done](CommandOutcome o) {
    boost::asio::post(strand_, [c, o = std::move(o), done] {
      done(o.exit_code == 0 && !o.timed_out ? "" : sentence(c, o));
    });
  });
}

void Meter::set_error(const std::string& error) {
  if (!error.empty() && error != error_) log_.warn(error);
  error_ = error;
}

void Meter::start(ReadingDone done) {
  boost::asio::post(strand_, [this, done] {
    sessions_.clear();
    accounts_.clear();
    os::Command c;
    c.argv = {"nft", "-j", "reset", "counters", "table", "inet", "mnigs_meter"};
    run_(c, [this, c, done](CommandOutcome o) {
      boost::asio::post(strand_, [this, c, o = std::move(o), done] {
        MeterReading left;
        if (o.exit_code == 0 && !o.timed_out) {
          std::string error;
          if (auto r = parse_meter_reading(o.out, &error)) left = std::move(*r);
          else log_.warn("what the last run counted could not be read: ", error);
        } else if (!table_missing(o.err)) {
          log_.warn(sentence(c, o));
        }
        exec(meter_table_script({}, {}), [this, left, done](std::string error) {
          set_error(error.empty() ? "" : "cannot set up the meter: " + error);
          boost::asio::post(strand_, [done, left] { done(left); });
        });
      });
    });
  });
}

void Meter::stop(std::function<void()> done) {
  boost::asio::post(strand_, [this, done] {
    sessions_.clear();
    accounts_.clear();
    exec("table inet mnigs_meter\ndelete table inet mnigs_meter\n", [this, done](std::string e) {
      if (!e.empty()) log_.warn("removing the meter's table: ", e);
      done();
    });
  });
}

std::string Meter::accounts_script(const std::vector<MeterAccount>& accounts) {
  std::string script;
  for (const auto& a : accounts) {
    auto it = accounts_.find(a.id);
    script += meter_account_script(a, it != accounts_.end());
    if (it == accounts_.end()) accounts_[a.id] = a;
    else it->second.limit = a.limit;
  }
  return script;
}

std::string Meter::drop_unused_accounts() {
  std::set<std::int64_t> named;
  for (const auto& [id, s] : sessions_) named.insert(s.policy.accounts.begin(),
                                                     s.policy.accounts.end());
  std::string script;
  for (auto it = accounts_.begin(); it != accounts_.end();) {
    if (named.count(it->first)) {
      ++it;
      continue;
    }
    script += meter_delete_account_script(it->first);
    it = accounts_.erase(it);
  }
  return script;
}

void Meter::add(MeteredSession s, std::vector<MeterAccount> accounts) {
  boost::asio::post(strand_, [this, s = std::move(s), accounts = std::move(accounts)] {
    std::string script;
    if (auto old = sessions_.find(s.id); old != sessions_.end()) {
      script += meter_remove_script(old->second);
      sessions_.erase(old);
    }
    script += accounts_script(accounts);
    script += meter_add_script(s);
    sessions_[s.id] = s;
    exec(script, [this, id = s.id](std::string error) {
      if (table_missing(error)) return rebuild([] {});
      set_error(error.empty() ? "" : "cannot meter session " + id + ": " + error);
    });
  });
}

void Meter::update(const std::string& id, MeterPolicy policy, std::vector<MeterAccount> accounts,
                   std::function<void()> done) {
  boost::asio::post(strand_, [this, id, policy = std::move(policy),
                              accounts = std::move(accounts), done] {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) {
      if (done) done();
      return;
    }
    std::string script = accounts_script(accounts);
    it->second.policy = policy;
    script += meter_policy_script(it->second);
    script += drop_unused_accounts();
    exec(script, [this, id, done](std::string error) {
      if (table_missing(error)) return rebuild(done ? done : [] {});
      set_error(error.empty() ? "" : "cannot change session " + id + "'s limits: " + error);
      if (done) done();
    });
  });
}

void Meter::remove(const std::string& id, ReadingDone done) {
  boost::asio::post(strand_, [this, id, done] {
    // Both commands are queued now, so whatever comes next (a new session
    // on the same address) runs after the removal.
    submit_read(done);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    std::string script = meter_remove_script(it->second);
    sessions_.erase(it);
    script += drop_unused_accounts();
    exec(script, [this, id](std::string error) {
      if (!error.empty() && !table_missing(error))
        set_error("cannot stop metering session " + id + ": " + error);
    });
  });
}

void Meter::read(ReadingDone done) {
  boost::asio::post(strand_, [this, done] { submit_read(done); });
}

void Meter::submit_read(ReadingDone done) {
  {
    os::Command c;
    c.argv = {"nft", "-j", "reset", "counters", "table", "inet", "mnigs_meter"};
    run_(c, [this, c, done](CommandOutcome o) {
      boost::asio::post(strand_, [this, c, o = std::move(o), done] {
        if (o.exit_code != 0 || o.timed_out) {
          if (table_missing(o.err)) {
            rebuild([done] { done(MeterReading{}); });
            return;
          }
          set_error("cannot read the meter: " + sentence(c, o));
          return done(MeterReading{});
        }
        std::string error;
        auto r = parse_meter_reading(o.out, &error);
        if (!r) {
          set_error("cannot read the meter: " + error);
          return done(MeterReading{});
        }
        for (const auto& [id, bytes] : r->accounts)
          if (auto it = accounts_.find(id); it != accounts_.end()) it->second.used += bytes;
        done(std::move(*r));
      });
    });
  }
}

void Meter::rebuild(std::function<void()> done) {
  ++rebuilt_;
  log_.warn("table inet mnigs_meter was removed (nft flush ruleset?); rebuilt with ",
            sessions_.size(), " sessions: what went through since the last reading is not "
            "counted, every quota keeps what was counted before");
  std::vector<MeteredSession> sessions;
  for (const auto& [id, s] : sessions_) sessions.push_back(s);
  std::vector<MeterAccount> accounts;
  for (const auto& [id, a] : accounts_) accounts.push_back(a);
  exec(meter_table_script(sessions, accounts), [this, done](std::string error) {
    set_error(error.empty() ? "" : "cannot rebuild the meter: " + error);
    done();
  });
}

void Meter::status(std::function<void(Json::Value)> done) {
  boost::asio::post(strand_, [this, done] {
    Json::Value v(Json::objectValue);
    v["sessions"] = static_cast<Json::UInt64>(sessions_.size());
    v["accounts"] = static_cast<Json::UInt64>(accounts_.size());
    v["rebuilt"] = static_cast<Json::Int64>(rebuilt_);
    if (!error_.empty()) v["error"] = error_;
    done(v);
  });
}

}  // namespace mnigs
