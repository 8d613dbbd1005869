#include "gateway/meter.hpp"

#include "util/json_limits.hpp"

#include <cctype>
#include <string_view>

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
// What a reading's output may be: about 200 bytes a session.
constexpr std::size_t kMaxReading = 64 << 20;

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
    // Name lookups answer, so a browser gets as far as the payment page:
    // UDP only, datagrams of a lookup's size, at a lookup's pace (a tunnel
    // over port 53 gets nowhere).
    rules.push_back(std::string("udp ") + (out ? "dport" : "sport") +
                    " 53 meta length <= 1280 limit rate 10/second burst 20 packets " + counter +
                    " return");
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

// What nft says when something a command names is not there (the table,
// after nft flush ruleset, or one of its objects).
bool missing(const std::string& error) {
  return error.find("No such file or directory") != std::string::npos;
}

}  // namespace

bool valid_interface_name(const std::string& name) {
  if (name.empty() || name.size() > 15) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.' &&
        c != '@' && c != ':')
      return false;
  return true;
}

std::string meter_hooks_script(const std::vector<std::string>& uplinks) {
  // Through the uplinks only: what a session sends to, or gets from, other
  // mesh nodes through the gateway is not Internet use. No uplink known: all
  // that is forwarded.
  std::string out_if, in_if, route_if;
  if (!uplinks.empty()) {
    std::string names;
    for (const auto& u : uplinks) names += (names.empty() ? "\"" : ", \"") + u + "\"";
    out_if = "oifname { " + names + " } ";
    in_if = "iifname { " + names + " } ";
    route_if = "fib daddr oifname { " + names + " } ";
  }
  std::ostringstream s;
  s << "flush chain " << kTable << " forward\n";
  s << "add rule " << kTable << " forward " << out_if << "ip saddr vmap @out4\n";
  s << "add rule " << kTable << " forward " << in_if << "ip daddr vmap @in4\n";
  s << "add rule " << kTable << " forward " << out_if << "ip6 saddr vmap @out6\n";
  s << "add rule " << kTable << " forward " << in_if << "ip6 daddr vmap @in6\n";
  s << "flush chain " << kTable << " prerouting\n";
  s << "add rule " << kTable << " prerouting " << route_if << "ip saddr vmap @portal4\n";
  s << "add rule " << kTable << " prerouting " << route_if << "ip6 saddr vmap @portal6\n";
  return s.str();
}

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
                               const std::vector<MeterAccount>& accounts,
                               const std::vector<std::string>& uplinks) {
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
  s << "  }\n";
  s << "  chain prerouting {\n";
  s << "    type nat hook prerouting priority dstnat; policy accept;\n";
  s << "  }\n}\n";
  s << meter_hooks_script(uplinks);
  for (const auto& a : accounts) s << meter_account_script(a, false);
  for (const auto& session : sessions) s << meter_add_script(session);
  return s.str();
}

std::optional<MeterReading> parse_meter_reading(const std::string& text, std::string* error) {
  // nft's listing, one counter at a time:
  //   counter o_ID {
  //           packets 12 bytes 812
  //   }
  // Read line by line: a reading of 100000 sessions is about 20 MB of text,
  // which a JSON tree would take ten times over.
  auto fail = [&](const std::string& why) -> std::optional<MeterReading> {
    if (error) *error = why;
    return std::nullopt;
  };
  MeterReading r;
  std::string name;
  std::size_t start = 0;
  bool saw_table = false;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.rfind("table inet mnigs_meter {", 0) == 0) saw_table = true;
    if (line.rfind("counter ", 0) == 0) {
      const std::size_t space = line.find(' ', 8);
      if (space == std::string_view::npos || line.substr(space) != " {")
        return fail("nft's output has a counter line it cannot read");
      name = std::string(line.substr(8, space - 8));
      continue;
    }
    if (name.empty() || line.rfind("packets ", 0) != 0) continue;
    const std::size_t at = line.find(" bytes ");
    if (at == std::string_view::npos) return fail("nft's output has a counter without bytes");
    std::string_view digits = line.substr(at + 7);
    if (digits.empty() || digits.size() > 18 ||
        digits.find_first_not_of("0123456789") != std::string_view::npos)
      return fail("nft's output has a byte count it cannot read");
    std::int64_t bytes = 0;
    for (char c : digits) bytes = bytes * 10 + (c - '0');
    const std::string rest = name.size() > 2 && name[1] == '_' ? name.substr(2) : "";
    if (!rest.empty() && (name[0] == 'o' || name[0] == 'i')) {
      Traffic& t = r.sessions[rest];
      (name[0] == 'o' ? t.out : t.in) += bytes;
    } else if (!rest.empty() && name[0] == 'a' && rest.size() <= 18 &&
               rest.find_first_not_of("0123456789") == std::string::npos) {
      r.accounts[std::stoll(rest)] += bytes;
    }
    name.clear();
  }
  if (!saw_table && !text.empty()) return fail("nft's output is not the meter's table");
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
      done(o.exit_code == 0 && !o.timed_out ? "" : os::failure_sentence(c, o));
    });
  });
}

