# Third-party headers, all from Debian's -dev packages.
#
# Natively they are found the usual way. Under the Emscripten toolchain
# find_package cannot see the host's packages, and adding the host's
# /usr/include would pull glibc headers into the wasm build, so the header-only
# libraries (and doctest, for core's kernel tests compiled to wasm) are staged
# into a folder of their own in the build tree.

if(NOT EMSCRIPTEN)
  find_package(xtensor REQUIRED)
  find_package(doctest REQUIRED)
  find_package(CLI11 REQUIRED)
  find_package(nlohmann_json REQUIRED)
  if(MEMLAB_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                        -fno-sanitize-recover=undefined)
    add_link_options(-fsanitize=address,undefined)
  endif()
  if(MEMLAB_NATIVE_ARCH AND NOT MEMLAB_SANITIZE)
    add_compile_options(-march=native)
  endif()
  return()
endif()

set(staged "${CMAKE_BINARY_DIR}/staged-include")
foreach(lib xtensor xtl xsimd doctest)
  find_path(MEMLAB_${lib}_INCLUDE_DIR "${lib}" NO_CMAKE_FIND_ROOT_PATH
            PATHS /usr/include /usr/local/include)
  if(NOT MEMLAB_${lib}_INCLUDE_DIR)
    message(FATAL_ERROR "${lib} headers not found: install Debian's "
                        "libxtensor-dev xtl-dev libxsimd-dev doctest-dev (./lab does)")
  endif()
  file(MAKE_DIRECTORY "${staged}")
  file(CREATE_LINK "${MEMLAB_${lib}_INCLUDE_DIR}/${lib}" "${staged}/${lib}" SYMBOLIC)
endforeach()

add_library(xtensor INTERFACE)
target_include_directories(xtensor SYSTEM INTERFACE "${staged}")
# Native WebAssembly exceptions, not Emscripten's JS-based ones: with -fexceptions
# every call that may throw from a frame with cleanups goes through a JS
# trampoline (invoke_*), which made a one-token decoding step several times
# slower; -fwasm-exceptions costs nothing until something throws. Chromium and
# node >= 17 support it; Debian's Emscripten ships the libraries it links.
add_compile_options(-msimd128 -fwasm-exceptions)
add_link_options(-fwasm-exceptions)
