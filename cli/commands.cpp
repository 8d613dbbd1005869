#include "commands.hpp"

#include "table.hpp"
#include "views.hpp"

#include "auth/password.hpp"
#include "config/config_edit.hpp"
#include "config/yaml_edit.hpp"
#include "util/json_limits.hpp"

#include <json/writer.h>

#include <termios.h>
#include <unistd.h>

#include <filesystem>

#include <chrono>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <memory>
#include <thread>

namespace mnigs::cli {
namespace {

void print_json(const Json::Value& v) {
  Json::StreamWriterBuilder w;
  w["indentation"] = "  ";
  std::cout << Json::writeString(w, v) << "\n";
}

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// Reports a failed call; returns the exit code for it.
int report(const Context& ctx, const CallResult& r) {
  switch (r.status) {
    case CallStatus::ok:
      return exit_code::ok;
    case CallStatus::not_running:
      std::cerr << "mnigs-cli: mnigsd is not running (" << r.message
                << "); start it with: " << ctx.daemon_hint << "\n";
      return exit_code::not_running;
    case CallStatus::transport_error:
      std::cerr << "mnigs-cli: " << r.message << "\n";
      return exit_code::failed;
    case CallStatus::rpc_error:
      if (ctx.json) print_json(r.error);
      // May carry what a gateway answered.
      std::cerr << "mnigs-cli: " << terminal_safe(r.error["message"].asString()) << "\n";
      return exit_code::failed;
  }
  return exit_code::failed;
}

}  // namespace

int cmd_info(Context& ctx) {
  auto r = ctx.client->call("nodeInfo");
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (ctx.json) return print_json(r.result), exit_code::ok;
  std::cout << render_info(r.result);
  return exit_code::ok;
}

int cmd_status(Context& ctx) {
  auto r = ctx.client->call("status");
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (ctx.json) return print_json(r.result), exit_code::ok;
  // The rest is optional: a line is left out when its call fails.
  auto result_of = [&](const char* method) {
    auto c = ctx.client->call(method);
    return c.status == CallStatus::ok ? c.result : Json::Value();
  };
  const Json::Value sessions = result_of("listSessions"), scan = result_of("scanStatus"),
                    dht = result_of("dhtStatus");
  std::cout << render_status(r.result, sessions, scan, dht, now());
  return exit_code::ok;
}

int cmd_plugins(Context& ctx) {
  auto r = ctx.client->call("listPlugins");
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (ctx.json) return print_json(r.result), exit_code::ok;
  std::cout << render_plugins(r.result);
  return exit_code::ok;
}

int cmd_get(Context& ctx, const std::string& what) {
  Json::Value params(Json::objectValue);
  if (what.find('.') != std::string::npos)
    params["key"] = what;
  else if (!what.empty())
    params["section"] = what;
  auto r = ctx.client->call("getConfig", params);
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (ctx.json) return print_json(r.result), exit_code::ok;
  if (r.result.isMember("key")) {
    std::cout << render_yaml_value(r.result["value"]) << "\n";
    return exit_code::ok;
  }
  for (const auto& section : r.result["values"].getMemberNames()) {
    std::cout << section << ":\n";
    const auto& keys = r.result["values"][section];
    for (const auto& key : keys.getMemberNames())
      std::cout << "  " << key << ": " << render_yaml_value(keys[key]) << "\n";
  }
  return exit_code::ok;
}

int cmd_expose(Context& ctx, const std::string& name, const std::string& port) {
  // The current list, then the one with this service added, replaced or
  // (port "off") removed.
  Json::Value get(Json::objectValue);
  get["section"] = "httptunnel";
  auto r = ctx.client->call("getConfig", get);
  if (r.status != CallStatus::ok) return report(ctx, r);
  const Json::Value& section = r.result["values"]["httptunnel"];
  if (!section.isObject()) {
    std::cerr << "mnigs-cli: --expose: this mnigsd has no httptunnel plugin\n";
    return exit_code::failed;
  }
  if (port != "off" && section["id"].asString().empty()) {
    std::cerr << "mnigs-cli: --expose: set the node's id first "
                 "(mnigs-cli --set httptunnel.id=NAME)\n";
    return exit_code::usage;
  }
  Json::Value services(Json::arrayValue);
  bool found = false;
  for (const auto& v : section["services"]) {
    const std::string entry = v.asString();
    if (entry.substr(0, entry.find('=')) == name) {
      found = true;
      continue;
    }
    services.append(entry);
  }
  if (port == "off" && !found) {
    std::cerr << "mnigs-cli: --expose: no service " << name << " is exposed\n";
    return exit_code::usage;
  }
  if (port != "off") services.append(name + "=" + port);
  Json::Value set(Json::objectValue);
  set["httptunnel.services"] = services;
  auto w = ctx.client->call("setConfig", set);
  if (w.status != CallStatus::ok) return report(ctx, w);
  if (ctx.json) return print_json(w.result), exit_code::ok;
  const std::string id = section["id"].asString();
  const std::string domain = section["domain"].asString();
  if (port == "off")
    std::cout << name << " is no longer exposed\n";
  else
    std::cout << name << " (127.0.0.1:" << port << ") is exposed as " << name << "." << id
              << ".<the gateway's domain>\n";
  for (const auto& k : w.result["restartRequired"])
    std::cout << k.asString() << " written to " << w.result["file"].asString()
              << "; restart mnigsd to apply\n";
  return exit_code::ok;
}

int cmd_tether(Context& ctx, bool on, bool qr) {
  Json::Value get(Json::objectValue);
  get["section"] = "tether";
  auto r = ctx.client->call("getConfig", get);
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (!r.result["values"]["tether"].isObject()) {
    std::cerr << "mnigs-cli: --tether: this mnigsd has no tether plugin\n";
    return exit_code::failed;
  }
  Json::Value set(Json::objectValue);
  set["tether.enabled"] = on;
  auto w = ctx.client->call("setConfig", set);
  if (w.status != CallStatus::ok) return report(ctx, w);
  if (!on) {
    if (ctx.json) return print_json(w.result), exit_code::ok;
    std::cout << "tethering is off: the page is no longer served and its session released\n";
    return exit_code::ok;
  }
  auto p = ctx.client->call("tether.pairing");
  if (p.status != CallStatus::ok) return report(ctx, p);
  if (ctx.json) return print_json(p.result), exit_code::ok;
  std::cout << render_tether(p.result);
  if (!p.result["serving"].asBool()) return exit_code::failed;
  if (qr) {
    const auto& urls = p.result["urls"];
    const std::string code = urls.isArray() && !urls.empty() ? render_qr(urls[0].asString()) : "";
    if (code.empty())
      std::cout << "(no QR code: this mnigs-cli was built without libqrencode, or no URL)\n";
    std::cout << code;
  }
  if (!::isatty(STDOUT_FILENO)) return exit_code::ok;
  // The state as it changes, until Ctrl-C (tethering stays on).
  std::string last = tether_state_line(p.result);
  for (;;) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    auto next = ctx.client->call("tether.pairing");
    if (next.status != CallStatus::ok) return report(ctx, next);
    const std::string line = tether_state_line(next.result);
    if (line != last) std::cout << "state: " << line << std::flush;
    last = line;
  }
}

