#include "management.hpp"

#include <charconv>

namespace mnigs::openvpn {

namespace {

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// Splits at the first comma: {before, after}; nullopt without one.
std::optional<std::pair<std::string_view, std::string_view>> cut(std::string_view text) {
  auto comma = text.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  return std::pair{text.substr(0, comma), text.substr(comma + 1)};
}

std::vector<std::string_view> split_all(std::string_view text) {
  std::vector<std::string_view> parts;
  for (;;) {
    auto comma = text.find(',');
    parts.push_back(text.substr(0, comma));
    if (comma == std::string_view::npos) return parts;
    text.remove_prefix(comma + 1);
  }
}

template <typename T>
std::optional<T> parse_unsigned(std::string_view text) {
  // from_chars takes no sign or space for unsigned types, but bound the
  // digits anyway: "000...0001" is no number openvpn prints.
  if (text.empty() || text.size() > 20) return std::nullopt;
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// A port as manage.c prints it: a number, or "" when the address is unset.
bool parse_port(std::string_view text, std::optional<std::uint16_t>& port) {
  if (text.empty()) return true;
  auto value = parse_unsigned<std::uint16_t>(text);
  if (!value) return false;
  port = value;
  return true;
}

}  // namespace

const std::string* env_get(const Env& env, std::string_view name) {
  for (const auto& var : env) {
    if (var.name == name) return &var.value;
  }
  return nullptr;
}

std::optional<std::uint32_t> parse_u32(std::string_view text) {
  return parse_unsigned<std::uint32_t>(text);
}

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  return parse_unsigned<std::uint64_t>(text);
}

std::optional<State> parse_state(std::string_view fields) {
  // log_entry_print (manage.c) writes time, name, description, then
  // ",local_ip" and ",remote_host,remote_port,local_host,local_port" (two
  // empty fields for an unset address), then ",local_ip6" only when set: 8
  // or 9 fields. The `state` command's history lines have the same form.
  // Older daemons wrote fewer trailing fields, so missing ones are empty.
  // A description holding a comma would shift the rest; openvpn's do not.
  auto parts = split_all(fields);
  if (parts.size() < 2 || parts.size() > 9) return std::nullopt;
  parts.resize(9);
  State state;
  auto time = parse_u64(parts[0]);
  if (!time || parts[1].empty()) return std::nullopt;
  state.time = *time;
  for (char c : parts[1]) {
    if (!((c >= 'A' && c <= 'Z') || c == '_')) return std::nullopt;
  }
  state.name = parts[1];
  state.description = parts[2];
  state.local_ip = parts[3];
  state.remote_host = parts[4];
  if (!parse_port(parts[5], state.remote_port)) return std::nullopt;
  state.local_host = parts[6];
  if (!parse_port(parts[7], state.local_port)) return std::nullopt;
  state.local_ip6 = parts[8];
  return state;
}

std::vector<Message> Parser::feed(std::string_view bytes) {
  std::vector<Message> out;
  while (!bytes.empty()) {
    auto newline = bytes.find('\n');
    bool complete = newline != std::string_view::npos;
    auto chunk = bytes.substr(0, newline);
    bytes = complete ? bytes.substr(newline + 1) : std::string_view();

    // One byte over the bound may be the "\r" of "\r\n", so the bound is
    // checked again once the line is whole.
    if (!dropping_ && partial_.size() + chunk.size() > kMaxLine + 1) {
      dropping_ = true;
      partial_.clear();
    }
    if (!dropping_) partial_.append(chunk);
    if (!complete) break;

    if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
    if (dropping_ || partial_.size() > kMaxLine) {
      ++counters_.overlong;
      malformed();
      // A block or an answer missing a line is not the one openvpn sent.
      if (block_) block_overflow_ = true;
      if (reply_) reply_overflow_ = true;
    } else {
      on_line(partial_, out);
    }
    partial_.clear();
    dropping_ = false;
  }
  return out;
}

void Parser::finish() {
  if (!partial_.empty() || dropping_) malformed();
  partial_.clear();
  dropping_ = false;
  if (block_) drop_block();
  if (reply_) ++counters_.dropped_replies;
  reply_.reset();
  reply_bytes_ = 0;
  reply_overflow_ = false;
  expect_lines_ = false;
}

std::size_t Parser::buffered() const { return partial_.size() + block_bytes_ + reply_bytes_; }

void Parser::drop_block() {
  ++counters_.dropped_blocks;
  block_.reset();
  block_bytes_ = 0;
  block_overflow_ = false;
}

void Parser::on_line(std::string_view line, std::vector<Message>& out) {
  // openvpn never writes NUL (its buffers are C strings); a line with one
  // is not from it.
  if (line.find('\0') != std::string_view::npos) {
    malformed();
    if (block_) drop_block();
    return;
  }
  if (block_ && !starts_with(line, ">CLIENT:ENV,")) drop_block();  // interrupted

  if (starts_with(line, ">")) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 1) {
      malformed();
      return;
    }
    on_notification(line.substr(1, colon - 1), line.substr(colon + 1), out);
    return;
  }
  on_reply_line(line, out);
}

