// What the test olsrd answers, without any sockets: olsrd 0.9's info
// plugins (jsoninfo, txtinfo: request parsing of lib/info/olsrd_info.c,
// output of lib/jsoninfo and lib/txtinfo) and olsrd2's telnet plugin with
// the nhdpinfo and olsrv2info viewers (src/base/oonf_telnet.c,
// src/base/oonf_viewer.c). See README.md for what is and is not covered.
#pragma once

#include <string>
#include <string_view>

#include "network.hpp"

namespace olsrd_peer {

// Ways to misbehave, to test a client's robustness.
enum class Fault {
  none,
  garbage,    // jsoninfo: a body that is not JSON; txtinfo/olsrd2: a junk line after every row
  truncated,  // every reply cut off halfway
  silent,     // accept connections, never answer (handled by the server)
};

enum class Info { jsoninfo, txtinfo };

struct Options {
  bool http_headers = true;  // olsrd's "httpheaders" plugin parameter (default on)
  Fault fault = Fault::none;
};

// The whole reply of an info plugin to the bytes of one request (olsrd
// reads a request with a single recv of at most 1024 bytes). `timed_out`:
// no request arrived in time, which olsrd answers with 408.
std::string info_reply(Info which, std::string_view request, bool timed_out, const Network& net,
                       const Options& options);

// One telnet session of olsrd2: feed it what arrives, send what it returns.
class TelnetSession {
 public:
  TelnetSession(const Network& net, const Options& options) : net_(net), options_(options) {}
  struct Output {
    std::string text;
    bool close = false;  // send `text`, then close the connection
  };
  // Handles every complete line in `data` (plus what was held back before).
  Output feed(std::string_view data);

 private:
  std::string command(const std::string& cmd, const std::string& param, bool& quit);

  const Network& net_;
  Options options_;
  std::string pending_;
};

}  // namespace olsrd_peer
