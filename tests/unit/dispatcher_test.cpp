// JSON-RPC 2.0 handling: parse errors, invalid requests, batches,
// notifications, access classes and handler failures.
#include "rpc/dispatcher.hpp"

#include <gtest/gtest.h>
#include <json/reader.h>

#include <future>

namespace mnigs {
namespace {

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.add("echo", Access::mesh, [](const Json::Value& p, const CallInfo&, Responder r) {
      r.result(p);
    });
    registry_.add("secret", Access::admin,
                  [](const Json::Value&, const CallInfo& c, Responder r) { r.result(c.admin); });
    registry_.add("throws", Access::mesh, [](const Json::Value&, const CallInfo&, Responder) {
      throw std::runtime_error("kaput");
    });
    registry_.add("forgets", Access::mesh, [](const Json::Value&, const CallInfo&, Responder) {});
    registry_.add("needsName", Access::mesh,
                  [](const Json::Value& p, const CallInfo&, Responder r) {
                    if (!p.isObject() || !p["name"].isString())
                      return r.error(rpc_error::invalid_params, "name (string) is required");
                    r.result(p["name"]);
                  });
  }

  // Runs one body; returns the parsed response (null when nothing is sent).
  Json::Value run(const std::string& body, Caller caller = local()) {
    std::promise<std::optional<std::string>> done;
    dispatcher_.handle(body, caller, [&](std::optional<std::string> out) { done.set_value(out); });
    auto out = done.get_future().get();
    if (!out) return Json::Value();
    Json::Value v;
    std::string errs;
    std::unique_ptr<Json::CharReader> r(Json::CharReaderBuilder().newCharReader());
    EXPECT_TRUE(r->parse(out->data(), out->data() + out->size(), &v, &errs)) << *out;
    return v;
  }

  static Caller local() {
    Caller c;
    c.address = boost::asio::ip::make_address("127.0.0.1");
    c.from_authorized_network = true;
    return c;
  }
  static Caller remote(Caller::Token token = Caller::Token::none) {
    Caller c;
    c.address = boost::asio::ip::make_address("10.77.1.2");
    c.token = token;
    return c;
  }

  MethodRegistry registry_;
  Dispatcher dispatcher_{registry_};
};

TEST_F(DispatcherTest, CallReturnsResultWithSameId) {
  auto r = run(R"({"jsonrpc":"2.0","id":"a1","method":"echo","params":[1,2]})");
  EXPECT_EQ(r["jsonrpc"], "2.0");
  EXPECT_EQ(r["id"], "a1");
  EXPECT_EQ(r["result"][1], 2);
  EXPECT_FALSE(r.isMember("error"));
}

TEST_F(DispatcherTest, MalformedJsonIsParseError) {
  for (const char* body : {"{", "not json", "{\"jsonrpc\":\"2.0\",}", "[1,2", "{} trailing", ""}) {
    auto r = run(body);
    EXPECT_EQ(r["error"]["code"], rpc_error::parse_error) << body;
    EXPECT_TRUE(r["id"].isNull()) << body;
  }
}

TEST_F(DispatcherTest, DeepNestingIsRefusedNotRecursed) {
  std::string deep(10000, '[');
  auto r = run(deep);
  EXPECT_EQ(r["error"]["code"], rpc_error::parse_error);
}

TEST_F(DispatcherTest, InvalidRequests) {
  auto code = [&](const std::string& body) { return run(body)["error"]["code"].asInt(); };
  EXPECT_EQ(code(R"({"id":1,"method":"echo"})"), rpc_error::invalid_request);  // no jsonrpc
  EXPECT_EQ(code(R"({"jsonrpc":"1.0","id":1,"method":"echo"})"), rpc_error::invalid_request);
  EXPECT_EQ(code(R"({"jsonrpc":"2.0","id":1,"method":5})"), rpc_error::invalid_request);
  EXPECT_EQ(code(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":"x"})"),
            rpc_error::invalid_request);
  EXPECT_EQ(code(R"({"jsonrpc":"2.0","id":{},"method":"echo"})"), rpc_error::invalid_request);
  EXPECT_EQ(code("42"), rpc_error::parse_error);  // strict root: not an object or array
  EXPECT_EQ(code("[]"), rpc_error::invalid_request);
}

