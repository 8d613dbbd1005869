// ManagementClient against a scripted unix-socket peer, then against the
// real openvpn (a server and a client in a network namespace the test
// makes; root only, skipped elsewhere).
#include "management_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "test_openvpn.hpp"

namespace mnigs::openvpn {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using local = asio::local::stream_protocol;
using namespace std::chrono_literals;

// Runs `io` until `done` or `limit`.
template <typename Pred>
bool run_until(asio::io_context& io, Pred done, std::chrono::milliseconds limit = 5000ms) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < until) {
    io.run_for(10ms);
    if (io.stopped()) io.restart();
  }
  return done();
}

// A peer that accepts one connection, answers each line it reads with the
// next scripted text ("" for silence) and can write on its own.
struct ScriptedPeer {
  ScriptedPeer(asio::io_context& io, std::string path, std::vector<std::string> answers,
               std::string greeting = "")
      : acceptor(io, local::endpoint(path)), socket(io), answers(std::move(answers)) {
    acceptor.async_accept(socket, [this, greeting](const error_code& ec) {
      if (ec) return;
      write(greeting);
      read();
    });
  }
  void read() {
    asio::async_read_until(socket, buffer, '\n', [this](const error_code& ec, std::size_t n) {
      if (ec) return;
      std::string line(asio::buffers_begin(buffer.data()), asio::buffers_begin(buffer.data()) + n);
      buffer.consume(n);
      received.push_back(line);
      if (next < answers.size()) write(answers[next++]);
      read();
    });
  }
  void write(std::string text) {
    if (text.empty()) return;
    auto held = std::make_shared<std::string>(std::move(text));
    asio::async_write(socket, asio::buffer(*held), [held](const error_code&, std::size_t) {});
  }
  local::acceptor acceptor;
  local::socket socket;
  asio::streambuf buffer;
  std::vector<std::string> answers;
  std::size_t next = 0;
  std::vector<std::string> received;
};

struct Outcome {
  bool called = false;
  error_code ec;
  Reply reply;
};

ManagementClient::ReplyHandler keep(Outcome& o) {
  return [&o](const error_code& ec, Reply r) {
    o.called = true;
    o.ec = ec;
    o.reply = std::move(r);
  };
}

class OpenvpnClientScripted : public ::testing::Test {
 protected:
  asio::io_context io;
  asio::strand<asio::io_context::executor_type> strand = asio::make_strand(io);
  testing::TempDir dir;
  std::string path = dir / "mgmt.sock";
};

TEST_F(OpenvpnClientScripted, CommandsInOrderNotificationsBetween) {
  ScriptedPeer peer(io, path,
                    {">STATE:1,CONNECTED,SUCCESS,10.8.0.2,,,,,\r\nSUCCESS: state on\r\n",
                     "TITLE\tx\r\n>BYTECOUNT:1,2\r\nEND\r\n", "ERROR: no such client\r\n"},
                    ">INFO:OpenVPN Management Interface Version 5\r\n");
  auto client = ManagementClient::create(strand, path);
  std::vector<Message> notes;
  client->on_notification([&](const Message& m) { notes.push_back(m); });
  Outcome connected, a, b, c;
  client->connect([&](const error_code& ec) {
    connected.called = true;
    connected.ec = ec;
  });
  client->send(state_on(), keep(a));  // queued before the connection is up
  client->send(status(), keep(b));
  client->send(client_kill(99), keep(c));
  ASSERT_TRUE(run_until(io, [&] { return c.called; }));
  EXPECT_FALSE(connected.ec);
  EXPECT_EQ(a.reply.kind, Reply::Kind::success);
  EXPECT_EQ(b.reply.lines, std::vector<std::string>{"TITLE\tx"});
  EXPECT_EQ(c.reply.kind, Reply::Kind::error);
  EXPECT_EQ(c.reply.text, "no such client");
  EXPECT_EQ(peer.received,
            (std::vector<std::string>{"state on\n", "status 3\n", "client-kill 99\n"}));
  ASSERT_EQ(notes.size(), 3u);
  EXPECT_TRUE(std::holds_alternative<Info>(notes[0]));
  EXPECT_TRUE(std::holds_alternative<State>(notes[1]));
  EXPECT_TRUE(std::holds_alternative<ByteCount>(notes[2]));
  client->close();
}

