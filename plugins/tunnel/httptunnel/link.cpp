#include "link.hpp"

#include "settings.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace mnigs::httptunnel::link {

namespace {

bool printable(std::string_view s) {
  for (const char c : s)
    if (c <= ' ' || c >= 0x7f) return false;
  return true;
}

wstunnel::Refusal refuse(std::string why) { return {400, std::move(why) + "\n"}; }

std::string field(const wstunnel::http::fields& f, std::string_view name) {
  const auto it = f.find(boost::beast::string_view(name.data(), name.size()));
  return it == f.end() ? "" : std::string(it->value());
}

}  // namespace

bool valid_secret(std::string_view secret) {
  return secret.size() >= kMinSecret && secret.size() <= kMaxSecret && printable(secret);
}

std::string request(const Hello& hello, std::string_view host) {
  std::string out = "GET " + std::string(kPath) + " HTTP/1.1\r\nHost: " + std::string(host) +
                    "\r\nConnection: Upgrade\r\nUpgrade: " + std::string(kProtocol) + "\r\n" +
                    std::string(kKeyField) + ": " + hello.key + "\r\n" +
                    std::string(kSecretField) + ": " + hello.secret + "\r\n";
  if (!hello.services.empty()) {
    out += std::string(kServicesField) + ": ";
    for (std::size_t i = 0; i < hello.services.size(); ++i)
      out += (i ? "," : "") + hello.services[i];
    out += "\r\n";
  }
  return out + "\r\n";
}

bool wants(const wstunnel::http::fields& fields) {
  const auto up = fields[wstunnel::http::field::upgrade];
  return std::string_view(up.data(), up.size()) == kProtocol;
}

Read read(const wstunnel::http::fields& f) {
  Read r;
  const std::string key = field(f, kKeyField);
  if (key.starts_with("token:")) {
    if (auto why = wstunnel::check_token(key.substr(6))) {
      r.refusal = why;
      return r;
    }
  } else if (key.starts_with("id:")) {
    if (!is_label(key.substr(3))) {
      r.refusal = refuse("The id must be 1-63 lowercase letters, digits or '-'");
      return r;
    }
  } else {
    r.refusal = refuse(std::string(kKeyField) + " must be token:<token> or id:<id>");
    return r;
  }
  const std::string secret = field(f, kSecretField);
  if (!valid_secret(secret)) {
    r.refusal = refuse(std::string(kSecretField) + " must be " + std::to_string(kMinSecret) +
                       " to " + std::to_string(kMaxSecret) +
                       " printable characters without spaces");
    return r;
  }
  std::vector<std::string> services;
  const std::string owned = field(f, kServicesField);
  std::string_view list = owned;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string name(list.substr(0, comma));
    if (!is_label(name) || services.size() >= kMaxServices) {
      r.refusal = refuse(std::string(kServicesField) + " must list at most " +
                         std::to_string(kMaxServices) +
                         " names of 1-63 lowercase letters, digits or '-'");
      return r;
    }
    services.push_back(name);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  if (key.starts_with("token:") && !services.empty()) {
    r.refusal = refuse("A token tunnel has no services");
    return r;
  }
  r.hello = {key, secret, std::move(services)};
  return r;
}

std::string accept() {
  return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " +
         std::string(kProtocol) + "\r\n\r\n";
}

std::string gateway_secret(std::string_view secret, std::string_view gateway) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(gateway.data()), gateway.size(), mac, &len))
    throw std::runtime_error("httptunnel: HMAC-SHA256 failed");
  return to_hex({mac, len});
}

std::string to_hex(std::span<const unsigned char> bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (const unsigned char b : bytes) {
    out.push_back(hex[b >> 4]);
    out.push_back(hex[b & 0xf]);
  }
  return out;
}

}  // namespace mnigs::httptunnel::link
