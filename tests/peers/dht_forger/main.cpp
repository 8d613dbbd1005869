// mnigs-test-dht-forger: an attacker inside the mesh. It joins the mnigs DHT
// (same network id as mnigsd, a freshly generated identity of its own) and
// puts two bad values under the well-known offer key:
//
//   forged    an offer claiming a victim's node id and name, pointing at the
//             forger's addresses, validly signed by the forger's own key;
//   tampered  an offer in the forger's own name, signed, then its data
//             changed (another name and port) so the signature no longer
//             covers it.
//
// Unless --anywhere, its routing id sits next to the offer key, so that it
// is a storing node of the key: a dishonest one that hands the tampered
// value to every listener (honest storing nodes refuse it).
//
//   mnigs-test-dht-forger --bootstrap 10.78.0.2:65531 --victim-id HEX --victim-name gw
//                         --address 10.78.0.5 [--seconds 60] [--every 10]
//
// Prints its own node id once it runs, then a line per put. Exits 0 when
// its time is up or on SIGTERM/SIGINT, 1 when it never found a peer, 2 on
// bad arguments. See README.md.
#include "dht/dht_node.hpp"
#include "dht/identity.hpp"
#include "dht/offer.hpp"
#include "dht/offer_value.hpp"
#include "forgery.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <opendht.h>
#include <opendht/log.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
constexpr const char* program = "mnigs-test-dht-forger";

struct Args {
  std::vector<std::pair<std::string, std::uint16_t>> bootstrap;
  std::string victim_id, victim_name;
  std::vector<std::string> addresses;  // the forger's, put in both offers
  std::string name = "dht-forger";     // of the tampered offer
  std::uint16_t rpc_port = 65533;
  std::vector<std::string> suites;
  std::uint16_t port = 0;  // UDP; 0 = any free port
  std::string bind4 = "0.0.0.0", bind6 = "::";
  int seconds = 60;
  int every = 0;  // seconds between puts; 0 = once
  unsigned key_bits = 2048;
  bool near_key = true;  // routing id next to the offer key
  bool verbose = false;
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << program << ": " << why << "\nusage: " << program
            << " --bootstrap HOST:PORT... --victim-id HEX --victim-name NAME --address IP...\n"
               "       [--name NAME] [--rpc-port N] [--suite S...] [--port N] [--bind4 IP]\n"
               "       [--bind6 IP] [--seconds N] [--every N] [--key-bits N] [--anywhere]\n"
               "       [--verbose]\n";
  std::exit(2);
}

long number(const std::string& option, const std::string& text, long min, long max) {
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end || errno || n < min || n > max)
    usage(option + " takes a number from " + std::to_string(min) + " to " + std::to_string(max) +
          " (got \"" + text + "\")");
  return n;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string option = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(option + " needs a value");
      return argv[++i];
    };
    if (option == "--bootstrap") {
      std::string why;
      auto endpoint = mnigs::parse_dht_endpoint(value(), mnigs::default_dht_port, &why);
      if (!endpoint) usage("--bootstrap: " + why);
      a.bootstrap.push_back(*endpoint);
    } else if (option == "--victim-id") {
      a.victim_id = value();
    } else if (option == "--victim-name") {
      a.victim_name = value();
    } else if (option == "--address") {
      a.addresses.push_back(value());
    } else if (option == "--name") {
      a.name = value();
    } else if (option == "--rpc-port") {
      a.rpc_port = static_cast<std::uint16_t>(number(option, value(), 1, 65535));
    } else if (option == "--suite") {
      a.suites.push_back(value());
    } else if (option == "--port") {
      a.port = static_cast<std::uint16_t>(number(option, value(), 0, 65535));
    } else if (option == "--bind4") {
      a.bind4 = value();
    } else if (option == "--bind6") {
      a.bind6 = value();
    } else if (option == "--seconds") {
      a.seconds = static_cast<int>(number(option, value(), 1, 86400));
    } else if (option == "--every") {
      a.every = static_cast<int>(number(option, value(), 0, 3600));
    } else if (option == "--key-bits") {
      a.key_bits = static_cast<unsigned>(number(option, value(), 1024, 8192));
    } else if (option == "--anywhere") {
      a.near_key = false;
    } else if (option == "--verbose" || option == "-v") {
      a.verbose = true;
    } else {
      usage("unknown argument " + option);
    }
  }
  if (a.bootstrap.empty()) usage("at least one --bootstrap HOST:PORT is needed");
  if (a.victim_id.empty() || a.victim_name.empty())
    usage("--victim-id and --victim-name are needed");
  if (a.addresses.empty()) usage("at least one --address is needed");
  if (a.suites.empty()) a.suites = {"babel-forwarding-free"};
  if (a.bind4.empty() && a.bind6.empty()) usage("--bind4 and --bind6 cannot both be empty");
  return a;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One line at a time on stdout: put callbacks run on OpenDHT's thread.
template <typename... Parts>
void say(const Parts&... parts) {
  static std::mutex mutex;
  std::ostringstream line;
  (line << ... << parts);
  std::lock_guard lock(mutex);
  std::cout << program << ": " << line.str() << std::endl;
}

dht::SockAddr bind_address(const std::string& text, std::uint16_t port) {
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return dht::SockAddr(reinterpret_cast<sockaddr*>(v4), sizeof *v4);
  }
  if (::inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return dht::SockAddr(reinterpret_cast<sockaddr*>(v6), sizeof *v6);
  }
  usage("\"" + text + "\" is not an IP address to bind");
}

// The offers, checked before anything joins the network: a forger whose
// payloads were refused as malformed would test nothing.
struct Offers {
  mnigs::GatewayOffer forged, genuine, altered;
};

