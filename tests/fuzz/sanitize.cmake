# ASan + UBSan on every target of the build (DEIT_SANITIZE, and always with
# DEIT_BUILD_FUZZ): the library, the C tests and the fuzz targets are checked together.
# Included from the top-level CMakeLists.txt before any target is defined.
if(DEIT_BUILD_FUZZ AND NOT (CMAKE_C_COMPILER_ID MATCHES "Clang" AND CMAKE_CXX_COMPILER_ID MATCHES "Clang"))
  message(FATAL_ERROR "DEIT_BUILD_FUZZ needs clang (libFuzzer): configure with CC=clang-14 CXX=clang++-14 "
                      "(apt-get install clang-14 libclang-rt-14-dev), or run scripts/sanitize.sh")
endif()

# No recovery: the first UBSan report fails the test instead of scrolling by.
set(_deit_san -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  list(APPEND _deit_san -gline-tables-only)
else()
  list(APPEND _deit_san -g1)
endif()
add_compile_options(${_deit_san})
add_link_options(-fsanitize=address,undefined)

if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  # libdeit.so links with --no-undefined, so it must link the sanitizer runtime
  # itself: clang's shared one (gcc's libasan is shared by default), found at
  # run time through an rpath because it lives in clang's resource directory.
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libclang_rt.asan-x86_64.so
                  OUTPUT_VARIABLE _deit_asan_rt OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT EXISTS "${_deit_asan_rt}")
    message(FATAL_ERROR "clang's shared ASan runtime not found (${_deit_asan_rt}): apt-get install libclang-rt-14-dev")
  endif()
  get_filename_component(_deit_asan_dir "${_deit_asan_rt}" DIRECTORY)
  add_link_options(-shared-libasan "LINKER:-rpath,${_deit_asan_dir}")
endif()
message(STATUS "libdeit: ASan + UBSan build (${_deit_san})")

# Options for every ctest entry of this build (tests/CMakeLists.txt, tests/fuzz/CMakeLists.txt):
# - verify_asan_link_order=0: with the shared runtime, libstdc++ is loaded before it in the
#   fuzz targets; malloc/free are still ASan's (libstdc++ defines none).
# - LeakSanitizer stays on; tests/fuzz/lsan.supp lists what LibTorch itself never frees.
set(DEIT_SANITIZER_ENV
  "ASAN_OPTIONS=verify_asan_link_order=0:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
  "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
  "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/fuzz/lsan.supp:print_suppressions=0")
