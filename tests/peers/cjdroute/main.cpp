// mnigs-test-cjdroute: a stand-in for cjdroute's admin interface, for tests
// on machines without cjdns. It speaks the real protocol (bencoded UDP,
// cookie + sha256 authentication, paged replies with "more", padded first
// key) and reports the nodes and peers listed in a JSON file.
//
//   mnigs-test-cjdroute --bind 127.0.0.1:11234 --password PW --data nodes.json
//
// nodes.json:
//   {"self": "<key>.k", "selfAt": 2,
//    "nodes": [{"key": "<key>.k", "path": "0000.0000.0000.0013", "version": 21, "link": 1024,
//               "bucket": 1}],
//    "peers": [{"key": "<key>.k", "path": "0000.0000.0000.0013", "state": "ESTABLISHED",
//               "lladdr": "10.66.23.1:7229", "user": "default-login"}]}
//
// Addresses are derived from the keys, as cjdroute derives them. Prints one
// line when it is ready ("admin on ...") and one per request; exits 0 on
// SIGTERM or SIGINT, 2 on bad arguments or data.
#include <arpa/inet.h>
#include <json/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "admin_server.hpp"

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "mnigs-test-cjdroute: " << why
            << "\nusage: mnigs-test-cjdroute --bind ADDRESS:PORT --password PW --data FILE\n";
  std::exit(2);
}

cjdroute_peer::Node node_from(const Json::Value& v, bool peer) {
  cjdroute_peer::Node n;
  if (!v.isObject() || !v["key"].isString()) usage("each node and peer needs a \"key\"");
  n.key = v["key"].asString();
  auto ip = cjdroute_peer::key_to_ip(n.key);
  if (!ip) usage("\"" + n.key + "\" is not a valid cjdns public key");
  n.ip = *ip;
  n.path = v.get("path", "0000.0000.0000.0001").asString();
  n.version = v.get("version", 21).asInt64();
  n.link = v.get("link", 1024).asInt64();
  n.bucket = v.get("bucket", 0).asInt64();
  if (peer) {
    n.state = v.get("state", "ESTABLISHED").asString();
    n.lladdr = v.get("lladdr", n.lladdr).asString();
    n.user = v.get("user", "").asString();
  }
  return n;
}

void load(const std::string& path, cjdroute_peer::AdminServer& server, std::size_t& nodes,
          std::size_t& peers) {
  std::ifstream in(path);
  if (!in) usage("cannot read " + path);
  Json::Value root;
  Json::CharReaderBuilder builder;
  std::string errors;
  if (!Json::parseFromStream(builder, in, &root, &errors)) usage(path + ": " + errors);
  if (root.isMember("self")) {
    Json::Value self(Json::objectValue);
    self["key"] = root["self"];
    self["link"] = 0;
    self["bucket"] = 127;
    if (!root.get("selfAt", 0).isUInt()) usage("\"selfAt\" must be a table position (0, 1, ...)");
    server.set_self(node_from(self, false), root.get("selfAt", 0).asUInt());
  }
  for (const auto& n : root["nodes"]) server.add_node(node_from(n, false)), ++nodes;
  for (const auto& p : root["peers"]) server.add_peer(node_from(p, true)), ++peers;
  // "issues": {"<gateway key>": {"ip4": "10.94.0.2", "ip4Prefix": 32, "ip4Alloc": 32,
  //                              "ip6": ..., "ip6Prefix": ..., "ip6Alloc": ...}}
  for (const auto& key : root["issues"].getMemberNames()) {
    const Json::Value& v = root["issues"][key];
    cjdroute_peer::AdminServer::Issue issue;
    issue.ip4 = v.get("ip4", "").asString();
    issue.ip6 = v.get("ip6", "").asString();
    issue.ip4_prefix = v.get("ip4Prefix", 32).asInt64();
    issue.ip4_alloc = v.get("ip4Alloc", 32).asInt64();
    issue.ip6_prefix = v.get("ip6Prefix", 128).asInt64();
    issue.ip6_alloc = v.get("ip6Alloc", 128).asInt64();
    server.add_issue(key, issue);
  }
  // "dropReplies": {"IpTunnel_allowConnection": 1}: replies lost in transit.
  for (const auto& f : root["dropReplies"].getMemberNames())
    server.drop_replies(f, root["dropReplies"][f].asInt());
}

// Binds "127.0.0.1:11234" or "[::1]:11234".
int bind_udp(const std::string& bind) {
  std::string host, port;
  if (!bind.empty() && bind[0] == '[') {
    auto close = bind.find("]:");
    if (close == std::string::npos) usage("bad --bind " + bind);
    host = bind.substr(1, close - 1);
    port = bind.substr(close + 2);
  } else {
    auto colon = bind.rfind(':');
    if (colon == std::string::npos) usage("bad --bind " + bind);
    host = bind.substr(0, colon);
    port = bind.substr(colon + 1);
  }
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  int p = std::atoi(port.c_str());
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(p));
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(p));
    len = sizeof *v6;
  } else {
    usage("bad --bind " + bind);
  }
  int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
    usage("cannot bind " + bind + ": " + std::strerror(errno));
  return fd;
}

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// One line per request, for the test's log.
std::string describe(const std::string& request, const std::optional<std::string>& reply) {
  auto msg = cjdroute_peer::read_message(request);
  std::string what = "unparsable request";
  if (msg) {
    const std::string* q = msg->get_str("q");
    const std::string* aq = msg->get_str("aq");
    what = q ? (aq ? *q + " " + *aq : *q) : "request without q";
    if (const auto* args = msg->get_dict("args"))
      if (const auto* page = args->get_int("page")) what += " page " + std::to_string(*page);
  }
  if (!reply) return what + " -> (no reply)";
  if (reply->find("Auth failed.") != std::string::npos) return what + " -> Auth failed.";
  return what + " -> " + std::to_string(reply->size()) + " bytes";
}

}  // namespace

int main(int argc, char** argv) {
  std::string bind = "127.0.0.1:11234", password, data;
  bool have_password = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) usage("missing value for " + arg);
    std::string value = argv[++i];
    if (arg == "--bind")
      bind = value;
    else if (arg == "--password")
      password = value, have_password = true;
    else if (arg == "--data")
      data = value;
    else
      usage("unknown option " + arg);
  }
  if (!have_password || data.empty()) usage("--password and --data are required");
  cjdroute_peer::AdminServer server(password, now_ms());
  std::size_t nodes = 0, peers = 0;
  load(data, server, nodes, peers);
  int fd = bind_udp(bind);

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);

  std::cout << "mnigs-test-cjdroute: admin on " << bind << " (" << nodes << " nodes, " << peers
            << " peers)" << std::endl;

  std::string buf(65536, '\0');
  while (!g_stop) {
    pollfd pfd{fd, POLLIN, 0};
    int ready = ::poll(&pfd, 1, 200);
    if (ready <= 0) continue;
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    ssize_t n =
        ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) continue;
    std::string request(buf.data(), static_cast<std::size_t>(n));
    auto reply = server.handle(request, now_ms());
    std::cout << describe(request, reply) << std::endl;
    if (reply)
      ::sendto(fd, reply->data(), reply->size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
  }
  ::close(fd);
  std::cout << "mnigs-test-cjdroute: stopped" << std::endl;
  return 0;
}
