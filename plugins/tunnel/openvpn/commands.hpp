// The management commands mnigs sends openvpn, as bytes ready to write.
//
// openvpn reads commands with its config-file lexer (parse_line in
// src/openvpn/options.c, v2.6.14): whitespace separates parameters, "..."
// and '...' group them, and outside single quotes a backslash escapes only
// "\\", "\"" and a space or tab; any other escape makes it refuse the whole
// line. Its command buffer (command_line_add, manage.c) silently drops bytes
// below 0x20 and 0x7f, keeps a line of 1024 bytes at most, and a parameter
// may not exceed 255 bytes (OPTION_PARM_SIZE). The builders here refuse
// what openvpn would alter or cut rather than send it altered.
//
// Pure functions, no I/O, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mnigs::openvpn {

// Longest command line sent, in bytes without "\n". openvpn reads its
// socket 256 bytes at a time into a 1024-byte buffer and only then looks
// for the newline, so a line plus the 256 bytes after it must fit.
inline constexpr std::size_t kMaxCommandLine = 1024 - 256;
// Longest parameter after unquoting (OPTION_PARM_SIZE 256 with its NUL).
inline constexpr std::size_t kMaxParameter = 255;
// Longest line of a client-auth block: each is parsed again as a config
// line with a 256-byte buffer (read_config_string, options.c).
inline constexpr std::size_t kMaxConfigLine = 255;

// A command to write, or why it was refused.
struct Command {
  std::string text;         // the bytes to write, "\n"-terminated; "" when refused
  std::string error;        // when refused: what and why
  bool multiline = false;   // answered by lines up to END (Parser::expect_lines)
  explicit operator bool() const { return error.empty(); }
};

// `text` in double quotes with openvpn's escapes, or nullopt (and `why`)
// when openvpn could not read it back the same: a control byte, or longer
// than kMaxParameter.
std::optional<std::string> quote(std::string_view text, std::string* why = nullptr);

// client-auth CID KID, then `config` one line each (client-connect
// directives such as "ifconfig-push 10.8.0.2 255.255.255.0"), then END.
// Refuses a line with CR, LF, NUL or another control byte, one that is
// "END" (it would end the block early), or one over kMaxConfigLine.
Command client_auth(std::uint32_t cid, std::uint32_t kid, const std::vector<std::string>& config);
// client-auth-nt CID KID: let the client in without directives.
Command client_auth_nt(std::uint32_t cid, std::uint32_t kid);
// client-deny CID KID "reason" ["client reason"]: `reason` goes to
// openvpn's log, `client_reason` to the client in its AUTH_FAILED.
Command client_deny(std::uint32_t cid, std::uint32_t kid, std::string_view reason,
                    std::optional<std::string_view> client_reason = std::nullopt);
// client-kill CID ["message"]: openvpn sends `message` (default "RESTART")
// to the client as a control message and drops it. "HALT" tells an
// openvpn client to exit rather than reconnect.
Command client_kill(std::uint32_t cid, std::optional<std::string_view> message = std::nullopt);
// state on: >STATE: notifications from now on.
Command state_on();
// state: the state history, a multi-line answer.
Command state_history();
// status 3: the status report (clients, routes) as tab-separated lines.
Command status();
// bytecount N: >BYTECOUNT(_CLI): every `seconds` seconds; 0 turns them off.
Command bytecount(std::uint32_t seconds);
// signal NAME: SIGHUP, SIGTERM, SIGUSR1 or SIGUSR2 (openvpn knows no others).
Command signal(std::string_view name);
// hold release: let a daemon started with --management-hold go on.
Command hold_release();

}  // namespace mnigs::openvpn
