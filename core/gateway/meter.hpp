// Metering and limits of the gateway's sessions, in the kernel: every byte a
// session sends through the gateway or receives through it is counted by
// nftables, quotas are enforced per packet by nft quota objects, and rates by
// nft limits. Paid or free, every session is metered.
//
// Kernel state it owns, table inet mnigs_meter:
//   chain forward      filter hook forward, priority filter + 10 (after the
//                      tunnels' own filter chains, so only what they let
//                      through is counted), policy accept: looks the packet's
//                      source up in out4/out6 and its destination in
//                      in4/in6, maps of a session's addresses (its mesh
//                      address and the tunnel addresses it was given) to a
//                      jump to its chain
//   chain o_ID, i_ID   session ID's upload (from the subscriber) and download
//                      (to it): its limit, its quotas, its counter
//   chain prerouting   nat hook prerouting: looks the source up in
//                      portal4/portal6, which jump to p_ID, session ID's
//                      redirect of HTTP to its payment page while unpaid
//                      (empty otherwise)
//   counter o_ID, i_ID the bytes of session ID that went through
//   quota q_N          account N's bytes (a voucher's, shared by every
//                      session drawing on it), created "until LIMIT bytes used
//                      USED bytes" from what was recorded, so a quota is never
//                      refilled by a restart, a re-login or a rebuild
//   counter a_N        the bytes charged to account N
// Only what goes through the uplinks is counted and limited (out of them for
// a session's upload, in from them for its download; the redirect of unpaid
// HTTP only for destinations routed to them): what a subscriber sends to the
// gateway itself (RPC, its payment page, the tunnel's own carrier) or to
// other mesh nodes through it is not Internet use. With no uplink known (no
// gateway.uplinks, no default route), all that is forwarded is.
//
// Counters are read and zeroed in one atomic step (nft reset counters), so no
// byte is counted twice or lost between read and reset; the caller adds each
// reading to what it stores. Quotas are not read: they only enforce.
//
// When the table is found gone (nft flush ruleset), it is rebuilt from what
// this object holds: what went through since the last reading is lost (the
// caller reads every gateway.meterInterval seconds), nothing is refilled
// beyond that.
//
// Runs on a strand of its own; commands run one after another through `run`.
#pragma once

#include "log/log.hpp"
#include "os/command_runner.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/strand.hpp>

#include <json/value.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace mnigs {

// What a session may do.
struct MeterPolicy {
  // false: only DNS goes through, HTTPS is refused with a TCP reset, the rest
  // is dropped (HTTP is redirected to the payment page by its plugin).
  bool paid = true;
  // The accounts whose quotas it draws on, in order; none: no quota.
  std::vector<std::int64_t> accounts;
  std::int64_t rate_up = 0, rate_down = 0;  // bytes per second; 0: no limit
  // Bytes per second each way once every account is spent; 0: cut off.
  std::int64_t throttle = 0;
  // Unpaid: TCP to port 80 anywhere is redirected to this port on the
  // gateway (the payment page); 0: not redirected.
  std::uint16_t portal_port = 0;

  bool operator==(const MeterPolicy&) const = default;
};

// A quota: `limit` bytes, of which `used` are spent.
struct MeterAccount {
  std::int64_t id = 0, limit = 0, used = 0;
};

struct MeteredSession {
  std::string id;  // the session id: hex, so it fits nft's object names
  std::vector<boost::asio::ip::address> addresses;
  MeterPolicy policy;
};

struct Traffic {
  std::int64_t out = 0, in = 0;  // bytes from the subscriber, to it
};

// What went through since the previous reading.
struct MeterReading {
  std::map<std::string, Traffic> sessions;
  std::map<std::int64_t, std::int64_t> accounts;  // bytes charged
  bool empty() const { return sessions.empty() && accounts.empty(); }
};

// The nft script that replaces the table with one holding `sessions` and
// `accounts`, metering what goes through `uplinks` (all that is forwarded
// when empty).
std::string meter_table_script(const std::vector<MeteredSession>& sessions,
                               const std::vector<MeterAccount>& accounts,
                               const std::vector<std::string>& uplinks);
