#include "kernel.hpp"

#include "interface_name.hpp"
#include "routes.hpp"

#include <utility>

namespace mnigs::gre {

using netcmd::Command;

namespace {
Command ip(std::vector<std::string> argv, bool removal = false) {
  Command c;
  c.argv = std::move(argv);
  c.argv.insert(c.argv.begin(), "ip");
  c.removal = removal;
  return c;
}
}  // namespace

const char* kernel_type(Encap encap, bool outer_v6) {
  if (encap == Encap::gre) return outer_v6 ? "ip6gre" : "gre";
  return outer_v6 ? "ip6tnl" : "sit";
}

std::string probe_name(const std::string& base) { return base + "x"; }

Command probe_command(Encap encap, const std::string& base, bool outer_v6) {
  // Documentation addresses: the device is deleted before anything is sent.
  KernelDevice d{encap, probe_name(base), outer_v6 ? "2001:db8::2" : "192.0.2.2",
                 outer_v6 ? "2001:db8::1" : "192.0.2.1", outer_v6, 1};
  return create_device(d);
}

Command create_device(const KernelDevice& d) {
  std::vector<std::string> argv{"link", "add", "name", d.name, "type",
                                kernel_type(d.encap, d.outer_v6)};
  if (d.encap == Encap::ipip) {
    argv.push_back("mode");
    argv.push_back("any");
  }
  argv.push_back("remote");
  argv.push_back(d.remote);
  if (!d.local.empty()) {
    argv.push_back("local");
    argv.push_back(d.local);
  }
  if (d.encap == Encap::gre) {
    argv.push_back("key");
    argv.push_back(std::to_string(d.key));
  }
  return ip(std::move(argv));
}

Command delete_device(const std::string& name) { return ip({"link", "del", "dev", name}, true); }

Command queue_length(const std::string& device) {
  return ip({"link", "set", "dev", device, "txqueuelen", std::to_string(kQueueLength)});
}

std::string gateway_device(const Settings& settings, unsigned n) {
  return settings.gateway_interface + std::to_string(n);
}

bool own_device(const Settings& s, const std::string& name) {
  if (name == probe_name(s.gateway_interface) || name == s.gateway_interface) return true;
  for (unsigned n = 0; n < kMaxUplinks; ++n)
    if (name == uplink_interface(s.subscriber_interface, n)) return true;
  const std::string& base = s.gateway_interface;
  if (name.size() <= base.size() || name.compare(0, base.size(), base) != 0) return false;
  for (std::size_t i = base.size(); i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return false;
  return name[base.size()] != '0';
}

void list_own_devices(netcmd::CommandQueue& queue, const Settings& settings,
                      std::function<void(std::vector<std::string>)> done) {
  queue.run(ip({"-j", "link", "show"}), [settings, done](const CommandOutcome& o) {
    std::vector<std::string> own;
    if (netcmd::succeeded(o))
      for (auto& name : netcmd::parse_link_names(o.out))
        if (own_device(settings, name)) own.push_back(std::move(name));
    done(std::move(own));
  });
}

}  // namespace mnigs::gre
