# Fuzz harnesses: tests/fuzz/fuzz_<name>.c, each defining LLVMFuzzerTestOneInput.
# With ADJ_FUZZ (clang): a libFuzzer binary fuzz_<name>.
# Always: replay_<name>, a plain main() that runs the committed corpus
# tests/fuzz/corpus/<name>/ as an ordinary ctest (zstd's regression_driver idea).
file(GLOB ADJ_FUZZ_SRC CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
foreach(src ${ADJ_FUZZ_SRC})
  get_filename_component(fname ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" name ${fname})
  set(corpus ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${name})
  if(ADJ_FUZZ)
    add_executable(fuzz_${name} ${src})
    target_link_libraries(fuzz_${name} PRIVATE adj_app)
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
  endif()
  add_executable(replay_${name} ${src} ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.c)
  target_link_libraries(replay_${name} PRIVATE adj_app)
  if(ADJ_TESTS)
    add_test(NAME replay_${name} COMMAND replay_${name} ${corpus})
  endif()
endforeach()
