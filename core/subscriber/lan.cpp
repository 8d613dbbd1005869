#include "subscriber/lan.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <iomanip>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <utility>

namespace mnigs {

namespace {

constexpr const char* kTable = "mnigs_lan";
constexpr unsigned kGenerations = 15;  // marks 1-15 in bits 24-27
constexpr std::uint32_t kMarkMask = 0x0f000000;
const std::vector<std::string> kKnobs = {"net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"};

std::string hex(std::uint32_t v) {
  std::ostringstream s;
  s << "0x" << std::hex << std::setw(8) << std::setfill('0') << v;
  return s.str();
}

std::uint32_t mark_of(unsigned generation) { return (generation & 0xfu) << 24; }

unsigned next_generation(unsigned g) { return g % kGenerations + 1; }

os::Command command(std::vector<std::string> argv, std::string input = "") {
  os::Command c;
  c.argv = std::move(argv);
  c.input = std::move(input);
  return c;
}

bool ok_exit(const CommandOutcome& o) { return o.exit_code == 0 && !o.timed_out; }

// "conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted."
// (on stderr; exit status 1 when the count is 0).
std::optional<std::int64_t> deleted_count(const CommandOutcome& o) {
  static const std::regex count(R"(: ([0-9]{1,12}) flow entr(y|ies) ha(s|ve) been deleted)");
  std::smatch m;
  const std::string text = o.err + o.out;
  if (o.timed_out || !std::regex_search(text, m, count)) return std::nullopt;
  return std::stoll(m[1].str());
}

}  // namespace

std::string lan_nft_script(const std::vector<Prefix>& prefixes, unsigned generation) {
  std::vector<std::string> v4, v6;
  for (const auto& p : prefixes) (p.network.is_v4() ? v4 : v6).push_back(p.to_string());
  std::string s = std::string("table inet ") + kTable + "\ndelete table inet " + kTable + "\n";
  if (v4.empty() && v6.empty()) return s;
  const std::string mark =
      "ct mark set ct mark and " + hex(~kMarkMask) + " or " + hex(mark_of(generation));
  auto set = [](const std::string& name, const char* type, const std::vector<std::string>& els) {
    std::string t = "  set " + name + " {\n    type " + type +
                    "\n    flags interval\n    auto-merge\n    elements = { ";
    for (std::size_t i = 0; i < els.size(); ++i) t += (i ? ", " : "") + els[i];
    return t + " }\n  }\n";
  };
  s += std::string("table inet ") + kTable + " {\n";
  if (!v4.empty()) s += set("lan4", "ipv4_addr", v4);
  if (!v6.empty()) s += set("lan6", "ipv6_addr", v6);
  s += "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n";
  if (!v4.empty()) s += "    ip saddr @lan4 ip daddr != @lan4 " + mark + " masquerade\n";
  if (!v6.empty()) s += "    ip6 saddr @lan6 ip6 daddr != @lan6 " + mark + " masquerade\n";
  s += "  }\n}\n";
  return s;
}

std::string lan_conntrack_mark(unsigned generation) {
  return hex(mark_of(generation)) + "/" + hex(kMarkMask);
}

LanShare::LanShare(boost::asio::io_context& io, const ConfigHolder& config, Store& store, Run run)
    : io_(io),
      strand_(io.get_executor()),
      config_(config),
      run_(std::move(run)),
      kv_(store, "core.lan", strand_, log_) {}

void LanShare::run_steps(std::vector<Step> steps, std::function<void(std::string)> done) {
  if (steps.empty()) return done("");
  Step first = std::move(steps.front());
  steps.erase(steps.begin());
  auto rest = std::make_shared<std::vector<Step>>(std::move(steps));
  os::Command c = first.command;
  run_(std::move(c), [this, first, rest, done](CommandOutcome o) {
    boost::asio::post(strand_, [this, first, rest, done, o = std::move(o)] {
      if (!(first.ok ? first.ok(o) : ok_exit(o)))
        return done(os::failure_sentence(first.command, o));
      run_steps(std::move(*rest), done);
    });
  });
}

void LanShare::set_error(const std::string& error) {
  if (!error.empty() && error != error_) log_.warn(error);
  error_ = error;
}

void LanShare::start(std::function<void()> done) {
  boost::asio::post(strand_, [this, done] {
    stopped_ = false;
    kv_.get("generation", [this, done](std::optional<std::string> g) {
      if (g && !g->empty() && g->size() <= 2 && std::all_of(g->begin(), g->end(), ::isdigit)) {
        unsigned n = static_cast<unsigned>(std::stoul(*g));
        if (n >= 1 && n <= kGenerations) generation_ = n;
      }
      kv_.get("gateway", [this, done](std::optional<std::string> gw) {
        if (gw) gateway_ = *gw;
        apply(true, done);
      });
    });
  });
}

void LanShare::config_changed() {
  boost::asio::post(strand_, [this] {
    if (!stopped_) apply(false, [] {});
  });
}

void LanShare::apply(bool turn_off, std::function<void()> done) {
  prefixes_.clear();
  for (const auto& text : config_.get()->get_list("subscriber", "lan"))
    if (auto p = parse_prefix(text)) prefixes_.push_back(*p);
  const bool any = !prefixes_.empty();
  std::vector<Step> steps;
  // The table: without prefixes only deleted ("table" first, so that the
  // delete finds one whether or not it existed).
  steps.push_back({command({"nft", "-f", "-"}, lan_nft_script(prefixes_, generation_)), {}});
  run_steps(std::move(steps), [this, any, turn_off, done](std::string error) {
    set_error(error);
    if (error.empty() && any) {
      std::string list;
      for (const auto& p : prefixes_) list += (list.empty() ? "" : ", ") + p.to_string();
      log_.info("sharing the gateway with ", list, " (masqueraded)");
    }
    std::vector<std::string> wanted;
    for (const auto& p : prefixes_) {
      const std::string& knob = p.network.is_v4() ? kKnobs[0] : kKnobs[1];
      if (std::find(wanted.begin(), wanted.end(), knob) == wanted.end()) wanted.push_back(knob);
    }
    set_knobs(std::move(wanted), turn_off, done);
  });
}

void LanShare::set_knobs(std::vector<std::string> wanted, bool turn_off,
                         std::function<void()> done) {
  kv_.list("knob.", [this, wanted, turn_off, done](std::vector<KeyValueStore::Row> rows) {
    std::vector<std::string> recorded;
    for (const auto& r : rows) recorded.push_back(r.first.substr(5));
    auto each = std::make_shared<std::function<void(std::size_t)>>();
    *each = [this, wanted, turn_off, recorded, done, each](std::size_t i) {
      if (i == kKnobs.size()) {
        boost::asio::post(strand_, done);
        *each = nullptr;  // the cycle through `each` ends here
        return;
      }
      const std::string knob = kKnobs[i];
      const bool want = std::find(wanted.begin(), wanted.end(), knob) != wanted.end();
      const bool ours = std::find(recorded.begin(), recorded.end(), knob) != recorded.end();
      auto next = [each, i] { (*each)(i + 1); };
      if (!want) {
        if (!ours || !turn_off) return next();
        // Turned on by an earlier configuration or run: back off.
        return run_steps({{command({"sysctl", "-w", knob + "=0"}), {}}},
                         [this, knob, next](std::string error) {
                           set_error(error);
                           if (!error.empty()) return next();
                           log_.info("turned ", knob, " off again");
                           kv_.erase("knob." + knob, [next](bool) { next(); });
                         });
      }
      auto out = std::make_shared<std::string>();
      run_steps({{command({"sysctl", "-n", knob}),
                  [out](const CommandOutcome& o) {
                    *out = o.out;
                    return ok_exit(o);
                  }}},
                [this, knob, ours, out, next](std::string error) {
                  if (!error.empty()) {
                    set_error(error);
                    return next();
                  }
                  if (out->find('1') != std::string::npos) return next();
                  // Recorded before it changes, so that a crash cannot leave
                  // it on without a record.
                  kv_.put("knob." + knob, "0", [this, knob, next](bool recorded) {
                    if (!recorded) {
                      set_error("cannot record the state of " + knob +
                                " before changing it; it is left alone");
                      return next();
                    }
                    run_steps({{command({"sysctl", "-w", knob + "=1"}), {}}},
                              [this, knob, next](std::string error) {
                                set_error(error);
                                if (error.empty())
                                  log_.info("turned ", knob, " on; it goes back off at stop");
                                next();
                              });
                  });
                });
    };
    (*each)(0);
  });
}

void LanShare::gateway_active(const std::string& gateway) {
  boost::asio::post(strand_, [this, gateway] {
    if (stopped_ || gateway == gateway_) return;
    const std::string before = gateway_;
    gateway_ = gateway;
    kv_.put("gateway", gateway);
    if (prefixes_.empty() || before.empty()) return;
    const unsigned old = generation_;
    generation_ = next_generation(generation_);
    kv_.put("generation", std::to_string(generation_));
    // New connections get the new mark first; then the old ones go.
    run_steps({{command({"nft", "-f", "-"}, lan_nft_script(prefixes_, generation_)), {}}},
              [this, old](std::string error) {
                set_error(error);
                if (!stopped_) flush(old);
              });
  });
}

void LanShare::flush(unsigned generation) {
  auto total = std::make_shared<std::int64_t>(0);
  auto counted = [total](const CommandOutcome& o) {
    auto n = deleted_count(o);
    if (n) *total += *n;
    return n.has_value();
  };
  std::vector<Step> steps;
  for (const char* family : {"ipv4", "ipv6"})
    steps.push_back(
        {command({"conntrack", "-D", "-f", family, "--mark", lan_conntrack_mark(generation)}),
         counted});
  run_steps(std::move(steps), [this, total](std::string error) {
    if (stopped_) return;
    if (!error.empty()) {
      set_error(error + "; connections through the previous gateway are not deleted at once");
      return;
    }
    flushed_ = *total;
    log_.info("deleted ", *total, " connections of the LAN that went through the previous gateway");
  });
}

void LanShare::stop(std::function<void()> done) {
  boost::asio::post(strand_, [this, done] {
    if (stopped_) return boost::asio::post(io_, done);
    stopped_ = true;
    run_steps({{command({"nft", "-f", "-"}, lan_nft_script({}, generation_)), {}}},
              [this, done](std::string error) {
                set_error(error);
                set_knobs({}, true, done);
              });
  });
}

void LanShare::status(std::function<void(Json::Value)> done) {
  boost::asio::post(strand_, [this, done] {
    Json::Value s(Json::objectValue);
    s["prefixes"] = Json::Value(Json::arrayValue);
    for (const auto& p : prefixes_) s["prefixes"].append(p.to_string());
    s["generation"] = generation_;
    s["gateway"] = gateway_;
    s["flushed"] = flushed_ < 0 ? Json::Value() : Json::Value(static_cast<Json::Int64>(flushed_));
    s["error"] = error_;
    done(s);
  });
}

}  // namespace mnigs
