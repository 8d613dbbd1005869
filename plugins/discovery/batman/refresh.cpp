#include "refresh.hpp"

#include "batadv.hpp"
#include "dump_reader.hpp"

#include <boost/asio/post.hpp>

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace mnigs::batman {

namespace {

// The kernel's address, and also what a socket binds to when the kernel
// should choose its port id.
boost::asio::generic::raw_protocol::endpoint kernel(int protocol) {
  sockaddr_nl a{};
  a.nl_family = AF_NETLINK;
  return {&a, sizeof a, protocol};
}

std::string errno_text(int error) { return std::strerror(error); }

}  // namespace

std::string dump_error(int error, const std::string& interface) {
  switch (error) {
    case ENODEV:
    case EINVAL:
      return interface + " is not a batman-adv mesh interface";
    case ENOENT:
      return interface + " has no active hard interface (add one with `batctl meshif " +
             interface + " interface add IF` or `ip link set IF master " + interface + "`)";
    case EPERM:
    case EACCES:
      return "reading batman-adv's tables needs CAP_NET_ADMIN (run mnigsd as root or grant it "
             "the capability)";
    case EOPNOTSUPP:
      return "this batman-adv cannot dump its originator table over netlink";
    default:
      return "batman-adv could not list the originators of " + interface + ": " +
             errno_text(error);
  }
}

std::shared_ptr<Refresh> Refresh::start(boost::asio::any_io_executor executor,
                                        RefreshOptions options, Done done) {
  auto r = std::make_shared<Refresh>(executor, std::move(options), std::move(done));
  boost::asio::post(executor, [r] { r->begin(); });
  return r;
}

Refresh::Refresh(boost::asio::any_io_executor executor, RefreshOptions options, Done done)
    : executor_(executor),
      options_(std::move(options)),
      done_(std::move(done)),
      genl_(executor),
      route_(executor),
      timer_(executor),
      buffer_(16384) {
  // Sequence numbers only need to differ from a previous request on the
  // same socket; the sockets are new, the time keeps the numbers readable
  // in a netlink trace.
  seq_ = static_cast<std::uint32_t>(std::time(nullptr));
}

void Refresh::cancel() {
  if (over_) return;
  over_ = true;
  timer_.cancel();
  boost::system::error_code ignored;
  genl_.close(ignored);
  route_.close(ignored);
}

void Refresh::begin() {
  if (over_) return;
  timer_.expires_after(options_.timeout);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->on_timeout();
  });
  std::string why;
  if (!open(genl_, NETLINK_GENERIC, &why)) return fail(why);
  ask(genl_, NETLINK_GENERIC, family_request(options_.family, ++seq_), GENL_ID_CTRL,
      [this](const nlmsghdr& h) {
        std::string why;
        if (auto id = parse_family_id(h, &why)) family_ = *id;
        else result_.notes.push_back("family lookup: skipped a reply: " + why);
      },
      [this](int error, const std::string& malformed) { on_family(error, malformed); });
}

void Refresh::on_family(int error, const std::string& malformed) {
  if (error == ENOENT) {
    result_.kernel = RefreshResult::Kernel::missing;
    return finish();
  }
  if (!malformed.empty()) return fail("the generic netlink controller sent a malformed answer: " + malformed);
  if (error)
    return fail("looking up the " + options_.family + " netlink family failed: " +
                errno_text(error));
  if (!family_)
    return fail("the generic netlink controller did not say " + options_.family + "'s family id");
  result_.kernel = RefreshResult::Kernel::present;
  if (options_.family_only) return finish();

  const std::string& mesh = options_.mesh_interface;
  result_.zone = options_.address_interface.empty() ? mesh : options_.address_interface;
  mesh_ifindex_ = if_nametoindex(mesh.c_str());
  if (!mesh_ifindex_) return fail("mesh interface " + mesh + " does not exist");
  result_.zone_ifindex = static_cast<std::int32_t>(if_nametoindex(result_.zone.c_str()));
  if (!result_.zone_ifindex) return fail("address interface " + result_.zone + " does not exist");
  ask_originators();
}

void Refresh::ask_originators() {
  ask(genl_, NETLINK_GENERIC,
      batadv_dump_request(family_, batadv::cmd_get_originators, mesh_ifindex_, ++seq_), family_,
      collect(result_.snapshot.originators, &parse_originator, "originator"),
      [this](int error, const std::string& malformed) { on_originators(error, malformed); });
}

void Refresh::on_originators(int error, const std::string& malformed) {
  if (!malformed.empty()) return fail("batman-adv sent a malformed originator table: " + malformed);
  if (error) return fail(dump_error(error, options_.mesh_interface));
  have_originators_ = true;
  ask_gateways();
}

