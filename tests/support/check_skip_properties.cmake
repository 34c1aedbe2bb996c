# Keeps the tests honest about skipping (run by ctest as the unit test "tests_report_skips"):
#  1. the mechanism: ctest runs skip_probe (one case that calls SVC_SKIP) with the project's
#     marker and must report it as skipped, with the reason in its output, while the probe's
#     passing case passes;
#  2. the wiring: every test of the real kernel layers (integration, e2e, security, bench, fuzz)
#     must carry SKIP_REGULAR_EXPRESSION "SVC_SKIPPED:" or a SKIP_RETURN_CODE, so a test that
#     skips can never be counted as passed.
# Inputs: -DCTEST=<ctest> -DBUILD_DIR=<the build tree> -DPROBE_DIR=<dir with the probe's
# CTestTestfile.cmake>.
cmake_minimum_required(VERSION 3.25)

execute_process(COMMAND ${CTEST} --test-dir ${PROBE_DIR} -V
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT out MATCHES "skip_probe_skips[^\n]*\\*\\*\\*Skipped")
  message(FATAL_ERROR "ctest did not report the skipping probe as skipped:\n${out}\n${err}")
endif()
if(NOT out MATCHES "SVC_SKIPPED: the probe always skips \\(2 words of reason\\)")
  message(FATAL_ERROR "the skip reason is not in the probe's output:\n${out}")
endif()
if(NOT out MATCHES "skip_probe_passes[^\n]*Passed")
  message(FATAL_ERROR "the probe's passing case did not pass:\n${out}\n${err}")
endif()

execute_process(COMMAND ${CTEST} --test-dir ${BUILD_DIR} --show-only=json-v1
                RESULT_VARIABLE rc OUTPUT_VARIABLE json ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ctest --show-only=json-v1 failed: ${err}")
endif()
string(JSON ntests LENGTH "${json}" tests)
set(missing "")
set(checked 0)
math(EXPR last "${ntests} - 1")
foreach(i RANGE ${last})
  # One parse of the whole document per test; the rest reads the test's own small object (each
  # string(JSON) call parses its input again).
  string(JSON test GET "${json}" tests ${i})
  string(JSON name GET "${test}" name)
  if(name MATCHES "_NOT_BUILT")
    continue()  # a test binary that was not built: it fails by itself
  endif()
  string(JSON props ERROR_VARIABLE no_props GET "${test}" properties)
  if(no_props)
    set(props "[]")
  endif()
  string(JSON nprops LENGTH "${props}")
  set(labels "")
  set(skips FALSE)
  if(nprops GREATER 0)
    math(EXPR plast "${nprops} - 1")
    foreach(j RANGE ${plast})
      string(JSON pname GET "${props}" ${j} name)
      string(JSON pvalue GET "${props}" ${j} value)
      if(pname STREQUAL "LABELS")
        set(labels "${pvalue}")
      elseif(pname STREQUAL "SKIP_REGULAR_EXPRESSION" AND pvalue MATCHES "SVC_SKIPPED:")
        set(skips TRUE)
      elseif(pname STREQUAL "SKIP_RETURN_CODE")
        set(skips TRUE)
      endif()
    endforeach()
  endif()
  if(labels MATCHES "integration|e2e|security|bench|fuzz")
    math(EXPR checked "${checked} + 1")
    if(NOT skips)
      string(APPEND missing "  ${name} (labels ${labels})\n")
    endif()
  endif()
endforeach()
if(missing)
  message(FATAL_ERROR "these tests could skip and be counted as passed: give them "
                      "SKIP_REGULAR_EXPRESSION \"SVC_SKIPPED:\" (tests/support/skip.hpp):\n${missing}")
endif()
message(STATUS "skips reported: the probe is skipped by ctest; ${checked} tests carry the marker")
