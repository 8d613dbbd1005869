// Vouchers: what a gateway's operator hands out (printed, sold, or minted by
// a payment backend) and a subscriber redeems on the gateway's payment page.
//
// A code is 12 characters of Crockford's base32 (60 bits from the kernel's
// CSPRNG), shown as XXXX-XXXX-XXXX; typed codes are read the Crockford way
// (any case, dashes and spaces ignored, O as 0, I and L as 1).
//
// A voucher may be limited in time (minutes from its first use), in bytes
// (both ways together), in rate (each way) and in devices (sessions holding
// it at once), and is valid until a deadline. What it used belongs to the
// voucher, not to a session: a second login with the same code, a restart or
// a rebuilt kernel table starts from what was used.
#pragma once

#include <json/value.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mnigs {

struct VoucherTerms {
  std::int64_t minutes = 0;  // from the first use; 0: no time limit
  std::int64_t bytes = 0;    // 0: no byte limit
  std::int64_t rate_down = 0, rate_up = 0;  // bits per second; 0: not limited
  std::int64_t devices = 1;                 // sessions holding it at once
  std::int64_t valid_until = 0;             // unix seconds; 0: no deadline
  std::string note;                         // the operator's, e.g. who bought it
};

struct Voucher {
  std::int64_t id = 0;
  std::string code;  // 12 characters, no dashes
  VoucherTerms terms;
  std::int64_t created = 0;
  std::int64_t first_used = 0;  // unix seconds; 0: never redeemed
  std::int64_t used_bytes = 0;
  bool revoked = false;

  // When it stops being usable by time (its minutes or its deadline,
  // whichever comes first); 0: never.
  std::int64_t ends() const;
  // Why it cannot be used at `now` ("" when it can): revoked, past its
  // deadline, its time or its bytes spent (less than 64 KiB left: what one
  // packet after receive offload may carry, which the kernel's quota refuses
  // whole).
  std::string spent(std::int64_t now) const;
  // Its bytes are spent (whatever its time says).
  bool out_of_bytes() const;
  // Seconds and bytes left at `now`; -1 for no limit.
  std::int64_t seconds_left(std::int64_t now) const;
  std::int64_t bytes_left() const;
  // For listVouchers (with its code) and for logs (without).
  Json::Value describe(std::int64_t now, bool with_code) const;
};

// A fresh code: 60 bits from getrandom. Throws when the CSPRNG fails.
std::string new_voucher_code();
// The code a person typed, read the Crockford way; nullopt and `why` when it
// cannot be a code.
std::optional<std::string> normalize_voucher_code(std::string_view typed, std::string* why);
// XXXX-XXXX-XXXX.
std::string format_voucher_code(const std::string& code);

// createVouchers' params: {"count", "minutes", "bytes", "rateDown",
// "rateUp", "devices", "validUntil" | "validDays", "note"}. Sizes and rates
// may be numbers (bytes, bits per second) or strings ("1G", "4mbit").
// nullopt and `why` for anything out of range; `count` gets the count.
std::optional<VoucherTerms> parse_voucher_terms(const Json::Value& params, std::int64_t now,
                                                std::int64_t* count, std::string* why);

}  // namespace mnigs
