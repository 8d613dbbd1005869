// mnigs-test-olsrd: a stand-in for olsrd (jsoninfo and txtinfo plugins) and
// olsrd2 (telnet plugin with nhdpinfo/olsrv2info), for tests on machines
// without them. It answers in the real formats from a JSON description of
// the mesh, and can misbehave on purpose.
//
//   mnigs-test-olsrd --network FILE|JSON [--jsoninfo ADDR:PORT] [--txtinfo ADDR:PORT]
//                    [--olsrd2 ADDR:PORT] [--fault none|garbage|truncated|silent]
//                    [--http-headers yes|no]
//
// At least one listener is needed. Prints "<listener> on <address>" for
// each, then "ready", then one line per request; exits 0 on SIGTERM or
// SIGINT, 2 on bad arguments or a bad description.
#include <json/json.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fstream>
#include <iostream>
#include <list>
#include <sstream>

#include "daemon.hpp"
#include "network.hpp"
#include "server.hpp"

namespace {

using olsrd_peer::Listener;
namespace asio = boost::asio;

[[noreturn]] void usage(const std::string& why) {
  std::cerr
      << "mnigs-test-olsrd: " << why
      << "\nusage: mnigs-test-olsrd --network FILE|JSON [--jsoninfo ADDR:PORT] [--txtinfo "
         "ADDR:PORT]"
         " [--olsrd2 ADDR:PORT] [--fault none|garbage|truncated|silent] [--http-headers yes|no]\n";
  std::exit(2);
}

// "127.0.0.1:9090" or "[::1]:2009".
asio::ip::tcp::endpoint endpoint(const std::string& text) {
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find("]:");
    if (close == std::string::npos) usage("\"" + text + "\" is not [IPv6]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) usage("\"" + text + "\" is not ADDRESS:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) usage("\"" + host + "\" is not an IP address");
  try {
    int p = std::stoi(port);
    if (p < 1 || p > 65535) throw std::out_of_range("port");
    return {address, static_cast<unsigned short>(p)};
  } catch (const std::exception&) {
    usage("\"" + port + "\" is not a port");
  }
}

olsrd_peer::Network load(const std::string& arg) {
  std::string text = arg;
  if (arg.empty() || arg[0] != '{') {
    std::ifstream in(arg);
    if (!in) usage("cannot read " + arg);
    std::ostringstream all;
    all << in.rdbuf();
    text = all.str();
  }
  Json::Value root;
  Json::CharReaderBuilder builder;
  std::string errors;
  std::istringstream in(text);
  if (!Json::parseFromStream(builder, in, &root, &errors))
    usage("the network description: " + errors);
  std::string why;
  auto net = olsrd_peer::read_network(root, &why);
  if (!net) usage("the network description: " + why);
  return *net;
}

olsrd_peer::Fault fault(const std::string& text) {
  if (text == "none") return olsrd_peer::Fault::none;
  if (text == "garbage") return olsrd_peer::Fault::garbage;
  if (text == "truncated") return olsrd_peer::Fault::truncated;
  if (text == "silent") return olsrd_peer::Fault::silent;
  usage("--fault must be none, garbage, truncated or silent");
}

}  // namespace

int main(int argc, char** argv) {
  std::string network_arg;
  std::vector<std::pair<Listener::Kind, std::string>> wanted;
  olsrd_peer::Options options;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) usage(a + " needs a value");
    std::string v = argv[++i];
    if (a == "--network")
      network_arg = v;
    else if (a == "--jsoninfo")
      wanted.emplace_back(Listener::Kind::jsoninfo, v);
    else if (a == "--txtinfo")
      wanted.emplace_back(Listener::Kind::txtinfo, v);
    else if (a == "--olsrd2")
      wanted.emplace_back(Listener::Kind::olsrd2, v);
    else if (a == "--fault")
      options.fault = fault(v);
    else if (a == "--http-headers") {
      if (v != "yes" && v != "no") usage("--http-headers must be yes or no");
      options.http_headers = v == "yes";
    } else
      usage("unknown option " + a);
  }
  if (network_arg.empty()) usage("--network is required");
  if (wanted.empty()) usage("give at least one of --jsoninfo, --txtinfo, --olsrd2");
  const olsrd_peer::Network net = load(network_arg);

  asio::io_context io;
  std::list<Listener> listeners;
  for (const auto& [kind, text] : wanted) {
    try {
      listeners.emplace_back(io, kind, endpoint(text), net, options);
    } catch (const boost::system::system_error& e) {
      std::cerr << "mnigs-test-olsrd: cannot listen on " << text << ": " << e.code().message()
                << "\n";
      return 2;
    }
    listeners.back().start();
    std::cout << listeners.back().name() << " on " << text << std::endl;
  }
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&io](boost::system::error_code, int) { io.stop(); });
  std::cout << "ready (" << net.nodes.size() << " nodes)" << std::endl;
  io.run();
  return 0;
}
