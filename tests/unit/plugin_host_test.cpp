// Loading real .so plugins into a host: the good one runs and serves RPC;
// a wrong ABI, a foreign build, other API headers, a missing entry point, a
// non-ELF file, a throwing start() and a throwing constructor are each
// reported and the rest keeps working.
#include "plugin_host/host.hpp"
#include "rpc/dispatcher.hpp"
#include "rpc/registry.hpp"
#include "store/store.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>
#include <json/reader.h>
#include <mnigs/build_fingerprint.hpp>

#include <boost/asio/executor_work_guard.hpp>

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <optional>
#include <thread>

namespace mnigs {
namespace {

namespace fs = std::filesystem;

class PluginHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    declare_core_keys(schema_);
    libraries_ = load_plugin_libraries(MNIGS_TEST_PLUGIN_DIR, {}, schema_, log_);
    config_ = std::make_unique<ConfigHolder>(std::make_shared<const Config>("", defaults(schema_)));
    store_ = Store::open(dir_.file("state.db"), log_);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (host_) {
      std::promise<void> stopped;
      host_->stop([&] { stopped.set_value(); });
      stopped.get_future().wait();
    }
    work_.reset();
    io_.stop();
    thread_.join();
    host_.reset();
    // Before io_ goes: the store's worker may still hold a completion that
    // carries a strand of io_.
    store_.reset();
  }

