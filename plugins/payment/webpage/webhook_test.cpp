// Payment confirmations: Standard Webhooks signatures, checked against the
// test vector published with that specification (secret, id, timestamp,
// payload and signature below are its values), the clock window, and replays.
#include "webhook.hpp"

#include <gtest/gtest.h>

namespace mnigs::webpage {
namespace {

const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const std::string kId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const std::string kTimestamp = "1614265330";
const std::string kPayload = R"({"test": 2432232314})";
const std::string kSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
constexpr std::int64_t kNow = 1614265330;

TEST(Webhook, ThePublishedTestVectorIsReproducedAndAccepted) {
  auto key = webhook_key(kSecret + "\n");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->size(), 24u);
  EXPECT_EQ(webhook_signature(*key, kId, kTimestamp, kPayload), kSignature);
  EXPECT_EQ(verify_webhook(*key, kId, kTimestamp, kSignature, kPayload, kNow), "");
  // One of several signatures (a rotated key's beside it) is enough.
  EXPECT_EQ(verify_webhook(*key, kId, kTimestamp, "v1,AAAA " + kSignature, kPayload, kNow), "");
}

TEST(Webhook, AnythingChangedIsRefused) {
  const std::string key = *webhook_key(kSecret);
  EXPECT_NE(verify_webhook(key, kId, kTimestamp, kSignature, R"({"test": 2432232315})", kNow), "");
  EXPECT_NE(verify_webhook(key, "msg_other", kTimestamp, kSignature, kPayload, kNow), "");
  EXPECT_NE(verify_webhook("other key", kId, kTimestamp, kSignature, kPayload, kNow), "");
  EXPECT_NE(verify_webhook(key, kId, kTimestamp, "", kPayload, kNow), "");
  EXPECT_NE(verify_webhook(key, kId, kTimestamp, "v1,", kPayload, kNow), "");
  EXPECT_NE(verify_webhook(key, "", kTimestamp, kSignature, kPayload, kNow), "");
  EXPECT_NE(verify_webhook(key, kId, "16142653x0", kSignature, kPayload, kNow), "");
}

TEST(Webhook, OnlyFreshConfirmationsAreTaken) {
  const std::string key = *webhook_key(kSecret);
  EXPECT_EQ(verify_webhook(key, kId, kTimestamp, kSignature, kPayload, kNow + kTolerance), "");
  EXPECT_EQ(verify_webhook(key, kId, kTimestamp, kSignature, kPayload, kNow - kTolerance), "");
  EXPECT_NE(verify_webhook(key, kId, kTimestamp, kSignature, kPayload, kNow + kTolerance + 1), "");
  EXPECT_NE(verify_webhook(key, kId, kTimestamp, kSignature, kPayload, kNow - kTolerance - 1), "");
}

TEST(Webhook, SecretsAreWhsecBase64OrPlainText) {
  EXPECT_FALSE(webhook_key(""));
  EXPECT_FALSE(webhook_key("  \n"));
  EXPECT_FALSE(webhook_key("whsec_not*base64"));
  EXPECT_EQ(webhook_key("  plain secret \n"), "plain secret");
}

TEST(Webhook, ABodyIsAVoucherAndMaybeASession) {
  auto c = parse_confirmation(R"({"voucher": {"minutes": 60}, "session": "9f1c"})");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->voucher["minutes"].asInt(), 60);
  EXPECT_EQ(c->session, "9f1c");
  EXPECT_EQ(parse_confirmation(R"({"voucher": {}})")->session, "");
  for (const char* bad : {"", "[]", R"({"voucher": 1})", R"({"voucher": {}, "session": 5})",
                          R"({"voucher": {}, "voucher": {}})", R"({"voucher": {}} x)",
                          R"({"voucher": {"a": [[[[[[[[[[1]]]]]]]]]]}})"})
    EXPECT_FALSE(parse_confirmation(bad)) << bad;
}

TEST(Webhook, AnIdIsTakenOnceWithinTheWindow) {
  SeenIds seen;
  EXPECT_FALSE(seen.seen("a", 1000));
  EXPECT_TRUE(seen.add("a", 1000));
  EXPECT_TRUE(seen.seen("a", 1000 + kTolerance));
  // Forgotten only once its timestamp could no longer pass the window.
  EXPECT_FALSE(seen.seen("a", 1000 + 2 * kTolerance + 1));
  for (std::size_t i = 0; i < SeenIds::kMax; ++i) seen.add(std::to_string(i), 5000);
  EXPECT_FALSE(seen.add("one too many", 5000));
}

}  // namespace
}  // namespace mnigs::webpage
