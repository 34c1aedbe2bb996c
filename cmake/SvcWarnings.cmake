# Warning flags for the project's own targets only (generated protobuf code is compiled without
# them; see api/CMakeLists.txt). No -Wpedantic: SVC_TRY uses GNU statement expressions on purpose
# (g++ and clang both support them) to keep call sites flat.
function(svc_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor)
  if(SVC_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      # g++ 12 at -O2 reports std::string/optional members inside libstdc++ as "maybe
      # uninitialized" (GCC bug 105562 and friends): keep the warning, not the build failure.
      target_compile_options(${target} PRIVATE -Wno-error=maybe-uninitialized)
    endif()
  endif()
endfunction()