  void start_host(PluginHost::GatewaySource gateways = {}) {
    host_ = std::make_unique<PluginHost>(
        io_, *config_, store_.get(), events_,
        [this](const std::string& n, Access a, MethodHandler h) { registry_.add(n, a, h); });
    if (gateways) host_->set_gateway_source(std::move(gateways));
    host_->start(libraries_);
    // start() runs on the strands: wait until every plugin settled.
    for (int i = 0; i < 200; ++i) {
      bool settled = true;
      for (const auto& p : describe())
        if (p["state"] == "created") settled = false;
      if (settled) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  Json::Value describe() {
    std::promise<Json::Value> p;
    host_->describe([&](Json::Value v) { p.set_value(v); });
    return p.get_future().get();
  }

  // Why the loader refused `file` ("" when it took it).
  std::string error_of(const std::string& file) {
    for (const auto& l : libraries_)
      if (l.path.ends_with("/" + file)) return l.error;
    return "(not found)";
  }

  Json::Value find(const std::string& file) {
    for (const auto& p : describe())
      if (p["path"].asString().ends_with(file)) return p;
    return Json::Value();
  }

  Json::Value rpc(const std::string& method, Json::Value params = Json::Value()) {
    Json::Value req(Json::objectValue);
    req["jsonrpc"] = "2.0";
    req["id"] = 1;
    req["method"] = method;
    if (!params.isNull()) req["params"] = params;
    Caller caller;
    caller.address = boost::asio::ip::make_address("127.0.0.1");
    caller.from_authorized_network = true;
    std::promise<std::string> done;
    dispatcher_.handle(req.toStyledString(), caller,
                       [&](std::optional<std::string> out) { done.set_value(out.value_or("")); });
    std::string text = done.get_future().get();
    Json::Value v;
    std::string errs;
    std::unique_ptr<Json::CharReader> r(Json::CharReaderBuilder().newCharReader());
    r->parse(text.data(), text.data() + text.size(), &v, &errs);
    return v;
  }

  test::TempDir dir_;
  test::RecordingLogger log_;
  Schema schema_;
  std::vector<PluginLibrary> libraries_;
  std::unique_ptr<ConfigHolder> config_;
  std::unique_ptr<Store> store_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  CoreEventBus events_{io_.get_executor()};
  MethodRegistry registry_;
  Dispatcher dispatcher_{registry_};
  std::unique_ptr<PluginHost> host_;
  std::thread thread_;
};

// The descriptor a test plugin exports, read without the loader.
const mnigs_plugin_info* descriptor_of(const std::string& file) {
  std::string path = std::string(MNIGS_TEST_PLUGIN_DIR) + "/" + file;
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) return nullptr;
  auto entry = reinterpret_cast<mnigs_plugin_info_fn>(dlsym(handle, MNIGS_PLUGIN_ENTRY_SYMBOL));
  return entry ? entry() : nullptr;
}

std::string abi_text(int major, int minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

TEST_F(PluginHostTest, LoaderRefusesBadLibrariesWithReasons) {
  EXPECT_NE(error_of("test_wrong_abi.so")
                .find("ABI " + abi_text(MNIGS_PLUGIN_ABI_MAJOR + 1, 0) + " does not match"),
            std::string::npos)
      << error_of("test_wrong_abi.so");
  EXPECT_NE(error_of("test_wrong_fingerprint.so").find("built with \"clang 3.0"),
            std::string::npos)
      << error_of("test_wrong_fingerprint.so");
  EXPECT_NE(error_of("test_no_entry.so").find("no mnigs_plugin_info() entry point"),
            std::string::npos);
  EXPECT_NE(error_of("test_broken.so").find("cannot load"), std::string::npos);
  EXPECT_EQ(error_of("test_good.so"), "");
  EXPECT_TRUE(log_.contains("test_wrong_abi.so"));
  // The good plugin declared its section; refused ones did not.
  EXPECT_NE(schema_.find("good", "greeting"), nullptr);
  EXPECT_EQ(schema_.section("wrongabi"), nullptr);
}

// A plugin built against headers where a virtual method was inserted in
// PluginContext, with the ABI version left as it was: the toolchain and the
// version match, so only the API hash tells. Let in, its calls would land in
// other slots of the daemon's vtable.
TEST_F(PluginHostTest, APluginBuiltAgainstOtherApiHeadersIsRefusedBeforeAnythingRuns) {
  const mnigs_plugin_info* info = descriptor_of("test_changed_api.so");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->abi_major, MNIGS_PLUGIN_ABI_MAJOR);
  EXPECT_EQ(info->abi_minor, MNIGS_PLUGIN_ABI_MINOR);
  const std::string theirs = info->fingerprint;
  const std::string toolchain = MNIGS_BUILD_TOOLCHAIN "; api ";
  ASSERT_TRUE(theirs.starts_with(toolchain)) << theirs;
  const std::string their_hash = theirs.substr(toolchain.size());
  EXPECT_EQ(their_hash.size(), 16u) << theirs;
  EXPECT_NE(their_hash, MNIGS_API_HASH);

  const std::string error = error_of("test_changed_api.so");
  EXPECT_EQ(error, "plugin was built against other API headers (api " + their_hash +
                       ") than mnigsd (api " MNIGS_API_HASH
                       "); rebuild it against this mnigs's core/api");
  // The log names the file.
  EXPECT_TRUE(log_.contains(std::string(MNIGS_TEST_PLUGIN_DIR) + "/test_changed_api.so: " + error +
                            "; it is not loaded"));
  // Nothing of it ran: it declared no keys, it is not started, its method is unknown.
  EXPECT_EQ(schema_.section("changedapi"), nullptr);
  start_host();
  EXPECT_EQ(find("test_changed_api.so")["state"], "refused");
  EXPECT_EQ(rpc("changedapi.hello")["error"]["code"], rpc_error::method_not_found);
}

// A complete plugin built against the headers of the previous ABI major.
TEST_F(PluginHostTest, APluginOfTheOlderAbiMajorIsRefusedBeforeAnythingRuns) {
  const mnigs_plugin_info* info = descriptor_of("test_old_major.so");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->abi_major, MNIGS_PLUGIN_ABI_MAJOR - 1);
  const std::string error = error_of("test_old_major.so");
  EXPECT_EQ(error, "plugin ABI " + abi_text(MNIGS_PLUGIN_ABI_MAJOR - 1, MNIGS_PLUGIN_ABI_MINOR) +
                       " does not match mnigsd's ABI " +
                       abi_text(MNIGS_PLUGIN_ABI_MAJOR, MNIGS_PLUGIN_ABI_MINOR) +
                       "; rebuild the plugin against this mnigs");
  EXPECT_TRUE(log_.contains(std::string(MNIGS_TEST_PLUGIN_DIR) + "/test_old_major.so: " + error));
  EXPECT_EQ(schema_.section("oldmajor"), nullptr);
  start_host();
  EXPECT_EQ(find("test_old_major.so")["state"], "refused");
  EXPECT_EQ(rpc("oldmajor.hello")["error"]["code"], rpc_error::method_not_found);
}

