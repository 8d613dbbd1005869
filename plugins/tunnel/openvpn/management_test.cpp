// The management-socket parser, on lines written as manage.c (v2.6.14)
// formats them; testdata/ has whole transcripts of the real daemon
// (transcript_test.cpp).
#include "management.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace std::string_literals;

namespace mnigs::openvpn {
namespace {

std::vector<Message> parse(std::string_view bytes, Parser* parser = nullptr) {
  Parser own;
  return (parser ? *parser : own).feed(bytes);
}

template <typename T>
T only(const std::vector<Message>& messages) {
  EXPECT_EQ(messages.size(), 1u);
  if (messages.size() != 1 || !std::holds_alternative<T>(messages[0])) {
    ADD_FAILURE() << "not the one message expected";
    return T{};
  }
  return std::get<T>(messages[0]);
}

TEST(OpenvpnParser, Info) {
  auto info = only<Info>(parse(
      ">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n"));
  EXPECT_EQ(info.text, "OpenVPN Management Interface Version 5 -- type 'help' for more info");
}

TEST(OpenvpnParser, ConnectBlockWithEnv) {
  Parser parser;
  auto messages = parser.feed(
      ">CLIENT:CONNECT,0,1\r\n"
      ">CLIENT:ENV,n_clients=0\r\n"
      ">CLIENT:ENV,common_name=sub-1\r\n"
      ">CLIENT:ENV,tls_digest_sha256_0=ab:cd\r\n"
      ">CLIENT:ENV,X509_0_CN=a=b,c\r\n"
      ">CLIENT:ENV,empty=\r\n"
      ">CLIENT:ENV,END\r\n");
  auto auth = only<ClientAuth>(messages);
  EXPECT_FALSE(auth.reauth);
  EXPECT_EQ(auth.cid, 0u);
  EXPECT_EQ(auth.kid, 1u);
  ASSERT_EQ(auth.env.size(), 5u);
  EXPECT_EQ(*env_get(auth.env, "common_name"), "sub-1");
  EXPECT_EQ(*env_get(auth.env, "X509_0_CN"), "a=b,c");  // split at the first '='
  EXPECT_EQ(*env_get(auth.env, "empty"), "");
  EXPECT_EQ(env_get(auth.env, "nothing"), nullptr);
  EXPECT_EQ(parser.counters(), ParserCounters{});
  EXPECT_EQ(parser.buffered(), 0u);
}

TEST(OpenvpnParser, ReauthEstablishedDisconnectCrResponse) {
  auto reauth = only<ClientAuth>(parse(">CLIENT:REAUTH,4294967295,7\n>CLIENT:ENV,END\n"));
  EXPECT_TRUE(reauth.reauth);
  EXPECT_EQ(reauth.cid, 4294967295u);
  EXPECT_EQ(reauth.kid, 7u);

  auto established = only<ClientEstablished>(
      parse(">CLIENT:ESTABLISHED,3\r\n>CLIENT:ENV,a=1\r\n>CLIENT:ENV,END\r\n"));
  EXPECT_EQ(established.cid, 3u);
  EXPECT_EQ(established.env, (Env{{"a", "1"}}));

  auto gone = only<ClientDisconnect>(
      parse(">CLIENT:DISCONNECT,3\r\n>CLIENT:ENV,bytes_sent=10\r\n>CLIENT:ENV,END\r\n"));
  EXPECT_EQ(gone.cid, 3u);
  EXPECT_EQ(*env_get(gone.env, "bytes_sent"), "10");

  auto cr = only<ClientCrResponse>(parse(">CLIENT:CR_RESPONSE,2,1,MTIzNA==\n>CLIENT:ENV,END\n"));
  EXPECT_EQ(cr.cid, 2u);
  EXPECT_EQ(cr.kid, 1u);
  EXPECT_EQ(cr.response, "MTIzNA==");
}

TEST(OpenvpnParser, Address) {
  auto a = only<ClientAddress>(parse(">CLIENT:ADDRESS,5,10.8.0.2,1\r\n"));
  EXPECT_EQ(a.cid, 5u);
  EXPECT_EQ(a.address, "10.8.0.2");
  EXPECT_TRUE(a.primary);
  auto b = only<ClientAddress>(parse(">CLIENT:ADDRESS,5,fd00:8::1000,0\r\n"));
  EXPECT_EQ(b.address, "fd00:8::1000");
  EXPECT_FALSE(b.primary);

  Parser parser;
  for (auto bad : {">CLIENT:ADDRESS,5,10.8.0.2,2\n", ">CLIENT:ADDRESS,5,,1\n",
                   ">CLIENT:ADDRESS,x,10.8.0.2,1\n", ">CLIENT:ADDRESS,5,10.8.0.2\n"}) {
    EXPECT_TRUE(parser.feed(bad).empty()) << bad;
  }
  EXPECT_EQ(parser.counters().malformed, 4u);
}

TEST(OpenvpnParser, StateAsTheClientWritesIt) {
  // CONNECTED: tunnel address, server address and port, local address and
  // port, then the tunnel's IPv6 address.
  auto s = only<State>(parse(
      ">STATE:1765000000,CONNECTED,SUCCESS,10.8.0.2,192.0.2.1,1194,192.0.2.2,41000,fd00:8::2\r\n"));
  EXPECT_EQ(s.time, 1765000000u);
  EXPECT_EQ(s.name, "CONNECTED");
  EXPECT_EQ(s.description, "SUCCESS");
  EXPECT_EQ(s.local_ip, "10.8.0.2");
  EXPECT_EQ(s.remote_host, "192.0.2.1");
  EXPECT_EQ(s.remote_port, 1194);
  EXPECT_EQ(s.local_host, "192.0.2.2");
  EXPECT_EQ(s.local_port, 41000);
  EXPECT_EQ(s.local_ip6, "fd00:8::2");

  // An unset address prints as two empty fields; no IPv6 field at all.
  auto w = only<State>(parse(">STATE:1765000000,WAIT,,,,,,\r\n"));
  EXPECT_EQ(w.name, "WAIT");
  EXPECT_EQ(w.remote_port, std::nullopt);
  EXPECT_EQ(w.local_ip6, "");

  // The `state` command's history lines have no prefix.
  auto h = parse_state("1765000000,EXITING,SIGTERM,,,,,");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->description, "SIGTERM");

