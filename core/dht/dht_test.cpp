// core/dht with OpenDHT: offers as signed values, the identity files, and
// DhtNodes talking over loopback (ephemeral ports, temporary data directories). A
// bare OpenDHT node plays the attacker: it puts values mnigs never would.
#include "dht/dht_node.hpp"
#include "dht/identity.hpp"
#include "dht/offer.hpp"
#include "dht/offer_value.hpp"
#include "dht/test_support.hpp"

#include <opendht.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <json/reader.h>
#include <json/writer.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace mnigs {
namespace {

using namespace dht_test;

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Generous: these are deadlines for things that take milliseconds on
// loopback, not timing assertions.
constexpr auto deadline = 20s;


class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "mnigs-dht-test-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

unsigned file_mode(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// 2048-bit keys keep the network tests quick; the identity test measures
// the real 4096-bit generation.
dht::crypto::Identity test_identity() {
  return dht::crypto::generateIdentity("test", {}, 2048);
}

std::string seed_identity(const fs::path& dir) {
  const auto identity = test_identity();
  save_identity(dir, identity);
  return identity_id(identity.first->getPublicKey());
}


// ---------------------------------------------------------------- values

class OfferValue : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    alice_ = new dht::crypto::Identity(test_identity());
    mallory_ = new dht::crypto::Identity(test_identity());
  }
  static void TearDownTestSuite() {
    delete alice_;
    delete mallory_;
  }
  static std::string id_of(const dht::crypto::Identity& who) {
    return identity_id(who.first->getPublicKey());
  }
  static std::shared_ptr<dht::Value> signed_value(const GatewayOffer& offer,
                                                  const dht::crypto::Identity& by) {
    auto value = make_offer_value(offer, 42, 1);
    value->sign(*by.first);
    return value;
  }
  static inline dht::crypto::Identity* alice_ = nullptr;
  static inline dht::crypto::Identity* mallory_ = nullptr;
};

TEST_F(OfferValue, AcceptsAValidSignedOffer) {
  const auto offer = sample_offer(id_of(*alice_));
  const auto checked = check_offer_value(*signed_value(offer, *alice_), unix_now());
  EXPECT_EQ(checked.verdict, OfferVerdict::accepted) << checked.why;
  EXPECT_EQ(checked.offer, offer);
}

TEST_F(OfferValue, ReportsAValidWithdrawal) {
  auto offer = sample_offer(id_of(*alice_));
  offer.withdrawn = true;
  EXPECT_EQ(check_offer_value(*signed_value(offer, *alice_), unix_now()).verdict,
            OfferVerdict::withdrawn);
}

TEST_F(OfferValue, RefusesUnsigned) {
  const auto value = make_offer_value(sample_offer(id_of(*alice_)), 42, 1);
  EXPECT_EQ(check_offer_value(*value, unix_now()).verdict, OfferVerdict::unsigned_value);
}

TEST_F(OfferValue, RefusesSignedDataThatWasModified) {
  auto value = signed_value(sample_offer(id_of(*alice_)), *alice_);
  ASSERT_TRUE(value->checkSignature());  // caches "valid" on the object
  std::string text(value->data.begin(), value->data.end());
  text.replace(text.find("\"price\":0.5"), 11, "\"price\":0.1");
  value->data.assign(text.begin(), text.end());
  const auto checked = check_offer_value(*value, unix_now());
  EXPECT_EQ(checked.verdict, OfferVerdict::bad_signature) << checked.why;

  auto reseq = signed_value(sample_offer(id_of(*alice_)), *alice_);
  reseq->seq = 7;  // the sequence number is signed too
  EXPECT_EQ(check_offer_value(*reseq, unix_now()).verdict, OfferVerdict::bad_signature);
}

TEST_F(OfferValue, RefusesAnOfferSignedByAnotherKey) {
  const auto checked =
      check_offer_value(*signed_value(sample_offer(id_of(*alice_)), *mallory_), unix_now());
  EXPECT_EQ(checked.verdict, OfferVerdict::forged) << checked.why;
}

