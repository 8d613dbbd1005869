#include "harness/babel.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <json/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "harness/netns.hpp"
#include "harness/reaper.hpp"

namespace mnigs::test {

namespace {

constexpr const char* babeld_path = "/usr/sbin/babeld";
using Clock = std::chrono::steady_clock;

// A gateway's unreachable default routes carry this metric so that a real
// uplink default (metric 0), should a test add one, is preferred over them.
constexpr const char* gateway_default_metric = "4242";

Json::Value parse_json(const std::string& text, const std::string& what) {
  Json::Value value;
  std::string errors;
  Json::CharReaderBuilder builder;
  std::istringstream in(text);
  if (!Json::parseFromStream(builder, in, &value, &errors))
    throw std::runtime_error(what + ": not JSON (" + errors + "): " + text.substr(0, 200));
  return value;
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `events` on fd until the deadline; throws naming `what` on timeout.
void wait_fd(int fd, short events, Clock::time_point deadline, const std::string& what) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return;
    if (n == 0) throw std::runtime_error(what + ": timed out");
    if (errno != EINTR) throw std::runtime_error(what + ": poll: " + std::strerror(errno));
  }
}

struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

// The local protocol: every reply is a run of lines ended by one line that
// is "ok", "no" or "bad" (optionally followed by a message).
class LocalReader {
 public:
  LocalReader(int fd, Clock::time_point deadline, std::string what)
      : fd_(fd), deadline_(deadline), what_(std::move(what)) {}

  // Returns the lines of the next reply, without the final line; throws if
  // it ends in "no" or "bad".
  std::string reply() {
    std::string lines;
    for (;;) {
      std::string line = next_line();
      const std::string word = line.substr(0, line.find(' '));
      if (word == "ok") return lines;
      if (word == "no" || word == "bad")
        throw std::runtime_error(what_ + ": babeld answered \"" + line + "\" after:\n" + lines);
      lines += line + "\n";
    }
  }

 private:
  std::string next_line() {
    for (;;) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      wait_fd(fd_, POLLIN, deadline_, what_);
      char chunk[4096];
      ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n == 0) throw std::runtime_error(what_ + ": babeld closed the connection");
      if (n < 0 && errno != EINTR && errno != EAGAIN)
        throw std::runtime_error(what_ + ": read: " + std::strerror(errno));
      if (n > 0) buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  int fd_;
  Clock::time_point deadline_;
  std::string what_;
  std::string buffer_;
};

// Connects to [::1]:port from the calling thread's namespace (non-blocking,
// so the deadline holds even for a daemon that accepts and stalls).
int connect_local(int port, Clock::time_point deadline, const std::string& what) {
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) throw std::runtime_error(what + ": socket: " + std::strerror(errno));
  FdGuard guard{fd};
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(static_cast<uint16_t>(port));
  addr.sin6_addr = in6addr_loopback;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) throw std::runtime_error(what + ": connect: " + std::strerror(errno));
    wait_fd(fd, POLLOUT, deadline, what + ": connect");
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) throw std::runtime_error(what + ": connect: " + std::strerror(err));
  }
  guard.fd = -1;
  return fd;
}

void write_all(int fd, const std::string& data, Clock::time_point deadline,
               const std::string& what) {
  size_t done = 0;
  while (done < data.size()) {
    wait_fd(fd, POLLOUT, deadline, what);
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno != EINTR && errno != EAGAIN)
      throw std::runtime_error(what + ": send: " + std::strerror(errno));
    if (n > 0) done += static_cast<size_t>(n);
  }
}

// Strips a host prefix length: "10.78.0.3/32" -> "10.78.0.3", as ip(8) prints it.
std::string route_key(const std::string& destination) {
  for (const char* host : {"/32", "/128"})
    if (destination.size() > std::strlen(host) &&
        destination.compare(destination.size() - std::strlen(host), std::string::npos, host) == 0)
      return destination.substr(0, destination.size() - std::strlen(host));
  return destination;
}

// Destinations of the unicast routes babeld installed in `ns`, both families,
// defaults spelled "0.0.0.0/0" and "::/0".
std::set<std::string> babel_routes(const std::string& ns) {
  std::set<std::string> present;
  for (const char* family : {"-4", "-6"}) {
    const std::string out =
        run_checked({"ip", "-j", family, "route", "show", "table", "all", "proto", "babel"}, ns, 10s);
    const Json::Value routes = parse_json(out.empty() ? "[]" : out, "ip -j route in " + ns);
    for (const auto& r : routes) {
      const std::string type = r.get("type", "unicast").asString();
      if (type != "unicast") continue;
      std::string dst = r["dst"].asString();
      if (dst == "default") dst = std::string(family) == "-4" ? "0.0.0.0/0" : "::/0";
      present.insert(route_key(dst));
    }
  }
  return present;
}

}  // namespace

