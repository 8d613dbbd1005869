#include "announcement.hpp"

#include <boost/asio/ip/address.hpp>
#include <json/reader.h>
#include <json/value.h>
#include <json/writer.h>

#include <algorithm>
#include <exception>
#include <limits>
#include <memory>
#include <optional>

namespace mnigs::l2 {

namespace {

// The value of a JSON integer (a number written with a fraction or exponent
// is not one); nullopt for anything else. Huge unsigned values saturate.
std::optional<std::int64_t> integer(const Json::Value& v) {
  if (v.type() == Json::intValue) return v.asInt64();
  if (v.type() == Json::uintValue)
    return v.asUInt64() > static_cast<Json::UInt64>(std::numeric_limits<std::int64_t>::max())
               ? std::numeric_limits<std::int64_t>::max()
               : static_cast<std::int64_t>(v.asUInt64());
  return std::nullopt;
}

Rejection reject(std::string reason) { return Rejection{std::move(reason)}; }

// The parsed root object, or a rejection. Strict JSON, one value, no
// duplicate keys, shallow: an announcement nests two levels at most.
std::variant<Json::Value, Rejection> parse_json(std::string_view datagram) {
  Json::CharReaderBuilder builder;
  Json::CharReaderBuilder::strictMode(&builder.settings_);
  builder.settings_["stackLimit"] = 8;
  std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value root;
  std::string errors;
  try {
    if (!reader->parse(datagram.data(), datagram.data() + datagram.size(), &root, &errors))
      return reject("not valid JSON");
  } catch (const std::exception&) {  // jsoncpp throws when the stack limit is hit
    return reject("nested too deeply");
  }
  if (!root.isObject()) return reject("not a JSON object");
  return root;
}

// Fills `out` from "addrs", or says what is wrong with it.
std::optional<Rejection> read_addresses(const Json::Value& list, std::vector<std::string>& out) {
  if (!list.isArray()) return reject("\"addrs\" is not an array");
  if (list.size() > kMaxAddresses)
    return reject("\"addrs\" has " + std::to_string(list.size()) + " entries (at most " +
                  std::to_string(kMaxAddresses) + ")");
  for (const auto& item : list) {
    if (!item.isString()) return reject("\"addrs\" holds a value that is not a string");
    std::string address = announceable_address(item.asString());
    if (address.empty())
      return reject("\"addrs\" holds \"" + item.asString().substr(0, 64) +
                    "\", not an announceable IPv4 or IPv6 address");
    // A repeated address adds nothing; keep the first.
    if (std::find(out.begin(), out.end(), address) == out.end()) out.push_back(std::move(address));
  }
  return std::nullopt;
}

}  // namespace

bool valid_node_id(std::string_view id) {
  return id.size() == kNodeIdLength && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string announceable_address(std::string_view text) {
  if (text.find('%') != std::string_view::npos) return "";
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(text), ec);
  if (ec || a.is_unspecified() || a.is_loopback() || a.is_multicast()) return "";
  if (a.is_v6()) {
    auto v6 = a.to_v6();
    if (v6.is_link_local() || v6.is_v4_mapped()) return "";
  }
  return a.to_string();
}

std::string encode(const Announcement& a) {
  Json::Value root(Json::objectValue);
  root["mnigs"] = std::string(kMagic);
  root["v"] = kVersion;
  root["id"] = a.node_id;
  root["interval"] = a.interval;
  Json::Value addrs(Json::arrayValue);
  for (std::size_t i = 0; i < a.addresses.size() && i < kMaxAddresses; ++i)
    addrs.append(a.addresses[i]);
  root["addrs"] = addrs;
  Json::StreamWriterBuilder writer;
  writer["indentation"] = "";
  return Json::writeString(writer, root);
}

std::variant<Announcement, Rejection> decode(std::string_view datagram) {
  if (datagram.empty()) return reject("empty datagram");
  if (datagram.size() > kMaxDatagram)
    return reject("oversized datagram (" + std::to_string(datagram.size()) + " bytes, at most " +
                  std::to_string(kMaxDatagram) + ")");
  auto parsed = parse_json(datagram);
  if (auto* r = std::get_if<Rejection>(&parsed)) return *r;
  const Json::Value& root = std::get<Json::Value>(parsed);

  const Json::Value& magic = root["mnigs"];
  if (!magic.isString() || magic.asString() != kMagic) return reject("no \"mnigs\":\"l2\" magic");
  auto version = integer(root["v"]);
  if (!version) return reject("\"v\" is not an integer");
  if (*version != kVersion)
    return reject("unsupported version " + std::to_string(*version) + " (this node speaks " +
                  std::to_string(kVersion) + ")");

  Announcement a;
  const Json::Value& id = root["id"];
  if (!id.isString() || !valid_node_id(id.asString()))
    return reject("\"id\" is not " + std::to_string(kNodeIdLength) + " lowercase hex digits");
  a.node_id = id.asString();
  auto interval = integer(root["interval"]);
  if (!interval || *interval < 1 || *interval > kMaxInterval)
    return reject("\"interval\" is not an integer from 1 to " + std::to_string(kMaxInterval));
  a.interval = static_cast<int>(*interval);
  if (!root.isMember("addrs")) return reject("no \"addrs\"");
  if (auto r = read_addresses(root["addrs"], a.addresses)) return *r;
  return a;
}

}  // namespace mnigs::l2
