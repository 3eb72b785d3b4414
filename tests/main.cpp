// The test runner: every tests/*.cpp adds its cases; CTest runs each case
// separately (doctest_discover_tests in CMakeLists.txt).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