TEST_F(PluginHostTest, GoodPluginRunsOthersAreReportedFailed) {
  start_host();
  EXPECT_EQ(find("test_good.so")["state"], "running");
  auto throwing = find("test_throwing.so");
  EXPECT_EQ(throwing["state"], "failed");
  EXPECT_NE(throwing["error"].asString().find("cannot start on purpose"), std::string::npos);
  auto create = find("test_create_fails.so");
  EXPECT_EQ(create["state"], "failed");
  EXPECT_NE(create["error"].asString().find("no resources"), std::string::npos);
  EXPECT_EQ(find("test_wrong_abi.so")["state"], "refused");
  EXPECT_EQ(host_->running(), (std::vector<std::string>{"discovery/good", "discovery/silent",
                                                      "payment/fakepay", "tunnel/fake"}));
  EXPECT_EQ(host_->suites(),
            (std::vector<std::string>{"silentnet-fake-fakepay", "testnet-fake-fakepay"}));
}

TEST_F(PluginHostTest, PluginMethodsAreServedUnderItsName) {
  start_host();
  Json::Value params(Json::objectValue);
  params["x"] = 1;
  auto r = rpc("good.echo", params);
  EXPECT_EQ(r["result"]["greeting"], "hello");
  EXPECT_EQ(r["result"]["params"]["x"], 1);
  auto stored = rpc("good.remember", params);
  EXPECT_EQ(stored["result"], true);
}

// A plugin reads the core's sections (the tether follows subscriber.routing),
// never another plugin's.
TEST_F(PluginHostTest, APluginReadsCoreSectionsOnly) {
  start_host();
  Json::Value params(Json::objectValue);
  params["section"] = "subscriber";
  EXPECT_EQ(rpc("good.coreConfig", params)["result"]["routing"], "default");
  params["section"] = "good";  // its own: config() is the way
  EXPECT_TRUE(rpc("good.coreConfig", params)["result"].isNull());
  params["section"] = "nosuch";
  EXPECT_TRUE(rpc("good.coreConfig", params)["result"].isNull());
}

TEST_F(PluginHostTest, APluginThatCannotDoItsWorkIsListedDegradedWithTheReason) {
  start_host();
  Json::Value params(Json::objectValue);
  params["error"] = "its daemon at 127.0.0.1:1 is not answering";
  EXPECT_EQ(rpc("good.problem", params)["result"], true);
  auto good = find("test_good.so");
  EXPECT_EQ(good["state"], "degraded");
  EXPECT_EQ(good["error"], "its daemon at 127.0.0.1:1 is not answering");
  // Still running: its methods are served, its network is offered.
  EXPECT_EQ(rpc("good.echo")["result"]["greeting"], "hello");
  auto running = host_->running();
  EXPECT_NE(std::find(running.begin(), running.end(), "discovery/good"), running.end());

  params["error"] = "";
  rpc("good.problem", params);
  good = find("test_good.so");
  EXPECT_EQ(good["state"], "running");
  EXPECT_EQ(good["error"], "");
}

TEST_F(PluginHostTest, PluginCommandsRunInTheCLocale) {
  // A daemon started under another locale: the tools a plugin runs must
  // still say "File exists", not "Die Datei existiert bereits".
  std::map<std::string, std::optional<std::string>> saved;
  for (const char* name : {"LC_ALL", "LANG"}) {
    const char* v = std::getenv(name);
    saved[name] = v ? std::optional<std::string>(v) : std::nullopt;
    ::setenv(name, "de_DE.UTF-8", 1);
  }
  start_host();
  Json::Value argv(Json::arrayValue);
  for (const char* a : {"sh", "-c", "printf %s \"$LC_ALL\""}) argv.append(a);
  auto r = rpc("good.run", argv);
  for (const auto& [name, value] : saved)
    value ? ::setenv(name.c_str(), value->c_str(), 1) : ::unsetenv(name.c_str());
  EXPECT_EQ(r["result"].asString(), "C") << r.toStyledString();
}

TEST_F(PluginHostTest, ThrowingMethodFailsThePluginNotTheDaemon) {
  start_host();
  auto r = rpc("good.boom");
  EXPECT_EQ(r["error"]["code"], rpc_error::internal_error);
  EXPECT_NE(r["error"]["message"].asString().find("boom on purpose"), std::string::npos);
  auto good = find("test_good.so");
  EXPECT_EQ(good["state"], "failed");
  auto after = rpc("good.echo");
  EXPECT_EQ(after["error"]["code"], rpc_error::unavailable);
  auto running = host_->running();
  EXPECT_EQ(std::find(running.begin(), running.end(), "discovery/good"), running.end());
}