TEST_F(OfferValue, RefusesExpiredAndImmortalOffers) {
  auto offer = sample_offer(id_of(*alice_));
  offer.expires = unix_now() - 1;
  EXPECT_EQ(check_offer_value(*signed_value(offer, *alice_), unix_now()).verdict,
            OfferVerdict::expired);
  offer.expires = unix_now() + max_offer_lifetime_seconds + 60;
  EXPECT_EQ(check_offer_value(*signed_value(offer, *alice_), unix_now()).verdict,
            OfferVerdict::malformed);
}

TEST_F(OfferValue, RefusesPayloadsThatAreNotOffersAndOtherTypes) {
  auto value = std::make_shared<dht::Value>(offer_value_type_id, dht::Blob{'{', '}'}, 42);
  value->sign(*alice_->first);
  EXPECT_EQ(check_offer_value(*value, unix_now()).verdict, OfferVerdict::malformed);

  auto other = signed_value(sample_offer(id_of(*alice_)), *alice_);
  other->type = 0;
  EXPECT_EQ(check_offer_value(*other, unix_now()).verdict, OfferVerdict::malformed);
}

TEST_F(OfferValue, StorePolicyRefusesUnsignedValues) {
  std::vector<OfferVerdict> refused;
  const auto type = offer_value_type([&](OfferVerdict v) { refused.push_back(v); });
  auto unsigned_value = make_offer_value(sample_offer(id_of(*alice_)), 42, 0);
  EXPECT_FALSE(type.storePolicy(offer_key(), unsigned_value, {}, {}));
  auto good = signed_value(sample_offer(id_of(*alice_)), *alice_);
  EXPECT_TRUE(type.storePolicy(offer_key(), good, {}, {}));
  EXPECT_EQ(refused, std::vector<OfferVerdict>{OfferVerdict::unsigned_value});
  EXPECT_EQ(type.id, offer_value_type_id);
}

// ---------------------------------------------------------------- identity

TEST(Identity, IsCreatedOnceWithMode0600AndReused) {
  TempDir dir;
  const auto began = Clock::now();
  const auto created = load_or_create_identity(dir.path());
  const double seconds = std::chrono::duration<double>(Clock::now() - began).count();
  std::cout << "[ measure  ] RSA-" << dht_key_bits << " identity generated in " << seconds
            << " s\n";
  RecordProperty("identity_generation_ms", static_cast<int>(seconds * 1000));
  EXPECT_TRUE(created.created);
  EXPECT_EQ(file_mode(dir.path() / dht_key_file), 0600u);
  EXPECT_TRUE(fs::exists(dir.path() / dht_cert_file));
  const std::string id = identity_id(created.pair.first->getPublicKey());
  EXPECT_EQ(id.size(), 64u);

  const auto loaded = load_or_create_identity(dir.path());
  EXPECT_FALSE(loaded.created);
  EXPECT_EQ(identity_id(loaded.pair.first->getPublicKey()), id);
  EXPECT_EQ(identity_id(loaded.pair.second->getPublicKey()), id);
}

TEST(Identity, CorruptKeyGivesAClearError) {
  TempDir dir;
  seed_identity(dir.path());
  write_text(dir.path() / dht_key_file, "-----BEGIN PRIVATE KEY-----\ngarbage\n");
  try {
    load_or_create_identity(dir.path());
    FAIL() << "a corrupt key was accepted";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find((dir.path() / dht_key_file).string()), std::string::npos) << what;
    EXPECT_NE(what.find("not a PEM private key"), std::string::npos) << what;
  }
  // An empty file too, and through DhtNode.
  write_text(dir.path() / dht_key_file, "");
  boost::asio::io_context io;
  DhtNode::Options options;
  options.data_dir = dir.path();
  options.port = 0;
  options.bind4 = "127.0.0.1";
  options.bind6 = "";
  DhtNode node(io.get_executor(), options);
  EXPECT_THROW(node.start(), std::runtime_error);
  EXPECT_FALSE(node.running());
}

