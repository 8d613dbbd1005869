// The batman plugin: originators of a batman-adv mesh as scan candidates.
// Each discover() reads batman-adv's tables afresh (refresh.hpp) and turns
// them into candidates and links (mesh_view.hpp). Without batman-adv in the
// kernel the plugin stays loaded, says so, and looks again every minute.
// Everything runs on the plugin's strand.
#pragma once

#include "mesh_view.hpp"
#include "refresh.hpp"

#include <mnigs/plugin.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mnigs::batman {

// What discover() and status() report while the kernel has no batman-adv.
inline constexpr const char* not_available = "batman-adv is not available in this kernel";
// How often the plugin looks for batman-adv again while it is missing.
inline constexpr std::chrono::seconds recheck_period{60};

class BatmanDiscovery final : public DiscoveryPlugin {
 public:
  static void declare(ConfigDeclarer& d);

  explicit BatmanDiscovery(PluginContext& ctx);
  ~BatmanDiscovery() override;

  void start() override;
  void stop() override;
  Json::Value status() const override;
  void config_changed() override;

  std::string network() const override { return "batman"; }
  void discover(std::function<void(Discovery)> done) override;

 private:
  struct Settings {
    RefreshOptions refresh;
    ViewOptions view;  // zone and zone_ifindex come from each refresh
  };
  enum class Kernel { checking, missing, present };

  // The config section as settings; nullopt with `why` when a value is unusable.
  std::optional<Settings> read_settings(std::string* why) const;
  void run_refresh(bool family_only);
  void on_refresh(RefreshResult result, bool family_only);
  void note_kernel(RefreshResult::Kernel kernel);
  void set_error(const std::string& error);
  void log_notes(const std::vector<std::string>& notes);
  void schedule_check();
  Discovery current() const;
  Json::Value originators() const;

  PluginContext& ctx_;
  Settings settings_;
  std::shared_ptr<Refresh> running_;
  bool running_family_only_ = false;
  std::vector<std::function<void(Discovery)>> waiters_;
  boost::asio::steady_timer check_timer_;
  bool check_pending_ = false;
  Kernel kernel_ = Kernel::checking;
  std::optional<MeshView> view_;
  std::string last_error_;
  std::chrono::system_clock::time_point last_update_{};
  bool stopped_ = false;
  std::shared_ptr<char> alive_ = std::make_shared<char>(0);  // for handlers after destruction
};

}  // namespace mnigs::batman