  for (auto bad : {"x,CONNECTED,,,,,,", "1,connected,,,,,,", "1,CONNECTED,,,,70000,,",
                   "1,CONNECTED,,,,,,,,,", "1", "-1,WAIT,,,,,,", "1,WAIT,,,,,,x"}) {
    EXPECT_FALSE(parse_state(bad)) << bad;
  }
}

TEST(OpenvpnParser, ByteCounts) {
  auto c = only<ByteCount>(parse(">BYTECOUNT:18446744073709551615,0\r\n"));
  EXPECT_EQ(c.in, 18446744073709551615u);
  EXPECT_EQ(c.out, 0u);
  auto s = only<ByteCountClient>(parse(">BYTECOUNT_CLI:2,100,200\r\n"));
  EXPECT_EQ(s, (ByteCountClient{2, 100, 200}));

  Parser parser;
  for (auto bad : {">BYTECOUNT:1\n", ">BYTECOUNT:1,2,3\n", ">BYTECOUNT:18446744073709551616,0\n",
                   ">BYTECOUNT:+1,2\n", ">BYTECOUNT: 1,2\n", ">BYTECOUNT_CLI:4294967296,1,2\n",
                   ">BYTECOUNT_CLI:1,2\n"}) {
    EXPECT_TRUE(parser.feed(bad).empty()) << bad;
  }
  EXPECT_EQ(parser.counters().malformed, 7u);
}

TEST(OpenvpnParser, OneTextNotifications) {
  EXPECT_EQ(only<Hold>(parse(">HOLD:Waiting for hold release:0\r\n")).text,
            "Waiting for hold release:0");
  EXPECT_EQ(only<Fatal>(parse(">FATAL:Cannot open TUN/TAP dev /dev/net/tun\r\n")).text,
            "Cannot open TUN/TAP dev /dev/net/tun");
  EXPECT_EQ(only<Password>(parse(">PASSWORD:Need 'Auth' username/password\r\n")).text,
            "Need 'Auth' username/password");
  auto log = only<Log>(parse(">LOG:1765000000,I,MULTI: a, b, c\r\n"));
  EXPECT_EQ(log, (Log{1765000000, "I", "MULTI: a, b, c"}));
  auto notify = only<Notify>(parse(">NOTIFY:info,remote-exit,EXIT\r\n"));
  EXPECT_EQ(notify, (Notify{"info", "remote-exit", "EXIT"}));
  Parser parser;
  EXPECT_TRUE(parser.feed(">LOG:now,I,x\n>NOTIFY:info\n").empty());
  EXPECT_EQ(parser.counters().malformed, 2u);
}

TEST(OpenvpnParser, UnknownNotificationsAreCountedNotParsed) {
  Parser parser;
  EXPECT_TRUE(parser.feed(">ECHO:1101519562,forget-passwords\r\n>INFOMSG:CR_TEXT:x\r\n"
                          ">CLIENT:SOMETHING,1\r\n")
                  .empty());
  EXPECT_EQ(parser.counters().unknown, 3u);
  EXPECT_EQ(parser.counters().malformed, 0u);
}

TEST(OpenvpnParser, Replies) {
  auto ok = only<Reply>(parse("SUCCESS: real-time state notification set to ON\r\n"));
  EXPECT_EQ(ok.kind, Reply::Kind::success);
  EXPECT_EQ(ok.text, "real-time state notification set to ON");
  auto error = only<Reply>(parse("ERROR: client-kill command failed\r\n"));
  EXPECT_EQ(error.kind, Reply::Kind::error);
  EXPECT_FALSE(error.ok());
  EXPECT_EQ(error.text, "client-kill command failed");
  EXPECT_EQ(only<Reply>(parse("SUCCESS:\n")).text, "");

  // Lines are malformed unless a multi-line answer is expected.
  Parser parser;
  EXPECT_TRUE(parser.feed("TITLE,OpenVPN\r\nEND\r\n").empty());
  EXPECT_EQ(parser.counters().malformed, 2u);
}

TEST(OpenvpnParser, MultiLineAnswerWithNotificationsBetween) {
  Parser parser;
  parser.expect_lines();
  auto messages = parser.feed(
      "TITLE\tOpenVPN 2.6.14\r\n>BYTECOUNT_CLI:1,2,3\r\nHEADER\tCLIENT_LIST\r\nEND\r\n"
      "SUCCESS: next\r\n");
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_TRUE(std::holds_alternative<ByteCountClient>(messages[0]));
  auto lines = std::get<Reply>(messages[1]);
  EXPECT_EQ(lines.kind, Reply::Kind::lines);
  EXPECT_EQ(lines.lines,
            (std::vector<std::string>{"TITLE\tOpenVPN 2.6.14", "HEADER\tCLIENT_LIST"}));
  EXPECT_EQ(std::get<Reply>(messages[2]).kind, Reply::Kind::success);

  // An empty answer, and a refusal instead of lines.
  parser.expect_lines();
  EXPECT_TRUE(std::get<Reply>(parser.feed("END\n").at(0)).lines.empty());
  parser.expect_lines();
  EXPECT_EQ(std::get<Reply>(parser.feed("ERROR: no\n").at(0)).kind, Reply::Kind::error);
  EXPECT_TRUE(parser.feed("END\n").empty());  // the expectation was used up
}

TEST(OpenvpnParser, MultiLineAnswerOverTheBoundIsAnErrorAtItsEnd) {
  Parser parser;
  parser.expect_lines();
  std::string text;
  for (std::size_t i = 0; i <= kMaxReplyLines; ++i) text += "line\n";
  EXPECT_TRUE(parser.feed(text).empty());
  EXPECT_LT(parser.buffered(), 100u);
  auto messages = parser.feed("END\nSUCCESS: after\n");
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(std::get<Reply>(messages[0]).kind, Reply::Kind::error);
  EXPECT_EQ(std::get<Reply>(messages[1]).text, "after");
  EXPECT_EQ(parser.counters().dropped_replies, 1u);

  // Exactly the bound is fine.
  parser.expect_lines();
  text.clear();
  for (std::size_t i = 0; i < kMaxReplyLines; ++i) text += "line\n";
  auto whole = parser.feed(text + "END\n");
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_EQ(std::get<Reply>(whole[0]).lines.size(), kMaxReplyLines);
}

TEST(OpenvpnParser, LineOfExactlyTheBoundIsKeptOneMoreIsDropped) {
  const std::string body(kMaxLine - 7, 'x');  // ">INFO:" is 6 bytes, plus one
  for (std::string end : {"\n", "\r\n"}) {
    Parser parser;
    auto info = only<Info>(parser.feed(">INFO:" + body + "y" + end));
    EXPECT_EQ(info.text.size(), kMaxLine - 6);
    EXPECT_TRUE(parser.feed(">INFO:" + body + "yz" + end).empty());
    EXPECT_EQ(parser.counters().overlong, 1u);
    EXPECT_EQ(parser.counters().malformed, 1u);
    // The stream goes on after the dropped line.
    EXPECT_EQ(only<Info>(parser.feed(">INFO:next" + end)).text, "next");
  }
}

TEST(OpenvpnParser, OverlongLineNeverGrowsTheBuffer) {
  Parser parser;
  const std::string chunk(1000, 'a');
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(parser.feed(chunk).empty());
    EXPECT_LE(parser.buffered(), kMaxLine + 1);
  }
  EXPECT_EQ(only<Info>(parser.feed("\n>INFO:x\n")).text, "x");
  EXPECT_EQ(parser.counters().overlong, 1u);
}

