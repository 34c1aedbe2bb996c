# Compiler cache. A clean clone (CI, a new worktree) recompiles ~600 translation units, 13 minutes
# on two cores; with ccache the second and later clean builds on a machine take a minute or two.
# The cache key ignores where the checkout lives (base dir = the source dir, no cwd hashing), so a
# clone in /tmp reuses what /work compiled. Off with -DSVC_CCACHE=OFF; an explicit
# CMAKE_<LANG>_COMPILER_LAUNCHER from the command line wins.
option(SVC_CCACHE "Compile through ccache when it is installed" ON)
if(SVC_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  find_program(SVC_CCACHE_PROGRAM ccache)
  if(SVC_CCACHE_PROGRAM)
    set(_svc_launcher ${CMAKE_COMMAND} -E env CCACHE_BASEDIR=${PROJECT_SOURCE_DIR}
                      CCACHE_NOHASHDIR=1 ${SVC_CCACHE_PROGRAM})
    set(CMAKE_C_COMPILER_LAUNCHER ${_svc_launcher})
    set(CMAKE_CXX_COMPILER_LAUNCHER ${_svc_launcher})
    message(STATUS "svc: compiling through ${SVC_CCACHE_PROGRAM}")
  endif()
endif()