TEST_F(PluginHostTest, StopReachesRunningPlugins) {
  start_host();
  std::promise<void> stopped;
  host_->stop([&] { stopped.set_value(); });
  ASSERT_EQ(stopped.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(find("test_good.so")["state"], "stopped");
  host_.reset();
}

TEST_F(PluginHostTest, DisabledPluginIsNotStarted) {
  Schema schema;
  declare_core_keys(schema);
  auto libs = load_plugin_libraries(MNIGS_TEST_PLUGIN_DIR, {"good"}, schema, log_);
  libraries_ = libs;
  start_host();
  EXPECT_EQ(find("test_good.so")["state"], "disabled");
  EXPECT_NE(schema.find("good", "greeting"), nullptr);  // its keys stay valid in the file
}

TEST_F(PluginHostTest, DiscoverAllCollectsAnswersAndDoesNotWaitForASilentPlugin) {
  start_host();
  std::promise<std::vector<PluginHost::Discovered>> p;
  host_->discover_all(std::chrono::milliseconds(300),
                      [&](std::vector<PluginHost::Discovered> r) { p.set_value(std::move(r)); });
  auto results = p.get_future().get();
  std::map<std::string, PluginHost::Discovered> by_name;
  for (auto& r : results) by_name[r.plugin] = r;
  ASSERT_TRUE(by_name.count("good"));
  EXPECT_EQ(by_name["good"].network, "testnet");
  EXPECT_EQ(by_name["good"].found.error, "");
  ASSERT_EQ(by_name["good"].found.candidates.size(), 1u);
  EXPECT_EQ(by_name["good"].found.candidates[0].address, "10.1.2.3");
  ASSERT_TRUE(by_name.count("silent"));
  EXPECT_EQ(by_name["silent"].found.error, "did not answer within 300 ms");
  EXPECT_TRUE(by_name["silent"].found.candidates.empty());
}

TEST_F(PluginHostTest, PaymentTermsComeFromRunningPaymentPluginsThatAreOffered) {
  start_host();
  auto terms_of = [&](std::vector<std::string> offered) {
    std::promise<Json::Value> p;
    host_->payment_terms(offered, [&](Json::Value t) { p.set_value(std::move(t)); });
    return p.get_future().get();
  };
  Json::Value terms = terms_of({"fakepay", "throwing"});
  ASSERT_TRUE(terms.isObject()) << terms.toStyledString();
  // The throwing payment plugin failed at start: it offers nothing.
  EXPECT_FALSE(terms.isMember("throwing")) << terms.toStyledString();
  EXPECT_TRUE(terms["fakepay"].isObject()) << terms.toStyledString();
  // A method the gateway does not offer says nothing.
  EXPECT_TRUE(terms_of({"free"}).empty());
  // Suites: every one this node can use, and those a gateway offers.
  const std::vector<std::string> all = {"silentnet-fake-fakepay", "testnet-fake-fakepay"};
  EXPECT_EQ(host_->suites(), all);
  EXPECT_EQ(host_->offered_suites({"free", "fakepay"}), all);
  EXPECT_TRUE(host_->offered_suites({"free"}).empty());
}

// What a gateway publishes for subscribers to pin its tunnels by: the key of
// each offered tunnel that has one, in the form an offer allows; a key that
// is not is left out and said once, not at every nodeInfo.
TEST_F(PluginHostTest, TunnelKeysComeFromTheOfferedTunnelsThatHaveOne) {
  start_host();
  auto keys_of = [&](std::vector<std::string> suites) {
    std::promise<std::map<std::string, std::string>> p;
    host_->tunnel_keys(suites, [&](auto keys) { p.set_value(std::move(keys)); });
    return p.get_future().get();
  };
  const std::map<std::string, std::string> fake = {{"fake", "sha256:" + std::string(64, 'f')}};
  EXPECT_EQ(keys_of(host_->offered_suites({"fakepay"})), fake);
  // A tunnel no offered suite names, and no suites at all: no key.
  EXPECT_TRUE(keys_of({"testnet-forwarding-fakepay"}).empty());
  EXPECT_TRUE(keys_of({}).empty());

  auto set_key = [&](const std::string& key) {
    Json::Value v = config_->get()->values();
    v["fake"]["gatewayKey"] = key;
    config_->set(std::make_shared<const Config>("", v));
  };
  set_key("");  // a tunnel without a key
  EXPECT_TRUE(keys_of({"testnet-fake-fakepay"}).empty());
  set_key("sha256 with spaces");
  ::testing::internal::CaptureStderr();
  EXPECT_TRUE(keys_of({"testnet-fake-fakepay"}).empty());
  EXPECT_TRUE(keys_of({"testnet-fake-fakepay"}).empty());
  const std::string said = ::testing::internal::GetCapturedStderr();
  const std::string line = "plugin fake: its gateway key is not published: the key for \"fake\"";
  EXPECT_NE(said.find(line), std::string::npos) << said;
  EXPECT_EQ(said.find(line), said.rfind(line)) << said;  // once
  set_key("base64:AbC+/09=");
  EXPECT_EQ(keys_of({"testnet-fake-fakepay"}).at("fake"), "base64:AbC+/09=");
}

// What a gateway announces beside its suites: each running plugin's
// announce(), by plugin name, in the form an offer allows; one that is not
// is left out and said once.
TEST_F(PluginHostTest, ServicesComeFromThePluginsThatAnnounceOne) {
  start_host();
  auto services = [&] {
    std::promise<std::map<std::string, std::string>> p;
    host_->services([&](auto s) { p.set_value(std::move(s)); });
    return p.get_future().get();
  };
  EXPECT_TRUE(services().empty());  // nothing announced by default
  auto set_announce = [&](const std::string& where) {
    Json::Value v = config_->get()->values();
    v["fake"]["announce"] = where;
    config_->set(std::make_shared<const Config>("", v));
  };
  set_announce("http://gw.example:8080/");
  const std::map<std::string, std::string> one = {{"fake", "http://gw.example:8080/"}};
  EXPECT_EQ(services(), one);
  set_announce("http://gw example/");
  ::testing::internal::CaptureStderr();
  EXPECT_TRUE(services().empty());
  EXPECT_TRUE(services().empty());
  const std::string said = ::testing::internal::GetCapturedStderr();
  const std::string line = "plugin fake: its service is not published: where \"fake\" is reached";
  EXPECT_NE(said.find(line), std::string::npos) << said;
  EXPECT_EQ(said.find(line), said.rfind(line)) << said;  // once
}

// A plugin asks for the gateways this node knows: the host's source answers,
// on the plugin's strand.
TEST_F(PluginHostTest, PluginsAreToldTheGatewaysTheNodeKnows) {
  Json::Value list(Json::arrayValue);
  Json::Value g(Json::objectValue);
  g["address"] = "10.0.0.1";
  list.append(g);
  start_host([list](std::function<void(Json::Value)> done) { done(list); });
  Json::Value fake;
  for (int i = 0; i < 200 && fake["status"]["gateways"].asInt() != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    fake = find("test_fake_tunnel.so");
  }
  EXPECT_EQ(fake["status"]["gateways"].asInt(), 1) << fake.toStyledString();
}

TEST_F(PluginHostTest, WithoutAGatewaySourcePluginsAreToldOfNone) {
  start_host();
  Json::Value fake;
  for (int i = 0; i < 200 && fake["status"]["gateways"].asInt() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    fake = find("test_fake_tunnel.so");
  }
  EXPECT_EQ(fake["status"]["gateways"].asInt(), 0) << fake.toStyledString();
}

// A fingerprint from before the API hash, with this toolchain: refused with
// both fingerprints in full.
TEST(PluginLoader, AFingerprintWithoutApiHashIsRefused) {
  const mnigs_plugin_info info = {
      sizeof(mnigs_plugin_info), MNIGS_PLUGIN_ABI_MAJOR, MNIGS_PLUGIN_ABI_MINOR,
      MNIGS_BUILD_TOOLCHAIN, "nohash", "payment", "0.1", "", nullptr, nullptr, nullptr};
  EXPECT_EQ(check_descriptor(&info), "plugin was built with \"" MNIGS_BUILD_TOOLCHAIN
                                     "\" but mnigsd with \"" MNIGS_BUILD_FINGERPRINT
                                     "\"; rebuild it with the same toolchain and mnigs headers");
}

TEST(PluginLoader, MissingDirectoryIsAWarning) {
  test::RecordingLogger log;
  Schema schema;
  EXPECT_TRUE(load_plugin_libraries("/nonexistent/plugins", {}, schema, log).empty());
  EXPECT_TRUE(log.contains("does not exist"));
}

TEST(PluginLoader, ShippedPluginsLoad) {
  test::RecordingLogger log;
  Schema schema;
  declare_core_keys(schema);
  auto libs = load_plugin_libraries(MNIGS_PLUGIN_BUILD_DIR, {}, schema, log);
  std::vector<std::string> names;
  for (const auto& l : libs) {
    EXPECT_EQ(l.error, "") << l.path;
    names.push_back(l.kind + "/" + l.name);
  }
  EXPECT_NE(std::find(names.begin(), names.end(), "payment/free"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "discovery/static"), names.end());
}

TEST(PluginLoader, OnlyFilesNoOtherUserCouldHaveWrittenAreTrusted) {
  struct stat st {};
  st.st_uid = 0;
  st.st_mode = S_IFREG | 0644;
  EXPECT_EQ(check_trusted_file(st, "the file"), "");
  st.st_mode = S_IFREG | 0664;
  EXPECT_EQ(check_trusted_file(st, "the file"),
            "the file is writable by its group (mode 0664); only its owner may write it");
  st.st_mode = S_IFDIR | 0777;
  EXPECT_EQ(check_trusted_file(st, "plugin directory /p"),
            "plugin directory /p is writable by every user (mode 0777); only its owner may "
            "write it");
  st.st_mode = S_IFREG | 0755;
  st.st_uid = ::geteuid() == 4242 ? 4243 : 4242;
  EXPECT_NE(check_trusted_file(st, "the file").find("is owned by uid"), std::string::npos);
  st.st_uid = ::geteuid();  // the user mnigsd runs as
  EXPECT_EQ(check_trusted_file(st, "the file"), "");
}

// A copy of the test plugin "good" in a directory of its own.
class PluginFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::permissions(dir_.path(), fs::perms(0755));
    fs::copy_file(std::string(MNIGS_TEST_PLUGIN_DIR) + "/test_good.so", file_);
    fs::permissions(file_, fs::perms(0644));
  }
  std::vector<PluginLibrary> load() {
    Schema schema;
    return load_plugin_libraries(dir_.path(), {}, schema, log_);
  }
  test::TempDir dir_;
  std::string file_ = dir_.file("test_good.so");
  test::RecordingLogger log_;
};

