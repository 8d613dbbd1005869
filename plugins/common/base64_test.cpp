// The plugins' one base64 codec: RFC 4648's vectors, every byte value, and
// the malformed text it refuses.
#include "base64.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace mnigs {
namespace {

TEST(Base64, Rfc4648TestVectors) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    const std::vector<std::uint8_t> bytes(plain.begin(), plain.end());
    EXPECT_EQ(base64_encode(bytes), encoded);
    const auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded) << encoded;
    EXPECT_EQ(*decoded, bytes);
  }
}

TEST(Base64, AllByteValuesRoundTrip) {
  std::vector<std::uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(base64_decode(base64_encode(all)), all);
}

TEST(Base64, RefusesMalformedText) {
  for (const char* bad :
       {"Zg=", "Zg", "Z===", "====", "Zm9v!A==", "Zg==Zg==", "=Zg=", "Zm 9v", "Zm9v\n", "Zm=v"}) {
    EXPECT_FALSE(base64_decode(bad)) << bad;
  }
}

TEST(Base64, LeftOverPaddingBitsAreNotLookedAtButReEncodingShowsThem) {
  // "Zh==" decodes as "Zg==" does; only "Zg==" is what encoding writes.
  const auto decoded = base64_decode("Zh==");
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, std::vector<std::uint8_t>{'f'});
  EXPECT_EQ(base64_encode(*decoded), "Zg==");
}

}  // namespace
}  // namespace mnigs
