// olsrd's info plugins (jsoninfo, txtinfo) answer with or without an HTTP
// header, depending on the request (a "GET ... HTTP/1.x" line always gets
// one) and on their "httpheaders" setting: "HTTP/1.1 200 OK\r\n...\r\n\r\n"
// in olsrd 0.9 (lib/info/http_headers.c), "HTTP/1.0 200 OK\n...\n\n" in
// older txtinfo. This splits such a reply into status and body.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mnigs::olsr {

struct HttpReply {
  bool has_header = false;  // the reply started with an HTTP status line
  int status = 0;           // its status code (0 without a header)
  std::string reason;       // e.g. "Not Found"
  std::string_view body;    // the bytes after the header (all of it without one)
  std::string error;        // a header that could not be read; "" when fine
};

// Splits `reply`; the body points into `reply`.
HttpReply split_http(std::string_view reply);

// When `data` so far is a complete HTTP message (header read and as many body
// bytes as its Content-Length says), the size it should have; nullopt when
// more is expected or there is no Content-Length (then the server's close
// ends the reply).
std::optional<std::size_t> http_message_size(std::string_view data);

}  // namespace mnigs::olsr