Offers make_offers(const Args& a, const std::string& own_id) {
  Offers o;
  mnigs::GatewayOffer base;
  base.addresses = a.addresses;
  base.rpc_port = a.rpc_port;
  base.suites = a.suites;
  base.max_connections = 10;
  base.expires = unix_now() + 600;
  o.forged = base;
  o.forged.node_id = a.victim_id;
  o.forged.name = a.victim_name;
  o.genuine = base;
  o.genuine.node_id = own_id;
  o.genuine.name = a.name;
  o.altered = o.genuine;
  o.altered.name = "tampered " + a.name;
  o.altered.rpc_port = static_cast<std::uint16_t>(a.rpc_port == 65535 ? 1 : a.rpc_port + 1);
  for (const auto* offer : {&o.forged, &o.genuine, &o.altered})
    if (auto why = mnigs::validate_offer(*offer); !why.empty()) usage("offer: " + why);
  return o;
}

class Forger {
 public:
  Forger(const Args& args, dht::crypto::Identity identity)
      : args_(args), identity_(std::move(identity)) {
    dht::DhtRunner::Config config;
    config.dht_config.node_config.network = mnigs::mnigs_dht_network_id;
    config.dht_config.id = identity_;
    // Nothing ties a routing id to a key, so an attacker picks one next to
    // the offer key: it becomes the node closest to the key, which every
    // put and listen on the key reaches. Honest storing nodes refuse the
    // tampered value; this one keeps it (OpenDHT stores a node's own puts
    // unchecked) and hands it to every listener.
    if (args.near_key) {
      config.dht_config.node_config.node_id = mnigs::offer_key();
      config.dht_config.node_config.node_id[HASH_LEN - 1] ^= 1;
    }
    config.threaded = true;
    if (!args.bind4.empty()) config.bind4 = bind_address(args.bind4, args.port);
    if (!args.bind6.empty()) config.bind6 = bind_address(args.bind6, args.port);
    dht::DhtRunner::Context context;
    if (args.verbose) context.logger = dht::log::getStdLogger();
    runner_.run(config, std::move(context));
    for (const auto& [host, port] : args.bootstrap) runner_.bootstrap(host, std::to_string(port));
  }
  ~Forger() { runner_.join(); }
  Forger(const Forger&) = delete;
  Forger& operator=(const Forger&) = delete;

  std::uint16_t port(sa_family_t family) const { return runner_.getBoundPort(family); }
  std::string routing_id() const { return runner_.getNodeId().toString(); }
  unsigned peers() const {
    return runner_.getNodesStats(AF_INET).good_nodes + runner_.getNodesStats(AF_INET6).good_nodes;
  }

  // Both bad values, with fresh value ids and expiry.
  void put_both(const std::string& own_id) {
    const Offers offers = make_offers(args_, own_id);
    put("forged", "claims " + args_.victim_id.substr(0, 16) + "... \"" + args_.victim_name + "\"",
        mnigs::forger::forged_offer_value(offers.forged, *identity_.first, random_id()));
    put("tampered", "own id, data changed after signing",
        mnigs::forger::tampered_offer_value(offers.genuine, offers.altered, *identity_.first,
                                            random_id()));
  }

 private:
  void put(const std::string& what, const std::string& detail, std::shared_ptr<dht::Value> value) {
    const auto id = value->id;
    // A plain put: putSigned would re-sign (and so repair) the tampered value.
    runner_.put(mnigs::offer_key(), std::move(value), [what, detail, id](bool ok) {
      say("put ", what, " value ", id, " (", detail, "): ", ok ? "ok" : "failed");
    });
  }

  dht::Value::Id random_id() { return std::uniform_int_distribution<dht::Value::Id>(1)(random_); }

  const Args& args_;
  dht::crypto::Identity identity_;
  dht::DhtRunner runner_;
  std::mt19937_64 random_{std::random_device{}()};
};

// Waits for SIGTERM or SIGINT (blocked in every thread) for at most `limit`.
bool stop_requested(const sigset_t& signals, std::chrono::milliseconds limit) {
  const timespec wait{static_cast<time_t>(limit.count() / 1000),
                      static_cast<long>(limit.count() % 1000) * 1000000L};
  return ::sigtimedwait(&signals, nullptr, &wait) > 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  // Blocked before OpenDHT starts its threads, so that they inherit the mask
  // and only sigtimedwait below takes these signals.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  try {
    auto identity = dht::crypto::generateIdentity("mnigs-test-dht-forger", {}, args.key_bits);
    const std::string own_id = mnigs::identity_id(identity.first->getPublicKey());
    make_offers(args, own_id);  // exits 2 on an invalid offer before joining
    Forger forger(args, std::move(identity));
    say("node ", own_id, " on UDP port ", forger.port(AF_INET), " (IPv4) ", forger.port(AF_INET6),
        " (IPv6), network id 0x", std::hex, mnigs::mnigs_dht_network_id);
    say("routing id ", forger.routing_id(),
        args.near_key ? " (next to the offer key " + mnigs::offer_key().toString() + ")" : "");

    const auto end = Clock::now() + std::chrono::seconds(args.seconds);
    auto next_put = Clock::time_point::max();
    bool joined = false;
    while (Clock::now() < end) {
      if (!joined && forger.peers() > 0) {
        joined = true;
        say("joined: ", forger.peers(), " good peer(s)");
        next_put = Clock::now();
      }
      if (Clock::now() >= next_put) {
        forger.put_both(own_id);
        next_put = args.every > 0 ? Clock::now() + std::chrono::seconds(args.every)
                                  : Clock::time_point::max();
      }
      if (stop_requested(signals, 200ms)) break;
    }
    if (!joined) {
      say("no peer answered: nothing was put");
      return 1;
    }
    say("done");
    return 0;
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 1;
  }
}