void Parser::on_reply_line(std::string_view line, std::vector<Message>& out) {
  const bool success = starts_with(line, "SUCCESS:");
  const bool error = starts_with(line, "ERROR:");
  if (!reply_ && (success || error)) {
    // manage.c writes "SUCCESS: text"; the space is optional here.
    auto text = line.substr(success ? 8 : 6);
    if (starts_with(text, " ")) text.remove_prefix(1);
    out.emplace_back(Reply{success ? Reply::Kind::success : Reply::Kind::error,
                           std::string(text), {}});
    expect_lines_ = false;
    return;
  }
  if (!reply_ && !expect_lines_) {
    malformed();
    return;
  }
  if (!reply_) {
    reply_.emplace();
    reply_->kind = Reply::Kind::lines;
    expect_lines_ = false;
  }
  if (line == "END") {
    if (reply_overflow_) {
      ++counters_.dropped_replies;
      out.emplace_back(Reply{Reply::Kind::error, "answer longer than mnigs reads", {}});
    } else {
      out.emplace_back(std::move(*reply_));
    }
    reply_.reset();
    reply_bytes_ = 0;
    reply_overflow_ = false;
    return;
  }
  if (reply_overflow_) return;
  if (reply_->lines.size() >= kMaxReplyLines || reply_bytes_ + line.size() > kMaxReplyBytes) {
    // Read on to END so that what follows is not taken for a new answer.
    reply_overflow_ = true;
    reply_->lines.clear();
    reply_->lines.shrink_to_fit();
    reply_bytes_ = 0;
    return;
  }
  reply_->lines.emplace_back(line);
  reply_bytes_ += line.size();
}

void Parser::on_notification(std::string_view type, std::string_view text,
                             std::vector<Message>& out) {
  if (type == "CLIENT") {
    on_client(text, out);
  } else if (type == "STATE") {
    if (auto state = parse_state(text)) {
      out.emplace_back(std::move(*state));
    } else {
      malformed();
    }
  } else if (type == "BYTECOUNT") {
    auto parts = split_all(text);
    auto in = parts.size() == 2 ? parse_u64(parts[0]) : std::nullopt;
    auto sent = parts.size() == 2 ? parse_u64(parts[1]) : std::nullopt;
    if (in && sent) {
      out.emplace_back(ByteCount{*in, *sent});
    } else {
      malformed();
    }
  } else if (type == "BYTECOUNT_CLI") {
    auto parts = split_all(text);
    auto cid = parts.size() == 3 ? parse_u32(parts[0]) : std::nullopt;
    auto in = parts.size() == 3 ? parse_u64(parts[1]) : std::nullopt;
    auto sent = parts.size() == 3 ? parse_u64(parts[2]) : std::nullopt;
    if (cid && in && sent) {
      out.emplace_back(ByteCountClient{*cid, *in, *sent});
    } else {
      malformed();
    }
  } else if (type == "LOG") {
    auto first = cut(text);
    auto second = first ? cut(first->second) : std::nullopt;
    auto time = first ? parse_u64(first->first) : std::nullopt;
    if (time && second) {
      out.emplace_back(Log{*time, std::string(second->first), std::string(second->second)});
    } else {
      malformed();
    }
  } else if (type == "NOTIFY") {
    auto first = cut(text);
    auto second = first ? cut(first->second) : std::nullopt;
    if (second) {
      out.emplace_back(Notify{std::string(first->first), std::string(second->first),
                              std::string(second->second)});
    } else {
      malformed();
    }
  } else if (type == "INFO") {
    out.emplace_back(Info{std::string(text)});
  } else if (type == "HOLD") {
    out.emplace_back(Hold{std::string(text)});
  } else if (type == "FATAL") {
    out.emplace_back(Fatal{std::string(text)});
  } else if (type == "PASSWORD") {
    out.emplace_back(Password{std::string(text)});
  } else {
    // ECHO, INFOMSG, NEED-OK, NEED-STR, UPDOWN, RSA_SIGN, PK_SIGN, ...:
    // nothing mnigs asks for.
    ++counters_.unknown;
  }
}

