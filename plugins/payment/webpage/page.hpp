// The payment page's answers, without I/O: what a request gets given the
// session of the address it came from. The plugin (webpage.cpp) looks the
// session up, redeems codes and sends what these functions make.
#pragma once

#include "settings.hpp"

#include <mnigs/plugin.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mnigs::webpage {

struct Response {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// What the page shows, each value plain text (escaped when put in the page).
struct PageView {
  std::string title, terms, prices, status, message;
  std::string action = "/redeem";  // where the form posts
  bool paid = false;
};

// http://ADDRESS:PORT/ (IPv6 in brackets, a zone dropped).
std::string portal_url(const std::string& gateway_address, std::uint16_t port);
// The "host[:port]" part of a URL made by portal_url.
std::string portal_host(const std::string& gateway_address, std::uint16_t port);
// Whether an Accept header asks for RFC 8908's JSON.
bool wants_captive_json(const std::string& accept);
// RFC 8908's answer for a session in `state` (no session: captive, no limits).
Response captive_json(const PaymentState& state, const std::string& url);
// A 302 to `url` (for HTTP that was meant for somewhere else).
Response redirect(const std::string& url, int status = 302);
// The page: `tmpl` with its placeholders ({{title}}, {{terms}}, {{prices}},
// {{status}}, {{message}}, {{action}}, {{paid}}) replaced by escaped values.
Response page(const std::string& tmpl, const PageView& view, int status = 200);
// A short plain-text answer.
Response text(int status, const std::string& body);
// The built-in page.
const std::string& builtin_template();

// "1.50 EUR per hour, 2 EUR per GB; vouchers only"; "" when all is free.
std::string describe_prices(const Settings& s);
// "Connected: 52 min and 480.2 MB left" and the like.
std::string describe_state(const PaymentState& s);

// application/x-www-form-urlencoded, at most 32 fields of 1 KiB each; nullopt
// for anything else.
std::optional<std::map<std::string, std::string>> parse_form(const std::string& body);
std::string html_escape(const std::string& s);

}  // namespace mnigs::webpage
