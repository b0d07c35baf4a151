#include <gtest/gtest.h>

#include "okta_client/url.h"

namespace og::test {
namespace {

using okta::parse_org_url;

TEST(TransportUrlTest, ParsesHttpsOrgUrls) {
  auto u = parse_org_url("https://acme.okta.com");
  ASSERT_TRUE(u) << u.error();
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "acme.okta.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->origin(), "https://acme.okta.com");
  EXPECT_EQ(u->host_header(), "acme.okta.com");

  u = parse_org_url("HTTPS://acme.oktapreview.com:8443/");
  ASSERT_TRUE(u) << u.error();
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->host_header(), "acme.oktapreview.com:8443");

  u = parse_org_url("https://[::1]:9443");
  ASSERT_TRUE(u) << u.error();
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->host_header(), "[::1]:9443");
}

TEST(TransportUrlTest, PlainHttpOnlyForLoopback) {
  for (const char* ok : {"http://127.0.0.1:8080", "http://127.9.0.1", "http://localhost:1", "http://[::1]:80"}) {
    auto u = parse_org_url(ok);
    ASSERT_TRUE(u) << ok << ": " << u.error();
    EXPECT_FALSE(u->tls);
  }
  for (const char* bad :
       {"http://acme.okta.com", "http://10.0.0.1:8080", "http://localhost.evil.com", "http://127.0.0.1.nip.io"}) {
    auto u = parse_org_url(bad);
    ASSERT_FALSE(u) << bad;
    EXPECT_NE(u.error().find("http://"), std::string::npos) << u.error();
  }
}

TEST(TransportUrlTest, RefusesAnythingButAnOrigin) {
  for (const char* bad :
       {"acme.okta.com", "ftp://acme.okta.com", "https://", "https://acme.okta.com/api/v1", "https://acme.okta.com?x=1",
        "https://user:pw@acme.okta.com", "https://acme.okta.com#f", "https://acme.okta.com:0",
        "https://acme.okta.com:65536", "https://acme.okta.com:", "https://acme.okta.com:12ab", "https://[::1",
        "https://[nothex]:1", "https://acme okta.com", "https://acme.okta.com\r\nX: y"}) {
    EXPECT_FALSE(parse_org_url(bad)) << bad;
  }
}

}  // namespace
}  // namespace og::test
