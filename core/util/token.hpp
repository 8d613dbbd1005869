// The admin token: 256 random bits as 64 hex characters, written by mnigsd at
// start to a 0600 file in its data directory and read by mnigs-cli.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mnigs {

// 32 bytes from the kernel's CSPRNG (getrandom), hex-encoded. Throws on failure.
std::string generate_token();
std::string random_hex(std::size_t bytes);

// Writes the token with mode 0600, replacing an older file atomically.
// Throws std::runtime_error naming the path.
void write_token_file(const std::string& path, const std::string& token);
// Reads a token file; nullopt when it does not exist or cannot be read.
std::optional<std::string> read_token_file(const std::string& path);

// Compares in time independent of where the strings differ.
bool constant_time_equal(std::string_view a, std::string_view b);

// This node's stable id for nodeInfo: 128 random bits as 32 hex characters,
// kept in "<dataDir>/node.id" (0600) and created there on first use. A file
// that does not hold such an id is replaced, with a warning in `warning`.
std::string load_or_create_node_id(const std::string& data_dir, std::string* warning);

// "<dataDir>/admin.token"
std::string token_path(const std::string& data_dir);

}  // namespace mnigs