TEST(Identity, CertificateOfAnotherKeyIsRefused) {
  TempDir a, b;
  seed_identity(a.path());
  seed_identity(b.path());
  fs::copy_file(b.path() / dht_cert_file, a.path() / dht_cert_file,
                fs::copy_options::overwrite_existing);
  try {
    load_or_create_identity(a.path());
    FAIL() << "a foreign certificate was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("does not belong"), std::string::npos) << e.what();
  }
}

TEST(Identity, MissingCertificateIsRemadeAndLooseKeyModeTightened) {
  TempDir dir;
  const std::string id = seed_identity(dir.path());
  fs::remove(dir.path() / dht_cert_file);
  ::chmod((dir.path() / dht_key_file).c_str(), 0644);
  const auto loaded = load_or_create_identity(dir.path());
  EXPECT_FALSE(loaded.created);
  EXPECT_EQ(identity_id(loaded.pair.second->getPublicKey()), id);
  EXPECT_TRUE(fs::exists(dir.path() / dht_cert_file));
  EXPECT_EQ(file_mode(dir.path() / dht_key_file), 0600u);
  EXPECT_EQ(loaded.notes.size(), 2u);
}

// ---------------------------------------------------------------- network

// What a listener was told.
struct Heard {
  std::map<std::string, GatewayOffer> offers;  // by node id, as the callback left them
  std::vector<GatewayOffer> updates, removals;
  DhtNode::OffersCallback callback() {
    return [this](std::vector<GatewayOffer> list, bool expired) {
      for (auto& o : list) {
        if (expired) {
          offers.erase(o.node_id);
          removals.push_back(o);
        } else {
          offers[o.node_id] = o;
          updates.push_back(o);
        }
      }
    };
  }
};

// An OpenDHT node without mnigs' rules, on the mnigs network id.
class BarePeer {
 public:
  explicit BarePeer(std::uint16_t bootstrap_port) : identity_(test_identity()) {
    dht::DhtRunner::Config config;
    config.dht_config.node_config.network = mnigs_dht_network_id;
    config.dht_config.id = identity_;
    config.threaded = true;
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    config.bind4 = dht::SockAddr(reinterpret_cast<sockaddr*>(&local), sizeof local);
    runner_.run(config, {});
    runner_.bootstrap("127.0.0.1", std::to_string(bootstrap_port));
  }
  ~BarePeer() { runner_.join(); }
  std::string node_id() const { return identity_id(identity_.first->getPublicKey()); }
  const dht::crypto::Identity& identity() const { return identity_; }
  unsigned peers() const { return runner_.getNodesStats(AF_INET).good_nodes; }

  // Puts `value` as it is: no signing, no checks.
  void put(std::shared_ptr<dht::Value> value) { put_as(std::move(value), next_id_++); }
  // The same under a value id of our choosing.
  void put_as(std::shared_ptr<dht::Value> value, dht::Value::Id id) {
    value->id = id;
    runner_.put(offer_key(), value, [](bool) {}, dht::time_point::max(), false);
  }
  // What the DHT holds under the offer key now.
  std::vector<std::shared_ptr<dht::Value>> get() { return runner_.get(offer_key()).get(); }
  std::shared_ptr<dht::Value> signed_value(const GatewayOffer& offer) {
    auto value = make_offer_value(offer, 0, 0);
    value->sign(*identity_.first);
    return value;
  }

 private:
  dht::crypto::Identity identity_;
  dht::DhtRunner runner_;
  dht::Value::Id next_id_ = 1000;
};

// MNIGS_DHT_TEST_LOG=1 shows the nodes' log lines (debug level).
class TestLogger final : public Logger {
 public:
  explicit TestLogger(std::string name) : name_(std::move(name)) {}
  bool enabled(LogLevel) const override { return true; }
  void write(LogLevel, std::string_view message) override {
    std::lock_guard lock(mutex_);
    std::cerr << name_ << " " << message << "\n";
  }

 private:
  static inline std::mutex mutex_;
  std::string name_;
};

