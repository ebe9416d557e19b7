// White-box tests of libdeit/core/json: the limits that hostile safetensors headers and checkpoint metadata
// meet on top of nlohmann's parser (depth, value count, duplicate keys, non-finite numbers, int64 typing),
// the strict dump, and the typed reads whose errors name the key.
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "check.h"
#include "core/error.h"
#include "core/json.h"

namespace {

using deit_test::check;
using deit_test::report;

using namespace deit;

// Runs f; true when it throws a deit::Error of `status` whose message contains `needle`.
bool throws(const std::function<void()>& f, deit_status status, const std::string& needle) {
  try {
    f();
  } catch (const Error& e) {
    const bool ok = e.status() == status && std::string(e.what()).find(needle) != std::string::npos;
    if (!ok) std::printf("     got status %d: %s\n", static_cast<int>(e.status()), e.what());
    return ok;
  } catch (const std::exception& e) {
    std::printf("     got a non-deit exception: %s\n", e.what());
    return false;
  }
  std::printf("     no exception\n");
  return false;
}

void test_parse_and_order() {
  const Json j = parse_json(R"( {"b": 1, "a": [true, null, "x"], "c": {"d": -2.5}} )");
  std::string keys;
  for (const auto& m : j.items()) keys += m.key();
  check(keys == "bac", "objects keep the order of the text (got " + keys + ")");
  check(dump_json(j) == R"({"b":1,"a":[true,null,"x"],"c":{"d":-2.5}})", "compact dump round-trips");
  check(throws([] { parse_json("{\"a\": 1} x"); }, DEIT_E_FORMAT, "JSON: "), "text after the value is refused");
  check(throws([] { parse_json("{\"a\": 1,}"); }, DEIT_E_FORMAT, "at offset"), "a trailing comma is refused, with an offset");
  check(throws([] { parse_json(""); }, DEIT_E_FORMAT, "JSON: "), "empty input is refused");
  check(throws([] { parse_json(nullptr, 3); }, DEIT_E_INVALID_ARG, "null input"), "null input with a size is refused");
}

void test_limits() {
  JsonParseOptions depth3;
  depth3.max_depth = 3;
  check(parse_json("[[[1]]]", depth3).is_array(), "depth 3 within a limit of 3");
  check(throws([&] { parse_json("[[[[1]]]]", depth3); }, DEIT_E_FORMAT, "nesting deeper than 3"),
        "depth 4 over a limit of 3");
  check(throws([] { parse_json(std::string(100000, '[')); }, DEIT_E_FORMAT, "nesting deeper than 64"),
        "100,000 open brackets stop at the default depth");
  JsonParseOptions five;
  five.max_values = 5;
  check(parse_json("[1, 2, 3, 4]", five).size() == 4, "5 values (the array and 4 numbers) within a limit of 5");
  check(throws([&] { parse_json("[1, 2, 3, 4, 5]", five); }, DEIT_E_FORMAT, "more than 5 values"),
        "6 values over a limit of 5");
}

void test_duplicates() {
  check(throws([] { parse_json(R"({"a": 1, "a": 2})"); }, DEIT_E_FORMAT, "duplicate key 'a'"),
        "a repeated key is an error by default");
  std::vector<std::string> seen;
  JsonParseOptions report;
  report.on_duplicate = [&](const std::vector<std::string>& path, const std::string& key) {
    std::string p;
    for (const std::string& k : path) p += k + "/";
    seen.push_back(p + key);
  };
  const Json j = parse_json(R"({"a": 1, "t": {"x": [1], "y": 0, "x": {"deep": 1, "deep": 2}}, "a": {"b": 3}})", report);
  check(seen.size() == 3 && seen[0] == "t/x" && seen[1] == "t/x/deep" && seen[2] == "a",
        "on_duplicate gets each repeated key with its object's path (" + std::to_string(seen.size()) + " calls)");
  check(j["a"] == 1 && j["t"]["x"] == Json::array({1}) && j["t"].size() == 2,
        "the first value stays, the repeated one is dropped");
  // 200,000 distinct keys: the duplicate check is a hash set, not ordered_map's linear search.
  std::string many = "{";
  for (int k = 0; k < 200000; ++k) many += (k ? ",\"" : "\"") + std::to_string(k) + "\":0";
  many += "}";
  check(parse_json(many).size() == 200000, "200,000 keys parse");
}

void test_strings_and_numbers() {
  check(throws([] { parse_json("[\"\xC3\x28\"]"); }, DEIT_E_FORMAT, "JSON: "), "invalid UTF-8 is refused");
  check(throws([] { parse_json(R"(["\ud808"])"); }, DEIT_E_FORMAT, "JSON: "), "a lone high surrogate is refused");
  check(throws([] { parse_json("[\"a\x01\"]"); }, DEIT_E_FORMAT, "JSON: "), "a raw control character is refused");
  check(throws([] { parse_json("[1e427]"); }, DEIT_E_FORMAT, "JSON: number overflow parsing '1e427'"),
        "1e427 is refused, not infinity");
  const Json n = parse_json("[9223372036854775807, 9223372036854775808, -9223372036854775808, 1.0, 3]");
  check(json_is_int(n[0]) && !json_is_int(n[1]) && json_is_int(n[2]) && !json_is_int(n[3]) && json_is_int(n[4]),
        "json_is_int: int64's range, no fraction or exponent");
}

void test_dump() {
  check(throws([] { dump_json(Json{{"x", std::nan("")}}); }, DEIT_E_INVALID_ARG, "non-finite"),
        "NaN is not written");
  check(throws([] { dump_json(Json::array({std::numeric_limits<double>::infinity()})); }, DEIT_E_INVALID_ARG,
               "non-finite"),
        "infinity inside an array is not written");
  check(throws([] { dump_json(Json{{"name", std::string("\xFF")}}); }, DEIT_E_INVALID_ARG, "not valid UTF-8"),
        "a string that is not UTF-8 is not written");
  check(dump_json(Json{{"a", 1}}, 2) == "{\n  \"a\": 1\n}", "pretty dump");
}

void test_typed_reads() {
  const Json j = parse_json(R"({"depth": "12", "n": 7, "big": 18446744073709551615, "r": 0.5, "s": "x", "b": true})");
  check(json_int(j, "n") == 7 && json_double(j, "r") == 0.5 && json_string(j, "s") == "x" && json_bool(j, "b"),
        "typed reads");
  check(json_double(j, "n") == 7.0, "an integer reads as a double");
  check(throws([&] { json_int(j, "depth"); }, DEIT_E_FORMAT, "key 'depth': expected an integer, got string"),
        "a wrong type names the key");
  check(throws([&] { json_int(j, "big"); }, DEIT_E_FORMAT, "key 'big': expected an integer, got integer beyond int64"),
        "an integer beyond int64 is not read as one");
  check(throws([&] { json_int(j, "r"); }, DEIT_E_FORMAT, "got non-integer number"), "0.5 is not an integer");
  check(throws([&] { json_string(j, "missing"); }, DEIT_E_FORMAT, "missing key 'missing'"), "a missing key");
  check(throws([] { json_int(Json::array(), "n"); }, DEIT_E_FORMAT, "expected an object, got array"),
        "a read from a non-object");
  check(json_int_or(j, "absent", -1) == -1, "the fallback when absent");
  check(throws([&] { json_int_or(j, "s", 0); }, DEIT_E_FORMAT, "key 's'"), "a fallback does not hide a wrong type");
  check(printable("a\x01\xFFz") == "a\\x01\\xFFz", "printable escapes control and non-UTF-8 bytes");
}

}  // namespace

int main() {
  test_parse_and_order();
  test_limits();
  test_duplicates();
  test_strings_and_numbers();
  test_dump();
  test_typed_reads();
  return report();
}
