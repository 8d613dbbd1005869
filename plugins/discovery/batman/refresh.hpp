// One look at the kernel: resolve the "batadv" generic netlink family, then
// dump the originators, gateways and global translation table of the mesh
// interface, and the neighbour table. Runs on the executor it is given (the
// plugin's strand), over non-blocking netlink sockets of its own, and ends
// at the latest when its timeout expires.
#pragma once

#include "batadv.hpp"
#include "mesh_view.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/generic/raw_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mnigs::batman {

class DumpReader;

struct RefreshOptions {
  std::string mesh_interface = "bat0";
  std::string address_interface;  // "" : the mesh interface
  std::chrono::milliseconds timeout{2000};
  bool clients = true;       // dump the translation table too
  bool family_only = false;  // only find out whether batman-adv is there
  // The generic netlink family to look up. Always batman-adv's; the tests
  // also use "nlctrl", which every kernel has.
  std::string family = batadv::family_name;
};

struct RefreshResult {
  enum class Kernel { unknown, missing, present };
  Kernel kernel = Kernel::unknown;
  std::string error;  // "" when everything asked for was read (see notes)
  Snapshot snapshot;
  std::int32_t zone_ifindex = 0;
  std::string zone;  // the address interface's name
  // Entries skipped as malformed, and tables that could not be read while
  // the originators could: one line each, for the log.
  std::vector<std::string> notes;
};

class Refresh : public std::enable_shared_from_this<Refresh> {
 public:
  using Done = std::function<void(RefreshResult)>;

  // Starts a refresh; `done` runs once, on `executor`, never from within
  // start() itself, unless cancel() comes first.
  static std::shared_ptr<Refresh> start(boost::asio::any_io_executor executor,
                                        RefreshOptions options, Done done);
  // Stops at once; `done` is not called.
  void cancel();

  Refresh(boost::asio::any_io_executor executor, RefreshOptions options, Done done);

 private:
  using Socket = boost::asio::generic::raw_protocol::socket;
  using Then = std::function<void(int error, const std::string& malformed)>;

  void begin();
  void on_family(int error, const std::string& malformed);
  void ask_originators();
  void on_originators(int error, const std::string& malformed);
  void ask_gateways();
  void ask_clients();
  void ask_neighbours();
  void finish();
  void fail(std::string error);
  void on_timeout();

  bool open(Socket& socket, int protocol, std::string* why);
  // Sends `request` and reads the answers carrying its sequence number;
  // `each` gets the messages of `type`, `then` the outcome.
  void ask(Socket& socket, int protocol, const std::vector<std::uint8_t>& request,
           std::uint16_t type, std::function<void(const struct nlmsghdr&)> each, Then then);
  void receive(Socket& socket);
  void note_table(const char* table, int error, const std::string& malformed);
  template <class Entry>
  std::function<void(const struct nlmsghdr&)> collect(
      std::vector<Entry>& into, std::optional<Entry> (*parse)(const struct nlmsghdr&, std::string*),
      const char* what);

  boost::asio::any_io_executor executor_;
  RefreshOptions options_;
  Done done_;
  Socket genl_, route_;
  boost::asio::steady_timer timer_;
  std::vector<std::uint32_t> buffer_;  // 64 KiB, 4-byte aligned for nlmsghdr
  std::unique_ptr<DumpReader> reader_;
  Then then_;
  RefreshResult result_;
  std::uint16_t family_ = 0;
  std::uint32_t mesh_ifindex_ = 0;
  std::uint32_t seq_ = 0;
  bool have_originators_ = false;
  bool over_ = false;
};

// A sentence for an errno batman-adv answered a dump of `interface` with.
std::string dump_error(int error, const std::string& interface);

}  // namespace mnigs::batman
