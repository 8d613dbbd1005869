#include "gateway/vouchers.hpp"

#include "util/units.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace mnigs {

namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // Crockford's base32
constexpr std::size_t kCodeLength = 12;                             // 60 bits
constexpr std::int64_t kMaxCount = 1000;
constexpr std::int64_t kMaxMinutes = 60 * 24 * 3660;  // ten years
constexpr std::int64_t kMaxDevices = 1000;
constexpr std::size_t kMaxNote = 200;
constexpr std::int64_t kQuotaSlack = 64 * 1024;

}  // namespace

std::int64_t Voucher::ends() const {
  std::int64_t end = terms.valid_until;
  if (terms.minutes > 0 && first_used > 0) {
    const std::int64_t by_time = first_used + terms.minutes * 60;
    end = end ? std::min(end, by_time) : by_time;
  }
  return end;
}

std::string Voucher::spent(std::int64_t now) const {
  if (revoked) return "the voucher was revoked";
  if (terms.valid_until && now >= terms.valid_until) return "the voucher is past its deadline";
  if (const std::int64_t end = ends(); end && now >= end) return "the voucher's time is used up";
  // The kernel refuses the packet that would cross the quota, whole; with
  // receive offload one such packet may be 64 KiB. Less than that left is
  // spent.
  if (out_of_bytes()) return "the voucher's data is used up";
  return "";
}

bool Voucher::out_of_bytes() const {
  return terms.bytes && used_bytes + std::min(kQuotaSlack, terms.bytes) >= terms.bytes;
}

std::int64_t Voucher::seconds_left(std::int64_t now) const {
  std::int64_t end = ends();
  if (!end && terms.minutes > 0) return terms.minutes * 60;  // not started yet
  if (!end) return -1;
  if (terms.minutes > 0 && !first_used) end = std::min(end, now + terms.minutes * 60);
  return std::max<std::int64_t>(0, end - now);
}

std::int64_t Voucher::bytes_left() const {
  if (!terms.bytes) return -1;
  return std::max<std::int64_t>(0, terms.bytes - used_bytes);
}

Json::Value Voucher::describe(std::int64_t now, bool with_code) const {
  Json::Value v(Json::objectValue);
  v["id"] = static_cast<Json::Int64>(id);
  if (with_code) v["code"] = format_voucher_code(code);
  v["minutes"] = static_cast<Json::Int64>(terms.minutes);
  v["bytes"] = static_cast<Json::Int64>(terms.bytes);
  v["rateDown"] = static_cast<Json::Int64>(terms.rate_down);
  v["rateUp"] = static_cast<Json::Int64>(terms.rate_up);
  v["devices"] = static_cast<Json::Int64>(terms.devices);
  v["validUntil"] = static_cast<Json::Int64>(terms.valid_until);
  v["note"] = terms.note;
  v["created"] = static_cast<Json::Int64>(created);
  v["firstUsed"] = static_cast<Json::Int64>(first_used);
  v["usedBytes"] = static_cast<Json::Int64>(used_bytes);
  v["secondsLeft"] = static_cast<Json::Int64>(seconds_left(now));
  v["bytesLeft"] = static_cast<Json::Int64>(bytes_left());
  v["revoked"] = revoked;
  const std::string why = spent(now);
  v["state"] = !why.empty() ? "spent" : first_used ? "in use" : "new";
  if (!why.empty()) v["why"] = why;
  return v;
}

std::string new_voucher_code() {
  unsigned char bytes[8];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("getrandom failed: ") + std::strerror(errno));
    got += static_cast<std::size_t>(n);
  }
  std::uint64_t bits = 0;
  for (unsigned char b : bytes) bits = (bits << 8) | b;
  std::string code;
  for (std::size_t i = 0; i < kCodeLength; ++i, bits >>= 5) code += kAlphabet[bits & 31];
  return code;
}

std::optional<std::string> normalize_voucher_code(std::string_view typed, std::string* why) {
  auto fail = [&](std::string text) -> std::optional<std::string> {
    if (why) *why = std::move(text);
    return std::nullopt;
  };
  if (typed.size() > 64) return fail("a voucher code has 12 characters");
  std::string code;
  for (char c : typed) {
    if (c == '-' || c == ' ') continue;
    char u = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    if (u == 'O') u = '0';
    if (u == 'I' || u == 'L') u = '1';
    if (!std::strchr(kAlphabet, u) || u == '\0')
      return fail("a voucher code has only the letters and digits printed on it");
    code += u;
  }
  if (code.size() != kCodeLength) return fail("a voucher code has 12 characters");
  return code;
}

