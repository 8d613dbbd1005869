// The plugin on a fake context, talking to fake daemons on 127.0.0.1 that
// answer with the fixtures: which daemon it asks in which order, what it
// reports, and how it copes with daemons that are absent, silent, flood it
// or answer garbage.
#include "discovery.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <memory>
#include <optional>
#include <plugin_fakes.hpp>
#include <sstream>

#include "jsoninfo.hpp"
#include "olsrd2.hpp"

namespace mnigs::olsr {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(MNIGS_OLSR_FIXTURES) + "/" + name, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A daemon on 127.0.0.1: reads the request the way olsrd does (one read),
// then answers `reply` and closes; or never answers; or sends without end.
class FakeDaemon {
 public:
  enum class Mode { reply, silent, flood };

  FakeDaemon(asio::io_context& io, std::string reply, Mode mode = Mode::reply)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        reply_(std::move(reply)),
        mode_(mode) {
    accept();
  }

  std::string address() const {
    return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  int connections() const { return connections_; }
  const std::vector<std::string>& requests() const { return requests_; }
  void set_reply(std::string reply) { reply_ = std::move(reply); }

 private:
  struct Session {
    explicit Session(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    std::string in = std::string(1024, '\0');
    std::string chunk = std::string(64 * 1024, 'x');
  };

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      ++connections_;
      auto session = std::make_shared<Session>(std::move(s));
      if (mode_ == Mode::silent) {
        held_.push_back(session);  // open, never answered
      } else {
        session->socket.async_read_some(
            asio::buffer(session->in),
            [this, session](boost::system::error_code ec, std::size_t n) {
              if (ec) return;
              requests_.push_back(session->in.substr(0, n));
              answer(session);
            });
      }
      accept();
    });
  }

  void answer(const std::shared_ptr<Session>& session) {
    if (mode_ == Mode::flood) return flood(session);
    asio::async_write(session->socket, asio::buffer(reply_),
                      [session](boost::system::error_code, std::size_t) {
                        boost::system::error_code ignored;
                        session->socket.shutdown(tcp::socket::shutdown_both, ignored);
                        session->socket.close(ignored);
                      });
  }

  void flood(const std::shared_ptr<Session>& session) {
    asio::async_write(session->socket, asio::buffer(session->chunk),
                      [this, session](boost::system::error_code ec, std::size_t) {
                        if (!ec) flood(session);
                      });
  }

  tcp::acceptor acceptor_;
  std::string reply_;
  Mode mode_;
  int connections_ = 0;
  std::vector<std::string> requests_;
  std::vector<std::shared_ptr<Session>> held_;
};

// A port nothing listens on (bound, then released).
std::string closed_port(asio::io_context& io) {
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::string address = "127.0.0.1:" + std::to_string(a.local_endpoint().port());
  a.close();
  return address;
}

class OlsrPlugin : public ::testing::Test {
 protected:
  OlsrPlugin() : ctx_("olsr") {
    ctx_.config_["source"] = "auto";
    ctx_.config_["jsoninfo"] = closed_port(ctx_.io());
    ctx_.config_["txtinfo"] = closed_port(ctx_.io());
    ctx_.config_["olsrd2"] = closed_port(ctx_.io());
    ctx_.config_["timeout"] = 1500;
    ctx_.config_["maxReplyBytes"] = 4 << 20;
  }

  void start() {
    plugin_ = std::make_unique<OlsrDiscovery>(ctx_);
    plugin_->start();
  }

  // One discover() round, run to its answer (bounded at 10 s).
  Discovery discover() {
    std::optional<Discovery> got;
    plugin_->discover([&](Discovery d) { got = std::move(d); });
    for (int i = 0; i < 1000 && !got; ++i) ctx_.run_for(10ms);
    EXPECT_TRUE(got) << "discover() did not answer";
    return got.value_or(Discovery{});
  }

  int log_lines_with(const std::string& text) const {
    int n = 0;
    for (const auto& l : ctx_.log_.lines)
      if (l.find(text) != std::string::npos) ++n;
    return n;
  }

  static const Candidate* find(const Discovery& d, const std::string& address) {
    for (const auto& c : d.candidates)
      if (c.address == address) return &c;
    return nullptr;
  }

  testing::FakeContext ctx_;
  std::unique_ptr<OlsrDiscovery> plugin_;
};

