// What a paired page sends the laptop over the tether's WebSocket, and the
// gateway's answers it carries (plugins/tunnel/tether/controller.cpp): text
// messages separated by NUL bytes, each handed to a controller that has
// asked the page for nodeInfo (call 1) and, once answered, for
// requestConnection (call 2) and later renewals. Effects are recorded, not
// carried out; what reaches them must have been checked.
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "controller.hpp"

using namespace mnigs::tether;

namespace {

class Recorder final : public mnigs::tether::Effects {
 public:
  void send_to_page(const std::string&) override {}
  void bring_up(const Session& s, const std::string&,
                std::function<void(std::string)> done) override {
    // Only what the checks let through comes here.
    if (!tunnel_refusal(s.tunnel).empty() || s.id.empty() || s.secret.empty()) std::abort();
    done("");
  }
  void tear_down(std::function<void()> done) override { done(); }
  void save_session(const Json::Value& v) override {
    if (!v.isNull() && !Session::from_json(v)) std::abort();  // what is kept loads again
  }
  void save_gateway(const std::string&) override {}
  std::int64_t unix_now() const override { return 1000000; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  boost::asio::io_context io;
  Recorder effects;
  Controller c(io.get_executor(), effects);
  c.set_configured_gateway("10.77.1.1:65533");
  c.page_attached("192.168.7.2");
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty()) {
    const auto end = rest.find('\0');
    c.page_text(rest.substr(0, end));
    io.poll();
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  c.status();
  return 0;
}
