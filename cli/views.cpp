#include "views.hpp"

#include "table.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <sstream>
#include <string_view>
#include <vector>

namespace mnigs::cli {
namespace {

using Rows = std::vector<std::vector<std::string>>;

// A scalar field as text; "" for null, arrays and objects (which
// Json::Value::asString would throw on).
std::string text(const Json::Value& v) {
  if (v.isString()) return v.asString();
  if (v.isBool() || v.isNumeric()) return v.asString();
  return "";
}

std::int64_t integer(const Json::Value& v) {
  if (v.isInt64()) return v.asInt64();
  if (v.isUInt64())
    return static_cast<std::int64_t>(
        std::min<Json::UInt64>(v.asUInt64(), std::numeric_limits<std::int64_t>::max()));
  return 0;
}

std::uint64_t count(const Json::Value& v) { return v.isUInt64() ? v.asUInt64() : 0; }

bool flag(const Json::Value& v) { return v.isBool() && v.asBool(); }

// The strings of an array joined by `sep`; "-" when there are none.
std::string join(const Json::Value& list, std::string_view sep = ", ") {
  std::string out;
  if (list.isArray())
    for (const auto& v : list) {
      if (!out.empty()) out += sep;
      out += text(v);
    }
  return out.empty() ? "-" : out;
}

std::string duration(std::int64_t s) {
  std::string out;
  if (s >= 86400) out += std::to_string(s / 86400) + "d ";
  if (s >= 3600) out += std::to_string(s / 3600 % 24) + "h ";
  if (s >= 60) out += std::to_string(s / 60 % 60) + "m ";
  return out + std::to_string(s % 60) + "s";
}

std::string ago(std::int64_t when, std::int64_t now) {
  return duration(std::max<std::int64_t>(0, now - when)) + " ago";
}

std::string price(const Json::Value& n) {
  if (!n["price"].isNumeric()) return "-";
  const bool paid = n["paymentRequired"].isBool() && n["paymentRequired"].asBool();
  if (n["price"].asDouble() == 0) return paid ? "vouchers" : "free";
  std::ostringstream out;
  const std::string currency = text(n["currency"]);
  out << n["price"].asDouble() << (currency.empty() ? "" : " ") << currency;
  return out.str();
}

// "10.77.1.1:65533", "[fd77::1]:65533".
std::string host_port(const std::string& address, const Json::Value& port) {
  const bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + text(port);
}

// "812 B", "3.4 kB", "1.2 MB", "7.0 GB" (powers of 1000).
std::string amount(std::uint64_t bytes) {
  if (bytes < 1000) return std::to_string(bytes) + " B";
  const char* units[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
  double v = static_cast<double>(bytes) / 1000;
  std::size_t u = 0;
  for (; v >= 999.95 && u + 1 < std::size(units); ++u) v /= 1000;
  char out[32];
  std::snprintf(out, sizeof out, "%.1f %s", v, units[u]);
  return out;
}

// A session's "traffic" object as one line's worth: what went through it.
std::string traffic_text(const Json::Value& t) {
  if (!t.isObject()) return "";
  if (!flag(t["counted"])) return "not counted by its tunnel";
  std::string out = amount(count(t["bytesOut"])) + " out (" +
                    std::to_string(count(t["packetsOut"])) + " packets), " +
                    amount(count(t["bytesIn"])) + " in (" +
                    std::to_string(count(t["packetsIn"])) + " packets)";
  if (!text(t["device"]).empty()) out += " through " + text(t["device"]);
  return out;
}

}  // namespace

std::string render_info(const Json::Value& v) {
  return render_table({}, {{"name", text(v["name"])},
                           {"id", text(v["id"])},
                           {"version", text(v["version"])},
                           {"gateway", flag(v["gateway"]) ? "yes" : "no"},
                           {"suites", join(v["suites"])},
                           {"ipv6", flag(v["ipv6support"]) ? "yes" : "no"},
                           {"plugins", join(v["plugins"])}});
}

std::string render_status(const Json::Value& v, const Json::Value& sessions,
                          const Json::Value& scan, const Json::Value& dht, std::int64_t now) {
  const auto& rpc = v["rpc"];
  Rows rows;
  const std::string config = text(v["configFile"]);
  rows.push_back({"config", config.empty() ? "(built-in defaults)" : config});
  rows.push_back({"database", text(v["database"]["file"]) + " (schema " +
                                  std::to_string(integer(v["database"]["schemaVersion"])) + ")"});
  rows.push_back({"rpc", join(rpc["listening"]) + "; " + std::to_string(count(rpc["connections"])) +
                             " open, " + std::to_string(count(rpc["calls"])) + " calls, " +
                             std::to_string(count(rpc["errors"])) + " errors, " +
                             std::to_string(count(rpc["refused"])) + " refused"});
  rows.push_back({"gateway", flag(v["gateway"]) ? "enabled" : "disabled"});
  rows.push_back({"plugins", join(v["plugins"])});
  rows.push_back({"suites", join(v["suites"])});
  if (sessions.isObject()) {
    const auto& sub = sessions["subscriber"];
    std::string uplink = text(sub["state"]);
    if (sub["connection"].isObject())
      uplink += " via " + text(sub["connection"]["gatewayAddress"]) + " (" +
                text(sub["connection"]["suite"]) + ")";
    if (!text(sub["lastError"]).empty()) uplink += "; last problem: " + text(sub["lastError"]);
    rows.push_back({"uplink", uplink});
    if (flag(v["gateway"]))
      rows.push_back({"sessions", std::to_string(sessions["gateway"].size()) + " served"});
  }
  if (scan.isObject()) {
    std::string line;
    if (count(scan["scan"]) == 0)
      line = "none yet";
    else if (flag(scan["running"]))
      line = "#" + std::to_string(count(scan["scan"])) + " running, " +
             std::to_string(count(scan["probed"])) + "/" + std::to_string(count(scan["total"])) +
             " probed";
    else
      line = "#" + std::to_string(count(scan["scan"])) + " found " +
             std::to_string(count(scan["found"])) + " node(s), " +
             std::to_string(count(scan["gateways"])) + " gateway(s), " +
             ago(integer(scan["finishedAt"]), now);
    rows.push_back({"scan", line});
  }
  if (dht.isObject()) {
    std::string line;
    if (!flag(dht["running"])) {
      const std::string error = text(dht["error"]);
      line = "off" + (error.empty() ? "" : " (" + error + ")");
    } else {
      const auto& p = dht["peers"];
      line = "node " + text(dht["nodeId"]).substr(0, 16) + "…, " +
             std::to_string(count(p["ipv4"]["good"]) + count(p["ipv6"]["good"])) + " peer(s), " +
             std::to_string(count(dht["offers"])) + " offer(s) heard" +
             (flag(dht["publishing"]) ? ", publishing ours" : "");
      std::uint64_t dropped = 0;
      if (dht["dropped"].isObject())
        for (const auto& k : dht["dropped"].getMemberNames()) dropped += count(dht["dropped"][k]);
      if (dropped) line += ", " + std::to_string(dropped) + " dropped";
    }
    rows.push_back({"dht", line});
  }
  std::string out =
      terminal_safe("mnigsd " + text(v["version"]) + " \"" + text(v["name"]) + "\", up " +
                    duration(integer(v["uptime"])) + ", pid " + text(v["pid"])) +
      "\n" + render_table({}, rows);
  if (v["restartRequired"].isArray() && !v["restartRequired"].empty())
    out += terminal_safe("restart mnigsd to apply: " + join(v["restartRequired"])) + "\n";
  return out;
}

std::string render_plugins(const Json::Value& list_plugins) {
  Rows rows;
  for (const auto& p : list_plugins["plugins"]) {
    std::string detail = text(p["error"]);
    if (detail.empty()) detail = text(p["summary"]);
    std::string name = text(p["name"]);
    if (name.empty()) name = "(" + text(p["path"]) + ")";
    rows.push_back({name, text(p["kind"]), text(p["version"]), text(p["state"]), detail});
  }
  return render_table({"NAME", "KIND", "VERSION", "STATE", "DETAIL"}, rows);
}

std::string render_gateway_test(const Json::Value& r) {
  auto number = [](const Json::Value& v, const char* unit) {
    if (!v.isNumeric()) return std::string("-");
    char out[64];
    std::snprintf(out, sizeof out, "%.1f%s", v.asDouble(), unit);
    return std::string(out);
  };
  Rows rows;
  rows.push_back({"gateway", host_port(text(r["address"]), r["port"]) +
                                 (text(r["name"]).empty() ? "" : " (" + text(r["name"]) + ")")});
  rows.push_back({"suite", text(r["suite"])});
  rows.push_back({"setup", r["current"].asBool()      ? "the current connection"
                           : r["setupMs"].isNumeric() ? number(r["setupMs"], " ms")
                                                      : "the standby's session"});
  const auto& rtt = r["rttMs"];
  rows.push_back({"round trip", rtt.isObject() ? "min " + number(rtt["min"], "") + ", median " +
                                                     number(rtt["median"], "") + ", p95 " +
                                                     number(rtt["p95"], "") + ", jitter " +
                                                     number(rtt["jitter"], " ms")
                                               : "no answer"});
  rows.push_back({"loss", number(Json::Value(r["loss"].asDouble() * 100), " %") + " of " +
                              std::to_string(count(r["probes"])) + " probes"});
  for (const char* way : {"download", "upload"})
    rows.push_back({way, number(r[way]["mbitPerS"], " Mbit/s") + " (" +
                             std::to_string(count(r[way]["bytes"])) + " bytes in " +
                             number(r[way]["seconds"], " s") + ")"});
  if (!text(r["throughputError"]).empty()) rows.push_back({"problem", text(r["throughputError"])});
  for (const auto& c : r["checks"])
    rows.push_back(
        {"check " + text(c["target"]), text(c["outcome"]) + " (" + text(c["detail"]) + ")"});
  if (!text(r["checksSkipped"]).empty()) rows.push_back({"checks", text(r["checksSkipped"])});
  rows.push_back({"score", number(r["score"], " (lower is better)")});
  std::string out;
  for (const auto& row : rows) out += terminal_safe(row[0] + ": " + row[1]) + "\n";
  return out;
}

std::string render_sessions(const Json::Value& r, std::int64_t now) {
  const auto& sub = r["subscriber"];
  std::string line = "subscriber: " + text(sub["state"]);
  if (sub["connection"].isObject()) {
    const auto& c = sub["connection"];
    line += " to " + host_port(text(c["gatewayAddress"]), c["gatewayPort"]) + " (" +
            text(c["gatewayName"]) + ") with " + text(c["suite"]) + ", session " +
            text(c["sessionId"]);
  }
  std::string out = terminal_safe(line) + "\n";
  if (const std::string t = traffic_text(sub["connection"]["traffic"]); !t.empty())
    out += terminal_safe("  traffic: " + t) + "\n";
  if (const std::string p = payment_text(sub["connection"]["payment"]); !p.empty())
    out += terminal_safe("  " + p) + "\n";
  if (const auto& m = sub["connection"]["meteredByGateway"]; m.isObject())
    out += terminal_safe("  metered by the gateway: " + amount(count(m["bytesOut"])) + " out, " +
                         amount(count(m["bytesIn"])) + " in, as of " +
                         std::to_string(std::max<std::int64_t>(0, now - integer(m["at"]))) +
                         " s ago") +
           "\n";
  if (!text(sub["lastError"]).empty())
    out += "  last problem: " + terminal_safe(text(sub["lastError"])) + "\n";
  if (sub["auto"].isBool())
    out += std::string("  auto mode: ") +
           (sub["auto"].asBool() ? (sub["pinned"].asBool() ? "on, paused by a manual connect or "
                                                             "disconnect (--auto on resumes it)"
                                                           : "on")
                                 : "off") +
           "\n";
  if (const auto& h = sub["health"]; h.isObject()) {
    std::string health = "  health: " + text(h["health"]);
    if (h["rttMs"].isObject()) {
      char figures[128];
      std::snprintf(figures, sizeof figures,
                    ", round trip %.1f ms (min %.1f, p95 %.1f), loss %.0f %%",
                    h["rttMs"]["median"].asDouble(), h["rttMs"]["min"].asDouble(),
                    h["rttMs"]["p95"].asDouble(), h["loss"].asDouble() * 100);
      health += figures;
    }
    out += terminal_safe(health) + "\n";
  }
  if (const auto& st = sub["standby"]; st.isObject()) {
    std::string standby = "  standby: " + host_port(text(st["gatewayAddress"]), st["gatewayPort"]) +
                          " (" + text(st["gatewayName"]) + "), session " + text(st["sessionId"]);
    if (st["health"].isObject()) standby += ", " + text(st["health"]["health"]);
    out += terminal_safe(standby) + "\n";
    if (const std::string t = traffic_text(st["traffic"]); !t.empty())
      out += terminal_safe("    traffic: " + t) + "\n";
  }
  if (const auto& lan = sub["lan"];
      lan.isObject() && lan["prefixes"].isArray() && !lan["prefixes"].empty()) {
    std::string shared = "  LAN sharing the gateway:";
    for (const auto& p : lan["prefixes"]) shared += " " + text(p);
    if (!text(lan["error"]).empty()) shared += " (" + text(lan["error"]) + ")";
    out += terminal_safe(shared) + "\n";
  }
  if (const auto& sw = sub["switches"]; sw.isArray() && !sw.empty()) {
    const auto& last = sw[sw.size() - 1];
    out += terminal_safe("  last switch: " + text(last["from"]) + " -> " + text(last["to"]) + ", " +
                         std::to_string(std::max<std::int64_t>(0, now - integer(last["time"]))) +
                         " s ago: " + text(last["reason"])) +
           "\n";
  }
  const auto& gw = r["gateway"];
  out += "gateway sessions: " + std::to_string(gw.isArray() ? gw.size() : 0) + "\n";
  if (gw.isArray() && !gw.empty()) {
    Rows rows;
    for (const auto& s : gw)
      rows.push_back(
          {text(s["sessionId"]), text(s["subscriber"]), text(s["name"]), text(s["suite"]),
           "in " + std::to_string(std::max<std::int64_t>(0, integer(s["expires"]) - now)) + " s",
           // A daemon from before metering says nothing.
           s["used"].isObject() ? amount(count(s["used"]["bytesOut"])) : "-",
           s["used"].isObject() ? amount(count(s["used"]["bytesIn"])) : "-"});
    out += render_table({"SESSION", "SUBSCRIBER", "NAME", "SUITE", "EXPIRES", "OUT", "IN"}, rows,
                        "  ");
  }
  return out;
}

namespace {

std::string left_text(const Json::Value& seconds, const Json::Value& bytes) {
  std::vector<std::string> parts;
  if (integer(seconds) >= 0) parts.push_back(std::to_string(integer(seconds) / 60) + " min");
  if (integer(bytes) >= 0) parts.push_back(amount(count(bytes)));
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " and ") + p;
  return out;
}

std::string rate_text(const Json::Value& bits) {
  const std::uint64_t b = count(bits);
  if (!b) return "-";
  char out[32];
  if (b >= 1'000'000) std::snprintf(out, sizeof out, "%.1f Mbit/s", b / 1e6);
  else std::snprintf(out, sizeof out, "%.0f kbit/s", b / 1e3);
  return out;
}

}  // namespace

std::string payment_text(const Json::Value& p) {
  if (!p.isObject()) return "";
  if (flag(p["required"]))
    return "payment required: open " + (text(p["url"]).empty() ? std::string("the gateway's page")
                                                               : text(p["url"]));
  const std::string left = left_text(p["secondsRemaining"], p["bytesRemaining"]);
  if (left.empty()) return "";
  return "paid: " + left + " left";
}

std::string render_vouchers(const Json::Value& list, bool created, std::int64_t now) {
  (void)now;
  if (!list.isArray() || list.empty()) return created ? "" : "no vouchers\n";
  auto terms = [](const Json::Value& v) {
    std::string t = integer(v["minutes"]) ? std::to_string(integer(v["minutes"])) + " min"
                                          : std::string("no time limit");
    t += ", " + (integer(v["bytes"]) ? amount(count(v["bytes"])) : std::string("no data limit"));
    if (integer(v["rateDown"]) || integer(v["rateUp"]))
      t += ", " + rate_text(v["rateDown"]) + " down / " + rate_text(v["rateUp"]) + " up";
    t += ", " + std::to_string(integer(v["devices"])) + " device" +
         (integer(v["devices"]) == 1 ? "" : "s");
    return t;
  };
  if (created) {
    std::string out = terminal_safe(std::to_string(list.size()) + " voucher" +
                                    (list.size() == 1 ? "" : "s") + ": " + terms(list[0])) +
                      "\n";
    for (const auto& v : list) out += terminal_safe(text(v["code"])) + "\n";
    return out;
  }
  Rows rows;
  for (const auto& v : list) {
    std::string left = left_text(v["secondsLeft"], v["bytesLeft"]);
    rows.push_back({text(v["code"]), text(v["state"]), terms(v),
                    left.empty() ? "unlimited" : left, amount(count(v["usedBytes"])),
                    text(v["note"])});
  }
  return render_table({"CODE", "STATE", "TERMS", "LEFT", "USED", "NOTE"}, rows);
}

std::string tether_state_line(const Json::Value& p) {
  std::string line = terminal_safe(text(p["state"]));
  if (!text(p["detail"]).empty()) line += ": " + terminal_safe(text(p["detail"]));
  if (!text(p["page"]).empty()) line += " (page at " + terminal_safe(text(p["page"])) + ")";
  return line + "\n";
}

std::string render_tether(const Json::Value& p) {
  std::string out;
  if (!flag(p["serving"])) {
    out = "the tether page is not served";
    if (!text(p["error"]).empty()) out += ": " + terminal_safe(text(p["error"]));
    return out + "\n";
  }
  out = "open on the phone (same Wi-Fi):\n";
  if (p["urls"].isArray())
    for (const auto& u : p["urls"]) out += "  " + terminal_safe(text(u)) + "\n";
  out += "pairing code: " + terminal_safe(text(p["code"])) + "\n";
  return out + "state: " + tether_state_line(p);
}

std::string render_scan_summary(const Json::Value& v) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.2f",
                v["seconds"].isNumeric() ? v["seconds"].asDouble() : 0.0);
  std::string out = "scan #" + std::to_string(count(v["scan"])) + ": " +
                    std::to_string(count(v["found"])) + " node(s), " +
                    std::to_string(count(v["gateways"])) + " gateway(s) from " +
                    std::to_string(count(v["total"])) + " probe(s) in " + seconds + " s\n";
  for (const auto& e : v["errors"])
    out += "  " + terminal_safe(text(e["plugin"]) + ": " + text(e["error"])) + "\n";
  return out;
}