TEST_F(OlsrPlugin, AsksJsoninfoFirstAndReportsItsNodes) {
  FakeDaemon json(ctx_.io(), fixture("jsoninfo-0.9.http"));
  FakeDaemon txt(ctx_.io(), fixture("txtinfo-0.9.http"));
  ctx_.config_["jsoninfo"] = json.address();
  ctx_.config_["txtinfo"] = txt.address();
  start();
  Discovery d = discover();
  EXPECT_EQ(d.error, "");
  EXPECT_EQ(txt.connections(), 0);
  ASSERT_EQ(json.requests().size(), 1u);
  EXPECT_EQ(json.requests()[0], jsoninfo::request());
  const Candidate* gw = find(d, "10.0.0.4");
  ASSERT_NE(gw, nullptr);
  EXPECT_TRUE(gw->gateway);
  EXPECT_EQ(gw->node, "10.0.0.4");
  EXPECT_EQ(gw->distance, 3u);
  EXPECT_EQ(gw->detail, "olsr topology");
  EXPECT_FALSE(find(d, "10.0.0.3")->gateway);
  EXPECT_EQ(plugin_->network(), "olsr");
  Json::Value s = plugin_->status();
  EXPECT_EQ(s["source"].asString(), "jsoninfo");
  EXPECT_EQ(s["nodes"].asUInt(), 4u);
  EXPECT_EQ(s["gateways"].asUInt(), 1u);
  EXPECT_EQ(s["lastError"].asString(), "");
}

TEST_F(OlsrPlugin, FallsBackToTxtinfoQuietlyWhenJsoninfoIsNotThere) {
  FakeDaemon txt(ctx_.io(), fixture("txtinfo-0.9.http"));
  ctx_.config_["txtinfo"] = txt.address();
  start();
  Discovery d = discover();
  EXPECT_EQ(d.error, "");
  ASSERT_NE(find(d, "10.0.0.4"), nullptr);
  EXPECT_TRUE(find(d, "10.0.0.4")->gateway);
  Json::Value s = plugin_->status();
  EXPECT_EQ(s["source"].asString(), "txtinfo");
  ASSERT_EQ(s["attempts"].size(), 2u);
  EXPECT_NE(s["attempts"][0]["error"].asString().find("cannot connect"), std::string::npos);
  EXPECT_EQ(log_lines_with("unusable"), 0) << "an absent daemon is normal in auto";
}

TEST_F(OlsrPlugin, FallsBackToOlsrd2AndWarnsAboutGarbageFromJsoninfo) {
  FakeDaemon json(ctx_.io(), "HTTP/1.1 200 OK\r\n\r\n{\"neighbors\": [{\"ipAddress\": ");
  FakeDaemon two(ctx_.io(), fixture("olsrd2-telnet.txt"));
  ctx_.config_["jsoninfo"] = json.address();
  ctx_.config_["olsrd2"] = two.address();
  start();
  Discovery d = discover();
  EXPECT_EQ(d.error, "");
  ASSERT_EQ(two.requests().size(), 1u);
  EXPECT_EQ(two.requests()[0], olsrd2::request());
  const Candidate* gw = find(d, "10.0.0.4");
  ASSERT_NE(gw, nullptr);
  EXPECT_TRUE(gw->gateway);
  EXPECT_EQ(gw->detail, "olsrd2 node");
  EXPECT_EQ(log_lines_with("answer is unusable: the reply is not valid JSON"), 1);
  EXPECT_EQ(plugin_->status()["source"].asString(), "olsrd2");
}

TEST_F(OlsrPlugin, NothingAnsweringGivesAnErrorAndNoCandidates) {
  start();
  Discovery d = discover();
  EXPECT_TRUE(d.candidates.empty());
  EXPECT_NE(d.error.find("no OLSR daemon gave a usable answer"), std::string::npos) << d.error;
  EXPECT_NE(d.error.find("jsoninfo"), std::string::npos);
  EXPECT_NE(d.error.find("olsrd2"), std::string::npos);
  EXPECT_EQ(plugin_->status()["lastError"].asString(), d.error);
}

TEST_F(OlsrPlugin, FailingRoundKeepsWhatWasKnownAndLogsOncePerInterval) {
  FakeDaemon json(ctx_.io(), fixture("jsoninfo-0.9.http"));
  ctx_.config_["jsoninfo"] = json.address();
  start();
  Discovery good = discover();
  ASSERT_EQ(good.error, "");
  json.set_reply("\x01\x02 garbage \xff");
  Discovery bad = discover();
  EXPECT_NE(bad.error, "");
  EXPECT_EQ(bad.candidates.size(), good.candidates.size()) << "the previous view stands";
  Discovery again = discover();
  EXPECT_NE(again.error, "");
  EXPECT_EQ(log_lines_with("no OLSR daemon gave a usable answer"), 1);
  EXPECT_EQ(json.connections(), 3);
}

TEST_F(OlsrPlugin, SilentDaemonTimesOutAndTheNextIsAsked) {
  FakeDaemon silent(ctx_.io(), "", FakeDaemon::Mode::silent);
  FakeDaemon txt(ctx_.io(), fixture("txtinfo-0.6.txt"));
  ctx_.config_["jsoninfo"] = silent.address();
  ctx_.config_["txtinfo"] = txt.address();
  ctx_.config_["timeout"] = 200;
  start();
  Discovery d = discover();
  EXPECT_EQ(d.error, "");
  EXPECT_NE(find(d, "10.0.0.4"), nullptr);
  Json::Value s = plugin_->status();
  EXPECT_NE(s["attempts"][0]["error"].asString().find("within 200 ms"), std::string::npos)
      << s["attempts"][0]["error"].asString();
}

