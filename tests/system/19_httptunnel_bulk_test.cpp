// tunnel/httptunnel with a gigabyte each way, through real daemons: what a
// user relies on is that an upload or a download of any size arrives whole
// and unchanged, by token and to a named service, and that the gateway and
// the node hold no more than a bounded part of it in memory at any time
// (README: "bodies and answers of any size pass through 64 KiB buffers and
// the link's flow control, never whole").
//
//   client ---- gw ---- node        link 1: client–gw, link 2: gw–node
//
// The node (whose firewall lets nothing in) serves BulkHttp on its loopback.
// The client's side is curl, fed and checked by openssl: the upload is an
// AES-CTR stream whose SHA-256 openssl takes as curl sends it; the
// download's SHA-256 is taken by openssl as curl receives it. The service
// takes its own on the other side.
//
// Memory: the peak resident size (VmHWM in /proc/PID/status) of each
// mnigsd after the transfers is within 64 MiB of its resident size before.
#include <sys/types.h>

#include <cstdint>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "harness/bulk_http.hpp"
#include "harness/system_test.hpp"
#include "harness/wait.hpp"
#include "httptunnel_lab.hpp"

namespace mnigs::test {
namespace {

constexpr int kFrontPort = 8080;
constexpr int kServicePort = 9100;
constexpr std::uint64_t kSize = std::uint64_t{1} << 30;  // 1 GiB
constexpr long kMaxGrowthKiB = 64 * 1024;
const std::string kToken = "0123456789abcdef-bulk";
const std::string kDomain = "tunnel.test";

// A field of /proc/PID/status in KiB ("VmRSS", "VmHWM"), -1 if absent.
long proc_kib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  for (int i = 0; i < 200 && std::getline(in, line); ++i)
    if (line.starts_with(field + ":")) return std::stol(line.substr(field.size() + 1));
  return -1;
}

class HttpTunnelBulk : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("client").node("gw").node("node");
    topology_.link("client", "gw").link("gw", "node");
    topology_.up();
    httptunnel::hide(topology_, "node");
    service_ = std::make_unique<BulkHttp>(topology_.ns("node"), "127.0.0.1", kServicePort);
    front_ = topology_.address("gw", "client");
    gw_ = std::make_unique<Node>(
        topology_, "gw",
        NodeOptions()
            .only_discovery("static")
            .set("httptunnel", "listen",
                 "[" + yaml_quote(front_ + ":" + std::to_string(kFrontPort)) + "]")
            .set("httptunnel", "domain", yaml_quote(kDomain)));
    node_ = std::make_unique<Node>(
        topology_, "node",
        NodeOptions()
            .only_discovery("static")
            .set("httptunnel", "gateways",
                 "[" + yaml_quote(topology_.address("gw", "node") + ":65533") + "]")
            .set("httptunnel", "id", "tim")
            .set("httptunnel", "services", "[\"bulk=" + std::to_string(kServicePort) + "\"]")
            .set("httptunnel", "token", yaml_quote(kToken))
            .set("httptunnel", "server",
                 yaml_quote("http://127.0.0.1:" + std::to_string(kServicePort))));
    gw_->start();
    node_->start();
    gw_->wait_ready();
    node_->wait_ready();
    ASSERT_TRUE(wait_until([&] { return httptunnel::links_up(*node_, 2); }, 100, 100ms))
        << httptunnel::status(*node_).toStyledString();
  }

  std::string url(const std::string& path) const {
    return "http://" + front_ + ":" + std::to_string(kFrontPort) + path;
  }

  // Uploads kSize bytes with curl (PUT, chunked: curl reads them from a
  // pipe) to `target` with `headers`. Returns curl's output, "<the
  // service's answer>\n<status>", and the SHA-256 of what curl was given.
  std::pair<std::string, std::string> upload(const std::vector<std::string>& headers,
                                             const std::string& target) {
    std::vector<std::string> argv = {
        "bash", "-c",
        R"(d=$(mktemp -d) && trap 'rm -rf "$d"' EXIT && mkfifo "$d/sent" || exit 1
openssl sha256 -r <"$d/sent" >"$d/sum" &
head -c "$1" /dev/zero |
  openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f \
    -iv 00000000000000000000000000000000 |
  tee "$d/sent" | curl -sS -m 300 -T - -H Expect: -w '\n%{http_code}' "${@:2}"
wait
cut -d' ' -f1 "$d/sum" >&2)",
        "upload", std::to_string(kSize)};
    argv.insert(argv.end(), headers.begin(), headers.end());
    argv.push_back(url(target));
    auto r = topology_.exec("client", argv, 330s);
    return {r.out, trim(r.err)};
  }

  // Downloads `target` with curl. Returns "<status> <bytes>" and the
  // SHA-256 of what curl received.
  std::pair<std::string, std::string> download(const std::vector<std::string>& headers,
                                               const std::string& target) {
    std::vector<std::string> argv = {
        "bash", "-c",
        R"(curl -sS -m 300 -w '%{stderr}%{http_code} %{size_download}' "$@" |
  openssl sha256 -r | cut -d' ' -f1)",
        "download"};
    argv.insert(argv.end(), headers.begin(), headers.end());
    argv.push_back(url(target));
    auto r = topology_.exec("client", argv, 330s);
    return {trim(r.err), trim(r.out)};
  }

  static std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }

  // 1 GiB up and 1 GiB down through `prefix` (with `headers`), unchanged,
  // and each mnigsd's peak resident size within kMaxGrowthKiB of before.
  void both_ways(const std::vector<std::string>& headers, const std::string& prefix) {
    const long gw_before = proc_kib(gw_->pid(), "VmRSS");
    const long node_before = proc_kib(node_->pid(), "VmRSS");
    ASSERT_GT(gw_before, 0);
    ASSERT_GT(node_before, 0);

    const auto [answer, sent] = upload(headers, prefix + "/sink");
    const BulkDigest received = service_->last_received();
    EXPECT_EQ(answer, "bytes=" + std::to_string(kSize) + " sha256=" + received.sha256 + "\n\n200")
        << gw_->log_tail() << node_->log_tail();
    EXPECT_EQ(received.bytes, kSize);
    EXPECT_EQ(received.sha256, sent);
    EXPECT_EQ(sent.size(), 64u) << sent;

    const auto [got, got_sha] = download(headers, prefix + "/source/" + std::to_string(kSize));
    EXPECT_EQ(got, "200 " + std::to_string(kSize)) << gw_->log_tail() << node_->log_tail();
    // The service records its digest after its last write, which curl may
    // have read already.
    EXPECT_TRUE(wait_until([&] { return service_->last_sent().bytes == kSize; }, 50, 100ms));
    EXPECT_EQ(got_sha, service_->last_sent().sha256);
    EXPECT_EQ(got_sha.size(), 64u) << got_sha;

    const long gw_peak = proc_kib(gw_->pid(), "VmHWM");
    const long node_peak = proc_kib(node_->pid(), "VmHWM");
    EXPECT_LT(gw_peak - gw_before, kMaxGrowthKiB)
        << "gateway: VmRSS " << gw_before << " KiB before, VmHWM " << gw_peak << " KiB after";
    EXPECT_LT(node_peak - node_before, kMaxGrowthKiB)
        << "node: VmRSS " << node_before << " KiB before, VmHWM " << node_peak << " KiB after";
    std::cout << "[ memory ] gateway " << gw_before << " -> peak " << gw_peak << " KiB, node "
              << node_before << " -> peak " << node_peak << " KiB\n";
  }

  Topology topology_;  // declared first: destroyed after everything in it
  std::unique_ptr<BulkHttp> service_;
  std::unique_ptr<Node> gw_, node_;
  std::string front_;
};

TEST_F(HttpTunnelBulk, AGigabyteEachWayByTokenArrivesWholeInBoundedMemory) {
  both_ways({}, "/_token/" + kToken);
}

TEST_F(HttpTunnelBulk, AGigabyteEachWayToANamedServiceArrivesWholeInBoundedMemory) {
  both_ways({"-H", "Host: bulk.tim." + kDomain}, "");
}

}  // namespace
}  // namespace mnigs::test
