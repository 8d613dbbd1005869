#include "subscriber/grant.hpp"

#include "util/net.hpp"

#include <optional>

namespace mnigs {
namespace {

constexpr Json::ArrayIndex max_members = 32;
constexpr std::size_t max_string_bytes = 8192;

bool is_credential(const Json::Value& v) {
  if (!v.isString()) return false;
  const std::string s = v.asString();
  if (s.empty() || s.size() > 256) return false;
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

std::string check_seconds(const Json::Value& timeout) {
  if (!timeout.isInt64() || timeout.asInt64() < min_grant_seconds ||
      timeout.asInt64() > max_grant_seconds)
    return "\"timeout\" must be whole seconds from " + std::to_string(min_grant_seconds) +
           " to " + std::to_string(max_grant_seconds);
  return "";
}

bool is_key(const std::string& key) {
  if (key.empty() || key.size() > 32) return false;
  for (char c : key)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_'))
      return false;
  return true;
}

std::string check_value(const std::string& where, const Json::Value& v, int depth) {
  if (v.isString()) {
    const std::string s = v.asString();
    if (s.size() > max_string_bytes)
      return where + " is longer than " + std::to_string(max_string_bytes) + " bytes";
    for (unsigned char c : s)
      if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
        return where + " holds a control character";
    return "";
  }
  if (v.isNumeric() || v.isBool() || v.isNull()) return "";
  if (depth >= 2) return where + " is nested too deeply";
  if (v.size() > max_members) return where + " has more than 32 members";
  if (v.isArray()) {
    for (Json::ArrayIndex i = 0; i < v.size(); ++i)
      if (auto why = check_value(where + "[" + std::to_string(i) + "]", v[i], depth + 1);
          !why.empty())
        return why;
    return "";
  }
  for (const auto& key : v.getMemberNames()) {
    if (!is_key(key)) return where + " has a member name that is not 1-32 letters or digits";
    if (auto why = check_value(where + "." + key, v[key], depth + 1); !why.empty()) return why;
  }
  return "";
}

// An address of the family wanted that a host can hold: not unspecified,
// loopback, multicast, or (IPv6) link-local.
std::optional<boost::asio::ip::address> unicast(const Json::Value& v, bool v6) {
  if (!v.isString()) return std::nullopt;
  const auto a = parse_address(v.asString());
  if (!a || a->is_v6() != v6 || a->is_unspecified() || a->is_loopback() || a->is_multicast())
    return std::nullopt;
  if (v6 && (a->to_v6().is_link_local() || a->to_v6().is_v4_mapped())) return std::nullopt;
  if (v6 && v.asString().find('%') != std::string::npos) return std::nullopt;
  return a;
}

std::string check_family(const Json::Value& t, const char* family, bool v6, unsigned min_length,
                         const boost::asio::ip::address& gateway,
                         const std::vector<boost::asio::ip::address>& local) {
  const std::string address_key = std::string("address") + family,
                    prefix_key = std::string("prefix") + family,
                    gateway_key = std::string("gateway") + family;
  const unsigned max_length = v6 ? 128 : 32;
  if (!t.isMember(address_key)) {
    if (t.isMember(prefix_key) || t.isMember(gateway_key))
      return "\"" + prefix_key + "\" or \"" + gateway_key + "\" without \"" + address_key + "\"";
    return "";
  }
  const auto address = unicast(t[address_key], v6);
  if (!address)
    return "\"" + address_key + "\" is not an IPv" + (v6 ? "6" : "4") + " unicast address";
  unsigned length = max_length;
  if (t.isMember(prefix_key)) {
    const Json::Value& p = t[prefix_key];
    if (!p.isInt64() || p.asInt64() < min_length || p.asInt64() > max_length)
      return "\"" + prefix_key + "\" must be a whole number from " + std::to_string(min_length) +
             " to " + std::to_string(max_length);
    length = static_cast<unsigned>(p.asInt64());
  }
  Prefix network{*address, length};
  if (t.isMember(gateway_key)) {
    const auto via = unicast(t[gateway_key], v6);
    if (!via)
      return "\"" + gateway_key + "\" is not an IPv" + (v6 ? "6" : "4") + " unicast address";
    if (!network.contains(*via))
      return "\"" + gateway_key + "\" " + via->to_string() + " is outside " + address->to_string() +
             "/" + std::to_string(length);
  }
  if (network.contains(gateway))
    return address->to_string() + "/" + std::to_string(length) +
           " covers the gateway's own mesh address " + gateway.to_string();
  for (const auto& a : local)
    if (network.contains(a))
      return address->to_string() + "/" + std::to_string(length) +
             " covers this node's address " + a.to_string() + ": it would capture mesh traffic";
  return "";
}

}  // namespace

std::string check_grant(const Json::Value& g) {
  if (!g.isObject()) return "the reply is not an object";
  if (!is_credential(g["sessionId"]))
    return "\"sessionId\" must be 1 to 256 printable characters without spaces";
  if (!is_credential(g["secret"]))
    return "\"secret\" must be 1 to 256 printable characters without spaces";
  if (auto why = check_seconds(g["timeout"]); !why.empty()) return why;
  if (!g["tunnel"].isObject()) return "\"tunnel\" must be an object";
  return "";
}

std::string check_renewal(const Json::Value& r) {
  if (!r.isObject()) return "the reply is not an object";
  return check_seconds(r["timeout"]);
}

std::string check_tunnel_params(const Json::Value& t, const std::string& gateway_address,
                                const std::vector<std::string>& local_addresses) {
  if (!t.isObject()) return "\"tunnel\" must be an object";
  if (auto why = check_value("\"tunnel\"", t, 0); !why.empty()) return why;
  for (const char* key : {"path", "token"})
    if (t.isMember(key)) {
      if (!is_credential(t[key]))
        return std::string("\"") + key +
               "\" must be 1 to 256 printable characters without spaces";
    }
  if (t.isMember("path") && t["path"].asString().front() != '/')
    return "\"path\" must start with /";
  if (t.isMember("mtu") &&
      (!t["mtu"].isInt64() || t["mtu"].asInt64() < 576 || t["mtu"].asInt64() > 65535))
    return "\"mtu\" must be a whole number from 576 to 65535";
  const auto gateway = parse_address(gateway_address);
  if (!gateway) return "the gateway address " + gateway_address + " is not an IP address";
  std::vector<boost::asio::ip::address> local;
  for (const auto& text : local_addresses)
    if (auto a = parse_address(text)) local.push_back(unmap(*a));
  if (auto why = check_family(t, "4", false, 8, unmap(*gateway), local); !why.empty()) return why;
  return check_family(t, "6", true, 64, unmap(*gateway), local);
}

// The gateway's "used" in a renewal, when it holds what it should: byte
// counts and seconds as non-negative integers.
std::optional<Json::Value> check_metered(const Json::Value& used, std::int64_t now) {
  if (!used.isObject()) return std::nullopt;
  Json::Value m(Json::objectValue);
  for (const char* key : {"bytesOut", "bytesIn", "seconds"}) {
    if (!used[key].isInt64() || used[key].asInt64() < 0) return std::nullopt;
    m[key] = static_cast<Json::Int64>(used[key].asInt64());
  }
  m["at"] = static_cast<Json::Int64>(now);
  return m;
}

// The gateway's "payment", when it holds what it should; the URL only if it
// is a plain http(s) URL of printable characters.
std::optional<Json::Value> check_payment(const Json::Value& p) {
  if (!p.isObject() || !p["required"].isBool()) return std::nullopt;
  Json::Value out(Json::objectValue);
  out["required"] = p["required"].asBool();
  out["paid"] = p["paid"].isBool() ? p["paid"].asBool() : !p["required"].asBool();
  for (const char* key : {"secondsRemaining", "bytesRemaining"})
    out[key] = p[key].isInt64() && p[key].asInt64() >= -1 ? p[key].asInt64() : Json::Int64(-1);
  if (p["url"].isString()) {
    const std::string url = p["url"].asString();
    const bool printable = std::all_of(url.begin(), url.end(), [](char c) {
      return c > 0x20 && c < 0x7f && c != '"' && c != '\'' && c != '`' && c != '\\';
    });
    if (url.size() <= 512 && printable &&
        (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0))
      out["url"] = url;
  }
  return out;
}

}  // namespace mnigs
