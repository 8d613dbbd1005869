// The web UI's password: kept as a salted, deliberately slow hash (yescrypt
// where the C library has it, as glibc's libxcrypt does; SHA-512 crypt with
// many rounds where it has only that, as musl does) in
// "<dataDir>/webui.password", mode 0600, never in the YAML file.
// `mnigs-cli --set-password` writes it; mnigsd reads it at each login.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mnigs {

// Passwords shorter than this are refused when set.
inline constexpr std::size_t kMinPasswordBytes = 8;
// Longer ones are refused too: hashing cost must stay bounded, and no one
// types more.
inline constexpr std::size_t kMaxPasswordBytes = 256;

// "<dataDir>/webui.password"
std::string password_path(const std::string& data_dir);

// Why `password` cannot be set ("" when it can): its length, or a control
// character (a newline would be cut off when read from a terminal).
std::string password_problem(std::string_view password);

// A new hash of `password` with a fresh random salt, in crypt(5) form
// ("$y$..." or "$6$rounds=...$..."). Throws std::runtime_error when the
// system cannot hash.
std::string hash_password(std::string_view password);

// Whether `password` matches `hash` (any crypt(5) method the C library
// knows): false for a malformed hash; nullopt when the C library cannot
// compute it (a method it lacks, no memory for yescrypt's), which says
// nothing about the password. Takes as long as hashing did (tens of
// milliseconds here, more on a router): call it off the event loop.
std::optional<bool> verify_password(std::string_view password, const std::string& hash);

// The stored hash; nullopt when no password is set (no file, or an empty
// one). Throws std::runtime_error when the file exists but cannot be read,
// or holds no crypt(5) hash.
std::optional<std::string> read_password_hash(const std::string& path);

// Stores `hash` (mode 0600, atomically); an empty hash removes the file,
// so that no password is set. Throws std::runtime_error naming the path.
void write_password_hash(const std::string& path, const std::string& hash);

namespace detail {
// The crypt(5) setting for a new hash: "$y$..." from crypt_gensalt where the
// library has it; else sha512_setting().
std::string new_setting();
// "$6$rounds=<rounds>$<16 salt characters>$", which every crypt() knows.
std::string sha512_setting(unsigned rounds);
// crypt_r; "" on failure.
std::string crypt_with(std::string_view password, const std::string& setting);
}  // namespace detail

}  // namespace mnigs
