#include "dht/offer.hpp"

#include <boost/asio/ip/address.hpp>
#include <json/reader.h>
#include <json/writer.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>

namespace mnigs {
namespace {

// Limits of the wire form. Generous for real gateways, small enough that a
// hostile offer cannot make a listener store much.
constexpr std::size_t max_name_bytes = 128;
constexpr std::size_t max_addresses = 16;
constexpr std::size_t max_suites = 32;
constexpr std::size_t max_suite_bytes = 128;
constexpr std::size_t max_currency_bytes = 16;
constexpr std::uint32_t max_sessions = 1'000'000;
constexpr double max_price = 1e12;
constexpr std::size_t node_id_hex_digits = 64;
constexpr std::size_t max_key_method_bytes = 32;
constexpr std::size_t max_key_bytes = 128;
constexpr std::size_t max_service_bytes = 96;

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Suites and currencies are identifiers: letters, digits and . _ + -
bool is_token(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '+' || c == '-';
  });
}

// Key fingerprints: letters, digits and : + / = . _ - (hex, base64, a
// "sha256:" prefix), nothing a log line, a header or a shell would read
// otherwise.
bool is_key_text(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == ':' || c == '+' || c == '/' || c == '=' || c == '.' || c == '_' || c == '-';
  });
}

// Well-formed UTF-8 without control characters: names end up in logs and
// the web UI.
bool is_printable_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return false;
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates, beyond Unicode, C1 controls.
    static constexpr std::uint32_t min_cp[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[extra] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
        (cp >= 0x80 && cp < 0xa0))
      return false;
    i += extra + 1;
  }
  return true;
}

// A mesh address a subscriber can connect to: a plain IPv4 or IPv6 literal,
// no zone, not unspecified, loopback, multicast or IPv6 link-local (which
// would point a subscriber at itself or at nothing).
std::string check_address(const std::string& text) {
  if (text.empty() || text.size() > 45 || text.find('%') != std::string::npos)
    return "address \"" + text + "\" is not an IPv4 or IPv6 literal";
  boost::system::error_code ec;
  const auto addr = boost::asio::ip::make_address(text, ec);
  if (ec) return "address \"" + text + "\" is not an IPv4 or IPv6 literal";
  if (addr.is_unspecified() || addr.is_loopback() || addr.is_multicast())
    return "address \"" + text + "\" cannot be reached from the mesh";
  if (addr.is_v6() && (addr.to_v6().is_link_local() || addr.to_v6().is_v4_mapped()))
    return "address \"" + text + "\" cannot be reached from the mesh";
  return "";
}

std::string check_strings(const std::vector<std::string>& list, const char* what,
                          std::size_t max_count) {
  if (list.empty()) return std::string("no ") + what;
  if (list.size() > max_count)
    return std::string("more than ") + std::to_string(max_count) + " " + what;
  if (std::set<std::string>(list.begin(), list.end()).size() != list.size())
    return std::string("duplicate ") + what;
  return "";
}

bool is_integer(const Json::Value& v) {
  return v.type() == Json::intValue || v.type() == Json::uintValue;
}

// Reads an integer member in [lo, hi]; false with `why` set otherwise.
bool get_int(const Json::Value& obj, const char* key, std::int64_t lo, std::int64_t hi,
             std::int64_t& out, std::string& why) {
  const Json::Value& v = obj[key];
  if (v.isNull()) return why = std::string("no \"") + key + "\"", false;
  if (!is_integer(v) || !v.isInt64() || v.asInt64() < lo || v.asInt64() > hi) {
    why = std::string("\"") + key + "\" must be an integer from " + std::to_string(lo) + " to " +
          std::to_string(hi);
    return false;
  }
  out = v.asInt64();
  return true;
}

bool get_string(const Json::Value& obj, const char* key, std::string& out, std::string& why) {
  const Json::Value& v = obj[key];
  if (!v.isString()) return why = std::string("\"") + key + "\" must be a string", false;
  out = v.asString();
  return true;
}

bool get_bool(const Json::Value& obj, const char* key, bool& out, std::string& why) {
  const Json::Value& v = obj[key];
  if (!v.isBool()) return why = std::string("\"") + key + "\" must be true or false", false;
  out = v.asBool();
  return true;
}

