#include "admin_protocol.hpp"

#include "keys.hpp"

namespace mnigs::cjdns {

std::string cookie_request(const std::string& txid) {
  auto request = bencode::Value::dict();
  request.d["q"] = bencode::Value::string("cookie");
  request.d["txid"] = bencode::Value::string(txid);
  return bencode::encode(request);
}

std::string password_hash(const std::string& password, const std::string& cookie) {
  // snprintf(buf, 64, "%s%u", password, cookie) in admin/Admin.c.
  std::string text = password.substr(0, password.find('\0')) + cookie;
  if (text.size() > 63) text.resize(63);
  return sha256_hex(text);
}

std::string auth_request(const std::string& function, const bencode::Value& args,
                         const std::string& password, const std::string& cookie,
                         const std::string& txid) {
  auto request = bencode::Value::dict();
  request.d["q"] = bencode::Value::string("auth");
  request.d["aq"] = bencode::Value::string(function);
  request.d["args"] = args;
  request.d["cookie"] = bencode::Value::string(cookie);
  request.d["hash"] = bencode::Value::string(password_hash(password, cookie));
  request.d["txid"] = bencode::Value::string(txid);
  // The hash is the same length either way, so the second encoding differs
  // from the first only in those 64 bytes.
  request.d["hash"] = bencode::Value::string(sha256_hex(bencode::encode(request)));
  return bencode::encode(request);
}

}  // namespace mnigs::cjdns
