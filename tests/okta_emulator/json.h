#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "correlator/json_text.h"

namespace og::test::emulator {

// A small owned JSON tree. The emulator keeps its whole org in these and must echo back objects in
// the order they were given (Okta answers keep profile attribute order), so objects are ordered
// vectors, not maps.
class Json {
 public:
  enum class Kind { null, boolean, integer, number, string, array, object };
  using Array = std::vector<Json>;
  using Member = std::pair<std::string, Json>;
  using Object = std::vector<Member>;

  Json() = default;
  Json(std::nullptr_t) {}
  Json(bool b) : v_(b) {}
  Json(int i) : v_(static_cast<std::int64_t>(i)) {}
  Json(std::int64_t i) : v_(i) {}
  Json(double d) : v_(d) {}
  Json(const char* s) : v_(std::string(s)) {}
  Json(std::string s) : v_(std::move(s)) {}
  Json(std::string_view s) : v_(std::string(s)) {}
  Json(Array a) : v_(std::move(a)) {}
  Json(Object o) : v_(std::move(o)) {}

  static Json object() { return Json(Object{}); }
  static Json array() { return Json(Array{}); }

  // nullopt and a message in *error when text is not one well-formed JSON value.
  static std::optional<Json> parse(std::string_view text, std::string* error = nullptr);

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_null() const { return kind() == Kind::null; }
  bool is_bool() const { return kind() == Kind::boolean; }
  bool is_integer() const { return kind() == Kind::integer; }
  bool is_number() const { return kind() == Kind::number || kind() == Kind::integer; }
  bool is_string() const { return kind() == Kind::string; }
  bool is_array() const { return kind() == Kind::array; }
  bool is_object() const { return kind() == Kind::object; }

  bool as_bool() const { return std::get<bool>(v_); }
  std::int64_t as_int() const { return std::get<std::int64_t>(v_); }
  double as_double() const;
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const Array& as_array() const { return std::get<Array>(v_); }
  Array& as_array() { return std::get<Array>(v_); }
  const Object& as_object() const { return std::get<Object>(v_); }
  Object& as_object() { return std::get<Object>(v_); }

  // Object access; find returns nullptr when absent or when this is not an object.
  const Json* find(std::string_view key) const;
  Json* find(std::string_view key);
  // String member or fallback.
  std::string get_string(std::string_view key, std::string_view fallback = {}) const;
  // Inserts (at the end) or replaces; this must be an object.
  Json& set(std::string_view key, Json value);
  bool erase(std::string_view key);
  // Dotted path lookup ("profile.login").
  const Json* path(std::string_view dotted) const;

  void push_back(Json value) { as_array().push_back(std::move(value)); }

  std::string dump() const;
  void dump_to(std::string& out) const;

  friend bool operator==(const Json& a, const Json& b) { return a.v_ == b.v_; }

 private:
  std::variant<std::nullptr_t, bool, std::int64_t, double, std::string, Array, Object> v_{nullptr};
};

// JSON string escaping, quotes included.
using correlator::append_json_string;

// The JSON type name used in shape comparisons and schema checks: "null", "boolean", "integer",
// "number", "string", "array", "object".
const char* kind_name(Json::Kind kind);

}  // namespace og::test::emulator
