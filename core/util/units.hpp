// Sizes and rates as people type them: "1G", "500MB", "64KiB"; "4mbit",
// "500kbit", "1mbps" (tc(8)'s rate units: "bit" ones are bits per second,
// "bps" ones bytes per second).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mnigs {

// Bytes: a whole number, optionally followed by k/K, M, G, T (powers of
// 1000) or KiB, MiB, GiB, TiB (powers of 1024), with or without a "B"
// ("10MB" = "10M" = 10000000). At most 2^62. nullopt and `why` for anything
// else.
std::optional<std::int64_t> parse_bytes(std::string_view text, std::string* why = nullptr);
// Bits per second: a whole number with bit, kbit, mbit, gbit (powers of
// 1000) or bps, kbps, mbps, gbps (bytes per second, times 8), as tc(8)
// writes them; a bare number is bits per second. At most 10^13 (10 Tbit/s).
std::optional<std::int64_t> parse_rate(std::string_view text, std::string* why = nullptr);
// "4mbit", "500kbit", "64bit": the shortest exact tc-style spelling.
std::string format_rate(std::int64_t bits_per_second);

}  // namespace mnigs