int cmd_call(Context& ctx, const std::string& method, const std::string& params_text) {
  Json::Value params;
  if (!params_text.empty()) {
    // Within what the daemon takes in a request (nesting and values), so
    // that no input makes the parser itself give up.
    std::string why;
    auto parsed = parse_json_within(params_text, JsonLimits{64 << 20, 64, 1 << 20, "params"},
                                    &why);
    if (!parsed) {
      std::cerr << "mnigs-cli: --call " << method
                << ": params must be one JSON object or array: " << why << "\n";
      return exit_code::usage;
    }
    params = std::move(*parsed);
  }
  auto r = ctx.client->call(method, params);
  if (r.status != CallStatus::ok) return report(ctx, r);
  print_json(r.result);
  return exit_code::ok;
}

namespace {

// One line from stdin without its line end; nullopt at end of input. Echo
// is off while it is read from a terminal.
std::optional<std::string> read_secret_line(const char* prompt) {
  const bool tty = ::isatty(STDIN_FILENO);
  termios saved{};
  if (tty) {
    std::cerr << prompt << std::flush;
    ::tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  const bool got = static_cast<bool>(std::getline(std::cin, line));
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    std::cerr << "\n";
  }
  if (!got && line.empty()) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

int cmd_set_password(Context& ctx) {
  const std::string data_dir = ctx.startup->values["daemon"]["dataDir"].asString();
  const std::string path = password_path(data_dir);
  auto password = read_secret_line("New web UI password (empty: none): ");
  if (!password) {
    std::cerr << "mnigs-cli: no password given on stdin; nothing changed\n";
    return exit_code::usage;
  }
  if (::isatty(STDIN_FILENO) && !password->empty()) {
    auto again = read_secret_line("The same again: ");
    if (!again || *again != *password) {
      std::cerr << "mnigs-cli: the two passwords differ; nothing changed\n";
      return exit_code::usage;
    }
  }
  if (!password->empty()) {
    if (auto problem = password_problem(*password); !problem.empty()) {
      std::cerr << "mnigs-cli: " << problem << "; nothing changed\n";
      return exit_code::usage;
    }
  }
  try {
    std::error_code ec;
    if (std::filesystem::create_directories(data_dir, ec))
      std::filesystem::permissions(data_dir, std::filesystem::perms::owner_all, ec);
    write_password_hash(path, password->empty() ? "" : hash_password(*password));
  } catch (const std::exception& e) {
    std::cerr << "mnigs-cli: " << e.what() << "; nothing changed\n";
    return exit_code::config;
  }
  std::fill(password->begin(), password->end(), '\0');
  if (ctx.json) {
    Json::Value out(Json::objectValue);
    out["file"] = path;
    out["passwordSet"] = !password->empty();
    return print_json(out), exit_code::ok;
  }
  if (password->empty())
    std::cout << "web UI password removed (" << path << "); logins from outside "
              << "daemon.authorizedNetworks now take the admin token\n";
  else
    std::cout << "web UI password set (" << path << "); logins made with another one end\n";
  return exit_code::ok;
}

int cmd_set(Context& ctx, const std::vector<std::pair<std::string, std::string>>& assignments) {
  Json::Value params(Json::objectValue);
  for (const auto& [key, value] : assignments) params[key] = value;
  auto r = ctx.client->call("setConfig", params);
  if (r.status == CallStatus::ok) {
    if (ctx.json) return print_json(r.result), exit_code::ok;
    for (const auto& k : r.result["applied"])
      std::cout << k.asString() << " = " << render_yaml_value(r.result["values"][k.asString()])
                << " (applied)\n";
    for (const auto& k : r.result["restartRequired"])
      std::cout << k.asString() << " = " << render_yaml_value(r.result["values"][k.asString()])
                << " (written to " << r.result["file"].asString() << "; restart mnigsd to apply)\n";
    return exit_code::ok;
  }
  if (r.status != CallStatus::not_running) return report(ctx, r);

  // No daemon: edit the file directly, with the same validation.
  std::vector<std::pair<std::string, Json::Value>> raw;
  for (const auto& [key, value] : assignments) raw.emplace_back(key, Json::Value(value));
  std::vector<ConfigChange> changes;
  auto errors = resolve_changes(ctx.startup->schema, raw, changes);
  if (!errors.empty()) {
    for (const auto& e : errors) std::cerr << "mnigs-cli: " << e << "\n";
    std::cerr << "mnigs-cli: nothing changed\n";
    return exit_code::config;
  }
  try {
    write_changes(ctx.config_path, ctx.startup->schema, changes);
  } catch (const std::exception& e) {
    std::cerr << "mnigs-cli: " << e.what() << "\n";
    return exit_code::config;
  }
  Json::Value written(Json::objectValue);
  for (const auto& c : changes) written[c.dotted()] = c.value;
  if (ctx.json) {
    Json::Value out(Json::objectValue);
    out["file"] = ctx.config_path;
    out["values"] = written;
    out["daemonRunning"] = false;
    return print_json(out), exit_code::ok;
  }
  for (const auto& c : changes)
    std::cout << c.dotted() << " = " << render_yaml_value(c.value) << " (written to "
              << ctx.config_path << "; mnigsd is not running)\n";
  return exit_code::ok;
}

int cmd_connect(Context& ctx, const std::string& address, int port, const std::string& suite) {
  Json::Value params(Json::objectValue);
  params["address"] = address;
  params["port"] = port;
  if (!suite.empty()) params["suite"] = suite;
  auto r = ctx.client->call("connect", params);
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (ctx.json) return print_json(r.result), exit_code::ok;
  const auto& v = r.result;
  // The name is the gateway's own, as it sent it.
  std::cout << terminal_safe("connected to " + v["gatewayAddress"].asString() + " (" +
                             v["gatewayName"].asString() + ") with " + v["suite"].asString())
            << "\n"
            << "session " << terminal_safe(v["sessionId"].asString()) << ", renewed every "
            << std::max<Json::Int64>(1, v["timeout"].asInt64() / 3) << " s\n";
  if (const std::string p = payment_text(v["payment"]); !p.empty())
    std::cout << terminal_safe(p) << "\n";
  return exit_code::ok;
}

int cmd_disconnect(Context& ctx) {
  auto r = ctx.client->call("disconnect");
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (ctx.json) return print_json(r.result), exit_code::ok;
  std::cout << "disconnected from " << terminal_safe(r.result["gatewayAddress"].asString())
            << (r.result["released"].asBool() ? "" : " (the gateway did not confirm the release)")
            << "\n";
  return exit_code::ok;
}

int cmd_reload(Context& ctx) {
  auto r = ctx.client->call("reloadConfig");
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (ctx.json) return print_json(r.result), exit_code::ok;
  const auto& applied = r.result["applied"];
  const auto& restart = r.result["restartRequired"];
  std::cout << "read " << terminal_safe(r.result["file"].asString()) << " again";
  if (applied.empty() && restart.empty()) std::cout << ": nothing changed";
  std::cout << "\n";
  for (const auto& k : applied) std::cout << terminal_safe(k.asString()) << " (applied)\n";
  for (const auto& k : restart)
    std::cout << terminal_safe(k.asString()) << " (restart mnigsd to apply)\n";
  return exit_code::ok;
}

int cmd_release(Context& ctx, const std::string& session_id) {
  Json::Value params(Json::objectValue);
  params["sessionId"] = session_id;
  auto r = ctx.client->call("releaseSession", params);
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (ctx.json) return print_json(r.result), exit_code::ok;
  std::cout << "session " << terminal_safe(r.result["sessionId"].asString()) << " released\n";
  return exit_code::ok;
}

int cmd_test(Context& ctx, const std::string& address, int port, const std::string& suite) {
  Json::Value params(Json::objectValue);
  params["address"] = address;
  if (port) params["port"] = port;
  if (!suite.empty()) params["suite"] = suite;
  std::cerr << "testing " << terminal_safe(address) << " (5 to 15 s)...\n";
  auto r = ctx.client->call("testGateway", params);
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (ctx.json) return print_json(r.result), exit_code::ok;
  std::cout << render_gateway_test(r.result);
  return exit_code::ok;
}

int cmd_auto(Context& ctx, bool on) {
  Json::Value params(Json::objectValue);
  params["enabled"] = on;
  auto r = ctx.client->call("setAuto", params);
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (ctx.json) return print_json(r.result), exit_code::ok;
  std::cout << (on ? "auto mode on: mnigsd chooses the gateway and moves when it fails\n"
                   : "auto mode off: the connection stays as it is\n");
  return exit_code::ok;
}

int cmd_sessions(Context& ctx) {
  auto r = ctx.client->call("listSessions");
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (ctx.json) return print_json(r.result), exit_code::ok;
  std::cout << render_sessions(r.result, now());
  return exit_code::ok;
}

int cmd_voucher(Context& ctx, const std::string& action, const std::string& code,
                const Json::Value& params) {
  Json::Value p = params;
  const char* method = action == "create" ? "createVouchers"
                       : action == "list" ? "listVouchers"
                                          : "revokeVoucher";
  if (action == "revoke") p["code"] = code;
  auto r = ctx.client->call(method, p);
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (ctx.json) return print_json(r.result), exit_code::ok;
  if (action == "revoke") {
    std::cout << terminal_safe("revoked " + r.result["voucher"]["code"].asString()) << "\n";
    return exit_code::ok;
  }
  std::cout << render_vouchers(r.result["vouchers"], action == "create", now());
  if (action == "list" && r.result["count"].asUInt64() > r.result["vouchers"].size())
    std::cout << r.result["vouchers"].size() << " of " << r.result["count"].asUInt64()
              << " shown\n";
  return exit_code::ok;
}

namespace {

// "[#########-----------]  12/40 probed, 5 found" on one terminal line.
void draw_progress(const Json::Value& st) {
  constexpr int width = 30;
  const auto total = st["total"].asUInt64(), probed = st["probed"].asUInt64();
  const int filled = total ? static_cast<int>(width * probed / total) : 0;
  std::cerr << "\r[" << std::string(filled, '#') << std::string(width - filled, '-') << "] "
            << std::setw(4) << probed << "/" << total << " probed, " << st["found"].asUInt64()
            << " found" << std::flush;
}

}  // namespace

int cmd_scan(Context& ctx) {
  auto started = ctx.client->call("startScan");
  if (started.status != CallStatus::ok) return report(ctx, started);
  const auto scan = started.result["scan"].asUInt64();
  const bool bar = !ctx.json && isatty(STDERR_FILENO);
  if (!ctx.json && !started.result["started"].asBool())
    std::cerr << "a scan (#" << scan << ") is already running; following it\n";
  // Bounded: discovery plus every probe's deadline is far below this.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(30);
  CallResult st;
  while (true) {
    st = ctx.client->call("scanStatus");
    if (st.status != CallStatus::ok) {
      if (bar) std::cerr << "\n";
      return report(ctx, st);
    }
    if (bar) draw_progress(st.result);
    if (!st.result["running"].asBool() && st.result["scan"].asUInt64() >= scan) break;
    if (std::chrono::steady_clock::now() > deadline) {
      if (bar) std::cerr << "\n";
      std::cerr << "mnigs-cli: scan #" << scan << " still runs after 30 minutes; see --status\n";
      return exit_code::failed;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (bar) std::cerr << "\n";
  if (ctx.json) return print_json(st.result), exit_code::ok;
  std::cout << render_scan_summary(st.result);
  return cmd_list(ctx, true);
}

int cmd_list(Context& ctx, bool gateways_only) {
  auto r = ctx.client->call(gateways_only ? "listGateways" : "listNodes");
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (ctx.json) return print_json(r.result), exit_code::ok;
  std::cout << render_nodes(r.result[gateways_only ? "gateways" : "nodes"], gateways_only, now());
  return exit_code::ok;
}

}  // namespace mnigs::cli
