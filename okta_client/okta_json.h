#pragma once

// Parsing of Okta Management API response bodies (simdjson On Demand) and the small amount of JSON
// and URL text oktaguard writes itself. Shapes follow okta-openapi/oktaguard-subset.yaml and the
// recorded exchanges in okta-api-cassettes; every parser tolerates unknown fields and null values.

#include <boost/system/result.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "correlator/json_text.h"

namespace og::okta {

// Okta's `Error` schema. errorLink is kept only because Okta repeats errorCode there.
struct OktaError {
  std::string error_code;
  std::string error_summary;
  std::string error_link;
  std::string error_id;
  std::vector<std::string> error_causes;  // each ErrorCause.errorSummary

  friend bool operator==(const OktaError&, const OktaError&) = default;
};

// The fields of `User` that oktaguard acts on; the rest of the object is skipped.
struct OktaUser {
  std::string id;
  std::string status;  // UserStatus: ACTIVE, SUSPENDED, DEPROVISIONED, ...
  std::string login;   // profile.login
  std::string email;   // profile.email
};

struct OktaGroup {
  std::string id;
  std::string type;  // OKTA_GROUP, APP_GROUP, BUILT_IN
  std::string name;  // profile.name
  std::string description;
};

enum class JsonError {
  malformed = 1,  // not JSON, or trailing content
  wrong_shape,    // JSON, but not the schema's shape (e.g. an object where an array belongs)
  missing_field,  // a required field (e.g. User.id) is absent or null
};
std::error_code make_error_code(JsonError e) noexcept;

// Error object from a non-2xx body. nullopt when the body is not an Okta error (empty, HTML from a
// proxy, or the `{"status":404,"message":...}` shape a test harness answers with).
std::optional<OktaError> parse_okta_error(std::string_view body);

boost::system::result<OktaUser, std::error_code> parse_user(std::string_view body);
boost::system::result<std::vector<OktaUser>, std::error_code> parse_users(std::string_view body);
boost::system::result<std::vector<OktaGroup>, std::error_code> parse_groups(std::string_view body);

// One top-level string member, e.g. `tempPassword` (expire_password_with_temp_password) or
// `resetPasswordUrl` (reset_password?sendEmail=false). Absent or null -> missing_field.
boost::system::result<std::string, std::error_code> parse_string_member(std::string_view body, std::string_view name);

// The `riskLevel` member of a UserRiskPutResponse / UserRiskGetResponse.
boost::system::result<std::string, std::error_code> parse_risk_level(std::string_view body);

// `Link` header handling: the target (path + query) of the rel="next" link, if any. Okta sends one
// header with comma-separated links or several headers; the transport joins repeats with ", ".
// Only the path and query are kept, so a page can never redirect oktaguard to another host.
std::optional<std::string> next_link_target(std::string_view link_header);

// JSON string literal (with the quotes) for arbitrary UTF-8 text; control characters are \u-escaped.
using correlator::json_quote;

// Percent-encoding of everything outside RFC 3986 "unreserved" (A-Z a-z 0-9 - . _ ~). Used for
// path segments and query values alike, so '/', '?', '#', '&', '=', '+' and '%' can never change
// the request's structure.
std::string percent_encode(std::string_view text);

}  // namespace og::okta

template <>
struct std::is_error_code_enum<og::okta::JsonError> : std::true_type {};
