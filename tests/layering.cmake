# The layers run one way: plugins -> plugin API <- core <- rpc <- daemon.
# Fails, naming each file and line, when a file under core/ includes rpc/,
# daemon/ or a plugin, a file under rpc/ includes daemon/, or a plugin
# includes the daemon's insides.
#   cmake -DROOT=<source dir> -P tests/layering.cmake
if(NOT ROOT)
  message(FATAL_ERROR "layering.cmake: pass -DROOT=<source dir>")
endif()

set(bad "")
function(check_layer dir pattern what)
  set(found "${bad}")
  file(GLOB_RECURSE files "${ROOT}/${dir}/*.cpp" "${ROOT}/${dir}/*.hpp" "${ROOT}/${dir}/*.h")
  foreach(file IN LISTS files)
    file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<](${pattern})")
    foreach(line IN LISTS lines)
      file(RELATIVE_PATH rel "${ROOT}" "${file}")
      string(STRIP "${line}" line)
      string(APPEND found "\n  ${rel}: ${line} (${what})")
    endforeach()
  endforeach()
  set(bad "${found}" PARENT_SCOPE)
endfunction()

check_layer(core "rpc/|daemon/|plugins/|discovery/|tunnel/|payment/" "core may include only core/ and its libraries")
check_layer(rpc "daemon/|plugins/" "rpc/ may include core/ and rpc/")
# Plugins: the plugin API (<mnigs/...>), plugins/common, and of core/util
# only the helpers that need nothing of the daemon (ARCHITECTURE.md).
check_layer(plugins "rpc/|daemon/|core/|config/|store/|plugin_host/|scanner/|dht/|gateways/|gateway/|subscriber/|events/|hooks/|log/|os/|peer/|util/(atomic_file|json_text|once|text)" "plugins may include <mnigs/...>, plugins/common and util/host_port.hpp, util/net.hpp, util/token.hpp")

if(bad)
  message(FATAL_ERROR "includes against the layers (plugins -> plugin API <- core <- rpc <- daemon):${bad}")
endif()
message(STATUS "layering: core/, rpc/ and the plugins include nothing against the layers")
