// payment/webpage's keys (section "webpage"), read and checked.
#pragma once

#include <mnigs/config_decl.hpp>

#include <json/value.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mnigs::webpage {

struct Settings {
  std::uint16_t port = 65534;
  std::vector<std::string> listen;  // addresses the page listens on
  std::string title, terms, currency;
  double price_per_hour = 0, price_per_gb = 0;
  bool voucher_only = true;
  std::string template_path;       // "" for the built-in page
  std::string webhook_secret_file;  // "" for no payment webhook
  int wrong_code_burst = 5;
  int wrong_code_refill_seconds = 20;
};

void declare(ConfigDeclarer& d);
// The section as the host validated it; nullopt and `why` for values the
// host cannot check (prices that are not decimal numbers).
std::optional<Settings> read_settings(const Json::Value& section, std::string* why);
// "2.50", "0", "0.1": a non-negative decimal with at most 4 places, at most
// 1e9; nullopt otherwise.
std::optional<double> parse_price(const std::string& text);

}  // namespace mnigs::webpage
