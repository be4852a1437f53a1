# mutants.cmake — does an exercise's test.cpp catch the wrong answers students
# really write? Every file of NN-slug/mutants/ is a whole exercise.cpp with one
# plausible bug, and opens with a header, then a blank line:
#
#   // mutant: softmax without the max subtracted: exp(1e4) overflows to inf
#   // expect: row max not subtracted?
#
# `mutant:` states the bug in one line; `expect:` (one or more) is text that the
# failure messages must hold, so that a test failing for another reason than the
# bug (or with a message that does not point at it) is caught too. A "// " line
# after either continues it (keep lines within 100 columns). Each mutant is
# compiled with test.cpp exactly as a submission is graded (test_program.cmake,
# the same flags) and must compile, run to the end, fail at least one test case,
# and show every expected text in the messages of its failed test cases. One
# line per mutant says which test cases caught it.
#
#   cmake -DSLUG=01-online-softmax -DEXERCISE_DIR=<exercises/NN-slug> -DWORK_DIR=<scratch>
#         -DCXX=<compiler> -DFLAGS=<|-list> -DCOMMON_DIR=<exercises/common>
#         -DMAIN_LIB=<libmemlab_exercise_main.a> [-DPCH_DIR=<folder of prelude.hpp.gch>]
#         [-DRUN_TIMEOUT=10] [-DONLY=<regex of mutant file names>] -P mutants.cmake
#
# `ctest -L mutants -V` shows the line per mutant.
cmake_minimum_required(VERSION 3.25)

include("${CMAKE_CURRENT_LIST_DIR}/test_program.cmake")
memlab_require(mutants.cmake SLUG EXERCISE_DIR WORK_DIR CXX FLAGS COMMON_DIR MAIN_LIB)
if(NOT DEFINED RUN_TIMEOUT)
  set(RUN_TIMEOUT 10)
endif()

file(GLOB mutants RELATIVE "${EXERCISE_DIR}/mutants" "${EXERCISE_DIR}/mutants/*.cpp")
list(SORT mutants)
if(DEFINED ONLY)  # while writing one: -DONLY=<regex of file names>
  list(FILTER mutants INCLUDE REGEX "${ONLY}")
endif()
list(LENGTH mutants count)
if(count EQUAL 0)
  message(FATAL_ERROR "${SLUG}: no mutants in ${EXERCISE_DIR}/mutants/")
endif()

# The `// mutant:` line and the `// expect:` lines at the top of a mutant; the
# expected texts as a list of memlab_lines() items (decode with memlab_line()).
function(read_header file out_bug out_expects)
  file(READ "${file}" head LIMIT 4000)
  memlab_lines("${head}" head)
  set(bug "")
  set(expects "")
  set(last "")
  foreach(item IN LISTS head)
    if(item MATCHES "^// mutant: (.+)$")
      memlab_line("${CMAKE_MATCH_1}" bug)
      set(last bug)
    elseif(item MATCHES "^// expect: (.+)$")
      list(APPEND expects "${CMAKE_MATCH_1}")
      set(last expect)
    elseif(item MATCHES "^// (.+)$" AND last STREQUAL "bug")  # a line wrapped at 100 columns
      memlab_line("${CMAKE_MATCH_1}" more)
      string(APPEND bug " ${more}")
    elseif(item MATCHES "^// (.+)$" AND last STREQUAL "expect")
      list(POP_BACK expects previous)
      list(APPEND expects "${previous} ${CMAKE_MATCH_1}")
    else()
      break()
    endif()
  endforeach()
  set(${out_bug} "${bug}" PARENT_SCOPE)
  set(${out_expects} "${expects}" PARENT_SCOPE)
endfunction()

# The text of one failure event (a failed check or a message): its INFO / message
# contexts and its values, one per line.
function(failure_text json out_text)
  set(text "")
  string(JSON contexts ERROR_VARIABLE error LENGTH "${json}" context)
  if(NOT error AND contexts GREATER 0)
    math(EXPR last "${contexts} - 1")
    foreach(i RANGE ${last})
      string(JSON context GET "${json}" context ${i})
      string(APPEND text "${context}\n")
    endforeach()
  endif()
  foreach(field values text)
    string(JSON value ERROR_VARIABLE error GET "${json}" ${field})
    if(NOT error AND NOT value STREQUAL "false")
      string(APPEND text "${value}\n")
    endif()
  endforeach()
  set(${out_text} "${text}" PARENT_SCOPE)
