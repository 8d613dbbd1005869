# Copies the plugin API headers with one change, as a plugin author's older or
# edited tree would have them, and writes that copy's mnigs/api_hash.h, so a
# plugin built against it carries the copy's build fingerprint. Run at build
# time by tests/plugins/CMakeLists.txt:
#   cmake -DSOURCE=<core/api/mnigs> -DOUTPUT=<dir>/mnigs -DCHANGE=<change> -P other_headers.cmake
# CHANGE is
#   vtable     a virtual method inserted first in PluginContext, every later
#              slot moved, the ABI version left alone (what 1.1 did)
#   old_major  the ABI major version one lower, nothing else changed
# A change that no longer applies to the headers fails the build, so the test
# cannot quietly build a plugin against unchanged headers.
include(${CMAKE_CURRENT_LIST_DIR}/../../core/api/api_hash.cmake)

file(REMOVE_RECURSE "${OUTPUT}")
file(GLOB headers "${SOURCE}/*.h" "${SOURCE}/*.hpp")
file(COPY ${headers} DESTINATION "${OUTPUT}")

function(change_file file regex replacement)
  file(READ "${OUTPUT}/${file}" text)
  string(REGEX MATCH "${regex}" found "${text}")
  if(NOT found)
    message(FATAL_ERROR "other_headers.cmake: ${file} has no match for \"${regex}\"; "
      "update the ${CHANGE} change to the current headers")
  endif()
  string(REGEX REPLACE "${regex}" "${replacement}" text "${text}")
  file(WRITE "${OUTPUT}/${file}" "${text}")
endfunction()

if(CHANGE STREQUAL "vtable")
  change_file(plugin.hpp "(virtual ~PluginContext\\(\\) = default;\n)"
    "\\1  virtual void added_by_a_test() = 0;\n")
elseif(CHANGE STREQUAL "old_major")
  file(READ "${OUTPUT}/plugin_abi.h" text)
  string(REGEX MATCH "#define MNIGS_PLUGIN_ABI_MAJOR ([0-9]+)" found "${text}")
  if(NOT found)
    message(FATAL_ERROR "other_headers.cmake: no MNIGS_PLUGIN_ABI_MAJOR in plugin_abi.h")
  endif()
  math(EXPR older "${CMAKE_MATCH_1} - 1")
  change_file(plugin_abi.h "#define MNIGS_PLUGIN_ABI_MAJOR [0-9]+"
    "#define MNIGS_PLUGIN_ABI_MAJOR ${older}")
else()
  message(FATAL_ERROR "other_headers.cmake: unknown CHANGE \"${CHANGE}\"")
endif()

file(GLOB copies "${OUTPUT}/*.h" "${OUTPUT}/*.hpp")
mnigs_api_hash(hash ${copies})
mnigs_write_api_hash_header(${hash} "${OUTPUT}/api_hash.h")
