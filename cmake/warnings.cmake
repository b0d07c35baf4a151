# Warnings for the project's own targets only: og_warnings is linked PRIVATE by each of them, so
# third-party headers included as system headers never trip -Werror.
add_library(og_warnings INTERFACE)
target_compile_options(og_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                             -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough)
if(OG_WERROR)
  target_compile_options(og_warnings INTERFACE -Werror)
endif()
# GCC's -Wmaybe-uninitialized reports false positives inside libstdc++ (<regex>, std::function) once
# sanitizer instrumentation changes inlining; the uninstrumented -O2 build keeps the warning.
if(OG_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(og_warnings INTERFACE -Wno-maybe-uninitialized)
endif()

# GCC 12 at -O3 (the Release build) reports -Wrestrict inside libstdc++ for `"literal" + std::string`
# (GCC bug 105329, fixed in GCC 13); -O2 builds keep the warning.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(og_warnings INTERFACE $<$<CONFIG:Release>:-Wno-restrict>)
endif()
