// mnigs-cli: control mnigsd from the command line, over its JSON-RPC.
#include "client.hpp"
#include "commands.hpp"

#include "config/startup.hpp"
#include "util/host_port.hpp"
#include "util/net.hpp"
#include "util/token.hpp"

#include <json/value.h>
#include <signal.h>

#include <iostream>
#include <optional>
#include <algorithm>
#include <cstdlib>

namespace {

using namespace mnigs::cli;

void usage(std::ostream& out) {
  out << "usage: mnigs-cli [-f PATH] [--rpc ADDR[:PORT]] [--json] COMMAND\n"
         "commands:\n"
         "  --status             daemon status (the default)\n"
         "  --info               this node's nodeInfo (what the mesh sees)\n"
         "  --plugins            loaded plugins, their state and errors\n"
         "  --get [KEY|SECTION]  effective config, or one key or section\n"
         "  -c, --connect IP [-p PORT] [-m SUITE]\n"
         "                       connect to the gateway at IP (port 65533; the best suite both\n"
         "                       ends support unless -m names one)\n"
         "  -t, --test IP [-p PORT] [-m SUITE]\n"
         "                       test the gateway at IP through a real tunnel: setup time,\n"
         "                       round trips, loss, throughput each way (the current\n"
         "                       connection's when it is that gateway)\n"
         "  -d, --disconnect     release the session and take the tunnel down (in auto mode:\n"
         "                       until --auto on)\n"
         "      --auto on|off    auto mode: choose the best gateway, connect, and move to\n"
         "                       another when it fails (subscriber.auto); on also lifts the\n"
         "                       pin of a manual --connect\n"
         "      --sessions       the subscriber's connection and the gateway's sessions\n"
         "      --release ID     end a session this gateway serves (ID from --sessions)\n"
         "      --voucher create [--count N] [--minutes M] [--bytes SIZE] [--rate-down RATE]\n"
         "                       [--rate-up RATE] [--devices N] [--valid-days D] [--note TEXT]\n"
         "                       vouchers for this gateway's paying subscribers (SIZE: 500M,\n"
         "                       1G; RATE: 4mbit, 500kbit); without limits a voucher is good\n"
         "                       for one device, for ever\n"
         "      --voucher list [--state new|in-use|spent]\n"
         "      --voucher revoke CODE\n"
         "  -s, --scan           scan the mesh now, with a progress bar, then list gateways\n"
         "  -l, --list           gateways found by scans: name, address, port, suites, price\n"
         "      --nodes          every node found by scans\n"
         "  --call METHOD [JSON] call any method (a plugin's, e.g. websocket.join) with JSON\n"
         "                       params and print its result as JSON\n"
         "  --set SECTION.KEY=VALUE\n"
         "                       change a key (repeatable); through the daemon when it runs,\n"
         "                       else in the config file\n"
         "      --reload         make mnigsd read its config file again (as SIGHUP does),\n"
         "                       and wait until it did: live keys apply, the rest after a\n"
         "                       restart; an invalid file changes nothing\n"
         "      --set-password   the web UI's password for logins from outside\n"
         "                       daemon.authorizedNetworks, read without echo (or one line\n"
         "                       from stdin); empty: none. Kept hashed in daemon.dataDir\n"
         "  --expose NAME=PORT   expose this node's loopback PORT through its gateways as\n"
         "                       NAME.<id>.<domain> (httptunnel); NAME=off takes it back\n"
         "      --tether [on|off] [--qr]\n"
         "                       serve the tether page, through which a phone's browser\n"
         "                       carries this node's traffic to a gateway: prints its URL and\n"
         "                       pairing code (--qr: as a QR code too), then its state\n"
         "options:\n"
         "  -f, --config PATH    config file (default " << mnigs::default_config_path << ")\n"
         "      --rpc ADDR[:PORT] daemon to talk to (default 127.0.0.1 and daemon.rpcport)\n"
         "      --json           machine-readable output\n"
         "  -h, --help           this help\n"
         "exit codes: 0 done, 1 the daemon reported an error, 2 usage, 3 mnigsd not running,\n"
         "            4 config file problem\n";
}

// Keeps loader and config messages; they are shown only when they matter.
class QuietLogger final : public mnigs::Logger {
 public:
  bool enabled(mnigs::LogLevel level) const override { return level <= mnigs::LogLevel::warn; }
  void write(mnigs::LogLevel, std::string_view message) override { lines.emplace_back(message); }
  std::vector<std::string> lines;
};

// The params field of a --voucher option ("--rate-down" -> "rateDown"); ""
// for anything else.
std::string voucher_option(const std::string& arg) {
  static const std::pair<const char*, const char*> options[] = {
      {"--count", "count"},       {"--minutes", "minutes"},
      {"--bytes", "bytes"},       {"--rate-down", "rateDown"},
      {"--rate-up", "rateUp"},    {"--devices", "devices"},
      {"--valid-days", "validDays"}, {"--note", "note"},
      {"--state", "state"}};
  for (const auto& [option, field] : options)
    if (arg == option) return field;
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = mnigs::default_config_path;
  bool config_given = false;
  std::string rpc;
  bool json = false;
  std::string command;
  std::string get_what;
  std::vector<std::pair<std::string, std::string>> sets;
  std::string connect_address, suite;
  bool auto_on = false;
  std::string call_method, call_params;
  std::string expose_name, expose_port;
  bool tether_on = true, qr = false;
  std::string voucher_action, voucher_code, release_id;
  Json::Value voucher_params(Json::objectValue);
  int connect_port = 65533;

  auto set_command = [&](const std::string& c) {
    if (!command.empty() && command != c) {
      std::cerr << "mnigs-cli: give one command (" << command << " and " << c << ")\n";
      std::exit(exit_code::usage);
    }
    command = c;
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto need = [&](const char* what) -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "mnigs-cli: " << arg << " needs " << what << "\n";
        std::exit(exit_code::usage);
      }
      return argv[++i];
    };
    if (arg == "-f" || arg == "--config") {
      config_path = need("a path");
      config_given = true;
    } else if (arg == "--rpc") {
      rpc = need("ADDR[:PORT]");
    } else if (arg == "--json") {
      json = true;
    } else if (arg == "-c" || arg == "--connect") {
      set_command("--connect");
      connect_address = need("the gateway's IP address");
    } else if (arg == "-t" || arg == "--test") {
      set_command("--test");
      connect_address = need("the gateway's IP address");
    } else if (arg == "-p" || arg == "--port") {
      std::string p = need("a port");
      connect_port = std::atoi(p.c_str());
      if (connect_port < 1 || connect_port > 65535) {
        std::cerr << "mnigs-cli: -p wants a port 1..65535 (got \"" << p << "\")\n";
        return exit_code::usage;
      }
    } else if (arg == "-m" || arg == "--suite") {
      suite = need("a suite such as static-forwarding-free");
    } else if (arg == "--reload") {
      set_command("--reload");
    } else if (arg == "--release") {
      set_command("--release");
      release_id = need("a session id (see --sessions)");
    } else if (arg == "-d" || arg == "--disconnect") {
      set_command("--disconnect");
    } else if (arg == "--auto") {
      set_command(arg);
      std::string v = need("on or off");
      if (v != "on" && v != "off") {
        std::cerr << "mnigs-cli: --auto wants on or off (got \"" << v << "\")\n";
        return exit_code::usage;
      }
      auto_on = v == "on";
    } else if (arg == "--voucher") {
      set_command(arg);
      voucher_action = need("create, list or revoke");
      if (voucher_action == "revoke") {
        voucher_code = need("the voucher's code");
      } else if (voucher_action != "create" && voucher_action != "list") {
        std::cerr << "mnigs-cli: --voucher wants create, list or revoke (got \"" << voucher_action
                  << "\")\n";
        return exit_code::usage;
      }
    } else if (const auto field = voucher_option(arg); !field.empty()) {
      if (command != "--voucher" || voucher_action != (field == "state" ? "list" : "create")) {
        std::cerr << "mnigs-cli: " << arg << " goes with --voucher "
                  << (field == "state" ? "list" : "create") << "\n";
        return exit_code::usage;
      }
      std::string v = need("a value");
      if (field == "state" && v == "in-use") v = "in use";
      const bool whole = !v.empty() && v.size() < 16 &&
                         v.find_first_not_of("0123456789") == std::string::npos;
      if (whole && field != "note") voucher_params[field] = Json::Int64(std::stoll(v));
      else voucher_params[field] = v;
    } else if (arg == "-s" || arg == "--scan") {
      set_command("--scan");
    } else if (arg == "-l" || arg == "--list") {
      set_command("--list");
    } else if (arg == "--status" || arg == "--info" || arg == "--plugins" || arg == "--sessions" ||
               arg == "--nodes") {
      set_command(arg);
    } else if (arg == "--get") {
      set_command(arg);
      if (i + 1 < argc && argv[i + 1][0] != '-') get_what = argv[++i];
    } else if (arg == "--call") {
      set_command(arg);
      call_method = need("a method name such as websocket.join");
      if (i + 1 < argc && argv[i + 1][0] != '-') call_params = argv[++i];
    } else if (arg == "--set") {
      set_command(arg);
      std::string a = need("SECTION.KEY=VALUE");
      auto eq = a.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "mnigs-cli: --set wants SECTION.KEY=VALUE (got \"" << a << "\")\n";
        return exit_code::usage;
      }
      sets.emplace_back(a.substr(0, eq), a.substr(eq + 1));
    } else if (arg == "--expose") {
      set_command(arg);
      std::string a = need("NAME=PORT (or NAME=off)");
      auto eq = a.find('=');
      const std::string port = eq == std::string::npos ? "" : a.substr(eq + 1);
      const bool port_ok = port == "off" || (!port.empty() && port.size() <= 5 &&
                                             port.find_first_not_of("0123456789") ==
                                                 std::string::npos &&
                                             std::stoi(port) >= 1 && std::stoi(port) <= 65535);
      // NAME becomes a DNS label: 1-63 lowercase letters, digits or '-',
      // not at either end.
      const std::string name = eq == std::string::npos ? "" : a.substr(0, eq);
      const bool name_ok = !name.empty() && name.size() <= 63 && name.front() != '-' &&
                           name.back() != '-' &&
                           name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") ==
                               std::string::npos;
      if (!name_ok || !port_ok) {
        std::cerr << "mnigs-cli: --expose wants NAME=PORT or NAME=off, NAME 1-63 lowercase "
                     "letters, digits or '-' (got \""
                  << a << "\")\n";
        return exit_code::usage;
      }
      expose_name = a.substr(0, eq);
      expose_port = port;
    } else if (arg == "--tether") {
      set_command(arg);
      if (i + 1 < argc && argv[i + 1][0] != '-') {
        const std::string a = argv[++i];
        if (a != "on" && a != "off") {
          std::cerr << "mnigs-cli: --tether wants on or off (got \"" << a << "\")\n";
          return exit_code::usage;
        }
        tether_on = a == "on";
      }
    } else if (arg == "--set-password") {
      set_command("--set-password");
    } else if (arg == "--qr") {
      qr = true;
    } else if (arg == "-h" || arg == "--help") {
      usage(std::cout);
      return exit_code::ok;
    } else if (arg == "-V" || arg == "--version") {
      std::cout << "mnigs-cli " << MNIGS_VERSION << "\n";
      return exit_code::ok;
    } else {
      std::cerr << "mnigs-cli: unknown option " << arg << " (see --help)\n";
      return exit_code::usage;
    }
  }
  if (qr && command != "--tether") {
    std::cerr << "mnigs-cli: --qr goes with --tether\n";
    return exit_code::usage;
  }
  if (command.empty()) command = "--status";
  ::signal(SIGPIPE, SIG_IGN);  // a daemon closing on us is an error to report, not a crash

  QuietLogger log;
  mnigs::StartupConfig startup;
  try {
    // A missing file is fine for --set (it is created) and for talking to a
    // daemon that runs on defaults.
    startup = mnigs::load_startup_config(config_path, false, log);
  } catch (const std::exception& e) {
    std::cerr << "mnigs-cli: " << e.what() << "\n";
    return exit_code::config;
  }
  (void)config_given;
  const auto& daemon = startup.values["daemon"];
  std::string host = "127.0.0.1";
  int port = daemon["rpcport"].asInt();
  if (!rpc.empty()) {
    std::string why;
    auto endpoint = mnigs::parse_host_port(
        rpc, {.default_port = static_cast<std::uint16_t>(port), .bare_ipv6 = true, .names = true},
        &why);
    if (!endpoint) {
      std::cerr << "mnigs-cli: --rpc " << why << "\n";
      return exit_code::usage;
    }
    host = endpoint->host;
    port = endpoint->port;
  }
  // The token is this node's: never hand it to another node named by --rpc.
  std::string token;
  auto target = mnigs::parse_address(host);
  if (host == "localhost" || (target && target->is_loopback()))
    token = mnigs::read_token_file(mnigs::token_path(daemon["dataDir"].asString())).value_or("");

  // A gateway test takes its time: a session, probes, transfers, checks.
  Client client(host, port, token, command == "--test" ? 40 : 10);
  Context ctx;
  ctx.config_path = config_path;
  ctx.json = json;
  ctx.startup = &startup;
  ctx.client = &client;
  ctx.daemon_hint = "mnigsd -f " + config_path;

  // A reply of a shape this client does not know (another version's daemon,
  // or a node that is not mnigsd behind --rpc) ends here, not in abort().
  try {
    if (command == "--status") return cmd_status(ctx);
    if (command == "--info") return cmd_info(ctx);
    if (command == "--plugins") return cmd_plugins(ctx);
    if (command == "--get") return cmd_get(ctx, get_what);
    if (command == "--set") return cmd_set(ctx, sets);
    if (command == "--set-password") return cmd_set_password(ctx);
    if (command == "--call") return cmd_call(ctx, call_method, call_params);
    if (command == "--expose") return cmd_expose(ctx, expose_name, expose_port);
    if (command == "--tether") return cmd_tether(ctx, tether_on, qr);
    if (command == "--connect") return cmd_connect(ctx, connect_address, connect_port, suite);
    if (command == "--disconnect") return cmd_disconnect(ctx);
    if (command == "--auto") return cmd_auto(ctx, auto_on);
    if (command == "--test") return cmd_test(ctx, connect_address, connect_port, suite);
    if (command == "--sessions") return cmd_sessions(ctx);
    if (command == "--release") return cmd_release(ctx, release_id);
    if (command == "--reload") return cmd_reload(ctx);
    if (command == "--voucher")
      return cmd_voucher(ctx, voucher_action, voucher_code, voucher_params);
    if (command == "--scan") return cmd_scan(ctx);
    if (command == "--list") return cmd_list(ctx, true);
    if (command == "--nodes") return cmd_list(ctx, false);
  } catch (const Json::Exception& e) {
    std::cerr << "mnigs-cli: the reply from " << client.address() << " to " << command
              << " is not what this mnigs-cli expects (" << e.what() << "); is it mnigsd "
              << MNIGS_VERSION << "?\n";
    return exit_code::failed;
  }
  usage(std::cerr);
  return exit_code::usage;
}
