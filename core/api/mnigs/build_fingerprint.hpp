// The build fingerprint: what must be identical between the daemon and a
// plugin for C++ objects to cross between them safely. The toolchain part
// names the compiler and libraries; the API part is a hash of the headers in
// this folder (mnigs/api_hash.h, written by CMake when the tree is configured;
// see core/api/README.md), so a plugin built against other headers is refused
// even when nobody bumped the ABI version.
#pragma once

#include <boost/version.hpp>
#include <json/version.h>

#if !__has_include(<mnigs/api_hash.h>)
#error "no mnigs/api_hash.h: configure mnigs with CMake and add <its build dir>/api to the includes"
#endif
#include <mnigs/api_hash.h>

#include <string>  // defines _GLIBCXX_USE_CXX11_ABI

#define MNIGS_FP_STR2(x) #x
#define MNIGS_FP_STR(x) MNIGS_FP_STR2(x)

#define MNIGS_BUILD_TOOLCHAIN                                                          \
  "gcc " __VERSION__ "; boost " MNIGS_FP_STR(BOOST_VERSION) "; c++ " MNIGS_FP_STR( \
      __cplusplus) "; cxx11abi " MNIGS_FP_STR(_GLIBCXX_USE_CXX11_ABI) "; jsoncpp " \
      JSONCPP_VERSION_STRING

// "<toolchain>; api <16 hex digits>"; the loader compares it whole.
#define MNIGS_BUILD_FINGERPRINT MNIGS_BUILD_TOOLCHAIN "; api " MNIGS_API_HASH