TEST_F(OpenvpnClientScripted, ConnectRetriesUntilTheSocketAppears) {
  auto client = ManagementClient::create(strand, path, {.connect_timeout = 3000ms,
                                                        .retry_interval = 20ms});
  Outcome connected;
  client->connect([&](const error_code& ec) {
    connected.called = true;
    connected.ec = ec;
  });
  run_until(io, [] { return false; }, 200ms);
  EXPECT_FALSE(connected.called);
  ScriptedPeer peer(io, path, {});
  ASSERT_TRUE(run_until(io, [&] { return connected.called; }));
  EXPECT_FALSE(connected.ec) << connected.ec.message();
  EXPECT_TRUE(client->connected());
  client->close();
}

TEST_F(OpenvpnClientScripted, ConnectGivesUpAtTheDeadlineAndFailsWhatWasQueued) {
  auto client = ManagementClient::create(strand, path, {.connect_timeout = 300ms,
                                                        .retry_interval = 20ms});
  Outcome connected, queued;
  client->connect([&](const error_code& ec) {
    connected.called = true;
    connected.ec = ec;
  });
  client->send(state_on(), keep(queued));
  ASSERT_TRUE(run_until(io, [&] { return connected.called && queued.called; }));
  EXPECT_EQ(connected.ec, error_code(ENOENT, boost::system::system_category()));
  EXPECT_EQ(queued.ec, connected.ec);
  Outcome after;
  client->send(state_on(), keep(after));
  ASSERT_TRUE(run_until(io, [&] { return after.called; }));
  EXPECT_EQ(after.ec, asio::error::not_connected);
}

TEST_F(OpenvpnClientScripted, UnansweredCommandEndsTheConnectionOnce) {
  ScriptedPeer peer(io, path, {""});
  auto client = ManagementClient::create(strand, path, {.command_timeout = 200ms});
  int ends = 0;
  error_code end_ec;
  client->on_end([&](const error_code& ec) {
    ++ends;
    end_ec = ec;
  });
  Outcome first, second;
  client->connect([](const error_code&) {});
  client->send(state_on(), keep(first));
  client->send(bytecount(1), keep(second));
  ASSERT_TRUE(run_until(io, [&] { return ends == 1; }));
  EXPECT_EQ(first.ec, asio::error::timed_out);
  EXPECT_EQ(second.ec, asio::error::timed_out);
  EXPECT_EQ(end_ec, asio::error::timed_out);
  run_until(io, [] { return false; }, 100ms);
  EXPECT_EQ(ends, 1);
  EXPECT_EQ(peer.received.size(), 1u);  // the second never went out
}

TEST_F(OpenvpnClientScripted, PeerClosingIsReportedOnceWithEof) {
  ScriptedPeer peer(io, path, {});
  auto client = ManagementClient::create(strand, path);
  int ends = 0;
  error_code end_ec;
  client->on_end([&](const error_code& ec) {
    ++ends;
    end_ec = ec;
  });
  bool up = false;
  client->connect([&](const error_code& ec) { up = !ec; });
  ASSERT_TRUE(run_until(io, [&] { return up && peer.socket.is_open(); }));
  peer.write(">CLIENT:CONNECT,1,0\r\n>CLIENT:ENV,a=1\r\n");  // cut off
  run_until(io, [] { return false; }, 50ms);
  peer.socket.close();
  ASSERT_TRUE(run_until(io, [&] { return ends == 1; }));
  EXPECT_EQ(end_ec, asio::error::eof);
  EXPECT_EQ(client->parser_counters().dropped_blocks, 1u);
  EXPECT_TRUE(client->closed());
  client->close();
  client->close();  // idempotent
}

TEST_F(OpenvpnClientScripted, NothingIsCalledAfterClose) {
  ScriptedPeer peer(io, path, {"SUCCESS: x\r\n"});
  auto client = ManagementClient::create(strand, path);
  int calls = 0;
  client->on_notification([&](const Message&) { ++calls; });
  client->on_end([&](const error_code&) { ++calls; });
  bool up = false;
  client->connect([&](const error_code&) { up = true; });
  ASSERT_TRUE(run_until(io, [&] { return up; }));
  client->send(state_on(), [&](const error_code&, Reply) { ++calls; });
  client->send(Command{"", "refused", false}, [&](const error_code&, Reply) { ++calls; });
  client->close();
  client->close();
  peer.write(">INFO:late\r\n");
  client->send(state_on(), [&](const error_code&, Reply) { ++calls; });
  run_until(io, [] { return false; }, 200ms);
  EXPECT_EQ(calls, 0);
}

