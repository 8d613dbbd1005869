// The forger's values are refused by a listener for the reason they were
// made for: the forged one as forged (not as malformed, which would test
// nothing), the tampered one as a bad signature.
#include "forgery.hpp"

#include "dht/identity.hpp"
#include "dht/offer_value.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace mnigs::forger {
namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Forgery : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    forger_ = new dht::crypto::Identity(dht::crypto::generateIdentity("forger", {}, 2048));
    victim_ = new dht::crypto::Identity(dht::crypto::generateIdentity("victim", {}, 2048));
  }
  static void TearDownTestSuite() {
    delete forger_;
    delete victim_;
  }

  static GatewayOffer offer(const std::string& node_id, const std::string& name) {
    GatewayOffer o;
    o.node_id = node_id;
    o.name = name;
    o.addresses = {"10.78.0.5"};
    o.rpc_port = 65533;
    o.suites = {"babel-forwarding-free"};
    o.max_connections = 10;
    o.expires = unix_now() + 600;
    return o;
  }
  static std::string id_of(const dht::crypto::Identity& identity) {
    return identity_id(identity.first->getPublicKey());
  }

  static inline dht::crypto::Identity* forger_ = nullptr;
  static inline dht::crypto::Identity* victim_ = nullptr;
};

TEST_F(Forgery, ForgedOfferIsValidlySignedButRefusedAsForged) {
  const auto value = forged_offer_value(offer(id_of(*victim_), "gw"), *forger_->first, 7);
  EXPECT_EQ(value->id, 7u);
  EXPECT_TRUE(value->isSigned());
  EXPECT_TRUE(static_cast<const dht::Value&>(*value).checkSignature());
  const auto checked = check_offer_value(*value, unix_now());
  EXPECT_EQ(checked.verdict, OfferVerdict::forged) << checked.why;
}

TEST_F(Forgery, TamperedOfferCarriesTheAlteredDataAndABadSignature) {
  const auto genuine = offer(id_of(*forger_), "dht-forger");
  auto altered = genuine;
  altered.name = "tampered dht-forger";
  const auto value = tampered_offer_value(genuine, altered, *forger_->first, 8);
  const std::string data(value->data.begin(), value->data.end());
  EXPECT_EQ(decode_offer(data), altered);
  const auto checked = check_offer_value(*value, unix_now());
  EXPECT_EQ(checked.verdict, OfferVerdict::bad_signature) << checked.why;
}

TEST_F(Forgery, WithoutTheTamperingTheSameOfferIsAccepted) {
  // The control: the forger's own offer, untouched, passes every check.
  const auto genuine = offer(id_of(*forger_), "dht-forger");
  const auto value = tampered_offer_value(genuine, genuine, *forger_->first, 9);
  const auto checked = check_offer_value(*value, unix_now());
  EXPECT_EQ(checked.verdict, OfferVerdict::accepted) << checked.why;
}

TEST_F(Forgery, InvalidOffersAreRefusedBeforeSigning) {
  auto bad = offer(id_of(*forger_), "x");
  bad.addresses = {"not an address"};
  EXPECT_THROW(forged_offer_value(bad, *forger_->first, 1), std::invalid_argument);
  EXPECT_THROW(tampered_offer_value(offer(id_of(*forger_), "x"), bad, *forger_->first, 1),
               std::invalid_argument);
}

}  // namespace
}  // namespace mnigs::forger
