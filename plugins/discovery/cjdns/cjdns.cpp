// discovery/cjdns: the nodes a local cjdroute knows, read from its admin
// interface (NodeStore_dumpTable and InterfaceController_peerStats over
// bencoded UDP, authenticated with the admin password). Each node is a
// candidate at its fc00::/8 address; established peers are links from this
// node. See README.md.
#include <chrono>
#include <memory>
#include <mnigs/plugin_entry.hpp>
#include <optional>
#include <vector>

#include "collector.hpp"
#include "settings.hpp"

namespace {

using namespace mnigs::cjdns;

class CjdnsDiscovery final : public mnigs::DiscoveryPlugin {
 public:
  static void declare(mnigs::ConfigDeclarer& d) { declare_keys(d); }

  explicit CjdnsDiscovery(mnigs::PluginContext& ctx) : ctx_(ctx) {}
  ~CjdnsDiscovery() override { close_client(); }

  void start() override {
    settings_ = parse_settings(ctx_.config());
    ctx_.log().info("reading cjdroute's admin address and password from ",
                    describe_sources(settings_));
    // One round now, so listPlugins says from the start whether cjdroute
    // answers; a discover() meanwhile shares it.
    begin_round();
  }

  void stop() override {
    stopped_ = true;
    close_client();
    // discover() promises one answer per call; give the waiting ones what is known.
    answer_waiters(with_last_known("the cjdns plugin stopped"));
  }

  void config_changed() override { settings_ = parse_settings(ctx_.config()); }

  std::string network() const override { return "cjdns"; }

  void discover(std::function<void(mnigs::Discovery)> done) override {
    if (stopped_) return done(with_last_known("the cjdns plugin stopped"));
    waiters_.push_back(std::move(done));
    // Callers that arrive during a round share its answer.
    if (!client_ && waiters_.size() == 1) begin_round();
  }

  Json::Value status() const override {
    Json::Value s(Json::objectValue);
    s["admin"] = target_ ? target_->endpoint() : "";
    s["source"] = target_ ? target_->source : "";
    s["nodes"] = static_cast<Json::UInt64>(last_.candidates.size());
    s["peers"] = static_cast<Json::UInt64>(last_peers_);
    s["lastUpdate"] = static_cast<Json::Int64>(last_update_);
    s["error"] = last_error_;
    return s;
  }

 private:
  static std::string describe_sources(const Settings& s) {
    if (!s.admin_file.empty() && !s.conf_file.empty())
      return s.admin_file + ", else " + s.conf_file;
    if (!s.admin_file.empty()) return s.admin_file;
    if (!s.conf_file.empty()) return s.conf_file;
    return "nowhere (cjdns.adminFile and cjdns.confFile are empty)";
  }

  void begin_round() {
    std::string why;
    auto target = find_admin(settings_, home_directory(), &why);
    if (!target) {
      target_.reset();
      Collected failed;
      failed.error = why;
      return end_round(std::move(failed));
    }
    target_ = *target;
    malformed_count_ = 0;
    malformed_first_.clear();
    std::weak_ptr<int> alive = alive_;
    client_ = AdminClient::create(ctx_.executor(), *target, settings_.timeout,
                                  [this, alive](const std::string& what) {
                                    if (alive.expired()) return;
                                    if (malformed_count_++ == 0) malformed_first_ = what;
                                  });
    collect(client_, settings_.timeout, kMaxPages, [this, alive](Collected c) {
      if (alive.expired()) return;
      end_round(std::move(c));
    });
  }

  void end_round(Collected collected) {
    close_client();
    const std::string error = collected.error;
    if (malformed_count_ > 0 && target_)
      log_once(malformed_logged_, "ignored " + std::to_string(malformed_count_) +
                                      " malformed datagram(s) from cjdroute admin at " +
                                      target_->endpoint() + "; the first: " + malformed_first_);
    if (error.empty()) {
      const auto& found = collected.nodes;
      if (!found.skipped.empty() && target_)
        log_once(skipped_logged_,
                 "skipped " + std::to_string(found.skipped.size()) + " malformed entr" +
                     (found.skipped.size() == 1 ? "y" : "ies") + " from cjdroute admin at " +
                     target_->endpoint() + "; the first: " + found.skipped.front());
      if (!collected.peers_note.empty())
        log_once(peers_logged_, collected.peers_note + "; no peers reported");
      // Said once when cjdroute first answers and again after an error.
      if ((last_update_ == 0 || !last_error_.empty()) && target_)
        ctx_.log().info("cjdroute admin at ", target_->endpoint(),
                        " answers: ", found.candidates.size(), " node(s), ", found.peers,
                        " peer(s)");
      last_.candidates = found.candidates;
      last_.links = found.links;
      last_peers_ = found.peers;
      last_update_ =
          std::chrono::duration_cast<std::chrono::seconds>(ctx_.wall_now().time_since_epoch())
              .count();
      ctx_.log().debug(found.candidates.size(), " node(s), ", found.peers, " peer(s) from ",
                       collected.pages, " page(s)");
    }
    note_error(error);
    answer_waiters(error.empty() ? last_ : with_last_known(error));
  }

  // An error is logged when it first appears and when it changes, not at
  // every discovery: a wrong password would otherwise fill the log.
  void note_error(const std::string& error) {
    if (error == last_error_) {
      if (!error.empty()) ctx_.log().debug("still: ", error);
      return;
    }
    if (!error.empty()) ctx_.log().warn(error);
    last_error_ = error;
  }

  void log_once(std::string& last, const std::string& message) {
    if (message == last) return ctx_.log().debug(message);
    ctx_.log().warn(message);
    last = message;
  }

  mnigs::Discovery with_last_known(const std::string& error) const {
    mnigs::Discovery d = last_;
    d.error = error;
    return d;
  }

  void answer_waiters(const mnigs::Discovery& d) {
    auto waiters = std::move(waiters_);
    waiters_.clear();
    for (auto& w : waiters) w(d);
  }

  void close_client() {
    if (client_) client_->close();
    client_.reset();
  }

  mnigs::PluginContext& ctx_;
  Settings settings_;
  bool stopped_ = false;
  std::shared_ptr<AdminClient> client_;  // set while a round runs
  std::vector<std::function<void(mnigs::Discovery)>> waiters_;
  // Completions of a round check this, so none runs after the plugin is gone.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);

  std::optional<AdminTarget> target_;  // of the last round that found one
  mnigs::Discovery last_;              // the last complete answer (error "")
  std::size_t last_peers_ = 0;
  std::int64_t last_update_ = 0;  // unix seconds of last_, 0 = never
  std::string last_error_;
  std::size_t malformed_count_ = 0;
  std::string malformed_first_;
  std::string malformed_logged_, skipped_logged_, peers_logged_;
};

}  // namespace

MNIGS_PLUGIN(CjdnsDiscovery, "discovery", "cjdns", "1.0",
             "Nodes and peers of the local cjdroute, from its admin interface")
