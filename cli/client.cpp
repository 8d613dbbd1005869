#include "client.hpp"

#include <httplib.h>
#include <json/reader.h>
#include <json/writer.h>

#include <memory>

namespace mnigs::cli {

Client::Client(std::string host, int port, std::string token, int timeout_seconds)
    : host_(std::move(host)), port_(port), token_(std::move(token)), timeout_(timeout_seconds) {}

std::string Client::address() const {
  bool v6 = host_.find(':') != std::string::npos;
  return (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
}

CallResult Client::call(const std::string& method, const Json::Value& params) {
  CallResult out;
  Json::Value request(Json::objectValue);
  request["jsonrpc"] = "2.0";
  request["id"] = next_id_++;
  request["method"] = method;
  if (!params.isNull()) request["params"] = params;
  Json::StreamWriterBuilder w;
  w["indentation"] = "";

  httplib::Client http(host_, port_);
  http.set_connection_timeout(timeout_, 0);
  http.set_read_timeout(timeout_, 0);
  http.set_write_timeout(timeout_, 0);
  httplib::Headers headers;
  if (!token_.empty()) headers.emplace("Authorization", "Bearer " + token_);
  auto res = http.Post("/jsonrpc", headers, Json::writeString(w, request), "application/json");
  if (!res) {
    auto err = res.error();
    if (err == httplib::Error::Connection) {
      out.status = CallStatus::not_running;
      out.message = "no mnigsd answers on " + address();
    } else {
      out.status = CallStatus::transport_error;
      out.message = "calling " + method + " on " + address() + " failed: " + httplib::to_string(err);
    }
    return out;
  }
  Json::CharReaderBuilder rb;
  std::unique_ptr<Json::CharReader> reader(rb.newCharReader());
  Json::Value body;
  std::string errs;
  if (!reader->parse(res->body.data(), res->body.data() + res->body.size(), &body, &errs) ||
      !body.isObject()) {
    out.status = CallStatus::transport_error;
    out.message = "mnigsd on " + address() + " answered HTTP " + std::to_string(res->status) +
                  " without a JSON-RPC response";
    return out;
  }
  if (body.isMember("error")) {
    out.status = CallStatus::rpc_error;
    out.error = body["error"];
    return out;
  }
  out.status = CallStatus::ok;
  out.result = body["result"];
  return out;
}

}  // namespace mnigs::cli
