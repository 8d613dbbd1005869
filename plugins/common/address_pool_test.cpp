// The tunnel plugins' address pool.
#include "address_pool.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <utility>

namespace mnigs::tunnels {
namespace {

TEST(AddressPool, GatewayTakesTheFirstAddressAndSessionsTheLowestFree) {
  AddressPool pool("10.98.0.0/24", "fd98::/64", "x.pool4", "x.pool6");
  EXPECT_EQ(pool.gateway4(), "10.98.0.1");
  EXPECT_EQ(pool.gateway6(), "fd98::1");
  EXPECT_EQ(pool.take4(), "10.98.0.2");
  EXPECT_EQ(pool.take4(), "10.98.0.3");
  EXPECT_EQ(pool.take6(), "fd98::2");
  pool.release("10.98.0.2");
  EXPECT_EQ(pool.take4(), "10.98.0.2");
  EXPECT_EQ(pool.take4(), "10.98.0.4");
}

TEST(AddressPool, ResumedSessionsKeepTheirAddresses) {
  AddressPool pool("10.98.0.0/24", "fd98::/64", "x.pool4", "x.pool6");
  EXPECT_TRUE(pool.reserve("10.98.0.7"));
  EXPECT_TRUE(pool.reserve("fd98::9"));
  EXPECT_FALSE(pool.reserve("10.98.0.7")) << "taken twice";
  EXPECT_FALSE(pool.reserve("10.98.0.1")) << "the gateway's own";
  EXPECT_FALSE(pool.reserve("10.98.0.255")) << "broadcast";
  EXPECT_FALSE(pool.reserve("10.99.0.5")) << "outside the pool";
  EXPECT_FALSE(pool.reserve("fd99::5")) << "outside the pool";
  EXPECT_EQ(pool.take4(), "10.98.0.2");
}

TEST(AddressPool, ASmallPoolRunsOut) {
  AddressPool pool("10.98.0.0/30", "", "x.pool4", "x.pool6");
  EXPECT_FALSE(pool.has6());
  EXPECT_EQ(pool.take4(), "10.98.0.2");
  EXPECT_EQ(pool.take4(), std::nullopt);
  EXPECT_EQ(pool.take6(), std::nullopt);
}

TEST(AddressPool, NetworkBitsInTheLastBytesOfASmallIpv6Prefix) {
  AddressPool pool("", "fd98::ab00/120", "x.pool4", "x.pool6");
  EXPECT_EQ(pool.gateway6(), "fd98::ab01");
  EXPECT_EQ(pool.take6(), "fd98::ab02");
  EXPECT_TRUE(pool.reserve("fd98::abff"));
  EXPECT_FALSE(pool.reserve("fd98::ac02"));
}

TEST(AddressPool, BadPrefixesNameTheKey) {
  for (auto [v4, v6] : {std::pair{"10.98.0.0", ""}, std::pair{"10.98.0.0/31", ""},
                        std::pair{"ten/24", ""}, std::pair{"", "fd98::/48"},
                        std::pair{"", "10.0.0.0/64"}}) {
    try {
      AddressPool pool(v4, v6, "x.pool4", "x.pool6");
      ADD_FAILURE() << v4 << " " << v6 << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(*v4 ? "x.pool4" : "x.pool6"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(AddressPool, AllotsNewSessionsAndReservesResumedOnesAgain) {
  AddressPool pool("10.98.0.0/30", "fd98::/126", "x.pool4", "x.pool6");
  std::string why;
  auto first = pool.allot(Json::Value(Json::objectValue), &why);
  ASSERT_TRUE(first) << why;
  EXPECT_EQ(first->address4, "10.98.0.2");
  EXPECT_EQ(first->address6, "fd98::2");
  // The IPv4 half is full (/30: one session); nothing is held on failure.
  EXPECT_FALSE(pool.allot(Json::Value(Json::objectValue), &why));
  EXPECT_NE(why.find("10.98.0.0/30 is exhausted"), std::string::npos) << why;
  EXPECT_EQ(pool.used(), 2u);
  pool.release(*first);
  EXPECT_EQ(pool.used(), 0u);

  Json::Value resumed(Json::objectValue);
  resumed["address4"] = "10.98.0.2";
  resumed["address6"] = "fd98::3";
  auto again = pool.allot(resumed, &why);
  ASSERT_TRUE(again) << why;
  EXPECT_EQ(again->address6, "fd98::3");
  // Taken now: a second claim fails and leaves the first as it was.
  EXPECT_FALSE(pool.allot(resumed, &why));
  EXPECT_NE(why.find("outside the pool or taken"), std::string::npos) << why;
  EXPECT_EQ(pool.used(), 2u);
  resumed["address4"] = "10.99.0.2";
  resumed["address6"] = "fd98::2";
  EXPECT_FALSE(pool.allot(resumed, &why)) << "one address outside the pool";
  EXPECT_EQ(pool.used(), 2u) << "its other address is not held either";
}

}  // namespace
}  // namespace mnigs::tunnels