std::string render_nodes(const Json::Value& list, bool gateways_only, std::int64_t now) {
  if (!list.isArray() || list.empty())
    return gateways_only ? "no gateways known; scan with: mnigs-cli -s\n"
                         : "no nodes known; scan with: mnigs-cli -s\n";
  Rows rows;
  for (const auto& n : list) {
    std::vector<std::string> row = {text(n["name"]), text(n["address"]), text(n["port"])};
    if (gateways_only) {
      row.push_back(join(n["suites"], ","));
      row.push_back(price(n));
      char score[32] = "-";  // the last testGateway's, lower is better
      if (n["score"].isNumeric()) std::snprintf(score, sizeof score, "%.1f", n["score"].asDouble());
      row.push_back(score);
      row.push_back(text(n["source"]));
    } else {
      row.push_back(flag(n["gateway"]) ? "yes" : "no");
      row.push_back(join(n["networks"], ","));
    }
    std::string seen = n["lastSeen"].isIntegral() ? ago(integer(n["lastSeen"]), now) : "-";
    if (!flag(n["current"])) seen += " (not in last scan)";
    row.push_back(seen);
    rows.push_back(std::move(row));
  }
  if (gateways_only)
    return render_table(
        {"NAME", "ADDRESS", "PORT", "SUITES", "PRICE", "SCORE", "SOURCE", "LAST SEEN"}, rows);
  return render_table({"NAME", "ADDRESS", "PORT", "GATEWAY", "NETWORKS", "LAST SEEN"}, rows);
}

}  // namespace mnigs::cli
