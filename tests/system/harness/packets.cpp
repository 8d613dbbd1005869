#include "harness/packets.hpp"

#include <arpa/inet.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "harness/netns.hpp"
#include "harness/wait.hpp"

namespace mnigs::test {

std::string ipv4_udp(const std::string& source, const std::string& destination, std::size_t size) {
  if (size < 28 || size > 65535) throw std::invalid_argument("ipv4_udp: size 28..65535");
  std::string p(size, '\0');
  auto* ip = reinterpret_cast<unsigned char*>(p.data());
  ip[0] = 0x45;
  ip[2] = static_cast<unsigned char>(size >> 8);
  ip[3] = static_cast<unsigned char>(size & 0xff);
  ip[8] = 64;
  ip[9] = 17;
  if (::inet_pton(AF_INET, source.c_str(), ip + 12) != 1 ||
      ::inet_pton(AF_INET, destination.c_str(), ip + 16) != 1)
    throw std::invalid_argument("ipv4_udp: not IPv4 addresses: " + source + ", " + destination);
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < 20; i += 2) sum += (ip[i] << 8) | ip[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  sum = ~sum & 0xffff;
  ip[10] = static_cast<unsigned char>(sum >> 8);
  ip[11] = static_cast<unsigned char>(sum & 0xff);
  ip[21] = 9;  // source port
  ip[23] = 9;  // destination port
  const std::size_t udp = size - 20;
  ip[24] = static_cast<unsigned char>(udp >> 8);
  ip[25] = static_cast<unsigned char>(udp & 0xff);
  return p;
}

Capture::Capture(const std::string& ns, const std::string& interface, const std::string& filter,
                 const std::string& file)
    : file_(file), log_(file + ".log") {
  // Immediate mode: no packet waits in the kernel's buffer when tcpdump is
  // told to stop.
  pid_ = spawn_in_ns(ns,
                     {"/usr/bin/tcpdump", "-i", interface, "-n", "--immediate-mode", "-U", "-Z",
                      "root", "-w", file, filter},
                     log_);
  // tcpdump says so once it listens.
  using namespace std::chrono_literals;
  if (!wait_until([&] { return read_log().find("listening on") != std::string::npos; }, 100,
                  50ms)) {
    finish();
    throw std::runtime_error("tcpdump did not start: " + read_log());
  }
}

Capture::~Capture() { finish(); }

void Capture::finish() {
  if (pid_ > 0) terminate_processes({pid_});
  pid_ = -1;
}

std::string Capture::fields(const std::string& display_filter,
                            const std::vector<std::string>& fields, const std::string& decode_as) {
  finish();
  std::vector<std::string> argv = {"tshark", "-r", file_, "-n"};
  if (!decode_as.empty()) {
    argv.push_back("-d");
    argv.push_back(decode_as);
  }
  argv.insert(argv.end(), {"-Y", display_filter, "-T", "fields"});
  for (const auto& f : fields) {
    argv.push_back("-e");
    argv.push_back(f);
  }
  using namespace std::chrono_literals;
  auto r = run_command(argv, "", 30s);
  if (r.exit_code != 0) throw std::runtime_error("tshark: " + r.err);
  return r.out;
}

std::string Capture::bytes() {
  finish();
  std::ifstream in(file_, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Capture::read_log() const {
  std::ifstream in(log_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string client_frame(int opcode, const std::string& payload) {
  std::string f;
  f += static_cast<char>(0x80 | opcode);
  const std::size_t n = payload.size();
  if (n < 126) {
    f += static_cast<char>(0x80 | n);
  } else if (n <= 0xffff) {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xff);
  } else {
    f += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((std::uint64_t(n) >> (8 * i)) & 0xff);
  }
  const unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
  f.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < n; ++i) f += static_cast<char>(payload[i] ^ key[i % 4]);
  return f;
}

}  // namespace mnigs::test
