#include "commands.hpp"

#include "config/config_edit.hpp"
#include "config/yaml_edit.hpp"

#include <json/writer.h>

#include <ctime>
#include <iomanip>
#include <iostream>

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

}  // namespace mnigs::cli
