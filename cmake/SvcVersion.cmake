# The git commit is baked in at configure time; a build outside a checkout says "unknown".
execute_process(COMMAND git rev-parse --short=12 HEAD
                WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                OUTPUT_VARIABLE SVC_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE
                ERROR_QUIET RESULT_VARIABLE _svc_git_rc)
if(NOT _svc_git_rc EQUAL 0 OR SVC_GIT_COMMIT STREQUAL "")
  set(SVC_GIT_COMMIT "unknown")
endif()
execute_process(COMMAND git status --porcelain --untracked-files=no
                WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                OUTPUT_VARIABLE _svc_dirty ERROR_QUIET)
if(NOT _svc_dirty STREQUAL "")
  set(SVC_GIT_COMMIT "${SVC_GIT_COMMIT}-dirty")
endif()
configure_file(${PROJECT_SOURCE_DIR}/common/version.cpp.in
               ${PROJECT_BINARY_DIR}/generated/version.cpp @ONLY)
