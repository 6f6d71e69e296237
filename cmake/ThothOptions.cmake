# Warnings and sanitizers for every Thoth target.
# THOTH_SANITIZE: "" (off), "address" (ASan+UBSan) or "thread" (TSan).
set(THOTH_SANITIZE "" CACHE STRING "Sanitizer build: address or thread")

add_compile_options(-Wall -Wextra -Wno-psabi)

if(THOTH_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(THOTH_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT THOTH_SANITIZE STREQUAL "")
  message(FATAL_ERROR "THOTH_SANITIZE must be empty, address or thread")
endif()
if(NOT THOTH_SANITIZE STREQUAL "")
  # After the build type's flags, so these win: -O1 and line tables compile a sanitizer
  # build in ~60 % of the time of -O2 -g (CI builds three times on two cores), and the
  # reports still name file and line.
  add_compile_options(-O1 -g1)
endif()

# Adds a GoogleTest executable for a subsystem: thoth_add_test(NAME SOURCES... LIBS ...)
function(thoth_add_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} thoth_test_support GTest::gtest GTest::gtest_main Threads::Threads)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60)
endfunction()

# Declares subsystem library thoth_<name> from the .cpp files in the current folder and its
# test executable thoth_<name>_test from the *_test.cpp files beside them.
#   thoth_subsystem(NAME asr DEPS thoth_core ... TEST_DEPS ...)
function(thoth_subsystem)
  cmake_parse_arguments(S "" "NAME" "DEPS;TEST_DEPS" ${ARGN})
  file(GLOB all_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  set(sources "")
  set(tests "")
  foreach(f IN LISTS all_sources)
    if(f MATCHES "_test\\.cpp$")
      list(APPEND tests ${f})
    elseif(NOT f MATCHES "_(fuzz|main)\\.cpp$")
      list(APPEND sources ${f})
    endif()
  endforeach()
  if(NOT sources)
    return()  # subsystem not written yet; dependents link it with $<TARGET_NAME_IF_EXISTS:...>
  endif()
  add_library(thoth_${S_NAME} STATIC ${sources})
  target_include_directories(thoth_${S_NAME} PUBLIC ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(thoth_${S_NAME} PUBLIC ${S_DEPS} Threads::Threads)
  if(tests)
    thoth_add_test(thoth_${S_NAME}_test SOURCES ${tests} LIBS thoth_${S_NAME} ${S_TEST_DEPS})
  endif()
endfunction()