TEST_F(PluginFiles, ATrustedCopyLoads) {
  auto libs = load();
  ASSERT_EQ(libs.size(), 1u);
  EXPECT_EQ(libs[0].error, "");
}

TEST_F(PluginFiles, ADirectoryOthersMayWriteLoadsNothing) {
  for (auto mode : {0777, 0775}) {
    fs::permissions(dir_.path(), fs::perms(mode));
    EXPECT_TRUE(load().empty()) << std::oct << mode;
    EXPECT_TRUE(log_.contains("plugin directory " + dir_.path() + " is writable by")) << mode;
    EXPECT_TRUE(log_.contains("no plugins loaded"));
  }
}

TEST_F(PluginFiles, AFileOthersMayWriteIsRefusedUnopened) {
  fs::permissions(file_, fs::perms(0666));
  auto libs = load();
  ASSERT_EQ(libs.size(), 1u);
  EXPECT_EQ(libs[0].error,
            "the file is writable by every user (mode 0666); only its owner may write it");
  EXPECT_FALSE(libs[0].info);
}

TEST_F(PluginFiles, ASymlinkIsRefused) {
  fs::rename(file_, dir_.file("real.so.bin"));
  fs::create_symlink(dir_.file("real.so.bin"), file_);
  auto libs = load();
  ASSERT_EQ(libs.size(), 1u);
  EXPECT_NE(libs[0].error.find("a symlink; plugins must be regular files"), std::string::npos)
      << libs[0].error;
}

TEST_F(PluginFiles, AFileOfAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the file to another user";
  ASSERT_EQ(::chown(file_.c_str(), 4242, 4242), 0);
  auto libs = load();
  ASSERT_EQ(libs.size(), 1u);
  EXPECT_NE(libs[0].error.find("the file is owned by uid 4242, not by root"), std::string::npos)
      << libs[0].error;
}

}  // namespace
}  // namespace mnigs