class DhtNetwork : public ::testing::Test {
 protected:
  DhtNode& add_node(std::chrono::seconds ttl = 600s) {
    dirs_.push_back(std::make_unique<TempDir>());
    seed_identity(dirs_.back()->path());
    return add_node_in(dirs_.back()->path(), ttl);
  }

  // A new data directory with an identity in it.
  fs::path seeded_dir() {
    dirs_.push_back(std::make_unique<TempDir>());
    seed_identity(dirs_.back()->path());
    return dirs_.back()->path();
  }

  // `more` changes the options before the node starts.
  DhtNode& add_node_in(const fs::path& dir, std::chrono::seconds ttl = 600s,
                       const std::function<void(DhtNode::Options&)>& more = {}) {
    DhtNode::Options options;
    options.data_dir = dir;
    options.port = 0;
    options.bind4 = "127.0.0.1";
    options.bind6 = "::1";
    options.offer_ttl = ttl;
    if (more) more(options);
    if (std::getenv("MNIGS_DHT_TEST_LOG"))
      options.log = std::make_shared<TestLogger>("node" + std::to_string(nodes_.size()));
    nodes_.push_back(std::make_unique<DhtNode>(io_.get_executor(), options));
    nodes_.back()->start();
    return *nodes_.back();
  }

  // `node` joins through `via`, over IPv4 or IPv6.
  static void join(DhtNode& node, DhtNode& via, bool ipv6 = false) {
    const auto s = via.status();
    node.bootstrap(ipv6 ? "::1" : "127.0.0.1", ipv6 ? s.port6 : s.port4);
  }

  static unsigned peers(const DhtNode& node) {
    const auto s = node.status();
    return s.good4 + s.good6;
  }

  // Runs the executor until `done` or the deadline.
  bool run_until(const std::function<bool()>& done, std::chrono::seconds limit = deadline) {
    const auto end = Clock::now() + limit;
    while (!done()) {
      if (Clock::now() > end) return false;
      io_.run_for(20ms);
    }
    return true;
  }

  void connect_all() {
    ASSERT_TRUE(run_until([&] {
      for (const auto& n : nodes_)
        if (peers(*n) == 0) return false;
      return true;
    })) << "nodes did not find each other";
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::vector<std::unique_ptr<TempDir>> dirs_;
  std::vector<std::unique_ptr<DhtNode>> nodes_;  // destroyed before dirs_
};

TEST_F(DhtNetwork, OfferPublishedByOneNodeIsReceivedVerifiedByTheOthers) {
  auto& gateway = add_node();
  auto& subscriber = add_node();
  auto& third = add_node();
  join(subscriber, gateway);
  join(third, gateway, true);  // over IPv6
  connect_all();

  Heard at_subscriber, at_third;
  subscriber.listen(at_subscriber.callback());
  third.listen(at_third.callback());

  const auto offer = sample_offer("", "gateway one");
  std::string why;
  const auto published = Clock::now();
  ASSERT_TRUE(gateway.publish(offer, &why)) << why;
  ASSERT_TRUE(run_until([&] { return at_subscriber.offers.count(gateway.node_id()) == 1; }));
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - published).count();
  std::cout << "[ measure  ] publish to listener on loopback: " << ms << " ms\n";
  RecordProperty("publish_to_listener_ms", static_cast<int>(ms));

  const auto& got = at_subscriber.offers[gateway.node_id()];
  EXPECT_EQ(got.name, "gateway one");
  EXPECT_EQ(got.addresses, offer.addresses);
  EXPECT_EQ(got.suites, offer.suites);
  EXPECT_EQ(got.rpc_port, offer.rpc_port);
  EXPECT_EQ(got.sessions, offer.sessions);
  EXPECT_GT(got.expires, unix_now());
  EXPECT_FALSE(got.withdrawn);
  EXPECT_EQ(subscriber.offers().size(), 1u);
  EXPECT_EQ(subscriber.status().offers, 1u);
  EXPECT_EQ(subscriber.status().dropped.total(), 0u);
  ASSERT_TRUE(run_until([&] { return at_third.offers.count(gateway.node_id()) == 1; }));