void Meter::exec_checked(std::string script, std::function<void(std::string)> done) {
  exec(std::move(script), [this, done](std::string error) {
    if (!missing(error)) return done(error);
    // Something is missing: the whole table (then it is rebuilt, with what
    // the script was to add), or only an object of it (a real error).
    os::Command c;
    c.argv = {"nft", "list", "tables"};
    run_(c, [this, error, done](CommandOutcome o) {
      boost::asio::post(strand_, [this, error, done, o = std::move(o)] {
        if (o.exit_code != 0 || o.out.find("table inet mnigs_meter\n") != std::string::npos)
          return done(error);
        rebuild([done] { done(""); });
      });
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
    in_kernel_.clear();
    os::Command c;
    c.argv = {"nft", "reset", "counters", "table", "inet", "mnigs_meter"};
    c.max_output = kMaxReading;
    run_(c, [this, c, done](CommandOutcome o) {
      boost::asio::post(strand_, [this, c, o = std::move(o), done] {
        MeterReading left;
        if (o.exit_code == 0 && !o.timed_out) {
          std::string error;
          if (auto r = parse_meter_reading(o.out, &error)) left = std::move(*r);
          else log_.warn("what the last run counted could not be read: ", error);
        } else if (!missing(o.err)) {
          log_.warn(os::failure_sentence(c, o));
        }
        exec(meter_table_script({}, {}, uplinks_), [this, left, done](std::string error) {
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
    in_kernel_.clear();
    exec("table inet mnigs_meter\ndelete table inet mnigs_meter\n", [this, done](std::string e) {
      if (!e.empty()) log_.warn("removing the meter's table: ", e);
      done();
    });
  });
}

void Meter::set_uplinks(std::vector<std::string> configured) {
  boost::asio::post(strand_, [this, configured = std::move(configured)] {
    configured_uplinks_ = configured;
    resolve_uplinks();
  });
}

void Meter::resolve_uplinks() {
  uplinks_resolved_ = std::chrono::steady_clock::now();
  if (!configured_uplinks_.empty()) return apply_uplinks(configured_uplinks_);
  // The interfaces of the main table's default routes, IPv4 then IPv6.
  auto found = std::make_shared<std::vector<std::string>>();
  auto ask = [this, found](std::vector<std::string> argv, std::function<void()> next) {
    os::Command c;
    c.argv = std::move(argv);
    run_(c, [this, found, next](CommandOutcome o) {
      boost::asio::post(strand_, [found, next, o = std::move(o)] {
        JsonLimits limits;
        limits.what = "ip's routes";
        if (auto routes = parse_json_within(o.out, limits); routes && routes->isArray())
          for (const auto& r : *routes)
            if (r.isObject() && r["dev"].isString()) found->push_back(r["dev"].asString());
        next();
      });
    });
  };
  ask({"ip", "-j", "route", "show", "default"}, [this, ask, found] {
    ask({"ip", "-6", "-j", "route", "show", "default"}, [this, found] { apply_uplinks(*found); });
  });
}

void Meter::apply_uplinks(std::vector<std::string> names) {
  std::vector<std::string> valid;
  for (auto& n : names) {
    if (!valid_interface_name(n)) {
      log_.warn("uplink \"", n, "\" is not an interface name; left out");
      continue;
    }
    if (std::find(valid.begin(), valid.end(), n) == valid.end()) valid.push_back(std::move(n));
  }
  std::sort(valid.begin(), valid.end());
  if (valid == uplinks_) return;
  uplinks_ = valid;
  std::string list;
  for (const auto& u : uplinks_) list += (list.empty() ? "" : ", ") + u;
  log_.info(uplinks_.empty() ? std::string("no uplink known: all forwarded traffic is metered")
                             : "metering what goes through " + list);
  exec_checked(meter_hooks_script(uplinks_), [this](std::string error) {
    set_error(error.empty() ? "" : "cannot set the meter's uplinks: " + error);
  });
}

std::string Meter::accounts_script(const std::vector<MeterAccount>& accounts) {
  std::string script;
  for (const auto& a : accounts) {
    MeterAccount& known = accounts_[a.id];
    known.id = a.id;
    known.limit = a.limit;
    // Whichever counted more: the store, or this meter (whose last reading
    // may not have reached the store yet).
    known.used = std::max(known.used, a.used);
    script += meter_account_script(known, in_kernel_.count(a.id) != 0);
    in_kernel_.insert(a.id);
  }
  return script;
}

std::string Meter::drop_unused_accounts() {
  std::set<std::int64_t> named;
  for (const auto& [id, s] : sessions_)
    named.insert(s.policy.accounts.begin(), s.policy.accounts.end());
  std::string script;
  for (auto it = in_kernel_.begin(); it != in_kernel_.end();) {
    if (named.count(*it)) {
      ++it;
      continue;
    }
    script += meter_delete_account_script(*it);
    it = in_kernel_.erase(it);
  }
  return script;
}

void Meter::add(MeteredSession s, std::vector<MeterAccount> accounts, Done done) {
  boost::asio::post(strand_, [this, s = std::move(s), accounts = std::move(accounts), done] {
    std::string script;
    if (auto old = sessions_.find(s.id); old != sessions_.end()) {
      script += meter_remove_script(old->second);
      sessions_.erase(old);
    }
    script += accounts_script(accounts);
    script += meter_add_script(s);
    sessions_[s.id] = s;
    exec_checked(script, [this, id = s.id, done](std::string error) {
      if (!error.empty()) {
        // Not in the kernel: forget it, so a rebuild does not stumble on it.
        sessions_.erase(id);
        set_error("cannot meter session " + id + ": " + error);
      }
      if (done) done(error);
    });
  });
}

void Meter::update(const std::string& id, MeterPolicy policy, std::vector<MeterAccount> accounts,
                   Done done) {
  boost::asio::post(strand_, [this, id, policy = std::move(policy),
                              accounts = std::move(accounts), done] {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) {
      if (done) done("session " + id + " is not metered");
      return;
    }
    // Accounts it no longer names keep their kernel objects until a
    // session is removed: deleting them now would lose what they counted
    // since the last reading.
    std::string script = accounts_script(accounts);
    it->second.policy = policy;
    script += meter_policy_script(it->second);
    exec_checked(script, [this, id, done](std::string error) {
      set_error(error.empty() ? "" : "cannot change session " + id + "'s limits: " + error);
      if (done) done(error);
    });
  });
}

void Meter::remove(const std::string& id, ReadingDone done) {
  boost::asio::post(strand_, [this, id, done] {
    // Both commands are queued now, so whatever comes next (a new session
    // on the same address) runs after the removal; the reading comes first,
    // so nothing the deleted counters held is lost.
    submit_read(done);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    std::string script = meter_remove_script(it->second);
    sessions_.erase(it);
    script += drop_unused_accounts();
    exec(script, [this, id](std::string error) {
      // Gone with the table (flushed): nothing to remove.
      if (!error.empty() && !missing(error))
        set_error("cannot stop metering session " + id + ": " + error);
    });
  });
}

void Meter::read(ReadingDone done) {
  boost::asio::post(strand_, [this, done] {
    // Routes change: the default routes' interfaces are looked up again
    // once a minute.
    if (configured_uplinks_.empty() &&
        std::chrono::steady_clock::now() - uplinks_resolved_ > std::chrono::minutes(1))
      resolve_uplinks();
    submit_read(done);
  });
}

void Meter::submit_read(ReadingDone done) {
  os::Command c;
  c.argv = {"nft", "reset", "counters", "table", "inet", "mnigs_meter"};
  c.max_output = kMaxReading;
  run_(c, [this, c, done](CommandOutcome o) {
    boost::asio::post(strand_, [this, c, o = std::move(o), done] {
      if (o.exit_code != 0 || o.timed_out) {
        if (missing(o.err)) {
          rebuild([done] { done(MeterReading{}); });
          return;
        }
        set_error("cannot read the meter: " + os::failure_sentence(c, o));
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

void Meter::rebuild(std::function<void()> done) {
  ++rebuilt_;
  log_.warn("table inet mnigs_meter was removed (nft flush ruleset?); rebuilt with ",
            sessions_.size(), " sessions: what went through since the last reading is not "
            "counted, every quota keeps what was counted before");
  std::vector<MeteredSession> sessions;
  for (const auto& [id, s] : sessions_) sessions.push_back(s);
  std::vector<MeterAccount> accounts;
  for (auto id : in_kernel_) accounts.push_back(accounts_[id]);
  exec(meter_table_script(sessions, accounts, uplinks_), [this, done](std::string error) {
    set_error(error.empty() ? "" : "cannot rebuild the meter: " + error);
    done();
  });
}

void Meter::status(std::function<void(Json::Value)> done) {
  boost::asio::post(strand_, [this, done] {
    Json::Value v(Json::objectValue);
    v["sessions"] = static_cast<Json::UInt64>(sessions_.size());
    v["accounts"] = static_cast<Json::UInt64>(in_kernel_.size());
    Json::Value uplinks(Json::arrayValue);
    for (const auto& u : uplinks_) uplinks.append(u);
    v["uplinks"] = uplinks;
    v["rebuilt"] = static_cast<Json::Int64>(rebuilt_);
    if (!error_.empty()) v["error"] = error_;
    done(v);
  });
}

}  // namespace mnigs