// Replaces the lookups of the forward and prerouting chains for `uplinks`.
std::string meter_hooks_script(const std::vector<std::string>& uplinks);
// An interface name that may go into a script: 1 to 15 of [A-Za-z0-9_.@:-].
bool valid_interface_name(const std::string& name);
// Adds `s` (its accounts must exist) to the table.
std::string meter_add_script(const MeteredSession& s);
// Gives `s`'s chains its new policy; counters stay.
std::string meter_policy_script(const MeteredSession& s);
// Removes `s`: its map elements, chains and counters.
std::string meter_remove_script(const MeteredSession& s);
// Creates account `a` with what it has used, or raises its limit if it
// exists (the kernel keeps what it counted).
std::string meter_account_script(const MeterAccount& a, bool exists);
std::string meter_delete_account_script(std::int64_t id);
// The reading in `nft reset counters table inet mnigs_meter`'s output;
// nullopt (and `error`) for output that is not that.
std::optional<MeterReading> parse_meter_reading(const std::string& json, std::string* error);

class Meter {
 public:
  // Runs one command; `done` may be called on any thread.
  using Run = std::function<void(os::Command, std::function<void(CommandOutcome)>)>;
  using ReadingDone = std::function<void(MeterReading)>;
  using Done = std::function<void(std::string error)>;

  Meter(boost::asio::io_context& io, Run run);

  // Reads what a previous run's table still counted (after kill -9), then
  // replaces it with an empty one. `done` gets that reading.
  void start(ReadingDone done);
  // Removes the table (at shutdown, after the last reading and once the
  // tunnels are gone).
  void stop(std::function<void()> done);
  // The uplinks (gateway.uplinks); empty: the interfaces of the main
  // table's default routes, looked up now and again every minute.
  void set_uplinks(std::vector<std::string> configured);

  // Meters `s` under its policy. `accounts` are the accounts its policy
  // names, with what each has used; ones the meter already counted keep
  // the larger count and take the new limit. `done` (optional) runs on the
  // meter's strand with "" once the kernel has it, or with why not.
  void add(MeteredSession s, std::vector<MeterAccount> accounts, Done done = {});
  // A new policy for session `id` (paid, topped up, another rate); `done`
  // (optional) as for add().
  void update(const std::string& id, MeterPolicy policy, std::vector<MeterAccount> accounts,
              Done done = {});
  // Reads, then stops metering session `id`; `done` gets the reading.
  void remove(const std::string& id, ReadingDone done);
  // Reads and zeroes every counter. A missing table is rebuilt.
  void read(ReadingDone done);
  // {"sessions": N, "accounts": N, "uplinks": [...], "rebuilt": N, "error": "..."}
  void status(std::function<void(Json::Value)> done);

 private:
  void exec(std::string script, std::function<void(std::string error)> done);
  // exec(), and when nft says something is missing and the table is gone,
  // a rebuild (which holds what the script was to do) and done("").
  void exec_checked(std::string script, std::function<void(std::string error)> done);
  // Queues the reading's command now; `done` runs on the strand.
  void submit_read(ReadingDone done);
  void set_error(const std::string& error);
  // Creates or raises `accounts` in the kernel.
  std::string accounts_script(const std::vector<MeterAccount>& accounts);
  // Deletes the kernel objects of accounts no session names (their counts
  // were just read: only remove() calls it, after its reading).
  std::string drop_unused_accounts();
  void rebuild(std::function<void()> done);
  void resolve_uplinks();
  void apply_uplinks(std::vector<std::string> names);

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  Run run_;
  StderrLogger log_{"meter"};
  std::map<std::string, MeteredSession> sessions_;
  // Every account's limit and what the meter counted for it, also after
  // its kernel objects went (a session that comes back starts from there).
  std::map<std::int64_t, MeterAccount> accounts_;
  std::set<std::int64_t> in_kernel_;  // accounts with a quota and counter now
  std::vector<std::string> configured_uplinks_, uplinks_;
  std::chrono::steady_clock::time_point uplinks_resolved_{};
  std::int64_t rebuilt_ = 0;
  std::string error_;
};

}  // namespace mnigs