  // A new load is a new signed offer that replaces the old one.
  auto busier = offer;
  busier.sessions = 7;
  ASSERT_TRUE(gateway.publish(busier));
  ASSERT_TRUE(run_until([&] { return at_subscriber.offers[gateway.node_id()].sessions == 7; }));
  EXPECT_EQ(subscriber.offers().size(), 1u);

  const auto status = gateway.status();
  EXPECT_TRUE(status.publishing);
  EXPECT_EQ(status.node_id, gateway.node_id());
  EXPECT_EQ(status.network_id, mnigs_dht_network_id);
  EXPECT_NE(status.port4, 0);
  EXPECT_NE(status.port6, 0);
}

TEST_F(DhtNetwork, OfferPublishedBeforeAnyPeerArrivesOnceThereIsOne) {
  auto& gateway = add_node();
  ASSERT_TRUE(gateway.publish(sample_offer("", "early")));
  auto& subscriber = add_node();
  Heard heard;
  subscriber.listen(heard.callback());
  join(subscriber, gateway);
  ASSERT_TRUE(run_until([&] { return heard.offers.count(gateway.node_id()) == 1; }));
  EXPECT_EQ(heard.offers[gateway.node_id()].name, "early");
}

TEST_F(DhtNetwork, WithdrawalAndStopRemoveTheOfferFromListeners) {
  auto& gateway = add_node();
  auto& subscriber = add_node();
  join(subscriber, gateway);
  connect_all();
  Heard heard;
  subscriber.listen(heard.callback());

  ASSERT_TRUE(gateway.publish(sample_offer("")));
  ASSERT_TRUE(run_until([&] { return heard.offers.count(gateway.node_id()) == 1; }));
  gateway.withdraw();
  ASSERT_TRUE(run_until([&] { return heard.removals.size() == 1; }));
  EXPECT_EQ(heard.removals[0].node_id, gateway.node_id());
  EXPECT_TRUE(subscriber.offers().empty());
  EXPECT_FALSE(gateway.status().publishing);

  // Publishing again brings it back; stopping withdraws it.
  ASSERT_TRUE(gateway.publish(sample_offer("", "again")));
  ASSERT_TRUE(run_until([&] { return heard.offers.count(gateway.node_id()) == 1; }));
  EXPECT_EQ(heard.offers[gateway.node_id()].name, "again");
  gateway.stop();
  ASSERT_TRUE(run_until([&] { return heard.removals.size() == 2; }));
  EXPECT_TRUE(subscriber.offers().empty());
  EXPECT_EQ(subscriber.status().dropped.total(), 0u);
}

TEST_F(DhtNetwork, OfferIsRefreshedBeforeItExpires) {
  auto& gateway = add_node(10s);  // re-signed every 5 s
  auto& subscriber = add_node();
  join(subscriber, gateway);
  connect_all();
  Heard heard;
  subscriber.listen(heard.callback());
  ASSERT_TRUE(gateway.publish(sample_offer("")));
  ASSERT_TRUE(run_until([&] { return heard.offers.count(gateway.node_id()) == 1; }));
  const auto first_expiry = heard.offers[gateway.node_id()].expires;
  EXPECT_LE(first_expiry, unix_now() + 10);

  // Past the first offer's expiry, the listener holds a later one.
  ASSERT_TRUE(run_until([&] { return unix_now() > first_expiry + 1; }, 30s));
  ASSERT_EQ(heard.offers.count(gateway.node_id()), 1u);
  EXPECT_GT(heard.offers[gateway.node_id()].expires, first_expiry);
  EXPECT_TRUE(heard.removals.empty());
}

