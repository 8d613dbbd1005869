// DhtNode in a build without OpenDHT (cmake -DMNIGS_DHT=OFF), as on OpenWrt,
// whose feeds do not package OpenDHT. DhtService checks DhtNode::built and
// never constructs one; should anything else try, it is told why.
#include <stdexcept>

#include "dht/dht_node.hpp"

namespace mnigs {

const bool DhtNode::built = false;

DhtNode::DhtNode(boost::asio::any_io_executor, Options) {
  throw std::runtime_error("this mnigsd was built without the DHT (cmake -DMNIGS_DHT=OFF)");
}

DhtNode::~DhtNode() = default;

void DhtNode::start() {}
void DhtNode::stop() {}
bool DhtNode::running() const { return false; }
std::string DhtNode::node_id() const { return {}; }
void DhtNode::bootstrap(const std::string&, std::uint16_t) {}
bool DhtNode::publish(GatewayOffer, std::string* why) {
  if (why) *why = "built without the DHT";
  return false;
}
void DhtNode::withdraw() {}
void DhtNode::listen(OffersCallback) {}
void DhtNode::stop_listening() {}
std::vector<GatewayOffer> DhtNode::offers() const { return {}; }
DhtStatus DhtNode::status() const { return {}; }

}  // namespace mnigs
