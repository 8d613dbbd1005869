#include "page.hpp"

#include <json/writer.h>

#include <cstdio>
#include <string_view>

namespace mnigs::webpage {

namespace {

std::string amount(std::int64_t bytes) {
  char out[32];
  if (bytes < 1000) return std::to_string(bytes) + " B";
  const char* units[] = {"kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes) / 1000;
  std::size_t u = 0;
  for (; v >= 999.95 && u + 1 < 4; ++u) v /= 1000;
  std::snprintf(out, sizeof out, "%.1f %s", v, units[u]);
  return out;
}

std::string decimal(double v) {
  char out[32];
  std::snprintf(out, sizeof out, "%.4f", v);
  std::string s = out;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::string portal_host(const std::string& gateway_address, std::uint16_t port) {
  std::string a = gateway_address.substr(0, gateway_address.find('%'));
  if (a.find(':') != std::string::npos) a = "[" + a + "]";
  return a + ":" + std::to_string(port);
}

std::string portal_url(const std::string& gateway_address, std::uint16_t port) {
  return "http://" + portal_host(gateway_address, port) + "/";
}

bool wants_captive_json(const std::string& accept) {
  return accept.find("application/captive+json") != std::string::npos;
}

Response captive_json(const PaymentState& state, const std::string& url) {
  // RFC 8908 section 5: "captive" is required; the rest only when known.
  Json::Value v(Json::objectValue);
  v["captive"] = !state.paid;
  if (!url.empty()) v["user-portal-url"] = url;
  if (state.paid && state.seconds_remaining >= 0)
    v["seconds-remaining"] = static_cast<Json::Int64>(state.seconds_remaining);
  if (state.paid && state.bytes_remaining >= 0)
    v["bytes-remaining"] = static_cast<Json::Int64>(state.bytes_remaining);
  v["can-extend-session"] = !state.session_id.empty();
  Response r;
  r.content_type = "application/captive+json";
  // Section 5: the answer is about this client; caches must not share it.
  r.headers.emplace_back("Cache-Control", "private");
  Json::StreamWriterBuilder w;
  w["indentation"] = "";
  r.body = Json::writeString(w, v);
  return r;
}

Response redirect(const std::string& url, int status) {
  Response r;
  r.status = status;
  r.headers.emplace_back("Location", url);
  r.headers.emplace_back("Cache-Control", "no-store");
  r.body = "<a href=\"" + html_escape(url) + "\">" + html_escape(url) + "</a>\n";
  return r;
}

Response text(int status, const std::string& body) {
  Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = body + "\n";
  return r;
}

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

Response page(const std::string& tmpl, const PageView& view, int status) {
  const std::pair<const char*, std::string> values[] = {
      {"{{title}}", html_escape(view.title)},     {"{{terms}}", html_escape(view.terms)},
      {"{{prices}}", html_escape(view.prices)},   {"{{status}}", html_escape(view.status)},
      {"{{message}}", html_escape(view.message)}, {"{{action}}", html_escape(view.action)},
      {"{{paid}}", view.paid ? "paid" : "unpaid"}};
  std::string out;
  out.reserve(tmpl.size() + 1024);
  for (std::size_t i = 0; i < tmpl.size();) {
    bool replaced = false;
    if (tmpl.compare(i, 2, "{{") == 0) {
      for (const auto& [name, value] : values) {
        const std::size_t n = std::char_traits<char>::length(name);
        if (tmpl.compare(i, n, name) == 0) {
          out += value;
          i += n;
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out += tmpl[i++];
  }
  Response r;
  r.status = status;
  r.headers.emplace_back("Cache-Control", "no-store");
  // Nothing from elsewhere, no framing by other sites.
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                         "frame-ancestors 'none'");
  r.body = std::move(out);
  return r;
}

std::string describe_prices(const Settings& s) {
  std::vector<std::string> parts;
  const std::string cur = s.currency.empty() ? "" : " " + s.currency;
  if (s.price_per_hour > 0) parts.push_back(decimal(s.price_per_hour) + cur + " per hour");
  if (s.price_per_gb > 0) parts.push_back(decimal(s.price_per_gb) + cur + " per GB");
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  if (s.voucher_only) out += std::string(out.empty() ? "" : "; ") + "paid with vouchers";
  return out;
}

std::string describe_state(const PaymentState& s) {
  if (s.session_id.empty()) return "This device has no session with this gateway.";
  if (!s.paid) return "Not paid yet: enter a voucher code to go online.";
  std::vector<std::string> left;
  if (s.seconds_remaining >= 0)
    left.push_back(std::to_string(s.seconds_remaining / 60) + " min");
  if (s.bytes_remaining >= 0) left.push_back(amount(s.bytes_remaining));
  if (left.empty()) return "Connected.";
  std::string out = "Connected: ";
  for (std::size_t i = 0; i < left.size(); ++i) out += (i ? " and " : "") + left[i];
  return out + " left.";
}

std::optional<std::map<std::string, std::string>> parse_form(const std::string& body) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  int fields = 0;
  while (start <= body.size() && !body.empty()) {
    std::size_t end = body.find('&', start);
    if (end == std::string::npos) end = body.size();
    std::string_view pair(body.data() + start, end - start);
    if (!pair.empty()) {
      if (++fields > 32 || pair.size() > 1024) return std::nullopt;
      const std::size_t eq = pair.find('=');
      auto key = url_decode(pair.substr(0, eq));
      auto value =
          url_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
      if (!key || !value) return std::nullopt;
      out[*key] = *value;
    }
    start = end + 1;
  }
  return out;
}

const std::string& builtin_template() {
  static const std::string t = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<style>
:root { color-scheme: light dark; font-family: system-ui, sans-serif; }
body { max-width: 32rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
h1 { font-size: 1.5rem; }
.status { padding: .75rem; border-radius: .5rem; background: #8882; }
.paid .status { background: #2a84; }
.message:not(:empty) { padding: .75rem; border-radius: .5rem; background: #c334; }
.terms { white-space: pre-wrap; font-size: .9rem; }
input[type=text] { font: inherit; font-size: 1.25rem; letter-spacing: .1em; width: 100%;
  box-sizing: border-box; padding: .5rem; text-transform: uppercase; }
button { font: inherit; padding: .5rem 1.5rem; margin-top: .75rem; }
</style>
</head>
<body class="{{paid}}">
<h1>{{title}}</h1>
<p class="status" id="status">{{status}}</p>
<p class="message" id="message" role="alert">{{message}}</p>
<p>{{prices}}</p>
<form method="post" action="{{action}}">
<label for="code">Voucher code</label>
<input type="text" id="code" name="code" autocomplete="off" autocapitalize="characters"
  spellcheck="false" placeholder="XXXX-XXXX-XXXX" required>
<p class="terms">{{terms}}</p>
<label><input type="checkbox" id="accept" name="accept" value="yes" required>
I accept the terms of this gateway</label><br>
<button type="submit" id="redeem">Go online</button>
</form>
</body>
</html>
)html";
  return t;
}

}  // namespace mnigs::webpage
