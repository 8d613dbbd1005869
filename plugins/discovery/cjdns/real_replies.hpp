// For the unit tests: one recorded admin reply of the real cjdroute v21.1
// (testdata/admin-v21.1, see testdata/README.md), decoded.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "bencode.hpp"

namespace mnigs::cjdns {

// `file` below testdata/admin-v21.1, e.g. "hub/02-NodeStore_dumpTable-page0.reply".
inline bencode::Value real_reply(const std::string& file) {
  std::ifstream in(std::string(MNIGS_CJDNS_TESTDATA) + "/admin-v21.1/" + file, std::ios::binary);
  EXPECT_TRUE(in) << file;
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string why;
  auto v = bencode::decode(bytes, &why);
  EXPECT_TRUE(v) << file << ": " << why;
  return v.value_or(bencode::Value::dict());
}

}  // namespace mnigs::cjdns
