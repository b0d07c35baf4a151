#include "tests/okta_emulator/json.h"

#include <fmt/format.h>
#include <simdjson.h>

namespace og::test::emulator {
namespace {

Json from_element(simdjson::dom::element e) {
  using T = simdjson::dom::element_type;
  switch (e.type()) {
    case T::ARRAY: {
      Json::Array a;
      // Named, not iterated as a temporary: the range would outlive the simdjson_result holding it.
      simdjson::dom::array arr = e.get_array().value_unsafe();
      for (auto child : arr)
        a.push_back(from_element(child));
      return Json(std::move(a));
    }
    case T::OBJECT: {
      Json::Object o;
      simdjson::dom::object obj = e.get_object().value_unsafe();
      for (auto field : obj)
        o.emplace_back(std::string(field.key), from_element(field.value));
      return Json(std::move(o));
    }
    case T::INT64:
      return Json(e.get_int64().value_unsafe());
    case T::UINT64:
      // Larger than int64: keep the magnitude as a double rather than wrapping.
      return Json(static_cast<double>(e.get_uint64().value_unsafe()));
    case T::DOUBLE:
      return Json(e.get_double().value_unsafe());
    case T::STRING:
      return Json(std::string(e.get_string().value_unsafe()));
    case T::BOOL:
      return Json(e.get_bool().value_unsafe());
    case T::NULL_VALUE:
      return Json();
  }
  return Json();
}

}  // namespace

std::optional<Json> Json::parse(std::string_view text, std::string* error) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  simdjson::dom::element root;
  if (auto err = parser.parse(padded).get(root); err) {
    if (error) *error = simdjson::error_message(err);
    return std::nullopt;
  }
  return from_element(root);
}

double Json::as_double() const {
  if (is_integer()) return static_cast<double>(as_int());
  return std::get<double>(v_);
}

const Json* Json::find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const auto& [k, v] : as_object())
    if (k == key) return &v;
  return nullptr;
}

Json* Json::find(std::string_view key) {
  return const_cast<Json*>(static_cast<const Json*>(this)->find(key));
}

std::string Json::get_string(std::string_view key, std::string_view fallback) const {
  const Json* v = find(key);
  if (v && v->is_string()) return v->as_string();
  return std::string(fallback);
}

Json& Json::set(std::string_view key, Json value) {
  if (Json* existing = find(key)) {
    *existing = std::move(value);
    return *existing;
  }
  auto& o = as_object();
  o.emplace_back(std::string(key), std::move(value));
  return o.back().second;
}

bool Json::erase(std::string_view key) {
  if (!is_object()) return false;
  auto& o = as_object();
  for (auto it = o.begin(); it != o.end(); ++it) {
    if (it->first == key) {
      o.erase(it);
      return true;
    }
  }
  return false;
}

const Json* Json::path(std::string_view dotted) const {
  const Json* cur = this;
  while (cur) {
    auto dot = dotted.find('.');
    cur = cur->find(dotted.substr(0, dot));
    if (dot == std::string_view::npos) return cur;
    dotted.remove_prefix(dot + 1);
  }
  return nullptr;
}

void Json::dump_to(std::string& out) const {
  switch (kind()) {
    case Kind::null:
      out += "null";
      break;
    case Kind::boolean:
      out += as_bool() ? "true" : "false";
      break;
    case Kind::integer:
      out += fmt::format("{}", as_int());
      break;
    case Kind::number: {
      double d = std::get<double>(v_);
      // JSON has no inf/nan; null is what JSON.stringify writes for them.
      if (d != d || d - d != 0) {
        out += "null";
      } else {
        out += fmt::format("{}", d);
      }
      break;
    }
    case Kind::string:
      append_json_string(out, as_string());
      break;
    case Kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& v : as_array()) {
        if (!first) out.push_back(',');
        first = false;
        v.dump_to(out);
      }
      out.push_back(']');
      break;
    }
    case Kind::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [k, v] : as_object()) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, k);
        out.push_back(':');
        v.dump_to(out);
      }
      out.push_back('}');
      break;
    }
  }
}

std::string Json::dump() const {
  std::string out;
  dump_to(out);
  return out;
}

const char* kind_name(Json::Kind kind) {
  switch (kind) {
    case Json::Kind::null:
      return "null";
    case Json::Kind::boolean:
      return "boolean";
    case Json::Kind::integer:
      return "integer";
    case Json::Kind::number:
      return "number";
    case Json::Kind::string:
      return "string";
    case Json::Kind::array:
      return "array";
    case Json::Kind::object:
      return "object";
  }
  return "?";
}

}  // namespace og::test::emulator
