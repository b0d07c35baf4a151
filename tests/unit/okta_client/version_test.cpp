#include "okta_client/version.h"

#include <gtest/gtest.h>

TEST(OktaClient, UserAgentNamesTheProduct) {
  EXPECT_TRUE(og::okta::user_agent().starts_with("oktaguard/"));
}
