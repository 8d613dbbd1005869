// A datagram from cjdroute's admin interface: bencode::decode, then what the
// plugin makes of a reply, as collector.cpp does: the "routingTable" and
// "peers" lists through interpret(). A value that decodes encodes to
// canonical bencoding, which decodes to the same value.
#include "plugins/discovery/cjdns/bencode.hpp"
#include "plugins/discovery/cjdns/nodes.hpp"

#include <cstdint>
#include <cstdlib>

using namespace mnigs::cjdns;

namespace {

bool same(const bencode::Value& a, const bencode::Value& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case bencode::Value::Type::integer: return a.i == b.i;
    case bencode::Value::Type::string: return a.s == b.s;
    case bencode::Value::Type::list:
      if (a.l.size() != b.l.size()) return false;
      for (std::size_t i = 0; i < a.l.size(); ++i)
        if (!same(a.l[i], b.l[i])) return false;
      return true;
    case bencode::Value::Type::dict:
      if (a.d.size() != b.d.size()) return false;
      for (auto i = a.d.begin(), j = b.d.begin(); i != a.d.end(); ++i, ++j)
        if (i->first != j->first || !same(i->second, j->second)) return false;
      return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 65536) return 0;  // kMaxReplyBytes: the client reads no more
  std::string why;
  auto value = bencode::decode(std::string_view(reinterpret_cast<const char*>(data), size), &why);
  if (!value) {
    if (why.empty()) std::abort();
    return 0;
  }
  const std::string again = bencode::encode(*value);
  auto back = bencode::decode(again, &why);
  if (!back || !same(*back, *value) || bencode::encode(*back) != again) std::abort();
  if (!value->is_dict()) return 0;
  std::vector<bencode::Value> table, peers;
  if (const auto* l = value->find(list_key(kDumpTable)); l && l->is_list()) table = l->l;
  if (const auto* l = value->find(list_key(kPeerStats)); l && l->is_list()) peers = l->l;
  value->get_string("error");
  value->get_integer("more");
  interpret(table, peers);
  return 0;
}