std::string block_with(std::size_t env_lines) {
  std::string text = ">CLIENT:CONNECT,1,0\r\n";
  for (std::size_t i = 0; i < env_lines; ++i) {
    text += ">CLIENT:ENV,v" + std::to_string(i) + "=1\r\n";
  }
  return text + ">CLIENT:ENV,END\r\n";
}

TEST(OpenvpnParser, EnvBlockOfTheBoundIsKeptOneMoreIsDropped) {
  Parser parser;
  auto auth = only<ClientAuth>(parser.feed(block_with(kMaxEnvLines)));
  EXPECT_EQ(auth.env.size(), kMaxEnvLines);
  EXPECT_TRUE(parser.feed(block_with(kMaxEnvLines + 1)).empty());
  EXPECT_EQ(parser.counters().dropped_blocks, 1u);
  EXPECT_EQ(parser.counters().malformed, 0u);
  // And the next block is read.
  EXPECT_EQ(only<ClientAuth>(parser.feed(block_with(1))).env.size(), 1u);
}

TEST(OpenvpnParser, BrokenEnvBlocksAreDroppedWhole) {
  const std::string name(kMaxEnvName + 1, 'n');
  for (std::string bad : std::vector<std::string>{">CLIENT:ENV,novalue\n", ">CLIENT:ENV,=value\n",
                          ">CLIENT:ENV," + name + "=1\n", ">CLIENT:ENV,a\0=1\n"s,
                          ">CLIENT:ENV,x=" + std::string(kMaxLine, 'v') + "\n"}) {
    Parser parser;
    auto messages = parser.feed(">CLIENT:CONNECT,1,0\n>CLIENT:ENV,a=1\n" + bad +
                                ">CLIENT:ENV,b=2\n>CLIENT:ENV,END\n");
    EXPECT_TRUE(messages.empty()) << bad.substr(0, 40);
    EXPECT_EQ(parser.counters().dropped_blocks, 1u) << bad.substr(0, 40);
  }
  // A name of exactly the bound is fine.
  auto auth = only<ClientAuth>(
      parse(">CLIENT:CONNECT,1,0\n>CLIENT:ENV," + name.substr(1) + "=1\n>CLIENT:ENV,END\n"));
  EXPECT_EQ(auth.env.size(), 1u);
}

