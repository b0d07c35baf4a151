#include "okta_client/okta_json.h"

#include <fmt/format.h>
#include <simdjson.h>

namespace og::okta {
namespace {

namespace od = simdjson::ondemand;

struct JsonErrorCategory final : std::error_category {
  const char* name() const noexcept override { return "okta_json"; }
  std::string message(int ev) const override {
    switch (static_cast<JsonError>(ev)) {
      case JsonError::malformed:
        return "malformed JSON";
      case JsonError::wrong_shape:
        return "JSON does not have the expected shape";
      case JsonError::missing_field:
        return "required field missing";
    }
    return "unknown okta_json error";
  }
};

// Response bodies arrive in std::string without simdjson's padding; one padded copy per parse is
// cheap next to a network round trip, and the parser is reused per thread.
class Document {
 public:
  explicit Document(std::string_view body) : padded_(body) {}
  simdjson::error_code iterate() { return parser().iterate(padded_).get(doc_); }
  od::document& doc() { return doc_; }
  // On Demand validates only what it touched: anything after the root value is an error.
  bool fully_consumed() { return doc_.current_location().error() == simdjson::OUT_OF_BOUNDS; }

 private:
  static od::parser& parser() {
    thread_local od::parser p;
    return p;
  }
  simdjson::padded_string padded_;
  od::document doc_;
};

// A string member, or "" for null / another type; on-demand values must be consumed once.
template <typename V>
std::string string_or_empty(V&& value) {
  std::string_view s;
  if (std::forward<V>(value).get_string().get(s)) return {};
  return std::string(s);
}

simdjson::error_code read_profile_user(od::value profile, OktaUser& user) {
  od::object obj;
  if (profile.get_object().get(obj)) return simdjson::SUCCESS;  // null profile: nothing to read
  for (auto field : obj) {
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) return err;
    if (key == "login") {
      user.login = string_or_empty(field.value());
    } else if (key == "email") {
      user.email = string_or_empty(field.value());
    }
  }
  return simdjson::SUCCESS;
}

std::error_code read_user(od::object obj, OktaUser& user) {
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return JsonError::malformed;
    if (key == "id") {
      user.id = string_or_empty(field.value());
    } else if (key == "status") {
      user.status = string_or_empty(field.value());
    } else if (key == "profile") {
      od::value v;
      if (field.value().get(v)) return JsonError::malformed;
      if (read_profile_user(v, user)) return JsonError::malformed;
    }
  }
  if (user.id.empty()) return JsonError::missing_field;
  return {};
}

std::error_code read_group(od::object obj, OktaGroup& group) {
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return JsonError::malformed;
    if (key == "id") {
      group.id = string_or_empty(field.value());
    } else if (key == "type") {
      group.type = string_or_empty(field.value());
    } else if (key == "profile") {
      od::object profile;
      if (field.value().get_object().get(profile)) continue;
      for (auto pf : profile) {
        std::string_view pkey;
        if (pf.unescaped_key().get(pkey)) return JsonError::malformed;
        if (pkey == "name") {
          group.name = string_or_empty(pf.value());
        } else if (pkey == "description") {
          group.description = string_or_empty(pf.value());
        }
      }
    }
  }
  if (group.id.empty()) return JsonError::missing_field;
  return {};
}

std::error_code to_error(simdjson::error_code err) {
  return err == simdjson::INCORRECT_TYPE ? make_error_code(JsonError::wrong_shape)
                                         : make_error_code(JsonError::malformed);
}

template <typename T, typename ReadOne>
boost::system::result<std::vector<T>, std::error_code> parse_array(std::string_view body, ReadOne read_one) {
  Document d(body);
  if (auto err = d.iterate()) return to_error(err);
  od::array arr;
  if (auto err = d.doc().get_array().get(arr)) return to_error(err);
  std::vector<T> out;
  for (auto element : arr) {
    od::object obj;
    if (auto err = element.get_object().get(obj)) return to_error(err);
    T item;
    if (auto ec = read_one(obj, item)) return ec;
    out.push_back(std::move(item));
  }
  if (!d.fully_consumed()) return make_error_code(JsonError::malformed);
  return out;
}

}  // namespace

std::error_code make_error_code(JsonError e) noexcept {
  static const JsonErrorCategory category;
  return {static_cast<int>(e), category};
}

