# hl_daemon(): one program of daemons/<NAME>/ in the one shape they share.
#
#   hl_daemon(NAME
#     [CORE lib]  [CORE_SOURCES src...]  [CORE_LIBS lib...]
#     [LIB lib]   [SOURCES src...]       [LIBS lib...]
#     [MAIN main.c]  [DEFINITIONS def...]  [FUZZ]
#     [UNIT file | NO_UNIT]  [CONFIG_EXAMPLE file]  [NO_BUS])
#
# builds, from the calling directory (daemons/<NAME>/):
#   * CORE (default hl<name>_core): the modules that need no bus (ring
#     buffers, parsers, engines), for unit tests and benchmarks; it links
#     the base layer (hlbase: strings, time, config schema) and no ZeroMQ;
#   * LIB (default hl<name>_daemon): the daemon's modules (configure, start,
#     stop, event routing), linking libhlbus and CORE. Tests link the same
#     objects the daemon runs;
#   * the executable NAME from MAIN (default main.c), installed in bin/.
# Each library is left out when it has no sources; both export the
# directory's headers. <name> is NAME without "hl-", dashes dropped
# (hl-git-sync: hlgitsync_core, hlgitsync_daemon).
#
# UNIT (default deploy/systemd/NAME.service) must exist: deploy/ installs
# every unit file (configured with the install's paths), so a daemon's unit
# is its file, and a daemon without one fails at configure time instead of
# at install. NO_UNIT for programs that are not services (hlctl).
# CONFIG_EXAMPLE (default deploy/config/NAME.yaml.example when present) is
# installed under <datadir>/doc/hl-freestyle/examples/. FUZZ: with HL_FUZZ,
# the libraries carry libFuzzer's coverage (tests/fuzz/<area>). NO_BUS: a
# helper that does not link libhlbus (hl-service-runner).
function(hl_daemon name)
  cmake_parse_arguments(D "FUZZ;NO_UNIT;NO_BUS"
    "CORE;LIB;MAIN;UNIT;CONFIG_EXAMPLE"
    "CORE_SOURCES;CORE_LIBS;SOURCES;LIBS;DEFINITIONS" ${ARGN})
  if(D_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "hl_daemon(${name}): unknown arguments ${D_UNPARSED_ARGUMENTS}")
  endif()
  string(REGEX REPLACE "^hl-" "" short "${name}")
  string(REPLACE "-" "" short "${short}")
  if(NOT D_CORE)
    set(D_CORE hl${short}_core)
  endif()
  if(NOT D_LIB)
    set(D_LIB hl${short}_daemon)
  endif()
  if(NOT D_MAIN)
    set(D_MAIN main.c)
  endif()
  set(dir ${CMAKE_CURRENT_SOURCE_DIR})
  set(libs)

  if(D_CORE_SOURCES)
    add_library(${D_CORE} STATIC ${D_CORE_SOURCES})
    target_include_directories(${D_CORE} PUBLIC ${dir})
    target_link_libraries(${D_CORE} PUBLIC hlbase ${D_CORE_LIBS})
    target_compile_definitions(${D_CORE} PRIVATE ${D_DEFINITIONS})
    list(APPEND libs ${D_CORE})
  endif()
  if(D_SOURCES)
    add_library(${D_LIB} STATIC ${D_SOURCES})
    target_include_directories(${D_LIB} PUBLIC ${dir})
    target_link_libraries(${D_LIB} PUBLIC ${libs} ${D_LIBS})
    if(NOT D_NO_BUS)
      target_link_libraries(${D_LIB} PUBLIC hlbus)
    endif()
    target_compile_definitions(${D_LIB} PRIVATE ${D_DEFINITIONS})
    set(libs ${D_LIB})
  endif()

  add_executable(${name} ${D_MAIN})
  target_link_libraries(${name} PRIVATE ${libs})
  if(NOT D_SOURCES)
    target_link_libraries(${name} PRIVATE ${D_LIBS})
  endif()
  if(NOT D_NO_BUS)
    target_link_libraries(${name} PRIVATE hlbus)
  endif()
  target_compile_definitions(${name} PRIVATE ${D_DEFINITIONS})
  install(TARGETS ${name} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

  if(NOT D_NO_UNIT)
    if(NOT D_UNIT)
      set(D_UNIT ${CMAKE_SOURCE_DIR}/deploy/systemd/${name}.service)
    endif()
    if(NOT EXISTS ${D_UNIT})
      message(FATAL_ERROR "hl_daemon(${name}): no unit file ${D_UNIT} "
        "(add it, modelled on deploy/systemd/hl-bus.service, or say NO_UNIT)")
    endif()
  endif()
  if(NOT D_CONFIG_EXAMPLE AND EXISTS ${CMAKE_SOURCE_DIR}/deploy/config/${name}.yaml.example)
    set(D_CONFIG_EXAMPLE ${CMAKE_SOURCE_DIR}/deploy/config/${name}.yaml.example)
  endif()
  if(D_CONFIG_EXAMPLE)
    install(FILES ${D_CONFIG_EXAMPLE}
      DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/hl-freestyle/examples)
  endif()

  if(HL_FUZZ AND D_FUZZ)
    foreach(t ${D_CORE} ${D_LIB})
      if(TARGET ${t})
        target_compile_options(${t} PRIVATE -fsanitize=fuzzer-no-link)
        target_link_options(${t} INTERFACE -fsanitize=fuzzer-no-link)
      endif()
    endforeach()
  endif()
endfunction()