std::string babel_address(int index) { return "10.78.0." + std::to_string(index); }

// The same digits as the IPv4 address, read as hex: fd78::10 is node 10.
std::string babel_address6(int index) { return "fd78::" + std::to_string(index); }

// ---------------------------------------------------------------- Babeld

Babeld::Babeld(const Topology& topology, std::string node, int index, BabelOptions options)
    : topology_(topology),
      node_(std::move(node)),
      ns_(topology.ns(node_)),
      index_(index),
      options_(std::move(options)) {
  if (index_ < 1 || index_ > 254)
    throw std::invalid_argument("babeld for " + node_ + ": node index " + std::to_string(index_) +
                                " is outside 1..254");
  if (!std::filesystem::exists(babeld_path))
    throw std::runtime_error(std::string(babeld_path) +
                             " is missing: install the Debian package babeld");
  std::string pattern = "/tmp/mnigs-babel-" + node_ + "-XXXXXX";
  if (!::mkdtemp(pattern.data()))
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  dir_ = pattern;
  try {
    Reaper::instance().watch_dir(dir_);
  } catch (...) {
    std::filesystem::remove_all(dir_);
    throw;
  }
}

Babeld::~Babeld() {
  const bool started = pid_ > 0;
  try {
    stop();
  } catch (const std::exception& e) {
    std::cerr << "[harness] stopping babeld of node " << node_ << ": " << e.what() << "\n";
  }
  if (started && ::testing::Test::HasFailure())
    std::cerr << "---- last lines of " << log_path() << " (babeld of " << node_ << ") ----\n"
              << log_tail() << "---- end of log ----\n";
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  Reaper::instance().forget_dir(dir_);
}

std::vector<std::string> Babeld::links() const {
  const Json::Value all = parse_json(run_checked({"ip", "-j", "link", "show"}, ns_, 10s),
                                     "ip -j link in " + ns_);
  std::vector<std::string> out;
  for (const auto& l : all) {
    const std::string name = l["ifname"].asString();
    if (name.rfind("to-", 0) == 0) out.push_back(name);
  }
  return out;
}

std::string Babeld::config_text() const {
  const auto links_now = links();
  if (links_now.empty())
    throw std::runtime_error("babeld for " + node_ + ": the node has no links (to-*) in " + ns_);
  char router_id[32];
  std::snprintf(router_id, sizeof router_id, "02:78:00:00:%02x:%02x", index_ >> 8, index_ & 0xff);
  std::ostringstream c;
  c << "# babeld of node " << node_ << " (node " << index_
    << "), written by the mnigs system-test harness\n"
    << "router-id " << router_id << "\n"
    << "state-file " << dir_ << "/babel-state\n"
    << "pid-file " << dir_ << "/babeld.pid\n"
    << (options_.read_write ? "local-port-readwrite " : "local-port ") << options_.local_port
    << "\n"
    // veth links are wired; saying so skips babeld's wireless probe.
    << "default type wired hello-interval " << options_.hello_interval.count() / 1000.0
    << " update-interval " << 4 * options_.hello_interval.count() / 1000.0 << "\n";
  if (options_.gateway)
    // Announce the unreachable default routes prepare_namespace() added, and
    // never install another gateway's default: a gateway's exit is its own.
    c << "redistribute ip 0.0.0.0/0 eq 0 metric 128\n"
      << "redistribute ip ::/0 eq 0 metric 128\n"
      << "install ip 0.0.0.0/0 eq 0 deny\n"
      << "install ip ::/0 eq 0 deny\n";
  // Only the node address goes out: link addresses stay local to their link.
  c << "redistribute local ip 10.78.0.0/16 allow\n"
    << "redistribute local ip fd78::/64 allow\n"
    << "redistribute local deny\n"
    << "redistribute deny\n"
    // Without a preferred source, packets to a far node would leave from a
    // link address that only the neighbour can route back to.
    << "install ip 0.0.0.0/0 pref-src " << address() << "\n"
    << "install ip ::/0 pref-src " << address6() << "\n";
  for (const auto& l : links_now) c << "interface " << l << "\n";
  if (!options_.extra_config.empty()) c << options_.extra_config << "\n";
  return c.str();
}

