# grade.cmake — compile one exercise's test program and run it; one verdict line.
#
#   cmake -DSLUG=01-online-softmax -DTEST_DIR=<folder of test.cpp>
#         -DSUBMISSION_DIR=<folder of the exercise.cpp to grade> -DWORK_DIR=<scratch>
#         -DCXX=<compiler> -DFLAGS=<;-list> -DCOMMON_DIR=<exercises/common>
#         -DMAIN_LIB=<libmemlab_exercise_main.a> [-DPCH_DIR=<folder of prelude.hpp.gch>]
#         [-DEXPECT=pass|fail] [-DRUN_TIMEOUT=10] [-DVERDICT_FILE=<file>]
#         -P grade.cmake
#
# The test program is built at test time, not at build time, so that a
# submission that does not compile is a failed verdict with the compiler's
# message, and the other exercises are still graded (test_program.cmake).
#
# EXPECT=pass (the default) succeeds when every test case passes. EXPECT=fail is
# the other half of the both-ways check: the skeleton must compile, run to the
# end and fail every one of its test cases, which proves each case can fail.
#
# VERDICT_FILE, when given, receives the verdict as one word and its figures, for
# the gradebook (tools/grade/grade-class): `passed P T`, `failed F T` (F of T test
# cases failed), `compile-error`, `timeout CASE`, `crashed CASE` (the tests did not
# run to the end; CASE is the test case that was running, maybe empty), `missing`.
# These are the page's verdicts (web/src/exercises/results.js) for the same file.
cmake_minimum_required(VERSION 3.25)

include("${CMAKE_CURRENT_LIST_DIR}/test_program.cmake")
memlab_require(grade.cmake SLUG TEST_DIR SUBMISSION_DIR WORK_DIR CXX FLAGS COMMON_DIR MAIN_LIB)
if(NOT DEFINED EXPECT)
  set(EXPECT pass)
endif()
if(NOT DEFINED RUN_TIMEOUT)
  set(RUN_TIMEOUT 10)
endif()

# The verdict line; a failed one ends the script with a non-zero status.
# kind: what VERDICT_FILE receives (see above).
function(verdict ok kind text)
  if(DEFINED VERDICT_FILE)
    file(WRITE "${VERDICT_FILE}" "${kind}\n")
  endif()
  if(ok)
    message("${SLUG}: ${text}")
  else()
    message(FATAL_ERROR "${SLUG}: ${text}")
  endif()
endfunction()

set(exercise "${SUBMISSION_DIR}/exercise.cpp")
if(NOT EXISTS "${exercise}")
  verdict(OFF missing "FAIL — no submission (${exercise} does not exist)")
endif()

memlab_compile_test("${TEST_DIR}" "${SUBMISSION_DIR}" "${WORK_DIR}" compiled log)
if(NOT compiled)
  message("${log}")
  verdict(OFF compile-error "FAIL — does not compile (${exercise})")
endif()

# doctest's console report for the grader, and memlab's JSON lines (main.cpp) to
# name the test case that was running when a run times out or crashes.
memlab_run_test("${WORK_DIR}/test" ${RUN_TIMEOUT} status out --reporters=console,memlab)
set(running "")
set(report "")
memlab_lines("${out}" lines)
foreach(item IN LISTS lines)
  memlab_line("${item}" line)
  if(line MATCHES "^{\"event\":\"start\",\"name\":\"(.*)\",\"line\"")
    set(running "${CMAKE_MATCH_1}")
  elseif(line MATCHES "^{\"event\":\"end\"")
    set(running "")
  elseif(NOT line MATCHES "^{\"event\":")
    string(APPEND report "${line}\n")
  endif()
endforeach()
message("${report}")
set(out "${report}")

# doctest's summary: "[doctest] test cases: 5 | 3 passed | 2 failed | 0 skipped"
if(out MATCHES "test cases: *([0-9]+) \\| *([0-9]+) passed \\| *([0-9]+) failed")
  set(total ${CMAKE_MATCH_1})
  set(passed ${CMAKE_MATCH_2})
  set(failed ${CMAKE_MATCH_3})
else()
  # killed by the timeout, a signal, or an abort before the summary
  if(status MATCHES "timeout")
    set(kind "timeout ${running}")
  else()
    set(kind "crashed ${running}")
  endif()
  if(running)
    set(status "${status}, in test case \"${running}\"")
  endif()
  verdict(OFF "${kind}" "FAIL — the tests did not run to the end (${status})")
endif()

if(EXPECT STREQUAL "pass")
  if(status EQUAL 0 AND failed EQUAL 0 AND total GREATER 0)
    verdict(ON "passed ${passed} ${total}" "PASS — ${passed}/${total} test cases")
  else()
    verdict(OFF "failed ${failed} ${total}" "FAIL — ${passed}/${total} test cases pass")
  endif()
else()
  if(passed EQUAL 0 AND total GREATER 0)
    verdict(ON "failed ${failed} ${total}" "as expected, the skeleton fails all ${total} test cases")
  else()
    verdict(OFF "failed ${failed} ${total}" "the skeleton passes ${passed}/${total} test cases: a test that cannot fail")
  endif()
endif()
