#include "commands.hpp"

#include "config/config_edit.hpp"
#include "config/yaml_edit.hpp"

#include <json/reader.h>
#include <json/writer.h>

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

namespace mnigs::cli {
namespace {

void print_json(const Json::Value& v) {
  Json::StreamWriterBuilder w;
  w["indentation"] = "  ";
  std::cout << Json::writeString(w, v) << "\n";
}

std::string join(const Json::Value& list, const char* sep = ", ") {
  std::string out;
  for (const auto& v : list) out += (out.empty() ? "" : sep) + v.asString();
  return out.empty() ? "-" : out;
}

std::string duration(std::int64_t s) {
  std::string out;
  if (s >= 86400) out += std::to_string(s / 86400) + "d ";
  if (s >= 3600) out += std::to_string(s / 3600 % 24) + "h ";
  if (s >= 60) out += std::to_string(s / 60 % 60) + "m ";
  return out + std::to_string(s % 60) + "s";
}

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
      std::cerr << "mnigs-cli: " << r.error["message"].asString() << "\n";
      return exit_code::failed;
  }
  return exit_code::failed;
}

}  // namespace

int cmd_info(Context& ctx) {
  auto r = ctx.client->call("nodeInfo");
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (ctx.json) return print_json(r.result), exit_code::ok;
  const auto& v = r.result;
  std::cout << "name      " << v["name"].asString() << "\n"
            << "id        " << v["id"].asString() << "\n"
            << "version   " << v["version"].asString() << "\n"
            << "gateway   " << (v["gateway"].asBool() ? "yes" : "no") << "\n"
            << "suites    " << join(v["suites"]) << "\n"
            << "ipv6      " << (v["ipv6support"].asBool() ? "yes" : "no") << "\n"
            << "plugins   " << join(v["plugins"]) << "\n";
  return exit_code::ok;
}

int cmd_status(Context& ctx) {
  auto r = ctx.client->call("status");
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (ctx.json) return print_json(r.result), exit_code::ok;
  const auto& v = r.result;
  const auto& rpc = v["rpc"];
  std::cout << "mnigsd " << v["version"].asString() << " \"" << v["name"].asString() << "\", up "
            << duration(v["uptime"].asInt64()) << ", pid " << v["pid"].asInt() << "\n"
            << "config    " << (v["configFile"].asString().empty() ? "(built-in defaults)"
                                                                    : v["configFile"].asString())
            << "\n"
            << "database  " << v["database"]["file"].asString() << " (schema "
            << v["database"]["schemaVersion"].asInt() << ")\n"
            << "rpc       " << join(rpc["listening"]) << "; " << rpc["connections"].asUInt64()
            << " open, " << rpc["calls"].asUInt64() << " calls, " << rpc["errors"].asUInt64()
            << " errors, " << rpc["refused"].asUInt64() << " refused\n"
            << "gateway   " << (v["gateway"].asBool() ? "enabled" : "disabled") << "\n"
            << "plugins   " << join(v["plugins"]) << "\n"
            << "suites    " << join(v["suites"]) << "\n";
  auto sessions = ctx.client->call("listSessions");
  if (sessions.status == CallStatus::ok) {
    const auto& sub = sessions.result["subscriber"];
    std::cout << "uplink    " << sub["state"].asString();
    if (sub["connection"].isObject())
      std::cout << " via " << sub["connection"]["gatewayAddress"].asString() << " ("
                << sub["connection"]["suite"].asString() << ")";
    if (!sub["lastError"].asString().empty())
      std::cout << "; last problem: " << sub["lastError"].asString();
    std::cout << "\n";
    if (v["gateway"].asBool())
      std::cout << "sessions  " << sessions.result["gateway"].size() << " served\n";
  }
  auto scan = ctx.client->call("scanStatus");
  if (scan.status == CallStatus::ok) {
    const auto& sc = scan.result;
    std::cout << "scan      ";
    if (sc["scan"].asUInt64() == 0) std::cout << "none yet\n";
    else if (sc["running"].asBool())
      std::cout << "#" << sc["scan"].asUInt64() << " running, " << sc["probed"].asUInt64() << "/"
                << sc["total"].asUInt64() << " probed\n";
    else
      std::cout << "#" << sc["scan"].asUInt64() << " found " << sc["found"].asUInt64()
                << " node(s), " << sc["gateways"].asUInt64() << " gateway(s), "
                << duration(std::max<Json::Int64>(0, std::time(nullptr) -
                                                         sc["finishedAt"].asInt64()))
                << " ago\n";
  }
  auto dht = ctx.client->call("dhtStatus");
  if (dht.status == CallStatus::ok) {
    const auto& d = dht.result;
    std::cout << "dht       ";
    if (!d["running"].asBool()) {
      std::cout << "off" << (d["error"].asString().empty() ? "" : " (" + d["error"].asString() + ")")
                << "\n";
    } else {
      const auto& p = d["peers"];
      std::cout << "node " << d["nodeId"].asString().substr(0, 16) << "…, "
                << p["ipv4"]["good"].asUInt() + p["ipv6"]["good"].asUInt() << " peer(s), "
                << d["offers"].asUInt() << " offer(s) heard"
                << (d["publishing"].asBool() ? ", publishing ours" : "");
      auto dropped = d["dropped"];
      std::uint64_t total = 0;
      for (const auto& k : dropped.getMemberNames()) total += dropped[k].asUInt64();
      if (total) std::cout << ", " << total << " dropped";
      std::cout << "\n";
    }
  }
  if (!v["restartRequired"].empty())
    std::cout << "restart mnigsd to apply: " << join(v["restartRequired"]) << "\n";
  return exit_code::ok;
}

