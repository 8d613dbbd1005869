// cjdroute.conf and ~/.cjdnsadmin as the cjdns plugin reads them
// (cjdroute_conf_to_json, parse_commented_json, admin_from_conf,
// admin_from_cjdnsadmin). Local files, but written by another program and
// edited by hand. What cjdroute_conf_to_json makes must be JSON that jsoncpp
// reads, or parse_commented_json fails saying why.
#include "plugins/discovery/cjdns/settings.hpp"

#include <cstdint>
#include <cstdlib>

using namespace mnigs::cjdns;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string why;
  if (!cjdroute_conf_to_json(text, &why) && why.empty()) std::abort();
  why.clear();
  if (!parse_commented_json(text, &why) && why.empty()) std::abort();
  why.clear();
  if (auto t = admin_from_conf(text, "/etc/cjdroute.conf", &why)) {
    t->endpoint();
  } else if (why.empty()) {
    std::abort();
  }
  why.clear();
  if (auto t = admin_from_cjdnsadmin(text, "/root/.cjdnsadmin", &why)) {
    t->endpoint();
  } else if (why.empty()) {
    std::abort();
  }
  why.clear();
  parse_bind(text, &why);
  return 0;
}
