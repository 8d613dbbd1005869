// The payment page's pieces: its settings, URLs, RFC 8908 answer, template,
// form reading and the wrong-code limit.
#include "attempts.hpp"
#include "page.hpp"
#include "settings.hpp"

#include <json/reader.h>

#include <gtest/gtest.h>

#include <memory>

namespace mnigs::webpage {
namespace {

Json::Value parse(const std::string& text) {
  Json::CharReaderBuilder b;
  std::unique_ptr<Json::CharReader> r(b.newCharReader());
  Json::Value v;
  std::string errors;
  EXPECT_TRUE(r->parse(text.data(), text.data() + text.size(), &v, &errors)) << errors;
  return v;
}

Json::Value section() {
  Json::Value c(Json::objectValue);
  c["port"] = 65534;
  c["listen"].append("0.0.0.0");
  c["title"] = "Net";
  c["terms"] = "Be nice";
  c["currency"] = "EUR";
  c["pricePerHour"] = "1.50";
  c["pricePerGB"] = "0";
  c["voucherOnly"] = true;
  c["template"] = "";
  c["webhookSecretFile"] = "";
  c["wrongCodeBurst"] = 5;
  c["wrongCodeRefillSeconds"] = 20;
  return c;
}

TEST(WebpageSettings, PricesAreDecimalsAndShownWithTheirCurrency) {
  auto s = read_settings(section(), nullptr);
  ASSERT_TRUE(s);
  EXPECT_DOUBLE_EQ(s->price_per_hour, 1.5);
  EXPECT_EQ(describe_prices(*s), "1.5 EUR per hour; paid with vouchers");
  for (const char* bad : {"", "-1", "1,50", "1.", ".5", "1.23456", "1e3", "abc", "99999999999"}) {
    Json::Value c = section();
    c["pricePerHour"] = bad;
    std::string why;
    EXPECT_FALSE(read_settings(c, &why)) << bad;
    EXPECT_NE(why.find("webpage.pricePerHour"), std::string::npos) << why;
  }
}

TEST(WebpagePortal, UrlsBracketIpv6AndDropItsZone) {
  EXPECT_EQ(portal_url("10.77.2.1", 65534), "http://10.77.2.1:65534/");
  EXPECT_EQ(portal_url("fd00::1", 8080), "http://[fd00::1]:8080/");
  EXPECT_EQ(portal_host("fe80::1%eth0", 80), "[fe80::1]:80");
}

TEST(WebpagePortal, Rfc8908AnswerSaysWhatIsLeftOnlyOncePaid) {
  PaymentState unpaid;
  unpaid.session_id = "s1";
  Response r = captive_json(unpaid, "http://10.77.2.1:65534/");
  EXPECT_EQ(r.content_type, "application/captive+json");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"Cache-Control", "private"}));
  Json::Value v = parse(r.body);
  EXPECT_TRUE(v["captive"].asBool());
  EXPECT_EQ(v["user-portal-url"].asString(), "http://10.77.2.1:65534/");
  EXPECT_FALSE(v.isMember("seconds-remaining"));
  EXPECT_TRUE(v["can-extend-session"].asBool());

  PaymentState paid = unpaid;
  paid.paid = true;
  paid.seconds_remaining = 3000;
  paid.bytes_remaining = 4'000'000;
  v = parse(captive_json(paid, "u").body);
  EXPECT_FALSE(v["captive"].asBool());
  EXPECT_EQ(v["seconds-remaining"].asInt64(), 3000);
  EXPECT_EQ(v["bytes-remaining"].asInt64(), 4'000'000);
  // No limit: not said.
  paid.bytes_remaining = -1;
  EXPECT_FALSE(parse(captive_json(paid, "u").body).isMember("bytes-remaining"));
  EXPECT_TRUE(wants_captive_json("application/captive+json"));
  EXPECT_FALSE(wants_captive_json("text/html,*/*"));
}

TEST(WebpagePage, PlaceholdersAreFilledAndEscaped) {
  PageView view;
  view.title = "<script>alert(1)</script>";
  view.message = "a \"quoted\" & 'single'";
  view.paid = true;
  Response r = page("<h1>{{title}}</h1><p>{{message}}</p><body class={{paid}}>{{unknown}}{{",
                    view);
  EXPECT_EQ(r.body,
            "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1><p>a &quot;quoted&quot; &amp; "
            "&#39;single&#39;</p><body class=paid>{{unknown}}{{");
  // The built-in page loads nothing from elsewhere and is small.
  const std::string& t = builtin_template();
  EXPECT_LT(t.size(), 4096u);
  EXPECT_EQ(t.find("http"), std::string::npos);
  EXPECT_NE(t.find("{{action}}"), std::string::npos);
}

TEST(WebpageForm, UrlEncodedFieldsAreDecodedWithinBounds) {
  auto f = parse_form("code=abcd-efgh+ijkl&accept=yes&x=%41%2b");
  ASSERT_TRUE(f);
  EXPECT_EQ((*f)["code"], "abcd-efgh ijkl");
  EXPECT_EQ((*f)["accept"], "yes");
  EXPECT_EQ((*f)["x"], "A+");
  EXPECT_TRUE(parse_form("")->empty());
  EXPECT_FALSE(parse_form("code=%4"));
  EXPECT_FALSE(parse_form("code=%zz"));
  EXPECT_FALSE(parse_form("code=" + std::string(2000, 'a')));
  std::string many;
  for (int i = 0; i < 40; ++i) many += "f" + std::to_string(i) + "=1&";
  EXPECT_FALSE(parse_form(many));
}

TEST(WebpageAttempts, ABurstOfWrongCodesThenOneMoreEachRefill) {
  Attempts a(3, std::chrono::seconds(20));
  auto t = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  EXPECT_EQ(a.wait("10.0.0.2", t), 0);
  for (int i = 0; i < 3; ++i) a.failed("10.0.0.2", t);
  EXPECT_EQ(a.wait("10.0.0.2", t), 20);
  EXPECT_EQ(a.wait("10.0.0.3", t), 0);  // others are not held back
  EXPECT_EQ(a.wait("10.0.0.2", t + std::chrono::seconds(15)), 5);
  EXPECT_EQ(a.wait("10.0.0.2", t + std::chrono::seconds(20)), 0);
  // Bounded: the address idle longest goes.
  for (int i = 0; i < static_cast<int>(Attempts::kMaxAddresses) + 10; ++i)
    a.failed("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256), t);
  EXPECT_EQ(a.tracked(), Attempts::kMaxAddresses);
}

}  // namespace
}  // namespace mnigs::webpage