TEST_F(DispatcherTest, UnknownMethodAndInvalidParams) {
  auto r = run(R"({"jsonrpc":"2.0","id":1,"method":"nope"})");
  EXPECT_EQ(r["error"]["code"], rpc_error::method_not_found);
  EXPECT_NE(r["error"]["message"].asString().find("nope"), std::string::npos);
  r = run(R"({"jsonrpc":"2.0","id":2,"method":"needsName","params":{"name":3}})");
  EXPECT_EQ(r["error"]["code"], rpc_error::invalid_params);
  EXPECT_EQ(r["id"], 2);
}

TEST_F(DispatcherTest, NotificationGetsNoResponse) {
  EXPECT_TRUE(run(R"({"jsonrpc":"2.0","method":"echo"})").isNull());
  EXPECT_TRUE(run(R"({"jsonrpc":"2.0","method":"nope"})").isNull());
}

TEST_F(DispatcherTest, BatchAnswersInOrderAndSkipsNotifications) {
  auto r = run(R"([
    {"jsonrpc":"2.0","id":1,"method":"echo","params":{"n":1}},
    {"jsonrpc":"2.0","method":"echo"},
    {"jsonrpc":"2.0","id":3,"method":"nope"},
    7
  ])");
  ASSERT_TRUE(r.isArray());
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0]["id"], 1);
  EXPECT_EQ(r[0]["result"]["n"], 1);
  EXPECT_EQ(r[1]["error"]["code"], rpc_error::method_not_found);
  EXPECT_EQ(r[2]["error"]["code"], rpc_error::invalid_request);
  EXPECT_TRUE(run(R"([{"jsonrpc":"2.0","method":"echo"}])").isNull());
}

TEST_F(DispatcherTest, OversizedBatchIsRefused) {
  std::string body = "[";
  for (std::size_t i = 0; i <= Dispatcher::max_batch; ++i)
    body += std::string(i ? "," : "") + R"({"jsonrpc":"2.0","id":1,"method":"echo"})";
  body += "]";
  auto r = run(body);
  EXPECT_EQ(r["error"]["code"], rpc_error::invalid_request);
}

TEST_F(DispatcherTest, AdminMethodNeedsAuthorizedNetworkOrToken) {
  const std::string body = R"({"jsonrpc":"2.0","id":1,"method":"secret"})";
  EXPECT_EQ(run(body, local())["result"], true);
  auto refused = run(body, remote());
  EXPECT_EQ(refused["error"]["code"], rpc_error::unauthorized);
  EXPECT_FALSE(refused.isMember("result"));
  EXPECT_NE(refused["error"]["message"].asString().find("10.77.1.2"), std::string::npos);
  auto wrong = run(body, remote(Caller::Token::invalid));
  EXPECT_EQ(wrong["error"]["code"], rpc_error::unauthorized);
  EXPECT_NE(wrong["error"]["message"].asString().find("not valid"), std::string::npos);
  EXPECT_EQ(run(body, remote(Caller::Token::valid))["result"], true);
  // Mesh methods answer anyone.
  EXPECT_TRUE(run(R"({"jsonrpc":"2.0","id":1,"method":"echo"})", remote())
                  .isMember("result"));
  EXPECT_EQ(dispatcher_.counters().refused, 2u);
}

TEST_F(DispatcherTest, ThrowingOrSilentHandlersGiveInternalError) {
  auto r = run(R"({"jsonrpc":"2.0","id":1,"method":"throws"})");
  EXPECT_EQ(r["error"]["code"], rpc_error::internal_error);
  EXPECT_NE(r["error"]["message"].asString().find("kaput"), std::string::npos);
  r = run(R"({"jsonrpc":"2.0","id":2,"method":"forgets"})");
  EXPECT_EQ(r["error"]["code"], rpc_error::internal_error);
  EXPECT_EQ(r["id"], 2);
}

TEST(Registry, RefusesDuplicatesAndBadNames) {
  MethodRegistry reg;
  auto h = [](const Json::Value&, const CallInfo&, Responder r) { r.result(1); };
  reg.add("a.b", Access::mesh, h);
  EXPECT_THROW(reg.add("a.b", Access::mesh, h), std::logic_error);
  EXPECT_THROW(reg.add("bad name", Access::mesh, h), std::logic_error);
  EXPECT_THROW(reg.add("", Access::mesh, h), std::logic_error);
}

}  // namespace
}  // namespace mnigs
