#include "okta_client/url.h"

#include <boost/asio/ip/address.hpp>

#include <charconv>

namespace og::okta {

namespace {

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

bool valid_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

}  // namespace

std::string OrgUrl::origin() const {
  std::string out = tls ? "https://" : "http://";
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) out += ":" + std::to_string(port);
  return out;
}

std::string OrgUrl::host_header() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) out += ":" + std::to_string(port);
  return out;
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "localhost.") return true;
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(host), ec);
  return !ec && address.is_loopback();
}

boost::system::result<OrgUrl, std::string> parse_org_url(std::string_view url) {
  OrgUrl out;
  std::string_view rest;
  if (starts_with_ci(url, "https://")) {
    rest = url.substr(8);
  } else if (starts_with_ci(url, "http://")) {
    out.tls = false;
    out.port = 80;
    rest = url.substr(7);
  } else {
    return std::string("org URL must start with https://");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return std::string("org URL must be scheme://host[:port] without path, query or user info");
  }
  std::string_view host = rest;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return std::string("org URL has an unterminated IPv6 literal");
    host = rest.substr(1, close - 1);
    auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::string("org URL has junk after the IPv6 literal");
      port = after.substr(1);
    }
    boost::system::error_code ec;
    (void)boost::asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return std::string("org URL has an invalid IPv6 literal");
  } else {
    auto colon = rest.rfind(':');
    if (colon != std::string_view::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
    }
    for (char c : host) {
      if (!valid_host_char(c)) return std::string("org URL host contains an invalid character");
    }
  }
  if (host.empty()) return std::string("org URL has no host");
  if (!port.empty() || (rest.find(':') != std::string_view::npos && rest.front() != '[')) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || ptr != port.data() + port.size() || value == 0 || value > 65535) {
      return std::string("org URL has an invalid port");
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  out.host = std::string(host);
  // Plain HTTP would send the API token in clear; only a loopback emulator may do without TLS.
  if (!out.tls && !is_loopback_host(out.host)) {
    return std::string("plain http:// is refused for a non-loopback host; use https://");
  }
  return out;
}

}  // namespace og::okta
