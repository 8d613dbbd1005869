// The command builders. What openvpn reads back from a quoted parameter is
// checked with a transcription of its lexer (parse_line in
// src/openvpn/options.c, v2.6.14), kept to the paths a command takes.
#include "commands.hpp"

#include <gtest/gtest.h>

namespace mnigs::openvpn {
namespace {

using namespace std::string_literals;

// parse_line: the parameters of `line`, or nullopt where openvpn refuses
// the line (a bad backslash escape, an unclosed double quote).
std::optional<std::vector<std::string>> openvpn_parse_line(std::string_view line) {
  enum { initial, quoted, unquoted, done, squoted } state = initial;
  bool backslash = false;
  std::vector<std::string> out;
  std::string parm;
  auto space = [](char c) { return c == '\0' || c == ' ' || c == '\t' || c == '\n' ||
                                   c == '\r' || c == '\v' || c == '\f'; };
  std::string text(line);
  for (std::size_t i = 0; i <= text.size(); ++i) {  // the NUL at the end included
    char in = i < text.size() ? text[i] : '\0';
    char put = 0;
    if (!backslash && in == '\\' && state != squoted) {
      backslash = true;
      continue;
    }
    if (state == initial) {
      if (!space(in)) {
        if (in == ';' || in == '#') break;
        if (!backslash && in == '"') {
          state = quoted;
        } else if (!backslash && in == '\'') {
          state = squoted;
        } else {
          put = in;
          state = unquoted;
        }
      }
    } else if (state == unquoted) {
      if (!backslash && space(in)) {
        state = done;
      } else {
        put = in;
      }
    } else if (state == quoted) {
      if (!backslash && in == '"') {
        state = done;
      } else {
        put = in;
      }
    } else if (state == squoted) {
      if (in == '\'') {
        state = done;
      } else {
        put = in;
      }
    }
    if (state == done) {
      out.push_back(parm);
      parm.clear();
      state = initial;
    }
    if (backslash && put && !(put == '\\' || put == '"' || space(put))) return std::nullopt;
    backslash = false;
    if (put) {
      if (parm.size() >= 256) return std::nullopt;
      parm += put;
    }
    if (in == '\0' && i == text.size()) break;
  }
  if (state == quoted) return std::nullopt;
  return out;
}

TEST(OpenvpnCommands, TheLexerTranscriptionReadsTheDocumentedExamples) {
  EXPECT_EQ(openvpn_parse_line(R"(password "Private Key" "foo\"bar")"),
            (std::vector<std::string>{"password", "Private Key", "foo\"bar"}));
  EXPECT_EQ(openvpn_parse_line(R"(a b\ c 'd\e')"), (std::vector<std::string>{"a", "b c", "d\\e"}));
  EXPECT_EQ(openvpn_parse_line(R"(a "b\x")"), std::nullopt);
  EXPECT_EQ(openvpn_parse_line(R"(a "b)"), std::nullopt);
}

TEST(OpenvpnCommands, QuotedParametersReadBackUnchanged) {
  for (std::string text : {""s, "plain"s, "two words"s, "quote \" inside"s, "back\\slash"s,
                           "\\\"\\\\\""s, "'single'"s, "# not a comment"s, "; nor this"s,
                           "tab\tless"s.substr(0, 3), "UTF-8 \xc3\xa9t\xc3\xa9"s,
                           std::string(kMaxParameter, '"')}) {
    auto quoted = quote(text);
    ASSERT_TRUE(quoted) << text;
    auto parsed = openvpn_parse_line("client-deny 1 2 " + *quoted);
    ASSERT_TRUE(parsed) << *quoted;
    ASSERT_EQ(parsed->size(), 4u) << *quoted;
    EXPECT_EQ((*parsed)[3], text);
  }
}

TEST(OpenvpnCommands, QuoteRefusesWhatOpenvpnWouldAlter) {
  std::string why;
  EXPECT_FALSE(quote(std::string(kMaxParameter + 1, 'a'), &why));
  EXPECT_NE(why.find("255"), std::string::npos);
  for (std::string bad : {"a\nb"s, "a\rb"s, "a\0b"s, "a\tb"s, "a\x7f"s, "\x1b[31m"s}) {
    EXPECT_FALSE(quote(bad, &why)) << bad;
    EXPECT_NE(why.find("control"), std::string::npos);
  }
}

TEST(OpenvpnCommands, ClientAuthBlock) {
  auto c = client_auth(3, 1, {"ifconfig-push 10.8.0.2 255.255.255.0",
                              "ifconfig-ipv6-push fd00:8::2/64 fd00:8::1"});
  ASSERT_TRUE(c) << c.error;
  EXPECT_EQ(c.text,
            "client-auth 3 1\nifconfig-push 10.8.0.2 255.255.255.0\n"
            "ifconfig-ipv6-push fd00:8::2/64 fd00:8::1\nEND\n");
  EXPECT_FALSE(c.multiline);
  EXPECT_EQ(client_auth(4294967295u, 0, {}).text, "client-auth 4294967295 0\nEND\n");

  for (std::string bad : {"a\nb"s, "a\r"s, "a\0b"s, "END"s, "a\x01"s,
                          std::string(kMaxConfigLine + 1, 'x')}) {
    auto refused = client_auth(1, 0, {"push-reset", bad});
    EXPECT_FALSE(refused) << bad;
    EXPECT_TRUE(refused.text.empty());
    EXPECT_NE(refused.error.find("line 2"), std::string::npos) << refused.error;
  }
  // "END" inside a line, or in another case, does not end the block.
  EXPECT_TRUE(client_auth(1, 0, {"echo END", "end", std::string(kMaxConfigLine, 'x')}));
}

TEST(OpenvpnCommands, OneLineCommands) {
  EXPECT_EQ(client_auth_nt(7, 2).text, "client-auth-nt 7 2\n");
  EXPECT_EQ(client_deny(7, 2, "no session").text, "client-deny 7 2 \"no session\"\n");
  EXPECT_EQ(client_deny(7, 2, "no \"session\"", "ask the gateway\\operator").text,
            "client-deny 7 2 \"no \\\"session\\\"\" \"ask the gateway\\\\operator\"\n");
  EXPECT_FALSE(client_deny(7, 2, "a\nb"));
  EXPECT_FALSE(client_deny(7, 2, "ok", "a\nb"));
  EXPECT_EQ(client_kill(9).text, "client-kill 9\n");
  EXPECT_EQ(client_kill(9, "HALT").text, "client-kill 9 \"HALT\"\n");
  EXPECT_FALSE(client_kill(9, "x\ny"));
  EXPECT_EQ(state_on().text, "state on\n");
  EXPECT_EQ(bytecount(5).text, "bytecount 5\n");
  EXPECT_EQ(signal("SIGTERM").text, "signal SIGTERM\n");
  EXPECT_FALSE(signal("SIGKILL"));
  EXPECT_FALSE(signal("SIGTERM\nsignal SIGHUP"));
  EXPECT_EQ(hold_release().text, "hold release\n");
  EXPECT_TRUE(status().multiline);
  EXPECT_EQ(status().text, "status 3\n");
  EXPECT_TRUE(state_history().multiline);

  // Every one-line command is one line.
  for (const auto& c : {client_deny(1, 2, std::string(kMaxParameter, '"'),
                                    std::string(kMaxParameter, '\\'))}) {
    EXPECT_FALSE(c);  // 4 + 2 * 512 escaped bytes: over the line bound
    EXPECT_NE(c.error.find("longer"), std::string::npos);
  }
  auto longest =
      client_deny(1, 2, std::string(kMaxParameter, 'a'), std::string(kMaxParameter, 'b'));
  ASSERT_TRUE(longest);
  EXPECT_EQ(std::count(longest.text.begin(), longest.text.end(), '\n'), 1);
}

}  // namespace
}  // namespace mnigs::openvpn