std::string format_voucher_code(const std::string& code) {
  if (code.size() != kCodeLength) return code;
  return code.substr(0, 4) + "-" + code.substr(4, 4) + "-" + code.substr(8, 4);
}

std::optional<VoucherTerms> parse_voucher_terms(const Json::Value& params, std::int64_t now,
                                                std::int64_t* count, std::string* why) {
  auto fail = [&](std::string text) -> std::optional<VoucherTerms> {
    if (why) *why = std::move(text);
    return std::nullopt;
  };
  if (!params.isObject() && !params.isNull())
    return fail("params must be an object: {\"count\", \"minutes\", \"bytes\", \"rateDown\", "
                "\"rateUp\", \"devices\", \"validDays\", \"note\"}");
  static const char* known[] = {"count",  "minutes",    "bytes",     "rateDown", "rateUp",
                                "devices", "validUntil", "validDays", "note"};
  for (const auto& name : params.getMemberNames())
    if (std::find_if(std::begin(known), std::end(known),
                     [&](const char* k) { return name == k; }) == std::end(known))
      return fail("unknown field \"" + name + "\"");
  auto integer = [&](const char* key, std::int64_t fallback, std::int64_t min, std::int64_t max,
                     std::int64_t* out) -> bool {
    const Json::Value& v = params[key];
    if (v.isNull()) {
      *out = fallback;
      return true;
    }
    if (!v.isInt64() || v.asInt64() < min || v.asInt64() > max) {
      if (why)
        *why = std::string(key) + " must be a whole number from " + std::to_string(min) +
               " to " + std::to_string(max);
      return false;
    }
    *out = v.asInt64();
    return true;
  };
  // A number, or a string parsed by `parse` ("1G", "4mbit").
  auto amount = [&](const char* key, auto parse, std::int64_t* out) -> bool {
    const Json::Value& v = params[key];
    if (v.isNull()) {
      *out = 0;
      return true;
    }
    if (v.isInt64() && v.asInt64() >= 0) {
      *out = v.asInt64();
      return true;
    }
    std::string error;
    if (v.isString()) {
      if (auto n = parse(v.asString(), &error)) {
        *out = *n;
        return true;
      }
    } else {
      error = "must be a whole number or a string such as \"1G\" or \"4mbit\"";
    }
    if (why) *why = std::string(key) + ": " + error;
    return false;
  };
  VoucherTerms t;
  std::int64_t n = 1, valid_days = 0;
  if (!integer("count", 1, 1, kMaxCount, &n) ||
      !integer("minutes", 0, 0, kMaxMinutes, &t.minutes) ||
      !integer("devices", 1, 1, kMaxDevices, &t.devices) ||
      !integer("validDays", 0, 0, 3660, &valid_days) ||
      !integer("validUntil", 0, 0, std::int64_t{1} << 40, &t.valid_until) ||
      !amount("bytes", [](const std::string& s, std::string* w) { return parse_bytes(s, w); },
              &t.bytes) ||
      !amount("rateDown", [](const std::string& s, std::string* w) { return parse_rate(s, w); },
              &t.rate_down) ||
      !amount("rateUp", [](const std::string& s, std::string* w) { return parse_rate(s, w); },
              &t.rate_up))
    return std::nullopt;
  if (t.rate_down && t.rate_down < 8000) return fail("rateDown must be at least 8kbit");
  if (t.rate_up && t.rate_up < 8000) return fail("rateUp must be at least 8kbit");
  if (params.isMember("validUntil") && params.isMember("validDays"))
    return fail("give validUntil or validDays, not both");
  if (valid_days) t.valid_until = now + valid_days * 86400;
  if (t.valid_until && t.valid_until <= now) return fail("validUntil is in the past");
  if (params.isMember("note")) {
    if (!params["note"].isString() || params["note"].asString().size() > kMaxNote)
      return fail("note must be a string of at most 200 bytes");
    t.note = params["note"].asString();
  }
  if (count) *count = n;
  return t;
}

}  // namespace mnigs
