// olsrd's jsoninfo reply (olsr::jsoninfo::parse), header and all, which
// repeats what OLSR neighbours announced. Also the HTTP framing every olsrd
// reply goes through (split_http, http_message_size) and the view's
// conversion into candidates.
#include "plugins/discovery/olsr/http_reply.hpp"
#include "plugins/discovery/olsr/jsoninfo.hpp"
#include "plugins/discovery/olsr/view.hpp"

#include <cstdint>
#include <cstdlib>

using namespace mnigs::olsr;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view reply(reinterpret_cast<const char*>(data), size);
  if (auto n = http_message_size(reply); n && *n > size) std::abort();
  const HttpReply split = split_http(reply);
  if (split.error.empty() && (split.body.data() < reply.data() ||
                              split.body.data() + split.body.size() > reply.end()))
    std::abort();
  View view;
  const std::string error = jsoninfo::parse(reply, view);
  if (view.skipped.size() > View::kMaxSkipNotes || view.skipped.size() > view.skipped_total)
    std::abort();
  if (error.empty()) to_discovery(view, "olsr");
  return 0;
}
