# The web UI as a router's flash holds it: every file under webui/ (README
# aside) together at most BUDGET bytes, nothing fetched from elsewhere (no
# http:// or https:// but the SVG namespace name, which names and fetches
# nothing), every module imported exists, and each JavaScript file parses
# as a module (node --check).
#   cmake -DROOT=<source dir> -DNODE=<node> -P tests/webui.cmake
if(NOT ROOT OR NOT NODE)
  message(FATAL_ERROR "webui.cmake: pass -DROOT=<source dir> -DNODE=<path of node>")
endif()
set(BUDGET 98304)  # 96 KiB; README.md says so too

file(GLOB_RECURSE files "${ROOT}/webui/*")
list(FILTER files EXCLUDE REGEX "/README\\.md$")
set(total 0)
set(bad "")
foreach(file IN LISTS files)
  file(SIZE "${file}" size)
  math(EXPR total "${total} + ${size}")
  file(RELATIVE_PATH rel "${ROOT}" "${file}")
  file(READ "${file}" text)
  string(REPLACE "http://www.w3.org/2000/svg" "" text "${text}")
  if(text MATCHES "https?://")
    string(APPEND bad "\n  ${rel} names another site (${CMAKE_MATCH_0}...): the mesh may have no Internet")
  endif()
  if(file MATCHES "\\.js$")
    execute_process(COMMAND "${NODE}" --input-type=module --check
      INPUT_FILE "${file}" RESULT_VARIABLE rc ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      string(APPEND bad "\n  ${rel} does not parse as a module:\n${err}")
    endif()
    get_filename_component(dir "${file}" DIRECTORY)
    string(REGEX MATCHALL "from \"[^\"]+\"" imports "${text}")
    foreach(import IN LISTS imports)
      string(REGEX REPLACE "from \"([^\"]+)\"" "\\1" target "${import}")
      if(NOT EXISTS "${dir}/${target}")
        string(APPEND bad "\n  ${rel} imports ${target}, which is not there")
      endif()
    endforeach()
  endif()
endforeach()
if(total GREATER BUDGET)
  string(APPEND bad "\n  the web UI is ${total} bytes, over its budget of ${BUDGET}")
endif()
if(bad)
  message(FATAL_ERROR "webui/:${bad}")
endif()
message(STATUS "webui: ${total} of ${BUDGET} bytes, no other site, every module parses")
