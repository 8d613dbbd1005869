#include "commands.hpp"

namespace mnigs::openvpn {

namespace {

// openvpn drops these bytes on reading (char_class CC_PRINT keeps >= 0x20
// but not 0x7f); UTF-8 passes.
bool is_control(char c) {
  auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}

Command refuse(std::string what) { return Command{"", std::move(what), false}; }

Command line(std::string text, bool multiline = false) {
  if (text.size() > kMaxCommandLine) {
    return refuse("openvpn command of " + std::to_string(text.size()) +
                  " bytes is longer than its management buffer takes (" +
                  std::to_string(kMaxCommandLine) + ")");
  }
  text += '\n';
  return Command{std::move(text), "", multiline};
}

std::string ids(std::uint32_t cid, std::uint32_t kid) {
  return std::to_string(cid) + " " + std::to_string(kid);
}

}  // namespace

std::optional<std::string> quote(std::string_view text, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<std::string> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  if (text.size() > kMaxParameter) {
    return fail("longer than openvpn's " + std::to_string(kMaxParameter) + "-byte parameters (" +
                std::to_string(text.size()) + " bytes)");
  }
  std::string out = "\"";
  for (char c : text) {
    if (is_control(c)) return fail("holds a control character, which openvpn would drop");
    // Inside double quotes parse_line still takes a backslash as an
    // escape, and a bare '"' as the end; a space needs nothing.
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

Command client_auth(std::uint32_t cid, std::uint32_t kid,
                    const std::vector<std::string>& config) {
  std::string text = "client-auth " + ids(cid, kid) + "\n";
  for (std::size_t i = 0; i < config.size(); ++i) {
    const std::string& directive = config[i];
    auto where = "client-auth line " + std::to_string(i + 1);
    for (char c : directive) {
      if (c == '\r' || c == '\n' || c == '\0') {
        return refuse(where + " holds a CR, LF or NUL, which would split it");
      }
      if (is_control(c)) return refuse(where + " holds a control character");
    }
    if (directive == "END") return refuse(where + " is END, which would end the block");
    if (directive.size() > kMaxConfigLine) {
      return refuse(where + " is longer than openvpn reads a config line (" +
                    std::to_string(kMaxConfigLine) + " bytes)");
    }
    text += directive;
    text += '\n';
  }
  text += "END\n";
  return Command{std::move(text), "", false};
}

Command client_auth_nt(std::uint32_t cid, std::uint32_t kid) {
  return line("client-auth-nt " + ids(cid, kid));
}

Command client_deny(std::uint32_t cid, std::uint32_t kid, std::string_view reason,
                    std::optional<std::string_view> client_reason) {
  std::string why;
  auto quoted = quote(reason, &why);
  if (!quoted) return refuse("client-deny reason " + why);
  std::string text = "client-deny " + ids(cid, kid) + " " + *quoted;
  if (client_reason) {
    auto quoted_client = quote(*client_reason, &why);
    if (!quoted_client) return refuse("client-deny client reason " + why);
    text += " " + *quoted_client;
  }
  return line(std::move(text));
}

Command client_kill(std::uint32_t cid, std::optional<std::string_view> message) {
  std::string text = "client-kill " + std::to_string(cid);
  if (message) {
    std::string why;
    auto quoted = quote(*message, &why);
    if (!quoted) return refuse("client-kill message " + why);
    text += " " + *quoted;
  }
  return line(std::move(text));
}

Command state_on() { return line("state on"); }

Command state_history() { return line("state all", true); }

Command status() { return line("status 3", true); }

Command bytecount(std::uint32_t seconds) { return line("bytecount " + std::to_string(seconds)); }

Command signal(std::string_view name) {
  // man_signal (manage.c) knows these four; anything else it refuses.
  if (name != "SIGHUP" && name != "SIGTERM" && name != "SIGUSR1" && name != "SIGUSR2") {
    return refuse("openvpn takes no signal \"" + std::string(name.substr(0, 32)) +
                  "\" (SIGHUP, SIGTERM, SIGUSR1, SIGUSR2)");
  }
  return line("signal " + std::string(name));
}

Command hold_release() { return line("hold release"); }

}  // namespace mnigs::openvpn
