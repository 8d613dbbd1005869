// What a subscriber posts to the gateway's payment page (payment/webpage):
// the form body, then the code in it read the Crockford way, then the page
// rendered with it as the message (escaped, into the built-in template).
#include "gateway/vouchers.hpp"
#include "page.hpp"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The server reads at most 16 KiB of body.
  if (size > 16 * 1024) return 0;
  const std::string body(reinterpret_cast<const char*>(data), size);
  auto form = mnigs::webpage::parse_form(body);
  if (!form) return 0;
  std::string why;
  auto code = mnigs::normalize_voucher_code((*form)["code"], &why);
  mnigs::webpage::PageView view;
  view.message = code ? mnigs::format_voucher_code(*code) : why;
  view.terms = (*form)["accept"];
  mnigs::webpage::page(mnigs::webpage::builtin_template(), view);
  return 0;
}