TEST(OpenvpnParser, InterruptedBlockIsDroppedAndTheInterruptionRead) {
  Parser parser;
  auto messages = parser.feed(
      ">CLIENT:CONNECT,1,0\n>CLIENT:ENV,a=1\n>STATE:1,CONNECTED,SUCCESS,,,,,\n"
      ">CLIENT:ENV,b=1\n>CLIENT:ENV,END\n"  // the rest of the broken block
      ">CLIENT:ESTABLISHED,1\n>CLIENT:DISCONNECT,1\n>CLIENT:ENV,END\n");
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<State>(messages[0]));
  EXPECT_EQ(std::get<ClientDisconnect>(messages[1]).cid, 1u);
  EXPECT_EQ(parser.counters().dropped_blocks, 2u);  // CONNECT and ESTABLISHED
  EXPECT_EQ(parser.counters().malformed, 2u);       // the orphaned ENV lines
}

TEST(OpenvpnParser, TruncatedStream) {
  Parser parser;
  EXPECT_TRUE(parser.feed(">CLIENT:CONNECT,1,0\r\n>CLIENT:ENV,a=1\r\n>CLIENT:ENV,b").empty());
  EXPECT_GT(parser.buffered(), 0u);
  parser.finish();
  EXPECT_EQ(parser.counters().dropped_blocks, 1u);
  EXPECT_EQ(parser.counters().malformed, 1u);
  EXPECT_EQ(parser.buffered(), 0u);
  // As new afterwards.
  EXPECT_EQ(only<Info>(parser.feed(">INFO:again\n")).text, "again");

  parser.expect_lines();
  EXPECT_TRUE(parser.feed("TITLE\n").empty());
  parser.finish();
  EXPECT_EQ(parser.counters().dropped_replies, 1u);
}

