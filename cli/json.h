// A small JSON value for deitctl: builds summary/metrics output (with proper string escaping) and
// reads deit_checkpoint_describe's text.  Objects keep insertion order so output keys stay stable.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace deitctl {

class Json {
 public:
  enum class Type { Null, Bool, Int, Double, String, Array, Object };
  using Member = std::pair<std::string, Json>;

  Json() = default;
  Json(bool b) : type_(Type::Bool), bool_(b) {}
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Json(T v) : type_(Type::Int), int_(static_cast<int64_t>(v)) {}
  Json(double d) : type_(Type::Double), double_(d) {}
  Json(const char* s) : type_(Type::String), string_(s) {}
  Json(std::string s) : type_(Type::String), string_(std::move(s)) {}

  static Json array() { return Json(Type::Array); }
  static Json object() { return Json(Type::Object); }
  // Throws std::runtime_error with the offset of the first fault.
  static Json parse(const std::string& text);

  Type type() const { return type_; }
  bool is_object() const { return type_ == Type::Object; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_string() const { return type_ == Type::String; }
  bool is_number() const { return type_ == Type::Int || type_ == Type::Double; }

  // Object: append (or replace) a member; returns *this for chaining.
  Json& set(const std::string& key, Json value);
  // Array: append.
  Json& push(Json value);

  // Object lookup: nullptr when absent or when this is not an object.
  const Json* find(const std::string& key) const;
  const std::vector<Member>& members() const { return members_; }
  const std::vector<Json>& items() const { return items_; }

  // Typed reads with a fallback for a missing/mistyped value.
  std::string str(const std::string& fallback = "") const { return is_string() ? string_ : fallback; }
  double number(double fallback = 0) const;
  int64_t integer(int64_t fallback = 0) const;
  bool boolean(bool fallback = false) const;

  // indent < 0: one line, no spaces; otherwise pretty with `indent` spaces per level.
  std::string dump(int indent = -1) const;

 private:
  explicit Json(Type t) : type_(t) {}
  void dump_to(std::string& out, int indent, int level) const;

  Type type_ = Type::Null;
  bool bool_ = false;
  int64_t int_ = 0;
  double double_ = 0;
  std::string string_;
  std::vector<Json> items_;
  std::vector<Member> members_;
};

// A JSON string literal (with quotes) for `s`: escapes quotes, backslashes and control characters.
std::string json_quote(const std::string& s);

}  // namespace deitctl
