// Raw packets the system tests hand to a tunnel themselves, as a hostile
// or third-party peer would, and captures of what crosses a link.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

namespace mnigs::test {

// An IPv4/UDP packet of `size` bytes (at least 28) from `source` to
// `destination`, ports 9 (discard), header checksum filled in, UDP
// checksum 0 (none).
std::string ipv4_udp(const std::string& source, const std::string& destination,
                     std::size_t size = 28);

// A masked WebSocket frame as a client sends it (RFC 6455 5.2), FIN set,
// with a fixed masking key: what a test writes when it plays a client.
std::string client_frame(int opcode, const std::string& payload);

// tcpdump on one interface of a namespace, writing the packets that match
// `filter` (tcpdump's expression) to a pcap file; stopped, and the file
// complete, by finish() or the destructor. Throws when tcpdump does not
// start listening within 5 s.
class Capture {
 public:
  Capture(const std::string& ns, const std::string& interface, const std::string& filter,
          const std::string& file);
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;
  void finish();
  // tshark's fields of every captured packet that matches `display_filter`,
  // one line each, tab-separated (finishes first). `decode_as` adds
  // tshark's -d, e.g. "tcp.port==65530,tls".
  std::string fields(const std::string& display_filter, const std::vector<std::string>& fields,
                     const std::string& decode_as = "");
  // The pcap file's bytes, headers and all (finishes first).
  std::string bytes();

 private:
  std::string read_log() const;
  std::string file_, log_;
  pid_t pid_ = -1;
};

}  // namespace mnigs::test