std::optional<OktaError> parse_okta_error(std::string_view body) {
  if (body.empty()) return std::nullopt;
  Document d(body);
  if (d.iterate()) return std::nullopt;
  od::object obj;
  if (d.doc().get_object().get(obj)) return std::nullopt;
  OktaError e;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return std::nullopt;
    if (key == "errorCode") {
      e.error_code = string_or_empty(field.value());
    } else if (key == "errorSummary") {
      e.error_summary = string_or_empty(field.value());
    } else if (key == "errorLink") {
      e.error_link = string_or_empty(field.value());
    } else if (key == "errorId") {
      e.error_id = string_or_empty(field.value());
    } else if (key == "errorCauses") {
      od::array causes;
      if (field.value().get_array().get(causes)) continue;
      for (auto cause : causes) {
        od::object cobj;
        if (cause.get_object().get(cobj)) return std::nullopt;
        for (auto cf : cobj) {
          std::string_view ckey;
          if (cf.unescaped_key().get(ckey)) return std::nullopt;
          if (ckey == "errorSummary") e.error_causes.push_back(string_or_empty(cf.value()));
        }
      }
    }
  }
  if (!d.fully_consumed() || e.error_code.empty()) return std::nullopt;
  return e;
}

boost::system::result<OktaUser, std::error_code> parse_user(std::string_view body) {
  Document d(body);
  if (auto err = d.iterate()) return to_error(err);
  od::object obj;
  if (auto err = d.doc().get_object().get(obj)) return to_error(err);
  OktaUser user;
  if (auto ec = read_user(obj, user)) return ec;
  if (!d.fully_consumed()) return make_error_code(JsonError::malformed);
  return user;
}

boost::system::result<std::vector<OktaUser>, std::error_code> parse_users(std::string_view body) {
  return parse_array<OktaUser>(body, read_user);
}

boost::system::result<std::vector<OktaGroup>, std::error_code> parse_groups(std::string_view body) {
  return parse_array<OktaGroup>(body, read_group);
}

boost::system::result<std::string, std::error_code> parse_string_member(std::string_view body, std::string_view name) {
  Document d(body);
  if (auto err = d.iterate()) return to_error(err);
  od::object obj;
  if (auto err = d.doc().get_object().get(obj)) return to_error(err);
  std::optional<std::string> found;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return make_error_code(JsonError::malformed);
    if (key == name) {
      std::string_view s;
      if (field.value().get_string().get(s) == simdjson::SUCCESS) found.emplace(s);
    }
  }
  if (!d.fully_consumed()) return make_error_code(JsonError::malformed);
  if (!found || found->empty()) return make_error_code(JsonError::missing_field);
  return std::move(*found);
}

boost::system::result<std::string, std::error_code> parse_risk_level(std::string_view body) {
  return parse_string_member(body, "riskLevel");
}

std::optional<std::string> next_link_target(std::string_view header) {
  // link-value = "<" URI-Reference ">" *( ";" link-param ); several link-values separated by ","
  std::size_t pos = 0;
  while (pos < header.size()) {
    const auto open = header.find('<', pos);
    if (open == std::string_view::npos) return std::nullopt;
    const auto close = header.find('>', open);
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view uri = header.substr(open + 1, close - open - 1);
    auto end = header.find('<', close);
    const std::string_view params = header.substr(close + 1, end == std::string_view::npos ? end : end - close - 1);
    pos = end == std::string_view::npos ? header.size() : end;

    // rel="next" or rel=next, with any spacing around '='.
    bool is_next = false;
    std::size_t p = 0;
    while ((p = params.find("rel", p)) != std::string_view::npos) {
      std::size_t q = p + 3;
      while (q < params.size() && params[q] == ' ')
        ++q;
      if (q < params.size() && params[q] == '=') {
        ++q;
        while (q < params.size() && params[q] == ' ')
          ++q;
        if (q < params.size() && params[q] == '"') ++q;
        if (params.substr(q, 4) == "next" && (q + 4 == params.size() || params[q + 4] == '"' || params[q + 4] == ';' ||
                                              params[q + 4] == ' ' || params[q + 4] == ',')) {
          is_next = true;
        }
      }
      p = q;
    }
    if (!is_next) continue;

    // Absolute URL: keep from the first '/' after "scheme://host"; relative: must start with '/'.
    std::string_view target = uri;
    if (const auto scheme = uri.find("://"); scheme != std::string_view::npos) {
      const auto path = uri.find('/', scheme + 3);
      if (path == std::string_view::npos) return std::nullopt;
      target = uri.substr(path);
    }
    if (target.empty() || target.front() != '/') return std::nullopt;
    for (char c : target) {
      // A link with whitespace or control characters is not a URI we will put on a request line.
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return std::nullopt;
    }
    return std::string(target);
  }
  return std::nullopt;
}

std::string percent_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    const bool unreserved = (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u == '-' ||
                            u == '.' || u == '_' || u == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 0xf]);
    }
  }
  return out;
}

}  // namespace og::okta