TEST_F(DhtNetwork, RefreshesAndWithdrawalReachEveryListenerOfALargerNetwork) {
  // Twelve nodes: more than store the key, so listeners hear of the offer
  // from several storing nodes (and from the gateway's own storage).
  auto& gateway = add_node(10s);  // re-signed every 5 s
  std::vector<DhtNode*> others;
  for (int i = 0; i < 11; ++i) {
    others.push_back(&add_node());
    join(*others.back(), gateway);
  }
  connect_all();
  std::vector<std::unique_ptr<Heard>> heard;
  for (auto* n : others) {
    heard.push_back(std::make_unique<Heard>());
    n->listen(heard.back()->callback());
  }
  auto everyone = [&](const std::function<bool(const Heard&)>& what) {
    return std::all_of(heard.begin(), heard.end(), [&](const auto& h) { return what(*h); });
  };
  ASSERT_TRUE(gateway.publish(sample_offer("")));
  const std::string id = gateway.node_id();
  ASSERT_TRUE(
      run_until([&] { return everyone([&](const Heard& h) { return h.offers.count(id); }); }));
  std::int64_t first_expiry = 0;
  for (const auto& h : heard) first_expiry = std::max(first_expiry, h->offers.at(id).expires);

  // Past the first signing's expiry, every listener holds a later one.
  ASSERT_TRUE(run_until([&] { return unix_now() > first_expiry + 1; }, 30s));
  for (size_t i = 0; i < heard.size(); ++i) {
    SCOPED_TRACE("listener " + std::to_string(i));
    ASSERT_EQ(heard[i]->offers.count(id), 1u);
    EXPECT_GT(heard[i]->offers.at(id).expires, first_expiry);
    EXPECT_TRUE(heard[i]->removals.empty());
  }

  // A withdrawal reaches every one of them, and so does the next offer.
  gateway.withdraw();
  EXPECT_TRUE(run_until([&] { return everyone([&](const Heard& h) { return h.offers.empty(); }); }))
      << "the withdrawal did not reach every listener";
  ASSERT_TRUE(gateway.publish(sample_offer("", "again")));
  EXPECT_TRUE(run_until([&] {
    return everyone(
        [&](const Heard& h) { return h.offers.count(id) && h.offers.at(id).name == "again"; });
  })) << "the offer published again did not reach every listener";
}

TEST_F(DhtNetwork, OfferThatIsNotRefreshedExpiresAtTheListener) {
  auto& subscriber = add_node();
  BarePeer peer(subscriber.status().port4);
  ASSERT_TRUE(run_until([&] { return peer.peers() > 0 && peers(subscriber) > 0; }));
  Heard heard;
  subscriber.listen(heard.callback());
  auto offer = sample_offer(peer.node_id(), "short-lived");
  offer.expires = unix_now() + 3;
  peer.put(peer.signed_value(offer));
  ASSERT_TRUE(run_until([&] { return heard.offers.count(peer.node_id()) == 1; }));
  ASSERT_TRUE(run_until([&] { return heard.removals.size() == 1; }));
  EXPECT_EQ(heard.removals[0].name, "short-lived");
  EXPECT_TRUE(subscriber.offers().empty());
}

// The bare peer puts a bad value, then a good one as a marker.
class DhtAttack : public DhtNetwork {
 protected:
  void SetUp() override {
    gateway_ = &add_node();
    subscriber_ = &add_node();
    join(*subscriber_, *gateway_);
    connect_all();
    peer_ = std::make_unique<BarePeer>(gateway_->status().port4);
    ASSERT_TRUE(run_until([&] { return peer_->peers() > 0; }));
    subscriber_->listen(heard_.callback());
    ASSERT_TRUE(gateway_->publish(sample_offer("", "genuine")));
    ASSERT_TRUE(run_until([&] { return heard_.offers.count(gateway_->node_id()) == 1; }));
  }
  void TearDown() override { peer_.reset(); }

  // Waits until the subscriber counted a drop, then checks that nothing but
  // the genuine offer was ever reported.
  void expect_dropped(std::function<std::uint64_t(const DhtDropCounters&)> counter) {
    EXPECT_TRUE(run_until([&] { return counter(subscriber_->status().dropped) > 0; }))
        << "the bad value was not counted";
    EXPECT_EQ(heard_.updates.size(), 1u);
    ASSERT_EQ(heard_.offers.size(), 1u);
    EXPECT_EQ(heard_.offers.begin()->second.name, "genuine");
    EXPECT_TRUE(heard_.removals.empty());
  }

