# Fuzzing (tests/fuzz/). Included from CMakeLists.txt after the module libraries exist.
#
# Every build (normal and ASAN): each target in tests/fuzz/fuzz_*.c is also linked with
# tests/fuzz/replay_main.c into fuzz_<name>_replay, and ctest replays the committed corpus
# tests/fuzz/corpus/<name>/ through it (label "fuzz"), so every input that once crashed
# stays a regression test.
#
# -DTESSERA_FUZZ=ON with clang (CC=clang-14, best with -DCMAKE_BUILD_TYPE=ASAN): the module
# libraries get coverage instrumentation (-fsanitize=fuzzer-no-link) and each target becomes
# a libFuzzer binary fuzz_<name>. tests/fuzz/run.sh SECONDS builds and runs them all.
option(TESSERA_FUZZ "Build libFuzzer targets (needs clang)" OFF)

file(GLOB fuzz_srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
set(fuzz_libs ts_objstore ts_sts ts_ldap ts_policy ts_idp ts_core)

if(TESSERA_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "TESSERA_FUZZ needs clang (e.g. CC=clang-14)")
  endif()
  foreach(lib ${fuzz_libs})
    # clang's -Wformat=2 also flags the va_list helpers in core/buf.c, which gcc accepts.
    target_compile_options(${lib} PRIVATE -fsanitize=fuzzer-no-link -Wno-format-nonliteral)
  endforeach()
endif()

foreach(src ${fuzz_srcs})
  get_filename_component(fname ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" short ${fname})
  add_executable(${fname}_replay ${src} ${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.c)
  target_link_libraries(${fname}_replay ${fuzz_libs})
  if(EXISTS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${short})
    add_test(NAME fuzz.replay.${short}
             COMMAND ${fname}_replay ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${short})
    set_tests_properties(fuzz.replay.${short} PROPERTIES LABELS "fuzz;unit" TIMEOUT 300)
  endif()
  if(TESSERA_FUZZ)
    add_executable(${fname} ${src})
    target_compile_options(${fname} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${fname} ${fuzz_libs})
    target_link_options(${fname} PRIVATE -fsanitize=fuzzer)
  endif()
endforeach()
