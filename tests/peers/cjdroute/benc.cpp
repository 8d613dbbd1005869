#include "benc.hpp"

namespace cjdroute_peer {

Benc Benc::of(std::int64_t v) {
  Benc b;
  b.kind = Kind::integer;
  b.num = v;
  return b;
}

Benc Benc::of(std::string v) {
  Benc b;
  b.kind = Kind::string;
  b.str = std::move(v);
  return b;
}

Benc Benc::new_list() {
  Benc b;
  b.kind = Kind::list;
  return b;
}

Benc Benc::new_dict() { return Benc{}; }

const std::string* Benc::get_str(const std::string& key) const {
  auto it = entries.find(key);
  return it != entries.end() && it->second.kind == Kind::string ? &it->second.str : nullptr;
}

const std::int64_t* Benc::get_int(const std::string& key) const {
  auto it = entries.find(key);
  return it != entries.end() && it->second.kind == Kind::integer ? &it->second.num : nullptr;
}

const Benc* Benc::get_dict(const std::string& key) const {
  auto it = entries.find(key);
  return it != entries.end() && it->second.kind == Kind::dict ? &it->second : nullptr;
}

namespace {

void put(const Benc& v, std::string& out) {
  switch (v.kind) {
    case Benc::Kind::integer:
      out += "i" + std::to_string(v.num) + "e";
      return;
    case Benc::Kind::string:
      out += std::to_string(v.str.size()) + ":" + v.str;
      return;
    case Benc::Kind::list:
      out += 'l';
      for (const auto& item : v.items) put(item, out);
      out += 'e';
      return;
    case Benc::Kind::dict:
      out += 'd';
      for (const auto& [key, item] : v.entries) {
        out += std::to_string(key.size()) + ":" + key;
        put(item, out);
      }
      out += 'e';
      return;
  }
}

// Mirrors BencMessageReader: strings are a decimal length, ':' and bytes;
// integers "i<decimal>e"; lists and dicts end with 'e'.
class Parser {
 public:
  explicit Parser(std::string_view in) : in_(in) {}

  std::optional<Benc> message() {
    if (in_.empty() || in_[0] != 'd') return std::nullopt;
    auto v = value(0);
    if (!v || pos_ != in_.size()) return std::nullopt;
    return v;
  }

 private:
  std::optional<Benc> value(int depth) {
    if (depth > 64 || pos_ >= in_.size()) return std::nullopt;
    char c = in_[pos_];
    if (c == 'i') {
      ++pos_;
      auto n = number();
      if (!n || pos_ >= in_.size() || in_[pos_] != 'e') return std::nullopt;
      ++pos_;
      return Benc::of(*n);
    }
    if (c >= '0' && c <= '9') {
      auto s = string();
      if (!s) return std::nullopt;
      return Benc::of(std::move(*s));
    }
    if (c == 'l' || c == 'd') {
      ++pos_;
      Benc out = c == 'l' ? Benc::new_list() : Benc::new_dict();
      while (pos_ < in_.size() && in_[pos_] != 'e') {
        if (c == 'l') {
          auto item = value(depth + 1);
          if (!item) return std::nullopt;
          out.items.push_back(std::move(*item));
        } else {
          auto key = string();
          if (!key) return std::nullopt;
          auto item = value(depth + 1);
          if (!item) return std::nullopt;
          out.entries[*key] = std::move(*item);
        }
      }
      if (pos_ >= in_.size()) return std::nullopt;
      ++pos_;
      return out;
    }
    return std::nullopt;
  }

  std::optional<std::int64_t> number() {
    bool negative = pos_ < in_.size() && in_[pos_] == '-';
    if (negative) ++pos_;
    std::size_t start = pos_;
    std::int64_t n = 0;
    while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') {
      if (pos_ - start >= 18) return std::nullopt;
      n = n * 10 + (in_[pos_++] - '0');
    }
    if (pos_ == start) return std::nullopt;
    return negative ? -n : n;
  }

  std::optional<std::string> string() {
    auto len = number();
    if (!len || *len < 0 || pos_ >= in_.size() || in_[pos_] != ':') return std::nullopt;
    ++pos_;
    if (static_cast<std::uint64_t>(*len) > in_.size() - pos_) return std::nullopt;
    std::string s(in_.substr(pos_, static_cast<std::size_t>(*len)));
    pos_ += static_cast<std::size_t>(*len);
    return s;
  }

  std::string_view in_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string write(const Benc& value) {
  std::string out;
  put(value, out);
  return out;
}

std::string write_padded(const Benc& dict) {
  std::string out = write(dict);
  if (out.size() % 8 != 0 && out.size() > 2) out.insert(1, std::string(8 - out.size() % 8, '0'));
  return out;
}

std::optional<Benc> read_message(std::string_view data) { return Parser(data).message(); }

}  // namespace cjdroute_peer
