# test_program.cmake — build and run one exercise's test program; included by
# grade.cmake (one verdict per submission) and mutants.cmake (the mutant suite).
#
# test.cpp does `#include "exercise.cpp"`, and a quoted include looks first in
# the including file's own folder. So test.cpp is copied into the work folder,
# where there is no exercise.cpp, and the submission's folder comes first on the
# quoted path: the exercise.cpp compiled is the submission's.
#
# Both need: CXX, FLAGS (a ;-list), COMMON_DIR, MAIN_LIB and optionally PCH_DIR
# (a folder holding prelude.hpp.gch, the prelude precompiled with FLAGS: g++
# then skips parsing doctest and the standard headers; without it, or when the
# flags differ, g++ reads prelude.hpp itself and the result is the same).

# Stops the calling script, named `script`, when one of the variables after it
# is not set; then turns FLAGS from its "|"-separated form (a ";" would split
# the ctest command line) into a list.
macro(memlab_require script)
  foreach(var IN ITEMS ${ARGN})
    if(NOT DEFINED ${var})
      message(FATAL_ERROR "${script}: -D${var}=... missing")
    endif()
  endforeach()
  string(REPLACE "|" ";" FLAGS "${FLAGS}")
endmacro()

# Compiles TEST_DIR/test.cpp with SUBMISSION_DIR/exercise.cpp into WORK_DIR/test.
# Sets ${out_ok} (ON/OFF) and ${out_log} (the compiler's output).
function(memlab_compile_test test_dir submission_dir work_dir out_ok out_log)
  file(MAKE_DIRECTORY "${work_dir}")
  file(COPY_FILE "${test_dir}/test.cpp" "${work_dir}/test.cpp" ONLY_IF_DIFFERENT)
  set(pch "")
  if(PCH_DIR AND EXISTS "${PCH_DIR}/prelude.hpp.gch")
    set(pch -I "${PCH_DIR}")
  endif()
  file(REMOVE "${work_dir}/test")
  execute_process(
    COMMAND "${CXX}" ${FLAGS} ${pch} -include prelude.hpp
            "-fmacro-prefix-map=${work_dir}=${test_dir}"
            -iquote "${submission_dir}" -I "${COMMON_DIR}"
            "${work_dir}/test.cpp" "${MAIN_LIB}" -o "${work_dir}/test"
    RESULT_VARIABLE status
    OUTPUT_VARIABLE log ERROR_VARIABLE log)
  if(status EQUAL 0)
    set(${out_ok} ON PARENT_SCOPE)
  else()
    set(${out_ok} OFF PARENT_SCOPE)
  endif()
  set(${out_log} "${log}" PARENT_SCOPE)
endfunction()

# Runs a test program (arguments after `timeout`) for at most `timeout` seconds.
# Sets ${out_status} (its exit status, or the reason it stopped) and ${out_text}
# (stdout and stderr).
function(memlab_run_test program timeout out_status out_text)
  execute_process(COMMAND "${program}" ${ARGN} TIMEOUT ${timeout}
    RESULT_VARIABLE status OUTPUT_VARIABLE text ERROR_VARIABLE text)
  set(${out_status} "${status}" PARENT_SCOPE)
  set(${out_text} "${text}" PARENT_SCOPE)
endfunction()

# The lines of `text` as a list. ";", "[" and "]" are replaced by the
# placeholders below: ";" separates list items, CMake does not split a list
# inside brackets, and a message may hold an unmatched one. memlab_line()
# gives back a line as it was.
function(memlab_lines text out_list)
  string(REPLACE ";" "<memlab:sc>" text "${text}")
  string(REPLACE "[" "<memlab:lb>" text "${text}")
  string(REPLACE "]" "<memlab:rb>" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")
  set(${out_list} "${lines}" PARENT_SCOPE)
endfunction()

function(memlab_line item out_line)
  string(REPLACE "<memlab:sc>" ";" item "${item}")
  string(REPLACE "<memlab:lb>" "[" item "${item}")
  string(REPLACE "<memlab:rb>" "]" item "${item}")
  set(${out_line} "${item}" PARENT_SCOPE)
endfunction()