TEST(OpenvpnParser, BadHeadsAndGarbage) {
  Parser parser;
  for (std::string bad : std::vector<std::string>{">CLIENT:CONNECT,1\n", ">CLIENT:CONNECT,1,2,3\n",
                          ">CLIENT:CONNECT,4294967296,0\n", ">CLIENT:CONNECT,-1,0\n",
                          ">CLIENT:ESTABLISHED,\n", ">CLIENT:DISCONNECT,1,2\n", ">CLIENT:\n",
                          ">CLIENT:CR_RESPONSE,1,2\n", ">\n", ">:x\n", ">NOCOLON\n", "garbage\n",
                          "\n", "END\n", "SUCC\0ESS: x\n"s, "\xff\xfe\n"}) {
    EXPECT_TRUE(parser.feed(bad).empty()) << bad;
  }
  EXPECT_EQ(parser.counters().malformed, 16u);
  EXPECT_EQ(parser.counters().dropped_blocks, 0u);
}

TEST(OpenvpnParser, SameMessagesHoweverTheBytesAreCut) {
  const std::string stream =
      ">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n"
      "SUCCESS: real-time state notification set to ON\r\n" +
      block_with(3) + ">CLIENT:ADDRESS,1,10.8.0.2,1\r\n" + ">BYTECOUNT_CLI:1,2,3\r\n" +
      ">STATE:1,CONNECTED,SUCCESS,10.8.0.1,,,,,\r\n" + std::string(5000, 'z') + "\r\n" +
      ">CLIENT:DISCONNECT,1\r\n>CLIENT:ENV,END\r\n";
  Parser whole;
  auto expected = whole.feed(stream);
  ASSERT_EQ(expected.size(), 7u);
  for (std::size_t piece : {1u, 2u, 3u, 7u, 64u, 4095u, 4096u, 4097u}) {
    Parser parser;
    std::vector<Message> got;
    for (std::size_t at = 0; at < stream.size(); at += piece) {
      for (auto& m : parser.feed(std::string_view(stream).substr(at, piece))) got.push_back(m);
    }
    EXPECT_EQ(got, expected) << piece;
    EXPECT_EQ(parser.counters(), whole.counters()) << piece;
  }
}

TEST(OpenvpnParser, Integers) {
  EXPECT_EQ(parse_u32("0"), 0u);
  EXPECT_EQ(parse_u32("4294967295"), 4294967295u);
  EXPECT_EQ(parse_u32("4294967296"), std::nullopt);
  EXPECT_EQ(parse_u32(""), std::nullopt);
  EXPECT_EQ(parse_u32("1 "), std::nullopt);
  EXPECT_EQ(parse_u32("0x1"), std::nullopt);
  EXPECT_EQ(parse_u64("18446744073709551615"), 18446744073709551615u);
  EXPECT_EQ(parse_u64("000000000000000000001"), std::nullopt);
}

}  // namespace
}  // namespace mnigs::openvpn