  DhtNode* gateway_ = nullptr;
  DhtNode* subscriber_ = nullptr;
  std::unique_ptr<BarePeer> peer_;
  Heard heard_;
};

TEST_F(DhtAttack, ForgedOfferIsDroppedAndCounted) {
  // Validly signed, but by a key that is not the node id it claims.
  peer_->put(peer_->signed_value(sample_offer(gateway_->node_id(), "forged")));
  expect_dropped([](const DhtDropCounters& c) { return c.forged; });
}

TEST_F(DhtAttack, OfferWhoseSignedDataWasModifiedIsDropped) {
  auto value = peer_->signed_value(sample_offer(peer_->node_id(), "tampered"));
  std::string text(value->data.begin(), value->data.end());
  text.replace(text.find("tampered"), 8, "Tampered");
  value->data.assign(text.begin(), text.end());
  peer_->put(value);
  expect_dropped([](const DhtDropCounters& c) { return c.bad_signature; });
}

TEST_F(DhtAttack, OverwritingAnotherSignersValueIsRefusedAndCountedAsForged) {
  // Value ids are no secret: anyone who hears the offer can put a value of
  // its own under the gateway's value id. Storing nodes refuse the edit
  // (another owner); the gateway, which stores the key but does not
  // listen, can only count it from OpenDHT's warning.
  dht::Value::Id id = 0;
  for (const auto& v : peer_->get())
    if (v->owner && identity_id(*v->owner) == gateway_->node_id()) id = v->id;
  ASSERT_NE(id, 0u) << "the gateway's value is not in the DHT";
  peer_->put_as(peer_->signed_value(sample_offer(gateway_->node_id(), "hijacked")), id);
  EXPECT_TRUE(run_until([&] { return gateway_->status().dropped.forged > 0; }))
      << "the refused edit was not counted";
  ASSERT_EQ(heard_.offers.size(), 1u);
  EXPECT_EQ(heard_.offers.begin()->second.name, "genuine");
  EXPECT_TRUE(heard_.removals.empty());
}

TEST_F(DhtAttack, ExpiredOfferIsDroppedAndCounted) {
  auto offer = sample_offer(peer_->node_id(), "expired");
  offer.expires = unix_now() - 5;
  peer_->put(peer_->signed_value(offer));
  expect_dropped([](const DhtDropCounters& c) { return c.expired; });
}

TEST_F(DhtAttack, UnsignedOfferIsDroppedAndCounted) {
  peer_->put(make_offer_value(sample_offer(peer_->node_id(), "unsigned"), 0, 0));
  expect_dropped([](const DhtDropCounters& c) { return c.unsigned_values; });
}

TEST_F(DhtAttack, MalformedOfferIsDroppedAndCounted) {
  auto value = std::make_shared<dht::Value>(
      offer_value_type_id, dht::Blob{'{', '"', 'v', '"', ':', '1', '}'}, 0);
  value->sign(*peer_->identity().first);
  peer_->put(value);
  expect_dropped([](const DhtDropCounters& c) { return c.malformed; });
}

// jsoncpp throws on text nested past the offer's depth limit. The throw must
// not reach OpenDHT's thread, which would drop the values that came with it.
TEST_F(DhtAttack, DeeplyNestedValueIsCountedAndHidesNoOtherOffer) {
  const std::string nested = std::string(200, '[') + std::string(200, ']');
  auto value =
      std::make_shared<dht::Value>(offer_value_type_id, dht::Blob(nested.begin(), nested.end()), 0);
  value->sign(*peer_->identity().first);
  peer_->put(value);
  peer_->put(peer_->signed_value(sample_offer(peer_->node_id(), "after")));
  EXPECT_TRUE(run_until([&] { return subscriber_->status().dropped.malformed > 0; }))
      << "the nested value was not counted";
  EXPECT_TRUE(run_until([&] { return heard_.offers.count(peer_->node_id()) == 1; }))
      << "the offer put after the nested value was not heard";
  EXPECT_EQ(heard_.offers.at(gateway_->node_id()).name, "genuine");
}