bool get_strings(const Json::Value& obj, const char* key, std::size_t max_count,
                 std::vector<std::string>& out, std::string& why) {
  const Json::Value& v = obj[key];
  if (!v.isArray()) return why = std::string("\"") + key + "\" must be a list", false;
  // Bound before copying anything.
  if (v.size() > max_count) {
    why = std::string("more than ") + std::to_string(max_count) + " " + key;
    return false;
  }
  for (const auto& item : v) {
    if (!item.isString()) return why = std::string("\"") + key + "\" must hold strings", false;
    out.push_back(item.asString());
  }
  return true;
}

bool fail(std::string* why, std::string text) {
  if (why) *why = std::move(text);
  return false;
}

bool get_keys(const Json::Value& v, std::map<std::string, std::string>& out, std::string& why) {
  auto keys = tunnel_keys_from_json(v, "keys", &why);
  if (!keys) return false;
  out = std::move(*keys);
  return true;
}

bool get_services(const Json::Value& v, std::map<std::string, std::string>& out,
                  std::string& why) {
  auto services = services_from_json(v, "services", &why);
  if (!services) return false;
  out = std::move(*services);
  return true;
}

// An object of at most `most` strings, each name and value passing `check`.
std::optional<std::map<std::string, std::string>> named_strings(
    const Json::Value& v, const std::string& member, std::size_t most,
    std::string (*check)(const std::string&, const std::string&), std::string* why) {
  const std::string name = "\"" + member + "\"";
  if (!v.isObject()) return fail(why, name + " must be an object"), std::nullopt;
  // Bound before copying anything.
  if (v.size() > most)
    return fail(why, name + " has more than " + std::to_string(most) + " entries"),
           std::nullopt;
  std::map<std::string, std::string> out;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it->isString()) return fail(why, name + " must hold strings"), std::nullopt;
    const std::string key = it.name();
    if (auto problem = check(key, it->asString()); !problem.empty())
      return fail(why, name + ": " + problem), std::nullopt;
    out[key] = it->asString();
  }
  return out;
}

Json::Value strings_to_json(const std::map<std::string, std::string>& map) {
  Json::Value out(Json::objectValue);
  for (const auto& [name, value] : map) out[name] = value;
  return out;
}

}  // namespace

std::string check_tunnel_key(const std::string& method, const std::string& key) {
  if (method.empty() || method.size() > max_key_method_bytes || !is_token(method))
    return "a tunnel method is not a name of 1 to " + std::to_string(max_key_method_bytes) +
           " letters, digits, '.', '_', '+' or '-'";
  if (key.empty() || key.size() > max_key_bytes || !is_key_text(key))
    return "the key for \"" + method + "\" is not 1 to " + std::to_string(max_key_bytes) +
           " letters, digits, ':', '+', '/', '=', '.', '_' or '-'";
  return "";
}

std::optional<std::map<std::string, std::string>> tunnel_keys_from_json(const Json::Value& v,
                                                                        const std::string& member,
                                                                        std::string* why) {
  return named_strings(v, member, max_tunnel_keys, check_tunnel_key, why);
}

Json::Value tunnel_keys_to_json(const std::map<std::string, std::string>& keys) {
  return strings_to_json(keys);
}

