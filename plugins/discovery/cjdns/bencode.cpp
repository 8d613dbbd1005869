#include "bencode.hpp"

#include <limits>

namespace mnigs::cjdns::bencode {

Value Value::integer(std::int64_t v) {
  Value out;
  out.type = Type::integer;
  out.i = v;
  return out;
}

Value Value::string(std::string v) {
  Value out;
  out.type = Type::string;
  out.s = std::move(v);
  return out;
}

Value Value::list(std::vector<Value> v) {
  Value out;
  out.type = Type::list;
  out.l = std::move(v);
  return out;
}

Value Value::dict(std::map<std::string, Value> v) {
  Value out;
  out.type = Type::dict;
  out.d = std::move(v);
  return out;
}

const Value* Value::find(const std::string& key) const {
  if (!is_dict()) return nullptr;
  auto it = d.find(key);
  return it == d.end() ? nullptr : &it->second;
}

std::optional<std::string> Value::get_string(const std::string& key) const {
  const Value* v = find(key);
  if (!v || !v->is_string()) return std::nullopt;
  return v->s;
}

std::optional<std::int64_t> Value::get_integer(const std::string& key) const {
  const Value* v = find(key);
  if (!v || !v->is_integer()) return std::nullopt;
  return v->i;
}

namespace {

void encode_to(const Value& v, std::string& out) {
  switch (v.type) {
    case Value::Type::integer:
      out += 'i';
      out += std::to_string(v.i);
      out += 'e';
      break;
    case Value::Type::string:
      out += std::to_string(v.s.size());
      out += ':';
      out += v.s;
      break;
    case Value::Type::list:
      out += 'l';
      for (const auto& item : v.l) encode_to(item, out);
      out += 'e';
      break;
    case Value::Type::dict:
      out += 'd';
      // std::map orders std::string keys by unsigned bytes, as bencode wants.
      for (const auto& [key, item] : v.d) {
        out += std::to_string(key.size());
        out += ':';
        out += key;
        encode_to(item, out);
      }
      out += 'e';
      break;
  }
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A recursive-descent reader over one buffer; every read checks the end
// first, so truncated input is an error, never an overrun.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  std::optional<Value> document(std::string* why) {
    auto v = value(0);
    if (v && pos_ != in_.size()) fail("unexpected data after the end of the message");
    if (!error_.empty()) {
      if (why) *why = "at byte " + std::to_string(error_at_) + ": " + error_;
      return std::nullopt;
    }
    return v;
  }

 private:
  std::optional<Value> value(int depth) {
    if (depth > kMaxDepth)
      return fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    if (pos_ >= in_.size()) return fail("input ends where a value should start");
    char c = in_[pos_];
    if (c == 'i') return integer();
    if (is_digit(c)) {
      auto s = string();
      if (!s) return std::nullopt;
      return Value::string(std::move(*s));
    }
    if (c == 'l') return list(depth);
    if (c == 'd') return dict(depth);
    return fail(std::string("unexpected character '") + printable(c) + "'");
  }

  std::optional<Value> integer() {
    const std::size_t begin = pos_;
    auto v = integer_body();
    // Point errors at the 'i', not wherever scanning stopped.
    if (!v) error_at_ = begin;
    return v;
  }

  std::optional<Value> integer_body() {
    ++pos_;  // 'i'
    bool negative = false;
    if (pos_ < in_.size() && in_[pos_] == '-') {
      negative = true;
      ++pos_;
    }
    std::size_t start = pos_;
    while (pos_ < in_.size() && is_digit(in_[pos_])) ++pos_;
    std::size_t digits = pos_ - start;
    if (pos_ >= in_.size()) return fail("input ends inside an integer");
    if (in_[pos_] != 'e') return fail("integer not terminated by 'e'");
    if (digits == 0) return fail("integer without digits");
    if (digits > 1 && in_[start] == '0') return fail("integer with a leading zero");
    if (negative && in_[start] == '0') return fail("negative zero");
    // Accumulate negatively so that INT64_MIN fits.
    std::int64_t v = 0;
    for (std::size_t k = start; k < start + digits; ++k) {
      int d = in_[k] - '0';
      if (v < (std::numeric_limits<std::int64_t>::min() + d) / 10)
        return fail("integer out of range");
      v = v * 10 - d;
    }
    if (!negative) {
      if (v == std::numeric_limits<std::int64_t>::min()) return fail("integer out of range");
      v = -v;
    }
    ++pos_;  // 'e'
    return Value::integer(v);
  }

  // Leading zeros in the length are accepted: cjdroute pads the first key's
  // length with them. The digit count is capped so the number cannot overflow.
  std::optional<std::string> string() {
    std::size_t start = pos_;
    while (pos_ < in_.size() && is_digit(in_[pos_])) {
      if (pos_ - start >= kMaxLengthDigits) {
        fail("string length has more than " + std::to_string(kMaxLengthDigits) + " digits");
        return std::nullopt;
      }
      ++pos_;
    }
    if (pos_ >= in_.size()) {
      fail("input ends inside a string length");
      return std::nullopt;
    }
    if (in_[pos_] != ':') {
      fail("string length not followed by ':'");
      return std::nullopt;
    }
    std::uint64_t len = 0;
    for (std::size_t k = start; k < pos_; ++k) len = len * 10 + static_cast<unsigned>(in_[k] - '0');
    ++pos_;  // ':'
    if (len > in_.size() - pos_) {
      fail("string of " + std::to_string(len) + " bytes runs past the end of the input");
      return std::nullopt;
    }
    std::string out(in_.substr(pos_, static_cast<std::size_t>(len)));
    pos_ += static_cast<std::size_t>(len);
    return out;
  }

  std::optional<Value> list(int depth) {
    ++pos_;  // 'l'
    Value out = Value::list();
    for (;;) {
      if (pos_ >= in_.size()) return fail("input ends inside a list");
      if (in_[pos_] == 'e') break;
      auto item = value(depth + 1);
      if (!item) return std::nullopt;
      out.l.push_back(std::move(*item));
    }
    ++pos_;  // 'e'
    return out;
  }

  std::optional<Value> dict(int depth) {
    ++pos_;  // 'd'
    Value out = Value::dict();
    for (;;) {
      if (pos_ >= in_.size()) return fail("input ends inside a dictionary");
      if (in_[pos_] == 'e') break;
      if (!is_digit(in_[pos_])) return fail("dictionary key is not a string");
      std::size_t key_at = pos_;
      auto key = string();
      if (!key) return std::nullopt;
      auto item = value(depth + 1);
      if (!item) return std::nullopt;
      if (!out.d.emplace(std::move(*key), std::move(*item)).second) {
        error_at_ = key_at;
        return fail_here("duplicate dictionary key");
      }
    }
    ++pos_;  // 'e'
    return out;
  }

  static char printable(char c) { return (c >= 0x20 && c < 0x7f) ? c : '?'; }

  std::nullopt_t fail(const std::string& what) {
    if (error_.empty()) {
      error_ = what;
      error_at_ = pos_;
    }
    return std::nullopt;
  }
  // Like fail() but keeps an error_at_ already set by the caller.
  std::nullopt_t fail_here(const std::string& what) {
    if (error_.empty()) error_ = what;
    return std::nullopt;
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  std::string error_;
  std::size_t error_at_ = 0;
};

}  // namespace

std::string encode(const Value& value) {
  std::string out;
  encode_to(value, out);
  return out;
}

std::optional<Value> decode(std::string_view input, std::string* why) {
  return Reader(input).document(why);
}

}  // namespace mnigs::cjdns::bencode
