#!/usr/bin/env bash
# retry-failed.sh [go test flags] PACKAGES... — runs `go test` with the given arguments; each
# package that fails gets one more run, and the run fails if any fails again. make test runs every
# package through it: multi-process tests (a broker, databases, worker processes, browsers) can
# miss a deadline on a loaded 2-core host, and one such miss should not stop the run. What
# is run again depends on how the package failed:
#   - only some tests failed (their `--- FAIL: TestX` lines, then the test binary's closing
#     `FAIL`): those tests, alone (-run '^(TestX|TestY)$'), in that package only;
#   - anything else — a panic (a test timing out included), a fatal runtime error, a test binary
#     that exited before its closing `FAIL` (os.Exit, a crash), or a `FAIL <pkg>` naming no failed
#     test (TestMain, a leak check): the whole package, since the tests after the failure never ran;
#   - a package that did not build (`[build failed]`, `[setup failed]`), or whose tests the race
#     detector failed (`WARNING: DATA RACE`: a race is a bug whether or not the next run meets it):
#     nothing is run again and the run fails.
# Every retry is printed, with the reason, so a flake is seen, not hidden. GO names the go command.
# A flag's value follows it as `-flag=value`, or as the next argument for go test's own flags.
set -uo pipefail
go=${GO:-go}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# The flags, for running one package again: every argument but the packages. Arguments from
# -args on go to the test binary and are kept after the package.
value_flags=" run skip timeout count p parallel cpu tags bench benchtime coverprofile covermode coverpkg o exec \
  ldflags gcflags asmflags mod modfile outputdir shuffle list fuzz fuzztime fuzzminimizetime memprofile \
  memprofilerate cpuprofile blockprofile blockprofilerate mutexprofile mutexprofilefraction trace vet pgo pkgdir \
  toolexec overlay C compiler gccgoflags installsuffix buildmode "
flags=() binary_args=()
set_flags() {
  while [ $# -gt 0 ]; do
    case "$1" in
      -args | --args) binary_args=("$@"); return ;;
      -*=*) flags+=("$1") ;;
      -*)
        flags+=("$1")
        local name=${1#-}; name=${name#-}; name=${name#test.}
        if [[ $value_flags == *" $name "* ]] && [ $# -gt 1 ]; then flags+=("$2"); shift; fi ;;
      *) ;; # a package
    esac
    shift
  done
}
set_flags "$@"

"$go" test "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] && exit 0

# One line per failed package, from the output of each (go test prints a package's output
# together, ended by its `ok`/`FAIL`/`?` line):
#   build PKG            it did not build
#   race PKG             the race detector reported a data race
#   tests PKG A|B        only tests A and B failed
#   whole PKG REASON     it failed otherwise
failures=$(awk -F'\t' '
  function reset() { names = ""; closed = 0; crash = ""; race = 0 }
  BEGIN { reset() }
  /^(ok  |\?   )\t/ { reset(); next }
  /^FAIL\t/ {
    pkg = $2
    if (pkg ~ / \[(build|setup) failed\]$/) {
      sub(/ \[(build|setup) failed\]$/, "", pkg); print "build\t" pkg
    } else if (race) {
      print "race\t" pkg
    } else if (crash != "") {
      print "whole\t" pkg "\t" crash " (the tests after it did not run)"
    } else if (names == "") {
      print "whole\t" pkg "\tFAIL with no failed test named (TestMain, a leak check or os.Exit)"
    } else if (!closed) {
      print "whole\t" pkg "\tits test binary exited before finishing its tests (os.Exit or a crash)"
    } else {
      print "tests\t" pkg "\t" substr(names, 2)
    }
    reset(); next
  }
  /^--- FAIL: / { split($0, f, " "); if (index("|" names "|", "|" f[3] "|") == 0) names = names "|" f[3]; next }
  /^FAIL$/ { closed = 1; next }
  /^WARNING: DATA RACE$/ { race = 1; next }
  /^(panic: |fatal error: |\*\*\* Test killed)/ { if (crash == "") crash = $0; next }
' "$log")

if [ -z "$failures" ]; then
  echo "retry-failed: go test failed (exit $rc) without a failed package to run again"
  exit "$rc"
fi
if grep -q '^build' <<<"$failures"; then
  echo "retry-failed: not retrying anything: $(awk -F'\t' '$1 == "build" { printf "%s%s", sep, $2; sep = ", " }' <<<"$failures") did not build"
  exit "$rc"
fi
if grep -q '^race' <<<"$failures"; then
  echo "retry-failed: not retrying anything: the race detector failed $(awk -F'\t' '$1 == "race" { printf "%s%s", sep, $2; sep = ", " }' <<<"$failures")"
  exit "$rc"
fi

failed_again=()
while IFS=$'\t' read -r kind pkg detail; do
  if [ "$kind" = tests ]; then
    echo "retry-failed: $pkg: ${detail//|/ } failed; running them once more, alone"
    "$go" test ${flags[@]+"${flags[@]}"} -run "^(${detail})\$" "$pkg" ${binary_args[@]+"${binary_args[@]}"} || failed_again+=("$pkg (${detail//|/ })")
  else
    echo "retry-failed: $pkg: $detail: running the whole package once more"
    "$go" test ${flags[@]+"${flags[@]}"} "$pkg" ${binary_args[@]+"${binary_args[@]}"} || failed_again+=("$pkg (whole package)")
  fi
done <<<"$failures"

if [ ${#failed_again[@]} -gt 0 ]; then
  echo "retry-failed: failed again: $(printf '%s, ' "${failed_again[@]}" | sed 's/, $//')"
  exit 1
fi
echo "retry-failed: every retry passed (flaky, see above): $(cut -f2 <<<"$failures" | paste -sd' ' -)"