TEST_F(OpenvpnClientScripted, RefusedCommandsAndAFullQueue) {
  auto client = ManagementClient::create(strand, path, {.max_queued = 2});
  Outcome refused, one, two, three;
  client->send(client_kill(1, "a\nb"), keep(refused));
  client->send(state_on(), keep(one));
  client->send(state_on(), keep(two));
  client->send(state_on(), keep(three));
  ASSERT_TRUE(run_until(io, [&] { return refused.called && three.called; }));
  EXPECT_EQ(refused.ec, asio::error::invalid_argument);
  EXPECT_EQ(three.ec, asio::error::no_buffer_space);
  EXPECT_FALSE(one.called);
  client->close();
}

TEST_F(OpenvpnClientScripted, ReplyWithNoCommandIsCountedNotDelivered) {
  ScriptedPeer peer(io, path, {}, "SUCCESS: nobody asked\r\n>INFO:x\r\n");
  auto client = ManagementClient::create(strand, path);
  int notes = 0;
  client->on_notification([&](const Message&) { ++notes; });
  client->connect([](const error_code&) {});
  ASSERT_TRUE(run_until(io, [&] { return notes == 1; }));
  EXPECT_EQ(client->unexpected_replies(), 1u);
  client->close();
}

// The real openvpn, server and client in one fresh network namespace (a
// server needs a tun device, which root makes; the namespace keeps it and
// the traffic on its own loopback).
class OpenvpnClientReal : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::have_openvpn() || geteuid() != 0 ||
        std::system("command -v ip >/dev/null") != 0) {
      GTEST_SKIP() << "needs root, ip, openssl and " << testing::kOpenvpn;
    }
    netns = "mnigs-ovt-" + std::to_string(getpid());
    ASSERT_EQ(std::system(("ip netns add " + netns + " && ip -n " + netns + " link set lo up")
                              .c_str()),
              0);
    made_netns = true;
    ASSERT_TRUE(testing::make_identity(dir, "server", "mnigs-gw"));
    ASSERT_TRUE(testing::make_identity(dir, "client", "sub-1"));
  }
  void TearDown() override {
    client_process.reset();
    server_process.reset();
    if (made_netns) std::system(("ip netns del " + netns).c_str());
  }
  std::vector<std::string> in_netns(std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"/usr/bin/env", "ip", "netns", "exec", netns});
    return argv;
  }

  asio::io_context io;
  asio::strand<asio::io_context::executor_type> strand = asio::make_strand(io);
  testing::TempDir dir;
  std::string netns;
  bool made_netns = false;
  std::unique_ptr<testing::Child> server_process, client_process;
};