void Parser::on_client(std::string_view text, std::vector<Message>& out) {
  if (starts_with(text, "ENV,")) {
    on_env(text.substr(4), out);
    return;
  }
  auto head = cut(text);
  if (!head) {
    malformed();
    return;
  }
  auto [kind, rest] = *head;
  auto parts = split_all(rest);
  if (kind == "CONNECT" || kind == "REAUTH") {
    auto cid = parts.size() == 2 ? parse_u32(parts[0]) : std::nullopt;
    auto kid = parts.size() == 2 ? parse_u32(parts[1]) : std::nullopt;
    if (!cid || !kid) return malformed();
    block_ = ClientAuth{kind == "REAUTH", *cid, *kid, {}};
  } else if (kind == "ESTABLISHED" || kind == "DISCONNECT") {
    auto cid = parts.size() == 1 ? parse_u32(parts[0]) : std::nullopt;
    if (!cid) return malformed();
    if (kind == "ESTABLISHED") {
      block_ = ClientEstablished{*cid, {}};
    } else {
      block_ = ClientDisconnect{*cid, {}};
    }
  } else if (kind == "CR_RESPONSE") {
    // The response is base64 and so holds no comma.
    auto cid = parts.size() == 3 ? parse_u32(parts[0]) : std::nullopt;
    auto kid = parts.size() == 3 ? parse_u32(parts[1]) : std::nullopt;
    if (!cid || !kid) return malformed();
    block_ = ClientCrResponse{*cid, *kid, std::string(parts[2]), {}};
  } else if (kind == "ADDRESS") {
    // {CID},{ADDR},{PRI}: no address form openvpn prints holds a comma.
    auto cid = parts.size() == 3 ? parse_u32(parts[0]) : std::nullopt;
    if (!cid || parts[1].empty() || (parts[2] != "0" && parts[2] != "1")) return malformed();
    out.emplace_back(ClientAddress{*cid, std::string(parts[1]), parts[2] == "1"});
    return;
  } else {
    ++counters_.unknown;
    return;
  }
  block_bytes_ = 0;
  block_overflow_ = false;
}

void Parser::on_env(std::string_view text, std::vector<Message>& out) {
  if (!block_) {
    // The rest of a block whose head was dropped or unknown.
    malformed();
    return;
  }
  if (text == "END") {
    if (block_overflow_) {
      drop_block();
      return;
    }
    out.push_back(std::move(*block_));
    block_.reset();
    block_bytes_ = 0;
    return;
  }
  if (block_overflow_) return;
  auto equals = text.find('=');
  auto* env = std::visit(
      [](auto& m) -> Env* {
        if constexpr (requires { m.env; }) {
          return &m.env;
        } else {
          return nullptr;
        }
      },
      *block_);
  if (equals == std::string_view::npos || equals == 0 || equals > kMaxEnvName ||
      env->size() >= kMaxEnvLines) {
    // A broken or overlong block is dropped whole, at its END.
    if (equals == std::string_view::npos || equals == 0 || equals > kMaxEnvName) malformed();
    block_overflow_ = true;
    return;
  }
  env->push_back({std::string(text.substr(0, equals)), std::string(text.substr(equals + 1))});
  block_bytes_ += text.size();
}

}  // namespace mnigs::openvpn