TEST_F(DhtNetwork, RoutingTableIsSavedAtStopAndRejoinedFromAtStart) {
  auto& gateway = add_node();
  dirs_.push_back(std::make_unique<TempDir>());
  const fs::path dir = dirs_.back()->path();
  seed_identity(dir);
  auto* subscriber = &add_node_in(dir);
  join(*subscriber, gateway);
  connect_all();
  const auto old_port = subscriber->status().port4;
  subscriber->stop();
  ASSERT_TRUE(fs::exists(dir / "dht.nodes"));
  EXPECT_GT(fs::file_size(dir / "dht.nodes"), 0u);
  EXPECT_EQ(file_mode(dir / "dht.nodes"), 0600u);

  // A new node in the same directory: no bootstrap given, another port.
  nodes_.pop_back();
  subscriber = &add_node_in(dir);
  EXPECT_NE(subscriber->status().port4, old_port);
  ASSERT_TRUE(run_until([&] { return peers(*subscriber) > 0; })) << "did not rejoin";
  Heard heard;
  subscriber->listen(heard.callback());
  ASSERT_TRUE(gateway.publish(sample_offer("")));
  ASSERT_TRUE(run_until([&] { return heard.offers.count(gateway.node_id()) == 1; }));
}

TEST_F(DhtNetwork, ConfiguredNodeThatComesUpLaterIsJoinedThoughThereArePeers) {
  // OpenDHT pings its bootstrap list again only while a node has no peer.
  // Here the configured node is not up yet when `second` starts, `second`
  // finds a peer elsewhere, and nobody else knows the late node: without
  // pinging it again, it would stay out of the DHT for good.
  auto& first = add_node();
  const fs::path late_dir = seeded_dir();
  std::uint16_t late_port = 0;
  {
    DhtNode probe(io_.get_executor(), [&] {
      DhtNode::Options o;
      o.data_dir = late_dir;
      o.port = 0;
      o.bind4 = "127.0.0.1";
      o.bind6 = "";
      return o;
    }());
    probe.start();  // only to find a free port
    late_port = probe.status().port4;
  }
  auto& second = add_node_in(seeded_dir(), 600s, [&](DhtNode::Options& o) {
    o.bootstrap = {"127.0.0.1:" + std::to_string(late_port)};
    o.rejoin_interval = 1s;
  });
  join(second, first);
  connect_all();

  auto& late = add_node_in(late_dir, 600s, [&](DhtNode::Options& o) {
    o.port = late_port;
    o.bind6 = "";
  });
  ASSERT_TRUE(run_until([&] { return peers(late) > 0; }))
      << "the configured node was not pinged again once it was up";
  Heard heard;
  late.listen(heard.callback());
  ASSERT_TRUE(first.publish(sample_offer("")));
  EXPECT_TRUE(run_until([&] { return heard.offers.count(first.node_id()) == 1; }));
}

TEST_F(DhtNetwork, PortInUseGivesAClearError) {
  auto& first = add_node();
  dirs_.push_back(std::make_unique<TempDir>());
  seed_identity(dirs_.back()->path());
  DhtNode::Options options;
  options.data_dir = dirs_.back()->path();
  options.port = first.status().port4;
  options.bind4 = "127.0.0.1";
  options.bind6 = "::1";
  DhtNode second(io_.get_executor(), options);
  try {
    second.start();
    FAIL() << "started on a port in use";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot bind UDP port " + std::to_string(options.port)),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(second.running());
}

TEST_F(DhtNetwork, PublishRefusesAnInvalidOffer) {
  auto& node = add_node();
  auto offer = sample_offer("");
  offer.addresses = {"not an address"};
  std::string why;
  EXPECT_FALSE(node.publish(offer, &why));
  EXPECT_NE(why.find("not an address"), std::string::npos) << why;
  EXPECT_FALSE(node.status().publishing);
}

}  // namespace
}  // namespace mnigs
