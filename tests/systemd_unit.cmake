# packaging/systemd/mnigsd.service as systemd reads it: `systemd-analyze
# verify` says nothing about it (it exits 0 on warnings, so its output is
# what counts), and `systemd-analyze security --offline=true` rates its
# exposure at most MAX_EXPOSURE (lower is better; "OK" below 4.0).
#   cmake -DROOT=<source dir> -DMNIGSD=<mnigsd> -DCLI=<mnigs-cli> -DWORK=<dir> -P tests/systemd_unit.cmake
foreach(v ROOT MNIGSD CLI WORK)
  if(NOT ${v})
    message(FATAL_ERROR "systemd_unit.cmake: pass -D${v}=...")
  endif()
endforeach()
set(MAX_EXPOSURE 3.0)
find_program(ANALYZE systemd-analyze REQUIRED)

# The unit names the installed programs; verify checks that they exist, so
# the copy names the built ones.
file(READ "${ROOT}/packaging/systemd/mnigsd.service" unit)
string(REPLACE "/usr/sbin/mnigsd" "${MNIGSD}" unit "${unit}")
string(REPLACE "/usr/bin/mnigs-cli" "${CLI}" unit "${unit}")
file(MAKE_DIRECTORY "${WORK}")
file(WRITE "${WORK}/mnigsd.service" "${unit}")

execute_process(COMMAND "${ANALYZE}" verify --man=no "${WORK}/mnigsd.service"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT "${out}${err}" STREQUAL "")
  message(FATAL_ERROR "systemd-analyze verify mnigsd.service (exit ${rc}):\n${out}${err}")
endif()

execute_process(COMMAND "${ANALYZE}" security --offline=true --no-pager "${WORK}/mnigsd.service"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT out MATCHES "Overall exposure level for mnigsd.service: ([0-9]+\\.[0-9]+)")
  message(FATAL_ERROR "systemd-analyze security gave no exposure level (exit ${rc}):\n${out}${err}")
endif()
set(level "${CMAKE_MATCH_1}")
if(level GREATER MAX_EXPOSURE)
  message(FATAL_ERROR "mnigsd.service exposure ${level}, above ${MAX_EXPOSURE}:\n${out}")
endif()
message(STATUS "mnigsd.service: systemd-analyze verify says nothing; exposure ${level} (at most ${MAX_EXPOSURE})")
