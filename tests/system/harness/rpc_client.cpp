#include "harness/rpc_client.hpp"

#include <httplib.h>

#include <atomic>
#include <memory>

#include "harness/netns.hpp"

namespace mnigs::test {

namespace {

std::atomic<int> next_id{1};

std::string endpoint(const std::string& host, int port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

std::string to_json(const Json::Value& value) {
  Json::StreamWriterBuilder builder;
  builder["indentation"] = "";
  return Json::writeString(builder, value);
}

Json::Value rpc(const std::string& ns, const std::string& host, int port, const std::string& method,
                const Json::Value& params, const std::string& token,
                std::chrono::milliseconds timeout) {
  Json::Value request(Json::objectValue);
  request["jsonrpc"] = "2.0";
  request["id"] = next_id++;
  request["method"] = method;
  if (!params.isNull()) request["params"] = params;
  const std::string body = to_json(request);
  const std::string where =
      method + " to " + endpoint(host, port) + (ns.empty() ? "" : " from namespace " + ns);

  std::string answer;
  int status = 0;
  run_in_netns_thread(ns, [&] {
    // The client's socket is created on this thread, hence in `ns`.
    httplib::Client client(host, port);
    const auto sec = static_cast<time_t>(timeout.count() / 1000);
    const auto usec = static_cast<time_t>((timeout.count() % 1000) * 1000);
    client.set_connection_timeout(sec, usec);
    client.set_read_timeout(sec, usec);
    client.set_write_timeout(sec, usec);
    client.set_keep_alive(false);
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto res = client.Post("/jsonrpc", headers, body, "application/json");
    if (!res)
      throw RpcError("rpc " + where + ": no answer (" + httplib::to_string(res.error()) + ")");
    status = res->status;
    answer = res->body;
  });

  Json::Value response;
  Json::CharReaderBuilder reader;
  std::string errors;
  std::unique_ptr<Json::CharReader> parser(reader.newCharReader());
  if (!parser->parse(answer.data(), answer.data() + answer.size(), &response, &errors) ||
      !response.isObject())
    throw RpcError("rpc " + where + ": HTTP " + std::to_string(status) +
                   " with a body that is not a JSON object: " + answer.substr(0, 300));
  return response;
}

bool rpc_succeeded(const Json::Value& response) {
  return response.isObject() && response.isMember("result") && !response.isMember("error");
}

int rpc_error_code(const Json::Value& response) {
  if (!response.isObject() || !response.isMember("error")) return 0;
  const auto& error = response["error"];
  if (!error.isObject() || !error["code"].isInt()) return 0;
  return error["code"].asInt();
}

}  // namespace mnigs::test
