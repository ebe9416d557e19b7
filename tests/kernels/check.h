// The white-box tests' one assertion: prints ok/FAIL with what was checked and counts the failures, so
// that one run reports every broken check instead of stopping at the first.
#pragma once

#include <cstdio>
#include <string>

namespace deit_test {

inline int failures = 0;

inline void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

// main's return value after the summary line.
inline int report() {
  std::printf("%s: %d failure(s)\n", failures ? "FAIL" : "ok", failures);
  return failures ? 1 : 0;
}

}  // namespace deit_test
