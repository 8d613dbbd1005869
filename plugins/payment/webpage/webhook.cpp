#include "webhook.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <json/reader.h>

#include <cctype>
#include <memory>
#include <vector>

namespace mnigs::webpage {

namespace {

std::string base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                                static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> unbase64(const std::string& text) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > 4096) return std::nullopt;
  std::string out(3 * text.size() / 4 + 1, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t size = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts the padding as zero bytes.
  for (std::size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) --size;
  out.resize(size);
  return out;
}

std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

}  // namespace

std::optional<std::string> webhook_key(const std::string& content) {
  const std::string s = trim(content);
  if (s.empty()) return std::nullopt;
  if (s.rfind("whsec_", 0) == 0) return unbase64(s.substr(6));
  return s;
}

std::string webhook_signature(const std::string& key, const std::string& id,
                              const std::string& timestamp, const std::string& body) {
  const std::string content = id + "." + timestamp + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &size);
  return "v1," + base64(mac, size);
}

std::string verify_webhook(const std::string& key, const std::string& id,
                           const std::string& timestamp, const std::string& signatures,
                           const std::string& body, std::int64_t now) {
  if (id.empty() || id.size() > 256) return "webhook-id is missing or longer than 256 bytes";
  if (timestamp.empty() || timestamp.size() > 12 ||
      timestamp.find_first_not_of("0123456789") != std::string::npos)
    return "webhook-timestamp must be unix seconds";
  const std::int64_t at = std::stoll(timestamp);
  if (at < now - kTolerance || at > now + kTolerance)
    return "webhook-timestamp is more than " + std::to_string(kTolerance) +
           " s away from this gateway's clock";
  const std::string expected = webhook_signature(key, id, timestamp, body);
  std::size_t start = 0;
  int tried = 0;
  while (start < signatures.size() && tried < 16) {
    std::size_t end = signatures.find(' ', start);
    if (end == std::string::npos) end = signatures.size();
    const std::string one = signatures.substr(start, end - start);
    start = end + 1;
    if (one.empty()) continue;
    ++tried;
    if (one.size() == expected.size() &&
        CRYPTO_memcmp(one.data(), expected.data(), expected.size()) == 0)
      return "";
  }
  return "no webhook-signature matches";
}

std::optional<Confirmation> parse_confirmation(const std::string& body) {
  Json::CharReaderBuilder b;
  Json::CharReaderBuilder::strictMode(&b.settings_);
  b["stackLimit"] = 8;
  std::unique_ptr<Json::CharReader> reader(b.newCharReader());
  Json::Value root;
  std::string errors;
  try {
    if (!reader->parse(body.data(), body.data() + body.size(), &root, &errors))
      return std::nullopt;
  } catch (const std::exception&) {  // jsoncpp throws past its stack limit
    return std::nullopt;
  }
  if (!root.isObject() || !root["voucher"].isObject() ||
      (root.isMember("session") && !root["session"].isString()))
    return std::nullopt;
  return Confirmation{root["voucher"], root["session"].asString()};
}

bool SeenIds::seen(const std::string& id, std::int64_t now) {
  for (auto it = ids_.begin(); it != ids_.end();)
    it = it->second < now - 2 * kTolerance ? ids_.erase(it) : std::next(it);
  return ids_.count(id) != 0;
}

bool SeenIds::add(const std::string& id, std::int64_t at) {
  if (ids_.size() >= kMax) return false;
  ids_[id] = at;
  return true;
}

}  // namespace mnigs::webpage