TEST_F(OpenvpnClientReal, ConnectEstablishKillThenStop) {
  const int port = 1194;
  server_process = std::make_unique<testing::Child>(in_netns(testing::server_argv(dir, port)));
  auto server = ManagementClient::create(strand, dir / "server.sock");
  std::vector<Message> notes;
  server->on_notification([&](const Message& m) { notes.push_back(m); });
  int server_ends = 0;
  error_code server_end;
  server->on_end([&](const error_code& ec) {
    ++server_ends;
    server_end = ec;
  });
  error_code connect_ec = asio::error::would_block;
  server->connect([&](const error_code& ec) { connect_ec = ec; });
  Outcome released;
  server->send(hold_release(), keep(released));
  ASSERT_TRUE(run_until(io, [&] { return released.called; }, 10000ms)) << connect_ec.message();
  EXPECT_EQ(released.reply.text, "hold release succeeded");

  client_process = std::make_unique<testing::Child>(
      in_netns(testing::client_argv(dir, port, testing::fingerprint(dir, "server"))));
  auto client = ManagementClient::create(strand, dir / "client.sock");
  std::vector<State> states;
  client->on_notification([&](const Message& m) {
    if (auto* s = std::get_if<State>(&m)) states.push_back(*s);
  });
  client->connect([](const error_code&) {});
  Outcome state, client_released;
  client->send(state_on(), keep(state));
  client->send(hold_release(), keep(client_released));

  auto find = [&]<typename T>(std::type_identity<T>) -> const T* {
    for (const auto& m : notes) {
      if (auto* found = std::get_if<T>(&m)) return found;
    }
    return nullptr;
  };
  ASSERT_TRUE(run_until(io, [&] { return find(std::type_identity<ClientAuth>{}); }, 15000ms));
  ClientAuth auth = *find(std::type_identity<ClientAuth>{});
  EXPECT_FALSE(auth.reauth);
  EXPECT_EQ(*env_get(auth.env, "common_name"), "sub-1");
  // Lower-case hex with colons, unlike openssl's upper case.
  std::string expected = testing::fingerprint(dir, "client");
  for (auto& ch : expected) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  ASSERT_NE(env_get(auth.env, "tls_digest_sha256_0"), nullptr);
  EXPECT_EQ(*env_get(auth.env, "tls_digest_sha256_0"), expected);
  EXPECT_EQ(*env_get(auth.env, "untrusted_ip"), "127.0.0.1");

  Outcome authorised;
  server->send(client_auth(auth.cid, auth.kid,
                           {"ifconfig-push 10.8.0.50 255.255.255.0",
                            "ifconfig-ipv6-push fd00:8::50/64 fd00:8::1"}),
               keep(authorised));
  ASSERT_TRUE(run_until(io, [&] {
    return !states.empty() && states.back().name == "CONNECTED";
  }, 15000ms));
  EXPECT_TRUE(authorised.reply.ok()) << authorised.reply.text;
  EXPECT_EQ(states.back().description, "SUCCESS");
  EXPECT_EQ(states.back().local_ip, "10.8.0.50");
  EXPECT_EQ(states.back().local_ip6, "fd00:8::50");
  EXPECT_EQ(states.back().remote_host, "127.0.0.1");
  EXPECT_EQ(states.back().remote_port, port);
  ASSERT_TRUE(find(std::type_identity<ClientEstablished>{}));
  auto* address = find(std::type_identity<ClientAddress>{});
  ASSERT_TRUE(address);
  EXPECT_EQ(address->address, "10.8.0.50");

  Outcome listed;
  server->send(status(), keep(listed));
  ASSERT_TRUE(run_until(io, [&] { return listed.called; }));
  EXPECT_EQ(listed.reply.kind, Reply::Kind::lines);
  bool listed_client = false;
  for (const auto& line : listed.reply.lines) {
    listed_client |= line.rfind("CLIENT_LIST\tsub-1\t", 0) == 0;
  }
  EXPECT_TRUE(listed_client);

  // A quoted reason with escapes is one parameter to openvpn: a refusal
  // would say "cannot parse" or that the command failed for the CID.
  Outcome denied;
  server->send(client_deny(4000000000u, 0, "no \"session\" \\ here", "ask"), keep(denied));
  ASSERT_TRUE(run_until(io, [&] { return denied.called; }));
  EXPECT_EQ(denied.reply.text, "client-deny command failed");

  // HALT: the client is told to exit, not to reconnect. The server lets
  // the instance go 5 s later (schedule_exit), and only then notifies.
  Outcome killed;
  server->send(client_kill(auth.cid, "HALT"), keep(killed));
  ASSERT_TRUE(run_until(io, [&] { return find(std::type_identity<ClientDisconnect>{}); },
                        15000ms));
  EXPECT_TRUE(killed.reply.ok()) << killed.reply.text;
  EXPECT_TRUE(client_process->wait_exit(10000ms));
  EXPECT_EQ(states.back().name, "EXITING");

  Outcome stopped;
  server->send(signal("SIGTERM"), keep(stopped));
  ASSERT_TRUE(run_until(io, [&] { return server_ends == 1; }, 10000ms));
  EXPECT_EQ(stopped.reply.text, "signal SIGTERM thrown");
  EXPECT_EQ(server_end, asio::error::eof);
  EXPECT_TRUE(server_process->wait_exit(10000ms));
  EXPECT_EQ(server->parser_counters().malformed, 0u);
  EXPECT_EQ(server->parser_counters().dropped_blocks, 0u);
  client->close();
  server->close();
}

}  // namespace
}  // namespace mnigs::openvpn
