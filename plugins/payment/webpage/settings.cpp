#include "settings.hpp"

#include <cctype>
#include <cstdlib>

namespace mnigs::webpage {

void declare(ConfigDeclarer& d) {
  d.declare(int_key("port", 65534, 1, 65535,
                    "TCP port of the payment page; unpaid subscribers' HTTP is redirected here"));
  d.declare(list_key("listen", ValueType::string_list, {"0.0.0.0", "::"},
                     "Addresses the page listens on; it answers only subscribers holding a "
                     "session (and loopback)"));
  d.declare(string_key("title", "Internet access", "Heading of the payment page", true));
  d.declare(string_key("terms", "",
                       "The operator's terms, shown on the page; a subscriber must accept them "
                       "to redeem a voucher",
                       true));
  d.declare(string_key("currency", "", "Currency of the prices, e.g. EUR", true));
  d.declare(string_key("pricePerHour", "0", "Price of an hour, a decimal such as 1.50", true));
  d.declare(string_key("pricePerGB", "0", "Price of a gigabyte, a decimal such as 2", true));
  d.declare(bool_key("voucherOnly", true,
                     "Access is paid with vouchers only (sold or handed out by the operator, "
                     "or minted by a payment backend through the webhook)",
                     true));
  d.declare(file_only(string_key("template", "",
                                 "Path of an HTML file replacing the built-in page (see the "
                                 "plugin's README for its placeholders); empty: built-in")));
  d.declare(file_only(string_key("webhookSecretFile", "",
                                 "Path of a file holding the secret a payment backend signs "
                                 "its confirmations with; empty: no webhook")));
  d.declare(int_key("wrongCodeBurst", 5, 1, 1000,
                    "Wrong voucher codes one address may try at once before it gets HTTP 429",
                    true));
  d.declare(int_key("wrongCodeRefillSeconds", 20, 1, 86400,
                    "Seconds after which one more wrong code is allowed again", true));
}

std::optional<double> parse_price(const std::string& text) {
  if (text.empty() || text.size() > 16) return std::nullopt;
  std::size_t dot = text.find('.');
  for (std::size_t i = 0; i < text.size(); ++i)
    if (i != dot && !std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
  if (dot == 0 || dot + 1 == text.size()) return std::nullopt;
  if (dot != std::string::npos && text.size() - dot - 1 > 4) return std::nullopt;
  const double v = std::strtod(text.c_str(), nullptr);
  if (v < 0 || v > 1e9) return std::nullopt;
  return v;
}

std::optional<Settings> read_settings(const Json::Value& c, std::string* why) {
  Settings s;
  s.port = static_cast<std::uint16_t>(c["port"].asInt());
  for (const auto& a : c["listen"]) s.listen.push_back(a.asString());
  s.title = c["title"].asString();
  s.terms = c["terms"].asString();
  s.currency = c["currency"].asString();
  for (auto [key, out] : {std::pair{"pricePerHour", &s.price_per_hour},
                          std::pair{"pricePerGB", &s.price_per_gb}}) {
    auto v = parse_price(c[key].asString());
    if (!v) {
      if (why)
        *why = std::string("webpage.") + key + " must be a decimal number such as 1.50 (got \"" +
               c[key].asString() + "\")";
      return std::nullopt;
    }
    *out = *v;
  }
  if (s.currency.size() > 16) {
    if (why) *why = "webpage.currency must be at most 16 characters";
    return std::nullopt;
  }
  s.voucher_only = c["voucherOnly"].asBool();
  s.template_path = c["template"].asString();
  s.webhook_secret_file = c["webhookSecretFile"].asString();
  s.wrong_code_burst = c["wrongCodeBurst"].asInt();
  s.wrong_code_refill_seconds = c["wrongCodeRefillSeconds"].asInt();
  return s;
}

}  // namespace mnigs::webpage