void Babeld::prepare_namespace() const {
  run_checked({"ip", "-n", ns_, "addr", "replace", address() + "/32", "dev", "lo"}, "", 10s);
  run_checked({"ip", "-n", ns_, "addr", "replace", address6() + "/128", "dev", "lo", "nodad"}, "",
              10s);
  if (!options_.gateway) return;
  // proto static: babeld ignores routes of proto "boot", ip(8)'s default.
  for (const char* family : {"-4", "-6"})
    run_checked({"ip", "-n", ns_, family, "route", "replace", "unreachable", "default", "proto",
                 "static", "metric", gateway_default_metric},
                "", 10s);
}

void Babeld::prepare() {
  prepare_namespace();
  std::ofstream config(config_path(), std::ios::trunc);
  config << config_text();
  if (!config) throw std::runtime_error("cannot write " + config_path());
}

void Babeld::launch() {
  if (running()) throw std::logic_error("babeld of node " + node_ + " is already running");
  // babeld refuses to start over an existing pid file.
  std::filesystem::remove(dir_ + "/babeld.pid");
  pid_ = spawn_in_ns(ns_, {babeld_path, "-c", config_path(), "-d", std::to_string(options_.debug)},
                     log_path());
  running_ = true;
  Reaper::instance().watch_pid(pid_);
}

void Babeld::wait_ready(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string last = "no attempt made";
  while (Clock::now() < deadline) {
    if (!running())
      throw std::runtime_error("babeld of node " + node_ + " exited; log tail:\n" + log_tail());
    try {
      local_request("", 1s);
      return;
    } catch (const std::exception& e) {
      last = e.what();
    }
    std::this_thread::sleep_for(50ms);
  }
  throw std::runtime_error("babeld of node " + node_ + " did not answer on [::1]:" +
                           std::to_string(options_.local_port) + " (last: " + last +
                           "); log tail:\n" + log_tail());
}

void Babeld::start(std::chrono::milliseconds timeout) {
  prepare();
  launch();
  wait_ready(timeout);
}

void Babeld::request_stop() {
  if (running()) ::kill(pid_, SIGTERM);
}

int Babeld::stop(std::chrono::milliseconds timeout) {
  if (!running_) return -1;
  ::kill(pid_, SIGTERM);
  auto code = wait_exit(pid_, timeout);
  if (!code) {
    std::cerr << "[harness] babeld of node " << node_ << " ignored SIGTERM; sending SIGKILL\n";
    ::kill(pid_, SIGKILL);
    code = wait_exit(pid_, 5s);
  }
  running_ = false;
  Reaper::instance().forget_pid(pid_);
  return code.value_or(-1);
}

bool Babeld::running() {
  if (running_ && wait_exit(pid_, 0ms)) {
    running_ = false;
    Reaper::instance().forget_pid(pid_);
  }
  return running_;
}

std::string Babeld::local_request(const std::string& request,
                                  std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  const std::string what = "babeld local interface of " + node_ + " ([::1]:" +
                           std::to_string(options_.local_port) + " in " + ns_ + ")";
  std::string answer;
  run_in_netns_thread(ns_, [&] {
    FdGuard fd{connect_local(options_.local_port, deadline, what)};
    LocalReader reader(fd.fd, deadline, what);
    const std::string greeting = reader.reply();
    if (greeting.rfind("BABEL ", 0) != 0)
      throw std::runtime_error(what + ": unexpected greeting: " + greeting);
    if (request.empty()) {
      answer = greeting;
      return;
    }
    write_all(fd.fd, request + "\n", deadline, what);
    answer = reader.reply();
  });
  return answer;
}

std::string Babeld::router_id() const {
  std::istringstream greeting(local_request(""));
  for (std::string line; std::getline(greeting, line);)
    if (line.rfind("my-id ", 0) == 0) return line.substr(6);
  throw std::runtime_error("babeld of node " + node_ + " did not say its my-id");
}

std::string Babeld::log_tail(size_t lines) const {
  std::ifstream in(log_path());
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    out += all[i] + "\n";
  return out;
}

// ---------------------------------------------------------------- routes

