// A gateway's pool of tunnel addresses, for the tunnel plugins: one IPv4
// and one IPv6 prefix, the gateway taking the first host address of each
// (10.98.0.1, fd98::1 for websocket's) and every session one more of each.
//
// Threading: used on the plugin's strand only.
#pragma once

#include <json/value.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace mnigs::tunnels {

class AddressPool {
 public:
  // `prefix4` like "10.98.0.0/24" (/8 to /30), `prefix6` like "fd98::/64"
  // (/64 to /126); "" turns that family off. Throws std::invalid_argument
  // with a sentence naming the key (`key4`, `key6`) and the value.
  AddressPool(const std::string& prefix4, const std::string& prefix6, const std::string& key4,
              const std::string& key6);

  bool has4() const { return bits4_ != 0; }
  bool has6() const { return bits6_ != 0; }
  const std::string& gateway4() const { return gateway4_; }  // "" when off
  const std::string& gateway6() const { return gateway6_; }
  int prefix_length4() const { return bits4_; }
  int prefix_length6() const { return bits6_; }

  // The lowest free address of the family; nullopt when it is off or full.
  std::optional<std::string> take4();
  std::optional<std::string> take6();
  // Marks `address` used (a session resumed after a restart). False when it
  // is not a host address of the pool or is taken already.
  bool reserve(const std::string& address);
  // Frees an address; unknown ones are ignored.
  void release(const std::string& address);
  std::size_t used() const { return used4_.size() + used6_.size(); }

  // A session's tunnel addresses ("" for a family the pool has not).
  struct Allotment {
    std::string address4, address6;
  };
  // Those `resumed` holds ("address4", "address6" of the tunnel params a
  // session had before a restart), reserved again; for a new session (no
  // such members) the lowest free of each family. nullopt with `why` when
  // the pool is exhausted or a resumed address is outside it or taken;
  // nothing is held then.
  std::optional<Allotment> allot(const Json::Value& resumed, std::string* why);
  void release(const Allotment& allotment);
  // Writes the allotment into a session's tunnel params as the subscriber
  // reads them: address4, prefix4, gateway4 (and the same with 6) for each
  // family it has.
  void describe(const Allotment& allotment, Json::Value& params) const;

 private:
  // Host numbers: 1 is the gateway, sessions get 2..capacity.
  std::optional<std::uint64_t> host_of(const std::string& address, bool* v6) const;
  std::string address_of(std::uint64_t host, bool v6) const;

  std::string prefix4_, prefix6_;
  int bits4_ = 0, bits6_ = 0;
  std::uint32_t net4_ = 0;
  unsigned char net6_[16] = {};
  std::uint64_t capacity4_ = 0, capacity6_ = 0;  // highest usable host number
  std::string gateway4_, gateway6_;
  std::set<std::uint64_t> used4_, used6_;
};

}  // namespace mnigs::tunnels
