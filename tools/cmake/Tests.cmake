# Tests:
#   tests/unit/test_*.c   one Criterion executable each, registered with ctest.
#   tests/cli/*.sh        end-to-end scripts run against the built dadras
#                         (DADRAS, SRC and WORK are set in their environment).
pkg_check_modules(CRITERION REQUIRED IMPORTED_TARGET criterion)
file(GLOB ADJ_UNIT_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/unit/test_*.c)
foreach(src ${ADJ_UNIT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE adj_app PkgConfig::CRITERION)
  target_compile_definitions(${name} PRIVATE ADJ_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_test(NAME ${name} COMMAND ${name} --jobs 1)
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77
    ENVIRONMENT "DADRAS=$<TARGET_FILE:dadras>;ADJ_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endforeach()

file(GLOB ADJ_CLI_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/cli/*.sh)
foreach(script ${ADJ_CLI_TESTS})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME cli_${name} COMMAND bash ${script})
  set_tests_properties(cli_${name} PROPERTIES SKIP_RETURN_CODE 77
    ENVIRONMENT "DADRAS=$<TARGET_FILE:dadras>;SRC=${PROJECT_SOURCE_DIR};WORK=${CMAKE_BINARY_DIR}/cli_work/${name}")
  # The threaded pipeline runs again under TSan (tools/test stage 3). Only
  # the CLI tests: Criterion's own arena cannot start under TSan.
  if(name MATCHES "^run_")
    set_tests_properties(cli_${name} PROPERTIES LABELS pipeline)
  endif()
endforeach()