std::vector<std::string> missing_babel_routes(const std::string& ns,
                                              const std::vector<std::string>& destinations) {
  const auto present = babel_routes(ns);
  std::vector<std::string> missing;
  for (const auto& d : destinations)
    if (!present.count(route_key(d))) missing.push_back(d);
  return missing;
}

std::vector<std::string> wait_for_babel_routes(const std::string& ns,
                                               const std::vector<std::string>& destinations,
                                               std::chrono::milliseconds timeout,
                                               std::chrono::milliseconds interval) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto missing = missing_babel_routes(ns, destinations);
    if (missing.empty() || Clock::now() + interval > deadline) return missing;
    std::this_thread::sleep_for(interval);
  }
}

int wait_for_babel_plugin(const Node& node, int count, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  int seen = -1;
  for (;;) {
    const Json::Value r = node.rpc("listPlugins");
    for (const auto& p : r["result"]["plugins"])
      if (p["name"].asString() == "babel" && p["status"]["nodes"].isIntegral())
        seen = p["status"]["nodes"].asInt();
    if (seen >= count || Clock::now() >= deadline) return seen;
    std::this_thread::sleep_for(50ms);
  }
}

// ---------------------------------------------------------------- BabelMesh

BabelMesh::BabelMesh(const Topology& topology, std::set<std::string> gateways, BabelOptions base)
    : topology_(topology), gateways_(std::move(gateways)) {
  const auto& nodes = topology_.nodes();
  for (const auto& g : gateways_)
    if (std::find(nodes.begin(), nodes.end(), g) == nodes.end())
      throw std::invalid_argument("babel gateway \"" + g + "\" is not a node of the topology");
  for (size_t i = 0; i < nodes.size(); ++i) {
    BabelOptions o = base;
    o.gateway = is_gateway(nodes[i]);
    daemons_.emplace(nodes[i],
                     std::make_unique<Babeld>(topology_, nodes[i], static_cast<int>(i) + 1, o));
  }
}

BabelMesh::~BabelMesh() { stop(); }

void BabelMesh::start() {
  for (auto& [name, d] : daemons_) d->prepare();
  started_ = Clock::now();
  for (auto& [name, d] : daemons_) d->launch();
  for (auto& [name, d] : daemons_) d->wait_ready();
}

void BabelMesh::stop() {
  for (auto& [name, d] : daemons_) d->request_stop();
  for (auto& [name, d] : daemons_) d->stop();
}

Babeld& BabelMesh::babeld(const std::string& node) {
  auto it = daemons_.find(node);
  if (it == daemons_.end()) throw std::invalid_argument("\"" + node + "\" has no babeld");
  return *it->second;
}

int BabelMesh::index(const std::string& node) const {
  auto it = daemons_.find(node);
  if (it == daemons_.end()) throw std::invalid_argument("\"" + node + "\" has no babeld");
  return it->second->index();
}

std::vector<std::string> BabelMesh::expected_routes(const std::string& node) const {
  std::vector<std::string> out;
  for (const auto& other : topology_.nodes()) {
    if (other == node) continue;
    out.push_back(address(other));
    out.push_back(address6(other));
  }
  if (!gateways_.empty() && !is_gateway(node)) {
    out.push_back("0.0.0.0/0");
    out.push_back("::/0");
  }
  return out;
}

double BabelMesh::wait_converged(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::map<std::string, std::vector<std::string>> missing;
  for (const auto& n : topology_.nodes()) missing[n] = expected_routes(n);
  for (;;) {
    // Only nodes still missing something are asked again...
    for (auto it = missing.begin(); it != missing.end();) {
      it->second = missing_babel_routes(topology_.ns(it->first), expected_routes(it->first));
      it = it->second.empty() ? missing.erase(it) : std::next(it);
    }
    // ...and once none is, every node is checked again in one sweep, so a
    // route that came and went early does not count as converged.
    if (missing.empty()) {
      for (const auto& n : topology_.nodes())
        if (auto m = missing_babel_routes(topology_.ns(n), expected_routes(n)); !m.empty())
          missing[n] = std::move(m);
      if (missing.empty())
        return std::chrono::duration<double>(Clock::now() - started_).count();
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(100ms);
  }
  std::string report;
  for (const auto& [node, m] : missing) {
    report += "  " + node + " lacks";
    for (const auto& d : m) report += " " + d;
    report += "\n";
  }
  throw std::runtime_error("babel did not converge within " + std::to_string(timeout.count()) +
                           " ms:\n" + report);
}

}  // namespace mnigs::test
