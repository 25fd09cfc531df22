# Every test may end with exit status 77 when something it needs is missing
# here (tests/common/check.h's check_skip, tests/common/lib.sh's skip): ctest
# then lists it as skipped, never as passed.
set(HL_TEST_SKIP_CODE 77)

# hl_c_test(NAME SOURCES... [LIBS ...] [LABELS ...]): a C test program run by
# ctest, with the harness tests/common/check.h on its include path.
function(hl_c_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  add_executable(${name} ${T_SOURCES} ${T_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE hlbus ${T_LIBS})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/common)
  add_test(NAME ${name} COMMAND ${name} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}"
    SKIP_RETURN_CODE ${HL_TEST_SKIP_CODE})
endfunction()

# hl_sh_test(NAME SCRIPT [LABELS ...] [TIMEOUT s]): a bash test script, run with
# HL_BUILD_DIR and HL_SOURCE_DIR in its environment (tests/common/lib.sh has
# its ok/wait_for/skip helpers).
function(hl_sh_test name script)
  cmake_parse_arguments(T "" "TIMEOUT" "LABELS;ARGS" ${ARGN})
  add_test(NAME ${name} COMMAND bash ${script} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}"
    SKIP_RETURN_CODE ${HL_TEST_SKIP_CODE}
    ENVIRONMENT "HL_BUILD_DIR=${CMAKE_BINARY_DIR};HL_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()

# Adds every immediate subdirectory of the current one that has a CMakeLists.txt,
# so a daemon's tests need no edit of a shared file.
macro(hl_add_subdirs)
  file(GLOB _subs LIST_DIRECTORIES true CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*)
  foreach(_s ${_subs})
    if(IS_DIRECTORY ${_s} AND EXISTS ${_s}/CMakeLists.txt)
      add_subdirectory(${_s})
    endif()
  endforeach()
endmacro()
