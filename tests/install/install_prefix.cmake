# cmake -DBUILD_DIR=... -DPREFIX=... -P install_prefix.cmake: a clean install of the build tree into
# PREFIX, so that nothing left from an earlier run can make an example pass.
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install ${BUILD_DIR} --prefix ${PREFIX} failed: ${rc}")
endif()
foreach(f include/deit/deit.h)
  if(NOT EXISTS "${PREFIX}/${f}")
    message(FATAL_ERROR "install_prefix: ${PREFIX}/${f} was not installed")
  endif()
endforeach()
