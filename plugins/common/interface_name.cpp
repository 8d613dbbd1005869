#include "interface_name.hpp"

#include <net/if.h>

#include <algorithm>

namespace mnigs {

bool valid_interface_name(std::string_view name) {
  if (name.empty() || name.size() >= IFNAMSIZ || name == "." || name == "..") return false;
  // The kernel's isspace(): ' ', \t, \n, \v, \f, \r, and 0xa0 (its ctype
  // table is Latin-1).
  return std::none_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return c == '/' || c == ':' || c == '%' || c == '\0' || c == ' ' || (c >= '\t' && c <= '\r') ||
           u == 0xa0;
  });
}

bool nft_quotable_interface_name(std::string_view name) {
  return valid_interface_name(name) && std::none_of(name.begin(), name.end(), [](char c) {
           const auto u = static_cast<unsigned char>(c);
           return u < 0x20 || u >= 0x7f || c == '"' || c == '\\';
         });
}

std::string uplink_interface(const std::string& base, unsigned n) {
  if (n == 0) return base;
  std::size_t digits = base.size();
  while (digits > 0 && base[digits - 1] >= '0' && base[digits - 1] <= '9') --digits;
  // Up to 9 digits of the name's own number: anything longer is no number.
  if (digits == base.size() || base.size() - digits > 9) return base + std::to_string(n);
  return base.substr(0, digits) + std::to_string(std::stoul(base.substr(digits)) + n);
}

std::string free_uplink_interface(const std::string& base, unsigned count,
                                  const std::function<bool(const std::string&)>& taken) {
  for (unsigned n = 0; n < count; ++n)
    if (const std::string name = uplink_interface(base, n); !taken(name)) return name;
  return "";
}

bool is_uplink_interface(const std::string& base, unsigned count, const std::string& name) {
  for (unsigned n = 0; n < count; ++n)
    if (uplink_interface(base, n) == name) return true;
  return false;
}

}  // namespace mnigs
