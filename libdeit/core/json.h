// A small JSON value: what checkpoint metadata and `describe` output need.
// Strict RFC 8259 parsing (UTF-8 checked, depth and size limited, duplicate
// keys rejected by default) so hostile files fail with DEIT_E_FORMAT instead
// of crashing; objects keep insertion order so dumps are stable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace deit {

class Json {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;

  struct ParseOptions {
    size_t max_depth = 64;                                   // nesting of arrays/objects
    size_t max_values = std::numeric_limits<size_t>::max();  // bounds memory on hostile input
    bool allow_duplicate_keys = false;                       // kept in order when allowed
  };

  Json() = default;
  Json(std::nullptr_t) {}
  Json(bool b) : type_(Type::Bool), bool_(b) {}
  Json(int v) : Json(IntTag{}, v) {}
  Json(long v) : Json(IntTag{}, v) {}
  Json(long long v) : Json(IntTag{}, v) {}
  Json(unsigned v) : Json(IntTag{}, v) {}
  Json(unsigned long v) : Json(static_cast<unsigned long long>(v)) {}
  Json(unsigned long long v);  // a double when above INT64_MAX
  Json(double v) : type_(Type::Number), num_(v) {}
  Json(const char* s) : type_(Type::String), str_(s) {}
  Json(std::string s) : type_(Type::String), str_(std::move(s)) {}
  Json(Array a);
  Json(Object o);

  Json(const Json& other);
  Json(Json&& other) noexcept = default;
  Json& operator=(const Json& other);
  Json& operator=(Json&& other) noexcept = default;
  ~Json() = default;

  static Json array() { return Json(Array{}); }
  static Json object() { return Json(Object{}); }

  // Parse one JSON text (surrounding whitespace allowed).  Throws
  // deit::Error(DEIT_E_FORMAT, "JSON: <what> at offset N").
  static Json parse(const std::string& text, const ParseOptions& options);
  static Json parse(const std::string& text) { return parse(text, ParseOptions{}); }
  static Json parse(const char* data, size_t size, const ParseOptions& options);

  // Compact when indent < 0, else pretty with `indent` spaces per level.
  // Throws DEIT_E_INVALID_ARG for NaN/infinity or a string that is not UTF-8.
  std::string dump(int indent = -1) const;

  Type type() const { return type_; }
  static const char* type_name(Type t);
  const char* type_name() const { return type_name(type_); }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_number() const { return type_ == Type::Number; }
  // A number written without fraction or exponent that fits int64 exactly.
  bool is_int() const { return type_ == Type::Number && is_int_; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }

  // Typed access; throw DEIT_E_FORMAT naming the expected and actual type.
  bool as_bool() const;
  double as_double() const;  // any number
  int64_t as_int() const;    // is_int() only
  const std::string& as_string() const;
  const Array& as_array() const;
  Array& as_array();
  const Object& as_object() const;
  Object& as_object();

  // Arrays: element count; objects: member count; 0 for scalars.
  size_t size() const;
  void push_back(Json value);  // array (a null becomes an empty array)

  // Objects.  find() returns nullptr when absent (or when this is not an object).
  bool contains(const std::string& key) const { return find(key) != nullptr; }
  const Json* find(const std::string& key) const;
  Json* find(const std::string& key);
  const Json& at(const std::string& key) const;  // throws "JSON: missing key 'k'"
  // Replaces an existing member in place or appends (a null becomes an object).
  void set(const std::string& key, Json value);
  Json& operator[](const std::string& key);  // inserts null when absent

  // Member access with the key in the error: "JSON: key 'depth': expected an integer, got string".
  bool get_bool(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_double(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;
  const Array& get_array(const std::string& key) const;
  const Json& get_object(const std::string& key) const;
  // The same, with a fallback when the key is absent (a wrong type still throws).
  bool get_bool_or(const std::string& key, bool fallback) const;
  int64_t get_int_or(const std::string& key, int64_t fallback) const;
  double get_double_or(const std::string& key, double fallback) const;
  std::string get_string_or(const std::string& key, const std::string& fallback) const;

  // Structural equality; int 2 == double 2.0 (numbers compare by value).
  bool operator==(const Json& other) const;
  bool operator!=(const Json& other) const { return !(*this == other); }

 private:
  struct IntTag {};
  Json(IntTag, int64_t v) : type_(Type::Number), is_int_(true), num_(static_cast<double>(v)), int_(v) {}

  Type type_ = Type::Null;
  bool is_int_ = false;
  bool bool_ = false;
  double num_ = 0.0;
  int64_t int_ = 0;
  std::string str_;
  // Containers behind pointers keep a scalar value small (hostile inputs are mostly scalars).
  std::unique_ptr<Array> arr_;
  std::unique_ptr<Object> obj_;
};

// Quote and escape `s` as a JSON string (throws DEIT_E_INVALID_ARG when not UTF-8).
std::string json_quote(const std::string& s);

// `s` made safe for an error message: control characters and bytes that are
// not UTF-8 escaped as \xNN, cut to about `max_chars` with "..." (names read
// from hostile files end up in messages).
std::string printable(const std::string& s, size_t max_chars = 120);

}  // namespace deit
