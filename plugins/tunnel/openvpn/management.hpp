// What openvpn writes on its management socket, parsed. Pure, no I/O.
//
// The formats are those of openvpn 2.6 as read in doc/management-notes.txt
// and src/openvpn/manage.c at tag v2.6.14 (commit f588592ee6c6), the
// version Debian 12 ships; testdata/ holds transcripts of the real daemon.
// Every line openvpn writes ends in "\r\n". A line is one of:
//
//   >TYPE:text            a real-time notification, at any time
//   SUCCESS: text         the one-line answer to a command
//   ERROR: text           the same, refused
//   anything else ... END the lines of a multi-line answer (status, state)
//
// ">CLIENT:" notifications of --management-client-auth come as a block:
//   >CLIENT:CONNECT,{CID},{KID}      (REAUTH on a TLS renegotiation)
//   >CLIENT:ENV,name=value           (zero or more)
//   >CLIENT:ENV,END
// and the same for ESTABLISHED,{CID}, DISCONNECT,{CID} and
// CR_RESPONSE,{CID},{KID},{base64}; ADDRESS,{CID},{ADDR},{PRI} is one line.
// openvpn writes a block in one piece (manage.c: "guaranteed to be atomic"),
// so a block that another line interrupts is broken and dropped.
//
// Everything read is bounded: a line, an ENV block, a multi-line answer.
// What does not fit or does not parse is dropped and counted, never thrown.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mnigs::openvpn {

// The longest line kept, in bytes without its "\r\n". openvpn can write
// lines up to 10 KiB (ERR_BUF_SIZE with management on), but those mnigs
// reads (a certificate's ENV, states, counters) stay well under 1 KiB. An
// overlong line inside a >CLIENT: block breaks the block: a variable
// missing from an authorisation request must not go unnoticed.
inline constexpr std::size_t kMaxLine = 4096;
// ENV lines in one >CLIENT: block. openvpn sends about 40 for a client with a
// certificate, plus its IV_ peer info; 256 leaves room for a long chain.
inline constexpr std::size_t kMaxEnvLines = 256;
// The longest variable name (openvpn's are under 40 bytes).
inline constexpr std::size_t kMaxEnvName = 128;
// Lines and bytes of one multi-line answer (`status` of many clients).
inline constexpr std::size_t kMaxReplyLines = 4096;
inline constexpr std::size_t kMaxReplyBytes = 1024 * 1024;

struct EnvVar {
  std::string name;
  std::string value;
  bool operator==(const EnvVar&) const = default;
};
// In openvpn's order; a name may repeat (it does not in practice).
using Env = std::vector<EnvVar>;

// The value of the first variable called `name`, or nullptr.
const std::string* env_get(const Env& env, std::string_view name);

// >CLIENT:CONNECT or >CLIENT:REAUTH: a client whose certificate openvpn
// accepted asks to be let in; answer with client-auth[-nt] or client-deny.
struct ClientAuth {
  bool reauth = false;  // REAUTH: a TLS renegotiation of an established client
  std::uint32_t cid = 0;
  std::uint32_t kid = 0;
  Env env;
  bool operator==(const ClientAuth&) const = default;
};

// >CLIENT:CR_RESPONSE: the answer to a client-pending-auth challenge.
struct ClientCrResponse {
  std::uint32_t cid = 0;
  std::uint32_t kid = 0;
  std::string response;  // base64, as the client sent it
  Env env;
  bool operator==(const ClientCrResponse&) const = default;
};

struct ClientEstablished {
  std::uint32_t cid = 0;
  Env env;
  bool operator==(const ClientEstablished&) const = default;
};

struct ClientDisconnect {
  std::uint32_t cid = 0;
  Env env;  // bytes_received, bytes_sent, time_duration among others
  bool operator==(const ClientDisconnect&) const = default;
};

// >CLIENT:ADDRESS: a virtual address (or iroute subnet) now routes to `cid`.
struct ClientAddress {
  std::uint32_t cid = 0;
  std::string address;  // "10.8.0.2", "10.9.0.0/24", "fd00::1000", a MAC in tap mode
  bool primary = false;
  bool operator==(const ClientAddress&) const = default;
};

// >STATE: (and each line of the `state` command's answer).
struct State {
  std::uint64_t time = 0;  // unix seconds
  std::string name;        // CONNECTING, WAIT, AUTH, GET_CONFIG, ASSIGN_IP, ADD_ROUTES,
                           // CONNECTED, RECONNECTING, EXITING, RESOLVE, TCP_CONNECT,
                           // AUTH_PENDING
  std::string description;  // e.g. "SUCCESS", the reason of RECONNECTING/EXITING
  std::string local_ip;     // the tunnel's IPv4 address; "" when none
  std::string remote_host;  // the peer's address; "" when none
  std::optional<std::uint16_t> remote_port;
  std::string local_host;
  std::optional<std::uint16_t> local_port;
  std::string local_ip6;  // the tunnel's IPv6 address; "" when none
  bool operator==(const State&) const = default;
};

