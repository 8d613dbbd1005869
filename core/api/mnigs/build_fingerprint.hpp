// The build fingerprint: what must be identical between the daemon and a
// plugin for C++ objects to cross between them safely.
#pragma once

#include <boost/version.hpp>
#include <json/version.h>

#include <string>  // defines _GLIBCXX_USE_CXX11_ABI

#define MNIGS_FP_STR2(x) #x
#define MNIGS_FP_STR(x) MNIGS_FP_STR2(x)

#define MNIGS_BUILD_FINGERPRINT                                                        \
  "gcc " __VERSION__ "; boost " MNIGS_FP_STR(BOOST_VERSION) "; c++ " MNIGS_FP_STR( \
      __cplusplus) "; cxx11abi " MNIGS_FP_STR(_GLIBCXX_USE_CXX11_ABI) "; jsoncpp " \
      JSONCPP_VERSION_STRING