int cmd_plugins(Context& ctx) {
  auto r = ctx.client->call("listPlugins");
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (ctx.json) return print_json(r.result), exit_code::ok;
  std::cout << std::left << std::setw(14) << "NAME" << std::setw(11) << "KIND" << std::setw(9)
            << "VERSION" << std::setw(10) << "STATE" << "DETAIL\n";
  for (const auto& p : r.result["plugins"]) {
    std::string detail = p["error"].asString();
    if (detail.empty()) detail = p["summary"].asString();
    std::string name = p["name"].asString();
    if (name.empty()) name = "(" + p["path"].asString() + ")";
    std::cout << std::setw(14) << name << std::setw(11) << p["kind"].asString() << std::setw(9)
              << p["version"].asString() << std::setw(10) << p["state"].asString() << detail
              << "\n";
  }
  return exit_code::ok;
}

int cmd_get(Context& ctx, const std::string& what) {
  Json::Value params(Json::objectValue);
  if (what.find('.') != std::string::npos) params["key"] = what;
  else if (!what.empty()) params["section"] = what;
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

int cmd_call(Context& ctx, const std::string& method, const std::string& params_text) {
  Json::Value params;
  if (!params_text.empty()) {
    Json::CharReaderBuilder builder;
    std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    std::string errors;
    if (!reader->parse(params_text.data(), params_text.data() + params_text.size(), &params,
                       &errors) ||
        !(params.isObject() || params.isArray())) {
      std::cerr << "mnigs-cli: --call " << method << ": params must be a JSON object or array"
                << (errors.empty() ? "" : ": " + errors) << "\n";
      return exit_code::usage;
    }
  }
  auto r = ctx.client->call(method, params);
  if (r.status != CallStatus::ok) return report(ctx, r);
  print_json(r.result);
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
  std::cout << "connected to " << v["gatewayAddress"].asString() << " ("
            << v["gatewayName"].asString() << ") with " << v["suite"].asString() << "\n"
            << "session " << v["sessionId"].asString() << ", renewed every "
            << std::max<Json::Int64>(1, v["timeout"].asInt64() / 3) << " s\n";
  return exit_code::ok;
}

int cmd_disconnect(Context& ctx) {
  auto r = ctx.client->call("disconnect");
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (ctx.json) return print_json(r.result), exit_code::ok;
  std::cout << "disconnected from " << r.result["gatewayAddress"].asString()
            << (r.result["released"].asBool() ? "" : " (the gateway did not confirm the release)")
            << "\n";
  return exit_code::ok;
}

int cmd_sessions(Context& ctx) {
  auto r = ctx.client->call("listSessions");
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (ctx.json) return print_json(r.result), exit_code::ok;
  const auto& sub = r.result["subscriber"];
  std::cout << "subscriber: " << sub["state"].asString();
  if (sub["connection"].isObject()) {
    const auto& c = sub["connection"];
    std::cout << " to " << c["gatewayAddress"].asString() << ":" << c["gatewayPort"].asInt()
              << " (" << c["gatewayName"].asString() << ") with " << c["suite"].asString()
              << ", session " << c["sessionId"].asString();
  }
  std::cout << "\n";
  if (!sub["lastError"].asString().empty())
    std::cout << "  last problem: " << sub["lastError"].asString() << "\n";
  const auto& gw = r.result["gateway"];
  std::cout << "gateway sessions: " << gw.size() << "\n";
  if (!gw.empty()) {
    std::cout << "  " << std::left << std::setw(34) << "SESSION" << std::setw(26) << "SUBSCRIBER"
              << std::setw(16) << "NAME" << std::setw(26) << "SUITE" << "EXPIRES\n";
    for (const auto& s : gw)
      std::cout << "  " << std::setw(34) << s["sessionId"].asString() << std::setw(26)
                << s["subscriber"].asString() << std::setw(16) << s["name"].asString()
                << std::setw(26) << s["suite"].asString() << "in "
                << std::max<Json::Int64>(0, s["expires"].asInt64() - std::time(nullptr)) << " s\n";
  }
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

std::string ago(std::int64_t when) {
  return duration(std::max<std::int64_t>(0, std::time(nullptr) - when)) + " ago";
}

std::string price(const Json::Value& n) {
  if (!n["price"].isNumeric()) return "-";
  if (n["price"].asDouble() == 0) return "free";
  std::ostringstream out;
  out << n["price"].asDouble() << (n["currency"].asString().empty() ? "" : " ")
      << n["currency"].asString();
  return out.str();
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
  const auto& v = st.result;
  std::cout << "scan #" << v["scan"].asUInt64() << ": " << v["found"].asUInt64() << " node(s), "
            << v["gateways"].asUInt64() << " gateway(s) from " << v["total"].asUInt64()
            << " probe(s) in " << std::fixed << std::setprecision(2) << v["seconds"].asDouble()
            << " s\n";
  std::cout.unsetf(std::ios::fixed);
  for (const auto& e : v["errors"])
    std::cout << "  " << e["plugin"].asString() << ": " << e["error"].asString() << "\n";
  return cmd_list(ctx, true);
}

int cmd_list(Context& ctx, bool gateways_only) {
  auto r = ctx.client->call(gateways_only ? "listGateways" : "listNodes");
  if (r.status != CallStatus::ok) return report(ctx, r);
  if (ctx.json) return print_json(r.result), exit_code::ok;
  const auto& list = r.result[gateways_only ? "gateways" : "nodes"];
  if (list.empty()) {
    std::cout << (gateways_only ? "no gateways known" : "no nodes known")
              << "; scan with: mnigs-cli -s\n";
    return exit_code::ok;
  }
  std::cout << std::left << std::setw(18) << "NAME" << std::setw(28) << "ADDRESS" << std::setw(7)
            << "PORT";
  if (gateways_only)
    std::cout << std::setw(34) << "SUITES" << std::setw(10) << "PRICE" << std::setw(10) << "SOURCE";
  else std::cout << std::setw(9) << "GATEWAY" << std::setw(18) << "NETWORKS";
  std::cout << "LAST SEEN\n";
  for (const auto& n : list) {
    std::cout << std::setw(18) << n["name"].asString() << std::setw(28) << n["address"].asString()
              << std::setw(7) << n["port"].asInt();
    if (gateways_only)
      std::cout << std::setw(34) << join(n["suites"], ",") << std::setw(10) << price(n)
                << std::setw(10) << n["source"].asString();
    else
      std::cout << std::setw(9) << (n["gateway"].asBool() ? "yes" : "no") << std::setw(18)
                << join(n["networks"], ",");
    std::cout << ago(n["lastSeen"].asInt64()) << (n["current"].asBool() ? "" : " (not in last scan)")
              << "\n";
  }
  return exit_code::ok;
}

}  // namespace mnigs::cli
