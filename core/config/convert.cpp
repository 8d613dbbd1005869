#include "config/convert.hpp"

#include "config/schema.hpp"
#include "util/net.hpp"
#include "util/text.hpp"

#include <json/writer.h>

#include <algorithm>
#include <charconv>

namespace mnigs {
namespace {

std::optional<bool> parse_bool(std::string_view s) {
  std::string t(s);
  std::transform(t.begin(), t.end(), t.begin(), ::tolower);
  if (t == "true" || t == "yes" || t == "on" || t == "y") return true;
  if (t == "false" || t == "no" || t == "off" || t == "n") return false;
  return std::nullopt;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  s = trim(s);
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// Converts one scalar (text) into the item type; `spec` is the key's spec.
std::optional<Json::Value> scalar(const KeySpec& spec, ValueType type, std::string_view text,
                                  std::string* why) {
  switch (type) {
    case ValueType::boolean:
      if (auto b = parse_bool(text)) return Json::Value(*b);
      break;
    case ValueType::integer:
      if (auto v = parse_int(text); v && *v >= spec.min && *v <= spec.max)
        return Json::Value(Json::Int64(*v));
      break;
    case ValueType::port:
      if (auto v = parse_int(text); v && *v >= 1 && *v <= 65535) return Json::Value(int(*v));
      break;
    case ValueType::address:
      if (trim(text).empty()) return Json::Value("");
      if (auto a = parse_address(trim(text))) return Json::Value(a->to_string());
      break;
    case ValueType::cidr_list: {
      std::string reason;
      if (auto p = parse_prefix(trim(text), &reason)) return Json::Value(p->to_string());
      if (why) *why = "\"" + std::string(text) + "\": " + reason;
      return std::nullopt;
    }
    case ValueType::string:
      if (spec.choices.empty() ||
          std::find(spec.choices.begin(), spec.choices.end(), text) != spec.choices.end())
        return Json::Value(std::string(text));
      break;
    case ValueType::string_list:
    case ValueType::port_list:
      break;
  }
  if (why) *why = "";
  return std::nullopt;
}

ValueType item_type(ValueType list) {
  switch (list) {
    case ValueType::port_list: return ValueType::port;
    case ValueType::cidr_list: return ValueType::cidr_list;  // items parse as one prefix
    default: return ValueType::string;
  }
}

bool is_list(ValueType t) {
  return t == ValueType::string_list || t == ValueType::port_list || t == ValueType::cidr_list;
}

std::string bad(const KeySpec& spec, std::string_view got, const std::string& detail) {
  std::string msg = "must be " + describe_type(spec) + " (got " + std::string(got) + ")";
  if (!detail.empty()) msg += ": " + detail;
  return msg;
}

std::optional<Json::Value> list_from_items(const KeySpec& spec,
                                           const std::vector<std::string>& items,
                                           std::string_view shown, std::string* why) {
  KeySpec item_spec = spec;
  item_spec.choices.clear();
  Json::Value out(Json::arrayValue);
  for (const auto& raw : items) {
    std::string detail;
    auto v = scalar(item_spec, item_type(spec.type), trim(raw), &detail);
    if (!v) {
      if (why) *why = bad(spec, shown, detail);
      return std::nullopt;
    }
    out.append(*v);
  }
  return out;
}

}  // namespace

std::string show_value(const Json::Value& value) {
  Json::StreamWriterBuilder b;
  b["indentation"] = "";
  return Json::writeString(b, value);
}

std::optional<Json::Value> convert_yaml(const KeySpec& spec, const YAML::Node& node,
                                        std::string* why) {
  if (is_list(spec.type)) {
    if (node.IsNull()) return Json::Value(Json::arrayValue);
    if (node.IsScalar()) return convert_text(spec, node.Scalar(), why);
    if (!node.IsSequence()) {
      if (why) *why = bad(spec, "a mapping", "");
      return std::nullopt;
    }
    std::vector<std::string> items;
    for (const auto& item : node) {
      if (!item.IsScalar()) {
        if (why) *why = bad(spec, "a nested structure", "");
        return std::nullopt;
      }
      items.push_back(item.Scalar());
    }
    return list_from_items(spec, items, "[" + std::to_string(items.size()) + " items]", why);
  }
  if (node.IsNull() && (spec.type == ValueType::string || spec.type == ValueType::address) &&
      spec.choices.empty())
    return Json::Value("");
  if (!node.IsScalar()) {
    if (why) *why = bad(spec, node.IsSequence() ? "a list" : "a mapping", "");
    return std::nullopt;
  }
  std::string detail;
  if (auto v = scalar(spec, spec.type, node.Scalar(), &detail)) return v;
  if (why) *why = bad(spec, "\"" + node.Scalar() + "\"", detail);
  return std::nullopt;
}

std::optional<Json::Value> convert_text(const KeySpec& spec, std::string_view text,
                                        std::string* why) {
  if (is_list(spec.type)) {
    auto t = trim(text);
    if (t.empty() || t == "[]") return Json::Value(Json::arrayValue);
    if (t.front() == '[') {
      try {
        return convert_yaml(spec, YAML::Load(std::string(t)), why);
      } catch (const YAML::Exception& e) {
        if (why) *why = bad(spec, "\"" + std::string(text) + "\"", e.msg);
        return std::nullopt;
      }
    }
    return list_from_items(spec, split(t, ','), "\"" + std::string(text) + "\"", why);
  }
  std::string detail;
  std::string_view value = text;
  // Accept the quoting a shell user may have kept: --set main.name='"x"'.
  std::string unquoted;
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
      value.back() == value.front()) {
    try {
      unquoted = YAML::Load(std::string(value)).as<std::string>();
      value = unquoted;
    } catch (const YAML::Exception&) {
    }
  }
  if (auto v = scalar(spec, spec.type, value, &detail)) return v;
  if (why) *why = bad(spec, "\"" + std::string(text) + "\"", detail);
  return std::nullopt;
}

std::optional<Json::Value> convert_json(const KeySpec& spec, const Json::Value& value,
                                        std::string* why) {
  if (value.isString()) return convert_text(spec, value.asString(), why);
  if (value.isBool() && spec.type == ValueType::boolean) return value;
  if (value.isInt64() && (spec.type == ValueType::integer || spec.type == ValueType::port))
    return convert_text(spec, std::to_string(value.asInt64()), why);
  if (value.isArray() && is_list(spec.type)) {
    std::vector<std::string> items;
    for (const auto& item : value) {
      if (item.isString()) items.push_back(item.asString());
      else if (item.isInt64()) items.push_back(std::to_string(item.asInt64()));
      else {
        if (why) *why = bad(spec, show_value(value), "");
        return std::nullopt;
      }
    }
    return list_from_items(spec, items, show_value(value), why);
  }
  if (why) *why = bad(spec, show_value(value), "");
  return std::nullopt;
}

}  // namespace mnigs