endfunction()

set(problems "")
foreach(mutant IN LISTS mutants)
  set(file "${EXERCISE_DIR}/mutants/${mutant}")
  read_header("${file}" bug expects)
  if(bug STREQUAL "" OR expects STREQUAL "")
    string(APPEND problems "\n  ${mutant}: its first lines must be `// mutant: <the bug, in one "
                           "line>` and `// expect: <text its failure messages must hold>`")
    continue()
  endif()
  string(REGEX REPLACE "\\.cpp$" "" name "${mutant}")
  set(dir "${WORK_DIR}/${name}")
  configure_file("${file}" "${dir}/submission/exercise.cpp" COPYONLY)
  memlab_compile_test("${EXERCISE_DIR}" "${dir}/submission" "${dir}" compiled log)
  if(NOT compiled)
    string(SUBSTRING "${log}" 0 2000 log)  # the first errors say it
    message("${mutant}:\n${log}")
    string(APPEND problems "\n  ${mutant}: does not compile (a mutant is a submission that compiles)")
    continue()
  endif()
  memlab_run_test("${dir}/test" ${RUN_TIMEOUT} status out --reporters=memlab)

  # The failed test cases, and the text of their failures.
  set(running "")
  set(failed_cases "")
  set(failing 0)
  set(failures "")
  set(case_text "")
  set(summary "")
  memlab_lines("${out}" lines)
  foreach(item IN LISTS lines)
    memlab_line("${item}" line)
    string(JSON event ERROR_VARIABLE error GET "${line}" event)
    if(error)
      continue()  # the program's own output
    endif()
    if(event STREQUAL "start")
      string(JSON running GET "${line}" name)
      set(case_text "")
    elseif(event STREQUAL "assert" OR event STREQUAL "message")
      failure_text("${line}" text)
      string(APPEND case_text "${text}")
    elseif(event STREQUAL "end")
      string(JSON passed GET "${line}" passed)
      if(NOT passed)
        if(failing GREATER 0)
          string(APPEND failed_cases ", ")
        endif()
        string(APPEND failed_cases "“${running}”")
        math(EXPR failing "${failing} + 1")
        string(APPEND failures "${case_text}")
      endif()
      set(running "")
    elseif(event STREQUAL "summary")
      string(JSON cases GET "${line}" cases)
      set(summary "${cases}")
    endif()
  endforeach()

  if(summary STREQUAL "")
    if(running)
      set(status "${status}, in test case “${running}”")
    endif()
    string(APPEND problems "\n  ${mutant}: the tests did not run to the end (${status})")
    continue()
  endif()
  if(failing EQUAL 0)
    string(APPEND problems "\n  ${mutant}: SURVIVES — passes all ${summary} test cases (${bug})")
    continue()
  endif()

  # Every expected text must be in the failure messages; show the line holding it.
  set(shown "")
  set(missing "")
  foreach(item IN LISTS expects)
    memlab_line("${item}" expect)
    string(FIND "${failures}" "${expect}" at)
    if(at EQUAL -1)
      if(missing)
        string(APPEND missing " and ")
      endif()
      string(APPEND missing "“${expect}”")
    else()
      string(SUBSTRING "${failures}" 0 ${at} before)
      string(FIND "${before}" "\n" start REVERSE)
      math(EXPR start "${start} + 1")
      string(SUBSTRING "${failures}" ${start} -1 rest)
      string(FIND "${rest}" "\n" end)
      string(SUBSTRING "${rest}" 0 ${end} matched)
      string(APPEND shown "\n      ${matched}")
    endif()
  endforeach()
  if(missing)
    string(SUBSTRING "${failures}" 0 3000 failures)
    string(REPLACE "\n" "\n      " failures "${failures}")
    string(APPEND problems "\n  ${mutant}: fails ${failed_cases}, but its messages lack ${missing} — "
                           "a test failing for another reason than the bug? They say:\n      ${failures}")
    continue()
  endif()
  message("caught: ${mutant} — ${bug}\n"
          "    fails ${failing} of ${summary} test cases: ${failed_cases}${shown}")
endforeach()

if(problems)
  message(FATAL_ERROR "${SLUG}: mutants not caught as expected:${problems}")
endif()
message("${SLUG}: all ${count} mutants caught, each with its expected message")
