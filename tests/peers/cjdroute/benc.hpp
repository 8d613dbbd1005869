// Bencode for the cjdroute stand-in, written from cjdns' own reader and
// writer (benc/serialization/standard) rather than shared with the plugin,
// so that a mistake in one is not hidden by the same mistake in the other.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cjdroute_peer {

struct Benc {
  enum class Kind { integer, string, list, dict } kind = Kind::dict;
  std::int64_t num = 0;
  std::string str;
  std::vector<Benc> items;
  std::map<std::string, Benc> entries;

  static Benc of(std::int64_t v);
  static Benc of(std::string v);
  static Benc of(const char* v) { return of(std::string(v)); }
  static Benc new_list();
  static Benc new_dict();

  const std::string* get_str(const std::string& key) const;
  const std::int64_t* get_int(const std::string& key) const;
  const Benc* get_dict(const std::string& key) const;
};

// Sorted keys, as cjdns' Dict keeps them.
std::string write(const Benc& value);

// cjdroute's reply framing: BencMessageWriter pads the first key's length
// with zeros so the message starts 8-byte aligned in its buffer, which makes
// the message length a multiple of 8 ("d0000005:error...").
std::string write_padded(const Benc& dict);

// Reads one dictionary spanning the whole datagram, as BencMessageReader and
// Admin.c's "garbage after byte" check do; nullopt on anything else. Depth
// is bounded.
std::optional<Benc> read_message(std::string_view data);

}  // namespace cjdroute_peer
