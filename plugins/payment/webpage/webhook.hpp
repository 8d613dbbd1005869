// Payment confirmations from the operator's payment backend, signed as
// Standard Webhooks (https://www.standardwebhooks.com) sign them:
//   webhook-id: msg_2KWPBgLlAfxdpx2AI54pPJ85f4W
//   webhook-timestamp: 1733400000            (unix seconds)
//   webhook-signature: v1,<base64 of HMAC-SHA256(secret, id "." timestamp "." body)>
// (several space-separated signatures are allowed, for key rotation). The
// secret is the file's content, "whsec_" followed by base64, as those
// libraries write it, or any other text taken as it is. A confirmation more
// than kTolerance away from our clock, or whose id was seen before, is
// refused.
#pragma once

#include <json/value.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace mnigs::webpage {

constexpr std::int64_t kTolerance = 300;  // seconds either way

// The key bytes of a secret as written in the secret file (surrounding
// whitespace ignored); nullopt for an empty one or bad base64 after whsec_.
std::optional<std::string> webhook_key(const std::string& file_content);
// "v1,<base64>" for `key` over id.timestamp.body.
std::string webhook_signature(const std::string& key, const std::string& id,
                              const std::string& timestamp, const std::string& body);

// Checks a confirmation's headers and body at `now` (unix seconds): "" when
// it is genuine and fresh, else why not. Does not look at replays.
std::string verify_webhook(const std::string& key, const std::string& id,
                           const std::string& timestamp, const std::string& signatures,
                           const std::string& body, std::int64_t now);

// A confirmation's body, {"voucher": {terms}, "session": optional id}, as
// strict JSON nested at most 8 levels (the server read at most 16 KiB);
// nullopt when it is not that.
struct Confirmation {
  Json::Value voucher;  // createVouchers' params
  std::string session;  // "" for none
};
std::optional<Confirmation> parse_confirmation(const std::string& body);

// The ids of confirmations taken within the tolerance, to refuse replays.
class SeenIds {
 public:
  static constexpr std::size_t kMax = 10000;
  // Whether `id` was taken; forgets ids older than twice the tolerance.
  bool seen(const std::string& id, std::int64_t now);
  // Records `id` at `at`; false when kMax ids are held (refuse for now).
  bool add(const std::string& id, std::int64_t at);
  void erase(const std::string& id) { ids_.erase(id); }
  std::size_t size() const { return ids_.size(); }

 private:
  std::map<std::string, std::int64_t> ids_;
};

}  // namespace mnigs::webpage