void Refresh::ask_gateways() {
  ask(genl_, NETLINK_GENERIC,
      batadv_dump_request(family_, batadv::cmd_get_gateways, mesh_ifindex_, ++seq_), family_,
      collect(result_.snapshot.gateways, &parse_gateway, "gateway"),
      [this](int error, const std::string& malformed) {
        note_table("gateway list", error, malformed);
        if (options_.clients) ask_clients();
        else ask_neighbours();
      });
}

void Refresh::ask_clients() {
  ask(genl_, NETLINK_GENERIC,
      batadv_dump_request(family_, batadv::cmd_get_transtable_global, mesh_ifindex_, ++seq_),
      family_, collect(result_.snapshot.clients, &parse_client, "translation table entry"),
      [this](int error, const std::string& malformed) {
        note_table("global translation table", error, malformed);
        ask_neighbours();
      });
}

void Refresh::ask_neighbours() {
  std::string why;
  if (!open(route_, NETLINK_ROUTE, &why)) {
    result_.notes.push_back("could not read the neighbour table: " + why);
    return finish();
  }
  ask(route_, NETLINK_ROUTE, neighbour_dump_request(++seq_), RTM_NEWNEIGH,
      [this](const nlmsghdr& h) {
        std::string why;
        if (auto e = parse_neighbour(h, &why)) result_.snapshot.neighbours.push_back(std::move(*e));
        else if (!why.empty()) result_.notes.push_back("skipped a neighbour entry: " + why);
      },
      [this](int error, const std::string& malformed) {
        note_table("neighbour table", error, malformed);
        finish();
      });
}

template <class Entry>
std::function<void(const nlmsghdr&)> Refresh::collect(
    std::vector<Entry>& into, std::optional<Entry> (*parse)(const nlmsghdr&, std::string*),
    const char* what) {
  return [this, &into, parse, what](const nlmsghdr& h) {
    std::string why;
    if (auto e = parse(h, &why)) into.push_back(std::move(*e));
    else result_.notes.push_back(std::string("skipped a malformed ") + what + ": " + why);
  };
}

void Refresh::note_table(const char* table, int error, const std::string& malformed) {
  if (!malformed.empty())
    result_.notes.push_back(std::string("the ") + table + " was malformed: " + malformed);
  else if (error)
    result_.notes.push_back(std::string("could not read the ") + table + ": " +
                            errno_text(error));
}

bool Refresh::open(Socket& socket, int protocol, std::string* why) {
  boost::system::error_code ec;
  socket.open(boost::asio::generic::raw_protocol(AF_NETLINK, protocol), ec);
  if (!ec) socket.bind(kernel(protocol), ec);
  if (!ec) socket.non_blocking(true, ec);
  if (ec) *why = "cannot open a netlink socket: " + ec.message();
  return !ec;
}

void Refresh::ask(Socket& socket, int protocol, const std::vector<std::uint8_t>& request,
                  std::uint16_t type, std::function<void(const nlmsghdr&)> each, Then then) {
  const auto seq = reinterpret_cast<const nlmsghdr*>(request.data())->nlmsg_seq;
  boost::system::error_code ec;
  // A request to the kernel is handled within sendmsg(); it never waits.
  socket.send_to(boost::asio::buffer(request), kernel(protocol), 0, ec);
  if (ec) return then(ec.value(), "");
  reader_ = std::make_unique<DumpReader>(seq, type, std::move(each));
  then_ = std::move(then);
  receive(socket);
}

void Refresh::receive(Socket& socket) {
  socket.async_receive(
      boost::asio::buffer(buffer_.data(), buffer_.size() * sizeof(std::uint32_t)),
      [self = shared_from_this(), &socket](boost::system::error_code ec, std::size_t n) {
        if (self->over_) return;
        if (ec) {
          auto then = std::move(self->then_);
          return then(ec.value(), "");
        }
        auto* data = reinterpret_cast<const std::uint8_t*>(self->buffer_.data());
        if (!self->reader_->feed(data, n)) return self->receive(socket);
        auto then = std::move(self->then_);
        then(self->reader_->error(), self->reader_->malformed());
      });
}

void Refresh::on_timeout() {
  if (over_) return;
  const std::string after = std::to_string(options_.timeout.count()) + " ms";
  if (result_.kernel == RefreshResult::Kernel::present && have_originators_) {
    // The originators are what matters; a slow secondary table only costs
    // the addresses it would have added.
    result_.notes.push_back("stopped waiting for the kernel after " + after);
    return finish();
  }
  fail("the kernel did not answer within " + after);
}

void Refresh::fail(std::string error) {
  result_.error = std::move(error);
  finish();
}

void Refresh::finish() {
  if (over_) return;
  cancel();
  auto done = std::move(done_);
  done(std::move(result_));
}

}  // namespace mnigs::batman
