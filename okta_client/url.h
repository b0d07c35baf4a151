#pragma once

#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace og::okta {

struct OrgUrl {
  bool tls = true;
  std::string host;  // as written, without brackets for IPv6
  std::uint16_t port = 443;
  std::string origin() const;  // "https://acme.okta.com" (port only when not the default)
  std::string host_header() const;
};

// Accepts "https://host[:port][/]" and, for a loopback host only (localhost, 127.0.0.0/8, ::1), "http://...".
// A path, query, userinfo or fragment is refused: the org URL names the org, not an endpoint.
boost::system::result<OrgUrl, std::string> parse_org_url(std::string_view url);

bool is_loopback_host(std::string_view host);

}  // namespace og::okta
