#include "http_reply.hpp"

#include <cctype>
#include <charconv>

namespace mnigs::olsr {

namespace {

// End of the header block: the index of the first body byte, or npos. Both
// CRLF (olsrd 0.9) and bare LF (txtinfo 0.6) line ends occur.
std::size_t header_end(std::string_view data) {
  auto crlf = data.find("\r\n\r\n");
  auto lf = data.find("\n\n");
  if (crlf == std::string_view::npos && lf == std::string_view::npos) return std::string_view::npos;
  if (lf == std::string_view::npos || (crlf != std::string_view::npos && crlf < lf))
    return crlf + 4;
  return lf + 2;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The value of header `name` in `header` (lines after the status line), or nullopt.
std::optional<std::string_view> header_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto eol = header.find('\n');
    auto line = header.substr(0, eol);
    header = eol == std::string_view::npos ? std::string_view() : header.substr(eol + 1);
    auto colon = line.find(':');
    if (colon != std::string_view::npos && iequals(trim(line.substr(0, colon)), name))
      return trim(line.substr(colon + 1));
  }
  return std::nullopt;
}

bool starts_http(std::string_view data) { return data.substr(0, 7) == "HTTP/1."; }

}  // namespace

HttpReply split_http(std::string_view reply) {
  HttpReply r;
  if (!starts_http(reply)) {
    r.body = reply;
    return r;
  }
  r.has_header = true;
  auto end = header_end(reply);
  if (end == std::string_view::npos) {
    r.error = "the HTTP header has no end";
    return r;
  }
  auto status_line = trim(reply.substr(0, reply.find('\n')));
  // "HTTP/1.1 200 OK"
  auto sp = status_line.find(' ');
  auto code = sp == std::string_view::npos ? std::string_view() : status_line.substr(sp + 1, 3);
  auto [p, ec] = std::from_chars(code.data(), code.data() + code.size(), r.status);
  if (ec != std::errc() || p != code.data() + code.size() || code.size() != 3) {
    r.error = "the HTTP status line \"" + std::string(status_line.substr(0, 80)) +
              "\" has no status code";
    r.status = 0;
    return r;
  }
  if (status_line.size() > sp + 5) r.reason = std::string(trim(status_line.substr(sp + 5)));
  r.body = reply.substr(end);
  return r;
}

std::optional<std::size_t> http_message_size(std::string_view data) {
  if (!starts_http(data)) return std::nullopt;
  auto end = header_end(data);
  if (end == std::string_view::npos) return std::nullopt;
  auto length = header_value(data.substr(0, end), "Content-Length");
  if (!length) return std::nullopt;
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(length->data(), length->data() + length->size(), n);
  if (ec != std::errc() || p != length->data() + length->size()) return std::nullopt;
  if (data.size() < end + n) return std::nullopt;
  return end + n;
}

}  // namespace mnigs::olsr
