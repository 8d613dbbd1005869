// The parser on the whole transcripts of testdata/ (openvpn 2.6.14, a
// server and a client in two namespaces; see testdata/README.md), whole
// and cut into small pieces.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "management.hpp"

namespace mnigs::openvpn {
namespace {

std::string read(const std::string& name) {
  std::ifstream in(std::string(MNIGS_OPENVPN_TESTDATA) + "/" + name, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// As the client reads it: the answers in the order the commands went out
// (testdata/*.sent), multi-line ones announced before they come.
std::vector<Message> replay(const std::string& stream, std::size_t piece,
                            const std::vector<bool>& multiline, Parser& parser) {
  std::vector<Message> out;
  std::size_t answers = 0;
  auto announce = [&] {
    if (answers < multiline.size() && multiline[answers]) parser.expect_lines();
  };
  announce();
  for (std::size_t at = 0; at < stream.size(); at += piece) {
    // Each piece is cut again after each newline, so that the expectation
    // is set between answers: the client sends the next command only once
    // the previous answer is in, so no read holds the end of one answer
    // and the beginning of the next.
    auto chunk = std::string_view(stream).substr(at, piece);
    while (!chunk.empty()) {
      auto line = chunk.substr(0, chunk.find('\n') + 1);  // npos + 1 == 0: all of it
      if (line.empty()) line = chunk;
      chunk.remove_prefix(line.size());
      for (auto& m : parser.feed(line)) {
        if (std::holds_alternative<Reply>(m)) {
          ++answers;
          announce();
        }
        out.push_back(std::move(m));
      }
    }
  }
  parser.finish();
  return out;
}

template <typename T>
std::vector<T> all(const std::vector<Message>& messages) {
  std::vector<T> out;
  for (const auto& m : messages) {
    if (auto* v = std::get_if<T>(&m)) out.push_back(*v);
  }
  return out;
}

// The server's answers: bytecount, hold release, client-auth, client-auth-nt
// (REAUTH), status 3 (lines), client-kill, again client-auth,
// client-auth-nt, status 3, client-kill, then client-deny, signal.
const std::vector<bool> kServerAnswers = {false, false, false, false, true, false,
                                          false, false, true,  false, false, false};

TEST(OpenvpnTranscript, ServerWholeAndInPieces) {
  const std::string stream = read("server.mgmt");
  ASSERT_FALSE(stream.empty());
  Parser whole_parser;
  auto whole = replay(stream, stream.size(), kServerAnswers, whole_parser);
  EXPECT_EQ(whole_parser.counters(), ParserCounters{});

  auto replies = all<Reply>(whole);
  ASSERT_EQ(replies.size(), kServerAnswers.size());
  EXPECT_EQ(replies[0].text, "bytecount interval changed");
  EXPECT_EQ(replies[1].text, "hold release succeeded");
  EXPECT_EQ(replies[2].text, "client-auth command succeeded");
  EXPECT_EQ(replies[4].kind, Reply::Kind::lines);
  EXPECT_EQ(replies[4].lines.at(0).rfind("TITLE\tOpenVPN 2.6.14 ", 0), 0u);
  EXPECT_EQ(replies[5].text, "client-kill command succeeded");
  EXPECT_EQ(replies[10].text, "client-deny command succeeded");
  EXPECT_EQ(replies[11].text, "signal SIGTERM thrown");

  auto auths = all<ClientAuth>(whole);
  ASSERT_EQ(auths.size(), 5u);  // CONNECT, REAUTH, CONNECT, REAUTH, CONNECT
  EXPECT_FALSE(auths[0].reauth);
  EXPECT_EQ(auths[0].cid, 0u);
  EXPECT_EQ(auths[0].kid, 1u);
  EXPECT_TRUE(auths[1].reauth);  // the TLS renegotiation (--reneg-sec 4)
  EXPECT_EQ(auths[1].kid, 3u);
  EXPECT_EQ(auths[2].cid, 1u);
  EXPECT_EQ(auths[4].cid, 2u);
  const Env& env = auths[0].env;
  EXPECT_EQ(*env_get(env, "common_name"), "sub-1");
  EXPECT_EQ(*env_get(env, "untrusted_ip6"), "fd99:1::2");
  EXPECT_EQ(env_get(env, "untrusted_ip"), nullptr);  // the outer was IPv6
  EXPECT_EQ(*env_get(env, "untrusted_port"), "36407");
  // testdata/fingerprints.txt: the client certificate, in lower case.
  EXPECT_EQ(*env_get(env, "tls_digest_sha256_0"),
            "14:a0:a0:de:23:e9:82:1f:a2:b6:75:56:23:fe:6a:cc:0f:f9:66:4e:70:04:32:ad:35:78:8c:"
            "85:7c:6d:2d:18");
  EXPECT_EQ(*env_get(env, "IV_VER"), "2.6.14");

  auto addresses = all<ClientAddress>(whole);
  ASSERT_EQ(addresses.size(), 4u);
  EXPECT_EQ(addresses[0], (ClientAddress{0, "10.8.0.50", true}));
  EXPECT_EQ(addresses[1], (ClientAddress{0, "fd00:8::50", true}));
  EXPECT_EQ(all<ClientEstablished>(whole).size(), 2u);
  auto gone = all<ClientDisconnect>(whole);
  ASSERT_EQ(gone.size(), 3u);
  EXPECT_EQ(gone[0].cid, 0u);  // 5 s after its client-kill, after CID 1 came
  EXPECT_NE(env_get(gone[0].env, "bytes_received"), nullptr);
  EXPECT_FALSE(all<ByteCountClient>(whole).empty());
  EXPECT_EQ(all<Hold>(whole).size(), 1u);
  EXPECT_EQ(all<Info>(whole).size(), 1u);

  for (std::size_t piece : {1u, 3u, 100u, 4096u}) {
    Parser parser;
    EXPECT_EQ(replay(stream, piece, kServerAnswers, parser), whole) << piece;
    EXPECT_EQ(parser.counters(), ParserCounters{}) << piece;
  }
}

TEST(OpenvpnTranscript, Client) {
  const std::string stream = read("client.mgmt");
  ASSERT_FALSE(stream.empty());
  Parser parser;
  auto messages = replay(stream, 7, {}, parser);
  EXPECT_EQ(parser.counters(), ParserCounters{});
  auto states = all<State>(messages);
  std::vector<std::string> names;
  for (const auto& s : states) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"WAIT", "AUTH", "ASSIGN_IP", "CONNECTED",
                                             "RECONNECTING", "WAIT", "AUTH", "ASSIGN_IP",
                                             "CONNECTED", "RECONNECTING", "WAIT", "AUTH",
                                             "EXITING"}));
  const State& connected = states[3];
  EXPECT_EQ(connected.description, "SUCCESS");
  EXPECT_EQ(connected.local_ip, "10.8.0.50");
  EXPECT_EQ(connected.remote_host, "fd99:1::1");
  EXPECT_EQ(connected.remote_port, 1194);
  EXPECT_EQ(connected.local_host, "");  // --nobind
  EXPECT_EQ(connected.local_port, std::nullopt);
  EXPECT_EQ(connected.local_ip6, "fd00:8::50");
  EXPECT_EQ(states[4].description, "server-pushed-connection-reset");
  EXPECT_EQ(states.back().description, "auth-failure");
  auto notify = all<Notify>(messages);
  ASSERT_EQ(notify.size(), 2u);
  EXPECT_EQ(notify[0], (Notify{"info", "server-pushed-connection-reset", ""}));
  auto password = all<Password>(messages);
  ASSERT_EQ(password.size(), 1u);
  EXPECT_EQ(password[0].text, "Verification Failed: 'Auth' ['ask the gateway']");
  EXPECT_FALSE(all<ByteCount>(messages).empty());
  // state on, bytecount, a hold release at the start and after each restart
  EXPECT_EQ(all<Reply>(messages).size(), 5u);
}

}  // namespace
}  // namespace mnigs::openvpn