std::string check_service(const std::string& name, const std::string& where) {
  if (name.empty() || name.size() > max_key_method_bytes || !is_token(name))
    return "a service is not named by 1 to " + std::to_string(max_key_method_bytes) +
           " letters, digits, '.', '_', '+' or '-'";
  const bool printable = std::all_of(where.begin(), where.end(), [](char c) {
    return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
  if (where.empty() || where.size() > max_service_bytes || !printable)
    return "where \"" + name + "\" is reached is not 1 to " +
           std::to_string(max_service_bytes) + " printable ASCII characters without spaces";
  return "";
}

std::optional<std::map<std::string, std::string>> services_from_json(const Json::Value& v,
                                                                     const std::string& member,
                                                                     std::string* why) {
  return named_strings(v, member, max_services, check_service, why);
}

Json::Value services_to_json(const std::map<std::string, std::string>& services) {
  return strings_to_json(services);
}

std::string validate_offer(const GatewayOffer& o) {
  if (o.node_id.size() != node_id_hex_digits || !is_lower_hex(o.node_id))
    return "node id must be " + std::to_string(node_id_hex_digits) + " lowercase hex digits";
  if (o.name.size() > max_name_bytes)
    return "name is longer than " + std::to_string(max_name_bytes) + " bytes";
  if (!is_printable_utf8(o.name)) return "name is not printable UTF-8";
  if (auto why = check_strings(o.addresses, "addresses", max_addresses); !why.empty()) return why;
  for (const auto& a : o.addresses)
    if (auto why = check_address(a); !why.empty()) return why;
  if (o.rpc_port == 0) return "RPC port must be from 1 to 65535";
  if (auto why = check_strings(o.suites, "suites", max_suites); !why.empty()) return why;
  for (const auto& s : o.suites)
    if (s.empty() || s.size() > max_suite_bytes || !is_token(s))
      return "suite \"" + s.substr(0, max_suite_bytes) + "\" is not a name of up to " +
             std::to_string(max_suite_bytes) + " letters, digits, '.', '_', '+' or '-'";
  if (!std::isfinite(o.price) || o.price < 0 || o.price > max_price)
    return "price must be a number from 0 to 1e12";
  if (!std::isfinite(o.price_per_gb) || o.price_per_gb < 0 || o.price_per_gb > max_price)
    return "pricePerGB must be a number from 0 to 1e12";
  if (o.currency.size() > max_currency_bytes || !is_token(o.currency))
    return "currency must be up to " + std::to_string(max_currency_bytes) +
           " letters, digits, '.', '_', '+' or '-'";
  if (o.max_connections == 0 || o.max_connections > max_sessions)
    return "maxConnections must be from 1 to " + std::to_string(max_sessions);
  if (o.sessions > max_sessions)
    return "sessions must be from 0 to " + std::to_string(max_sessions);
  if (o.keys.size() > max_tunnel_keys)
    return "more than " + std::to_string(max_tunnel_keys) + " tunnel keys";
  for (const auto& [method, key] : o.keys)
    if (auto why = check_tunnel_key(method, key); !why.empty()) return why;
  if (o.services.size() > max_services)
    return "more than " + std::to_string(max_services) + " services";
  for (const auto& [name, where] : o.services)
    if (auto why = check_service(name, where); !why.empty()) return why;
  if (o.expires <= 0) return "expires must be a positive unix time";
  return "";
}

Json::Value offer_to_json(const GatewayOffer& o) {
  Json::Value out(Json::objectValue);
  out["v"] = offer_wire_version;
  out["id"] = o.node_id;
  out["name"] = o.name;
  out["addresses"] = Json::Value(Json::arrayValue);
  for (const auto& a : o.addresses) out["addresses"].append(a);
  out["rpcPort"] = o.rpc_port;
  out["suites"] = Json::Value(Json::arrayValue);
  for (const auto& s : o.suites) out["suites"].append(s);
  out["price"] = o.price;
  out["currency"] = o.currency;
  if (o.price_per_gb > 0) out["pricePerGB"] = o.price_per_gb;
  if (o.voucher_only) out["voucherOnly"] = true;
  if (o.payment_required) out["paymentRequired"] = true;
  out["maxConnections"] = o.max_connections;
  out["sessions"] = o.sessions;
  out["ipv6"] = o.ipv6;
  if (!o.keys.empty()) out["keys"] = tunnel_keys_to_json(o.keys);
  if (!o.services.empty()) out["services"] = strings_to_json(o.services);
  out["expires"] = Json::Int64(o.expires);
  if (o.withdrawn) out["withdrawn"] = true;
  return out;
}

std::optional<std::string> encode_offer(const GatewayOffer& offer, std::string* why) {
  if (auto problem = validate_offer(offer); !problem.empty()) {
    fail(why, "invalid offer: " + problem);
    return std::nullopt;
  }
  Json::StreamWriterBuilder builder;
  builder["indentation"] = "";
  builder["emitUTF8"] = true;
  std::string text = Json::writeString(builder, offer_to_json(offer));
  if (text.size() > max_offer_bytes) {
    fail(why, "offer encodes to " + std::to_string(text.size()) + " bytes, more than " +
                  std::to_string(max_offer_bytes));
    return std::nullopt;
  }
  return text;
}

std::optional<GatewayOffer> decode_offer(std::string_view text, std::string* why) {
  if (text.size() > max_offer_bytes) {
    fail(why, "offer is " + std::to_string(text.size()) + " bytes, more than " +
                  std::to_string(max_offer_bytes));
    return std::nullopt;
  }
  Json::CharReaderBuilder builder;
  Json::CharReaderBuilder::strictMode(&builder.settings_);
  builder["stackLimit"] = 8;  // an offer is two levels deep
  const std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value root;
  std::string errors;
  bool parsed = false;
  try {
    parsed = reader->parse(text.data(), text.data() + text.size(), &root, &errors);
  } catch (const Json::Exception&) {  // jsoncpp throws past stackLimit
    errors = "nested deeper than an offer";
  }
  if (!parsed) {
    fail(why, "offer is not strict JSON: " + errors.substr(0, errors.find('\n')));
    return std::nullopt;
  }
  if (!root.isObject()) {
    fail(why, "offer is not a JSON object");
    return std::nullopt;
  }
  std::string problem;
  std::int64_t version = 0, port = 0, max_conn = 0, sessions = 0, expires = 0;
  GatewayOffer o;
  const bool read =
      get_int(root, "v", 0, 1'000'000, version, problem) &&
      (version == offer_wire_version ||
       fail(&problem, "offer version " + std::to_string(version) + " is not supported")) &&
      get_string(root, "id", o.node_id, problem) && get_string(root, "name", o.name, problem) &&
      get_strings(root, "addresses", max_addresses, o.addresses, problem) &&
      get_int(root, "rpcPort", 1, 65535, port, problem) &&
      get_strings(root, "suites", max_suites, o.suites, problem) &&
      (root["price"].isNumeric() || fail(&problem, "\"price\" must be a number")) &&
      get_string(root, "currency", o.currency, problem) &&
      get_int(root, "maxConnections", 1, max_sessions, max_conn, problem) &&
      get_int(root, "sessions", 0, max_sessions, sessions, problem) &&
      get_bool(root, "ipv6", o.ipv6, problem) &&
      get_int(root, "expires", 1, INT64_MAX, expires, problem) &&
      (!root.isMember("withdrawn") || get_bool(root, "withdrawn", o.withdrawn, problem)) &&
      (!root.isMember("pricePerGB") || root["pricePerGB"].isNumeric() ||
       fail(&problem, "\"pricePerGB\" must be a number")) &&
      (!root.isMember("voucherOnly") || get_bool(root, "voucherOnly", o.voucher_only, problem)) &&
      (!root.isMember("paymentRequired") ||
       get_bool(root, "paymentRequired", o.payment_required, problem)) &&
      (!root.isMember("keys") || get_keys(root["keys"], o.keys, problem)) &&
      (!root.isMember("services") || get_services(root["services"], o.services, problem));
  if (!read) {
    fail(why, "malformed offer: " + problem);
    return std::nullopt;
  }
  o.rpc_port = static_cast<std::uint16_t>(port);
  o.price = root["price"].asDouble();
  if (root.isMember("pricePerGB")) o.price_per_gb = root["pricePerGB"].asDouble();
  o.max_connections = static_cast<std::uint32_t>(max_conn);
  o.sessions = static_cast<std::uint32_t>(sessions);
  o.expires = expires;
  if (auto invalid = validate_offer(o); !invalid.empty()) {
    fail(why, "invalid offer: " + invalid);
    return std::nullopt;
  }
  return o;
}

std::string check_offer_time(const GatewayOffer& offer, std::int64_t now,
                             std::int64_t max_lifetime) {
  if (offer.expires <= now)
    return "offer expired " + std::to_string(now - offer.expires) + " s ago";
  if (offer.expires - now > max_lifetime)
    return "offer claims to live " + std::to_string(offer.expires - now) + " s, more than " +
           std::to_string(max_lifetime);
  return "";
}

}  // namespace mnigs