TEST_F(OlsrPlugin, ReplyLargerThanTheBoundIsRefused) {
  FakeDaemon flood(ctx_.io(), "", FakeDaemon::Mode::flood);
  ctx_.config_["jsoninfo"] = flood.address();
  ctx_.config_["maxReplyBytes"] = 65536;
  start();
  Discovery d = discover();
  EXPECT_NE(d.error.find("exceeds 65536 bytes"), std::string::npos) << d.error;
}

TEST_F(OlsrPlugin, FixedSourceAsksOnlyThatDaemon) {
  FakeDaemon json(ctx_.io(), fixture("jsoninfo-0.9.http"));
  FakeDaemon two(ctx_.io(), fixture("olsrd2-telnet.txt"));
  ctx_.config_["jsoninfo"] = json.address();
  ctx_.config_["olsrd2"] = two.address();
  ctx_.config_["source"] = "olsrd2";
  start();
  Discovery d = discover();
  EXPECT_EQ(d.error, "");
  EXPECT_EQ(json.connections(), 0);
  EXPECT_EQ(two.connections(), 1);
}

TEST_F(OlsrPlugin, CallsDuringARoundShareIt) {
  FakeDaemon json(ctx_.io(), fixture("jsoninfo-0.9.http"));
  ctx_.config_["jsoninfo"] = json.address();
  start();
  int answered = 0;
  plugin_->discover([&](Discovery) { ++answered; });
  plugin_->discover([&](Discovery) { ++answered; });
  for (int i = 0; i < 1000 && answered < 2; ++i) ctx_.run_for(10ms);
  EXPECT_EQ(answered, 2);
  EXPECT_EQ(json.connections(), 1);
}

TEST_F(OlsrPlugin, StopDuringARoundAnswersNobody) {
  FakeDaemon silent(ctx_.io(), "", FakeDaemon::Mode::silent);
  ctx_.config_["jsoninfo"] = silent.address();
  ctx_.config_["timeout"] = 300;
  start();
  bool answered = false;
  plugin_->discover([&](Discovery) { answered = true; });
  for (int i = 0; i < 100 && silent.connections() == 0; ++i) ctx_.run_for(10ms);
  ASSERT_EQ(silent.connections(), 1);
  plugin_->stop();
  plugin_.reset();
  ctx_.run_for(500ms);  // past the timeout: a handler touching the plugin would crash here
  EXPECT_FALSE(answered);
}

TEST_F(OlsrPlugin, LiveChangeSwitchesSourceAndBadValuesKeepThePrevious) {
  FakeDaemon json(ctx_.io(), fixture("jsoninfo-0.9.http"));
  FakeDaemon txt(ctx_.io(), fixture("txtinfo-0.9.http"));
  ctx_.config_["jsoninfo"] = json.address();
  ctx_.config_["txtinfo"] = txt.address();
  start();
  // The round the plugin begins at start asks jsoninfo first.
  EXPECT_EQ(discover().error, "");
  EXPECT_EQ(plugin_->status()["source"].asString(), "jsoninfo");
  ctx_.config_["source"] = "txtinfo";
  plugin_->config_changed();
  EXPECT_EQ(discover().error, "");
  EXPECT_EQ(plugin_->status()["source"].asString(), "txtinfo");
  ctx_.config_["txtinfo"] = "not an address";
  plugin_->config_changed();
  EXPECT_TRUE(ctx_.log_.saw("keeping the previous settings"));
  EXPECT_EQ(discover().error, "");
  EXPECT_EQ(txt.connections(), 2);
  EXPECT_EQ(json.connections(), 1) << "only the round at start";
}

TEST_F(OlsrPlugin, BadConfigAtStartFailsThePlugin) {
  ctx_.config_["jsoninfo"] = "";
  ctx_.config_["txtinfo"] = "";
  ctx_.config_["olsrd2"] = "";
  plugin_ = std::make_unique<OlsrDiscovery>(ctx_);
  EXPECT_THROW(plugin_->start(), std::runtime_error);
}

TEST_F(OlsrPlugin, MalformedEntriesAreLoggedRateLimited) {
  std::string reply = R"({"neighbors": [{"ipAddress": "10.0.0.2", "symmetric": true}, "junk"],
                         "topology": [{"lastHopIP": "10.0.0.2", "destinationIP": "nope"}]})";
  FakeDaemon json(ctx_.io(), reply);
  ctx_.config_["jsoninfo"] = json.address();
  start();
  Discovery d = discover();
  EXPECT_EQ(d.error, "");
  EXPECT_NE(find(d, "10.0.0.2"), nullptr);
  discover();
  EXPECT_EQ(log_lines_with("skipped 2 malformed entries"), 1);
  EXPECT_EQ(plugin_->status()["skipped"].asUInt(), 2u);
}

}  // namespace
}  // namespace mnigs::olsr
