// The one base64 codec of the plugins: websocket's Sec-WebSocket-Key and
// Sec-WebSocket-Accept, the public keys subscribers send (x509). Standard
// alphabet (RFC 4648 section 4) with padding, no line breaks. Pure;
// thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mnigs {

std::string base64_encode(std::span<const std::uint8_t> data);
// Strict: length a multiple of 4, only the alphabet, '=' only as the final
// one or two characters; nullopt otherwise. The bits the padding leaves
// over are not looked at: whoever needs one text per byte string compares
// base64_encode of the result with the text.
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text);

}  // namespace mnigs
