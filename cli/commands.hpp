// What each mnigs-cli option does. Every command returns the process exit code.
#pragma once

#include "client.hpp"

#include "config/startup.hpp"

#include <string>
#include <utility>
#include <vector>

namespace mnigs::cli {

namespace exit_code {
constexpr int ok = 0;
constexpr int failed = 1;       // the daemon answered with an error
constexpr int usage = 2;        // bad command line
constexpr int not_running = 3;  // no daemon answers
constexpr int config = 4;       // the config file is missing or invalid
}  // namespace exit_code

struct Context {
  std::string config_path;
  bool json = false;
  StartupConfig* startup = nullptr;  // the parsed config (for --set on a stopped daemon)
  Client* client = nullptr;
  std::string daemon_hint;  // "mnigsd -f /etc/mnigs/mnigs.yaml"
};

int cmd_status(Context& ctx);
int cmd_info(Context& ctx);
int cmd_plugins(Context& ctx);
int cmd_get(Context& ctx, const std::string& what);
int cmd_set(Context& ctx, const std::vector<std::pair<std::string, std::string>>& assignments);
// --call: any method with params given as JSON text ("" for none); prints
// the result as JSON.
int cmd_call(Context& ctx, const std::string& method, const std::string& params);
// Exposes the node's loopback `port` as the named service `name` through
// its gateways (httptunnel.services); port "off" takes it back.
int cmd_expose(Context& ctx, const std::string& name, const std::string& port);
// --tether [on|off] [--qr]: tether.enabled, then the page's URL and pairing
// code (as a QR code too with `qr`), then the state as it changes while
// stdout is a terminal.
int cmd_tether(Context& ctx, bool on, bool qr);
int cmd_connect(Context& ctx, const std::string& address, int port, const std::string& suite);
int cmd_disconnect(Context& ctx);
// -t ADDR [-p PORT] [-m SUITE]: testGateway.
int cmd_test(Context& ctx, const std::string& address, int port, const std::string& suite);
// --auto on|off: setAuto.
int cmd_auto(Context& ctx, bool on);
int cmd_sessions(Context& ctx);
// --reload: reloadConfig, the config file read again; returns when done.
int cmd_reload(Context& ctx);
// --release ID: releaseSession, ending a session this gateway serves.
int cmd_release(Context& ctx, const std::string& session_id);
// --voucher create|list|revoke: createVouchers, listVouchers, revokeVoucher.
int cmd_voucher(Context& ctx, const std::string& action, const std::string& code,
                const Json::Value& params);
// --set-password: the web UI's password, read twice without echo from a
// terminal, or as one line from stdin; an empty one removes it (logins then
// take the admin token only). Written to daemon.dataDir, hashed; needs no
// daemon, and a running one ends the logins made with the old password.
int cmd_set_password(Context& ctx);
// -s: start a scan and follow it with a progress bar until it ends.
int cmd_scan(Context& ctx);
// -l: the gateways the scans found; --nodes: every node.
int cmd_list(Context& ctx, bool gateways_only);

}  // namespace mnigs::cli
