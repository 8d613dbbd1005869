#include "tunnel.hpp"

#include <stdexcept>
#include <utility>

namespace mnigs::forwarding {

ForwardingTunnel::ForwardingTunnel(PluginContext& context)
    : context_(context),
      queue_(context, kCommandTimeout),
      gateway_(context, queue_, settings_),
      subscriber_(context, queue_, settings_) {}

void ForwardingTunnel::start() {
  std::string why;
  auto settings = parse_settings(context_.config(), &why);
  if (!settings) throw std::runtime_error(why);
  settings_ = *settings;
  started_ = true;
  context_.log().info("uplink ", settings_.uplink.empty() ? "from the default route" : settings_.uplink,
                      ", table ", settings_.table, ", rule priorities ", settings_.priority, " and ",
                      settings_.priority + 1, ", restrict ", settings_.restrict ? "on" : "off");
}

void ForwardingTunnel::stop() {
  // Also called when start() threw: then nothing was ever touched.
  if (!started_) return;
  started_ = false;
  std::vector<Command> commands;
  if (!clean_ || queue_.pending() > 0) {
    commands = gateway_.removal_commands_now();
    for (auto& c : subscriber_.removal_commands(kStopRepeat)) commands.push_back(std::move(c));
  }
  queue_.stop(commands);
  gateway_.forget();
  subscriber_.forget();
  if (commands.empty())
    context_.log().debug("stopping: nothing left in the kernel since the last reset");
  else
    context_.log().info("stopping: removal commands handed to the host");
}

Json::Value ForwardingTunnel::status() const {
  Json::Value s(Json::objectValue);
  Json::Value gateway = gateway_.status();
  s["method"] = method();
  s["uplink"] = gateway["uplink"];
  s["table"] = Json::Int64(settings_.table);
  s["priority"] = settings_.priority;
  s["restrict"] = settings_.restrict;
  s["pendingOperations"] = Json::UInt64(queue_.pending());
  s["gateway"] = gateway;
  s["subscriber"] = subscriber_.status();
  return s;
}

void ForwardingTunnel::config_changed() {
  if (!started_) return;
  std::string why;
  auto settings = parse_settings(context_.config(), &why);
  if (!settings) {
    context_.log().error(why, "; keeping the previous settings");
    return;
  }
  // Only restrict is live; the other keys take effect at the next start.
  if (settings->restrict == settings_.restrict) return;
  settings_.restrict = settings->restrict;
  gateway_.reapply();
}

bool ForwardingTunnel::running(const std::string& what, const Done& done) const {
  if (started_) return true;
  done("cannot " + what + ": the forwarding plugin is not running");
  return false;
}

void ForwardingTunnel::open_session(const TunnelSession& session,
                                    std::function<void(std::string, Json::Value)> done) {
  if (!started_) {
    done("cannot open session " + session.id + ": the forwarding plugin is not running",
         Json::Value());
    return;
  }
  clean_ = false;
  gateway_.open(session, std::move(done));
}

void ForwardingTunnel::close_session(const TunnelSession& session, Done done) {
  if (running("close session " + session.id, done)) gateway_.close(session, std::move(done));
}

void ForwardingTunnel::connect(const TunnelSession& session, Done done) {
  if (!running("connect session " + session.id, done)) return;
  clean_ = false;
  subscriber_.connect(session, std::move(done));
}

void ForwardingTunnel::disconnect(const TunnelSession& session, Done done) {
  if (running("disconnect session " + session.id, done))
    subscriber_.disconnect(session, std::move(done));
}

void ForwardingTunnel::reset(Done done) {
  if (!running("reset", done)) return;
  queue_.enqueue(
      [this, done](CommandQueue::Finished finished) {
        gateway_.removal_commands([this, done, finished](std::vector<Command> commands) {
          for (auto& c : subscriber_.removal_commands(kResetRepeat)) commands.push_back(std::move(c));
          // A tool that is not installed cannot have left anything behind.
          queue_.run_all(std::move(commands), true, [this, done, finished](std::string error) {
            gateway_.forget();
            subscriber_.forget();
            // Only if no open or connect was queued behind this reset.
            clean_ = error.empty() && queue_.pending() == 1;
            if (error.empty()) {
              context_.log().debug("reset: nothing of the forwarding plugin is left in the kernel");
              done("");
            } else {
              context_.log().warn("reset incomplete: ", error);
              done("reset of the forwarding plugin incomplete: " + error);
            }
            finished();
          });
        });
      },
      [done](const std::string& reason) { done(reason); });
}

}  // namespace mnigs::forwarding
