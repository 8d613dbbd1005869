// The query of a bulk transfer request (bulk.hpp): "down=N&up=M", in any
// order, each at most once and 0..kMaxBulkBytes. It comes from a peer.
#pragma once

#include <cstdint>
#include <string_view>

namespace mnigs::probe {

inline constexpr std::uint64_t kMaxBulkBytes = 4 << 20;

// `target` is the request target ("/probe/bulk?down=1&up=2"); false for
// anything else, with down and up then unspecified.
bool parse_bulk_query(std::string_view target, std::uint64_t& down, std::uint64_t& up);

}  // namespace mnigs::probe
