// The messages of cjdroute's admin interface (admin/Admin.c): bencoded
// dictionaries in UDP datagrams.
//
//   -> d1:q6:cookie4:txid<T>e            <- {"cookie": "<unix seconds>", "txid": T}
//   -> {"q": "auth", "aq": FUNCTION, "args": {...}, "cookie": C,
//       "hash": H, "txid": T}            <- the function's reply dict + "txid"
//
// H is computed in two steps: first H1 = sha256hex(password + cookie) is put
// in "hash" and the whole request is bencoded; then "hash" is replaced by
// sha256hex of that bencoding. cjdroute checks it the same way round: it
// finds H in the received bytes, puts H1 back in its place and hashes the
// result. A wrong password gets {"error": "Auth failed."}; cookies older than
// 20 s are refused the same way.
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>

#include "bencode.hpp"

namespace mnigs::cjdns {

// cjdroute drops requests longer than this (Admin_MAX_REQUEST_SIZE).
inline constexpr std::size_t kMaxRequestBytes = 512;
// and answers with datagrams of at most this (Admin_MAX_RESPONSE_SIZE).
inline constexpr std::size_t kMaxReplyBytes = 65536;

// The error text cjdroute answers a bad hash or stale cookie with.
inline constexpr const char* kAuthFailed = "Auth failed.";

// The request for a cookie, carrying `txid`.
std::string cookie_request(const std::string& txid);

// sha256hex(password + cookie), cut as cjdroute cuts it: it prints both into
// a 64-byte buffer with snprintf, so only the first 63 characters count (and
// the password ends at a NUL byte). The same for every password of up to 53
// characters; longer ones only work when computed this way.
std::string password_hash(const std::string& password, const std::string& cookie);

// The authenticated request for `function` with `args`, ready to send.
std::string auth_request(const std::string& function, const bencode::Value& args,
                         const std::string& password, const std::string& cookie,
                         const std::string& txid);

}  // namespace mnigs::cjdns