// >BYTECOUNT: (a client) and >BYTECOUNT_CLI: (a server, per client).
struct ByteCount {
  std::uint64_t in = 0;
  std::uint64_t out = 0;
  bool operator==(const ByteCount&) const = default;
};
struct ByteCountClient {
  std::uint32_t cid = 0;
  std::uint64_t in = 0;   // received from the client
  std::uint64_t out = 0;  // sent to the client
  bool operator==(const ByteCountClient&) const = default;
};

// One-text notifications.
struct Info {  // >INFO: (the greeting: "OpenVPN Management Interface Version 5 ...")
  std::string text;
  bool operator==(const Info&) const = default;
};
struct Hold {  // >HOLD: ("Waiting for hold release:0")
  std::string text;
  bool operator==(const Hold&) const = default;
};
struct Fatal {  // >FATAL: the last words before openvpn exits
  std::string text;
  bool operator==(const Fatal&) const = default;
};
struct Password {  // >PASSWORD: ("Need 'Auth' username/password", "Verification Failed: ...")
  std::string text;
  bool operator==(const Password&) const = default;
};

// >LOG:{time},{flags},{text}
struct Log {
  std::uint64_t time = 0;
  std::string flags;  // I, F, N, W, D
  std::string text;
  bool operator==(const Log&) const = default;
};

// >NOTIFY:{severity},{type},{text} (e.g. "info,remote-exit,EXIT")
struct Notify {
  std::string severity;
  std::string type;
  std::string text;
  bool operator==(const Notify&) const = default;
};

// The answer to a command.
struct Reply {
  enum class Kind { success, error, lines };
  Kind kind = Kind::success;
  std::string text;                // SUCCESS:/ERROR: text, without the prefix
  std::vector<std::string> lines;  // Kind::lines: the lines before END
  bool ok() const { return kind != Kind::error; }
  bool operator==(const Reply&) const = default;
};

using Message = std::variant<Reply, Info, ClientAuth, ClientCrResponse, ClientEstablished,
                             ClientDisconnect, ClientAddress, State, ByteCount, ByteCountClient,
                             Hold, Fatal, Log, Notify, Password>;

// What was dropped, since the parser was made.
struct ParserCounters {
  std::uint64_t malformed = 0;       // lines that did not parse (overlong ones included)
  std::uint64_t overlong = 0;        // lines over kMaxLine
  std::uint64_t unknown = 0;         // >TYPE: notifications this parser does not know
  std::uint64_t dropped_blocks = 0;  // >CLIENT: blocks too long, broken or cut off
  std::uint64_t dropped_replies = 0;  // multi-line answers over the bounds
  bool operator==(const ParserCounters&) const = default;
};

// Splits the byte stream into lines and lines into messages. Bytes may come
// in pieces of any size; the messages are the same however they are cut.
// Not thread-safe; one per connection.
class Parser {
 public:
  // Appends `bytes`; returns the messages they complete, in order.
  std::vector<Message> feed(std::string_view bytes);

  // The next answer is a multi-line one (`status`, `state`): lines up to END
  // become one Reply of Kind::lines, unless the first is SUCCESS:/ERROR:.
  // Without this, a line that is neither a notification nor SUCCESS:/ERROR:
  // is malformed. Holds for one answer.
  void expect_lines() { expect_lines_ = true; }

  // The stream ended: an unfinished line, block or answer is dropped and
  // counted. The parser is then as new (its counters kept).
  void finish();

  const ParserCounters& counters() const { return counters_; }
  // Bytes held: the unfinished line, a block's and an answer's lines.
  std::size_t buffered() const;

 private:
  void on_line(std::string_view line, std::vector<Message>& out);
  void on_notification(std::string_view type, std::string_view text,
                       std::vector<Message>& out);
  void on_client(std::string_view text, std::vector<Message>& out);
  void on_env(std::string_view text, std::vector<Message>& out);
  void on_reply_line(std::string_view line, std::vector<Message>& out);
  void drop_block();
  void malformed() { ++counters_.malformed; }

  std::string partial_;
  bool dropping_ = false;  // inside an overlong line, until its newline

  // The >CLIENT: block being read: what opened it, its ENV lines so far.
  std::optional<Message> block_;
  std::size_t block_bytes_ = 0;
  bool block_overflow_ = false;  // too many ENV lines: read on to END, then drop

  bool expect_lines_ = false;
  std::optional<Reply> reply_;  // the multi-line answer being read
  std::size_t reply_bytes_ = 0;
  bool reply_overflow_ = false;

  ParserCounters counters_;
};

// The fields of a state line, without ">STATE:": as notified and as the
// `state` command lists them; nullopt when they do not parse.
std::optional<State> parse_state(std::string_view fields);

// Decimal digits only (no sign, no space), within the type.
std::optional<std::uint32_t> parse_u32(std::string_view text);
std::optional<std::uint64_t> parse_u64(std::string_view text);

}  // namespace mnigs::openvpn
