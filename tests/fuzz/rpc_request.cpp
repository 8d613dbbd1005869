// The body of a JSON-RPC request, as anyone on the mesh can send it to the
// RPC port: Dispatcher::handle (parsing, batches, the checks on each call,
// access control), with methods that answer, fail, throw or never answer.
// Checks that `done` runs exactly once and that what it gets is JSON.
#include "rpc/dispatcher.hpp"

#include <json/reader.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

namespace {

const mnigs::MethodRegistry& registry() {
  static const auto* r = [] {
    auto* reg = new mnigs::MethodRegistry;
    reg->add("nodeInfo", mnigs::Access::mesh,
             [](const Json::Value& params, const mnigs::CallInfo&, mnigs::Responder reply) {
               reply.result(params);
             });
    reg->add("requestConnection", mnigs::Access::mesh,
             [](const Json::Value&, const mnigs::CallInfo&, mnigs::Responder reply) {
               reply.error(mnigs::rpc_error::invalid_params, "no");
             });
    reg->add("renewConnection", mnigs::Access::mesh,
             [](const Json::Value&, const mnigs::CallInfo&, mnigs::Responder) {
               throw std::runtime_error("thrown");
             });
    reg->add("releaseConnection", mnigs::Access::mesh,
             [](const Json::Value&, const mnigs::CallInfo&, mnigs::Responder) {});
    reg->add("status", mnigs::Access::admin,
             [](const Json::Value&, const mnigs::CallInfo&, mnigs::Responder reply) {
               reply.result(Json::Value("ok"));
             });
    return reg;
  }();
  return *r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static mnigs::Dispatcher dispatcher(registry());
  mnigs::Caller caller;
  caller.address = boost::asio::ip::make_address("10.77.1.2");
  caller.local = boost::asio::ip::make_address("10.77.1.1");
  int calls = 0;
  dispatcher.handle(std::string_view(reinterpret_cast<const char*>(data), size), caller,
                    [&calls](std::optional<std::string> body) {
                      ++calls;
                      if (!body) return;
                      Json::Value v;
                      std::string errs;
                      std::unique_ptr<Json::CharReader> reader(
                          Json::CharReaderBuilder().newCharReader());
                      if (!reader->parse(body->data(), body->data() + body->size(), &v, &errs))
                        std::abort();  // the answer must be JSON
                    });
  if (calls != 1) std::abort();  // every method here answers at once
  return 0;
}
