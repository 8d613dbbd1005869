// A payment confirmation as anyone who reaches the gateway's page may send
// one: webhook-id, webhook-timestamp, webhook-signature and the body, split
// from the input at NUL bytes, checked against a fixed secret; then the body
// parsed as the plugin parses it (parse_confirmation) and its voucher
// terms read as createVouchers reads them.
#include "gateway/vouchers.hpp"
#include "webhook.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 24 * 1024) return 0;
  std::vector<std::string> parts(1);
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == 0 && parts.size() < 4) parts.emplace_back();
    else parts.back() += static_cast<char>(data[i]);
  }
  parts.resize(4);
  static const std::string key =
      *mnigs::webpage::webhook_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  mnigs::webpage::verify_webhook(key, parts[0], parts[1], parts[2], parts[3], 1'614'265'330);
  mnigs::webpage::SeenIds seen;
  if (!seen.seen(parts[0], 1'614'265'330)) seen.add(parts[0], 1'614'265'330);

  auto body = mnigs::webpage::parse_confirmation(parts[3]);
  if (!body) return 0;
  std::string errors;
  std::int64_t count = 0;
  mnigs::parse_voucher_terms(body->voucher, 1'614'265'330, &count, &errors);
  return 0;
}
